/**
 * InitProducerId (key 22), v0-v5: gives a producer its id and epoch.
 *
 * Idempotent producers (transactional_id null) get a fresh producer id with epoch 0 from the
 * ProducerIdManager, whatever producer id/epoch they pass (Kafka's
 * TransactionCoordinator.handleInitProducerId "blindly accepts" them: a KIP-360 producer
 * that lost its state simply starts over with a new id). A producer id without an epoch,
 * or an epoch without an id, is INVALID_REQUEST, checked first as in KafkaApis.
 *
 * Transactional producers are the TransactionCoordinator's: it finds or creates the
 * transactional id's state, fences the previous epoch (aborting its open transaction first:
 * the client is answered CONCURRENT_TRANSACTIONS and retries), checks the timeout against
 * transaction.max.timeout.ms, and supports the KIP-360 epoch bump when the client passes its
 * current producer id and epoch (v3+).
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { InitProducerId } from "../protocol/generated/apis/InitProducerId.ts"
import type { InitProducerIdRequest } from "../protocol/generated/message/InitProducerIdRequest.ts"
import type { InitProducerIdResponseInit } from "../protocol/generated/message/InitProducerIdResponse.ts"
import { ProducerIdManager } from "../txn/ProducerIdManager.ts"
import { TransactionCoordinator } from "../txn/TransactionCoordinator.ts"
import { defineHandler } from "./handler.ts"

const NO_PRODUCER_ID = -1n
const NO_PRODUCER_EPOCH = -1

export const initProducerIdError = (errorCode: number): InitProducerIdResponseInit => ({
  throttleTimeMs: 0,
  errorCode,
  producerId: NO_PRODUCER_ID,
  producerEpoch: NO_PRODUCER_EPOCH
})

/** Kafka's answer for an error: v0-v3 clients do not know PRODUCER_FENCED and get INVALID_PRODUCER_EPOCH. */
const versioned = (response: InitProducerIdResponseInit, version: number): InitProducerIdResponseInit =>
  version < 4 && response.errorCode === ErrorCode.PRODUCER_FENCED
    ? { ...response, errorCode: ErrorCode.INVALID_PRODUCER_EPOCH }
    : response

/** The idempotent case: a new producer id at epoch 0. */
const initIdempotent = Effect.gen(function*() {
  const ids = yield* ProducerIdManager
  return yield* ids.generateProducerId.pipe(
    Effect.map((producerId): InitProducerIdResponseInit => ({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: BigInt(producerId), producerEpoch: 0 })),
    Effect.catchTag("ProducerIdAllocationError", (e) => Effect.succeed(initProducerIdError(e.errorCode)))
  )
})

/** The transactional case (transactional_id set): the transaction coordinator's to answer. */
const initTransactional = (request: InitProducerIdRequest): Effect.Effect<InitProducerIdResponseInit, never, TransactionCoordinator> =>
  TransactionCoordinator.use((txn) =>
    txn.initProducerId(
      request.transactionalId!,
      request.transactionTimeoutMs,
      request.producerId === NO_PRODUCER_ID ? undefined : { producerId: Number(request.producerId), producerEpoch: request.producerEpoch }
    )
  ).pipe(
    Effect.map((result): InitProducerIdResponseInit => ({
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      producerId: BigInt(result.producerId),
      producerEpoch: result.producerEpoch
    }))
  )

export const InitProducerIdHandler = defineHandler(InitProducerId, {
  minVersion: 0,
  maxVersion: 5,
  handle: (request, ctx): Effect.Effect<InitProducerIdResponseInit, never, ProducerIdManager | TransactionCoordinator> =>
    Effect.suspend(() => {
      const noId = request.producerId === NO_PRODUCER_ID
      const noEpoch = request.producerEpoch === NO_PRODUCER_EPOCH
      if (noId !== noEpoch) return Effect.succeed(initProducerIdError(ErrorCode.INVALID_REQUEST))
      const answer: Effect.Effect<InitProducerIdResponseInit, never, ProducerIdManager | TransactionCoordinator> = request.transactionalId === null
        ? initIdempotent
        : initTransactional(request)
      return Effect.map(answer, (response) => versioned(response, ctx.apiVersion))
    }),
  errorResponse: (_request, errorCode) => initProducerIdError(errorCode)
})
