import { describe, expect, it } from "vitest"
import { uuidToBytes, ZERO_UUID } from "../../src/protocol/primitives.ts"
import { fillRandom, randomUuid } from "../../src/random-bytes.ts"

describe("random bytes for identifiers", () => {
  it("fills every byte asked for, differently each time", () => {
    const a = fillRandom(new Uint8Array(64))
    const b = fillRandom(new Uint8Array(64))
    expect(a).toHaveLength(64)
    // Two 64-byte draws that agree, or a draw with a run of 16 zero bytes, means no randomness arrived.
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false)
    expect(Buffer.from(a).includes(Buffer.alloc(16))).toBe(false)
  })

  it("makes UUIDs of 16 random bytes, never the zero UUID", () => {
    const ids = new Set(Array.from({ length: 100 }, () => randomUuid()))
    expect(ids.size).toBe(100)
    for (const id of ids) {
      expect(uuidToBytes(id)).toHaveLength(16)
      expect(id).not.toBe(ZERO_UUID)
    }
  })
})
