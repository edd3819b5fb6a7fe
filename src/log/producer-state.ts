/**
 * Producer state of one partition, as Kafka's ProducerStateManager keeps it: per producer id
 * the epoch, the sequence ranges and offsets of its last five batches, the coordinator epoch
 * of the last transaction marker and the first offset of its open transaction. It is what
 * makes produce retries idempotent (a duplicate of one of the last five batches is answered
 * with its original offsets), rejects out-of-order and fenced writes, and yields the last
 * stable offset (the first offset of the oldest open transaction).
 *
 * Only batches with a producer id reach this module; plain produces never touch it. All
 * checks read batch headers (and the single record of a transaction marker).
 *
 * Snapshots are `<offset>.snapshot` files in Kafka's format (ProducerSnapshot v1: int16
 * version, uint32 CRC-32C of everything after it, then the producer entries), so a Kafka
 * broker reading this directory finds the same state and vice versa.
 */
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import * as path from "node:path"
import { crc32c } from "./crc32c.ts"
import { type Deferred, writeFileAtomically } from "./checkpoint.ts"
import { getInt64, NO_PRODUCER_EPOCH, NO_SEQUENCE, NO_TIMESTAMP, setInt64 } from "./record-batch.ts"

/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN. */
export const NUM_BATCHES_TO_RETAIN = 5
export const PRODUCER_SNAPSHOT_FILE_SUFFIX = ".snapshot"
export const PRODUCER_SNAPSHOT_VERSION = 1
/** Default producer.id.expiration.ms (one day) and its check interval (ten minutes). */
export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000
export const DEFAULT_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS = 600_000

const INT32_MAX = 0x7fffffff

/** Kafka's DefaultRecordBatch.incrementSequence: sequences wrap from Integer.MAX_VALUE to 0. */
export const incrementSequence = (sequence: number, increment: number): number =>
  sequence > INT32_MAX - increment ? increment - (INT32_MAX - sequence) - 1 : sequence + increment

export const decrementSequence = (sequence: number, decrement: number): number =>
  sequence < decrement ? INT32_MAX - (decrement - sequence) + 1 : sequence - decrement

/** One appended batch of a producer (Kafka's BatchMetadata). */
export interface BatchMetadata {
  readonly lastSeq: number
  readonly lastOffset: number
  /** lastOffset - firstOffset (= lastSeq - firstSeq). */
  readonly offsetDelta: number
  /** The batch's max timestamp. */
  readonly timestamp: number
}

export const firstSeqOf = (b: BatchMetadata): number => decrementSequence(b.lastSeq, b.offsetDelta)
export const firstOffsetOf = (b: BatchMetadata): number => b.lastOffset - b.offsetDelta

export class ProducerStateEntry {
  producerId: number
  producerEpoch: number
  coordinatorEpoch: number
  lastTimestamp: number
  /** First offset of the producer's open transaction, -1 when none is open. */
  currentTxnFirstOffset: number
  /** Oldest first; at most NUM_BATCHES_TO_RETAIN. */
  readonly batches: Array<BatchMetadata>

  constructor(
    producerId: number,
    producerEpoch: number,
    coordinatorEpoch: number,
    lastTimestamp: number,
    currentTxnFirstOffset: number,
    batches: Array<BatchMetadata> = []
  ) {
    this.producerId = producerId
    this.producerEpoch = producerEpoch
    this.coordinatorEpoch = coordinatorEpoch
    this.lastTimestamp = lastTimestamp
    this.currentTxnFirstOffset = currentTxnFirstOffset
    this.batches = batches
  }

  static empty(producerId: number): ProducerStateEntry {
    return new ProducerStateEntry(producerId, NO_PRODUCER_EPOCH, -1, NO_TIMESTAMP, -1)
  }

  get isEmpty(): boolean {
    return this.batches.length === 0
  }

  get firstSeq(): number {
    return this.batches.length === 0 ? NO_SEQUENCE : firstSeqOf(this.batches[0]!)
  }

  get lastSeq(): number {
    return this.batches.length === 0 ? NO_SEQUENCE : this.batches[this.batches.length - 1]!.lastSeq
  }

  get lastDataOffset(): number {
    return this.batches.length === 0 ? -1 : this.batches[this.batches.length - 1]!.lastOffset
  }

  get lastOffsetDelta(): number {
    return this.batches.length === 0 ? 0 : this.batches[this.batches.length - 1]!.offsetDelta
  }

