/**
 * The transaction coordinator's state machine through its service, under TestClock: every
 * transition, every refusal with Kafka's error code (and the state left unchanged), the
 * markers written into the log, the timers (transaction timeout, transactional id
 * expiration) and the replay of a prepared transaction after a restart.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { coordinatorPartitionFor } from "../../src/coordinator/internal-topics.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { decodeTxnLogValue, encodeTxnLogValue, replayBatches, TransactionLog, TransactionLogError, txnLogBatch } from "../../src/txn/TransactionLog.ts"
import { IllegalTxnTransition, TxnMetadata, TxnState, type TxnTransit } from "../../src/txn/transaction-metadata.ts"
import { makeDataPlane, markersIn, OFFSETS_PARTITIONS, tp, withTxn } from "./helpers.ts"

const TIMEOUT = 60_000

describe("InitProducerId (transactional)", () => {
  it.effect("creates the id at epoch 0, then bumps the epoch on each init", () =>
    withTxn({}, ({ txn }) =>
      Effect.gen(function*() {
        const first = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        expect(first).toEqual({ errorCode: ErrorCode.NONE, producerId: 0, producerEpoch: 0 })
        const second = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        expect(second).toEqual({ errorCode: ErrorCode.NONE, producerId: 0, producerEpoch: 1 })
        expect(txn.describe("tx")).toMatchObject({ errorCode: ErrorCode.NONE, state: "Empty", producerId: 0, producerEpoch: 1, transactionTimeoutMs: TIMEOUT })
        // Another id gets another producer id.
        expect(yield* txn.initProducerId("other", TIMEOUT, undefined)).toEqual({ errorCode: ErrorCode.NONE, producerId: 1, producerEpoch: 0 })
      })))

  it.effect("refuses an empty id and timeouts outside (0, transaction.max.timeout.ms], leaving the state as it was", () =>
    withTxn({ coordinator: { maxTimeoutMs: 1000 } }, ({ txn }) =>
      Effect.gen(function*() {
        yield* txn.initProducerId("tx", 1000, undefined)
        const before = txn.describe("tx")
        expect((yield* txn.initProducerId("", 1000, undefined)).errorCode).toBe(ErrorCode.INVALID_REQUEST)
        expect(yield* txn.initProducerId("tx", 1001, undefined)).toEqual({ errorCode: ErrorCode.INVALID_TRANSACTION_TIMEOUT, producerId: -1, producerEpoch: -1 })
        expect((yield* txn.initProducerId("tx", 0, undefined)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
        expect((yield* txn.initProducerId("new", -5, undefined)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
        expect(txn.describe("tx")).toEqual(before)
        expect(txn.describe("new").errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND)
      })))

  it.effect("KIP-360: the current epoch bumps, a retry with the last epoch gets the same answer, others are fenced", () =>
    withTxn({}, ({ txn }) =>
      Effect.gen(function*() {
        const { producerId } = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        const bumped = yield* txn.initProducerId("tx", TIMEOUT, { producerId, producerEpoch: 0 })
        expect(bumped).toEqual({ errorCode: ErrorCode.NONE, producerId, producerEpoch: 1 })
        // The producer never heard the answer and retries with epoch 0: same epoch 1 again.
        expect(yield* txn.initProducerId("tx", TIMEOUT, { producerId, producerEpoch: 0 })).toEqual({ errorCode: ErrorCode.NONE, producerId, producerEpoch: 1 })
        // Another producer's id, or an epoch that is neither current nor last: fenced.
        expect((yield* txn.initProducerId("tx", TIMEOUT, { producerId: producerId + 100, producerEpoch: 1 })).errorCode).toBe(ErrorCode.PRODUCER_FENCED)
        expect((yield* txn.initProducerId("tx", TIMEOUT, { producerId, producerEpoch: 7 })).errorCode).toBe(ErrorCode.PRODUCER_FENCED)
        expect(txn.describe("tx")).toMatchObject({ producerId, producerEpoch: 1, state: "Empty" })
      })))

  it.effect("an exhausted epoch rotates to a new producer id at epoch 0", () => {
    const log = new Map<string, TxnTransit>([["tx", {
      producerId: 500,
      previousProducerId: -1,
      nextProducerId: -1,
      producerEpoch: 32766,
      lastProducerEpoch: -1,
      txnTimeoutMs: TIMEOUT,
      state: TxnState.CompleteCommit,
      partitions: new Map(),
      txnStartTimestamp: 0,
      txnLastUpdateTimestamp: 0
    }]])
    return withTxn({ log }, ({ txn }) =>
      Effect.gen(function*() {
        const rotated = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        expect(rotated.errorCode).toBe(ErrorCode.NONE)
        expect(rotated.producerId).not.toBe(500)
        expect(rotated.producerEpoch).toBe(0)
        expect(log.get("tx")).toMatchObject({ producerId: rotated.producerId, producerEpoch: 0, state: TxnState.Empty })
      }))
  })

  it.effect("fences an open transaction: aborts it under epoch+1 (CONCURRENT_TRANSACTIONS), the retry gets epoch+2", () =>
    withTxn({}, ({ logs, txn }) =>
      Effect.gen(function*() {
        const { producerId } = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        expect(yield* txn.addPartitions("tx", producerId, 0, tp(["t", [0, 1]]))).toBe(ErrorCode.NONE)
        expect((yield* txn.initProducerId("tx", TIMEOUT, undefined)).errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS)
        expect(txn.describe("tx")).toMatchObject({ state: "CompleteAbort", producerEpoch: 1, topics: [] })
        for (const p of [0, 1]) {
          expect(yield* markersIn(logs, "t", p)).toEqual([{ producerId, producerEpoch: 1, coordinatorEpoch: 0, commit: false, offset: 0 }])
        }
        expect(yield* markersIn(logs, "t", 2)).toEqual([])
        // The old producer is fenced everywhere.
        expect(yield* txn.addPartitions("tx", producerId, 0, tp(["t", [2]]))).toBe(ErrorCode.PRODUCER_FENCED)
        expect(yield* txn.endTxn("tx", producerId, 0, true)).toBe(ErrorCode.PRODUCER_FENCED)
        expect(txn.verifyProduce("tx", producerId, 0, "t", 0)).toBe(ErrorCode.PRODUCER_FENCED)
        expect(yield* txn.initProducerId("tx", TIMEOUT, undefined)).toEqual({ errorCode: ErrorCode.NONE, producerId, producerEpoch: 2 })
      })))
})

describe("AddPartitionsToTxn / AddOffsetsToTxn", () => {
  it.effect("adds partitions (Ongoing), answers a repeat at once, and refuses bad producers with the state unchanged", () =>
    withTxn({}, ({ txn }) =>
      Effect.gen(function*() {
        const { producerId } = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        expect(yield* txn.addPartitions("unknown", producerId, 0, tp(["t", [0]]))).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        expect(yield* txn.addPartitions("", producerId, 0, tp(["t", [0]]))).toBe(ErrorCode.INVALID_REQUEST)
        expect(yield* txn.addPartitions("tx", producerId + 1, 0, tp(["t", [0]]))).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        expect(yield* txn.addPartitions("tx", producerId, 3, tp(["t", [0]]))).toBe(ErrorCode.PRODUCER_FENCED)
        expect(txn.describe("tx")).toMatchObject({ state: "Empty", topics: [] })

        expect(yield* txn.addPartitions("tx", producerId, 0, tp(["t", [0]]))).toBe(ErrorCode.NONE)
        const started = txn.describe("tx")
        expect(started).toMatchObject({ state: "Ongoing", topics: [{ topic: "t", partitions: [0] }] })
        yield* TestClock.adjust(10)
        expect(yield* txn.addPartitions("tx", producerId, 0, tp(["t", [0]], ["u", [0]]))).toBe(ErrorCode.NONE)
        expect(yield* txn.addPartitions("tx", producerId, 0, tp(["u", [0]]))).toBe(ErrorCode.NONE)
        const grown = txn.describe("tx")
        expect(grown.topics).toEqual([{ topic: "t", partitions: [0] }, { topic: "u", partitions: [0] }])
        // The transaction started with its first partition.
        expect(grown.transactionStartTimeMs).toBe(started.transactionStartTimeMs)
      })))

  it.effect("verify-only (KIP-890): NONE for partitions in the transaction, TRANSACTION_ABORTABLE for the others", () =>
    withTxn({}, ({ txn }) =>
      Effect.gen(function*() {
        const { producerId } = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        yield* txn.addPartitions("tx", producerId, 0, tp(["t", [0]]))
        expect(txn.verifyPartitions("tx", producerId, 0, tp(["t", [0, 1]]))).toEqual([
          { topic: "t", partition: 0, errorCode: ErrorCode.NONE },
          { topic: "t", partition: 1, errorCode: ErrorCode.TRANSACTION_ABORTABLE }
        ])
        expect(txn.verifyPartitions("tx", producerId, 1, tp(["t", [0]]))).toEqual([{ topic: "t", partition: 0, errorCode: ErrorCode.PRODUCER_FENCED }])
        expect(txn.verifyPartitions("nope", producerId, 0, tp(["t", [0]]))).toEqual([{ topic: "t", partition: 0, errorCode: ErrorCode.INVALID_PRODUCER_ID_MAPPING }])
        expect(txn.verifyPartitions("", producerId, 0, tp(["t", [0]]))).toEqual([{ topic: "t", partition: 0, errorCode: ErrorCode.INVALID_REQUEST }])
        // Verification adds nothing.
        expect(txn.describe("tx").topics).toEqual([{ topic: "t", partitions: [0] }])
        // The produce path's lookup agrees.
        expect(txn.verifyProduce("tx", producerId, 0, "t", 0)).toBe(ErrorCode.NONE)
        expect(txn.verifyProduce("tx", producerId, 0, "t", 1)).toBe(ErrorCode.TRANSACTION_ABORTABLE)
        expect(txn.verifyProduce("tx", producerId + 1, 0, "t", 0)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        expect(txn.verifyProduce("nope", producerId, 0, "t", 0)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
      })))

  it.effect("AddOffsetsToTxn adds the group's __consumer_offsets partition; the commit reaches the group coordinator after its marker", () =>
    withTxn({}, ({ completions, logs, txn }) =>
      Effect.gen(function*() {
        const { producerId } = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        const offsetsPartition = coordinatorPartitionFor("my-group", OFFSETS_PARTITIONS)
        expect(yield* txn.addOffsets("tx", producerId, 0, "my-group")).toBe(ErrorCode.NONE)
        expect(txn.describe("tx").topics).toEqual([{ topic: "__consumer_offsets", partitions: [offsetsPartition] }])
        expect(yield* txn.addOffsets("tx", producerId, 5, "my-group")).toBe(ErrorCode.PRODUCER_FENCED)
        expect(yield* txn.endTxn("tx", producerId, 0, true)).toBe(ErrorCode.NONE)
        expect(yield* markersIn(logs, "__consumer_offsets", offsetsPartition)).toMatchObject([{ producerId, commit: true }])
        expect(completions).toEqual([{ producerId, partitions: [offsetsPartition], commit: true }])
      })))
})

describe("EndTxn", () => {
  it.effect("commit writes a COMMIT marker into every partition, then CompleteCommit; retries are idempotent", () =>
    withTxn({}, ({ completions, logs, txn }) =>
      Effect.gen(function*() {
        const { producerId } = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        yield* txn.addPartitions("tx", producerId, 0, tp(["t", [0, 2]], ["u", [0]]))
        expect(yield* txn.endTxn("tx", producerId, 0, true)).toBe(ErrorCode.NONE)
        for (const [topic, p] of [["t", 0], ["t", 2], ["u", 0]] as const) {
          expect(yield* markersIn(logs, topic, p)).toEqual([{ producerId, producerEpoch: 0, coordinatorEpoch: 0, commit: true, offset: 0 }])
        }
        expect(yield* markersIn(logs, "t", 1)).toEqual([])
        expect(txn.describe("tx")).toMatchObject({ state: "CompleteCommit", topics: [] })
        expect(completions).toEqual([])
        // A retried commit succeeds without writing again; an abort now is INVALID_TXN_STATE.
        expect(yield* txn.endTxn("tx", producerId, 0, true)).toBe(ErrorCode.NONE)
        expect(yield* txn.endTxn("tx", producerId, 0, false)).toBe(ErrorCode.INVALID_TXN_STATE)
        expect(yield* markersIn(logs, "t", 0)).toHaveLength(1)
        // Produce after the end is refused: the partition is no longer in a transaction.
        expect(txn.verifyProduce("tx", producerId, 0, "t", 0)).toBe(ErrorCode.TRANSACTION_ABORTABLE)
        // The next transaction under the same epoch.
        expect(yield* txn.addPartitions("tx", producerId, 0, tp(["t", [1]]))).toBe(ErrorCode.NONE)
        expect(yield* txn.endTxn("tx", producerId, 0, false)).toBe(ErrorCode.NONE)
        expect(yield* markersIn(logs, "t", 1)).toMatchObject([{ commit: false }])
        expect(txn.describe("tx").state).toBe("CompleteAbort")
        expect(yield* txn.endTxn("tx", producerId, 0, true)).toBe(ErrorCode.INVALID_TXN_STATE)
      })))

  it.effect("refuses bad requests with Kafka's codes and leaves the transaction as it was", () =>
    withTxn({}, ({ logs, txn }) =>
      Effect.gen(function*() {
        const { producerId } = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        expect(yield* txn.endTxn("tx", producerId, 0, true)).toBe(ErrorCode.INVALID_TXN_STATE)
        expect(yield* txn.endTxn("tx", producerId, 0, false)).toBe(ErrorCode.INVALID_TXN_STATE)
        yield* txn.addPartitions("tx", producerId, 0, tp(["t", [0]]))
        const before = txn.describe("tx")
        expect(yield* txn.endTxn("", producerId, 0, true)).toBe(ErrorCode.INVALID_REQUEST)
        expect(yield* txn.endTxn("nope", producerId, 0, true)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        expect(yield* txn.endTxn("tx", producerId + 1, 0, true)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        expect(yield* txn.endTxn("tx", producerId, 1, true)).toBe(ErrorCode.PRODUCER_FENCED)
        expect(txn.describe("tx")).toEqual(before)
        expect(yield* markersIn(logs, "t", 0)).toEqual([])
      })))
})

describe("timers", () => {
  it.effect("a transaction older than its timeout is aborted and its producer fenced", () =>
    withTxn({ coordinator: { abortTimedOutIntervalMs: 1000 } }, ({ logs, txn }) =>
      Effect.gen(function*() {
        const { producerId } = yield* txn.initProducerId("tx", 5000, undefined)
        yield* txn.addPartitions("tx", producerId, 0, tp(["t", [0]]))
        yield* TestClock.adjust(5000)
        // Not older than the timeout yet (Kafka aborts strictly after it).
        expect(txn.describe("tx").state).toBe("Ongoing")
        yield* TestClock.adjust(1000)
        expect(txn.describe("tx")).toMatchObject({ state: "CompleteAbort", producerEpoch: 1 })
        expect(yield* markersIn(logs, "t", 0)).toEqual([{ producerId, producerEpoch: 1, coordinatorEpoch: 0, commit: false, offset: 0 }])
        expect(yield* txn.endTxn("tx", producerId, 0, true)).toBe(ErrorCode.PRODUCER_FENCED)
        expect(txn.verifyProduce("tx", producerId, 0, "t", 0)).toBe(ErrorCode.PRODUCER_FENCED)
      })))

  it.effect("an idle transactional id expires after transactional.id.expiration.ms; one in a transaction does not", () => {
    const log = new Map<string, TxnTransit>()
    return withTxn({ log, coordinator: { transactionalIdExpirationMs: 10_000, removeExpiredIntervalMs: 1000, abortTimedOutIntervalMs: 3_600_000 } }, ({ txn }) =>
      Effect.gen(function*() {
        yield* txn.initProducerId("idle", TIMEOUT, undefined)
        const busy = yield* txn.initProducerId("busy", 600_000, undefined)
        yield* txn.addPartitions("busy", busy.producerId, 0, tp(["t", [0]]))
        yield* TestClock.adjust(9000)
        expect(txn.describe("idle").errorCode).toBe(ErrorCode.NONE)
        yield* TestClock.adjust(2000)
        expect(txn.describe("idle").errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND)
        expect(log.has("idle")).toBe(false)
        expect(txn.describe("busy").state).toBe("Ongoing")
        expect((yield* txn.list({ states: [], producerIds: [], durationMs: -1 })).transactions.map((t) => t.transactionalId)).toEqual(["busy"])
        // A new producer with the expired id starts afresh.
        expect(yield* txn.initProducerId("idle", TIMEOUT, undefined)).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 })
      }))
  })
})

describe("restart", () => {
  it.effect("a transaction prepared before a crash is completed (markers written) at start-up; an ongoing one times out later", () => {
    const log = new Map<string, TxnTransit>()
    const dataPlane = makeDataPlane()
    return Effect.gen(function*() {
      const ids = yield* withTxn({ log, dataPlane }, ({ txn }) =>
        Effect.gen(function*() {
          const a = yield* txn.initProducerId("prepared", TIMEOUT, undefined)
          yield* txn.addPartitions("prepared", a.producerId, 0, tp(["t", [1]], ["u", [0]]))
          const b = yield* txn.initProducerId("ongoing", 2000, undefined)
          yield* txn.addPartitions("ongoing", b.producerId, 0, tp(["t", [2]]))
          return { a: a.producerId, b: b.producerId }
        }))
      // The crash came after PrepareCommit reached the log, before any marker.
      const ongoing = log.get("prepared")!
      log.set("prepared", { ...ongoing, state: TxnState.PrepareCommit })
      yield* withTxn({ log, dataPlane, coordinator: { abortTimedOutIntervalMs: 1000 } }, ({ logs, txn }) =>
        Effect.gen(function*() {
          expect(txn.describe("prepared")).toMatchObject({ state: "CompleteCommit", producerId: ids.a, producerEpoch: 0 })
          expect(yield* markersIn(logs, "t", 1)).toMatchObject([{ producerId: ids.a, commit: true }])
          expect(yield* markersIn(logs, "u", 0)).toMatchObject([{ producerId: ids.a, commit: true }])
          expect(txn.describe("ongoing").state).toBe("Ongoing")
          yield* TestClock.adjust(3000)
          expect(txn.describe("ongoing")).toMatchObject({ state: "CompleteAbort", producerEpoch: 1 })
          expect(yield* markersIn(logs, "t", 2)).toMatchObject([{ producerId: ids.b, producerEpoch: 1, commit: false }])
        }))
    })
  })
})

describe("concurrency and log failures", () => {
  /** An in-memory transaction log whose writes wait for `gate` while it is set, and fail while `failing`. */
  const gatedLog = (control: { gate: Deferred.Deferred<void> | undefined; failing: boolean }) =>
    Layer.effect(
      TransactionLog,
      TransactionLog.useSync((inner) => ({
        ...inner,
        append: (id: string, transit: TxnTransit | null, now: number) =>
          Effect.gen(function*() {
            if (control.gate !== undefined) yield* Deferred.await(control.gate)
            if (control.failing) return yield* new TransactionLogError({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, message: "disk on fire" })
            yield* inner.append(id, transit, now)
          })
      }))
    ).pipe(Layer.provide(TransactionLog.layerMemory()))

  it.effect("while EndTxn is being written, other requests for the id get CONCURRENT_TRANSACTIONS", () => {
    const control: { gate: Deferred.Deferred<void> | undefined; failing: boolean } = { gate: undefined, failing: false }
    return withTxn({ transactionLog: gatedLog(control) }, ({ txn }) =>
      Effect.gen(function*() {
        const { producerId } = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        yield* txn.addPartitions("tx", producerId, 0, tp(["t", [0]]))
        control.gate = yield* Deferred.make<void>()
        const ending = yield* Effect.forkChild(txn.endTxn("tx", producerId, 0, true))
        // Until the EndTxn fiber has prepared its transition (bounded).
        for (let i = 0; i < 100 && txn.verifyProduce("tx", producerId, 0, "t", 0) === ErrorCode.NONE; i++) yield* Effect.yieldNow
        expect(yield* txn.addPartitions("tx", producerId, 0, tp(["t", [1]]))).toBe(ErrorCode.CONCURRENT_TRANSACTIONS)
        expect(yield* txn.endTxn("tx", producerId, 0, true)).toBe(ErrorCode.CONCURRENT_TRANSACTIONS)
        expect((yield* txn.initProducerId("tx", TIMEOUT, undefined)).errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS)
        expect(txn.verifyProduce("tx", producerId, 0, "t", 0)).toBe(ErrorCode.CONCURRENT_TRANSACTIONS)
        yield* Deferred.succeed(control.gate, undefined)
        control.gate = undefined
        expect(yield* Fiber.join(ending)).toBe(ErrorCode.NONE)
        expect(txn.describe("tx").state).toBe("CompleteCommit")
      }))
  })

  it.effect("a transition the log refuses is answered with the log's error and leaves the state as it was", () => {
    const control: { gate: Deferred.Deferred<void> | undefined; failing: boolean } = { gate: undefined, failing: false }
    return withTxn({ transactionLog: gatedLog(control) }, ({ logs, txn }) =>
      Effect.gen(function*() {
        const { producerId } = yield* txn.initProducerId("tx", TIMEOUT, undefined)
        yield* txn.addPartitions("tx", producerId, 0, tp(["t", [0]]))
        const before = txn.describe("tx")
        control.failing = true
        expect(yield* txn.addPartitions("tx", producerId, 0, tp(["t", [1]]))).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        expect(yield* txn.endTxn("tx", producerId, 0, true)).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        expect(txn.describe("tx")).toEqual(before)
        expect(yield* markersIn(logs, "t", 0)).toEqual([])
        control.failing = false
        expect(yield* txn.endTxn("tx", producerId, 0, true)).toBe(ErrorCode.NONE)
        expect(yield* markersIn(logs, "t", 0)).toMatchObject([{ commit: true }])
      }))
  })
})

