/**
 * A connection's pending response bytes. Encoding goes through the generated codecs into
 * a growable buffer as usual, except that byte strings of at least SPLICE_MIN_BYTES (a
 * fetch's record batches, read from a segment into a buffer of their own) are not copied:
 * they are kept by reference at their place in the stream and handed to the socket as
 * separate chunks of one corked write (writev). A 1 MiB fetch response then costs no copy
 * and no growth of the output buffer; the copies showed as the top of a fetch profile.
 *
 * Spliced bytes must not change until the write carrying them is done: record batches
 * read from a segment are buffers of their own, given back to their pool only after that
 * write (src/log/read-buffers.ts), and request frames are never reused.
 */
import { Writer } from "../protocol/primitives.ts"

/** Below this a copy is cheaper than one more chunk to write. */
export const SPLICE_MIN_BYTES = 8192

export class ResponseBuffer extends Writer {
  /** Byte strings kept by reference, each at the buffer position it follows. */
  private splices: Array<{ readonly at: number; readonly bytes: Uint8Array }> = []
  private splicedBytes = 0

  /** Bytes in the stream: the buffer's and the spliced ones. */
  override get byteLength(): number {
    return this.pos + this.splicedBytes
  }

  override raw(bytes: Uint8Array): void {
    if (bytes.length < SPLICE_MIN_BYTES) {
      super.raw(bytes)
      return
    }
    this.splices.push({ at: this.pos, bytes })
    this.splicedBytes += bytes.length
  }

  override reset(): this {
    this.splices = []
    this.splicedBytes = 0
    return super.reset()
  }

  /** Where encoding stands, to go back to with `rewind` (a response that failed to encode). */
  mark(): { readonly pos: number; readonly splices: number; readonly splicedBytes: number } {
    return { pos: this.pos, splices: this.splices.length, splicedBytes: this.splicedBytes }
  }

  rewind(mark: ReturnType<ResponseBuffer["mark"]>): void {
    this.pos = mark.pos
    this.splices.length = mark.splices
    this.splicedBytes = mark.splicedBytes
  }

  /**
   * The stream as chunks to write in order. The buffer's parts are views, valid until the
   * next write into this buffer (`copy` makes them copies, for a buffer that is reused).
   */
  chunks(copy = false): Array<Uint8Array> {
    const out: Array<Uint8Array> = []
    const piece = (from: number, to: number) => {
      if (to > from) out.push(copy ? Uint8Array.prototype.slice.call(this.buf, from, to) : this.buf.subarray(from, to))
    }
    let from = 0
    for (const s of this.splices) {
      piece(from, s.at)
      out.push(s.bytes)
      from = s.at
    }
    piece(from, this.pos)
    return out
  }
}
