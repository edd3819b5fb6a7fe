/**
 * AddOffsetsToTxn (key 25), v0-v4: adds the group's `__consumer_offsets` partition to the
 * transaction, so that the offsets it commits with TxnOffsetCommit take effect with the
 * transaction's commit marker. Clients before v2 get INVALID_PRODUCER_EPOCH for PRODUCER_FENCED.
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { AddOffsetsToTxn } from "../protocol/generated/apis/AddOffsetsToTxn.ts"
import { TransactionCoordinator } from "../txn/TransactionCoordinator.ts"
import { defineHandler } from "./handler.ts"

export const AddOffsetsToTxnHandler = defineHandler(AddOffsetsToTxn, {
  minVersion: 0,
  maxVersion: 4,
  handle: (request, ctx) =>
    TransactionCoordinator.use((txn) => txn.addOffsets(request.transactionalId, Number(request.producerId), request.producerEpoch, request.groupId)).pipe(
      Effect.map((errorCode) => ({
        throttleTimeMs: 0,
        errorCode: ctx.apiVersion < 2 && errorCode === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : errorCode
      }))
    ),
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode })
})
