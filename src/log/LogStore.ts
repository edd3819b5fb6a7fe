/**
 * The LogStore service owns every partition log under the configured log directories.
 * Each call is one Effect around one synchronous PartitionLog operation; the current time
 * comes from Effect's Clock, so TestClock drives rolling, flushing and retention.
 *
 * Per log directory it keeps Kafka's bookkeeping files: the `.kafka_cleanshutdown`
 * marker (present only while the broker is stopped after a clean shutdown) and the
 * recovery-point / log-start-offset / replication-offset checkpoints.
 */
import * as path from "node:path"
import { Clock, Context, Duration, Effect, Layer } from "effect"
import { yieldToEventLoop } from "../lifecycle/yield-to-event-loop.ts"
import { FatalFault } from "../lifecycle/FatalFault.ts"
import { FileIo, type FileIoShape } from "../storage/FileIo.ts"
import {
  CheckpointFormatError,
  CLEAN_SHUTDOWN_FILE,
  type Deferred,
  LOG_START_OFFSET_CHECKPOINT_FILE,
  partitionKey,
  readOffsetCheckpoint,
  RECOVERY_POINT_CHECKPOINT_FILE,
  REPLICATION_OFFSET_CHECKPOINT_FILE,
  writeFileAtomically,
  writeOffsetCheckpoint
} from "./checkpoint.ts"
import {
  InconsistentTopicId,
  InvalidRecordBatch,
  LogCorrupted,
  LogIoError,
  type LogStoreError,
  OffsetOutOfRange,
  PartitionNotFound,
  ProducerStateRejected,
  RecordListTooLarge
} from "./errors.ts"
import { ProducerStateError } from "./producer-state.ts"
import {
  type AppendOrigin,
  type AppendResult,
  defaultLogConfig,
  type FetchData,
  InconsistentTopicIdError,
  InvalidBatchError,
  type LogConfig,
  OffsetOutOfRangeError,
  parsePartitionDirName,
  PartitionLog,
  RecordBatchTooLargeError,
  type TimestampAndOffset
} from "./partition-log.ts"
import type { ValidatedBatches } from "./record-batch.ts"
import type { ActiveProducerState } from "./producer-state.ts"
import { UnreadableSegmentError } from "./segment.ts"
import { SyncBatch } from "./sync-batch.ts"
import { removeInBackground } from "./background-removal.ts"
import { IndexResidency } from "./index-residency.ts"
import { KafkaStorageError, LogDirFailureChannel } from "./log-dir-failure.ts"

export {
  InconsistentTopicId,
  InvalidRecordBatch,
  LogCorrupted,
  LogIoError,
  type LogStoreError,
  OffsetOutOfRange,
  PartitionNotFound,
  ProducerStateRejected,
  RecordListTooLarge
} from "./errors.ts"

/** The metadata log's partition; the KRaft layer opens it itself. */
export const METADATA_PARTITION_DIR = "__cluster_metadata-0"

/** ListOffsets special timestamps. */
export const LATEST_TIMESTAMP = -1
export const EARLIEST_TIMESTAMP = -2
export const MAX_TIMESTAMP = -3
/** Fetch / ListOffsets isolation_level: 0 READ_UNCOMMITTED, 1 READ_COMMITTED. */
export const READ_UNCOMMITTED = 0
export const READ_COMMITTED = 1
export const EARLIEST_LOCAL_TIMESTAMP = -4
export const LATEST_TIERED_TIMESTAMP = -5

export interface LogStoreOptions {
  readonly logDirs: ReadonlyArray<string>
  readonly segmentBytes?: number
  readonly segmentIndexBytes?: number
  readonly rollMs?: number
  readonly retentionMs?: number
  readonly retentionBytes?: number
  readonly flushIntervalMessages?: number
  readonly flushIntervalMs?: number
  readonly indexIntervalBytes?: number
  readonly messageTimestampType?: LogConfig["messageTimestampType"]
  /** producer.id.expiration.ms */
  readonly producerIdExpirationMs?: number
  /** The metadata log's dir (metadata.log.dir, else the first log dir): its failure is fatal, as in KRaft. */
  readonly metadataLogDir?: string
  /** log.index.memory.max.bytes: memory of sealed segments' index entries (index-residency.ts). */
  readonly indexMemoryMaxBytes?: number
}

export interface AppendInput {
  readonly validated?: ValidatedBatches
  readonly leaderEpoch?: number
  /** Who writes: a client's Produce, or a broker coordinator (markers, coordinator records). Default "client". */
  readonly origin?: AppendOrigin
}

export interface LoadResult {
  readonly loaded: number
  readonly warnings: ReadonlyArray<string>
}

