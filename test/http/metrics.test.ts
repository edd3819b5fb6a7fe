/**
 * /metrics against a real client: KafkaJS produces and consumes known amounts, a raw request
 * fails on purpose, and the scrape (parsed by a Prometheus text-format parser) shows exactly
 * those amounts; every family README documents is present.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import { Produce } from "../../src/protocol/generated/apis/Produce.ts"
import { encodeRequest, WireClient } from "../support/wire-client.ts"

const TOPIC = "metrics-orders"
const RECORDS = 7

interface Scrape extends Map<string, ParsedFamily> {
  readonly text: string
}

/** Parsed with parse-prometheus-text-format, which throws on a malformed line. */
const scrape = async (broker: EmbeddedBroker): Promise<Scrape> => {
  const response = await fetch(`${broker.httpUrl}/metrics`)
  expect(response.status).toBe(200)
  expect(response.headers.get("content-type")).toContain("text/plain")
  const text = await response.text()
  const families = parsePrometheusTextFormat(text)
  return Object.assign(new Map(families.map((f) => [f.name, f])), { text })
}

/**
 * A histogram series' count. The parser folds the series of a labelled histogram into one
 * (it keeps only buckets), so the count is read from its `_count` line.
 */
const histogramCount = (s: Scrape, family: string, labels: string): number => {
  expect(s.get(family)?.type).toBe("HISTOGRAM")
  const line = s.text.split("\n").find((l) => l.startsWith(`${family}_count{${labels}} `))
  if (line === undefined) throw new Error(`no series ${family}_count{${labels}}`)
  return Number(line.slice(line.lastIndexOf(" ") + 1))
}

/** The value of the series of `family` whose labels are exactly `labels`. */
const valueOf = (families: Map<string, ParsedFamily>, family: string, labels: Record<string, string> = {}): number => {
  const f = families.get(family)
  if (f === undefined) throw new Error(`no family ${family}`)
  const sample = f.metrics.find((m) => {
    const have = m.labels ?? {}
    return Object.keys(have).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => have[k] === v)
  })
  if (sample === undefined) throw new Error(`no series ${family}${JSON.stringify(labels)}`)
  return Number(sample.value ?? sample.count)
}

/** Every metric family named in README's Metrics section. */
const documentedFamilies = (): Array<string> => {
  const readme = fs.readFileSync(path.resolve(import.meta.dirname, "../../README.md"), "utf8")
  const section = readme.slice(readme.indexOf("### Metrics"), readme.indexOf("\n## ", readme.indexOf("### Metrics")))
  return [...new Set([...section.matchAll(/`((?:kafka|process|nodejs)_[a-z0-9_]+)`/g)].map((m) => m[1]!))]
}

