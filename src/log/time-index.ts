/**
 * The `.timeindex` file of a segment: 12-byte entries, big-endian
 * `timestamp int64, relativeOffset int32`.
 *
 * Assumption about Kafka's format, from LogSegment/TimeIndex: an entry is written next to
 * each offset-index entry, and once more when the segment becomes inactive or is closed,
 * holding the segment's largest timestamp so far and the last offset of the (first) batch
 * that carried it; entries are only added when the timestamp grows, so timestamps are
 * strictly increasing and offsets non-decreasing. The last entry therefore gives the
 * segment's max timestamp without reading the log, which is how Kafka loads it too.
 */
import { getInt64, setInt64 } from "./record-batch.ts"
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import { IndexFileTail } from "./index-file.ts"

export const TIME_INDEX_ENTRY_SIZE = 12

export interface TimeIndexEntry {
  readonly timestamp: number
  readonly offset: number
}

/** Decodes time index file bytes (all entries, including any zero padding). */
export const parseTimeIndex = (bytes: Uint8Array, baseOffset: number): Array<TimeIndexEntry> => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: Array<TimeIndexEntry> = []
  for (let p = 0; p + TIME_INDEX_ENTRY_SIZE <= bytes.length; p += TIME_INDEX_ENTRY_SIZE) {
    out.push({ timestamp: getInt64(view, p), offset: baseOffset + view.getInt32(p + 8) })
  }
  return out
}

export class TimeIndex extends IndexFileTail {
  readonly baseOffset: number
  readonly maxEntries: number
  private timestamps: Float64Array
  private relOffsets: Int32Array
  private count = 0

  private constructor(path: string, baseOffset: number, maxIndexBytes: number, io: FileIoShape) {
    super(path, TIME_INDEX_ENTRY_SIZE, io)
    this.baseOffset = baseOffset
    this.maxEntries = Math.max(1, Math.floor(maxIndexBytes / TIME_INDEX_ENTRY_SIZE))
    this.timestamps = new Float64Array(32)
    this.relOffsets = new Int32Array(32)
  }

  static empty(path: string, baseOffset: number, maxIndexBytes: number, io: FileIoShape = nodeFileIo): TimeIndex {
    return new TimeIndex(path, baseOffset, maxIndexBytes, io)
  }

  /** Loads an existing file; `problem` is non-null when the file cannot be trusted. */
  static load(path: string, baseOffset: number, maxIndexBytes: number, io: FileIoShape = nodeFileIo): { index: TimeIndex; problem: string | null } {
    const index = new TimeIndex(path, baseOffset, maxIndexBytes, io)
    return { index, problem: index.loadFile() }
  }

  protected loadEntry(view: DataView, position: number): string | null {
    const ts = getInt64(view, position)
    const rel = view.getInt32(position + 8)
    const last = this.count - 1
    const inOrder = last < 0 ? rel >= 0 : ts > this.timestamps[last]! && rel >= this.relOffsets[last]!
    this.push(ts, rel)
    return inOrder ? null : `(${ts}, ${rel})`
  }

  get entries(): number {
    return this.count
  }

  get memoryBytes(): number {
    return this.timestamps.byteLength + this.relOffsets.byteLength
  }

  protected sameEntry(other: TimeIndex, i: number): boolean {
    return this.timestamps[i] === other.timestamps[i] && this.relOffsets[i] === other.relOffsets[i]
  }

  protected reserve(entries: number): void {
    if (entries > this.timestamps.length) this.resize(entries)
  }

  private resize(capacity: number): void {
    const ts = new Float64Array(capacity)
    ts.set(this.timestamps.subarray(0, this.count))
    this.timestamps = ts
    const rel = new Int32Array(capacity)
    rel.set(this.relOffsets.subarray(0, this.count))
    this.relOffsets = rel
  }

  isFull(): boolean {
    return this.count >= this.maxEntries
  }

  timestampAt(i: number): number {
    return this.timestamps[i]!
  }

  offsetAt(i: number): number {
    return this.baseOffset + this.relOffsets[i]!
  }

  /** Last entry's timestamp, or -1 (NO_TIMESTAMP) when empty. */
  lastTimestamp(): number {
    return this.count === 0 ? -1 : this.timestamps[this.count - 1]!
  }

  /** Last entry's offset, or the base offset when empty. */
  lastOffset(): number {
    return this.count === 0 ? this.baseOffset : this.offsetAt(this.count - 1)
  }

  private push(ts: number, rel: number): void {
    if (this.count === this.timestamps.length) this.resize(Math.max(32, this.count * 2))
    this.timestamps[this.count] = ts
    this.relOffsets[this.count] = rel
    this.count++
  }

  /**
   * Adds (timestamp, offset) if the timestamp is larger than the last entry's. The final
   * entry written on roll/close may exceed the size cap, as in Kafka (skipFullCheck).
   */
  maybeAppend(timestamp: number, offset: number, skipFullCheck = false): void {
    if (timestamp <= this.lastTimestamp()) return
    if (!skipFullCheck && this.isFull()) throw new RangeError(`time index ${this.path} is full`)
    const rel = offset - this.baseOffset
    if (rel < 0 || rel > 0x7fffffff) throw new RangeError(`offset ${offset} does not fit segment ${this.baseOffset}`)
    if (this.count > 0 && rel < this.relOffsets[this.count - 1]!) {
      throw new RangeError(`time index offset ${offset} is smaller than the last entry's ${this.lastOffset()}`)
    }
    this.push(timestamp, rel)
  }

  /** Index of the last entry whose timestamp < `target`, or -1. */
  lastEntryBelow(target: number): number {
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.timestamps[mid]! < target) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }

  /** Drops entries whose offset is ≥ `offset` (log truncated there). */
  truncateToOffset(offset: number): void {
    let keep = this.count
    while (keep > 0 && this.offsetAt(keep - 1) >= offset) keep--
    this.count = keep
    this.truncatedTo(keep)
  }

  reset(): void {
    this.count = 0
    this.truncatedTo(0)
  }

  protected encode(from: number, to: number): Uint8Array {
    const tail = new Uint8Array((to - from) * TIME_INDEX_ENTRY_SIZE)
    const view = new DataView(tail.buffer)
    for (let i = from; i < to; i++) {
      const p = (i - from) * TIME_INDEX_ENTRY_SIZE
      setInt64(view, p, this.timestamps[i]!)
      view.setInt32(p + 8, this.relOffsets[i]!)
    }
    return tail
  }
}
