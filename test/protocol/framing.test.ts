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
    // 64 KiB chunks, as a socket hands them over.
    for (let at = 0; at < stream.length; at += 65_536) {
      reader.push(stream.subarray(at, Math.min(stream.length, at + 65_536)))
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
