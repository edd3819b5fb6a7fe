/**
 * The transaction APIs' handlers over the coordinator: request and response shapes at their
 * versions, and the error codes Kafka's KafkaApis / ReplicaManager answer for each version
 * (PRODUCER_FENCED becoming INVALID_PRODUCER_EPOCH for old clients, KIP-890 part 1's produce
 * refusal per Produce version, AddPartitionsToTxn's per-partition answers).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { AddOffsetsToTxnHandler } from "../../src/handlers/AddOffsetsToTxn.ts"
import { AddPartitionsToTxnHandler } from "../../src/handlers/AddPartitionsToTxn.ts"
import { DescribeProducersHandler } from "../../src/handlers/DescribeProducers.ts"
import { DescribeTransactionsHandler } from "../../src/handlers/DescribeTransactions.ts"
import { EndTxnHandler } from "../../src/handlers/EndTxn.ts"
import { InitProducerIdHandler } from "../../src/handlers/InitProducerId.ts"
import { ListTransactionsHandler } from "../../src/handlers/ListTransactions.ts"
import { ProduceHandler } from "../../src/handlers/Produce.ts"
import { buildRecordBatch } from "../../src/log/record-batch.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { call, produceRequest } from "../handlers/data-plane/helpers.ts"
import { withTxn } from "./helpers.ts"

const init = (version: number, transactionalId: string | null, extra: { transactionTimeoutMs?: number; producerId?: bigint; producerEpoch?: number } = {}) =>
  call(InitProducerIdHandler, version, { transactionalId, transactionTimeoutMs: 60_000, ...extra })

const addPartitions = (version: number, transactionalId: string, producerId: bigint, producerEpoch: number, topics: ReadonlyArray<{ name: string; partitions: Array<number> }>) =>
  call(AddPartitionsToTxnHandler, version, version < 4
    ? { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: topics }
    : { transactions: [{ transactionalId, producerId, producerEpoch, verifyOnly: false, topics }] })

const txnBatch = (producerId: bigint, producerEpoch: number, baseSequence = 0) =>
  buildRecordBatch({ records: [{ value: "v" }], timestamp: 1, producerId: Number(producerId), producerEpoch, baseSequence, isTransactional: true })

const produceTxn = (version: number, transactionalId: string, producerId: bigint, producerEpoch: number, partition: number, baseSequence = 0) =>
  Effect.map(
    call(ProduceHandler, version, produceRequest([["t", [[partition, txnBatch(producerId, producerEpoch, baseSequence)]]]], { transactionalId })),
    // oxlint-disable-next-line no-explicit-any
    (r: any) => r.responses[0].partitionResponses[0]
  )

describe("InitProducerId handler", () => {
  it.effect("idempotent and transactional producers; a producer id without an epoch is INVALID_REQUEST", () =>
    withTxn({}, () =>
      Effect.gen(function*() {
        expect(yield* init(4, null)).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 })
        const txn = yield* init(0, "tx")
        expect(txn).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 })
        expect(yield* init(4, "tx", { producerId: txn.producerId, producerEpoch: -1 })).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, producerId: -1n, producerEpoch: -1 })
        expect(yield* init(4, "tx", { producerId: -1n, producerEpoch: 0 })).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST })
        expect(yield* init(5, "tx", { transactionTimeoutMs: 900_001 })).toMatchObject({ errorCode: ErrorCode.INVALID_TRANSACTION_TIMEOUT })
        // KIP-360 bump with the current epoch.
        expect(yield* init(3, "tx", { producerId: txn.producerId, producerEpoch: 0 })).toMatchObject({ errorCode: ErrorCode.NONE, producerId: txn.producerId, producerEpoch: 1 })
        // Fenced: PRODUCER_FENCED from v4, INVALID_PRODUCER_EPOCH before.
        expect((yield* init(4, "tx", { producerId: txn.producerId + 9n, producerEpoch: 0 })).errorCode).toBe(ErrorCode.PRODUCER_FENCED)
        expect((yield* init(3, "tx", { producerId: txn.producerId + 9n, producerEpoch: 0 })).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
      })))
})

describe("AddPartitionsToTxn / AddOffsetsToTxn / EndTxn handlers", () => {
  it.effect("v0-v3: one error for the request; an unknown partition fails it with OPERATION_NOT_ATTEMPTED for the rest", () =>
    withTxn({}, () =>
      Effect.gen(function*() {
        const { producerId } = yield* init(4, "tx")
        const missing = yield* addPartitions(3, "tx", producerId, 0, [{ name: "t", partitions: [0, 9] }, { name: "nope", partitions: [0] }])
        expect(missing.resultsByTopicV3AndBelow).toEqual([
          { name: "t", resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.OPERATION_NOT_ATTEMPTED }, { partitionIndex: 9, partitionErrorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] },
          { name: "nope", resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] }
        ])
        const fenced = yield* addPartitions(1, "tx", producerId, 5, [{ name: "t", partitions: [0] }])
        expect(fenced.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
        const fencedV2 = yield* addPartitions(2, "tx", producerId, 5, [{ name: "t", partitions: [0] }])
        expect(fencedV2.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode).toBe(ErrorCode.PRODUCER_FENCED)
        const added = yield* addPartitions(3, "tx", producerId, 0, [{ name: "t", partitions: [0, 1] }])
        expect(added.resultsByTopicV3AndBelow).toEqual([
          { name: "t", resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.NONE }, { partitionIndex: 1, partitionErrorCode: ErrorCode.NONE }] }
        ])
      })))

  it.effect("v4+: a batch of transactions, adding or only verifying (KIP-890)", () =>
    withTxn({}, () =>
      Effect.gen(function*() {
        const a = yield* init(4, "a")
        const b = yield* init(4, "b")
        yield* addPartitions(3, "a", a.producerId, 0, [{ name: "t", partitions: [0] }])
        const response = yield* call(AddPartitionsToTxnHandler, 5, {
          transactions: [
            { transactionalId: "a", producerId: a.producerId, producerEpoch: 0, verifyOnly: true, topics: [{ name: "t", partitions: [0, 1] }] },
            { transactionalId: "b", producerId: b.producerId, producerEpoch: 0, verifyOnly: false, topics: [{ name: "u", partitions: [0] }] },
            { transactionalId: "c", producerId: 99n, producerEpoch: 0, verifyOnly: true, topics: [{ name: "t", partitions: [2] }] }
          ]
        })
        expect(response.errorCode).toBe(ErrorCode.NONE)
        expect(response.resultsByTransaction).toEqual([
          { transactionalId: "a", topicResults: [{ name: "t", resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.NONE }, { partitionIndex: 1, partitionErrorCode: ErrorCode.TRANSACTION_ABORTABLE }] }] },
          { transactionalId: "b", topicResults: [{ name: "u", resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.NONE }] }] },
          { transactionalId: "c", topicResults: [{ name: "t", resultsByPartition: [{ partitionIndex: 2, partitionErrorCode: ErrorCode.INVALID_PRODUCER_ID_MAPPING }] }] }
        ])
      })))

  it.effect("AddOffsetsToTxn and EndTxn answer with the version's codes", () =>
    withTxn({}, () =>
      Effect.gen(function*() {
        const { producerId } = yield* init(4, "tx")
        expect((yield* call(AddOffsetsToTxnHandler, 1, { transactionalId: "tx", producerId, producerEpoch: 3, groupId: "g" })).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
        expect((yield* call(AddOffsetsToTxnHandler, 4, { transactionalId: "tx", producerId, producerEpoch: 3, groupId: "g" })).errorCode).toBe(ErrorCode.PRODUCER_FENCED)
        expect((yield* call(AddOffsetsToTxnHandler, 4, { transactionalId: "tx", producerId, producerEpoch: 0, groupId: "g" })).errorCode).toBe(ErrorCode.NONE)
        expect((yield* call(EndTxnHandler, 1, { transactionalId: "tx", producerId, producerEpoch: 3, committed: true })).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
        expect((yield* call(EndTxnHandler, 4, { transactionalId: "tx", producerId, producerEpoch: 3, committed: true })).errorCode).toBe(ErrorCode.PRODUCER_FENCED)
        expect((yield* call(EndTxnHandler, 4, { transactionalId: "tx", producerId: producerId + 1n, producerEpoch: 0, committed: true })).errorCode).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        expect((yield* call(EndTxnHandler, 4, { transactionalId: "tx", producerId, producerEpoch: 0, committed: true })).errorCode).toBe(ErrorCode.NONE)
        expect((yield* call(EndTxnHandler, 4, { transactionalId: "tx", producerId, producerEpoch: 0, committed: false })).errorCode).toBe(ErrorCode.INVALID_TXN_STATE)
        const described = yield* call(DescribeTransactionsHandler, 0, { transactionalIds: ["tx", ""] })
        expect(described.transactionStates[0]).toMatchObject({ transactionalId: "tx", errorCode: ErrorCode.NONE, transactionState: "CompleteCommit", producerId, producerEpoch: 0, transactionTimeoutMs: 60_000 })
        expect(described.transactionStates[1]).toMatchObject({ transactionalId: "", errorCode: ErrorCode.INVALID_REQUEST })
        const listed = yield* call(ListTransactionsHandler, 0, { stateFilters: ["Nope"], producerIdFilters: [] })
        expect(listed).toMatchObject({ errorCode: ErrorCode.NONE, unknownStateFilters: ["Nope"], transactionStates: [] })
      })))
})

describe("Produce with a transactional id (KIP-890 part 1)", () => {
  it.effect("a partition not added to the transaction: INVALID_TXN_STATE up to v10, TRANSACTION_ABORTABLE from v11; nothing written", () =>
    withTxn({}, ({ logs }) =>
      Effect.gen(function*() {
        const { producerId } = yield* init(4, "tx")
        yield* addPartitions(3, "tx", producerId, 0, [{ name: "t", partitions: [0] }])
        expect(yield* produceTxn(10, "tx", producerId, 0, 1)).toMatchObject({ errorCode: ErrorCode.INVALID_TXN_STATE, errorMessage: "Partition was not added to the transaction" })
        expect(yield* produceTxn(11, "tx", producerId, 0, 1)).toMatchObject({ errorCode: ErrorCode.TRANSACTION_ABORTABLE })
        expect(logs.findPartition("t", 1)!.logEndOffset).toBe(0)
        // Added partition: written.
        expect(yield* produceTxn(9, "tx", producerId, 0, 0)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n })
        // A fenced epoch and an unknown producer id.
        expect((yield* produceTxn(9, "tx", producerId, 1, 0, 1)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
        expect((yield* produceTxn(9, "tx", producerId + 5n, 0, 0)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        expect((yield* produceTxn(9, "other", producerId, 0, 0)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        expect(logs.findPartition("t", 0)!.logEndOffset).toBe(1)
        // DescribeProducers sees the open transaction.
        const producers = yield* call(DescribeProducersHandler, 0, { topics: [{ name: "t", partitionIndexes: [0, 1, 99] }, { name: "bad name!", partitionIndexes: [0] }] })
        expect(producers.topics[0].partitions[0]).toMatchObject({ partitionIndex: 0, errorCode: ErrorCode.NONE, activeProducers: [{ producerId, producerEpoch: 0, lastSequence: 0, currentTxnStartOffset: 0n }] })
        expect(producers.topics[0].partitions[1]).toMatchObject({ errorCode: ErrorCode.NONE, activeProducers: [] })
        expect(producers.topics[0].partitions[2].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        expect(producers.topics[1].partitions[0].errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION)
      })))
})
