/**
 * The log of one partition: an ordered list of segments in `<logDir>/<topic>-<partition>`,
 * the last of which (the active segment) takes appends.
 *
 * Everything is synchronous node:fs work on purpose: an append or read runs to completion
 * without yielding, so callers on the single JavaScript thread never observe a half-done
 * append, and the Effect layer above wraps one call in one Effect.
 *
 * Time is always injected (`now`), never read from the system clock, so rolling,
 * flushing and retention are deterministic under test.
 */
import * as crypto from "node:crypto"
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import { isIoError, KafkaStorageError, LogDirFailureChannel } from "./log-dir-failure.ts"
import * as path from "node:path"
import {
  type Deferred,
  fsyncDirectory,
  LEADER_EPOCH_CHECKPOINT_FILE,
  LeaderEpochCache,
  readPartitionMetadata,
  writePartitionMetadata,
  syncFileIfExists,
  PARTITION_METADATA_FILE
} from "./checkpoint.ts"
import { SyncBatch } from "./sync-batch.ts"
import {
  ATTRIBUTES_OFFSET,
  baseOffsetAt,
  baseTimestampAt,
  COMPRESSION_CODEC_MASK,
  COMPRESSION_NONE,
  lastOffsetAt,
  maxTimestampAt,
  PARTITION_LEADER_EPOCH_OFFSET,
  BASE_SEQUENCE_OFFSET,
  CONTROL_FLAG_MASK,
  getInt64,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  setMaxTimestamp,
  TRANSACTIONAL_FLAG_MASK,
  TIMESTAMP_TYPE_MASK,
  type BatchValidationFailure,
  type TimestampType,
  type ValidatedBatches,
  validateBatches,
  viewOf,
  visitRecordTimestamps,
  assignOffsets
} from "./record-batch.ts"
import { readTxnMarker } from "./control-records.ts"
import {
  type ActiveProducerState,
  type CompletedTxn,
  DEFAULT_PRODUCER_ID_EXPIRATION_MS,
  firstOffsetOf,
  incrementSequence,
  type ProducerAppendInfo,
  type ProducerAppendOrigin,
  ProducerStateManager
} from "./producer-state.ts"
import type { AbortedTxn } from "./transaction-index.ts"
import { holdsSwapLeftovers, recoverSwaps } from "./cleaner/swap.ts"
import { removeInBackground } from "./background-removal.ts"
import { IndexResidency } from "./index-residency.ts"
import {
  INDEX_FILE_SUFFIX,
  LOG_FILE_SUFFIX,
  LogSegment,
  offsetFromFilename,
  TIME_INDEX_FILE_SUFFIX,
  TXN_INDEX_FILE_SUFFIX
} from "./segment.ts"

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

export interface LogConfig {
  /** segment.bytes */
  readonly segmentBytes: number
  /** segment.index.bytes */
  readonly segmentIndexBytes: number
  /** index.interval.bytes */
  readonly indexIntervalBytes: number
  /** segment.ms */
  readonly rollMs: number
  /** retention.ms; -1 keeps data forever */
  readonly retentionMs: number
  /** retention.bytes; -1 means no size limit */
  readonly retentionBytes: number
  /** flush.messages */
  readonly flushIntervalMessages: number
  /** flush.ms */
  readonly flushIntervalMs: number
  /** message.timestamp.type */
  readonly messageTimestampType: TimestampType
  /** cleanup.policy: "delete" (retention), "compact" (the log cleaner), or both. */
  readonly cleanupPolicy: ReadonlyArray<CleanupPolicy>
  /** delete.retention.ms: how long the cleaner keeps tombstones once it has seen them. */
  readonly deleteRetentionMs: number
  /** min.compaction.lag.ms */
  readonly minCompactionLagMs: number
  /** max.compaction.lag.ms */
  readonly maxCompactionLagMs: number
  /** min.cleanable.dirty.ratio */
  readonly minCleanableDirtyRatio: number
}

export type CleanupPolicy = "compact" | "delete"

/** Kafka's defaults for the topic-level log configs. */
export const defaultLogConfig: LogConfig = {
  segmentBytes: 1024 * 1024 * 1024,
  segmentIndexBytes: 10 * 1024 * 1024,
  indexIntervalBytes: 4096,
  rollMs: 7 * 24 * 60 * 60 * 1000,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  flushIntervalMessages: Number.MAX_SAFE_INTEGER,
  flushIntervalMs: Number.MAX_SAFE_INTEGER,
  messageTimestampType: "CreateTime",
  cleanupPolicy: ["delete"],
  deleteRetentionMs: 24 * 60 * 60 * 1000,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
  minCleanableDirtyRatio: 0.5
}

// ---------------------------------------------------------------------------------------
// Plain errors (the LogStore maps them to tagged errors)
// ---------------------------------------------------------------------------------------

export class OffsetOutOfRangeError extends Error {
  override readonly name = "OffsetOutOfRangeError"
  readonly offset: number
  readonly logStartOffset: number
  readonly logEndOffset: number
  constructor(offset: number, logStartOffset: number, logEndOffset: number, what = "offset") {
    super(`${what} ${offset} is outside the log range [${logStartOffset}, ${logEndOffset}]`)
    this.offset = offset
    this.logStartOffset = logStartOffset
    this.logEndOffset = logEndOffset
  }
}

export class InvalidBatchError extends Error {
  override readonly name = "InvalidBatchError"
  readonly failure: BatchValidationFailure
  constructor(failure: BatchValidationFailure) {
    super(`${failure.code}: ${failure.message}`)
    this.failure = failure
  }
}

export class RecordBatchTooLargeError extends Error {
  override readonly name = "RecordBatchTooLargeError"
  readonly size: number
  constructor(size: number, segmentBytes: number) {
    super(`append of ${size} bytes exceeds segment.bytes ${segmentBytes}`)
    this.size = size
  }
}

export class InconsistentTopicIdError extends Error {
  override readonly name = "InconsistentTopicIdError"
}

// ---------------------------------------------------------------------------------------
// Directory names
// ---------------------------------------------------------------------------------------

export const partitionDirName = (topic: string, partition: number): string => `${topic}-${partition}`

/** `<topic>-<partition>`, split at the last dash (topic names may contain dashes). */
export const parsePartitionDirName = (name: string): { topic: string; partition: number } | null => {
  const i = name.lastIndexOf("-")
  if (i <= 0) return null
  const partitionText = name.slice(i + 1)
  if (!/^\d+$/.test(partitionText)) return null
  const partition = Number(partitionText)
  if (!Number.isSafeInteger(partition) || partition > 0x7fffffff) return null
  return { topic: name.slice(0, i), partition }
}

// ---------------------------------------------------------------------------------------
// PartitionLog
// ---------------------------------------------------------------------------------------

export interface OpenOptions {
  readonly now: number
  /** Written to partition.metadata when the file is missing; checked against it otherwise. */
  readonly topicId?: string
  /** Whether the log dir had a clean-shutdown marker: no batch validation then. */
  readonly cleanShutdown?: boolean
  /**
   * Offset up to which the log is known to be on disk (recovery-point-offset-checkpoint).
   * Segments from the one containing it onwards are validated after an unclean shutdown;
   * unknown (undefined) means all of them, as in Kafka.
   */
  readonly recoveryPoint?: number
  /** From log-start-offset-checkpoint. */
  readonly logStartOffset?: number
  /** producer.id.expiration.ms (default one day). */
  readonly producerIdExpirationMs?: number
  /** The file system the log lives on (default: the real disk). */
  readonly io?: FileIoShape
  /** Where an I/O error reports the log dir as failed (the LogStore's channel). */
  readonly failures?: LogDirFailureChannel
  /**
   * Bounds the memory of sealed segments' index entries (the LogStore's, shared by its logs);
   * default: the log's own, with the default budget.
   */
  readonly indexResidency?: IndexResidency
}

export interface AppendOptions {
  readonly now: number
  /** The result of validateBatches on these very bytes; validated here when absent. */
  readonly validated?: ValidatedBatches
  /** Leader epoch stamped on every batch (partitionLeaderEpoch); kept as sent when absent. */
  readonly leaderEpoch?: number
  /**
   * Who writes, as Kafka's AppendOrigin: a client's Produce is checked against producer state
   * (sequences, epochs) and may not write control batches; a coordinator writes transaction
   * markers and its own records. Default "client".
   */
  readonly origin?: AppendOrigin
}

