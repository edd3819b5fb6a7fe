/**
 * One cleaning round over one log, as Kafka's Cleaner.doClean does it:
 *
 * 1. build the key → latest offset map over the dirty section [firstDirtyOffset,
 *    firstUncleanableOffset) — as far as the map's memory allows; the round then ends
 *    where the map ends (`endOffset`);
 * 2. group the segments below `endOffset` (clean and dirty, never the active one) into runs
 *    that fit one segment (segment.bytes, segment.index.bytes, a 32-bit relative offset
 *    span);
 * 3. rewrite each group into one `.cleaned` segment keeping, per key, only the record
 *    whose offset the map holds (records past the map's reach are all kept), dropping
 *    tombstones whose delete horizon has passed and stamping a horizon on batches that keep
 *    a tombstone for the first time; then swap it in (swap.ts).
 *
 * Batch rules (Kafka's): retained records keep their offsets; a batch left without records
 * disappears, except the last batch of each producer id in the round (its sequence and
 * epoch must survive for idempotence) and the last batch of the round, which stay as empty
 * batches. A group whose records are all gone becomes an empty segment, as in Kafka (reads
 * pass over it to the next segment).
 * Transactions (Kafka's CleanedTransactionMetadata, transaction-metadata.ts): batches of
 * aborted transactions are removed and their keys stay out of the map, so an aborted record
 * never hides a committed value; committed transactional records are compacted like any
 * other. A transaction marker whose transaction has no batch left is stamped with a delete
 * horizon, and removed by a round after it; the cleaned segment's txnindex keeps only the
 * aborted transactions that still have batches in it. Nothing at or past the last stable
 * offset is cleaned.
 *
 * The round is a generator: it yields the number of bytes it read or wrote since the last
 * yield, at batch boundaries, so the Effect driver can throttle and let other fibers
 * (produce, fetch) run. All file work in between is synchronous, like the rest of the log.
 */
import type { PartitionLog } from "../partition-log.ts"
import {
  ATTRIBUTES_OFFSET,
  type BatchHeader,
  CONTROL_FLAG_MASK,
  getInt64,
  lastOffsetAt,
  PRODUCER_ID_OFFSET,
  readBatchHeader,
  readRecords,
  TRANSACTIONAL_FLAG_MASK,
  viewOf
} from "../record-batch.ts"
import { LogSegment } from "../segment.ts"
import { OFFSET_INDEX_ENTRY_SIZE } from "../offset-index.ts"
import { TIME_INDEX_ENTRY_SIZE } from "../time-index.ts"
import { controlRecordType } from "../control-records.ts"
import { ABORTED_TXN_ENTRY_SIZE, type AbortedTxn, encodeAbortedTxn } from "../transaction-index.ts"
import { type FilterOutcome, filterBatchSteps, Slicer, uncompressedView } from "./batch-filter.ts"
import { CleanedTransactionMetadata } from "./transaction-metadata.ts"
import type { OffsetMap } from "./offset-map.ts"
import { CleanedSegmentWriter, commitSwap, removeDeleted, type SwapHook } from "./swap.ts"

/** Bytes read between two yields of a round. */
export const DEFAULT_CHUNK_BYTES = 256 * 1024

const INT32_MAX = 0x7fffffff

/**
 * The log changed under the cleaner (retention, DeleteRecords or a partition deletion
 * removed segments it was reading): the round is dropped and tried again later, as
 * Kafka's LogCleaningAbortedException.
 */
export class LogCleaningAbortedError extends Error {
  override readonly name = "LogCleaningAbortedError"
}

/** A segment the cleaner reads is not a readable log: the log is left uncleanable. */
export class UncleanableSegmentError extends Error {
  override readonly name = "UncleanableSegmentError"
}

/** Whether a failure of a round on `log` means "try again later" rather than "give up on it". */
export const isAbort = (log: PartitionLog, group: ReadonlyArray<LogSegment> | null, e: unknown): boolean =>
  e instanceof LogCleaningAbortedError || log.isClosed || (group !== null && !stillInLog(log, group))

// ---------------------------------------------------------------------------------------
// Which part of a log is dirty and cleanable (LogCleanerManager)
// ---------------------------------------------------------------------------------------

