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

/**
 * The map is split into SHARDS Maps by a hash of the key: V8 grows a Map by rehashing all of
 * it in one call, which at ~260 000 keys held the event loop for ~80 ms in one step of a
 * cleaning round (bench/cleaner-stall-probe.ts); a shard grows 1/SHARDS of that at a time.
 */
const SHARDS = 64

/** FNV-1a of the key's bytes, folded to a shard. */
const shardOf = (key: Uint8Array): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i]!, 0x01000193)
  return (h ^ (h >>> 16)) & (SHARDS - 1)
}

export class OffsetMap {
  /** Entries the memory budget allows (Kafka's `slots`). */
  readonly slots: number
  /** Entries the cleaner may put before it stops a round (slots × load factor). */
  readonly maxEntries: number
  private readonly shards: ReadonlyArray<Map<string, number>> = Array.from({ length: SHARDS }, () => new Map<string, number>())
  private entries = 0
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
    return this.entries
  }

  get isFull(): boolean {
    return this.entries >= this.maxEntries
  }

  /** The largest offset the map has seen (records, or batches skipped whole); -1 when empty. */
  get latestOffset(): number {
    return this._latestOffset
  }

  /** Fraction of the slots in use (Kafka's buffer utilisation statistic). */
  get utilization(): number {
    return this.entries / this.slots
  }

  put(key: Uint8Array, offset: number): void {
    const shard = this.shards[shardOf(key)]!
    const before = shard.size
    shard.set(keyString(key), offset)
    this.entries += shard.size - before
    if (offset > this._latestOffset) this._latestOffset = offset
  }

  /** The latest offset for `key`, or -1 when the key is not in the map. */
  get(key: Uint8Array): number {
    return this.shards[shardOf(key)]!.get(keyString(key)) ?? -1
  }

  /** Whether the map has room for `key` (always true for a key it already holds). */
  canPut(key: Uint8Array): boolean {
    return this.entries < this.maxEntries || this.shards[shardOf(key)]!.has(keyString(key))
  }

  updateLatestOffset(offset: number): void {
    if (offset > this._latestOffset) this._latestOffset = offset
  }

  clear(): void {
    for (const shard of this.shards) shard.clear()
    this.entries = 0
    this._latestOffset = -1
  }
}