export type AppendOrigin = "client" | "coordinator"

export interface AppendResult {
  /**
   * Offset given to the first record of the append; for a retried idempotent batch (a
   * duplicate of one of its producer's last five), the offset it was first written at.
   */
  readonly baseOffset: number
  readonly lastOffset: number
  /** The time written as LogAppendTime, or -1 for CreateTime topics (ProduceResponse's log_append_time_ms). */
  readonly logAppendTime: number
  readonly logStartOffset: number
  /** Records written: 0 for a duplicate. */
  readonly recordCount: number
  /** Whether this was a retry of a batch already in the log (nothing was written). */
  readonly duplicate?: boolean
}

export interface FetchData {
  /**
   * Whole batches starting with the one containing the fetch offset; the last batch may be
   * cut short at maxBytes, as Kafka does (clients drop a partial trailing batch). Empty
   * when there is nothing to return. Batches come from a single segment.
   */
  readonly records: Uint8Array
  readonly highWatermark: number
  readonly logStartOffset: number
  readonly logEndOffset: number
  readonly lastStableOffset: number
}

export interface TimestampAndOffset {
  readonly timestamp: number
  readonly offset: number
}

const EMPTY = new Uint8Array(0)

/**
 * How long a segment rolled under the default flush policy waits before it is forced to
 * disk: the kernel's own writeback (dirty_expire_centisecs, 30 s by default) has written its
 * pages by then, so the fsync that moves the recovery point costs next to nothing.
 */
export const ROLLED_SEGMENT_FLUSH_DELAY_MS = 30_000

export class PartitionLog {
  readonly dir: string
  readonly topic: string
  readonly partition: number
  config: LogConfig
  readonly topicId: string | null
  readonly leaderEpochCache: LeaderEpochCache
  /** Warnings produced while opening (recovery truncations, rebuilt indexes). */
  readonly openWarnings: ReadonlyArray<string>
  /** Sequences, epochs and open transactions of the producers writing here. */
  readonly producerState: ProducerStateManager
  /** The file system this log's files live on; its segments and indexes share it. */
  readonly io: FileIoShape
  /** The log dir holding this partition's directory. */
  readonly logDir: string
  private readonly failures: LogDirFailureChannel | undefined
  /** Where sealed segments' index entries are counted, and dropped from memory beyond its budget. */
  private readonly indexResidency: IndexResidency
  private offline = false
  /** A segment file was created since the directory was last fsynced (its entry is not yet durable). */
  private directoryDirty = true
  /** The directory itself was created and its entry in the log dir not yet fsynced. */
  private parentDirectoryDirty = false
  /** partition.metadata was written (at creation) and not yet fsynced. */
  private metadataFileUnsynced = false
  private segments: Array<LogSegment>
  private _logStartOffset: number
  private _highWatermark: number
  private _recoveryPoint: number
  private unflushedMessages = 0
  /** Segments rolled under the default flush policy and not yet forced to disk, oldest first. */
  /** Rolled segments not yet forced, with the producer snapshot written unforced at their roll. */
  private readonly rolledUnflushed: Array<{ readonly segment: LogSegment; readonly flushAt: number; readonly snapshot: string | undefined }> = []
  /** A force of rolled segments running on the thread pool (flushRolledLater), if any. */
  private rolledFlushing: Promise<void> | null = null
  /** A flush.ms flush of the active segment running on the thread pool (flushActiveLater), if any. */
  private activeFlushing: Promise<void> | null = null
  /** Synchronous flushes so far: a thread-pool flush completing after one leaves the message count to it. */
  private syncFlushes = 0
  private lastFlushTime: number
  private closed = false
  /** Bumped on every append or truncation; lets waiters detect change without a listener. */
  version = 0
  private readonly listeners = new Set<(appendedBytes: number) => void>()

  private constructor(
    dir: string,
    topic: string,
    partition: number,
    config: LogConfig,
    topicId: string | null,
    segments: Array<LogSegment>,
    leaderEpochCache: LeaderEpochCache,
    logStartOffset: number,
    now: number,
    warnings: ReadonlyArray<string>,
    producerState: ProducerStateManager,
    io: FileIoShape,
    failures: LogDirFailureChannel | undefined,
    indexResidency: IndexResidency
  ) {
    this.indexResidency = indexResidency
    this.dir = dir
    this.io = io
    this.logDir = path.dirname(dir)
    this.failures = failures
    this.topic = topic
    this.partition = partition
    this.config = config
    this.topicId = topicId
    this.segments = segments
    this.leaderEpochCache = leaderEpochCache
    this._logStartOffset = logStartOffset
    this._highWatermark = this.logEndOffset
    this._recoveryPoint = this.logEndOffset
    this.lastFlushTime = now
    this.openWarnings = warnings
    this.producerState = producerState
  }

  /** Creates the directory (if needed) and opens the log; `topicId` goes to partition.metadata. */
  static create(
    logDir: string,
    topic: string,
    partition: number,
    topicId: string,
    config: LogConfig,
    now: number,
    producerIdExpirationMs?: number,
    io: FileIoShape = nodeFileIo,
    failures?: LogDirFailureChannel,
    indexResidency?: IndexResidency
  ): PartitionLog {
    const dir = path.join(logDir, partitionDirName(topic, partition))
    return PartitionLog.open(dir, config, {
      now,
      topicId,
      cleanShutdown: true,
      io,
      ...(failures !== undefined ? { failures } : {}),
      ...(producerIdExpirationMs !== undefined ? { producerIdExpirationMs } : {}),
      ...(indexResidency !== undefined ? { indexResidency } : {})
    })
  }