/** Segments overlapping [from, to), as Kafka's logSegments(from, to). */
export const segmentsOverlapping = (log: PartitionLog, from: number, to: number): Array<LogSegment> => {
  const all = log.segmentList()
  const out: Array<LogSegment> = []
  for (let i = 0; i < all.length; i++) {
    const s = all[i]!
    const next = i + 1 < all.length ? all[i + 1]!.baseOffset : Number.POSITIVE_INFINITY
    if (s.baseOffset < to && next > from) out.push(s)
  }
  return out
}

export interface OffsetsToClean {
  readonly firstDirtyOffset: number
  readonly firstUncleanableOffset: number
  /** The checkpointed offset was outside the log and was reset (write the checkpoint). */
  readonly forceUpdateCheckpoint: boolean
}

/** Kafka's LogCleanerManager.cleanableOffsets. */
export const cleanableOffsets = (log: PartitionLog, checkpointed: number | undefined, now: number): OffsetsToClean => {
  const start = log.logStartOffset
  let firstDirty = checkpointed ?? start
  let force = false
  if (firstDirty < start || firstDirty > log.logEndOffset) {
    firstDirty = start
    force = true
  }
  const segments = log.segmentList()
  const active = segments[segments.length - 1]!
  // Never past the active segment nor the last stable offset (an open transaction may still
  // abort), nor into segments younger than min.compaction.lag.ms.
  let uncleanable = Math.min(active.baseOffset, log.lastStableOffset)
  const lag = Math.max(log.config.minCompactionLagMs, 0)
  if (lag > 0) {
    for (let i = 0; i < segments.length - 1; i++) {
      const s = segments[i]!
      const next = segments[i + 1]!.baseOffset
      if (next <= firstDirty) continue
      if (s.largestTimestamp() > now - lag) {
        uncleanable = Math.min(uncleanable, s.baseOffset)
        break
      }
    }
  }
  return { firstDirtyOffset: firstDirty, firstUncleanableOffset: Math.max(firstDirty, uncleanable), forceUpdateCheckpoint: force }
}

/** Kafka's maxCompactionDelay: how far past max.compaction.lag.ms the oldest dirty segment is. */
export const maxCompactionDelay = (log: PartitionLog, firstDirtyOffset: number, now: number): number => {
  const segments = log.segmentList()
  let earliest = Number.POSITIVE_INFINITY
  for (let i = 0; i < segments.length - 1; i++) {
    const s = segments[i]!
    if (segments[i + 1]!.baseOffset <= firstDirtyOffset) continue
    if (s.firstBatchTimestamp > 0 && s.firstBatchTimestamp < earliest) earliest = s.firstBatchTimestamp
  }
  const cleanUntil = now - Math.max(log.config.maxCompactionLagMs, 0)
  return earliest < cleanUntil ? cleanUntil - earliest : 0
}

/** Kafka's LogToClean: the sizes behind the dirty ratio. */
export interface LogToClean {
  readonly log: PartitionLog
  readonly firstDirtyOffset: number
  readonly firstUncleanableOffset: number
  readonly cleanBytes: number
  readonly cleanableBytes: number
  readonly totalBytes: number
  readonly cleanableRatio: number
  readonly needCompactionNow: boolean
  readonly forceUpdateCheckpoint: boolean
}

export const logToClean = (log: PartitionLog, checkpointed: number | undefined, now: number): LogToClean => {
  const offsets = cleanableOffsets(log, checkpointed, now)
  const segments = log.segmentList()
  // The first uncleanable offset rounded down to a segment boundary (calculateCleanableBytes).
  let uncleanableSegmentBase = segments[segments.length - 1]!.baseOffset
  for (let i = 0; i < segments.length - 1; i++) {
    if (segments[i + 1]!.baseOffset > offsets.firstUncleanableOffset) {
      uncleanableSegmentBase = segments[i]!.baseOffset
      break
    }
  }
  let cleanBytes = 0
  for (const s of segmentsOverlapping(log, -1, offsets.firstDirtyOffset)) cleanBytes += s.size
  let cleanableBytes = 0
  for (const s of segmentsOverlapping(log, Math.min(offsets.firstDirtyOffset, uncleanableSegmentBase), uncleanableSegmentBase)) {
    cleanableBytes += s.size
  }
  const totalBytes = cleanBytes + cleanableBytes
  return {
    log,
    firstDirtyOffset: offsets.firstDirtyOffset,
    firstUncleanableOffset: uncleanableSegmentBase,
    cleanBytes,
    cleanableBytes,
    totalBytes,
    cleanableRatio: totalBytes === 0 ? 0 : cleanableBytes / totalBytes,
    needCompactionNow: maxCompactionDelay(log, offsets.firstDirtyOffset, now) > 0,
    forceUpdateCheckpoint: offsets.forceUpdateCheckpoint
  }
}