  /** A copy with the same epochs and transaction but no batches (Kafka's updatedEntry). */
  withoutBatches(): ProducerStateEntry {
    return new ProducerStateEntry(this.producerId, this.producerEpoch, this.coordinatorEpoch, this.lastTimestamp, this.currentTxnFirstOffset)
  }

  private maybeUpdateEpoch(epoch: number): void {
    if (this.producerEpoch !== epoch) {
      this.batches.length = 0
      this.producerEpoch = epoch
    }
  }

  private addBatchMetadata(batch: BatchMetadata): void {
    if (this.batches.length === NUM_BATCHES_TO_RETAIN) this.batches.shift()
    this.batches.push(batch)
  }

  addBatch(epoch: number, lastSeq: number, lastOffset: number, offsetDelta: number, timestamp: number): void {
    this.maybeUpdateEpoch(epoch)
    this.addBatchMetadata({ lastSeq, lastOffset, offsetDelta, timestamp })
    this.lastTimestamp = timestamp
  }

  /** Kafka's ProducerStateEntry.update(nextEntry): takes over what an append changed. */
  update(next: ProducerStateEntry): void {
    this.maybeUpdateEpoch(next.producerEpoch)
    for (const b of next.batches) this.addBatchMetadata(b)
    this.coordinatorEpoch = next.coordinatorEpoch
    this.currentTxnFirstOffset = next.currentTxnFirstOffset
    this.lastTimestamp = next.lastTimestamp
  }

  /** The retained batch with exactly this sequence range at this epoch, if any. */
  findDuplicate(epoch: number, firstSeq: number, lastSeq: number): BatchMetadata | undefined {
    if (epoch !== this.producerEpoch) return undefined
    for (const b of this.batches) if (b.lastSeq === lastSeq && firstSeqOf(b) === firstSeq) return b
    return undefined
  }
}

// ---------------------------------------------------------------------------------------
// Errors (mapped to Kafka error codes by the LogStore)
// ---------------------------------------------------------------------------------------

export type ProducerStateErrorCode =
  | "INVALID_PRODUCER_EPOCH"
  | "OUT_OF_ORDER_SEQUENCE_NUMBER"
  | "INVALID_TXN_STATE"
  | "TRANSACTION_COORDINATOR_FENCED"

/** A producer may not write this batch; `errorName` is the Kafka error to answer with. */
export class ProducerStateError extends Error {
  override readonly name = "ProducerStateError"
  readonly errorName: ProducerStateErrorCode
  constructor(errorName: ProducerStateErrorCode, message: string) {
    super(message)
    this.errorName = errorName
  }
}

export class CorruptSnapshotError extends Error {
  override readonly name = "CorruptSnapshotError"
}

// ---------------------------------------------------------------------------------------
// One append's view of one producer (Kafka's ProducerAppendInfo)
// ---------------------------------------------------------------------------------------

/** Kafka's AppendOrigin; "replication" stands for log recovery here: nothing is checked. */
export type ProducerAppendOrigin = "client" | "coordinator" | "replication"

export interface CompletedTxn {
  readonly producerId: number
  readonly firstOffset: number
  /** Offset of the marker. */
  readonly lastOffset: number
  readonly isAborted: boolean
}

export interface EndTxnMarker {
  readonly commit: boolean
  readonly coordinatorEpoch: number
}

const inSequence = (lastSeq: number, nextSeq: number): boolean =>
  nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX)

export class ProducerAppendInfo {
  readonly producerId: number
  readonly current: ProducerStateEntry
  readonly updated: ProducerStateEntry
  private readonly origin: ProducerAppendOrigin
  private readonly where: string
  /** First offsets of transactions this append opened. */
  readonly startedTxns: Array<number> = []

  constructor(producerId: number, current: ProducerStateEntry, origin: ProducerAppendOrigin, where: string) {
    this.producerId = producerId
    this.current = current
    this.updated = current.withoutBatches()
    this.origin = origin
    this.where = where
  }

  private checkProducerEpoch(epoch: number, offset: number): void {
    if (epoch < this.updated.producerEpoch && this.origin !== "replication") {
      // Since Kafka 2.7 a produce with an old epoch is INVALID_PRODUCER_EPOCH (abortable),
      // not PRODUCER_FENCED.
      throw new ProducerStateError(
        "INVALID_PRODUCER_EPOCH",
        `Epoch of producer ${this.producerId} at offset ${offset} in ${this.where} is ${epoch}, which is smaller than the last seen epoch ${this.updated.producerEpoch}`
      )
    }
  }