  /**
   * Opens `<logDir>/<topic>-<partition>`, recovering after an unclean shutdown: segments
   * from the recovery point on are validated batch by batch and cut at the first torn or
   * corrupt batch (later segments are then dropped, as Kafka does); indexes that are
   * missing or disagree with their log are rebuilt.
   */
  static open(dir: string, config: LogConfig, options: OpenOptions): PartitionLog {
    const parsed = parsePartitionDirName(path.basename(dir))
    if (parsed === null) throw new Error(`${dir} is not a <topic>-<partition> directory`)
    const io = options.io ?? nodeFileIo
    // A new directory's entry in the log dir is made durable with the log's first flush, not
    // here (Kafka's createLogDirectory does not fsync the parent at all): until then nothing in
    // it is on disk either, and creating 10 000 partitions does not wait for 10 000 fsyncs.
    const createdDirectory = !io.existsSync(dir)
    if (createdDirectory) io.mkdirSync(dir, { recursive: true })
    const warnings: Array<string> = []

    let topicId: string | null = null
    let metadataFileUnsynced = false
    // A directory made just now holds nothing to read (no listing, metadata or checkpoint):
    // creating 10 000 partitions skips ~4 system calls each that would find nothing.
    const metadata = createdDirectory ? null : readPartitionMetadata(dir, io)
    if (metadata !== null) {
      topicId = metadata.topicId
      if (options.topicId !== undefined && options.topicId !== metadata.topicId) {
        throw new InconsistentTopicIdError(`${dir} belongs to topic id ${metadata.topicId}, not ${options.topicId}`)
      }
    } else if (options.topicId !== undefined) {
      // Made durable with the log's first flush (with the directory's entries), not here.
      writePartitionMetadata(dir, options.topicId, io, false)
      metadataFileUnsynced = true
      topicId = options.topicId
    }

    // Finish or roll back a segment swap a crash interrupted (the log cleaner's).
    // One listing serves the swap recovery, the segment scan and the producer snapshots (a
    // directory read is the dearest step of opening an untouched partition); it is read again
    // only when the swap recovery changed the directory.
    let names: Array<string> = createdDirectory ? [] : io.readdirSync(dir)
    if (holdsSwapLeftovers(names)) {
      for (const w of recoverSwaps(dir, io, names)) warnings.push(w)
      names = io.readdirSync(dir)
    }
    const logBases = new Set<number>()
    for (const name of names) {
      const base = offsetFromFilename(name)
      if (base !== null && name.endsWith(LOG_FILE_SUFFIX) && name.length === 20 + LOG_FILE_SUFFIX.length) logBases.add(base)
    }
    for (const name of names) {
      const full = path.join(dir, name)
      if (name.endsWith(".deleted")) {
        // A deletion interrupted by a crash (or by a stop): finish it. Nothing writes a
        // `.deleted` name, so the removal can run on the thread pool.
        removeInBackground(io, full)
        continue
      }
      if (name.endsWith(".cleaned") || name.endsWith(".tmp")) {
        // Leftovers of an interrupted clean or checkpoint write; Kafka removes them too. Here,
        // not on the thread pool: this log writes such names itself once open.
        io.rmSync(full, { force: true })
        continue
      }
      const base = offsetFromFilename(name)
      if (base !== null && (name.endsWith(INDEX_FILE_SUFFIX) || name.endsWith(TIME_INDEX_FILE_SUFFIX) || name.endsWith(TXN_INDEX_FILE_SUFFIX)) && !logBases.has(base)) {
        warnings.push(`${full}: deleting index file without a log file`)
        io.rmSync(full, { force: true })
      }
    }

    const bases = [...logBases].sort((a, b) => a - b)
    const segmentConfig = { indexIntervalBytes: config.indexIntervalBytes, segmentIndexBytes: config.segmentIndexBytes }
    const segments: Array<LogSegment> = []
    const epochs = createdDirectory ? new LeaderEpochCache(path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE), [], io) : LeaderEpochCache.load(dir, io)
    const residency = options.indexResidency ?? new IndexResidency()
    // Segments at or after the recovery point may hold writes that never reached the disk.
    let recoverFrom = bases.length
    const checkpointedRecoveryPoint = options.recoveryPoint ?? 0
    if (options.cleanShutdown !== true) {
      recoverFrom = 0
      for (let i = 0; i < bases.length; i++) if (bases[i]! <= checkpointedRecoveryPoint) recoverFrom = i
    }
    // Validated by recovery and not forced (as Kafka's recovery): the recovery point stays below them.
    const recoveredUnforced = new Set<LogSegment>()
    try {
      // Sealed segments below the recovery point leave their index entries on disk until used.
      for (let i = 0; i < bases.length; i++) {
        segments.push(
          i < recoverFrom && i < bases.length - 1
            ? LogSegment.openSealed(dir, bases[i]!, segmentConfig, options.now, residency, io)
            : LogSegment.open(dir, bases[i]!, segmentConfig, options.now, io)
        )
      }
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i]!
        const unflushed = i >= recoverFrom
        if (!unflushed && segment.indexProblem === null) continue
        if (segment.indexProblem !== null) warnings.push(`${segment.logPath}: rebuilding indexes (${segment.indexProblem})`)
        // Epochs first met in records past the recovery point may not have reached the checkpoint.
        const result = segment.recover(unflushed ? epochs : undefined, !unflushed)
        if (unflushed) recoveredUnforced.add(segment)
        if (result.warning !== null) warnings.push(result.warning)
        if (result.truncatedBytes > 0 && unflushed) {
          // Later segments were written after the corrupt point and cannot be trusted.
          for (const dropped of segments.splice(i + 1)) {
            warnings.push(`${dropped.logPath}: deleted, it follows a truncated segment`)
            dropped.deleteFiles()
          }
        }
      }
      // A segment with a base past the end of its predecessor is fine (compaction, deleteRecords);
      // one that overlaps its predecessor cannot be ordered and is dropped.
      for (let i = 1; i < segments.length; i++) {
        const prev = segments[i - 1]!
        if (segments[i]!.baseOffset < prev.nextOffset) {
          for (const dropped of segments.splice(i)) {
            warnings.push(`${dropped.logPath}: deleted, its base offset overlaps the previous segment ending at ${prev.nextOffset}`)
            dropped.deleteFiles()
          }
          break
        }
      }
      if (segments.length === 0) {
        segments.push(LogSegment.create(dir, Math.max(0, options.logStartOffset ?? 0), segmentConfig, options.now, io, createdDirectory))
      }
      for (let i = 0; i < segments.length - 1; i++) segments[i]!.seal(residency)
    } catch (e) {
      for (const s of segments) s.closeQuietly()
      throw e
    }

    const first = segments[0]!
    const logEnd = segments[segments.length - 1]!.nextOffset
    const logStartOffset = Math.min(Math.max(options.logStartOffset ?? first.baseOffset, first.baseOffset), logEnd)
    const recovered = segments.filter((s) => recoveredUnforced.has(s))
    const recoveryPoint = recovered.length > 0 ? Math.min(checkpointedRecoveryPoint, logEnd) : logEnd
    epochs.truncateFromEnd(logEnd)
    epochs.truncateFromStart(logStartOffset)
    // Epochs recovery found in records not yet forced are written when those records are.
    epochs.persistPending(recoveryPoint)
    const producerState = new ProducerStateManager(dir, path.basename(dir), options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS, io, names)
    try {
      loadProducerState(producerState, segments, logStartOffset, logEnd, options.now, warnings)
    } catch (e) {
      for (const s of segments) s.closeQuietly()
      throw e
    }
    const log = new PartitionLog(dir, parsed.topic, parsed.partition, config, topicId, segments, epochs, logStartOffset, options.now, warnings, producerState, io, options.failures, residency)
    log.parentDirectoryDirty = createdDirectory
    log.metadataFileUnsynced = metadataFileUnsynced
    if (recovered.length > 0) log.leaveRecoveredUnforced(recovered, recoveryPoint, options.now)
    return log
  }

  /**
   * After an unclean shutdown, recovery validated `recovered` (the segments from the one holding
   * the checkpointed recovery point on) without forcing them, as Kafka's recovery does: 10 000
   * partitions recovered at start-up were ~5 fsyncs each, one after another, before the broker
   * could answer. The recovery point stays at `recoveryPoint`; the sealed ones are forced by
   * the next flush check on the thread pool, as rolled segments are, and the active one by
   * the flush policy, its next roll or the shutdown. A crash before that recovers them again.
   */
  private leaveRecoveredUnforced(recovered: ReadonlyArray<LogSegment>, recoveryPoint: number, now: number): void {
    this._recoveryPoint = recoveryPoint
    this.unflushedMessages = this.logEndOffset - recoveryPoint
    for (const segment of recovered) if (segment !== this.activeSegment) this.rolledUnflushed.push({ segment, flushAt: now, snapshot: undefined })
  }

  // -------------------------------------------------------------------------------------
  // State
  // -------------------------------------------------------------------------------------

  get logStartOffset(): number {
    return this._logStartOffset
  }

  /** Offset the next appended record will get. */
  get logEndOffset(): number {
    return this.segments[this.segments.length - 1]!.nextOffset
  }

  /**
   * With no replicas the in-sync replica set is this broker alone, so the high watermark
   * follows the log end offset as soon as an append has been written.
   */
  get highWatermark(): number {
    return this._highWatermark
  }

  /**
   * The last stable offset: below it every transaction is decided. The first offset of the
   * oldest open transaction, or the high watermark when none is open (or it is lower).
   */
  get lastStableOffset(): number {
    const firstUnstable = this.producerState.firstUnstableOffset
    return firstUnstable >= 0 && firstUnstable < this._highWatermark ? firstUnstable : this._highWatermark
  }

  /** Offset below which everything has been fsynced (for recovery-point-offset-checkpoint). */
  get recoveryPoint(): number {
    return this._recoveryPoint
  }

  get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1]!
  }

  get numberOfSegments(): number {
    return this.segments.length
  }

  /** Base offsets of the segments, oldest first. */
  segmentBaseOffsets(): Array<number> {
    return this.segments.map((s) => s.baseOffset)
  }

  /** The segments, oldest first; the last is the active one. For the log cleaner: do not modify. */
  segmentList(): ReadonlyArray<LogSegment> {
    return this.segments
  }

  /**
   * Puts `cleaned` in place of `replaced`, a run of consecutive non-active segments (the log
   * cleaner's in-memory half of a swap; the files were swapped by then). Returns false, and
   * changes nothing, when those segments are no longer the log's (retention or
   * DeleteRecords removed some meanwhile).
   */
  replaceSegments(replaced: ReadonlyArray<LogSegment>, cleaned: LogSegment): boolean {
    if (this.closed || replaced.length === 0) return false
    const at = this.segments.indexOf(replaced[0]!)
    if (at < 0 || at + replaced.length >= this.segments.length) return false
    for (let i = 1; i < replaced.length; i++) if (this.segments[at + i] !== replaced[i]) return false
    this.segments.splice(at, replaced.length, cleaned)
    cleaned.seal(this.indexResidency)
    this.notify()
    return true
  }

  /** Total bytes of all segments. */
  size(): number {
    let total = 0
    for (const s of this.segments) total += s.size
    return total
  }

  /**
   * Registers a callback run after each append, with the bytes appended, and after any other
   * change to what a read returns (truncation, deletion, close), with 0; returns the unregister function.
   */
  onAppend(listener: (appendedBytes: number) => void): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  private notify(appendedBytes = 0): void {
    this.version++
    for (const listener of this.listeners) {
      try {
        listener(appendedBytes)
      } catch {
        // A waiter's failure must not fail the append that woke it.
      }
    }
  }

  private ensureOpen(): void {
    if (this.offline) throw LogDirFailureChannel.offlineError(this.logDir)
    if (this.closed) throw new Error(`log ${this.dir} is closed`)
  }

  /**
   * Kafka's maybeHandleIOException: an I/O error takes the whole log dir offline (through
   * the failure channel) and surfaces as KafkaStorageError. Without a channel (a log opened
   * on its own) the error passes through unchanged.
   */
  private ioFailure(what: string, e: unknown): unknown {
    if (this.failures === undefined || !isIoError(e)) return e
    const message = `Error while ${what} ${this.topic}-${this.partition} in dir ${this.logDir}`
    this.failures.maybeAddOfflineLogDir(this.logDir, message, e)
    return new KafkaStorageError(`${message}: ${e.message}`, { cause: e })
  }

  /**
   * The log dir failed: drop the file handles without flushing (Kafka's closeHandlers) and
   * refuse every later operation with KafkaStorageError, until the broker restarts.
   */
  markOffline(): void {
    if (this.offline) return
    this.offline = true
    this.closed = true
    for (const segment of this.segments) segment.closeQuietly()
    this.notify()
  }

  /** Whether the log's dir went offline after an I/O error. */
  get isOffline(): boolean {
    return this.offline
  }

  /** Index of the segment that would contain `offset` (greatest base ≤ offset), or 0. */
  private floorSegmentIndex(offset: number): number {
    let lo = 0
    let hi = this.segments.length - 1
    let found = 0
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.segments[mid]!.baseOffset <= offset) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }

  // -------------------------------------------------------------------------------------
  // Append
  // -------------------------------------------------------------------------------------

  /**
   * Appends a payload of v2 batches. The bytes are modified in place: baseOffset (and
   * partitionLeaderEpoch, maxTimestamp for LogAppendTime topics, a stale CreateTime
   * maxTimestamp) are rewritten before the write. Returns the offsets given.
   */
  append(bytes: Uint8Array, options: AppendOptions): AppendResult {
    try {
      return this.appendUnguarded(bytes, options)
    } catch (e) {
      throw this.ioFailure("appending to", e)
    }
  }

  /**
   * Appends several payloads exactly as that many `append` calls in a row would (each one is
   * checked against the producer state the previous ones left), except that their bytes
   * reach the segment in one write at the end instead of one write each, and listeners and
   * the flush policy run once, after that write. Each entry gets its result or the error
   * `append` would have thrown for it. An I/O error fails every entry not yet written
   * (memory is then ahead of the file: the log goes offline, as after any I/O error).
   */
  appendMany(entries: ReadonlyArray<{ readonly bytes: Uint8Array; readonly options: AppendOptions }>): Array<AppendResult | unknown> {
    const results: Array<AppendResult | unknown> = new Array(entries.length)
    // Entries appended in memory whose bytes are not yet written.
    let unwritten: Array<number> = []
    let appended = false
    let appendedBytes = 0
    let current = -1
    try {
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i]!
        const segment = this.segments[this.segments.length - 1]
        current = i
        try {
          const result = this.appendUnguarded(entry.bytes, entry.options, true)
          results[i] = result
          // A roll wrote everything appended before it (and forced it, under a flush policy).
          if (this.segments[this.segments.length - 1] !== segment) unwritten = []
          if (result.duplicate !== true) {
            unwritten.push(i)
            appended = true
            appendedBytes += entry.bytes.length
          }
        } catch (e) {
          if (isIoError(e)) throw e
          results[i] = e
        }
      }
      current = -1
      if (appended) {
        this.activeSegment.writePending()
        this.maybeFlush(entries[entries.length - 1]!.options.now)
      }
    } catch (e) {
      const error = this.ioFailure("appending to", e)
      // Without a failure channel nothing takes the log offline for us, and it cannot go on.
      if (this.failures === undefined) this.markOffline()
      for (const i of unwritten) results[i] = error
      if (current >= 0) {
        results[current] = error
        for (let i = current + 1; i < entries.length; i++) results[i] = error
      }
      return results
    }
    if (appended) this.notify(appendedBytes)
    return results
  }

  private appendUnguarded(bytes: Uint8Array, options: AppendOptions, deferWrite = false): AppendResult {
    this.ensureOpen()
    const validated = options.validated ?? validateBatches(bytes, { fromClient: false })
    if (!validated.ok) throw new InvalidBatchError(validated)
    if (bytes.length > this.config.segmentBytes) throw new RecordBatchTooLargeError(bytes.length, this.config.segmentBytes)
    const now = options.now
    const logAppendTime = this.config.messageTimestampType === "LogAppendTime" ? now : null
    if (logAppendTime === null) {
      // Kafka makes the header's maxTimestamp agree with the records of uncompressed batches.
      for (const batch of validated.batches) {
        if (batch.headerMaxTimestampStale) setMaxTimestamp(bytes, batch.position, batch.maxTimestamp, batch.timestampType)
      }
    }
    const firstOffset = this.logEndOffset
    // Header-only: batches without a producer id (plain produces) skip producer state.
    let producers: ProducerAnalysis | null = null
    const batches = validated.batches
    for (let i = 0; i < batches.length; i++) {
      if (batches[i]!.producerId >= 0) {
        producers = this.analyzeProducerState(bytes, validated, firstOffset, logAppendTime, options.origin ?? "client")
        break
      }
    }
    if (producers !== null && producers.duplicate !== null) {
      const d = producers.duplicate
      return { baseOffset: firstOffsetOf(d), lastOffset: d.lastOffset, logAppendTime: d.timestamp, logStartOffset: this._logStartOffset, recordCount: 0, duplicate: true }
    }
    const assigned = assignOffsets(bytes, validated.positions, firstOffset, logAppendTime, options.leaderEpoch)
    this.maybeRoll(bytes.length, assigned.lastOffset, assigned.maxTimestamp, now)

    const view = viewOf(bytes)
    this.activeSegment.append(bytes, view, validated.positions, deferWrite)
    let latestEpoch = this.leaderEpochCache.latestEpoch()
    for (const pos of validated.positions) {
      const epoch = view.getInt32(pos + PARTITION_LEADER_EPOCH_OFFSET)
      if (epoch > latestEpoch) {
        // Written when the log is flushed (LeaderEpochCache: recovery re-assigns epochs of unflushed records).
        this.leaderEpochCache.assign(epoch, baseOffsetAt(view, pos), "deferred")
        latestEpoch = epoch
      }
    }
    if (producers !== null) this.applyProducerState(producers)
    this.producerState.mapEndOffset = this.logEndOffset
    this._highWatermark = this.logEndOffset
    this.unflushedMessages += assigned.lastOffset - firstOffset + 1
    if (!deferWrite) {
      this.maybeFlush(now)
      this.notify(bytes.length)
    }
    return {
      baseOffset: firstOffset,
      lastOffset: assigned.lastOffset,
      logAppendTime: logAppendTime ?? -1,
      logStartOffset: this._logStartOffset,
      recordCount: validated.recordCount
    }
  }

  /**
   * Kafka's analyzeAndValidateProducerState, before anything is written: a client batch that
   * repeats one of its producer's last five is a duplicate; otherwise every batch with a
   * producer id is checked (epoch, sequence, transaction state) against a working copy of
   * its producer's entry, using the offsets the append is about to assign. Throws
   * ProducerStateError; the state itself changes only in applyProducerState, after the write.
   */
  private analyzeProducerState(
    bytes: Uint8Array,
    validated: ValidatedBatches,
    firstOffset: number,
    logAppendTime: number | null,
    origin: ProducerAppendOrigin
  ): ProducerAnalysis {
    const infos = new Map<number, ProducerAppendInfo>()
    const completed: Array<CompletedTxn> = []
    let base = firstOffset
    for (const batch of validated.batches) {
      const batchBase = base
      const last = base + batch.lastOffsetDelta
      base = last + 1
      const pid = batch.producerId
      if (pid < 0) continue
      const lastSeq = incrementSequence(batch.baseSequence, batch.lastOffsetDelta)
      if (origin === "client") {
        const duplicate = this.producerState.lastEntry(pid)?.findDuplicate(batch.producerEpoch, batch.baseSequence, lastSeq)
        if (duplicate !== undefined) return { infos, completed, duplicate }
      }
      let info = infos.get(pid)
      if (info === undefined) {
        info = this.producerState.prepareUpdate(pid, origin)
        infos.set(pid, info)
      }
      const maxTimestamp = logAppendTime ?? batch.maxTimestamp
      if (batch.isControl) {
        if (origin === "client") {
          throw new InvalidBatchError({ ok: false, code: "INVALID_RECORD", reason: "control", message: "Clients are not allowed to write control records", batchIndex: validated.batches.indexOf(batch), position: batch.position })
        }
        const marker = readTxnMarker(bytes.subarray(batch.position, batch.position + batch.sizeInBytes))
        // An empty control batch (all cleaned) or an unknown control type changes nothing.
        if (marker === undefined) continue
        const done = info.appendEndTxnMarker(marker, batch.producerEpoch, batchBase, maxTimestamp)
        if (done !== undefined) completed.push(done)
      } else {
        info.appendDataBatch(batch.producerEpoch, batch.baseSequence, lastSeq, maxTimestamp, batchBase, last, batch.isTransactional)
      }
    }
    return { infos, completed, duplicate: null }
  }

  /** Takes over the analysed producer state; aborted transactions go to the active segment's txnindex. */
  private applyProducerState(analysis: ProducerAnalysis): void {
    const state = this.producerState
    for (const info of analysis.infos.values()) state.update(info)
    for (const txn of analysis.completed) {
      const lastStableOffset = state.lastStableOffset(txn)
      if (txn.isAborted) {
        this.activeSegment.txnIndex.append({ producerId: txn.producerId, firstOffset: txn.firstOffset, lastOffset: txn.lastOffset, lastStableOffset })
      }
      state.completeTxn(txn)
    }
  }

  /** Forgets producers idle longer than producer.id.expiration.ms. */
  removeExpiredProducers(now: number): number {
    this.ensureOpen()
    return this.producerState.removeExpiredProducers(now)
  }

  /** Per producer of this partition: epoch, last sequence, open transaction (DescribeProducers). */
  activeProducers(): Array<ActiveProducerState> {
    return this.producerState.activeProducers()
  }

  /**
   * Kafka's collectAbortedTransactions: the aborted transactions overlapping
   * [fetchOffset, upperBoundOffset), from the txnindex of the segment holding fetchOffset
   * and of later segments until one proves no later abort can overlap.
   */
  collectAbortedTransactions(fetchOffset: number, upperBoundOffset: number): Array<AbortedTxn> {
    try {
      return this.collectAbortedTransactionsUnguarded(fetchOffset, upperBoundOffset)
    } catch (e) {
      throw this.ioFailure("reading the transaction index of", e)
    }
  }

  private collectAbortedTransactionsUnguarded(fetchOffset: number, upperBoundOffset: number): Array<AbortedTxn> {
    this.ensureOpen()
    const out: Array<AbortedTxn> = []
    for (let i = this.floorSegmentIndex(fetchOffset); i < this.segments.length; i++) {
      const search = this.segments[i]!.txnIndex.collectAbortedTxns(fetchOffset, upperBoundOffset)
      for (const txn of search.abortedTransactions) out.push(txn)
      if (search.isComplete) break
    }
    return out
  }

  /**
   * Kafka's shouldRoll: the append would overflow segment.bytes, segment.ms has passed
   * since the first batch (measured in record time when the first batch has a timestamp,
   * else in clock time since the segment was created), an index is full, or the last
   * offset cannot be stored relative to the segment's base offset.
   */
  private maybeRoll(messagesSize: number, lastOffset: number, maxTimestampInMessages: number, now: number): void {
    const segment = this.activeSegment
    if (segment.size === 0) return
    const waited = segment.firstBatchTimestamp >= 0
      ? maxTimestampInMessages - segment.firstBatchTimestamp
      : now - segment.created
    if (
      segment.size > this.config.segmentBytes - messagesSize ||
      waited > this.config.rollMs ||
      segment.indexesFull() ||
      !segment.canHoldOffset(lastOffset)
    ) {
      this.roll(now)
    }
  }

  /** Closes the active segment for writing and starts a new one at the log end offset. */
  roll(now: number): LogSegment {
    try {
      return this.rollUnguarded(now)
    } catch (e) {
      throw this.ioFailure("rolling a segment of", e)
    }
  }

  private rollUnguarded(now: number): LogSegment {
    this.ensureOpen()
    const old = this.activeSegment
    if (old.size === 0) return old
    // Batches of an append group not yet written go to the segment they were appended to.
    old.writePending()
    old.sealTimeIndex()
    if (this.flushesOnPolicy()) {
      old.flush()
      // The epoch checkpoint's rename shares the directory fsync below.
      if (this.leaderEpochCache.persistPending(old.nextOffset, false)) this.directoryDirty = true
      this.flushDirectoryIfDirty()
      this._recoveryPoint = old.nextOffset
      this.unflushedMessages = 0
      this.lastFlushTime = now
    } else {
      // Kafka flushes a rolled segment in the background ("flush-log"); here a synchronous
      // fsync of a whole segment would stall every connection for as long as the disk takes
      // (0.9 s for 1 GiB measured). It is forced once the kernel has written it back itself.
      old.flushIndexes()
    }
    const segmentConfig = { indexIntervalBytes: this.config.indexIntervalBytes, segmentIndexBytes: this.config.segmentIndexBytes }
    const next = LogSegment.create(this.dir, old.nextOffset, segmentConfig, now, this.io)
    this.segments.push(next)
    old.seal(this.indexResidency)
    this.directoryDirty = true
    // Recovery after a crash starts from the latest snapshot: at most the active segment is replayed.
    this.producerState.mapEndOffset = next.baseOffset
    if (this.flushesOnPolicy()) this.producerState.takeSnapshot()
    else {
      // As Kafka's roll: the snapshot is forced with the rolled segment, in the background.
      const snapshot = this.producerState.takeSnapshotUnsynced()
      this.rolledUnflushed.push({ segment: old, flushAt: now + ROLLED_SEGMENT_FLUSH_DELAY_MS, snapshot })
    }
    return next
  }

  /**
   * Whether appends force the file to disk (flush.messages set): appends from several requests
   * are then worth committing together (src/log/group-commit.ts), one force for all of them.
   */
  get forcesAppends(): boolean {
    return this.config.flushIntervalMessages < Number.MAX_SAFE_INTEGER
  }

  /** Whether flush.messages or flush.ms is set: the policy then forces rolled segments at once too. */
  private flushesOnPolicy(): boolean {
    return this.forcesAppends || this.config.flushIntervalMs < Number.MAX_SAFE_INTEGER
  }

  /**
   * Forces the rolled segments still waiting for it (all of them, or those due by `now`) and
   * the directory, and moves the recovery point past them.
   */
  private flushRolled(now?: number): void {
    while (this.rolledUnflushed.length > 0) {
      const { segment, flushAt, snapshot } = this.rolledUnflushed[0]!
      if (now !== undefined && flushAt > now) return
      if (snapshot !== undefined) syncFileIfExists(snapshot, this.io)
      // Deleted meanwhile (retention, truncation): nothing left to force.
      if (!segment.isClosed) {
        segment.flush()
        const moves = segment.nextOffset > this._recoveryPoint
        // The epoch checkpoint's rename shares the directory fsync.
        if (moves && this.leaderEpochCache.persistPending(segment.nextOffset, false)) this.directoryDirty = true
        this.flushDirectoryIfDirty()
        if (moves) this._recoveryPoint = segment.nextOffset
      }
      this.rolledUnflushed.shift()
    }
  }

  /**
   * Forces the rolled segments due by `now` on libuv's thread pool (Kafka's background
   * "flush-log" task): a 1 GiB segment's fsync takes milliseconds on an idle disk and far more
   * on a busy one, which no connection should wait for. They stay in `rolledUnflushed` until
   * it completes, so a synchronous flush or close meanwhile forces them again itself; the
   * directory's dirty marks are left for the same reason. The recovery point moves only once
   * the forced bytes are durable. An epoch entry still unwritten for these records takes the
   * synchronous path (it must be written first; rare: leadership changes). An I/O error
   * takes the dir offline, as a synchronous flush does.
   */
  private flushRolledLater(now: number): void {
    if (this.rolledFlushing !== null) return
    const due = this.rolledUnflushed.filter((r) => r.flushAt <= now)
    let target = this._recoveryPoint
    for (const r of due) if (!r.segment.isClosed) target = Math.max(target, r.segment.nextOffset)
    if (this.leaderEpochCache.hasPendingBelow(target)) return this.flushRolled(now)
    const later: Deferred = { batch: new SyncBatch(), owner: this.dir }
    for (const r of due) {
      if (!r.segment.isClosed) r.segment.forceLater(later)
      if (r.snapshot !== undefined) later.batch.file(r.snapshot, later.owner)
    }
    this.directoryLater(later)
    this.rolledFlushing = later.batch.run(this.io).then((failed) => {
      this.rolledFlushing = null
      if (this.closed) return
      const e = failed.get(later.owner)
      if (e !== undefined) {
        this.ioFailure("flushing", e)
        return
      }
      for (const r of due) {
        const i = this.rolledUnflushed.indexOf(r)
        if (i >= 0) this.rolledUnflushed.splice(i, 1)
      }
      const reached = Math.min(target, this.logEndOffset)
      if (reached > this._recoveryPoint) this._recoveryPoint = reached
    })
  }

  /**
   * The directory fsyncs a thread-pool flush needs (see flushDirectoryIfDirty), leaving the
   * dirty marks set: a synchronous flush meanwhile forces the directory again rather than
   * trusting a force that has not completed.
   */
  private directoryLater(later: Deferred): void {
    if (!this.directoryDirty) return
    if (this.metadataFileUnsynced) later.batch.file(path.join(this.dir, PARTITION_METADATA_FILE), later.owner)
    later.batch.directory(this.dir, later.owner)
    if (this.parentDirectoryDirty) later.batch.directory(this.logDir, later.owner)
  }

  /**
   * flush.ms: forces the active segment's log file on the thread pool (Kafka's log flusher is
   * a background task too), so a time-based flush stalls no connection. flush.messages stays
   * synchronous: the append that reaches it is acknowledged after its fsync. The recovery
   * point moves to the log end taken at the start, once the fsync has completed; an epoch
   * entry still unwritten for these records, or rolled segments still unforced, take the
   * synchronous path. An I/O error takes the dir offline, as a synchronous flush does.
   */
  private flushActiveLater(now: number): void {
    if (this.activeFlushing !== null) return
    const target = this.logEndOffset
    if (this.rolledUnflushed.length > 0 || this.leaderEpochCache.hasPendingBelow(target)) return this.flush(now)
    const active = this.activeSegment
    active.writePending()
    const later: Deferred = { batch: new SyncBatch(), owner: this.dir }
    later.batch.file(active.logPath, later.owner)
    this.directoryLater(later)
    const messages = this.unflushedMessages
    const syncFlushes = this.syncFlushes
    this.lastFlushTime = now
    this.activeFlushing = later.batch.run(this.io).then((failed) => {
      this.activeFlushing = null
      if (this.closed) return
      const e = failed.get(later.owner)
      if (e !== undefined) {
        this.ioFailure("flushing", e)
        return
      }
      if (syncFlushes === this.syncFlushes) this.unflushedMessages = Math.max(0, this.unflushedMessages - messages)
      const reached = Math.min(target, this.logEndOffset)
      if (reached > this._recoveryPoint) this._recoveryPoint = reached
    })
  }

  /** The thread-pool flush.ms flush in flight, if any (tests wait on it). */
  get activeFlushInFlight(): Promise<void> | null {
    return this.activeFlushing
  }

  /** The thread-pool flush of rolled segments in flight, if any (tests and shutdown wait on it). */
  get rolledFlushInFlight(): Promise<void> | null {
    return this.rolledFlushing
  }

  /** Applies flush.messages and flush.ms, and forces rolled segments that are due; cheap to call periodically. */
  maybeFlush(now: number): void {
    if (this.rolledUnflushed.length > 0 && this.rolledUnflushed[0]!.flushAt <= now) {
      try {
        this.flushRolledLater(now)
      } catch (e) {
        throw this.ioFailure("flushing", e)
      }
    }
    if (this.unflushedMessages === 0) return
    if (this.unflushedMessages >= this.config.flushIntervalMessages) this.flush(now)
    else if (now - this.lastFlushTime >= this.config.flushIntervalMs) {
      try {
        this.flushActiveLater(now)
      } catch (e) {
        throw this.ioFailure("flushing", e)
      }
    }
  }

  /**
   * fsyncs the active segment's log file; everything before it was flushed (indexes too) on
   * roll. The active segment's index files are not forced here: recovery after a crash
   * always rebuilds the indexes of the segment holding the recovery point, so forcing them
   * would make a flush three fsyncs (and a file open and close per index) for nothing. They
   * are written and forced at roll and close.
   */
  flush(now: number): void {
    try {
      this.flushUnguarded(now)
    } catch (e) {
      throw this.ioFailure("flushing", e)
    }
  }

  private flushUnguarded(now: number): void {
    this.ensureOpen()
    this.flushRolled()
    this.activeSegment.syncLogFile()
    // The epoch checkpoint's rename shares the directory fsync of a new segment.
    if (this.leaderEpochCache.persistPending(this.logEndOffset, false)) this.directoryDirty = true
    this.flushDirectoryIfDirty()
    this._recoveryPoint = this.logEndOffset
    this.unflushedMessages = 0
    this.lastFlushTime = now
    this.syncFlushes++
  }

  /**
   * Kafka's LocalLog.flush: when a flushed segment is new, the directory is fsynced too, so
   * that the new file's name survives a power loss along with its fsynced bytes.
   */
  private flushDirectoryIfDirty(later?: Deferred): void {
    if (!this.directoryDirty) return
    if (this.metadataFileUnsynced) {
      const metadataFile = path.join(this.dir, PARTITION_METADATA_FILE)
      if (later === undefined) syncFileIfExists(metadataFile, this.io)
      else later.batch.file(metadataFile, later.owner)
      this.metadataFileUnsynced = false
    }
    if (later === undefined) fsyncDirectory(this.dir, this.io)
    else later.batch.directory(this.dir, later.owner)
    if (this.parentDirectoryDirty) {
      // Else a power loss could drop the whole partition directory with the records just fsynced into it.
      if (later === undefined) fsyncDirectory(this.logDir, this.io)
      else later.batch.directory(this.logDir, later.owner)
      this.parentDirectoryDirty = false
    }
    this.directoryDirty = false
  }

  // -------------------------------------------------------------------------------------
  // Read
  // -------------------------------------------------------------------------------------

  /**
   * Reads from the batch containing `fetchOffset`. `maxOffset` (exclusive, default the
   * high watermark) hides batches that reach it. With `minOneBatch` the first batch is
   * returned whole even beyond `maxBytes` (KIP-74); without it, a first batch larger than
   * `maxBytes` yields nothing. Throws OffsetOutOfRangeError outside
   * [logStartOffset, logEndOffset].
   */
  read(fetchOffset: number, maxBytes: number, minOneBatch: boolean, maxOffset?: number): FetchData {
    try {
      return this.readUnguarded(fetchOffset, maxBytes, minOneBatch, maxOffset)
    } catch (e) {
      throw this.ioFailure("reading from", e)
    }
  }

  private readUnguarded(fetchOffset: number, maxBytes: number, minOneBatch: boolean, maxOffset?: number): FetchData {
    this.ensureOpen()
    const logEnd = this.logEndOffset
    if (fetchOffset < this._logStartOffset || fetchOffset > logEnd) {
      throw new OffsetOutOfRangeError(fetchOffset, this._logStartOffset, logEnd, "fetch offset")
    }
    const limit = Math.min(maxOffset ?? this._highWatermark, logEnd)
    const records = fetchOffset >= limit ? EMPTY : this.readRange(fetchOffset, maxBytes, minOneBatch, limit)
    return { records, highWatermark: this._highWatermark, logStartOffset: this._logStartOffset, logEndOffset: logEnd, lastStableOffset: this.lastStableOffset }
  }

  private readRange(fetchOffset: number, maxBytes: number, minOneBatch: boolean, limit: number): Uint8Array {
    const first = this.floorSegmentIndex(fetchOffset)
    const current = this.segments[first]
    // A consumer reading on from where its last read ended, with the whole segment below the limit.
    if (current !== undefined && limit >= current.nextOffset) {
      const records = current.readOn(fetchOffset, maxBytes, minOneBatch)
      if (records !== null) return records
    }
    for (let i = first; i < this.segments.length; i++) {
      const segment = this.segments[i]!
      const found = segment.findBatch(fetchOffset)
      if (found === null) continue
      if (found.lastOffset >= limit) return EMPTY
      let maxPosition = segment.size
      if (limit < segment.nextOffset) {
        const end = segment.findBatch(limit, found.position)
        if (end !== null) maxPosition = end.position
      }
      if (!minOneBatch && found.size > maxBytes) return EMPTY
      const budget = minOneBatch ? Math.max(maxBytes, found.size) : maxBytes
      const length = Math.min(maxPosition - found.position, budget)
      return length <= 0 ? EMPTY : segment.readBatches(found.position, length)
    }
    return EMPTY
  }

  // -------------------------------------------------------------------------------------
  // Timestamps
  // -------------------------------------------------------------------------------------

  /**
   * The first offset ≥ logStartOffset whose record timestamp is ≥ `timestamp`, with that
   * record's timestamp; null when no record qualifies (ListOffsets answers -1 then).
   * Exact for uncompressed and LogAppendTime batches. For a compressed CreateTime batch
   * the records are not decompressed: the batch's first qualifying offset is reported
   * with its baseTimestamp if that already qualifies, else with its maxTimestamp — an
   * offset at or before the exact answer, so a consumer seeking there misses nothing.
   */
  offsetForTimestamp(timestamp: number): TimestampAndOffset | null {
    try {
      return this.offsetForTimestampUnguarded(timestamp)
    } catch (e) {
      throw this.ioFailure("searching by timestamp in", e)
    }
  }

  private offsetForTimestampUnguarded(timestamp: number): TimestampAndOffset | null {
    this.ensureOpen()
    for (const segment of this.segments) {
      if (segment.maxTimestamp < timestamp || segment.nextOffset <= this._logStartOffset) continue
      let startOffset = Math.max(this._logStartOffset, segment.baseOffset)
      // Time index entries below the target prove every record up to their offset is older.
      const below = segment.timeIndex.lastEntryBelow(timestamp)
      if (below >= 0) startOffset = Math.max(startOffset, segment.timeIndex.offsetAt(below) + 1)
      const result = findInSegment(segment, startOffset, (view, at) => maxTimestampAt(view, at) >= timestamp, (buf, view, at, from) => {
        const attributes = view.getInt16(at + ATTRIBUTES_OFFSET)
        const base = baseOffsetAt(view, at)
        if ((attributes & TIMESTAMP_TYPE_MASK) !== 0) return { offset: Math.max(base, from), timestamp: maxTimestampAt(view, at) }
        if ((attributes & COMPRESSION_CODEC_MASK) !== COMPRESSION_NONE) {
          const baseTs = baseTimestampAt(view, at)
          return { offset: Math.max(base, from), timestamp: baseTs >= timestamp ? baseTs : maxTimestampAt(view, at) }
        }
        let hit: TimestampAndOffset | null = null
        visitRecordTimestamps(buf, at, (offset, ts) => {
          if (offset >= from && ts >= timestamp) {
            hit = { offset, timestamp: ts }
            return true
          }
          return false
        })
        return hit
      })
      if (result !== null) return result
    }
    return null
  }

  /**
   * The record with the largest timestamp (ListOffsets MAX_TIMESTAMP, KIP-734): its offset
   * and timestamp, null for a log without timestamps. The first such record of an
   * uncompressed batch; the batch's base offset under LogAppendTime (all records share the
   * time); the batch's last offset for compressed CreateTime batches.
   */
  maxTimestampOffset(): TimestampAndOffset | null {
    try {
      return this.maxTimestampOffsetUnguarded()
    } catch (e) {
      throw this.ioFailure("searching the max timestamp in", e)
    }
  }

  private maxTimestampOffsetUnguarded(): TimestampAndOffset | null {
    this.ensureOpen()
    let best: LogSegment | null = null
    for (const segment of this.segments) {
      if (segment.nextOffset <= this._logStartOffset) continue
      if (segment.maxTimestamp >= 0 && (best === null || segment.maxTimestamp > best.maxTimestamp)) best = segment
    }
    if (best === null) return null
    const target = best.maxTimestamp
    const fallback = { offset: Math.max(best.offsetOfMaxTimestamp, this._logStartOffset), timestamp: target }
    const found = findInSegment(best, Math.max(best.baseOffset, this._logStartOffset), (view, at) => maxTimestampAt(view, at) === target, (buf, view, at, from) => {
      const attributes = view.getInt16(at + ATTRIBUTES_OFFSET)
      if ((attributes & TIMESTAMP_TYPE_MASK) !== 0) return { offset: Math.max(baseOffsetAt(view, at), from), timestamp: target }
      if ((attributes & COMPRESSION_CODEC_MASK) !== COMPRESSION_NONE) return { offset: lastOffsetAt(view, at), timestamp: target }
      let hit: TimestampAndOffset | null = null
      visitRecordTimestamps(buf, at, (offset, ts) => {
        if (offset >= from && ts === target) {
          hit = { offset, timestamp: ts }
          return true
        }
        return false
      })
      return hit
    })
    return found ?? fallback
  }

  // -------------------------------------------------------------------------------------
  // Retention and truncation
  // -------------------------------------------------------------------------------------

  private deleteFirstSegment(): void {
    const segment = this.segments.shift()!
    segment.deleteFiles()
    const first = this.segments[0]!
    if (first.baseOffset > this._logStartOffset) this._logStartOffset = first.baseOffset
  }

  private deleteSegmentsBelowLogStart(): number {
    let deleted = 0
    while (this.segments.length > 1 && this.segments[1]!.baseOffset <= this._logStartOffset) {
      this.deleteFirstSegment()
      deleted++
    }
    return deleted
  }

  /**
   * Deletes whole segments, oldest first, never the active one: those entirely below the
   * log start offset, those whose newest record is older than `retentionMs` (-1: keep),
   * and as many as needed to bring the log within `retentionBytes` (-1: no limit).
   * Returns the number of segments deleted; the log start offset moves to the new first
   * segment.
   */
  deleteOldSegments(now: number, retentionMs = this.config.retentionMs, retentionBytes = this.config.retentionBytes): number {
    try {
      return this.deleteOldSegmentsUnguarded(now, retentionMs, retentionBytes)
    } catch (e) {
      throw this.ioFailure("deleting segments of", e)
    }
  }

  private deleteOldSegmentsUnguarded(now: number, retentionMs: number, retentionBytes: number): number {
    this.ensureOpen()
    const before = this._logStartOffset
    let deleted = this.deleteSegmentsBelowLogStart()
    if (retentionMs >= 0) {
      while (this.segments.length > 1 && now - this.segments[0]!.largestTimestamp() > retentionMs) {
        this.deleteFirstSegment()
        deleted++
      }
    }
    if (retentionBytes >= 0) {
      let excess = this.size() - retentionBytes
      while (this.segments.length > 1 && excess - this.segments[0]!.size >= 0) {
        excess -= this.segments[0]!.size
        this.deleteFirstSegment()
        deleted++
      }
    }
    if (this._logStartOffset !== before) {
      this.leaderEpochCache.truncateFromStart(this._logStartOffset)
      this.producerState.deleteSnapshotsBefore(this._logStartOffset)
      this.notify()
    }
    return deleted
  }

  /**
   * DeleteRecords: moves the log start offset up to `offset` (-1 means the high watermark)
   * and deletes segments that fall entirely below it. Returns the new log start offset
   * (the "low watermark"). Offsets beyond the high watermark are out of range.
   */
  deleteRecords(offset: number): number {
    try {
      return this.deleteRecordsUnguarded(offset)
    } catch (e) {
      throw this.ioFailure("deleting records of", e)
    }
  }

  private deleteRecordsUnguarded(offset: number): number {
    this.ensureOpen()
    const target = offset === -1 ? this._highWatermark : offset
    if (target < 0 || target > this._highWatermark) {
      throw new OffsetOutOfRangeError(target, this._logStartOffset, this._highWatermark, "delete-records offset")
    }
    if (target > this._logStartOffset) {
      this._logStartOffset = target
      this.deleteSegmentsBelowLogStart()
      this.leaderEpochCache.truncateFromStart(this._logStartOffset)
      this.producerState.deleteSnapshotsBefore(this._logStartOffset)
      this.notify()
    }
    return this._logStartOffset
  }

  // -------------------------------------------------------------------------------------
  // Lifecycle
  // -------------------------------------------------------------------------------------

  /**
   * Flushes and closes every segment; index files end up exactly entries × entry size. With
   * `later` every fsync (and the renames and directory fsyncs behind them) is left to that
   * batch, which a shutdown runs for all logs at once; without, they happen here.
   */
  close(later?: Deferred): void {
    if (this.closed) return
    this.closed = true
    const syncs: Deferred = later ?? { batch: new SyncBatch(), owner: this.dir }
    let firstError: unknown = null
    const active = this.activeSegment
    // As Kafka's flush at shutdown: only what lies beyond the recovery point is forced to
    // disk; a partition untouched since it was opened (or last flushed) costs no fsync.
    const unflushed = this.logEndOffset > this._recoveryPoint || this.unflushedMessages > 0
    const rolled = new Set(this.rolledUnflushed.map((r) => r.segment))
    for (const r of this.rolledUnflushed) if (r.snapshot !== undefined) syncs.batch.file(r.snapshot, syncs.owner)
    this.rolledUnflushed.length = 0
    for (const segment of this.segments) {
      try {
        if ((segment === active && unflushed) || rolled.has(segment)) segment.closeLater(syncs)
        else if (segment === active) {
          segment.sealTimeIndex()
          segment.flushIndexes()
          segment.closeQuietly()
        } else {
          segment.flushIndexes()
          segment.closeQuietly()
        }
      } catch (e) {
        firstError ??= e
        segment.closeQuietly()
      }
    }
    if (firstError === null) {
      try {
        const renamed = this.leaderEpochCache.persistPending(this.logEndOffset, false, syncs)
        // A clean shutdown leaves a snapshot at the log end: the next start replays nothing.
        // Its name alone is not worth a directory fsync (see takeSnapshot).
        this.producerState.mapEndOffset = this.logEndOffset
        this.producerState.takeSnapshot(false, syncs)
        // One directory fsync makes the new names durable together: the epoch checkpoint and,
        // as Kafka's LocalLog.flush, segments (and the partition's own directory) created since
        // the last flush, with the bytes just forced (and the snapshot's, riding along).
        if (renamed) this.directoryDirty = true
        if (unflushed || renamed) this.flushDirectoryIfDirty(syncs)
      } catch (e) {
        firstError = e
      }
    }
    if (later === undefined && firstError === null) {
      try {
        syncs.batch.runSync(this.io)
      } catch (e) {
        firstError = e
      }
    }
    this._recoveryPoint = this.logEndOffset
    this.notify()
    if (firstError !== null) throw firstError
  }

  /**
   * Closes without flushing and renames the partition directory to Kafka's
   * `<topic>-<partition>.<id>-delete`, which start-up removes; its files are removed on the
   * thread pool (src/log/background-removal.ts).
   */
  deleteFromDisk(): void {
    this.closed = true
    for (const segment of this.segments) segment.closeQuietly()
    // Renaming first means a crash mid-delete leaves a "-delete" directory that start-up
    // skips and removes, never a half-deleted live partition.
    const renamed = `${this.dir}.${crypto.randomUUID().replaceAll("-", "")}-delete`
    this.io.renameSync(this.dir, renamed)
    removeInBackground(this.io, renamed)
    this.notify()
  }

  get isClosed(): boolean {
    return this.closed
  }
}