export interface LogStoreShape {
  /** Creates (or returns the existing) log; the topic id goes to partition.metadata. */
  readonly createPartition: (
    topic: string,
    partition: number,
    topicId: string,
    overrides?: Partial<LogConfig>
  ) => Effect.Effect<PartitionLog, InconsistentTopicId | LogCorrupted | LogIoError>
  /**
   * Closes the log and renames its directory for removal on the thread pool; completes once the
   * dir's checkpoints no longer name it (written on the thread pool). A missing partition is not an error.
   */
  readonly deletePartition: (topic: string, partition: number) => Effect.Effect<void, LogIoError>
  readonly getPartition: (topic: string, partition: number) => Effect.Effect<PartitionLog, PartitionNotFound>
  /** Plain lookup for hot paths that already run inside an Effect. */
  readonly findPartition: (topic: string, partition: number) => PartitionLog | undefined
  readonly partitions: () => ReadonlyArray<PartitionLog>
  /** Sealed segments' index entries now in memory, bounded by log.index.memory.max.bytes. */
  readonly indexMemory: () => { readonly bytes: number; readonly segments: number }
  /**
   * The logs whose settings satisfy `wanted` (the cleaner's compacted ones), opening only
   * those: a log not opened yet is judged by the settings it will open with.
   */
  readonly partitionsWhere: (wanted: (config: LogConfig) => boolean) => ReadonlyArray<PartitionLog>
  /** Changes the topic-level configs of one log (segment.bytes, retention.ms, ...). */
  readonly reconfigure: (topic: string, partition: number, overrides: Partial<LogConfig>) => Effect.Effect<void, PartitionNotFound>
  /** Appends a payload of batches (modified in place: offsets are assigned). */
  readonly append: (
    topic: string,
    partition: number,
    bytes: Uint8Array,
    input?: AppendInput
  ) => Effect.Effect<AppendResult, PartitionNotFound | InvalidRecordBatch | ProducerStateRejected | RecordListTooLarge | LogCorrupted | LogIoError>
  /** See PartitionLog.read. */
  readonly read: (
    topic: string,
    partition: number,
    fetchOffset: number,
    maxBytes: number,
    minOneBatch: boolean,
    maxOffset?: number
  ) => Effect.Effect<FetchData, PartitionNotFound | OffsetOutOfRange | LogCorrupted | LogIoError>
  /**
   * ListOffsets for one partition. `timestamp` is a time or one of LATEST (-1: the high
   * watermark, or the last stable offset for read_committed), EARLIEST (-2) / EARLIEST_LOCAL
   * (-4: the log start offset), MAX_TIMESTAMP (-3). No match is reported as offset -1 and
   * timestamp -1, as on the wire. With read_committed (isolation level 1) a time lookup
   * only finds offsets below the last stable offset, as in Kafka.
   */
  readonly listOffsets: (
    topic: string,
    partition: number,
    timestamp: number,
    isolationLevel?: number
  ) => Effect.Effect<TimestampAndOffset, PartitionNotFound | LogCorrupted | LogIoError>
  /** Per producer of the partition: epoch, last sequence, open transaction (for DescribeProducers). */
  readonly activeProducers: (topic: string, partition: number) => Effect.Effect<Array<ActiveProducerState>, PartitionNotFound>
  /** Forgets producers idle longer than producer.id.expiration.ms, in every log; returns how many. */
  readonly removeExpiredProducers: (now: number) => Effect.Effect<number>
  /** DeleteRecords: returns the new log start offset (low watermark), once the dir's checkpoints hold it. */
  readonly deleteRecords: (
    topic: string,
    partition: number,
    offset: number
  ) => Effect.Effect<number, PartitionNotFound | OffsetOutOfRange | LogIoError>
  /**
   * Finds every partition directory not yet known; done once when the layer starts. A log
   * found this way opens (reads its files, recovers after a crash) on first use, or when
   * `openPending` gets to it.
   */
  readonly loadAll: () => Effect.Effect<LoadResult, LogIoError>
  /**
   * Start-up reconciliation of a partition the metadata image names: a log found on disk is
   * checked against `topicId` and given `overrides` when it opens (now, if it already is); a
   * missing one is created.
   */
  readonly adoptPartition: (
    topic: string,
    partition: number,
    topicId: string,
    overrides?: Partial<LogConfig>
  ) => Effect.Effect<void, InconsistentTopicId | LogCorrupted | LogIoError>
  /** Runs `f` on the log once it is open: at once if it is, else when it opens; never for an unknown partition. */
  readonly whenOpen: (topic: string, partition: number, f: (log: PartitionLog) => void) => void
  /** Every partition this store holds, open or not yet opened (offline ones included). */
  readonly hosted: () => ReadonlyArray<{ readonly topic: string; readonly partition: number }>
  /** Opens up to `max` of the logs not opened yet; returns how many are still closed. */
  readonly openPending: (max: number) => number
  /** Runs retention over all logs; returns the number of segments deleted. */
  readonly enforceRetention: (now: number) => Effect.Effect<number, LogIoError>
  /** Applies flush.ms to idle logs (appends check it themselves). */
  readonly flushDue: (now: number) => Effect.Effect<void, LogIoError>
  /** Writes the recovery-point, log-start-offset and replication-offset checkpoints. */
  readonly checkpoint: () => Effect.Effect<void, LogIoError>
  /** Log dirs taken offline by an I/O error (absolute paths), until the broker restarts. */
  readonly offlineLogDirs: () => ReadonlyArray<string>
  /** Takes a log dir offline after an I/O error met outside the logs' own calls (the cleaner's). */
  readonly failLogDir: (logDir: string, message: string, cause: unknown) => void
  /** Store-wide append notification (for fetch sessions spanning partitions). */
  readonly onAppend: (listener: (log: PartitionLog) => void) => () => void
}

interface DirState {
  readonly path: string
  cleanShutdown: boolean
  /** Whether the dir had the clean-shutdown marker at start-up: logs opened later skip recovery then. */
  readonly cleanAtStart: boolean
  /** Checkpoint entries read at start-up, kept for partitions that failed to open. */
  readonly recoveryPoints: Map<string, number>
  readonly logStartOffsets: Map<string, number>
  /** replication-offset-checkpoint as read at start-up: written back for logs not opened yet. */
  readonly highWatermarks: Map<string, number>
  /** Partitions found here that could not be opened: the dir must not be marked clean. */
  readonly failed: Set<string>
  /** Whether every partition directory here has been looked at (else no clean marker). */
  loaded: boolean
  /** The checkpoint whose writes, fsyncs and renames are on the thread pool (one per dir at a time, until its last call is answered). */
  checkpointing: { readonly batch: SyncBatch; readonly done: Promise<void> } | undefined
  /** A thread-pool checkpoint asked for and not yet started (checkpointSoon): later askers share it. */
  nextCheckpoint: Promise<void> | undefined
}

interface Entry {
  readonly topic: string
  readonly partition: number
  readonly dir: DirState
  /**
   * Undefined until the log is first used: a 10 000-partition directory starts without
   * reading 10 000 partitions' files (Kafka's own start reads them all before serving).
   */
  log: PartitionLog | undefined
  unsubscribe: () => void
  /** Start-up reconciliation for a log not opened yet: checked and applied when it opens. */
  expectedTopicId?: string
  overrides?: Partial<LogConfig>
  onOpen?: Array<(log: PartitionLog) => void>
}