  private checkSequence(epoch: number, firstSeq: number, offset: number): void {
    const updated = this.updated
    if (epoch !== updated.producerEpoch) {
      if (firstSeq !== 0 && updated.producerEpoch !== NO_PRODUCER_EPOCH) {
        throw new ProducerStateError(
          "OUT_OF_ORDER_SEQUENCE_NUMBER",
          `Invalid sequence number for new epoch of producer ${this.producerId} at offset ${offset} in partition ${this.where}: ${epoch} (request epoch), ${firstSeq} (seq. number), ${updated.producerEpoch} (current producer epoch)`
        )
      }
      return
    }
    const currentLastSeq = !updated.isEmpty
      ? updated.lastSeq
      : epoch === this.current.producerEpoch ? this.current.lastSeq : NO_SEQUENCE
    // A producer whose state is gone (no epoch known: expired, or its records deleted) may
    // continue with any sequence, as in Kafka since KIP-360.
    if (!(this.current.producerEpoch === NO_PRODUCER_EPOCH || inSequence(currentLastSeq, firstSeq))) {
      throw new ProducerStateError(
        "OUT_OF_ORDER_SEQUENCE_NUMBER",
        `Out of order sequence number for producer ${this.producerId} at offset ${offset} in partition ${this.where}: ${firstSeq} (incoming seq. number), ${currentLastSeq} (current end sequence number)`
      )
    }
  }

  /** A data batch; throws ProducerStateError when the producer may not write it. */
  appendDataBatch(
    epoch: number,
    firstSeq: number,
    lastSeq: number,
    maxTimestamp: number,
    firstOffset: number,
    lastOffset: number,
    isTransactional: boolean
  ): void {
    this.checkProducerEpoch(epoch, firstOffset)
    if (this.origin === "client") this.checkSequence(epoch, firstSeq, firstOffset)
    const updated = this.updated
    updated.addBatch(epoch, lastSeq, lastOffset, lastOffset - firstOffset, maxTimestamp)
    if (updated.currentTxnFirstOffset >= 0 && !isTransactional) {
      if (this.origin !== "replication") {
        throw new ProducerStateError(
          "INVALID_TXN_STATE",
          `Expected transactional write from producer ${this.producerId} at offset ${firstOffset} in partition ${this.where}`
        )
      }
    } else if (updated.currentTxnFirstOffset < 0 && isTransactional) {
      updated.currentTxnFirstOffset = firstOffset
      this.startedTxns.push(firstOffset)
    }
  }

  /** A transaction marker at `offset`; the completed transaction if one was open. */
  appendEndTxnMarker(marker: EndTxnMarker, epoch: number, offset: number, timestamp: number): CompletedTxn | undefined {
    this.checkProducerEpoch(epoch, offset)
    const updated = this.updated
    if (updated.coordinatorEpoch > marker.coordinatorEpoch && this.origin !== "replication") {
      throw new ProducerStateError(
        "TRANSACTION_COORDINATOR_FENCED",
        `Invalid coordinator epoch for producerId ${this.producerId} at offset ${offset} in partition ${this.where}: ${marker.coordinatorEpoch} (zombie), ${updated.coordinatorEpoch} (current)`
      )
    }
    const completed = updated.currentTxnFirstOffset >= 0
      ? { producerId: this.producerId, firstOffset: updated.currentTxnFirstOffset, lastOffset: offset, isAborted: !marker.commit }
      : undefined
    // Kafka's update(epoch, coordinatorEpoch, timestamp): the batches retained so far stay.
    if (updated.producerEpoch !== epoch) {
      updated.batches.length = 0
      updated.producerEpoch = epoch
    }
    updated.coordinatorEpoch = marker.coordinatorEpoch
    updated.currentTxnFirstOffset = -1
    updated.lastTimestamp = timestamp
    return completed
  }
}

// ---------------------------------------------------------------------------------------
// The manager
// ---------------------------------------------------------------------------------------

/** What DescribeProducers reports for one producer of a partition. */
export interface ActiveProducerState {
  readonly producerId: number
  readonly producerEpoch: number
  readonly lastSequence: number
  readonly lastTimestamp: number
  readonly coordinatorEpoch: number
  /** -1 when no transaction is open. */
  readonly currentTxnStartOffset: number
}

export const snapshotFileName = (offset: number): string => String(offset).padStart(20, "0") + PRODUCER_SNAPSHOT_FILE_SUFFIX