describe("/metrics", () => {
  let broker: EmbeddedBroker
  let kafka: Kafka
  beforeAll(async () => {
    broker = await startBroker()
    kafka = new Kafka({ clientId: "metrics-test", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
  })
  afterAll(() => broker?.stop())

  it("counts produced and fetched records and bytes exactly, per topic and for all topics", async () => {
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }] })
    await admin.disconnect()
    const before = await scrape(broker)
    const allBefore = valueOf(before, "kafka_server_brokertopicmetrics_messagesin_total")

    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: TOPIC, messages: [0, 1, 2].map((i) => ({ key: `k${i}`, value: `v${i}`, partition: 0 })) })
    await producer.send({ topic: TOPIC, messages: [3, 4, 5, 6].map((i) => ({ key: `k${i}`, value: `v${i}`, partition: 1 })) })
    await producer.disconnect()

    const afterProduce = await scrape(broker)
    expect(valueOf(afterProduce, "kafka_server_brokertopicmetrics_messagesin_total", { topic: TOPIC })).toBe(RECORDS)
    expect(valueOf(afterProduce, "kafka_server_brokertopicmetrics_messagesin_total") - allBefore).toBe(RECORDS)
    expect(valueOf(afterProduce, "kafka_server_brokertopicmetrics_totalproducerequests_total", { topic: TOPIC })).toBe(2)
    // Batches are stored as the producer sent them: bytes in equal the partitions' log sizes.
    const logSize = (p: number) => valueOf(afterProduce, "kafka_log_log_size", { topic: TOPIC, partition: String(p) })
    const storedBytes = logSize(0) + logSize(1)
    expect(storedBytes).toBeGreaterThan(0)
    expect(valueOf(afterProduce, "kafka_server_brokertopicmetrics_bytesin_total", { topic: TOPIC })).toBe(storedBytes)
    expect(valueOf(afterProduce, "kafka_log_log_logendoffset", { topic: TOPIC, partition: "0" })).toBe(3)
    expect(valueOf(afterProduce, "kafka_log_log_logendoffset", { topic: TOPIC, partition: "1" })).toBe(4)
    expect(valueOf(afterProduce, "kafka_log_log_logstartoffset", { topic: TOPIC, partition: "1" })).toBe(0)
    expect(valueOf(afterProduce, "kafka_log_log_numlogsegments", { topic: TOPIC, partition: "1" })).toBe(1)
    expect(valueOf(afterProduce, "kafka_network_requestmetrics_requests_total", { request: "Produce" })).toBe(2)
    expect(valueOf(afterProduce, "kafka_network_requestmetrics_errors_total", { request: "Produce", error: "NONE" })).toBe(2)
    for (const family of ["totaltimems", "requestqueuetimems", "localtimems", "responsequeuetimems", "responsesendtimems"]) {
      expect(histogramCount(afterProduce, `kafka_network_requestmetrics_${family}`, `request="Produce"`)).toBe(2)
    }

    const consumer = kafka.consumer({ groupId: "metrics-group" })
    await consumer.connect()
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
    let seen = 0
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async () => {
          if (++seen === RECORDS) resolve()
        }
      })
    })
    await consumer.disconnect()

    const afterConsume = await scrape(broker)
    // Each batch was fetched once: bytes out equal what is stored.
    expect(valueOf(afterConsume, "kafka_server_brokertopicmetrics_bytesout_total", { topic: TOPIC })).toBe(storedBytes)
    expect(valueOf(afterConsume, "kafka_consumergroup_current_offset", { consumergroup: "metrics-group", topic: TOPIC, partition: "1" })).toBe(4)
    expect(valueOf(afterConsume, "kafka_consumergroup_lag", { consumergroup: "metrics-group", topic: TOPIC, partition: "0" })).toBe(0)
    expect(valueOf(afterConsume, "kafka_consumergroup_state", { consumergroup: "metrics-group", state: "Empty" })).toBe(1)
    expect(valueOf(afterConsume, "kafka_consumergroup_members", { consumergroup: "metrics-group" })).toBe(0)
    expect(valueOf(afterConsume, "kafka_server_socket_server_metrics_connection_creation_total", { listener: "PLAINTEXT" })).toBeGreaterThan(0)
  })

  it("counts a failed produce for its topic and its error code", async () => {
    const before = await scrape(broker)
    const failedBefore = valueOf(before, "kafka_server_brokertopicmetrics_failedproducerequests_total")
    const client = await WireClient.connect(broker.port)
    try {
      client.write(encodeRequest(Produce, 9, 42, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 1000,
        topicData: [{ name: TOPIC, partitionData: [{ index: 99, records: new Uint8Array(0) }] }]
      }))
      await client.read()
    } finally {
      client.close()
    }
    const after = await scrape(broker)
    expect(valueOf(after, "kafka_server_brokertopicmetrics_failedproducerequests_total", { topic: TOPIC })).toBe(1)
    expect(valueOf(after, "kafka_server_brokertopicmetrics_failedproducerequests_total") - failedBefore).toBe(1)
    expect(valueOf(after, "kafka_network_requestmetrics_errors_total", { request: "Produce", error: "UNKNOWN_TOPIC_OR_PARTITION" })).toBe(1)
  })

  it("exposes every family README documents", async () => {
    const families = await scrape(broker)
    const documented = documentedFamilies()
    expect(documented.length).toBeGreaterThan(30)
    expect(documented.filter((name) => !families.has(name))).toEqual([])
    expect(families.get("kafka_network_requestmetrics_totaltimems")?.type).toBe("HISTOGRAM")
    expect(families.get("kafka_server_brokertopicmetrics_bytesin_total")?.type).toBe("COUNTER")
    expect(valueOf(families, "kafka_server_replicamanager_underreplicatedpartitions")).toBe(0)
  })
})
