/**
 * The cleaner's key → latest offset map over the dirty section of a log (Kafka's
 * OffsetMap / SkimpyOffsetMap).
 *
 * Kafka sizes the map from `log.cleaner.dedupe.buffer.size` (split over the cleaner
 * threads): one slot per 24 bytes (a 16-byte MD5 of the key and an 8-byte offset), filled
 * to at most `log.cleaner.io.buffer.load.factor` of the slots. The same slot count bounds
 * this map, so a round covers as much of the dirty section as Kafka's would. Keys are held
 * exactly (as latin1 strings) rather than hashed: no collision can ever drop a live record.
 */

/** Bytes Kafka's map uses per entry: MD5 hash (16) + offset (8). */
export const BYTES_PER_ENTRY = 24

const keyString = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1")

export class OffsetMap {
  /** Entries the memory budget allows (Kafka's `slots`). */
  readonly slots: number
  /** Entries the cleaner may put before it stops a round (slots × load factor). */
  readonly maxEntries: number
  private readonly map = new Map<string, number>()
  private _latestOffset = -1

  constructor(memoryBytes: number, loadFactor = 0.9) {
    this.slots = Math.floor(memoryBytes / BYTES_PER_ENTRY)
    this.maxEntries = Math.floor(this.slots * loadFactor)
    if (this.maxEntries < 1) {
      throw new RangeError(
        "offset map is too small to fit in even a single message, so log cleaning will never make progress. " +
          "You can increase log.cleaner.dedupe.buffer.size or decrease log.cleaner.threads"
      )
    }
  }

  get size(): number {
    return this.map.size
  }

  get isFull(): boolean {
    return this.map.size >= this.maxEntries
  }

  /** The largest offset the map has seen (records, or batches skipped whole); -1 when empty. */
  get latestOffset(): number {
    return this._latestOffset
  }

  /** Fraction of the slots in use (Kafka's buffer utilisation statistic). */
  get utilization(): number {
    return this.map.size / this.slots
  }

  put(key: Uint8Array, offset: number): void {
    this.map.set(keyString(key), offset)
    if (offset > this._latestOffset) this._latestOffset = offset
  }

  /** The latest offset for `key`, or -1 when the key is not in the map. */
  get(key: Uint8Array): number {
    return this.map.get(keyString(key)) ?? -1
  }

  /** Whether the map has room for `key` (always true for a key it already holds). */
  canPut(key: Uint8Array): boolean {
    return this.map.size < this.maxEntries || this.map.has(keyString(key))
  }

  updateLatestOffset(offset: number): void {
    if (offset > this._latestOffset) this._latestOffset = offset
  }

  clear(): void {
    this.map.clear()
    this._latestOffset = -1
  }
}