const snapshotOffsetOf = (name: string): number | null => {
  const m = /^(\d{20})\.snapshot$/.exec(name)
  return m === null ? null : Number(m[1])
}

export class ProducerStateManager {
  readonly dir: string
  readonly where: string
  producerIdExpirationMs: number
  readonly producers = new Map<number, ProducerStateEntry>()
  /** Open transactions: first offset → producer id. */
  private readonly ongoingTxns = new Map<number, number>()
  private firstUnstable = -1
  /** Offset after the last batch reflected in this state (Kafka's lastMapOffset). */
  mapEndOffset = 0
  /** Snapshot offsets on disk, ascending. */
  private snapshots: Array<number> = []
  private readonly io: FileIoShape

  /** `names`: the directory's listing when the caller has just read it. */
  constructor(dir: string, where: string, producerIdExpirationMs = DEFAULT_PRODUCER_ID_EXPIRATION_MS, io: FileIoShape = nodeFileIo, names?: ReadonlyArray<string>) {
    this.dir = dir
    this.io = io
    this.where = where
    this.producerIdExpirationMs = producerIdExpirationMs
    this.snapshots = listSnapshotOffsets(dir, io, names)
  }

  /** First offset of the oldest open transaction, or -1. */
  get firstUnstableOffset(): number {
    return this.firstUnstable
  }

  get hasOngoingTransactions(): boolean {
    return this.ongoingTxns.size > 0
  }

  private recomputeFirstUnstable(): void {
    let min = -1
    for (const offset of this.ongoingTxns.keys()) if (min < 0 || offset < min) min = offset
    this.firstUnstable = min
  }

  lastEntry(producerId: number): ProducerStateEntry | undefined {
    return this.producers.get(producerId)
  }

  prepareUpdate(producerId: number, origin: ProducerAppendOrigin): ProducerAppendInfo {
    return new ProducerAppendInfo(producerId, this.producers.get(producerId) ?? ProducerStateEntry.empty(producerId), origin, this.where)
  }

  /** Takes over what an append changed (after the batches were written). */
  update(info: ProducerAppendInfo): void {
    const current = this.producers.get(info.producerId)
    if (current === undefined) this.producers.set(info.producerId, info.updated)
    else current.update(info.updated)
    if (info.startedTxns.length > 0) {
      for (const offset of info.startedTxns) this.ongoingTxns.set(offset, info.producerId)
      this.recomputeFirstUnstable()
    }
  }

  /**
   * The last stable offset recorded with an aborted transaction in the transaction index:
   * the first offset of the oldest transaction of another producer still open, else the
   * offset after the marker.
   */
  lastStableOffset(completed: CompletedTxn): number {
    let min = -1
    for (const [offset, producerId] of this.ongoingTxns) {
      if (producerId !== completed.producerId && (min < 0 || offset < min)) min = offset
    }
    return min >= 0 ? min : completed.lastOffset + 1
  }

  completeTxn(completed: CompletedTxn): void {
    if (this.ongoingTxns.delete(completed.firstOffset)) this.recomputeFirstUnstable()
  }

  // -------------------------------------------------------------------------------------
  // Expiry
  // -------------------------------------------------------------------------------------

  private isExpired(now: number, entry: ProducerStateEntry): boolean {
    return entry.currentTxnFirstOffset < 0 && now - entry.lastTimestamp >= this.producerIdExpirationMs
  }

  /** Forgets producers idle for producer.id.expiration.ms (never one with an open transaction). */
  removeExpiredProducers(now: number): number {
    let removed = 0
    for (const [producerId, entry] of this.producers) {
      if (this.isExpired(now, entry)) {
        this.producers.delete(producerId)
        removed++
      }
    }
    return removed
  }

  activeProducers(): Array<ActiveProducerState> {
    return [...this.producers.values()].map((e) => ({
      producerId: e.producerId,
      producerEpoch: e.producerEpoch,
      lastSequence: e.lastSeq,
      lastTimestamp: e.lastTimestamp,
      coordinatorEpoch: e.coordinatorEpoch,
      currentTxnStartOffset: e.currentTxnFirstOffset
    }))
  }

  // -------------------------------------------------------------------------------------
  // Snapshots
  // -------------------------------------------------------------------------------------

  get latestSnapshotOffset(): number | undefined {
    return this.snapshots.at(-1)
  }

  snapshotOffsets(): ReadonlyArray<number> {
    return this.snapshots
  }

