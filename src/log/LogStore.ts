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
import { Clock, Context, Effect, Layer } from "effect"
import { FatalFault } from "../lifecycle/FatalFault.ts"
import { FileIo, type FileIoShape } from "../storage/FileIo.ts"
import {
  CheckpointFormatError,
  CLEAN_SHUTDOWN_FILE,
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
  /** Closes the log and removes its directory; a missing partition is not an error. */
  readonly deletePartition: (topic: string, partition: number) => Effect.Effect<void, LogIoError>
  readonly getPartition: (topic: string, partition: number) => Effect.Effect<PartitionLog, PartitionNotFound>
  /** Plain lookup for hot paths that already run inside an Effect. */
  readonly findPartition: (topic: string, partition: number) => PartitionLog | undefined
  readonly partitions: () => ReadonlyArray<PartitionLog>
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
  /** DeleteRecords: returns the new log start offset (low watermark). */
  readonly deleteRecords: (
    topic: string,
    partition: number,
    offset: number
  ) => Effect.Effect<number, PartitionNotFound | OffsetOutOfRange | LogIoError>
  /** Opens every partition directory not yet open; done once when the layer starts. */
  readonly loadAll: () => Effect.Effect<LoadResult, LogIoError>
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
  /** Checkpoint entries read at start-up, kept for partitions that failed to open. */
  readonly recoveryPoints: Map<string, number>
  readonly logStartOffsets: Map<string, number>
  /** Partitions found here that could not be opened: the dir must not be marked clean. */
  readonly failed: Set<string>
  /** Whether every partition directory here has been looked at (else no clean marker). */
  loaded: boolean
}

