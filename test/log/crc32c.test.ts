import { crc32c as nativeCrc32c } from "@node-rs/crc32"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { createRequire } from "node:module"
import { crc32c, loadNativeCrc32c, makeCrc32c, SMALL_INPUT_BYTES } from "../../src/log/crc32c.ts"

describe("crc32c", () => {
  it("matches the native addon on both sides of the small-input bound", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: SMALL_INPUT_BYTES * 2 }), (bytes) => {
        expect(crc32c(bytes) >>> 0).toBe(nativeCrc32c(Buffer.from(bytes)) >>> 0)
      }),
      { numRuns: 500 }
    )
  })

  it("checksums a view at an odd offset of a larger buffer as a copy of its bytes", () => {
    const backing = new Uint8Array(SMALL_INPUT_BYTES * 8)
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + 7) & 0xff
    const view = backing.subarray(3, backing.length - 5)
    expect(crc32c(view)).toBe(crc32c(view.slice()))
    expect(crc32c(view) >>> 0).toBe(nativeCrc32c(Buffer.from(view)) >>> 0)
  })

  it.runIf(["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64"].includes(`${process.platform}-${process.arch}`))(
    "opens aws-crt's CRC-32C where aws-crt ships a binary",
    () => {
      const requireHere = createRequire(import.meta.url)
      const asked: Array<string> = []
      const native = loadNativeCrc32c((id) => {
        asked.push(id)
        return requireHere(id)
      })
      expect(asked.at(-1)).toMatch(/^aws-crt\/dist\/bin\//)
      expect(native(new TextEncoder().encode("123456789".repeat(40))) >>> 0).toBe(nativeCrc32c(Buffer.from("123456789".repeat(40))) >>> 0)
    }
  )

  it("falls back to @node-rs/crc32 where aws-crt has no binary", () => {
    const requireHere = createRequire(import.meta.url)
    const asked: Array<string> = []
    const fallback = loadNativeCrc32c((id) => {
      asked.push(id)
      if (id.startsWith("aws-crt/")) throw new Error(`Cannot find module '${id}'`)
      return requireHere(id)
    })
    expect(asked.at(-1)).toBe("@node-rs/crc32")
    expect(asked.filter((id) => id.startsWith("aws-crt/")).length).toBeGreaterThan(0)
    const bytes = new Uint8Array(4096).map((_, i) => (i * 13) & 0xff)
    expect(fallback(bytes)).toBe(crc32c(bytes))
  })

  it("checksums in JavaScript (eight bytes at a time, then the rest) as the native addon does, at every alignment", () => {
    const jsOnly = makeCrc32c(() => {
      throw new Error("the addon must not be loaded")
    }, Number.POSITIVE_INFINITY)
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), fc.nat(7), (bytes, skip) => {
        const view = bytes.subarray(Math.min(skip, bytes.length))
        expect(jsOnly(view) >>> 0).toBe(nativeCrc32c(Buffer.from(view)) >>> 0)
      }),
      { numRuns: 300 }
    )
  })

  it("loads the addon only once large inputs have added up to more than the budget, with the same checksums before and after", () => {
    let loads = 0
    const crc = makeCrc32c(() => {
      loads++
      return (bytes) => nativeCrc32c(Buffer.from(bytes))
    }, 4 * SMALL_INPUT_BYTES)
    const large = new Uint8Array(SMALL_INPUT_BYTES + 1).map((_, i) => (i * 7) & 0xff)
    const small = large.subarray(0, SMALL_INPUT_BYTES)
    const expected = nativeCrc32c(Buffer.from(large)) >>> 0
    // Small inputs never count; three large ones stay within 4 * SMALL_INPUT_BYTES.
    for (let i = 0; i < 10; i++) crc(small)
    for (let i = 0; i < 3; i++) expect(crc(large) >>> 0).toBe(expected)
    expect(loads).toBe(0)
    // The fourth spends the budget: from it on, the addon.
    expect(crc(large) >>> 0).toBe(expected)
    expect(crc(large) >>> 0).toBe(expected)
    expect(crc(small) >>> 0).toBe(nativeCrc32c(Buffer.from(small)) >>> 0)
    expect(loads).toBe(1)
  })

  it("gives the standard check value (RFC 3720) for \"123456789\"", () => {
    expect(crc32c(new TextEncoder().encode("123456789")) >>> 0).toBe(0xe3069283)
  })
})
