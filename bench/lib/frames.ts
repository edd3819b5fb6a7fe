/** Kafka frame splitting for the bench: counts frames in a byte stream without copying payloads. */

/**
 * Follows the frames of one byte stream. A request frame starts with size, api key, api
 * version, correlation id (12 bytes); a response frame with size, correlation id (8 bytes):
 * `headerBytes` says which, the correlation id being its last 4 bytes.
 */
export class FrameCounter {
  private remaining = 0
  private readonly header: Buffer
  private have = 0
  private correlationId = 0
  private readonly headerBytes: number

  constructor(headerBytes: 8 | 12) {
    this.headerBytes = headerBytes
    this.header = Buffer.alloc(headerBytes)
  }

  /** Feeds one chunk; pushes the correlation id of each frame that completes in it. */
  feed(chunk: Buffer, done: Array<number>): void {
    const hb = this.headerBytes
    let pos = 0
    const len = chunk.length
    while (pos < len) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, len - pos)
        pos += take
        this.remaining -= take
        if (this.remaining === 0) done.push(this.correlationId)
      } else if (this.have === 0 && len - pos >= hb) {
        this.correlationId = chunk.readInt32BE(pos + hb - 4)
        this.remaining = chunk.readInt32BE(pos) - (hb - 4)
        pos += hb
        if (this.remaining <= 0) {
          this.remaining = 0
          done.push(this.correlationId)
        }
      } else {
        const take = Math.min(hb - this.have, len - pos)
        chunk.copy(this.header, this.have, pos, pos + take)
        this.have += take
        pos += take
        if (this.have === hb) {
          this.have = 0
          this.correlationId = this.header.readInt32BE(hb - 4)
          this.remaining = this.header.readInt32BE(0) - (hb - 4)
          if (this.remaining <= 0) {
            this.remaining = 0
            done.push(this.correlationId)
          }
        }
      }
    }
  }
}