/**
 * Kafka's grabFilthiestCompactedLog, given the candidates: logs whose dirty ratio exceeds
 * their min.cleanable.dirty.ratio, or that max.compaction.lag.ms forces, the dirtiest first.
 */
export const filthiest = (candidates: ReadonlyArray<LogToClean>): LogToClean | null => {
  let best: LogToClean | null = null
  for (const c of candidates) {
    if (c.totalBytes <= 0) continue
    const cleanable = (c.needCompactionNow && c.cleanableBytes > 0) || c.cleanableRatio > c.log.config.minCleanableDirtyRatio
    if (!cleanable) continue
    if (best === null || c.cleanableRatio > best.cleanableRatio) best = c
  }
  return best
}

// ---------------------------------------------------------------------------------------
// The round
// ---------------------------------------------------------------------------------------

export interface CleanRoundOptions {
  readonly now: number
  readonly map: OffsetMap
  readonly firstDirtyOffset: number
  readonly firstUncleanableOffset: number
  readonly chunkBytes?: number
  /** Crash injection for tests: called after each swap step. */
  readonly hook?: SwapHook
}

export interface CleanStats {
  /** The next dirty offset: where the following round starts (the checkpoint). */
  readonly endOffset: number
  readonly bytesRead: number
  readonly bytesWritten: number
  readonly recordsRead: number
  readonly recordsRetained: number
  readonly segmentsCleaned: number
  readonly groups: number
  readonly mapEntries: number
}

const isControlBatch = (view: DataView, at: number): boolean => (view.getInt16(at + ATTRIBUTES_OFFSET) & CONTROL_FLAG_MASK) !== 0
const isTransactionalBatch = (view: DataView, at: number): boolean => (view.getInt16(at + ATTRIBUTES_OFFSET) & TRANSACTIONAL_FLAG_MASK) !== 0

/** The control record type of a control batch (its first record's key), -1 if it has none. */
const controlTypeOf = (batch: Uint8Array, header: BatchHeader): number => {
  for (const record of readRecords(uncompressedView(batch, header))) return controlRecordType(record.key)
  return -1
}

/**
 * Whole batches of `segment` from `position`, copied out (the walk's buffer is shared),
 * up to `chunk` bytes (at least one batch); and the position after them.
 */
const readBatches = (segment: LogSegment, position: number, chunk: number): { batches: Array<Uint8Array>; next: number } => {
  const batches: Array<Uint8Array> = []
  let done = 0
  const outcome = segment.walk(position, (buf, _view, at, _filePos, size) => {
    if (done >= chunk) return true
    const copy = new Uint8Array(size)
    copy.set(buf.subarray(at, at + size))
    batches.push(copy)
    done += size
    return undefined
  }, true)
  if (outcome.status === "end") return { batches, next: segment.size }
  if (outcome.status === "stopped") return { batches, next: outcome.position }
  throw new UncleanableSegmentError(`${segment.logPath}: ${outcome.detail}`)
}

/**
 * The batches of `segment` from `position`, one at a time, read `chunk` bytes at a time;
 * yields (as a number: bytes read) between reads so the driver can throttle and yield.
 */
function* batchesOf(segment: LogSegment, position: number, chunk: number): Generator<number | Uint8Array, void> {
  let pos = position
  while (pos < segment.size) {
    const { batches, next } = readBatches(segment, pos, chunk)
    pos = next
    let read = 0
    for (const batch of batches) {
      read += batch.length
      yield batch
    }
    yield read
  }
}

