/**
 * AddPartitionsToTxn (key 24), v0-v5. Up to v3 a client adds partitions to its one
 * transaction; from v4 a request carries a batch of transactions (brokers use it), each
 * either adding partitions or, with verify_only (KIP-890 part 1), only asking whether they
 * are in the transaction (TRANSACTION_ABORTABLE for those that are not).
 *
 * A partition that does not exist fails the whole transaction's request: it gets
 * UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED, as in Kafka. Clients
 * before v2 get INVALID_PRODUCER_EPOCH instead of PRODUCER_FENCED.
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { AddPartitionsToTxn } from "../protocol/generated/apis/AddPartitionsToTxn.ts"
import type { AddPartitionsToTxnRequest, AddPartitionsToTxnRequestAddPartitionsToTxnTopic } from "../protocol/generated/message/AddPartitionsToTxnRequest.ts"
import type {
  AddPartitionsToTxnResponseAddPartitionsToTxnResultInit,
  AddPartitionsToTxnResponseAddPartitionsToTxnTopicResultInit,
  AddPartitionsToTxnResponseInit
} from "../protocol/generated/message/AddPartitionsToTxnResponse.ts"
import { Topics } from "../topics/Topics.ts"
import { TransactionCoordinator } from "../txn/TransactionCoordinator.ts"
import type { TopicPartitions } from "../txn/transaction-metadata.ts"
import { defineHandler } from "./handler.ts"

interface Txn {
  readonly transactionalId: string
  readonly producerId: number
  readonly producerEpoch: number
  readonly verifyOnly: boolean
  readonly topics: ReadonlyArray<AddPartitionsToTxnRequestAddPartitionsToTxnTopic>
}

const transactionsOf = (request: AddPartitionsToTxnRequest, version: number): ReadonlyArray<Txn> =>
  version < 4
    ? [{
      transactionalId: request.v3AndBelowTransactionalId,
      producerId: Number(request.v3AndBelowProducerId),
      producerEpoch: request.v3AndBelowProducerEpoch,
      verifyOnly: false,
      topics: request.v3AndBelowTopics
    }]
    : request.transactions.map((t) => ({ transactionalId: t.transactionalId, producerId: Number(t.producerId), producerEpoch: t.producerEpoch, verifyOnly: t.verifyOnly, topics: t.topics }))

const sameError = (topics: ReadonlyArray<AddPartitionsToTxnRequestAddPartitionsToTxnTopic>, errorCode: number): Array<AddPartitionsToTxnResponseAddPartitionsToTxnTopicResultInit> =>
  topics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: errorCode })) }))

const partitionsOf = (topics: ReadonlyArray<AddPartitionsToTxnRequestAddPartitionsToTxnTopic>): Map<string, Set<number>> => {
  const out = new Map<string, Set<number>>()
  for (const t of topics) {
    let set = out.get(t.name)
    if (set === undefined) out.set(t.name, (set = new Set()))
    for (const p of t.partitions) set.add(p)
  }
  return out
}

const grouped = (partitions: TopicPartitions, errorOf: (topic: string, partition: number) => number): Array<AddPartitionsToTxnResponseAddPartitionsToTxnTopicResultInit> =>
  [...partitions].map(([name, parts]) => ({ name, resultsByPartition: [...parts].map((partitionIndex) => ({ partitionIndex, partitionErrorCode: errorOf(name, partitionIndex) })) }))

const handleOne = (txn: Txn, version: number) =>
  Effect.gen(function*() {
    const topics = yield* Topics
    const coordinator = yield* TransactionCoordinator
    const partitions = partitionsOf(txn.topics)
    const image = topics.image()
    const missing = new Set<string>()
    for (const [topic, parts] of partitions) {
      const t = image.topicsByName.get(topic)
      for (const p of parts) if (t?.partitions.has(p) !== true) missing.add(`${topic}\u0000${p}`)
    }
    let topicResults: Array<AddPartitionsToTxnResponseAddPartitionsToTxnTopicResultInit>
    if (missing.size > 0) {
      topicResults = grouped(partitions, (topic, p) => missing.has(`${topic}\u0000${p}`) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.OPERATION_NOT_ATTEMPTED)
    } else if (txn.verifyOnly) {
      const results = coordinator.verifyPartitions(txn.transactionalId, txn.producerId, txn.producerEpoch, partitions)
      const byKey = new Map(results.map((r) => [`${r.topic}\u0000${r.partition}`, r.errorCode]))
      topicResults = grouped(partitions, (topic, p) => byKey.get(`${topic}\u0000${p}`) ?? ErrorCode.NONE)
    } else {
      const error = yield* coordinator.addPartitions(txn.transactionalId, txn.producerId, txn.producerEpoch, partitions)
      const finalError = version < 2 && error === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : error
      topicResults = sameError(txn.topics, finalError)
    }
    return { transactionalId: txn.transactionalId, topicResults } satisfies AddPartitionsToTxnResponseAddPartitionsToTxnResultInit
  })

export const AddPartitionsToTxnHandler = defineHandler(AddPartitionsToTxn, {
  minVersion: 0,
  maxVersion: 5,
  handle: (request, ctx) =>
    Effect.forEach(transactionsOf(request, ctx.apiVersion), (txn) => handleOne(txn, ctx.apiVersion)).pipe(
      Effect.map((results): AddPartitionsToTxnResponseInit =>
        ctx.apiVersion < 4
          ? { throttleTimeMs: 0, resultsByTopicV3AndBelow: results[0]?.topicResults ?? [] }
          : { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction: results }
      )
    ),
  errorResponse: (request, errorCode, ctx) =>
    ctx.apiVersion < 4
      ? { throttleTimeMs: 0, resultsByTopicV3AndBelow: sameError(request.v3AndBelowTopics, errorCode) }
      : { throttleTimeMs: 0, errorCode, resultsByTransaction: [] }
})
