import { crc32c as nativeCrc32c } from "@node-rs/crc32"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { crc32c, SMALL_INPUT_BYTES } from "../../src/log/crc32c.ts"

describe("crc32c", () => {
  it("matches the native addon on both sides of the small-input bound", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: SMALL_INPUT_BYTES * 2 }), (bytes) => {
        expect(crc32c(bytes) >>> 0).toBe(nativeCrc32c(Buffer.from(bytes)) >>> 0)
      }),
      { numRuns: 500 }
    )
  })

  it("gives the standard check value (RFC 3720) for \"123456789\"", () => {
    expect(crc32c(new TextEncoder().encode("123456789")) >>> 0).toBe(0xe3069283)
  })
})
