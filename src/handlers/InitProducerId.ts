/**
 * InitProducerId (key 22), v0-v5: a producer id and epoch for a producer.
 * - Without a transactional id (idempotent producers): a fresh producer id from the
 *   ProducerIdManager, epoch 0.
 * - With one (transactional producers): the TransactionCoordinator finds or creates the
 *   transactional id's state, fences the previous epoch (aborting its open transaction
 *   first: the client is answered CONCURRENT_TRANSACTIONS and retries), and supports the
 *   KIP-360 epoch bump when the client passes its current producer id and epoch (v3+).
 *
 * A producer id without an epoch, or the reverse, is INVALID_REQUEST. Clients before v4 do
 * not know PRODUCER_FENCED: they get INVALID_PRODUCER_EPOCH, as Kafka answers them.
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { InitProducerId } from "../protocol/generated/apis/InitProducerId.ts"
import type { InitProducerIdResponseInit } from "../protocol/generated/message/InitProducerIdResponse.ts"
import { TransactionCoordinator } from "../txn/TransactionCoordinator.ts"
import { ProducerIdManager } from "../txn/ProducerIdManager.ts"
import { defineHandler } from "./handler.ts"

const NO_PRODUCER_ID = -1n
const NO_PRODUCER_EPOCH = -1

const errorResponse = (errorCode: number): InitProducerIdResponseInit => ({
  throttleTimeMs: 0,
  errorCode,
  producerId: NO_PRODUCER_ID,
  producerEpoch: NO_PRODUCER_EPOCH
})

/** The idempotent branch: a producer id never handed out before. */
const idempotent = ProducerIdManager.use((manager) => manager.generateProducerId).pipe(
  Effect.map((producerId): InitProducerIdResponseInit => ({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: BigInt(producerId), producerEpoch: 0 })),
  Effect.catchTag("ProducerIdAllocationError", (e) => Effect.succeed(errorResponse(e.errorCode)))
)

export const InitProducerIdHandler = defineHandler(InitProducerId, {
  minVersion: 0,
  maxVersion: 5,
  handle: (request, ctx): Effect.Effect<InitProducerIdResponseInit, never, ProducerIdManager | TransactionCoordinator> => {
    const producerId = ctx.apiVersion >= 3 ? request.producerId : NO_PRODUCER_ID
    const producerEpoch = ctx.apiVersion >= 3 ? request.producerEpoch : NO_PRODUCER_EPOCH
    if ((producerId === NO_PRODUCER_ID) !== (producerEpoch === NO_PRODUCER_EPOCH)) return Effect.succeed(errorResponse(ErrorCode.INVALID_REQUEST))
    if (request.transactionalId === null) return idempotent
    const expected = producerId === NO_PRODUCER_ID ? undefined : { producerId: Number(producerId), producerEpoch }
    return TransactionCoordinator.use((txn) => txn.initProducerId(request.transactionalId!, request.transactionTimeoutMs, expected)).pipe(
      Effect.map((result): InitProducerIdResponseInit => ({
        throttleTimeMs: 0,
        errorCode: ctx.apiVersion < 4 && result.errorCode === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : result.errorCode,
        producerId: BigInt(result.producerId),
        producerEpoch: result.producerEpoch
      }))
    )
  },
  errorResponse: (_request, errorCode) => errorResponse(errorCode)
})
