/**
 * The LogCleaner service: Kafka's LogCleaner and LogCleanerManager over the LogStore.
 *
 * `log.cleaner.threads` fibers, owned by the layer's scope, each repeatedly take the
 * filthiest log among those with cleanup.policy=compact (dirty ratio above
 * min.cleanable.dirty.ratio, or forced by max.compaction.lag.ms), run one cleaning round on
 * it and record the next dirty offset in the log dir's `cleaner-offset-checkpoint`; when
 * no log needs cleaning they sleep `log.cleaner.backoff.ms` on Effect's Clock. A round
 * yields to the event loop between chunks of `log.cleaner.io.buffer.size` bytes (or of a
 * few milliseconds of work, whichever comes first) and is
 * throttled to `log.cleaner.io.max.bytes.per.second`, so produce and fetch keep their
 * latency. A round that fails marks its log uncleanable (logged), as Kafka does, and the
 * other logs go on being cleaned.
 */
import * as path from "node:path"
import { Clock, Context, Effect, Layer } from "effect"
import { CheckpointFormatError, partitionKey, readOffsetCheckpoint, writeOffsetCheckpoint } from "../checkpoint.ts"
import { FileIo } from "../../storage/FileIo.ts"
import { isIoError, KafkaStorageError } from "../log-dir-failure.ts"
import { yieldToEventLoop } from "../../lifecycle/yield-to-event-loop.ts"
import { LogStore } from "../LogStore.ts"
import { type LogConfig, parsePartitionDirName, type PartitionLog } from "../partition-log.ts"
import { type CleanStats, type CleanStep, cleanRound, filthiest, LogCleaningAbortedError, logToClean } from "./cleaner.ts"
import { OffsetMap } from "./offset-map.ts"
import { Throttler } from "./throttler.ts"

export const CLEANER_OFFSET_CHECKPOINT_FILE = "cleaner-offset-checkpoint"

/** The logs the cleaner works on and keeps checkpoint entries for; the others need not even be opened. */
const isCompacted = (config: LogConfig): boolean => config.cleanupPolicy.includes("compact")

export interface LogCleanerOptions {
  /** log.cleaner.enable: without it no fiber runs (cleanFilthiest still works on demand). */
  readonly enable: boolean
  readonly threads: number
  readonly backoffMs: number
  /** log.cleaner.dedupe.buffer.size, shared by the threads. */
  readonly dedupeBufferSize: number
  readonly ioBufferLoadFactor: number
  /** log.cleaner.io.buffer.size: bytes processed between two yields. */
  readonly ioBufferSize: number
  readonly ioMaxBytesPerSecond: number
}

export const defaultLogCleanerOptions: LogCleanerOptions = {
  enable: true,
  threads: 1,
  backoffMs: 15_000,
  dedupeBufferSize: 128 * 1024 * 1024,
  ioBufferLoadFactor: 0.9,
  ioBufferSize: 512 * 1024,
  ioMaxBytesPerSecond: Number.MAX_VALUE
}

export interface CleanResult extends CleanStats {
  readonly topic: string
  readonly partition: number
  readonly sizeBefore: number
  readonly sizeAfter: number
}

export interface LogCleanerShape {
  /** Cleans the filthiest compacted log once; null when none needs cleaning. */
  readonly cleanFilthiest: Effect.Effect<CleanResult | null>
  /** Cleans until no log needs it (bounded by `maxRounds`); returns the rounds run. */
  readonly cleanUntilClean: (maxRounds?: number) => Effect.Effect<ReadonlyArray<CleanResult>>
  /** The next dirty offset recorded for a partition (the cleaner-offset-checkpoint entry). */
  readonly checkpointOf: (topic: string, partition: number) => number | undefined
}

