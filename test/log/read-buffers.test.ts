import { describe, expect, it } from "vitest"
import { acquireReadBuffer, acquireSharedReadBuffer, holdReadBuffer, holdsReadBuffers, releaseReadBuffers } from "../../src/log/read-buffers.ts"

describe("segment read buffers", () => {
  it("reuses a buffer given back after its write, and only then", () => {
    const a = acquireReadBuffer(66_000)
    expect(a.length).toBe(66_000)
    const b = acquireReadBuffer(66_000)
    expect(b.buffer).not.toBe(a.buffer)
    expect(holdsReadBuffers([new Uint8Array(10), a.subarray(100, 200)])).toBe(true)
    releaseReadBuffers([a.subarray(0, 10)])
    expect(holdsReadBuffers([a])).toBe(false)
    const c = acquireReadBuffer(70_000)
    expect(c.buffer).toBe(a.buffer)
    expect(c.length).toBe(70_000)
    releaseReadBuffers([b, c])
  })

  it("takes back each lent buffer once, and nothing it did not lend", () => {
    const a = acquireReadBuffer(100_000)
    releaseReadBuffers([a])
    releaseReadBuffers([a])
    const foreign = Buffer.alloc(100_000)
    releaseReadBuffers([foreign])
    const first = acquireReadBuffer(100_000)
    const second = acquireReadBuffer(100_000)
    expect(first.buffer).toBe(a.buffer)
    expect(second.buffer).not.toBe(a.buffer)
    expect(second.buffer).not.toBe(foreign.buffer)
    releaseReadBuffers([first, second])
  })

  it("leaves small and huge reads to Node's allocator", () => {
    const small = acquireReadBuffer(1000)
    const huge = acquireReadBuffer(20 * 1024 * 1024)
    expect(holdsReadBuffers([small, huge])).toBe(false)
    expect(huge.length).toBe(20 * 1024 * 1024)
  })

  it("a shared buffer (a read slab) is reused only once its last holder gives it back", () => {
    const slab = acquireSharedReadBuffer(1024 * 1024)
    const frameA = slab.subarray(0, 1000)
    const frameB = slab.subarray(1000, 5000)
    holdReadBuffer(frameA)
    holdReadBuffer(frameB)
    // The reader lets go first, then one frame: two of three holders gone.
    releaseReadBuffers([slab])
    releaseReadBuffers([frameA])
    expect(holdsReadBuffers([frameB])).toBe(true)
    const meanwhile = acquireReadBuffer(1024 * 1024)
    expect(meanwhile.buffer).not.toBe(slab.buffer)
    releaseReadBuffers([frameB])
    expect(holdsReadBuffers([frameB])).toBe(false)
    const next = acquireReadBuffer(1024 * 1024)
    expect(next.buffer).toBe(slab.buffer)
    releaseReadBuffers([meanwhile, next])
  })
})