/**
 * Walks the batches of `segment` from the index position for `startOffset`; for the first
 * batch with last offset ≥ startOffset that passes `candidate`, calls `pick` with the whole
 * batch in `buf` at `at`. Returns the first non-null pick.
 */
const findInSegment = (
  segment: LogSegment,
  startOffset: number,
  candidate: (view: DataView, at: number) => boolean,
  pick: (buf: Uint8Array, view: DataView, at: number, from: number) => TimestampAndOffset | null
): TimestampAndOffset | null => {
  let result: TimestampAndOffset | null = null
  segment.walk(segment.offsetIndex.lookup(startOffset), (buf, view, at) => {
    if (lastOffsetAt(view, at) < startOffset || !candidate(view, at)) return undefined
    result = pick(buf, view, at, startOffset)
    return result !== null
  }, true)
  return result
}

interface ProducerAnalysis {
  readonly infos: Map<number, ProducerAppendInfo>
  readonly completed: Array<CompletedTxn>
  /** Set when a client batch repeats one already written: nothing is appended then. */
  readonly duplicate: import("./producer-state.ts").BatchMetadata | null
}

/**
 * Rebuilds producer state at open (Kafka's loadProducerState): the latest snapshot at or
 * below the log end, then every batch with a producer id after it, unchecked (it is already
 * in the log). The txnindex entries of the replayed range are rebuilt on the way.
 */