type OpenEntry = Entry & { log: PartitionLog }

/** findPartition remembers the keys of partitions below this index (a request's index is not bounded). */
const MEMOIZED_PARTITIONS = 1 << 16

const errnoPath = (e: unknown): string => {
  const p = (e as NodeJS.ErrnoException | null)?.path
  return typeof p === "string" ? p : ""
}

const isErrno = (e: unknown): e is NodeJS.ErrnoException =>
  e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string"

const toLogStoreError = (topic: string, partition: number, operation: string, e: unknown): LogStoreError | null => {
  if (e instanceof OffsetOutOfRangeError) {
    return new OffsetOutOfRange({ topic, partition, offset: e.offset, logStartOffset: e.logStartOffset, logEndOffset: e.logEndOffset })
  }
  if (e instanceof InvalidBatchError) {
    const f = e.failure
    return new InvalidRecordBatch({ topic, partition, code: f.code, reason: f.reason, message: f.message, batchIndex: f.batchIndex })
  }
  if (e instanceof ProducerStateError) return new ProducerStateRejected({ topic, partition, code: e.errorName, message: e.message })
  if (e instanceof RecordBatchTooLargeError) return new RecordListTooLarge({ topic, partition, size: e.size })
  if (e instanceof InconsistentTopicIdError) return new InconsistentTopicId({ topic, partition, message: e.message })
  if (e instanceof UnreadableSegmentError || e instanceof CheckpointFormatError) {
    return new LogCorrupted({ topic, partition, message: e.message })
  }
  if (isErrno(e)) return new LogIoError({ operation, path: errnoPath(e), message: e.message, cause: e })
  if (e instanceof KafkaStorageError) return new LogIoError({ operation, path: "", message: e.message, cause: e })
  return null
}

/**
 * Runs `thunk` as one Effect, turning the plain errors of the log into the tagged errors
 * listed in `tags`; anything else is a defect.
 */
const attempt = <A, const T extends LogStoreError["_tag"]>(
  topic: string,
  partition: number,
  operation: string,
  tags: ReadonlyArray<T>,
  thunk: () => A
): Effect.Effect<A, Extract<LogStoreError, { readonly _tag: T }>> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(thunk())
    } catch (e) {
      const mapped = toLogStoreError(topic, partition, operation, e)
      if (mapped !== null && (tags as ReadonlyArray<string>).includes(mapped._tag)) {
        return Effect.fail(mapped as Extract<LogStoreError, { readonly _tag: T }>)
      }
      return Effect.die(e)
    }
  })

const IO: ReadonlyArray<"LogIoError"> = ["LogIoError"]

/** Temporaries of the thread-pool checkpoint write, distinct from the synchronous (start-up and shutdown) writers' ".tmp". */
const PERIODIC_CHECKPOINT_TMP_SUFFIX = ".periodic.tmp"

/** How long after start-up the logs not yet used start being opened in the background, and how many per turn. */
const BACKGROUND_OPEN_DELAY = Duration.seconds(1)
const BACKGROUND_OPEN_CHUNK = 50

const readCheckpointLenient = (file: string, warnings: Array<string>, io: FileIoShape): Map<string, number> => {
  try {
    return readOffsetCheckpoint(file, io)
  } catch (e) {
    if (e instanceof CheckpointFormatError) {
      warnings.push(`${e.message}; ignoring it (all segments will be recovered)`)
      return new Map()
    }
    throw e
  }
}