  /**
   * Writes `<mapEndOffset>.snapshot` unless it exists (Kafka's takeSnapshot); returns whether
   * it wrote one. Without `syncDirectory` the caller fsyncs the directory, or (at close, as
   * Kafka's, which forces only the file) nobody does: a snapshot lost with its name to a power
   * loss costs a longer replay of the log at the next open, never wrong state. With `later`
   * its fsync and rename are left to that batch.
   */
  takeSnapshot(syncDirectory = true, later?: Deferred): boolean {
    const offset = this.mapEndOffset
    if (this.snapshots.at(-1) === offset) return false
    writeFileAtomically(path.join(this.dir, snapshotFileName(offset)), encodeProducerSnapshot(this.producers.values()), this.io, syncDirectory, later)
    this.recordSnapshot(offset)
    return true
  }

  /**
   * Kafka's takeSnapshot(sync = false), at a segment roll: writes `<mapEndOffset>.snapshot`
   * straight to its name without forcing it, and returns its path for the caller to force
   * with the rolled segment, off the event loop (an fsync here stalled every connection for
   * as long as the busy disk took: 80-100 ms per roll at 600 MB/s). Undefined when it exists
   * already. Until forced, a power loss may leave it cut short or empty: its CRC then fails,
   * the next open deletes it and replays from the snapshot before it (loadLatestSnapshot).
   */
  takeSnapshotUnsynced(): string | undefined {
    const offset = this.mapEndOffset
    if (this.snapshots.at(-1) === offset) return undefined
    const file = path.join(this.dir, snapshotFileName(offset))
    this.io.writeFileSync(file, encodeProducerSnapshot(this.producers.values()))
    this.recordSnapshot(offset)
    return file
  }

  private recordSnapshot(offset: number): void {
    this.snapshots = this.snapshots.filter((o) => o !== offset)
    this.snapshots.push(offset)
    this.snapshots.sort((a, b) => a - b)
  }

  private deleteSnapshot(offset: number): void {
    this.io.rmSync(path.join(this.dir, snapshotFileName(offset)), { force: true })
    this.snapshots = this.snapshots.filter((o) => o !== offset)
  }

  /** Removes snapshot files below `offset` (the log start offset): their state is gone from the log. */
  deleteSnapshotsBefore(offset: number): void {
    for (const o of [...this.snapshots]) if (o < offset) this.deleteSnapshot(o)
  }

  /**
   * Kafka's removeStraySnapshots, at open: deletes every snapshot not at a segment's base offset
   * (those a roll takes), except the latest such stray one when it lies at or past the last
   * segment's base offset (the one a clean shutdown takes at the log end). Without it each
   * clean restart would leave one more snapshot file behind in every partition written since.
   */
  removeStraySnapshots(segmentBaseOffsets: ReadonlyArray<number>): void {
    const bases = new Set(segmentBaseOffsets)
    const strays = this.snapshots.filter((o) => !bases.has(o))
    const latest = strays.at(-1)
    for (const o of strays) if (o !== latest) this.deleteSnapshot(o)
    const lastBase = segmentBaseOffsets.reduce((a, b) => Math.max(a, b), -1)
    if (latest !== undefined && latest < lastBase) this.deleteSnapshot(latest)
  }

  /**
   * Loads the latest usable snapshot at or below `logEndOffset` (later ones, written before
   * a truncation, are deleted; corrupt ones are deleted and the previous one tried), dropping
   * producers already expired at `now`. Returns the offset replay must start from.
   */
  loadLatestSnapshot(logStartOffset: number, logEndOffset: number, now: number, warnings: Array<string>): number {
    this.producers.clear()
    this.ongoingTxns.clear()
    this.firstUnstable = -1
    for (const o of [...this.snapshots]) if (o > logEndOffset) this.deleteSnapshot(o)
    while (this.snapshots.length > 0) {
      const offset = this.snapshots.at(-1)!
      const file = path.join(this.dir, snapshotFileName(offset))
      try {
        const entries = decodeProducerSnapshot(this.io.readFileSync(file))
        for (const entry of entries) {
          if (this.isExpired(now, entry)) continue
          this.producers.set(entry.producerId, entry)
          if (entry.currentTxnFirstOffset >= 0) this.ongoingTxns.set(entry.currentTxnFirstOffset, entry.producerId)
        }
        this.recomputeFirstUnstable()
        this.mapEndOffset = offset
        return Math.max(offset, logStartOffset)
      } catch (e) {
        if (!(e instanceof CorruptSnapshotError) && (e as NodeJS.ErrnoException).code !== "ENOENT") throw e
        warnings.push(`${file}: ${(e as Error).message}; deleted, producer state is rebuilt from the log`)
        this.deleteSnapshot(offset)
      }
    }
    this.mapEndOffset = logStartOffset
    return logStartOffset
  }
}

