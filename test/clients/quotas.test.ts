/**
 * Client quotas with real clients. @platformatic/kafka's admin sets a low producer_byte_rate
 * for one client id through AlterClientQuotas; a KafkaJS producer with that client id then
 * sees throttle_time_ms > 0 in its Produce responses (read from KafkaJS's own response log)
 * and is held to the quota: the bytes the broker accepted up to each append, by the broker's
 * own clock (LogAppendTime), never exceed what Kafka's windows allow (10 s of quota up front,
 * then the quota). A producer with another client id, same load, is never throttled. A
 * consumer over its consumer_byte_rate gets Kafka's empty throttled Fetch response.
 *
 * Nothing here times the client: amounts are checked against the broker's timestamps and
 * its quota gauges on /metrics.
 */
import { Readable } from "node:stream"
import { Admin } from "@platformatic/kafka"
import { Kafka, type logCreator, logLevel } from "kafkajs"
import parsePrometheusTextFormat from "parse-prometheus-text-format"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import { run } from "../../src/cli/main.ts"
import { Fetch } from "../../src/protocol/generated/apis.ts"
import { readBatchHeader, RECORD_BATCH_OVERHEAD } from "../../src/log/record-batch.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

/** Appends stamped with the broker's clock (LogAppendTime). */
const SLOW_TOPIC = "quota-slow"
const FAST_TOPIC = "quota-fast"
/** Bytes per second for the throttled client: Kafka's 11 × 1 s windows let 10 s of it through at once. */
const QUOTA = 40_000
const MESSAGE_BYTES = 10_000
/**
 * More than the windows let through at once (10 s of quota plus the fraction of the current
 * window, under 11 s: 440 000 bytes), with request overhead: the last ones are throttled.
 */
const MESSAGES = 46

let broker: EmbeddedBroker
let admin: Admin

beforeAll(async () => {
  broker = await startBroker({ properties: { "num.partitions": "1" } })
  admin = new Admin({ clientId: "quota-admin", bootstrapBrokers: [broker.bootstrap] })
})
afterAll(async () => {
  await admin.close()
  await broker.stop()
})

/** The throttle times a KafkaJS client read from its Produce responses (from its debug log of each response). */
const kafkaWithThrottleLog = (clientId: string) => {
  const throttles: Array<number> = []
  const creator: logCreator = () => ({ log }) => {
    // KafkaJS (Produce v6+) keeps the broker's throttle_time_ms as clientSideThrottleTime and waits it out.
    const data = (log as { data?: { clientSideThrottleTime?: number } }).data
    if (log.message.startsWith("Response Produce") && typeof data?.clientSideThrottleTime === "number") throttles.push(data.clientSideThrottleTime)
  }
  const kafka = new Kafka({ clientId, brokers: [broker.bootstrap], logLevel: logLevel.DEBUG, logCreator: creator })
  return { kafka, throttles }
}

const produceAll = async (kafka: Kafka, topic: string) => {
  const producer = kafka.producer()
  await producer.connect()
  const value = Buffer.alloc(MESSAGE_BYTES, 7)
  for (let i = 0; i < MESSAGES; i++) await producer.send({ topic, acks: 1, messages: [{ value }] })
  await producer.disconnect()
}

/** Fetches partition 0 of `topic` from `offset` (raw v12 request, so the test sees throttle_time_ms as sent). */
const fetchOnce = async (client: WireClient, clientId: string, topic: string, correlationId: number, partitionMaxBytes: number) => {
  client.write(encodeRequest(Fetch, 12, correlationId, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 24,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes }] }],
    forgottenTopicsData: [],
    rackId: ""
  }, clientId))
  return decodeResponse(Fetch, 12, await client.read()).body
}

/** The broker's append time of each batch in `records` (one record per batch here). */
const appendTimes = (records: Uint8Array): Array<number> => {
  const out: Array<number> = []
  for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= records.length;) {
    const header = readBatchHeader(records, pos)
    if (pos + header.sizeInBytes > records.length) break
    out.push(header.maxTimestamp)
    pos += header.sizeInBytes
  }
  return out
}

const gauges = async () => {
  const families = parsePrometheusTextFormat(await (await fetch(`${broker.httpUrl}/metrics`)).text())
  return (family: string, clientId: string): number | undefined => {
    const sample = families.find((f) => f.name === family)?.metrics.find((m) => m.labels?.["client_id"] === clientId)
    return sample === undefined ? undefined : Number(sample.value)
  }
}

