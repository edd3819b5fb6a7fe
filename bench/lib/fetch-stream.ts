/**
 * The end-to-end consumer's reading of Fetch v12 responses: a streaming parser over the
 * bytes as the socket delivers them (net's `onread` into one fixed buffer), which copies
 * nothing but a response's few header bytes and each batch's first 27, and decodes only
 * what the consumer needs: the correlation id, the error codes, and each complete batch's
 * base offset and last offset delta. Decoding the whole response with the generic codec and
 * copying every chunk into a frame buffer made the consumer, not the broker, a source of
 * latency at high rates.
 *
 * Understands the response the bench's consumer asks for: one topic, one partition.
 */

/** Thrown by a header read past the bytes received so far: parse again once more arrived. */
const NEED_MORE = Symbol("need more")

/** Bytes of a batch header the consumer reads: base offset (8), length (4), ..., last offset delta at 23 (4). */
const BATCH_HEAD = 27
const LAST_OFFSET_DELTA_AT = 23

/** A complete response, as the stream's callback sees it: valid only during the call (reused for the next). */
export interface FetchedBatches {
  correlationId: number
  /** Base offset and next offset (last offset + 1) of each complete batch, in order. */
  readonly baseOffsets: Array<number>
  readonly nextOffsets: Array<number>
}

class Cursor {
  pos = 0
  readonly b: Buffer
  readonly end: number
  constructor(b: Buffer, end: number) {
    this.b = b
    this.end = end
  }
  need(n: number): void {
    if (this.pos + n > this.end) throw NEED_MORE
  }
  int16(): number {
    this.need(2)
    const v = this.b.readInt16BE(this.pos)
    this.pos += 2
    return v
  }
  int32(): number {
    this.need(4)
    const v = this.b.readInt32BE(this.pos)
    this.pos += 4
    return v
  }
  skip(n: number): void {
    this.need(n)
    this.pos += n
  }
  uvarint(): number {
    let v = 0
    let shift = 0
    while (true) {
      this.need(1)
      const x = this.b[this.pos++]!
      v += (x & 0x7f) * 2 ** shift
      if (x < 0x80) return v
      shift += 7
    }
  }
  taggedFields(): void {
    for (let n = this.uvarint(); n > 0; n--) {
      this.uvarint()
      this.skip(this.uvarint())
    }
  }
}

/**
 * Feeds a response stream chunk by chunk; calls `onResponse` with each complete response
 * (in the call that delivered its last byte), or `onError` with what was wrong in it.
 */
export class FetchResponseStream {
  /** Bytes of the current frame still to come (0: between frames). */
  private frameLeft = 0
  /** The frame's size prefix and header, collected until the records' length is known. */
  private head = Buffer.alloc(1024)
  private headHave = 0
  private inHead = true
  /** Records bytes still to come, and the current batch's: header collected, body left to skip. */
  private recordsLeft = 0
  private batchHead = Buffer.alloc(BATCH_HEAD)
  private batchHeadHave = 0
  private batchLeft = 0
  private batchBase = 0
  private batchNext = 0
  private readonly response: FetchedBatches = { correlationId: 0, baseOffsets: [], nextOffsets: [] }
  private failed = false
  private readonly onResponse: (r: FetchedBatches) => void
  private readonly onError: (e: Error) => void

  constructor(onResponse: (r: FetchedBatches) => void, onError: (e: Error) => void) {
    this.onResponse = onResponse
    this.onError = onError
  }