/** Step 1: the offset map over [start, end). Returns the bytes and records read. */
function* buildOffsetMap(log: PartitionLog, start: number, end: number, map: OffsetMap, chunk: number): Generator<number, { bytes: number; records: number }> {
  map.clear()
  const dirty = segmentsOverlapping(log, start, end)
  const transactions = new CleanedTransactionMetadata(log.collectAbortedTransactions(start, end))
  const slicer = new Slicer()
  let bytes = 0
  let records = 0
  let full = false
  for (let i = 0; i < dirty.length && !full; i++) {
    const segment = dirty[i]!
    const nextStart = i + 1 < dirty.length ? dirty[i + 1]!.baseOffset : end
    let past = false
    for (const item of batchesOf(segment, segment.offsetIndex.lookup(start), chunk)) {
      if (typeof item === "number") {
        bytes += item
        yield item
        if (full || past) break
        continue
      }
      if (full || past) continue
      const view = viewOf(item)
      const last = lastOffsetAt(view, 0)
      const pid = getInt64(view, PRODUCER_ID_OFFSET)
      let aborted = false
      if (last >= start) {
        if (isControlBatch(view, 0)) transactions.onControlBatchRead(pid, last, controlTypeOf(item, readBatchHeader(item, 0)))
        else aborted = transactions.onBatchRead(pid, last, isTransactionalBatch(view, 0))
      }
      if (last >= start && !aborted && !isControlBatch(view, 0)) {
        const header = readBatchHeader(item, 0)
        if (header.baseOffset >= end) {
          past = true
          continue
        }
        let n = 0
        for (const record of readRecords(uncompressedView(item, header))) {
          records++
          if ((++n & 63) === 0 && slicer.due()) yield 0
          if (record.key === null || record.offset < start || record.offset >= end) continue
          if (!map.canPut(record.key)) {
            full = true
            break
          }
          map.put(record.key, record.offset)
        }
        if (full) continue
      }
      if (last >= start) map.updateLatestOffset(Math.min(last, end - 1))
      if (slicer.due()) yield 0
    }
    // Offsets between batches (earlier compaction) up to the next segment are covered too.
    if (!full) map.updateLatestOffset(nextStart - 1)
  }
  return { bytes, records }
}

/** Kafka's groupSegmentsBySize. */
export const groupSegmentsBySize = (
  segments: ReadonlyArray<LogSegment>,
  maxSize: number,
  maxIndexSize: number,
  firstUncleanableOffset: number
): Array<Array<LogSegment>> => {
  const groups: Array<Array<LogSegment>> = []
  let i = 0
  while (i < segments.length) {
    const group = [segments[i]!]
    let logSize = segments[i]!.size
    let indexSize = segments[i]!.offsetIndexEntries * OFFSET_INDEX_ENTRY_SIZE
    let timeIndexSize = segments[i]!.timeIndexEntries * TIME_INDEX_ENTRY_SIZE
    i++
    while (i < segments.length) {
      const s = segments[i]!
      const lastOffsetOfS = i + 1 < segments.length ? segments[i + 1]!.baseOffset - 1 : firstUncleanableOffset - 1
      if (
        logSize + s.size > maxSize ||
        indexSize + s.offsetIndexEntries * OFFSET_INDEX_ENTRY_SIZE > maxIndexSize ||
        timeIndexSize + s.timeIndexEntries * TIME_INDEX_ENTRY_SIZE > maxIndexSize ||
        (s.size !== 0 && lastOffsetOfS - group[0]!.baseOffset > INT32_MAX)
      ) break
      group.push(s)
      logSize += s.size
      indexSize += s.offsetIndexEntries * OFFSET_INDEX_ENTRY_SIZE
      timeIndexSize += s.timeIndexEntries * TIME_INDEX_ENTRY_SIZE
      i++
    }
    groups.push(group)
  }
  return groups
}

const encodeAbortedTxns = (txns: ReadonlyArray<AbortedTxn>): Uint8Array => {
  const out = new Uint8Array(txns.length * ABORTED_TXN_ENTRY_SIZE)
  txns.forEach((t, i) => encodeAbortedTxn(t, out, i * ABORTED_TXN_ENTRY_SIZE))
  return out
}

