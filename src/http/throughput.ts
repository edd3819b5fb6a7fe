/**
 * The last minutes of broker throughput for the console's chart: the all-topics counters
 * sampled every 5 seconds, 10 minutes kept. One small fiber per broker.
 */
import { Context, Effect, Layer, Schedule } from "effect"
import { BrokerMetrics, type ThroughputSample } from "../metrics/BrokerMetrics.ts"

const KEEP = 120

export class Throughput extends Context.Service<Throughput, {
  readonly samples: () => ReadonlyArray<ThroughputSample>
}>()("kafka-broker/http/Throughput") {
  static readonly layer: Layer.Layer<Throughput, never, BrokerMetrics> = Layer.effect(
    Throughput,
    Effect.gen(function*() {
      const metrics = yield* BrokerMetrics
      const samples: Array<ThroughputSample> = [metrics.totals()]
      yield* Effect.forkScoped(
        Effect.repeat(
          Effect.sync(() => {
            samples.push(metrics.totals())
            if (samples.length > KEEP) samples.shift()
          }),
          Schedule.spaced("5 seconds")
        )
      )
      return Throughput.of({ samples: () => samples })
    })
  )
}