describe("ListTransactions / DescribeTransactions", () => {
  it.effect("filters by state, producer id and duration; unknown state names are echoed", () =>
    withTxn({}, ({ txn }) =>
      Effect.gen(function*() {
        const a = yield* txn.initProducerId("a", TIMEOUT, undefined)
        const b = yield* txn.initProducerId("b", TIMEOUT, undefined)
        yield* txn.addPartitions("b", b.producerId, 0, tp(["t", [0]]))
        yield* TestClock.adjust(100)
        const all = yield* txn.list({ states: [], producerIds: [], durationMs: -1 })
        expect(all.transactions).toEqual([
          { transactionalId: "a", producerId: a.producerId, state: "Empty" },
          { transactionalId: "b", producerId: b.producerId, state: "Ongoing" }
        ])
        expect((yield* txn.list({ states: ["Ongoing", "Bogus"], producerIds: [], durationMs: -1 }))).toEqual({
          errorCode: ErrorCode.NONE,
          unknownStateFilters: ["Bogus"],
          transactions: [{ transactionalId: "b", producerId: b.producerId, state: "Ongoing" }]
        })
        expect((yield* txn.list({ states: [], producerIds: [a.producerId], durationMs: -1 })).transactions.map((t) => t.transactionalId)).toEqual(["a"])
        expect((yield* txn.list({ states: ["Ongoing"], producerIds: [], durationMs: 100 })).transactions).toEqual([])
        expect((yield* txn.list({ states: ["Ongoing"], producerIds: [], durationMs: 99 })).transactions).toHaveLength(1)
        expect(txn.describe("b")).toMatchObject({ state: "Ongoing", transactionStartTimeMs: 0, topics: [{ topic: "t", partitions: [0] }] })
        expect(txn.describe("").errorCode).toBe(ErrorCode.INVALID_REQUEST)
      })))
})