  feed(b: Buffer, start: number, end: number): void {
    let pos = start
    while (pos < end && !this.failed) {
      if (this.inHead) {
        const take = Math.min(end - pos, this.head.length - this.headHave, this.frameLeft > 0 ? this.frameLeft : Infinity)
        b.copy(this.head, this.headHave, pos, pos + take)
        const consumed = this.parseHead(this.headHave + take)
        if (consumed < 0) {
          this.headHave += take
          pos += take
          if (this.headHave === this.head.length) return this.fail(new Error("Fetch response header longer than 1 KiB"))
          continue
        }
        // The bytes of this chunk past the header are records (or the frame's tail).
        pos += consumed - this.headHave
        this.headHave = 0
        this.inHead = false
        if (this.frameLeft === 0) this.complete()
        continue
      }
      const take = Math.min(end - pos, this.frameLeft)
      this.records(b, pos, pos + take)
      pos += take
      this.frameLeft -= take
      if (this.frameLeft === 0) this.complete()
    }
  }

  /** Parses the collected head; returns the head bytes it spans, or -1 if more are needed. */
  private parseHead(have: number): number {
    const c = new Cursor(this.head, have)
    try {
      const size = c.int32()
      this.response.correlationId = c.int32()
      c.taggedFields()
      c.skip(4) // throttle
      const error = c.int16()
      if (error !== 0) throw new Error(`Fetch: error ${error}`)
      c.skip(4) // session id
      const topics = c.uvarint() - 1
      let records = 0
      if (topics > 0) {
        if (topics !== 1) throw new Error(`Fetch: ${topics} topics in the response, asked for 1`)
        c.skip(c.uvarint() - 1) // topic name
        const partitions = c.uvarint() - 1
        if (partitions !== 1) throw new Error(`Fetch: ${partitions} partitions in the response, asked for 1`)
        c.skip(4)
        const perror = c.int16()
        if (perror !== 0) throw new Error(`Fetch partition: error ${perror}`)
        c.skip(8 + 8 + 8)
        const aborted = c.uvarint() - 1
        if (aborted > 0) c.skip(aborted * 17) // producer id, first offset, tagged fields (none)
        c.skip(4) // preferred read replica
        records = Math.max(0, c.uvarint() - 1)
      }
      this.frameLeft = 4 + size - c.pos
      this.recordsLeft = records
      this.batchHeadHave = 0
      this.batchLeft = 0
      if (this.frameLeft < records) throw new Error("Fetch response shorter than its records")
      return c.pos
    } catch (e) {
      if (e === NEED_MORE) return -1
      this.fail(e as Error)
      return 0
    }
  }

  /** Follows batch boundaries over a span of the frame (records first, then the frame's tail). */
  private records(b: Buffer, from: number, to: number): void {
    let pos = from
    while (pos < to && this.recordsLeft > 0) {
      if (this.batchLeft > 0) {
        const skip = Math.min(this.batchLeft, to - pos, this.recordsLeft)
        pos += skip
        this.batchLeft -= skip
        this.recordsLeft -= skip
        if (this.batchLeft === 0) {
          this.response.baseOffsets.push(this.batchBase)
          this.response.nextOffsets.push(this.batchNext)
        }
        continue
      }
      const take = Math.min(BATCH_HEAD - this.batchHeadHave, to - pos, this.recordsLeft)
      b.copy(this.batchHead, this.batchHeadHave, pos, pos + take)
      this.batchHeadHave += take
      pos += take
      this.recordsLeft -= take
      if (this.batchHeadHave < BATCH_HEAD) continue
      this.batchHeadHave = 0
      const h = this.batchHead
      this.batchBase = h.readInt32BE(0) * 4294967296 + h.readUInt32BE(4)
      this.batchNext = this.batchBase + h.readInt32BE(LAST_OFFSET_DELTA_AT) + 1
      // The batch is complete only if all of it is in the records (a fetch may end in a partial one).
      this.batchLeft = 12 + h.readInt32BE(8) - BATCH_HEAD
    }
  }

  private complete(): void {
    if (this.failed) return
    this.inHead = true
    this.headHave = 0
    const r = this.response
    this.onResponse(r)
    r.baseOffsets.length = 0
    r.nextOffsets.length = 0
  }

  private fail(e: Error): void {
    if (this.failed) return
    this.failed = true
    this.onError(e)
  }
}
