/**
 * DescribeTransactions (key 65), v0 (KIP-664): the coordinator's state of each transactional
 * id: TRANSACTIONAL_ID_NOT_FOUND for an unknown (or expiring) one, INVALID_REQUEST for "".
 */
import { DescribeTransactions } from "../protocol/generated/apis/DescribeTransactions.ts"
import { TransactionCoordinator } from "../txn/TransactionCoordinator.ts"
import { defineHandler } from "./handler.ts"

export const DescribeTransactionsHandler = defineHandler(DescribeTransactions, {
  minVersion: 0,
  maxVersion: 0,
  handle: (request) =>
    TransactionCoordinator.useSync((txn) => ({
      throttleTimeMs: 0,
      transactionStates: request.transactionalIds.map((id) => {
        const d = txn.describe(id)
        return {
          errorCode: d.errorCode,
          transactionalId: d.transactionalId,
          transactionState: d.state,
          transactionTimeoutMs: d.transactionTimeoutMs,
          transactionStartTimeMs: BigInt(d.transactionStartTimeMs),
          producerId: BigInt(d.producerId),
          producerEpoch: d.producerEpoch,
          topics: d.topics.map((t) => ({ topic: t.topic, partitions: [...t.partitions] }))
        }
      })
    })),
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    transactionStates: request.transactionalIds.map((transactionalId) => ({ transactionalId, errorCode }))
  })
})