interface Entry {
  readonly log: PartitionLog
  readonly dir: DirState
  readonly unsubscribe: () => void
}

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
      ...Object.fromEntries(Object.entries(options).filter(([k, v]) => k !== "logDirs" && v !== undefined))
    }
    const io = yield* FileIo.current
    const fatal = yield* FatalFault.current
    const runLog = Effect.runSyncWith(yield* Effect.context<never>())
    const failures = new LogDirFailureChannel()
    const metadataLogDir = options.metadataLogDir === undefined ? undefined : path.resolve(options.metadataLogDir)
    const logs = new Map<string, Entry>()
    const listeners = new Set<(log: PartitionLog) => void>()
    const dirs: Array<DirState> = []

    const startWarnings = yield* attempt("", -1, "open log dirs", IO, () => {
      const warnings: Array<string> = []
      for (const logDir of options.logDirs) {
        const dirPath = path.resolve(logDir)
        io.mkdirSync(dirPath, { recursive: true })
        dirs.push({
          path: dirPath,
          cleanShutdown: io.existsSync(path.join(dirPath, CLEAN_SHUTDOWN_FILE)),
          recoveryPoints: readCheckpointLenient(path.join(dirPath, RECOVERY_POINT_CHECKPOINT_FILE), warnings, io),
          logStartOffsets: readCheckpointLenient(path.join(dirPath, LOG_START_OFFSET_CHECKPOINT_FILE), warnings, io),
          failed: new Set(),
          loaded: false
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
        entry.log.markOffline()
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

    const register = (log: PartitionLog, dir: DirState): void => {
      const unsubscribe = log.onAppend(() => {
        for (const listener of listeners) listener(log)
      })
      logs.set(partitionKey(log.topic, log.partition), { log, dir, unsubscribe })
    }

    const writeCheckpoints = (dir: DirState): void => inDir(dir, "writing checkpoints", () => {
      const recovery = new Map(dir.recoveryPoints)
      const starts = new Map(dir.logStartOffsets)
      const replication = new Map<string, number>()
      for (const [key, entry] of logs) {
        if (entry.dir !== dir) continue
        recovery.set(key, entry.log.recoveryPoint)
        starts.set(key, entry.log.logStartOffset)
        replication.set(key, entry.log.highWatermark)
      }
      // Only partitions that still exist in this dir keep an entry.
      const live = (m: Map<string, number>) =>
        [...m].filter(([key]) => logs.get(key)?.dir === dir || dir.failed.has(key)).map(([key, offset]) => {
          const parsed = parsePartitionDirName(key)!
          return { topic: parsed.topic, partition: parsed.partition, offset }
        })
      writeOffsetCheckpoint(path.join(dir.path, RECOVERY_POINT_CHECKPOINT_FILE), live(recovery), io)
      writeOffsetCheckpoint(path.join(dir.path, LOG_START_OFFSET_CHECKPOINT_FILE), live(starts), io)
      writeOffsetCheckpoint(path.join(dir.path, REPLICATION_OFFSET_CHECKPOINT_FILE), live(replication), io)
    })

    const loadAll = (): Effect.Effect<LoadResult, LogIoError> =>
      Clock.clockWith((clock) =>
        attempt("", -1, "load logs", IO, () => {
          const now = clock.currentTimeMillisUnsafe()
          const warnings: Array<string> = []
          let loaded = 0
          for (const dir of dirs) {
            for (const entry of io.readdirSync(dir.path, { withFileTypes: true })) {
              if (!entry.isDirectory()) continue
              const name = entry.name
              const full = path.join(dir.path, name)
              if (name.endsWith("-delete")) {
                // A partition deletion interrupted by a crash: finish it.
                io.rmSync(full, { recursive: true, force: true })
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
                if (existing.dir !== dir) warnings.push(`${full}: duplicate of ${existing.log.dir}, skipped`)
                continue
              }
              try {
                const log = PartitionLog.open(full, config, {
                  now,
                  io,
                  failures,
                  cleanShutdown: dir.cleanShutdown,
                  ...(options.producerIdExpirationMs !== undefined ? { producerIdExpirationMs: options.producerIdExpirationMs } : {}),
                  ...(dir.recoveryPoints.has(key) ? { recoveryPoint: dir.recoveryPoints.get(key)! } : {}),
                  ...(dir.logStartOffsets.has(key) ? { logStartOffset: dir.logStartOffsets.get(key)! } : {})
                })
                for (const w of log.openWarnings) warnings.push(w)
                register(log, dir)
                dir.failed.delete(key)
                loaded++
              } catch (e) {
                if (toLogStoreError(parsed.topic, parsed.partition, "open", e) === null) throw e
                dir.failed.add(key)
                warnings.push(`${full}: cannot be opened, partition left offline: ${(e as Error).message}`)
              }
            }
            dir.loaded = true
            if (dir.cleanShutdown) {
              // From now on a crash must trigger recovery on the next start.
              io.rmSync(path.join(dir.path, CLEAN_SHUTDOWN_FILE), { force: true })
              dir.cleanShutdown = false
            }
            writeCheckpoints(dir)
          }
          return { loaded, warnings }
        })
      ).pipe(Effect.tap((result) => Effect.forEach(result.warnings, (w) => Effect.logWarning(w), { discard: true })))

    const closeAll = Effect.suspend(() => {
      const problems: Array<string> = []
      for (const [key, entry] of logs) {
        entry.unsubscribe()
        try {
          entry.log.close()
        } catch (e) {
          entry.dir.failed.add(key)
          problems.push(`${entry.log.dir}: close failed: ${(e as Error).message}`)
        }
      }
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
    const entryOf = (topic: string, partition: number): Effect.Effect<Entry, PartitionNotFound> =>
      Effect.suspend(() => {
        const entry = logs.get(partitionKey(topic, partition))
        return entry === undefined ? Effect.fail(new PartitionNotFound({ topic, partition })) : Effect.succeed(entry)
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
            if (existing.log.isOffline) throw LogDirFailureChannel.offlineError(existing.log.logDir)
            if (existing.log.topicId !== null && existing.log.topicId !== topicId) {
              throw new InconsistentTopicIdError(`${existing.log.dir} belongs to topic id ${existing.log.topicId}, not ${topicId}`)
            }
            if (overrides !== undefined) existing.log.config = { ...existing.log.config, ...overrides }
            return existing.log
          }
          // Kafka places a new partition in the log dir holding the fewest partitions.
          const live = dirs.filter((d) => !failures.hasOfflineLogDir(d.path))
          if (live.length === 0) throw new KafkaStorageError("No log directory is online")
          const counts = new Map<DirState, number>(live.map((d) => [d, 0]))
          for (const entry of logs.values()) if (counts.has(entry.dir)) counts.set(entry.dir, counts.get(entry.dir)! + 1)
          let target = live[0]!
          for (const d of live) if (counts.get(d)! < counts.get(target)!) target = d
          const log = PartitionLog.create(target.path, topic, partition, topicId, { ...config, ...overrides }, clock.currentTimeMillisUnsafe(), options.producerIdExpirationMs, io, failures)
          register(log, target)
          return log
        })
      ).pipe(Effect.tap((log) => Effect.forEach(log.openWarnings, (w) => Effect.logWarning(w), { discard: true })))

    const deletePartition = (topic: string, partition: number) =>
      attempt(topic, partition, "delete partition", IO, () => {
        const key = partitionKey(topic, partition)
        const entry = logs.get(key)
        if (entry === undefined) return
        logs.delete(key)
        entry.unsubscribe()
        // Files in a failed dir are left alone (Kafka cannot delete them either).
        if (entry.log.isOffline) return
        entry.dir.recoveryPoints.delete(key)
        entry.dir.logStartOffsets.delete(key)
        entry.log.deleteFromDisk()
        writeCheckpoints(entry.dir)
      })

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
        for (const entry of logs.values()) if (!entry.log.isClosed) removed += entry.log.removeExpiredProducers(now)
        return removed
      })

    const deleteRecords = (topic: string, partition: number, offset: number) =>
      Effect.flatMap(entryOf(topic, partition), (entry) =>
        attempt(topic, partition, "delete records", ["OffsetOutOfRange", "LogIoError"], () => {
          const before = entry.log.logStartOffset
          const low = entry.log.deleteRecords(offset)
          // Persist at once: after a crash the old start offset would expose deleted records.
          if (low !== before) writeCheckpoints(entry.dir)
          return low
        })
      )

    const enforceRetention = (now: number) =>
      attempt("", -1, "retention", IO, () => {
        let deleted = 0
        const touched = new Set<DirState>()
        for (const entry of logs.values()) {
          // A compact-only log keeps its segments: the cleaner bounds it, not retention
          // (Kafka's UnifiedLog.deleteOldSegments without the delete policy).
          if (entry.log.isOffline) continue
          unlessOffline(() => {
            const n = entry.log.config.cleanupPolicy.includes("delete")
              ? entry.log.deleteOldSegments(now)
              : entry.log.deleteOldSegments(now, -1, -1)
            if (n > 0) {
              deleted += n
              touched.add(entry.dir)
            }
          })
        }
        for (const dir of touched) unlessOffline(() => writeCheckpoints(dir))
        return deleted
      })

    const flushDue = (now: number) =>
      attempt("", -1, "flush", IO, () => {
        for (const entry of logs.values()) if (!entry.log.isOffline) unlessOffline(() => entry.log.maybeFlush(now))
      })

    const checkpoint = () =>
      attempt("", -1, "checkpoint", IO, () => {
        for (const dir of dirs) if (!failures.hasOfflineLogDir(dir.path)) unlessOffline(() => writeCheckpoints(dir))
      })

    return LogStore.of({
      createPartition,
      deletePartition,
      getPartition: (topic, partition) => Effect.map(entryOf(topic, partition), (e) => e.log),
      findPartition: (topic, partition) => logs.get(partitionKey(topic, partition))?.log,
      // Logs of an offline dir are out of service (Kafka removes them); findPartition still knows them.
      partitions: () => [...logs.values()].filter((e) => !e.log.isOffline).map((e) => e.log),
      offlineLogDirs: () => failures.offlineLogDirs(),
      failLogDir: (logDir, message, cause) => failures.maybeAddOfflineLogDir(path.resolve(logDir), message, cause),
      reconfigure: (topic, partition, overrides) =>
        Effect.map(entryOf(topic, partition), (e) => {
          e.log.config = { ...e.log.config, ...overrides }
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
