/**
 * The Reader's short-string decoding, which hands back the string it made last time for the
 * same bytes: whatever strings share its slots, each decodes to exactly its own bytes.
 */
import { describe, expect, it } from "vitest"
import { Reader, Writer } from "../../src/protocol/primitives.ts"

const encoded = (values: ReadonlyArray<string>): Uint8Array => {
  const w = new Writer()
  for (const v of values) w.compactString(v)
  return w.toBytes()
}

const decodeAll = (bytes: Uint8Array, n: number): Array<string> => {
  const r = new Reader(bytes)
  return Array.from({ length: n }, () => r.compactString())
}

describe("Reader strings", () => {
  it("decodes many short strings of one length, far more than it remembers, each to its own bytes, twice over", () => {
    // 5 000 distinct names of one length share 1 024 slots: every lookup that finds another
    // name in its slot must see the bytes differ.
    const names = Array.from({ length: 5000 }, (_, i) => `topic-${String(i).padStart(5, "0")}`)
    const shuffled = [...names, ...names.toReversed(), ...names.filter((_, i) => i % 3 === 0)]
    expect(decodeAll(encoded(shuffled), shuffled.length)).toEqual(shuffled)
  })

  it("tells apart strings that differ only in their last byte, or only in length", () => {
    const values = ["a", "ab", "abc", "abd", "abc", "ab", "", "a", "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01", "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz02"]
    expect(decodeAll(encoded(values), values.length)).toEqual(values)
  })

  it("decodes non-ASCII and long strings as UTF-8, as before", () => {
    const values = ["zürich", "東京", "x".repeat(65), "zürich", "y".repeat(300)]
    expect(decodeAll(encoded(values), values.length)).toEqual(values)
  })
})