const listSnapshotOffsets = (dir: string, io: FileIoShape, listed?: ReadonlyArray<string>): Array<number> => {
  let names: ReadonlyArray<string>
  try {
    names = listed ?? io.readdirSync(dir)
  } catch {
    return []
  }
  const out: Array<number> = []
  for (const name of names) {
    const o = snapshotOffsetOf(name)
    if (o !== null) out.push(o)
  }
  return out.sort((a, b) => a - b)
}

// ---------------------------------------------------------------------------------------
// Snapshot file format (ProducerSnapshot.json, version 1, not flexible)
// ---------------------------------------------------------------------------------------

const VERSION_OFFSET = 0
const CRC_OFFSET = 2
const PRODUCER_ENTRIES_OFFSET = 6
/** producerId int64, epoch int16, lastSequence int32, lastOffset int64, offsetDelta int32, timestamp int64, coordinatorEpoch int32, currentTxnFirstOffset int64. */
const ENTRY_SIZE = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8

export const encodeProducerSnapshot = (entries: Iterable<ProducerStateEntry>): Uint8Array => {
  const list = [...entries]
  const bytes = new Uint8Array(PRODUCER_ENTRIES_OFFSET + 4 + list.length * ENTRY_SIZE)
  const view = new DataView(bytes.buffer)
  view.setInt16(VERSION_OFFSET, PRODUCER_SNAPSHOT_VERSION)
  view.setInt32(PRODUCER_ENTRIES_OFFSET, list.length)
  let p = PRODUCER_ENTRIES_OFFSET + 4
  for (const e of list) {
    setInt64(view, p, e.producerId)
    view.setInt16(p + 8, e.producerEpoch)
    view.setInt32(p + 10, e.lastSeq)
    setInt64(view, p + 14, e.lastDataOffset)
    view.setInt32(p + 22, e.lastOffsetDelta)
    setInt64(view, p + 26, e.lastTimestamp)
    view.setInt32(p + 34, e.coordinatorEpoch)
    setInt64(view, p + 38, e.currentTxnFirstOffset)
    p += ENTRY_SIZE
  }
  view.setUint32(CRC_OFFSET, crc32c(bytes.subarray(PRODUCER_ENTRIES_OFFSET)) >>> 0)
  return bytes
}

export const decodeProducerSnapshot = (bytes: Uint8Array): Array<ProducerStateEntry> => {
  if (bytes.length < PRODUCER_ENTRIES_OFFSET + 4) throw new CorruptSnapshotError(`snapshot of ${bytes.length} bytes is too short`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const version = view.getInt16(VERSION_OFFSET)
  if (version !== PRODUCER_SNAPSHOT_VERSION) throw new CorruptSnapshotError(`Snapshot contained an unknown file version ${version}`)
  const count = view.getInt32(PRODUCER_ENTRIES_OFFSET)
  if (count < 0 || bytes.length !== PRODUCER_ENTRIES_OFFSET + 4 + count * ENTRY_SIZE) {
    throw new CorruptSnapshotError(`Snapshot failed schema validation: ${count} entries in ${bytes.length} bytes`)
  }
  const stored = view.getUint32(CRC_OFFSET)
  const computed = crc32c(bytes.subarray(PRODUCER_ENTRIES_OFFSET)) >>> 0
  if (stored !== computed) {
    throw new CorruptSnapshotError(`Snapshot is corrupt (CRC is no longer valid). Stored crc: ${stored}. Computed crc: ${computed}`)
  }
  const out: Array<ProducerStateEntry> = []
  let p = PRODUCER_ENTRIES_OFFSET + 4
  for (let i = 0; i < count; i++) {
    const lastOffset = getInt64(view, p + 14)
    const timestamp = getInt64(view, p + 26)
    const txnFirst = getInt64(view, p + 38)
    const batches: Array<BatchMetadata> = lastOffset >= 0
      ? [{ lastSeq: view.getInt32(p + 10), lastOffset, offsetDelta: view.getInt32(p + 22), timestamp }]
      : []
    out.push(new ProducerStateEntry(getInt64(view, p), view.getInt16(p + 8), view.getInt32(p + 34), timestamp, txnFirst >= 0 ? txnFirst : -1, batches))
    p += ENTRY_SIZE
  }
  return out
}