const make = (options: LogCleanerOptions) =>
  Effect.gen(function*() {
    const logs = yield* LogStore
    const io = yield* FileIo.current
    const threads = Math.max(1, options.threads)
    const perThreadMemory = Math.min(options.dedupeBufferSize / threads, 0x7fffffff)
    const maps: Array<OffsetMap> = []
    const freeMaps: Array<OffsetMap> = []
    for (let i = 0; i < threads; i++) {
      const map = new OffsetMap(perThreadMemory, options.ioBufferLoadFactor)
      maps.push(map)
      freeMaps.push(map)
    }
    const throttler = new Throttler(options.ioMaxBytesPerSecond)
    const inProgress = new Set<PartitionLog>()
    const uncleanable = new WeakSet<PartitionLog>()
    /** log dir → (`topic-partition` → next dirty offset). */
    const checkpoints = new Map<string, Map<string, number>>()
    /** Which log object each checkpoint entry describes. */
    const owners = new Map<string, PartitionLog>()

    const logDirOf = (log: PartitionLog): string => path.dirname(log.dir)

    const checkpointsOf = (logDir: string): Effect.Effect<Map<string, number>> =>
      Effect.suspend(() => {
        const cached = checkpoints.get(logDir)
        if (cached !== undefined) return Effect.succeed(cached)
        let loaded: Map<string, number>
        let warning: string | null = null
        try {
          loaded = readOffsetCheckpoint(path.join(logDir, CLEANER_OFFSET_CHECKPOINT_FILE), io)
        } catch (e) {
          if (!(e instanceof CheckpointFormatError)) throw e
          warning = `${e.message}; cleaning every compacted log from its start`
          loaded = new Map()
        }
        checkpoints.set(logDir, loaded)
        return warning === null ? Effect.succeed(loaded) : Effect.as(Effect.logWarning(warning), loaded)
      })

    const writeCheckpoint = (logDir: string, entries: Map<string, number>): void => {
      const live: Array<{ topic: string; partition: number; offset: number }> = []
      for (const log of logs.partitionsWhere(isCompacted)) {
        if (logDirOf(log) !== logDir) continue
        const offset = entries.get(partitionKey(log.topic, log.partition))
        if (offset !== undefined) live.push({ topic: log.topic, partition: log.partition, offset })
      }
      writeOffsetCheckpoint(path.join(logDir, CLEANER_OFFSET_CHECKPOINT_FILE), live, io)
    }

    /** Picks and reserves the filthiest log, synchronously (no other fiber can pick it too). */
    const grab = (now: number, allCheckpoints: (log: PartitionLog) => number | undefined) => {
      const candidates = []
      for (const log of logs.partitionsWhere(isCompacted)) {
        if (!log.config.cleanupPolicy.includes("compact") || log.isClosed || inProgress.has(log) || uncleanable.has(log)) continue
        candidates.push(logToClean(log, allCheckpoints(log), now))
      }
      const chosen = filthiest(candidates)
      if (chosen !== null) inProgress.add(chosen.log)
      return chosen
    }

    /** Drives a round, throttling and yielding between chunks; interruption aborts it cleanly. */
    const runRound = (round: Generator<CleanStep, CleanStats>): Effect.Effect<CleanStats, unknown> =>
      Effect.gen(function*() {
        for (;;) {
          const step = yield* Effect.try({ try: () => round.next(), catch: (e) => e })
          if (step.done === true) return step.value
          const value = step.value
          if (typeof value !== "number") {
            yield* Effect.promise(() => value)
            continue
          }
          yield* throttler.maybeThrottle(value)
          // A macrotask turn, not only a fiber switch: sockets must get their reads in.
          yield* yieldToEventLoop
        }
      }).pipe(Effect.onInterrupt(() => Effect.sync(() => round.return(undefined as never))))

    const cleanFilthiest: Effect.Effect<CleanResult | null> = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const dirs = new Set(logs.partitionsWhere(isCompacted).map(logDirOf))
      for (const dir of dirs) yield* checkpointsOf(dir)
      // A deleted partition's entry must not apply to a partition later created with its
      // name: an entry belongs to the log object that first used it.
      for (const [dir, entries] of checkpoints) {
        for (const key of entries.keys()) {
          const parsed = parsePartitionDirName(key)
          const live = parsed === null ? undefined : logs.findPartition(parsed.topic, parsed.partition)
          const owner = owners.get(key)
          if (live === undefined || logDirOf(live) !== dir || (owner !== undefined && owner !== live)) {
            entries.delete(key)
            owners.delete(key)
          } else owners.set(key, live)
        }
      }
      const checkpointOfLog = (log: PartitionLog) => checkpoints.get(logDirOf(log))?.get(partitionKey(log.topic, log.partition))
      const chosen = grab(now, checkpointOfLog)
      if (chosen === null) return null
      const log = chosen.log
      const map = freeMaps.pop() ?? new OffsetMap(perThreadMemory, options.ioBufferLoadFactor)
      return yield* Effect.gen(function*() {
        const entries = yield* checkpointsOf(logDirOf(log))
        const key = partitionKey(log.topic, log.partition)
        if (chosen.forceUpdateCheckpoint) entries.set(key, chosen.firstDirtyOffset)
        const sizeBefore = log.size()
        const stats = yield* runRound(cleanRound(log, {
          now,
          map,
          firstDirtyOffset: chosen.firstDirtyOffset,
          firstUncleanableOffset: chosen.firstUncleanableOffset,
          chunkBytes: Math.max(4096, options.ioBufferSize)
        })).pipe(
          Effect.catch((e) =>
            e instanceof LogCleaningAbortedError || log.isClosed || e instanceof KafkaStorageError
              ? Effect.as(Effect.logDebug(`log cleaning of ${log.dir} aborted: ${(e as Error).message}`), null)
              : isIoError(e)
              // Kafka's LogCleaner: an IOException takes the log dir offline.
              ? Effect.as(
                Effect.sync(() =>
                  logs.failLogDir(log.logDir, `Failed to clean up log for ${log.topic}-${log.partition} in dir ${log.logDir} due to IOException`, e)
                ),
                null
              )
              : Effect.as(
                Effect.sync(() => uncleanable.add(log)).pipe(
                  Effect.andThen(Effect.logWarning(`log cleaning of ${log.dir} failed; it is marked uncleanable`, e))
                ),
                null
              )
          )
        )
        if (stats === null) return null
        entries.set(key, stats.endOffset)
        owners.set(key, log)
        yield* Effect.sync(() => writeCheckpoint(logDirOf(log), entries)).pipe(
          Effect.catchDefect((e) => Effect.logWarning(`writing ${CLEANER_OFFSET_CHECKPOINT_FILE} failed`, e))
        )
        const result: CleanResult = { ...stats, topic: log.topic, partition: log.partition, sizeBefore, sizeAfter: log.size() }
        yield* Effect.logDebug(
          `cleaned ${key}: ${result.sizeBefore} → ${result.sizeAfter} bytes, ${result.recordsRetained} record(s) kept, next dirty offset ${result.endOffset}`
        )
        return result
      }).pipe(
        Effect.ensuring(Effect.sync(() => {
          inProgress.delete(log)
          freeMaps.push(map)
        }))
      )
    })

    const cleanUntilClean = (maxRounds = 1000) =>
      Effect.gen(function*() {
        const results: Array<CleanResult> = []
        for (let i = 0; i < maxRounds; i++) {
          const r = yield* cleanFilthiest
          if (r === null) break
          results.push(r)
        }
        return results
      })

    if (options.enable && options.threads > 0) {
      const loop = Effect.gen(function*() {
        for (;;) {
          const r = yield* cleanFilthiest.pipe(
            Effect.catchCause((cause) => Effect.as(Effect.logWarning("log cleaner round failed", cause), null))
          )
          if (r === null) yield* Effect.sleep(options.backoffMs)
        }
      })
      for (let i = 0; i < threads; i++) yield* Effect.forkScoped(loop)
    }

    return LogCleaner.of({
      cleanFilthiest,
      cleanUntilClean,
      checkpointOf: (topic, partition) => {
        for (const entries of checkpoints.values()) {
          const v = entries.get(partitionKey(topic, partition))
          if (v !== undefined) return v
        }
        return undefined
      }
    })
  })

export class LogCleaner extends Context.Service<LogCleaner, LogCleanerShape>()("kafka-broker/log/LogCleaner") {
  /** Starts the cleaner fibers (when enabled) in the layer's scope. */
  static readonly layer = (options: Partial<LogCleanerOptions> = {}): Layer.Layer<LogCleaner, never, LogStore> =>
    Layer.effect(LogCleaner, make({ ...defaultLogCleanerOptions, ...options }))
}
