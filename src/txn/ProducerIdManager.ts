/**
 * Hands out producer ids (InitProducerId). The seam between the handlers and where ids are
 * reserved: Kafka's controller reserves blocks of ids in the metadata log
 * (ProducerIdsRecord) so that no id repeats after a restart or a crash; a cluster mode can
 * reserve them elsewhere.
 */
import { Context, Effect, Layer, Schema, Semaphore } from "effect"
import { MetadataLog } from "../metadata/MetadataLog.ts"
import { ErrorCode } from "../protocol/error-codes.ts"

/** Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE: ids reserved per ProducerIdsRecord. */
export const PRODUCER_ID_BLOCK_SIZE = 1000

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

  /**
   * Ids from blocks reserved in the metadata log (ProducerIdsRecord, as Kafka's KRaft
   * controller writes): a block is durable before its first id is handed out, and the image
   * replayed at start-up resumes after the last reserved block, so no id repeats after a
   * restart or a crash (the unused rest of a block is skipped, as in Kafka).
   */
  static readonly layerMetadataLog: Layer.Layer<ProducerIdManager, never, MetadataLog> = Layer.effect(
    ProducerIdManager,
    Effect.gen(function*() {
      const metadata = yield* MetadataLog
      const lock = yield* Semaphore.make(1)
      let next = 0
      let end = 0
      const reserve = metadata.reserveProducerIdBlock(PRODUCER_ID_BLOCK_SIZE).pipe(
        Effect.flatMap((first) => {
          // Ids travel as JavaScript numbers; Kafka's limit is Long.MAX_VALUE, ours is 2^53.
          if (first + BigInt(PRODUCER_ID_BLOCK_SIZE) > BigInt(Number.MAX_SAFE_INTEGER)) {
            return Effect.fail(new ProducerIdAllocationError({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: "Exhausted all producerIds" }))
          }
          next = Number(first)
          end = next + PRODUCER_ID_BLOCK_SIZE
          return Effect.void
        }),
        Effect.catchTag("MetadataIoError", (e) =>
          Effect.fail(new ProducerIdAllocationError({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, message: e.message })))
      )
      const generateProducerId = Effect.suspend(() =>
        next < end
          ? Effect.succeed(next++)
          : lock.withPermit(Effect.suspend(() => next < end ? Effect.void : reserve).pipe(Effect.map(() => next++)))
      )
      return { generateProducerId }
    })
  )
}
