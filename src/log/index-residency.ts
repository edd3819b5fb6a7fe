/**
 * How much memory the index entries of sealed segments may hold. Kafka memory-maps index
 * files and maps a sealed segment's only on first use (KAFKA-7283), leaving the rest to the
 * page cache; here entries live on the heap, so without a bound a broker would hold ~0.3 MB
 * per retained GB of 64 KiB batches, and up to ~5 MB per GB of batches smaller than
 * `index.interval.bytes`, whether anyone reads that data or not. Sealed segments below the
 * recovery point open without their entries; a lookup loads them; beyond the budget the
 * least recently used are dropped (their files already hold them) and read again on next use.
 * Active segments are not counted: they are being appended to, one per partition.
 */

/** What the residency can ask of a segment. */
export interface ResidentIndexes {
  /**
   * Drops the in-memory entries when the files hold all of them; false when they cannot be
   * dropped now (entries not yet written, or the segment is being written to again).
   */
  unloadIndexes(): boolean
}

/** Default of `log.index.memory.max.bytes`. */
export const DEFAULT_INDEX_MEMORY_BYTES = 32 * 1024 * 1024

export class IndexResidency {
  /** In-memory bytes of each sealed segment's loaded indexes, least recently used first. */
  private readonly resident = new Map<ResidentIndexes, number>()
  private residentBytes = 0
  private mostRecent: ResidentIndexes | null = null
  readonly budgetBytes: number
  /** Reports what a load found wrong with index files (rebuilt from the log): the broker's log. */
  readonly warn: (message: string) => void

  constructor(budgetBytes: number = DEFAULT_INDEX_MEMORY_BYTES, warn: (message: string) => void = () => {}) {
    this.budgetBytes = budgetBytes
    this.warn = warn
  }

  /** Bytes held by the sealed segments' indexes now in memory. */
  get bytes(): number {
    return this.residentBytes
  }

  /** Sealed segments whose indexes are in memory. */
  get segments(): number {
    return this.resident.size
  }

  /**
   * `segment`'s indexes are in memory (`bytes` of them) and were just used: it becomes the
   * most recently used, and the least recently used others leave memory while over budget.
   */
  used(segment: ResidentIndexes, bytes: number): void {
    if (segment === this.mostRecent && this.resident.get(segment) === bytes) return
    const had = this.resident.get(segment)
    if (had !== undefined) {
      this.resident.delete(segment)
      this.residentBytes -= had
    }
    this.resident.set(segment, bytes)
    this.residentBytes += bytes
    this.mostRecent = segment
    if (this.residentBytes > this.budgetBytes) this.evictFor(segment)
  }

  /** `segment` is closed or deleted, or its indexes left memory: no longer counted. */
  forget(segment: ResidentIndexes): void {
    const had = this.resident.get(segment)
    if (had === undefined) return
    this.resident.delete(segment)
    this.residentBytes -= had
    if (this.mostRecent === segment) this.mostRecent = null
  }

  private evictFor(keep: ResidentIndexes): void {
    // Deleting the visited entry while iterating a Map is well defined: iteration goes on.
    for (const [segment, bytes] of this.resident) {
      if (this.residentBytes <= this.budgetBytes) return
      if (segment === keep || !segment.unloadIndexes()) continue
      this.resident.delete(segment)
      this.residentBytes -= bytes
    }
  }
}
