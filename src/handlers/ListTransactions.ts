/**
 * ListTransactions (key 66), v0-v1 (KIP-664): the transactional ids this coordinator owns,
 * filtered by state names (unknown names are echoed in unknown_state_filters), producer ids
 * and (v1) how long the transaction has been running.
 */
import { Effect } from "effect"
import { ListTransactions } from "../protocol/generated/apis/ListTransactions.ts"
import { TransactionCoordinator } from "../txn/TransactionCoordinator.ts"
import { defineHandler } from "./handler.ts"

export const ListTransactionsHandler = defineHandler(ListTransactions, {
  minVersion: 0,
  maxVersion: 1,
  handle: (request, ctx) =>
    TransactionCoordinator.use((txn) =>
      txn.list({
        states: request.stateFilters,
        producerIds: request.producerIdFilters.map(Number),
        durationMs: ctx.apiVersion >= 1 ? Number(request.durationFilter) : -1
      })
    ).pipe(
      Effect.map((listed) => ({
        throttleTimeMs: 0,
        errorCode: listed.errorCode,
        unknownStateFilters: [...listed.unknownStateFilters],
        transactionStates: listed.transactions.map((t) => ({ transactionalId: t.transactionalId, producerId: BigInt(t.producerId), transactionState: t.state }))
      }))
    ),
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode, unknownStateFilters: [], transactionStates: [] })
})
