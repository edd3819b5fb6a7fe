import { describe, expect, it } from "vitest"
import { FrameReader, isFrameError } from "../../src/protocol/framing.ts"

const frameOf = (size: number, seed: number): Uint8Array => {
  const out = new Uint8Array(4 + size)
  new DataView(out.buffer).setInt32(0, size)
  for (let i = 0; i < size; i++) out[4 + i] = (seed * 31 + i * 7) & 0xff
  return out
}

describe("FrameReader", () => {
  it("reassembles frames of every size across arbitrary chunks, each in memory of its own", () => {
    const sizes = [10, 5000, 20_000, 66_173, 66_173, 300_000, 70_000, 3]
    const stream = Buffer.concat(sizes.map((s, i) => frameOf(s, i)))
    const reader = new FrameReader(1 << 20)
    const frames: Array<Uint8Array> = []
    // 64 KiB chunks, each in a buffer of its own, as Node hands a socket's reads over.
    for (let at = 0; at < stream.length; at += 65_536) {
      reader.push(Buffer.from(stream.subarray(at, Math.min(stream.length, at + 65_536))))
      for (let f = reader.next(); f !== undefined; f = reader.next()) {
        if (isFrameError(f)) throw new Error(f._tag)
        frames.push(f)
      }
    }
    expect(frames.map((f) => f.length)).toEqual(sizes)
    frames.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(frameOf(sizes[i]!, i).subarray(4)))).toBe(true))
    // No two frames share memory: each keeps what was written into it last.
    frames.forEach((f, i) => f.fill(i + 1))
    frames.forEach((f, i) => expect(f.every((b) => b === i + 1)).toBe(true))
  })
})

describe("FrameReader over reads into one buffer", () => {
  it("a frame over reads that continue each other in one buffer is a view of that buffer, not a copy", () => {
    const sizes = [66_173, 66_173, 20_000, 130_000]
    const stream = Buffer.concat(sizes.map((s, i) => frameOf(s, i)))
    let copies = 0
    const reader = new FrameReader(1 << 20, (size) => {
      copies++
      return Buffer.allocUnsafe(size)
    })
    const frames: Array<Uint8Array> = []
    for (let at = 0; at < stream.length; at += 65_536) {
      reader.push(stream.subarray(at, Math.min(stream.length, at + 65_536)))
      for (let f = reader.next(); f !== undefined; f = reader.next()) {
        if (isFrameError(f)) throw new Error(f._tag)
        frames.push(f)
      }
    }
    expect(copies).toBe(0)
    expect(frames.map((f) => f.length)).toEqual(sizes)
    frames.forEach((f, i) => {
      expect(f.buffer).toBe(stream.buffer)
      expect(Buffer.from(f).equals(Buffer.from(frameOf(sizes[i]!, i).subarray(4)))).toBe(true)
    })
  })

  it("reads from one buffer that do not continue each other are not joined", () => {
    const frame = frameOf(100, 3)
    // The frame's two halves sit in one buffer with a gap of other bytes between them.
    const memory = Buffer.alloc(frame.length + 16, 0xee)
    memory.set(frame.subarray(0, 50), 0)
    memory.set(frame.subarray(50), 66)
    const reader = new FrameReader(1 << 20)
    reader.push(memory.subarray(0, 50))
    reader.push(memory.subarray(66))
    const f = reader.next()
    if (f === undefined || isFrameError(f)) throw new Error("no frame")
    expect(Buffer.from(f).equals(Buffer.from(frame.subarray(4)))).toBe(true)
    expect(f.buffer).not.toBe(memory.buffer)
  })
})