const make = (options: LogStoreOptions) =>
  Effect.gen(function*() {
    const config: LogConfig = {
      ...defaultLogConfig,
      ...Object.fromEntries(Object.entries(options).filter(([k, v]) => k !== "logDirs" && k !== "indexMemoryMaxBytes" && v !== undefined))
    }
    const io = yield* FileIo.current
    const fatal = yield* FatalFault.current
    const runLog = Effect.runSyncWith(yield* Effect.context<never>())
    const indexResidency = new IndexResidency(options.indexMemoryMaxBytes, (message) => runLog(Effect.logWarning(message)))
    const failures = new LogDirFailureChannel()
    const metadataLogDir = options.metadataLogDir === undefined ? undefined : path.resolve(options.metadataLogDir)
    const logs = new Map<string, Entry>()
    /**
     * The `logs` keys findPartition has looked up, by topic and partition: Produce and Fetch look
     * partitions up on every request, where building and hashing "<topic>-<partition>" each time
     * was a visible part of a small request's cost. Only keys of logs that exist are kept.
     */
    const lookupKeys = new Map<string, Array<string>>()
    const listeners = new Set<(log: PartitionLog) => void>()
    const dirs: Array<DirState> = []

    const startWarnings = yield* attempt("", -1, "open log dirs", IO, () => {
      const warnings: Array<string> = []
      for (const logDir of options.logDirs) {
        const dirPath = path.resolve(logDir)
        io.mkdirSync(dirPath, { recursive: true })
        const cleanShutdown = io.existsSync(path.join(dirPath, CLEAN_SHUTDOWN_FILE))
        dirs.push({
          path: dirPath,
          cleanShutdown,
          cleanAtStart: cleanShutdown,
          recoveryPoints: readCheckpointLenient(path.join(dirPath, RECOVERY_POINT_CHECKPOINT_FILE), warnings, io),
          logStartOffsets: readCheckpointLenient(path.join(dirPath, LOG_START_OFFSET_CHECKPOINT_FILE), warnings, io),
          highWatermarks: readCheckpointLenient(path.join(dirPath, REPLICATION_OFFSET_CHECKPOINT_FILE), warnings, io),
          failed: new Set(),
          loaded: false,
          checkpointing: undefined,
          nextCheckpoint: undefined
        })
      }
      return warnings
    })
    for (const w of startWarnings) yield* Effect.logWarning(w)

    // Kafka's LogManager/ReplicaManager.handleLogDirFailure: stop serving every log of the
    // dir; halt when it holds the metadata log or when no log dir is left.
    failures.onOffline((dirPath, message, cause) => {
      const offline: Array<string> = []
      for (const [key, entry] of logs) {
        if (entry.dir.path !== dirPath) continue
        // A log not opened yet stays closed: opening it checks the dir first.
        entry.log?.markOffline()
        offline.push(key)
      }
      runLog(Effect.logError(`${message}: ${cause instanceof Error ? cause.message : String(cause)}`))
      runLog(Effect.logWarning(`Logs for partitions ${offline.join(",")} are offline due to failure on log directory ${dirPath}`))
      const reason = dirPath === metadataLogDir
        ? `Shutdown broker because the metadata log dir ${dirPath} has failed`
        : dirs.every((d) => failures.hasOfflineLogDir(d.path))
        ? `Shutdown broker because all log dirs in ${dirs.map((d) => d.path).join(", ")} have failed`
        : null
      if (reason !== null) {
        runLog(Effect.logError(reason))
        fatal.halt(reason)
      }
    })

    /** Runs dir-level file work (checkpoints); an I/O error takes the dir offline. */
    const inDir = <A>(dir: DirState, what: string, f: () => A): A => {
      if (failures.hasOfflineLogDir(dir.path)) throw LogDirFailureChannel.offlineError(dir.path)
      try {
        return f()
      } catch (e) {
        if (!isErrno(e)) throw e
        const message = `Error while ${what} in dir ${dir.path}`
        failures.maybeAddOfflineLogDir(dir.path, message, e)
        throw new KafkaStorageError(`${message}: ${e.message}`, { cause: e })
      }
    }

    /** Runs `f`, skipping (not failing on) a log whose dir is or goes offline: periodic work continues elsewhere. */
    const unlessOffline = (f: () => void): void => {
      try {
        f()
      } catch (e) {
        if (!(e instanceof KafkaStorageError)) throw e
      }
    }

    const register = (log: PartitionLog, dir: DirState): OpenEntry => {
      const entry: OpenEntry = { topic: log.topic, partition: log.partition, dir, log, unsubscribe: () => {} }
      subscribe(entry)
      logs.set(partitionKey(log.topic, log.partition), entry)
      return entry
    }

    const subscribe = (entry: OpenEntry): void => {
      const log = entry.log
      entry.unsubscribe = log.onAppend(() => {
        for (const listener of listeners) listener(log)
      })
    }

    /** Logs opened later than start-up say what opening found through the broker's log. */
    const logWarnings = (warnings: ReadonlyArray<string>): void => {
      for (const w of warnings) runLog(Effect.logWarning(w))
    }

    /**
     * Opens a log found at start-up, as loadAll used to for every one of them: with the dir's
     * start-up clean-shutdown state and checkpoints (nothing has touched its files since).
     * A log that cannot be opened leaves the store and is left offline, as at start-up.
     */
    const openEntry = (key: string, entry: Entry, now: number): PartitionLog | undefined => {
      if (entry.log !== undefined) return entry.log
      const dir = entry.dir
      const full = path.join(dir.path, key)
      if (failures.hasOfflineLogDir(dir.path)) return undefined
      let log: PartitionLog
      try {
        log = PartitionLog.open(full, entry.overrides === undefined ? config : { ...config, ...entry.overrides }, {
          now,
          io,
          failures,
          indexResidency,
          cleanShutdown: dir.cleanAtStart,
          ...(entry.expectedTopicId !== undefined ? { topicId: entry.expectedTopicId } : {}),
          ...(options.producerIdExpirationMs !== undefined ? { producerIdExpirationMs: options.producerIdExpirationMs } : {}),
          ...(dir.recoveryPoints.has(key) ? { recoveryPoint: dir.recoveryPoints.get(key)! } : {}),
          ...(dir.logStartOffsets.has(key) ? { logStartOffset: dir.logStartOffsets.get(key)! } : {})
        })
      } catch (e) {
        if (toLogStoreError(entry.topic, entry.partition, "open", e) === null) throw e
        logs.delete(key)
        dir.failed.add(key)
        logWarnings([`${full}: cannot be opened, partition left offline: ${(e as Error).message}`])
        return undefined
      }
      entry.log = log
      subscribe(entry as OpenEntry)
      logWarnings(log.openWarnings)
      const pending = entry.onOpen
      delete entry.expectedTopicId
      delete entry.overrides
      delete entry.onOpen
      if (pending !== undefined) for (const f of pending) f(log)
      return log
    }

    const nowUnsafe = (): number => runLog(Clock.currentTimeMillis)
    const logOf = (key: string, entry: Entry): PartitionLog | undefined => entry.log ?? openEntry(key, entry, nowUnsafe())
    /** Opens every log not opened yet (for callers that walk all of them). */
    const openAll = (): void => {
      let now: number | undefined
      for (const [key, entry] of logs) if (entry.log === undefined) openEntry(key, entry, now ??= nowUnsafe())
    }

    /**
     * Writes the dir's three offset checkpoints. Synchronously (fsyncs included) unless `later`
     * is given. The synchronous writes are start-up's, before any run on the thread pool, and
     * shutdown's, after every such run settled (checkpointsSettled); every other writer goes
     * through checkpointLater, one run per dir at a time, so an older rename never lands over
     * newer content.
     */
    const writeCheckpoints = (dir: DirState, later?: Deferred): void => inDir(dir, "writing checkpoints", () => {
      const recovery = new Map(dir.recoveryPoints)
      const starts = new Map(dir.logStartOffsets)
      const replication = new Map<string, number>()
      for (const [key, entry] of logs) {
        if (entry.dir !== dir) continue
        if (entry.log === undefined) {
          // Not opened since start-up: its files, and so its checkpoint entries, are as they were.
          const hw = dir.highWatermarks.get(key)
          if (hw !== undefined) replication.set(key, hw)
          continue
        }
        recovery.set(key, entry.log.recoveryPoint)
        starts.set(key, entry.log.logStartOffset)
        replication.set(key, entry.log.highWatermark)
      }
      // Only partitions that still exist in this dir keep an entry.
      const live = (m: Map<string, number>) =>
        [...m].flatMap(([key, offset]) => {
          const entry = logs.get(key)
          if (entry?.dir === dir) return [{ topic: entry.topic, partition: entry.partition, offset }]
          if (!dir.failed.has(key)) return []
          const parsed = parsePartitionDirName(key)!
          return [{ topic: parsed.topic, partition: parsed.partition, offset }]
        })
      // The periodic write has its own temporaries: a thread-pool write still landing in one
      // after a synchronous writer took over must never reach the inode that writer renames.
      const tmp = later === undefined ? ".tmp" : PERIODIC_CHECKPOINT_TMP_SUFFIX
      writeOffsetCheckpoint(path.join(dir.path, RECOVERY_POINT_CHECKPOINT_FILE), live(recovery), io, later, tmp)
      writeOffsetCheckpoint(path.join(dir.path, LOG_START_OFFSET_CHECKPOINT_FILE), live(starts), io, later, tmp)
      writeOffsetCheckpoint(path.join(dir.path, REPLICATION_OFFSET_CHECKPOINT_FILE), live(replication), io, later, tmp)
    })

    /**
     * The periodic checkpoint (Kafka's log.flush.offset.checkpoint.interval.ms): the files'
     * content is taken now; creating and writing the temporaries, their fsyncs, the renames and
     * the dir's fsync run on libuv's thread pool, so that a busy disk (tens of ms per fsync,
     * milliseconds per rename) stalls no connection. The recovery points it names are already
     * forced (a log moves its recovery point only once its flush completed). One per dir at a
     * time; an I/O error takes the dir offline, as the synchronous write does. Never rejects.
     */
    const checkpointLater = async (dir: DirState): Promise<void> => {
      while (dir.checkpointing !== undefined) await dir.checkpointing.done
      if (failures.hasOfflineLogDir(dir.path)) return
      const batch = new SyncBatch()
      try {
        writeCheckpoints(dir, { batch, owner: dir.path })
      } catch (e) {
        // inDir has taken the dir offline (an I/O error) or it was offline already.
        if (e instanceof KafkaStorageError) return
        throw e
      }
      const done = batch.run(io).then((failed) => {
        if (dir.checkpointing?.batch === batch) dir.checkpointing = undefined
        const e = failed.get(dir.path)
        if (e !== undefined) failures.maybeAddOfflineLogDir(dir.path, `Error while writing checkpoints in dir ${dir.path}`, e)
      })
      dir.checkpointing = { batch, done }
      await done
    }

    /** Waits for the periodic checkpoints in flight (before a shutdown writes its own). */
    const checkpointsSettled = (): Promise<unknown> => Promise.all(dirs.map((d) => d.checkpointing?.done))

    const nothingToCheckpoint = (dir: DirState): boolean => {
      if (dir.recoveryPoints.size > 0 || dir.logStartOffsets.size > 0 || dir.highWatermarks.size > 0) return false
      for (const entry of logs.values()) if (entry.dir === dir) return false
      return true
    }

    const loadAll = (): Effect.Effect<LoadResult, LogIoError> =>
      Effect.suspend(() =>
        attempt("", -1, "load logs", IO, () => {
          const warnings: Array<string> = []
          let loaded = 0
          for (const dir of dirs) {
            for (const entry of io.readdirSync(dir.path, { withFileTypes: true })) {
              if (!entry.isDirectory()) continue
              const name = entry.name
              const full = path.join(dir.path, name)
              if (name.endsWith("-delete")) {
                // A partition deletion interrupted by a crash (or still running when the broker
                // stopped): finish it.
                removeInBackground(io, full)
                warnings.push(`${full}: removed a partition directory pending deletion`)
                continue
              }
              if (name.endsWith("-future") || name.endsWith("-stray")) {
                warnings.push(`${full}: skipped (${name.slice(name.lastIndexOf("-") + 1)} log)`)
                continue
              }
              if (name === METADATA_PARTITION_DIR) continue
              const parsed = parsePartitionDirName(name)
              if (parsed === null) continue
              const key = partitionKey(parsed.topic, parsed.partition)
              const existing = logs.get(key)
              if (existing !== undefined) {
                if (existing.dir !== dir) warnings.push(`${full}: duplicate of ${path.join(existing.dir.path, key)}, skipped`)
                continue
              }
              logs.set(key, { topic: parsed.topic, partition: parsed.partition, dir, log: undefined, unsubscribe: () => {} })
              dir.failed.delete(key)
              loaded++
            }
            // After an unclean stop every log is recovered now, as Kafka's start does: what a crash
            // left (torn tails, indexes) is repaired before anything is served or read from disk.
            // After a clean one the files are consistent and each log opens when first used.
            if (!dir.cleanAtStart) {
              const now = nowUnsafe()
              for (const [key, entry] of logs) if (entry.dir === dir && entry.log === undefined) openEntry(key, entry, now)
            }
            dir.loaded = true
            if (dir.cleanShutdown) {
              // From now on a crash must trigger recovery on the next start.
              io.rmSync(path.join(dir.path, CLEAN_SHUTDOWN_FILE), { force: true })
              dir.cleanShutdown = false
            }
            // After a clean stop nothing has been opened or recovered: the checkpoint files hold
            // what they would be rewritten with (10 000 partitions make that ~0.2 s of a start).
            // A directory with no partition and no checkpoint entry (a fresh one) would get three
            // empty files, which read as missing ones do: six fsyncs of a first start saved.
            if (!dir.cleanAtStart && !nothingToCheckpoint(dir)) writeCheckpoints(dir)
          }
          return { loaded, warnings }
        })
      ).pipe(Effect.tap((result) => Effect.forEach(result.warnings, (w) => Effect.logWarning(w), { discard: true })))

    // As Kafka's shutdown: every log is flushed (here: closed with its fsyncs gathered, then
    // forced together, many at a time) before checkpoints and the clean-shutdown marker.
    const closeAll = Effect.suspend(() => {
      const problems: Array<string> = []
      const started = performance.now()
      const syncs = new SyncBatch()
      const closing = new Map<string, OpenEntry>()
      for (const [key, entry] of logs) {
        entry.unsubscribe()
        if (entry.log === undefined) {
          // Untouched since start-up; after an unclean stop it was never recovered, so the dir
          // must not be marked clean.
          if (!entry.dir.cleanAtStart) entry.dir.failed.add(key)
          continue
        }
        try {
          entry.log.close({ batch: syncs, owner: key })
          closing.set(key, entry as OpenEntry)
        } catch (e) {
          entry.dir.failed.add(key)
          problems.push(`${entry.log.dir}: close failed: ${(e as Error).message}`)
        }
      }
      const closed = performance.now()
      return Effect.promise(() => Promise.all([syncs.run(io), checkpointsSettled()])).pipe(
        Effect.map(([failedSyncs]) => failedSyncs),
        Effect.flatMap((failedSyncs) => {
          for (const [key, e] of failedSyncs) {
            const entry = closing.get(key)
            if (entry === undefined) continue
            entry.dir.failed.add(key)
            problems.push(`${entry.log.dir}: close failed: ${e.message}`)
          }
          const synced = performance.now()
          return writeShutdownCheckpoints(problems).pipe(
            Effect.andThen(Effect.logInfo(
              `Closed ${closing.size} logs in ${Math.round(closed - started)} ms, then forced ${syncs.describe()} in ${Math.round(synced - closed)} ms`
            ))
          )
        })
      )
    })

    const writeShutdownCheckpoints = (problems: Array<string>) => Effect.suspend(() => {
      for (const dir of dirs) {
        // An offline dir is left as the failure found it: no checkpoints, no clean-shutdown marker.
        if (failures.hasOfflineLogDir(dir.path)) continue
        try {
          writeCheckpoints(dir)
          if (dir.loaded && dir.failed.size === 0) {
            writeFileAtomically(path.join(dir.path, CLEAN_SHUTDOWN_FILE), `{"version":0,"brokerEpoch":-1}`, io)
          }
        } catch (e) {
          problems.push(`${dir.path}: writing shutdown checkpoints failed: ${(e as Error).message}`)
        }
      }
      logs.clear()
      return Effect.forEach(problems, (p) => Effect.logError(p), { discard: true })
    })

    yield* Effect.addFinalizer(() => closeAll)
    yield* loadAll()

    // Looked up when the effect runs, not when it is built: an effect made before the
    // partition exists (e.g. sequenced after its creation) must find it.
    const entryOf = (topic: string, partition: number): Effect.Effect<OpenEntry, PartitionNotFound> =>
      Effect.suspend(() => {
        const key = partitionKey(topic, partition)
        const entry = logs.get(key)
        return entry === undefined || logOf(key, entry) === undefined
          ? Effect.fail(new PartitionNotFound({ topic, partition }))
          : Effect.succeed(entry as OpenEntry)
      })

    const createPartition = (topic: string, partition: number, topicId: string, overrides?: Partial<LogConfig>) =>
      Clock.clockWith((clock) =>
        attempt(topic, partition, "create partition", ["InconsistentTopicId", "LogCorrupted", "LogIoError"], () => {
          const key = partitionKey(topic, partition)
          const broken = dirs.find((d) => d.failed.has(key))
          if (broken !== undefined) {
            throw new UnreadableSegmentError(`${path.join(broken.path, key)} exists but could not be opened`)
          }
          const existing = logs.get(key)
          if (existing !== undefined) {
            if (existing.log === undefined && failures.hasOfflineLogDir(existing.dir.path)) throw LogDirFailureChannel.offlineError(existing.dir.path)
            const log = logOf(key, existing)
            if (log === undefined) throw new UnreadableSegmentError(`${path.join(existing.dir.path, key)} exists but could not be opened`)
            if (log.isOffline) throw LogDirFailureChannel.offlineError(log.logDir)
            if (log.topicId !== null && log.topicId !== topicId) {
              throw new InconsistentTopicIdError(`${log.dir} belongs to topic id ${log.topicId}, not ${topicId}`)
            }
            if (overrides !== undefined) log.config = { ...log.config, ...overrides }
            return log
          }
          // Kafka places a new partition in the log dir holding the fewest partitions.
          const live = dirs.filter((d) => !failures.hasOfflineLogDir(d.path))
          if (live.length === 0) throw new KafkaStorageError("No log directory is online")
          let target = live[0]!
          // With one dir there is nothing to count: a walk over every log per partition made
          // creating 10 000 partitions quadratic (3 s of a CreateTopics profile).
          if (live.length > 1) {
            const counts = new Map<DirState, number>(live.map((d) => [d, 0]))
            for (const entry of logs.values()) if (counts.has(entry.dir)) counts.set(entry.dir, counts.get(entry.dir)! + 1)
            for (const d of live) if (counts.get(d)! < counts.get(target)!) target = d
          }
          const log = PartitionLog.create(target.path, topic, partition, topicId, { ...config, ...overrides }, clock.currentTimeMillisUnsafe(), options.producerIdExpirationMs, io, failures, indexResidency)
          register(log, target)
          return log
        })
      ).pipe(Effect.tap((log) => Effect.forEach(log.openWarnings, (w) => Effect.logWarning(w), { discard: true })))

    const adoptPartition = (topic: string, partition: number, topicId: string, overrides?: Partial<LogConfig>) =>
      Effect.suspend(() => {
        const entry = logs.get(partitionKey(topic, partition))
        if (entry === undefined || entry.log !== undefined) return Effect.asVoid(createPartition(topic, partition, topicId, overrides))
        entry.expectedTopicId = topicId
        if (overrides !== undefined) entry.overrides = { ...entry.overrides, ...overrides }
        return Effect.void
      })

    const whenOpen = (topic: string, partition: number, f: (log: PartitionLog) => void): void => {
      const entry = logs.get(partitionKey(topic, partition))
      if (entry === undefined) return
      if (entry.log !== undefined) f(entry.log)
      else (entry.onOpen ??= []).push(f)
    }

    const openPending = (max: number): number => {
      let opened = 0
      let remaining = 0
      let now: number | undefined
      for (const [key, entry] of logs) {
        if (entry.log !== undefined || failures.hasOfflineLogDir(entry.dir.path)) continue
        if (opened < max) {
          openEntry(key, entry, now ??= nowUnsafe())
          opened++
        } else remaining++
      }
      return remaining
    }

    const deletePartition = (topic: string, partition: number) =>
      attempt(topic, partition, "delete partition", IO, (): DirState | undefined => {
        const key = partitionKey(topic, partition)
        const found = logs.get(key)
        // A log not opened yet is opened to be deleted: its files go the same way as any log's.
        if (found === undefined || logOf(key, found) === undefined) return undefined
        const entry = found as OpenEntry
        logs.delete(key)
        lookupKeys.delete(topic)
        entry.unsubscribe()
        // Files in a failed dir are left alone (Kafka cannot delete them either).
        if (entry.log.isOffline) return undefined
        entry.dir.recoveryPoints.delete(key)
        entry.dir.logStartOffsets.delete(key)
        entry.log.deleteFromDisk()
        return entry.dir
      }).pipe(Effect.andThen((dir) => dir === undefined ? Effect.void : checkpointSoon(dir, topic, partition, "delete partition")))

    const append = (topic: string, partition: number, bytes: Uint8Array, input?: AppendInput) =>
      Effect.flatMap(entryOf(topic, partition), (entry) =>
        Clock.clockWith((clock) =>
          attempt(topic, partition, "append", ["InvalidRecordBatch", "ProducerStateRejected", "RecordListTooLarge", "LogCorrupted", "LogIoError"], () =>
            entry.log.append(bytes, {
              now: clock.currentTimeMillisUnsafe(),
              ...(input?.validated !== undefined ? { validated: input.validated } : {}),
              ...(input?.leaderEpoch !== undefined ? { leaderEpoch: input.leaderEpoch } : {}),
              ...(input?.origin !== undefined ? { origin: input.origin } : {})
            })
          )
        )
      )

    const read = (topic: string, partition: number, fetchOffset: number, maxBytes: number, minOneBatch: boolean, maxOffset?: number) =>
      Effect.flatMap(entryOf(topic, partition), (entry) =>
        attempt(topic, partition, "read", ["OffsetOutOfRange", "LogCorrupted", "LogIoError"], () =>
          entry.log.read(fetchOffset, maxBytes, minOneBatch, maxOffset)
        )
      )

    const listOffsets = (topic: string, partition: number, timestamp: number, isolationLevel = 0) =>
      Effect.flatMap(entryOf(topic, partition), (entry) =>
        attempt(topic, partition, "list offsets", ["LogCorrupted", "LogIoError"], (): TimestampAndOffset => {
          const log = entry.log
          const lastFetchable = isolationLevel === READ_COMMITTED ? log.lastStableOffset : log.highWatermark
          switch (timestamp) {
            case LATEST_TIMESTAMP:
              return { offset: lastFetchable, timestamp: -1 }
            case EARLIEST_TIMESTAMP:
            case EARLIEST_LOCAL_TIMESTAMP:
              return { offset: log.logStartOffset, timestamp: -1 }
            case MAX_TIMESTAMP:
              return log.maxTimestampOffset() ?? { offset: -1, timestamp: -1 }
            case LATEST_TIERED_TIMESTAMP:
              return { offset: -1, timestamp: -1 }
            default: {
              const found = log.offsetForTimestamp(timestamp)
              return found !== null && found.offset < lastFetchable ? found : { offset: -1, timestamp: -1 }
            }
          }
        })
      )

    const activeProducers = (topic: string, partition: number) =>
      Effect.map(entryOf(topic, partition), (entry) => entry.log.activeProducers())

    const removeExpiredProducers = (now: number) =>
      Effect.sync(() => {
        let removed = 0
        for (const entry of logs.values()) if (entry.log !== undefined && !entry.log.isClosed) removed += entry.log.removeExpiredProducers(now)
        return removed
      })

    const deleteRecords = (topic: string, partition: number, offset: number) =>
      Effect.flatMap(entryOf(topic, partition), (entry) =>
        attempt(topic, partition, "delete records", ["OffsetOutOfRange", "LogIoError"], () => {
          const before = entry.log.logStartOffset
          return { low: entry.log.deleteRecords(offset), moved: entry.log.logStartOffset !== before }
        }).pipe(
          // Durable before it is answered: after a crash the old start offset would expose deleted records.
          Effect.andThen(({ low, moved }) => moved ? Effect.as(checkpointSoon(entry.dir, topic, partition, "delete records"), low) : Effect.succeed(low))
        )
      )

    const enforceRetention = (now: number) =>
      attempt("", -1, "retention", IO, () => {
        let deleted = 0
        const touched = new Set<DirState>()
        openAll()
        for (const entry of logs.values()) {
          const log = entry.log
          // A compact-only log keeps its segments: the cleaner bounds it, not retention
          // (Kafka's UnifiedLog.deleteOldSegments without the delete policy).
          if (log === undefined || log.isOffline) continue
          unlessOffline(() => {
            const n = log.config.cleanupPolicy.includes("delete")
              ? log.deleteOldSegments(now)
              : log.deleteOldSegments(now, -1, -1)
            if (n > 0) {
              deleted += n
              touched.add(entry.dir)
            }
          })
        }
        return { deleted, touched }
      }).pipe(
        Effect.andThen(({ deleted, touched }) =>
          Effect.as(Effect.forEach(touched, (dir) => Effect.ignore(checkpointSoon(dir, "", -1, "retention")), { discard: true, concurrency: "unbounded" }), deleted)
        )
      )

    const flushDue = (now: number) =>
      attempt("", -1, "flush", IO, () => {
        for (const entry of logs.values()) {
          const log = entry.log
          // A log not opened yet has nothing unflushed.
          if (log !== undefined && !log.isOffline) unlessOffline(() => log.maybeFlush(now))
        }
      })

    /**
     * The dir's offset checkpoints, written with every change made before this call, for the
     * changes that must be durable before they are answered (partition deletion, DeleteRecords,
     * retention). On the thread pool (checkpointLater): a busy disk takes tens to hundreds of
     * ms per fsync, and the event loop serves every other connection meanwhile. Callers asking
     * while such a run waits for the one in flight share it (a topic's partitions deleted
     * together write the files once or twice, not once each). Fails as the synchronous write
     * did when the dir is or went offline.
     */
    const checkpointSoon = (dir: DirState, topic: string, partition: number, operation: string): Effect.Effect<void, LogIoError> =>
      Effect.andThen(
        Effect.promise(() => {
          if (dir.nextCheckpoint !== undefined) return dir.nextCheckpoint
          let next: Promise<void> | undefined = undefined
          next = (async () => {
            await undefined // after `dir.nextCheckpoint = next` below
            while (dir.checkpointing !== undefined) await dir.checkpointing.done
            // From here on the files' content is taken: a later change needs a later run.
            if (dir.nextCheckpoint === next) dir.nextCheckpoint = undefined
            await checkpointLater(dir)
          })()
          dir.nextCheckpoint = next
          return next
        }),
        attempt(topic, partition, operation, IO, () => {
          if (failures.hasOfflineLogDir(dir.path)) throw LogDirFailureChannel.offlineError(dir.path)
        })
      )

    const checkpoint = () =>
      Effect.promise(() => Promise.all(dirs.map((dir) => failures.hasOfflineLogDir(dir.path) ? undefined : checkpointLater(dir)))).pipe(
        Effect.asVoid
      )

    // The logs nobody has asked for yet are opened in the background once start-up is over,
    // a chunk per event-loop turn, so that retention, the cleaner and metrics find them open
    // and no later request pays for a long run of them.
    if (logs.size > 0) {
      yield* Effect.forkScoped(Effect.gen(function*() {
        yield* Effect.sleep(BACKGROUND_OPEN_DELAY)
        while (openPending(BACKGROUND_OPEN_CHUNK) > 0) yield* yieldToEventLoop
      }))
    }

    return LogStore.of({
      createPartition,
      deletePartition,
      getPartition: (topic, partition) => Effect.map(entryOf(topic, partition), (e) => e.log),
      findPartition: (topic, partition) => {
        let keys = lookupKeys.get(topic)
        const known = keys?.[partition]
        const key = known ?? partitionKey(topic, partition)
        const entry = logs.get(key)
        if (entry === undefined) return undefined
        if (known === undefined && partition >= 0 && partition < MEMOIZED_PARTITIONS) {
          if (keys === undefined) lookupKeys.set(topic, (keys = []))
          keys[partition] = key
        }
        return logOf(key, entry)
      },
      // Logs of an offline dir are out of service (Kafka removes them); findPartition still knows them.
      partitions: () => {
        openAll()
        const out: Array<PartitionLog> = []
        for (const e of logs.values()) if (e.log !== undefined && !e.log.isOffline) out.push(e.log)
        return out
      },
      indexMemory: () => ({ bytes: indexResidency.bytes, segments: indexResidency.segments }),
      partitionsWhere: (wanted) => {
        const out: Array<PartitionLog> = []
        let now: number | undefined
        for (const [key, e] of logs) {
          const log = e.log !== undefined
            ? e.log
            : wanted(e.overrides === undefined ? config : { ...config, ...e.overrides })
            ? openEntry(key, e, now ??= nowUnsafe())
            : undefined
          if (log !== undefined && !log.isOffline && wanted(log.config)) out.push(log)
        }
        return out
      },
      hosted: () => [...logs.values()].map((e) => ({ topic: e.topic, partition: e.partition })),
      adoptPartition,
      whenOpen,
      openPending,
      offlineLogDirs: () => failures.offlineLogDirs(),
      failLogDir: (logDir, message, cause) => failures.maybeAddOfflineLogDir(path.resolve(logDir), message, cause),
      reconfigure: (topic, partition, overrides) =>
        Effect.suspend(() => {
          const entry = logs.get(partitionKey(topic, partition))
          if (entry === undefined) return Effect.fail(new PartitionNotFound({ topic, partition }))
          // Not opened yet: it opens with these settings.
          if (entry.log === undefined) entry.overrides = { ...entry.overrides, ...overrides }
          else entry.log.config = { ...entry.log.config, ...overrides }
          return Effect.void
        }),
      append,
      read,
      listOffsets,
      activeProducers,
      removeExpiredProducers,
      deleteRecords,
      loadAll,
      enforceRetention,
      flushDue,
      checkpoint,
      onAppend: (listener) => {
        listeners.add(listener)
        return () => {
          listeners.delete(listener)
        }
      }
    })
  })

export class LogStore extends Context.Service<LogStore, LogStoreShape>()("kafka-broker/log/LogStore") {
  /**
   * Opens the log dirs and every partition in them (recovering after a crash); on scope
   * close, flushes and closes all logs, writes checkpoints and the clean-shutdown marker.
   */
  static readonly layer = (options: LogStoreOptions): Layer.Layer<LogStore, LogIoError> => Layer.effect(LogStore, make(options))
}