describe("transaction log records", () => {
  it("round-trip through Kafka's TransactionLogValue v0, tombstones included", () => {
    const transit: TxnTransit = {
      producerId: 7,
      previousProducerId: 7,
      nextProducerId: -1,
      producerEpoch: 3,
      lastProducerEpoch: 2,
      txnTimeoutMs: 60_000,
      state: TxnState.Ongoing,
      partitions: new Map([["t", new Set([0, 2])], ["u", new Set([0])]]),
      txnStartTimestamp: 1000,
      txnLastUpdateTimestamp: 2000
    }
    const value = encodeTxnLogValue(transit)
    // Version-prefixed: int16 0 first.
    expect([value[0], value[1]]).toEqual([0, 0])
    const md = decodeTxnLogValue("tx", value)!
    expect(md).toMatchObject({ producerId: 7, producerEpoch: 3, lastProducerEpoch: -1, txnTimeoutMs: 60_000, state: TxnState.Ongoing, txnStartTimestamp: 1000, txnLastUpdateTimestamp: 2000 })
    expect(md.partitions).toEqual(transit.partitions)

    const replayed = new Map<string, TxnMetadata | null>()
    const batches = [txnLogBatch("tx", transit, 1), txnLogBatch("gone", { ...transit, state: TxnState.Empty, partitions: new Map() }, 2), txnLogBatch("gone", null, 3)]
    let offset = 0
    const withOffsets = batches.map((b) => {
      const copy = b.slice()
      new DataView(copy.buffer).setBigInt64(0, BigInt(offset++))
      return copy
    })
    const all = new Uint8Array(withOffsets.reduce((n, b) => n + b.length, 0))
    let pos = 0
    for (const b of withOffsets) {
      all.set(b, pos)
      pos += b.length
    }
    expect(replayBatches(all, replayed)).toBe(3)
    expect(replayed.get("tx")?.state).toBe(TxnState.Ongoing)
    expect(replayed.get("gone")).toBeNull()
  })

  it("an Empty transaction holding partitions, or an illegal transition, is a bug", () => {
    const md = TxnMetadata.fresh("tx", 1, TIMEOUT, 0)
    expect(() => md.prepareAbortOrCommit(TxnState.PrepareCommit, 0)).toThrow(IllegalTxnTransition)
    md.prepareIncrementProducerEpoch(TIMEOUT, undefined, 0)
    expect(() => md.prepareAddPartitions(new Map(), 0)).toThrow(IllegalTxnTransition)
  })
})
