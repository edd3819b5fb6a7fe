import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { InitProducerIdHandler } from "../../../src/handlers/InitProducerId.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { ProducerIdManager } from "../../../src/txn/ProducerIdManager.ts"
import { TransactionCoordinator, type TransactionCoordinatorShape } from "../../../src/txn/TransactionCoordinator.ts"
import { call } from "./helpers.ts"

const init = (version: number, fields: { transactionalId?: string | null; producerId?: bigint; producerEpoch?: number } = {}) =>
  Effect.map(
    call(InitProducerIdHandler, version, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1n, producerEpoch: -1, ...fields }),
    (r) => [r.errorCode, r.producerId, r.producerEpoch] as [number, bigint, number]
  )

describe("InitProducerId", () => {
  it.effect("gives idempotent producers a fresh id at epoch 0 at every version", () =>
    Effect.gen(function*() {
      const answers = []
      for (let v = 0; v <= 5; v++) answers.push(yield* init(v))
      assert.deepStrictEqual(answers, [0, 1, 2, 3, 4, 5].map((id) => [0, BigInt(id), 0]))
      // KIP-360: a known id and epoch of an idempotent producer still gets a new id.
      assert.deepStrictEqual(yield* init(3, { producerId: 2n, producerEpoch: 4 }), [0, 6n, 0])
      // An id without an epoch (or the reverse) is INVALID_REQUEST.
      assert.deepStrictEqual(yield* init(4, { producerId: 2n }), [ErrorCode.INVALID_REQUEST, -1n, -1])
      assert.deepStrictEqual(yield* init(4, { producerEpoch: 3 }), [ErrorCode.INVALID_REQUEST, -1n, -1])
      // Transactional producers are the transaction coordinator's: test/txn/handlers.test.ts.
    }).pipe(Effect.provide(Layer.merge(
      ProducerIdManager.layerMemory,
      // Idempotent producers never reach the transaction coordinator.
      Layer.succeed(TransactionCoordinator, {} as TransactionCoordinatorShape)
    ))))
})