const loadProducerState = (
  state: ProducerStateManager,
  segments: ReadonlyArray<LogSegment>,
  logStartOffset: number,
  logEndOffset: number,
  now: number,
  warnings: Array<string>
): void => {
  state.removeStraySnapshots(segments.map((s) => s.baseOffset))
  const from = state.loadLatestSnapshot(logStartOffset, logEndOffset, now, warnings)
  for (const segment of segments) {
    if (segment.nextOffset <= from) continue
    segment.txnIndex.truncateTo(from)
    const start = from > segment.baseOffset ? segment.offsetIndex.lookup(from) : 0
    segment.walk(start, (_buf, view, at, filePosition, size) => {
      const base = baseOffsetAt(view, at)
      const last = lastOffsetAt(view, at)
      if (last < from) return undefined
      const producerId = getInt64(view, at + PRODUCER_ID_OFFSET)
      // No producer id (plain produce) is the common case: nothing to replay.
      if (producerId < 0) return undefined
      const attributes = view.getInt16(at + ATTRIBUTES_OFFSET)
      const epoch = view.getInt16(at + PRODUCER_EPOCH_OFFSET)
      const maxTimestamp = maxTimestampAt(view, at)
      const info = state.prepareUpdate(producerId, "replication")
      let completed: CompletedTxn | undefined
      if ((attributes & CONTROL_FLAG_MASK) !== 0) {
        // Only a marker's record is read; scanBatches' buffer is not touched by segment.read.
        const marker = readTxnMarker(segment.read(filePosition, size))
        if (marker === undefined) return undefined
        completed = info.appendEndTxnMarker(marker, epoch, base, maxTimestamp)
      } else {
        const baseSequence = view.getInt32(at + BASE_SEQUENCE_OFFSET)
        const lastSeq = incrementSequence(baseSequence, last - base)
        info.appendDataBatch(epoch, baseSequence, lastSeq, maxTimestamp, base, last, (attributes & TRANSACTIONAL_FLAG_MASK) !== 0)
      }
      state.update(info)
      if (completed !== undefined) {
        const lastStableOffset = state.lastStableOffset(completed)
        if (completed.isAborted) {
          segment.txnIndex.append({ producerId: completed.producerId, firstOffset: completed.firstOffset, lastOffset: completed.lastOffset, lastStableOffset })
        }
        state.completeTxn(completed)
      }
      return undefined
    })
  }
  state.mapEndOffset = logEndOffset
  // Producers whose last write is older than the expiration time are gone, as after a snapshot load.
  state.removeExpiredProducers(now)
}
