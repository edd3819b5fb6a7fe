/**
 * The Reader's short-string decoding, which hands back the string it made last time for the
 * same bytes: whatever strings share its slots, each decodes to exactly its own bytes. UUIDs
 * likewise (the last few are remembered).
 */
import { describe, expect, it } from "vitest"
import { Reader, uuidFromBytes, Writer } from "../../src/protocol/primitives.ts"

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

describe("UUIDs", () => {
  it("decode to their own base64url, whether remembered, evicted or reused in the same buffer", () => {
    // A pool of 6 ids, more than are remembered, in an order that mixes repeats and evictions.
    const pool = Array.from({ length: 6 }, (_, k) => Uint8Array.from({ length: 16 }, (_, i) => (k * 37 + i * (k + 1)) & 0xff))
    pool.push(new Uint8Array(16)) // the zero UUID
    const shared = new Uint8Array(40)
    for (let n = 0; n < 500; n++) {
      const id = pool[(n * 7 + (n >> 3)) % pool.length]!
      const at = n % 3
      shared.set(id, at)
      expect(uuidFromBytes(shared.subarray(at, at + 16))).toBe(Buffer.from(id).toString("base64url"))
    }
  })
})