/** Whether `group` is still a run of consecutive non-active segments of `log`. */
const stillInLog = (log: PartitionLog, group: ReadonlyArray<LogSegment>): boolean => {
  const all = log.segmentList()
  const at = all.indexOf(group[0]!)
  if (at < 0 || at + group.length >= all.length) return false
  for (let i = 1; i < group.length; i++) if (all[at + i] !== group[i]) return false
  return true
}

/**
 * Per active producer id (one the producer state still tracks) among `segments`: the last
 * offset of its last data batch, and of its last batch of any kind. Kafka keeps the batch
 * with an active producer's last data (its sequence and epoch), if only empty; and a marker
 * that is its last batch, for its epoch. An expired producer's batches go like any other.
 */
interface ProducerLastBatches {
  readonly data: Map<number, number>
  readonly any: Map<number, number>
}

const lastBatchOfProducers = (segments: ReadonlyArray<LogSegment>, active: ReadonlySet<number>): ProducerLastBatches => {
  const data = new Map<number, number>()
  const any = new Map<number, number>()
  // The walk reads every batch of the segments being cleaned in one step of the round (97 ms
  // for 256 MiB in bench/cleaner-stall-probe.ts): not when no producer is active.
  if (active.size === 0) return { data, any }
  for (const segment of segments) {
    segment.walk(0, (_buf, view, at) => {
      const pid = getInt64(view, at + PRODUCER_ID_OFFSET)
      if (pid >= 0 && active.has(pid)) {
        const last = lastOffsetAt(view, at)
        any.set(pid, last)
        if (!isControlBatch(view, at)) data.set(pid, last)
      }
      return undefined
    })
  }
  return { data, any }
}

/**
 * What a cleaning round yields between steps: the bytes it processed since the last one (for
 * the throttle), or a force on the thread pool to wait for before it goes on. A round run
 * without waiting (cleanRoundSync) is still durable: the cleaned segment's `finish` then
 * forces the file itself.
 */
export type CleanStep = number | Promise<void>

