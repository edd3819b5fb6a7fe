/**
 * The broker's shutdown signal. The server raises it when it starts draining; services
 * whose requests wait on events (long-polling fetches, group joins) answer those requests at
 * once instead of holding the shutdown until the drain times out, as Kafka completes its
 * delayed operations when it stops.
 */
import { Context, Deferred, Effect, Layer } from "effect"

export class BrokerLifecycle extends Context.Service<BrokerLifecycle, {
  /** Completes when shutdown begins. */
  readonly shuttingDown: Effect.Effect<void>
  readonly beginShutdown: Effect.Effect<void>
}>()("kafka-broker/server/BrokerLifecycle") {
  static readonly layer: Layer.Layer<BrokerLifecycle> = Layer.effect(
    BrokerLifecycle,
    Effect.map(Deferred.make<void>(), (signal) =>
      BrokerLifecycle.of({
        shuttingDown: Deferred.await(signal),
        beginShutdown: Effect.asVoid(Deferred.succeed(signal, undefined))
      }))
  )
}

/** The shutdown signal where a BrokerLifecycle is provided, else a signal that never comes. */
export const shutdownSignal: Effect.Effect<Effect.Effect<void>> = Effect.map(
  Effect.serviceOption(BrokerLifecycle),
  (lifecycle) => (lifecycle._tag === "Some" ? lifecycle.value.shuttingDown : Effect.never)
)
