/**
 * Kafka's framing: every request and response is an int32 size followed by that many bytes.
 * `FrameReader` reassembles frames from arbitrary socket chunks. It rejects a size above the
 * limit (socket.request.max.bytes) from the 4-byte prefix alone, before allocating anything,
 * and hands out frames that lie within one chunk as views without copying; chunks that
 * continue each other in one buffer count as one. A frame spread over separate buffers is
 * copied into a buffer from `allocate` (the connection lends reusable ones).
 */

export type FrameError =
  | { readonly _tag: "FrameTooLarge"; readonly size: number; readonly max: number }
  | { readonly _tag: "NegativeFrameSize"; readonly size: number }

export class FrameReader {
  private chunks: Array<Uint8Array> = []
  private buffered = 0
  readonly maxFrameSize: number
  private readonly allocate: (size: number) => Uint8Array

  // Not zero-filled: copyOut writes every byte (a 64 KiB memset per produce otherwise).
  constructor(maxFrameSize: number, allocate: (size: number) => Uint8Array = (size) => Buffer.allocUnsafe(size)) {
    this.maxFrameSize = maxFrameSize
    this.allocate = allocate
  }

  /** Bytes received that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.buffered
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.buffered += chunk.length
    const n = this.chunks.length
    const last = n === 0 ? undefined : this.chunks[n - 1]!
    // A read that continues the previous one in the same buffer extends it: a frame over both is then one view, not a copy.
    if (last !== undefined && last.buffer === chunk.buffer && last.byteOffset + last.length === chunk.byteOffset) {
      this.chunks[n - 1] = Buffer.isBuffer(last)
        ? Buffer.from(last.buffer, last.byteOffset, last.length + chunk.length)
        : new Uint8Array(last.buffer, last.byteOffset, last.length + chunk.length)
      return
    }
    this.chunks.push(chunk)
  }

  /** The next whole frame (without its size prefix), undefined if none is complete yet, or an error. */
  next(): Uint8Array | FrameError | undefined {
    if (this.buffered < 4) return undefined
    const size = this.peekSize()
    if (size < 0) return { _tag: "NegativeFrameSize", size }
    if (size > this.maxFrameSize) return { _tag: "FrameTooLarge", size, max: this.maxFrameSize }
    if (this.buffered < 4 + size) return undefined
    const first = this.chunks[0]!
    if (first.length >= 4 + size) {
      const frame = first.subarray(4, 4 + size)
      if (first.length === 4 + size) this.chunks.shift()
      else this.chunks[0] = first.subarray(4 + size)
      this.buffered -= 4 + size
      return frame
    }
    this.consume(4)
    const frame = this.allocate(size)
    this.copyOut(frame)
    return frame
  }

  private peekSize(): number {
    const first = this.chunks[0]!
    if (first.length >= 4) return (first[0]! << 24) | (first[1]! << 16) | (first[2]! << 8) | first[3]!
    // The prefix straddles chunks.
    let size = 0
    let filled = 0
    for (const c of this.chunks) {
      for (let i = 0; i < c.length && filled < 4; i++, filled++) size = (size << 8) | c[i]!
      if (filled === 4) break
    }
    return size | 0
  }

  private consume(n: number): void {
    this.buffered -= n
    while (n > 0) {
      const c = this.chunks[0]!
      if (c.length <= n) {
        n -= c.length
        this.chunks.shift()
      } else {
        this.chunks[0] = c.subarray(n)
        n = 0
      }
    }
  }

  private copyOut(target: Uint8Array): void {
    let filled = 0
    while (filled < target.length) {
      const c = this.chunks[0]!
      const n = Math.min(target.length - filled, c.length)
      target.set(c.subarray(0, n), filled)
      filled += n
      if (n === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(n)
    }
    this.buffered -= target.length
  }
}

export const isFrameError = (x: Uint8Array | FrameError | undefined): x is FrameError =>
  x !== undefined && !(x instanceof Uint8Array)
