/**
 * The `.index` file of a segment: 8-byte entries, big-endian
 * `relativeOffset int32 (offset − segment base offset), position int32`.
 *
 * Assumption about Kafka's format, from LogSegment.append/recover: an entry is added
 * when more than `index.interval.bytes` of log have been written since the previous
 * entry (so the first batch of a segment is never indexed); its offset is the LAST offset
 * of the batch and its position is where that batch STARTS. A lookup therefore finds the
 * greatest entry whose offset ≤ the target and scans batches forward from its position;
 * every batch at or after that position either contains the target or precedes it.
 */
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import { IndexFileTail } from "./index-file.ts"

export const OFFSET_INDEX_ENTRY_SIZE = 8

export interface OffsetIndexEntry {
  readonly offset: number
  readonly position: number
}

/** Decodes index file bytes (all entries, including any zero padding). */
export const parseOffsetIndex = (bytes: Uint8Array, baseOffset: number): Array<OffsetIndexEntry> => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: Array<OffsetIndexEntry> = []
  for (let p = 0; p + OFFSET_INDEX_ENTRY_SIZE <= bytes.length; p += OFFSET_INDEX_ENTRY_SIZE) {
    out.push({ offset: baseOffset + view.getInt32(p), position: view.getInt32(p + 4) })
  }
  return out
}

export class OffsetIndex extends IndexFileTail {
  readonly baseOffset: number
  readonly maxEntries: number
  /** Interleaved [relativeOffset, position] pairs. */
  private data: Int32Array
  private count = 0

  private constructor(path: string, baseOffset: number, maxIndexBytes: number, io: FileIoShape) {
    super(path, OFFSET_INDEX_ENTRY_SIZE, io)
    this.baseOffset = baseOffset
    this.maxEntries = Math.max(1, Math.floor(maxIndexBytes / OFFSET_INDEX_ENTRY_SIZE))
    this.data = new Int32Array(64)
  }

  /** A new, empty index; any existing file is replaced on the next flush. */
  static empty(path: string, baseOffset: number, maxIndexBytes: number, io: FileIoShape = nodeFileIo): OffsetIndex {
    return new OffsetIndex(path, baseOffset, maxIndexBytes, io)
  }

  /**
   * Loads an existing file. Returns the index and a description of why it cannot be
   * trusted (missing, misaligned, out of order), or null when it looks sane. Trailing
   * zero entries (Kafka preallocation) are ignored and trimmed on the next flush.
   */
  static load(path: string, baseOffset: number, maxIndexBytes: number, io: FileIoShape = nodeFileIo): { index: OffsetIndex; problem: string | null } {
    const index = new OffsetIndex(path, baseOffset, maxIndexBytes, io)
    return { index, problem: index.loadFile() }
  }

  protected loadEntry(view: DataView, position: number): string | null {
    const rel = view.getInt32(position)
    const pos = view.getInt32(position + 4)
    const last = this.count - 1
    const inOrder = last < 0 ? rel >= 0 && pos >= 0 : rel > this.data[2 * last]! && pos > this.data[2 * last + 1]!
    this.push(rel, pos)
    return inOrder ? null : `(${rel}, ${pos})`
  }

  get entries(): number {
    return this.count
  }

  get memoryBytes(): number {
    return this.data.byteLength
  }

  protected sameEntry(other: OffsetIndex, i: number): boolean {
    return this.data[2 * i] === other.data[2 * i] && this.data[2 * i + 1] === other.data[2 * i + 1]
  }

  protected reserve(entries: number): void {
    if (2 * entries > this.data.length) {
      const next = new Int32Array(2 * entries)
      next.set(this.data.subarray(0, 2 * this.count))
      this.data = next
    }
  }

  isFull(): boolean {
    return this.count >= this.maxEntries
  }

  offsetAt(i: number): number {
    return this.baseOffset + this.data[2 * i]!
  }

  positionAt(i: number): number {
    return this.data[2 * i + 1]!
  }

  /** Offset of the last entry, or the base offset when there are none (as Kafka's lastOffset). */
  lastOffset(): number {
    return this.count === 0 ? this.baseOffset : this.offsetAt(this.count - 1)
  }

  /** Position of the last entry, or 0. */
  lastPosition(): number {
    return this.count === 0 ? 0 : this.positionAt(this.count - 1)
  }

  private push(rel: number, pos: number): void {
    if (2 * this.count + 2 > this.data.length) {
      const next = new Int32Array(this.data.length * 2)
      next.set(this.data)
      this.data = next
    }
    this.data[2 * this.count] = rel
    this.data[2 * this.count + 1] = pos
    this.count++
  }

  /** Adds an entry for a batch whose last offset is `offset`, starting at `position`. */
  append(offset: number, position: number): void {
    const rel = offset - this.baseOffset
    if (rel < 0 || rel > 0x7fffffff) throw new RangeError(`offset ${offset} does not fit segment ${this.baseOffset}`)
    if (this.count > 0 && (rel <= this.data[2 * (this.count - 1)]! || position <= this.lastPosition())) {
      throw new RangeError(`index entry (${offset}, ${position}) is not after the last entry (${this.lastOffset()}, ${this.lastPosition()})`)
    }
    if (this.isFull()) throw new RangeError(`offset index ${this.path} is full`)
    this.push(rel, position)
  }

  /**
   * Index of the greatest entry whose offset ≤ `target`, or -1 when the target precedes
   * every entry (scan from position 0 then).
   */
  floorEntry(target: number): number {
    const rel = target - this.baseOffset
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.data[2 * mid]! <= rel) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }

  /** Physical position from which to scan for the batch containing `target`. */
  lookup(target: number): number {
    const i = this.floorEntry(target)
    return i < 0 ? 0 : this.positionAt(i)
  }

  /** Index of the greatest entry whose position ≤ `position`, or -1. */
  floorPositionEntry(position: number): number {
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.data[2 * mid + 1]! <= position) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }

  /** Drops entries pointing at or beyond `position` (log truncated there). */
  truncateToPosition(position: number): void {
    let keep = this.count
    while (keep > 0 && this.positionAt(keep - 1) >= position) keep--
    this.count = keep
    this.truncatedTo(keep)
  }

  reset(): void {
    this.count = 0
    this.truncatedTo(0)
  }

  protected encode(from: number, to: number): Uint8Array {
    const tail = new Uint8Array((to - from) * OFFSET_INDEX_ENTRY_SIZE)
    const view = new DataView(tail.buffer)
    for (let i = from; i < to; i++) {
      const p = (i - from) * OFFSET_INDEX_ENTRY_SIZE
      view.setInt32(p, this.data[2 * i]!)
      view.setInt32(p + 4, this.data[2 * i + 1]!)
    }
    return tail
  }
}
