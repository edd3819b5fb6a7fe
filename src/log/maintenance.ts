/**
 * The log store's background work, on Effect's Clock (so TestClock drives it in tests):
 * retention every `log.retention.check.interval.ms`, time-based flushes every second, and the
 * recovery-point checkpoints every minute (Kafka's log.flush.offset.checkpoint.interval.ms),
 * and idle producer ids forgotten every `producer.id.expiration.check.interval.ms`.
 * Failures are logged and the loops go on; they end with the layer's scope.
 */
import { Clock, Effect, Layer, Schedule } from "effect"
import { LogStore } from "./LogStore.ts"
import { DEFAULT_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS } from "./producer-state.ts"

const CHECKPOINT_INTERVAL_MS = 60_000
const FLUSH_CHECK_INTERVAL_MS = 1_000

export const LogMaintenance = (options: {
  readonly retentionCheckIntervalMs: number
  readonly producerIdExpirationCheckIntervalMs?: number
}): Layer.Layer<never, never, LogStore> =>
  Layer.effectDiscard(
    Effect.gen(function*() {
      const logs = yield* LogStore
      const every = <E>(ms: number, what: string, task: (now: number) => Effect.Effect<unknown, E>) =>
        Effect.forkScoped(
          Clock.currentTimeMillis.pipe(
            Effect.flatMap(task),
            Effect.catchCause((cause) => Effect.logWarning(`log ${what} failed`, cause)),
            Effect.repeat(Schedule.spaced(ms)),
            Effect.delay(ms)
          )
        )
      yield* every(options.retentionCheckIntervalMs, "retention", (now) =>
        Effect.tap(logs.enforceRetention(now), (deleted) => deleted > 0 ? Effect.logInfo(`retention deleted ${deleted} segment(s)`) : Effect.void))
      yield* every(FLUSH_CHECK_INTERVAL_MS, "flush", (now) => logs.flushDue(now))
      yield* every(CHECKPOINT_INTERVAL_MS, "checkpoint", () => logs.checkpoint())
      yield* every(options.producerIdExpirationCheckIntervalMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS, "producer id expiration", (now) =>
        logs.removeExpiredProducers(now))
    })
  )