/** Cleans one group into one segment and swaps it in; yields bytes processed and the cleaned log's force. */
function* cleanGroup(
  log: PartitionLog,
  group: ReadonlyArray<LogSegment>,
  options: CleanRoundOptions,
  endOffset: number,
  producerLast: ProducerLastBatches,
  stats: { bytesRead: number; bytesWritten: number; recordsRead: number; recordsRetained: number }
): Generator<CleanStep, void> {
  const { map, now } = options
  const chunk = options.chunkBytes ?? DEFAULT_CHUNK_BYTES
  const segmentConfig = { indexIntervalBytes: log.config.indexIntervalBytes, segmentIndexBytes: log.config.segmentIndexBytes }
  const base = group[0]!.baseOffset
  const writer = new CleanedSegmentWriter(log.dir, base, segmentConfig, log.io)
  const horizon = now + log.config.deleteRetentionMs
  const latest = map.latestOffset
  const slicer = new Slicer()
  const decision = {
    retain: (offset: number, key: Uint8Array | null, tombstone: boolean, header: BatchHeader) => {
      if (offset > latest) return true
      if (key === null) return false
      if (offset < map.get(key)) return false
      return !tombstone || !header.hasDeleteHorizonMs || now < header.baseTimestamp
    }
  }
  const discardAll = { retain: () => false }
  const retainAll = { retain: () => true }
  // Aborted transactions overlapping the group, up to the next segment (Kafka collects them per segment).
  const all = log.segmentList()
  const after = all[all.indexOf(group[group.length - 1]!) + 1]
  const transactions = new CleanedTransactionMetadata(log.collectAbortedTransactions(base, after?.baseOffset ?? log.logEndOffset))
  let committed = false
  try {
    for (const segment of group) {
      for (const item of batchesOf(segment, 0, chunk)) {
        if (typeof item === "number") {
          yield item
          continue
        }
        const view = viewOf(item)
        stats.bytesRead += item.length
        const last = lastOffsetAt(view, 0)
        const pid = getInt64(view, PRODUCER_ID_OFFSET)
        let result: FilterOutcome
        if (isControlBatch(view, 0)) {
          // Kafka's checkBatchRetention for markers: removable once its transaction has no batch
          // left; first stamped with a delete horizon, dropped by a round after that horizon.
          const header = readBatchHeader(item, 0)
          const removable = transactions.onControlBatchRead(pid, last, controlTypeOf(item, header))
          const discard = removable && header.hasDeleteHorizonMs && header.baseTimestamp <= now
          const keepEmpty = (pid >= 0 && producerLast.any.get(pid) === last) || last + 1 === endOffset
          result = yield* filterBatchSteps(item, discard ? discardAll : retainAll, keepEmpty ? "retain-empty" : "delete", horizon, slicer, removable)
        } else {
          const aborted = transactions.onBatchRead(pid, last, isTransactionalBatch(view, 0))
          const keepEmpty = (pid >= 0 && producerLast.data.get(pid) === last) || last + 1 === endOffset
          result = yield* filterBatchSteps(item, aborted ? discardAll : decision, keepEmpty ? "retain-empty" : "delete", horizon, slicer)
        }
        stats.recordsRead += result.recordsRead
        stats.recordsRetained += result.recordsRetained
        const out = result.bytes
        if (out !== null) {
          writer.append(out)
          stats.bytesWritten += out.length
        }
        if (slicer.due()) yield 0
      }
    }
    // The round waits here for the cleaned log's fsync on the thread pool; what follows, from
    // the check that the group is still in the log to the swap, runs in one go.
    yield writer.forceLogLater()
    if (log.isClosed || !stillInLog(log, group)) {
      throw new LogCleaningAbortedError(`${log.dir}: segments changed while being cleaned`)
    }
    const lastModified = log.io.statSync(group[group.length - 1]!.logPath).mtimeMs
    writer.finish(transactions.keptAborted.length === 0 ? [] : [encodeAbortedTxns(transactions.keptAborted)], lastModified)
    options.hook?.("cleaned")
    committed = true
    commitSwap(log.dir, base, group, options.hook, log.io)
    const cleaned = LogSegment.open(log.dir, base, segmentConfig, now, log.io)
    if (cleaned.indexProblem !== null) cleaned.recover()
    log.replaceSegments(group, cleaned)
    removeDeleted(log.dir, group, options.hook, log.io)
  } catch (e) {
    // A segment deleted meanwhile (its descriptor closed) fails reads: that is an abort.
    if (!committed && !(e instanceof LogCleaningAbortedError) && isAbort(log, group, e)) {
      throw new LogCleaningAbortedError(`${log.dir}: segments changed while being cleaned (${(e as Error).message})`)
    }
    throw e
  } finally {
    if (!committed) writer.abort()
  }
}

/** One round over `log` (Kafka's doClean). Returns the statistics and the next dirty offset. */
export function* cleanRound(log: PartitionLog, options: CleanRoundOptions): Generator<CleanStep, CleanStats> {
  const chunk = options.chunkBytes ?? DEFAULT_CHUNK_BYTES
  const built = yield* buildOffsetMap(log, options.firstDirtyOffset, options.firstUncleanableOffset, options.map, chunk)
  const endOffset = options.map.latestOffset + 1
  const stats = { bytesRead: built.bytes, bytesWritten: 0, recordsRead: built.records, recordsRetained: 0 }
  if (endOffset <= options.firstDirtyOffset) {
    return { endOffset: options.firstDirtyOffset, ...stats, segmentsCleaned: 0, groups: 0, mapEntries: options.map.size }
  }
  const segments = segmentsOverlapping(log, -1, endOffset).filter((s) => s !== log.activeSegment)
  const groups = groupSegmentsBySize(segments, log.config.segmentBytes, log.config.segmentIndexBytes, options.firstUncleanableOffset)
  const producerLast = lastBatchOfProducers(segments, new Set(log.activeProducers().map((p) => p.producerId)))
  for (const group of groups) yield* cleanGroup(log, group, options, endOffset, producerLast, stats)
  return { endOffset, ...stats, segmentsCleaned: segments.length, groups: groups.length, mapEntries: options.map.size }
}

/** Runs a round to completion without yielding control (tests, tools). */
export const cleanRoundSync = (log: PartitionLog, options: CleanRoundOptions): CleanStats => {
  const round = cleanRound(log, options)
  for (;;) {
    const step = round.next()
    if (step.done === true) return step.value
  }
}
