/**
 * EndTxn (key 26), v0-v4: commits or aborts the producer's transaction. Answered once the
 * markers are in every partition of the transaction (or, if one could not be written yet,
 * once the decision is durable: the coordinator finishes it later). v5 (KIP-890 part 2, an
 * epoch bump per transaction) is not served. Clients before v2 get INVALID_PRODUCER_EPOCH for
 * PRODUCER_FENCED.
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { EndTxn } from "../protocol/generated/apis/EndTxn.ts"
import { TransactionCoordinator } from "../txn/TransactionCoordinator.ts"
import { defineHandler } from "./handler.ts"

export const EndTxnHandler = defineHandler(EndTxn, {
  minVersion: 0,
  maxVersion: 4,
  handle: (request, ctx) =>
    TransactionCoordinator.use((txn) => txn.endTxn(request.transactionalId, Number(request.producerId), request.producerEpoch, request.committed)).pipe(
      Effect.map((errorCode) => ({
        throttleTimeMs: 0,
        errorCode: ctx.apiVersion < 2 && errorCode === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : errorCode,
        producerId: -1n,
        producerEpoch: -1
      }))
    ),
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 })
})
