/**
 * Hands out producer ids (InitProducerId). The seam between the handlers and where ids are
 * reserved: Kafka's controller reserves blocks of ids in the metadata log
 * (ProducerIdsRecord) so that no id repeats after a restart or a crash; a cluster mode can
 * reserve them elsewhere.
 */
import { Context, Effect, Layer, Schema } from "effect"

/** Ids could not be reserved; `errorCode` is what the response carries. */
export class ProducerIdAllocationError extends Schema.TaggedError<ProducerIdAllocationError>()("ProducerIdAllocationError", {
  errorCode: Schema.Number,
  message: Schema.String
}) {}

export interface ProducerIdManagerShape {
  /** A producer id never handed out before by this cluster. */
  readonly generateProducerId: Effect.Effect<number, ProducerIdAllocationError>
}

export class ProducerIdManager extends Context.Service<ProducerIdManager, ProducerIdManagerShape>()("kafka-broker/txn/ProducerIdManager") {
  /** Ids counted up from 0 in memory: for tests that need no durability. */
  static readonly layerMemory: Layer.Layer<ProducerIdManager> = Layer.effect(
    ProducerIdManager,
    Effect.sync(() => {
      let next = 0
      return { generateProducerId: Effect.sync(() => next++) }
    })
  )
}