describe("client quotas with real clients", () => {
  it("KafkaJS over producer_byte_rate gets throttle_time_ms > 0 and is held near the quota; another client id is not throttled", async () => {
    const altered = await admin.alterClientQuotas({
      entries: [{ entities: [{ entityType: "client-id", entityName: "slow-producer" }], ops: [{ key: "producer_byte_rate", value: QUOTA, remove: false }] }]
    })
    expect(altered.map((e) => e.errorCode)).toEqual([0])

    const setup = new Kafka({ clientId: "quota-setup", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin()
    await setup.connect()
    await setup.createTopics({
      topics: [
        { topic: SLOW_TOPIC, numPartitions: 1, configEntries: [{ name: "message.timestamp.type", value: "LogAppendTime" }] },
        { topic: FAST_TOPIC, numPartitions: 1 }
      ]
    })
    await setup.disconnect()

    const slow = kafkaWithThrottleLog("slow-producer")
    await produceAll(slow.kafka, SLOW_TOPIC)
    const fast = kafkaWithThrottleLog("fast-producer")
    await produceAll(fast.kafka, FAST_TOPIC)

    // 10 s (and the current window's fraction) of quota pass before the first throttle, then
    // the broker answers with throttle times.
    expect(slow.throttles.length).toBe(MESSAGES)
    const firstThrottled = slow.throttles.findIndex((t) => t > 0)
    expect(firstThrottled).toBeGreaterThan(35)
    expect(firstThrottled).toBeLessThan(MESSAGES)
    expect(fast.throttles.length).toBe(MESSAGES)
    expect(fast.throttles.every((t) => t === 0)).toBe(true)

    // Held to the quota on the broker's clock: by each append, at most 10 s of quota plus
    // the quota for the time since the first append (and the message in hand).
    const reader = await WireClient.connect(broker.port, broker.host)
    const times = appendTimes((await fetchOnce(reader, "quota-reader", SLOW_TOPIC, 1, 1 << 24)).responses[0].partitions[0].records)
    reader.close()
    expect(times.length).toBe(MESSAGES)
    times.forEach((t, i) => {
      const accepted = (i + 1) * MESSAGE_BYTES
      expect(accepted).toBeLessThanOrEqual(QUOTA * (10 + (t - times[0]!) / 1000) + MESSAGE_BYTES)
    })

    const value = await gauges()
    expect(value("kafka_server_produce_quota", "slow-producer")).toBe(QUOTA)
    expect(value("kafka_server_produce_throttled_responses_total", "slow-producer")).toBe(slow.throttles.filter((t) => t > 0).length)
    expect(value("kafka_server_produce_throttle_time_ms_total", "slow-producer")).toBe(slow.throttles.reduce((a, b) => a + b, 0))
    expect(value("kafka_server_produce_throttled_responses_total", "fast-producer")).toBe(0)
    expect(value("kafka_server_produce_quota", "fast-producer")).toBeUndefined()
  })

  it("a consumer Fetch over consumer_byte_rate is answered empty with the throttle, and not counted", async () => {
    await admin.alterClientQuotas({
      entries: [{ entities: [{ entityType: "client-id", entityName: "slow-consumer" }], ops: [{ key: "consumer_byte_rate", value: 2000, remove: false }] }]
    })
    const client = await WireClient.connect(broker.port, broker.host)
    try {
      // 15 000 bytes of records: within 2000 B/s × 10 windows, not throttled.
      const first = await fetchOnce(client, "slow-consumer", SLOW_TOPIC, 1, 15_000)
      expect(first.throttleTimeMs).toBe(0)
      const records = first.responses[0].partitions[0].records as Uint8Array
      expect(records.length).toBeGreaterThan(MESSAGE_BYTES)
      expect(records.length).toBeLessThanOrEqual(15_000)
      // Asking for 1 MiB: capped at 20 000 bytes, which with the first goes over the quota, so
      // the response is throttled, and (as Kafka answers) empty.
      const second = await fetchOnce(client, "slow-consumer", SLOW_TOPIC, 2, 1 << 20)
      expect(second.throttleTimeMs).toBeGreaterThan(0)
      expect(second.errorCode).toBe(0)
      expect(second.responses).toEqual([])
      // The bytes of the empty response were taken back: the rate is the first fetch's alone.
      const rate = (await gauges())("kafka_server_fetch_byte_rate", "slow-consumer")!
      expect(rate).toBeGreaterThan(records.length / 11)
      expect(rate).toBeLessThan(2000)
    } finally {
      client.close()
    }
  })

  it("the kafka CLI sets and removes a client quota kafka-configs style, and the next produce follows it", async () => {
    const cli = async (...args: ReadonlyArray<string>) => {
      let stdout = ""
      let stderr = ""
      const code = await run([...args, "--bootstrap-server", broker.bootstrap], { stdin: Readable.from([""]), out: (t) => void (stdout += t), err: (t) => void (stderr += t) })
      return { code, stdout, stderr }
    }
    const set = await cli("quota", "set", "--entity-type", "clients", "--entity-name", "cli-producer", "producer_byte_rate=500")
    expect(set).toMatchObject({ code: 0, stderr: "" })
    const described = await cli("quota", "describe", "--client-id", "cli-producer", "--format", "json")
    expect(JSON.parse(described.stdout)).toEqual([{ entity: "client-id=cli-producer", key: "producer_byte_rate", value: 500 }])

    // One 6000-byte record: 600 B/s over the 10 s minimum window, 20% over 500: a 2000 ms throttle (and a little more for the request's own bytes).
    const sendOne = async () => {
      const { kafka, throttles } = kafkaWithThrottleLog("cli-producer")
      const producer = kafka.producer()
      await producer.connect()
      await producer.send({ topic: FAST_TOPIC, acks: 1, messages: [{ value: Buffer.alloc(6000, 1) }] })
      await producer.disconnect()
      return throttles
    }
    const [throttled] = await sendOne()
    expect(throttled).toBeGreaterThanOrEqual(2000)
    expect(throttled).toBeLessThan(2500)

    expect((await cli("quota", "delete", "--client-id", "cli-producer", "producer_byte_rate")).code).toBe(0)
    expect(await sendOne()).toEqual([0])
    expect((await cli("quota", "describe", "--client-id", "cli-producer", "--format", "json")).stdout.trim()).toBe("[]")
  })
})
