/**
 * Issue proof (log compaction) with a real client: KafkaJS writes 100 000 updates over
 * 1 000 keys (half of the requests gzip-compressed) to a compacted topic with small
 * segments; the log cleaner is triggered through the broker (deterministic, no waiting);
 * a KafkaJS consumer reading from the beginning then sees exactly the latest value of every
 * key, at the offset it was written at, offsets strictly increasing. Then a long run of
 * overwrites with a clean after each phase keeps the partition's size bounded.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { CompressionTypes, Kafka, logLevel } from "kafkajs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"

const KEYS = 1_000
const UPDATES = 100_000
const SEGMENT_BYTES = 256 * 1024

let broker: EmbeddedBroker
let kafka: Kafka
beforeAll(async () => {
  broker = await startBroker({
    properties: {
      "group.initial.rebalance.delay.ms": "0",
      // the background fiber finds nothing at start-up and then sleeps: the test triggers cleaning itself
      "log.cleaner.backoff.ms": "3600000"
    }
  })
  kafka = new Kafka({ clientId: "compaction-test", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
})
afterAll(() => broker.stop())

const partitionBytes = (topic: string): number => {
  const dir = path.join(broker.logDir, `${topic}-0`)
  return fs.readdirSync(dir).filter((f) => f.endsWith(".log")).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
}

const createCompactedTopic = async (topic: string) => {
  const admin = kafka.admin()
  await admin.connect()
  expect(await admin.createTopics({
    topics: [{
      topic,
      numPartitions: 1,
      configEntries: [
        { name: "cleanup.policy", value: "compact" },
        { name: "segment.bytes", value: String(SEGMENT_BYTES) },
        { name: "min.cleanable.dirty.ratio", value: "0.1" }
      ]
    }]
  })).toBe(true)
  await admin.disconnect()
}

const valueOf = (key: number, i: number) => `value-of-${key}-at-${i}`

describe("KafkaJS on a compacted topic", () => {
  it("reads exactly the latest value per key after cleaning, at unchanged offsets", { timeout: 120_000 }, async () => {
    const topic = "compacted-updates"
    await createCompactedTopic(topic)
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    await producer.connect()
    const latest = new Map<string, { value: string; offset: number }>()
    const PER_SEND = 5_000
    for (let start = 0; start < UPDATES; start += PER_SEND) {
      const messages = Array.from({ length: PER_SEND }, (_, j) => {
        const i = start + j
        return { key: `key-${i % KEYS}`, value: valueOf(i % KEYS, i) }
      })
      const [meta] = await producer.send({ topic, compression: (start / PER_SEND) % 2 === 0 ? CompressionTypes.GZIP : CompressionTypes.None, messages })
      const base = Number(meta!.baseOffset)
      messages.forEach((m, j) => latest.set(m.key, { value: m.value, offset: base + j }))
    }
    // A last record large enough to roll the segment: every update is then below the active segment.
    const sentinel = "s".repeat(SEGMENT_BYTES - 10_000)
    await producer.send({ topic, messages: [{ key: "sentinel", value: sentinel }] })
    await producer.disconnect()

    const sizeBefore = partitionBytes(topic)
    const rounds = await broker.cleanLogs()
    const sizeAfter = partitionBytes(topic)
    expect(rounds.length).toBeGreaterThan(0)
    expect(rounds.reduce((n, r) => n + r.recordsRetained, 0)).toBeGreaterThanOrEqual(KEYS)
    // about 1 000 live records: what is left is a small fraction (the sentinel aside)
    expect(sizeAfter - sentinel.length).toBeLessThan((sizeBefore - sentinel.length) / 20)
    console.log(`compaction: ${UPDATES} updates over ${KEYS} keys, ${sizeBefore} → ${sizeAfter} bytes in ${rounds.length} round(s)`)

    const consumer = kafka.consumer({ groupId: "compaction-reader", maxWaitTimeInMs: 50 })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    const seen: Array<{ key: string; value: string; offset: number }> = []
    await new Promise<void>((resolve, reject) => {
      consumer.run({
        eachMessage: async ({ message }) => {
          const key = message.key!.toString()
          if (key === "sentinel") return resolve()
          seen.push({ key, value: message.value!.toString(), offset: Number(message.offset) })
        }
      }).catch(reject)
    })
    await consumer.disconnect()

    expect(seen).toHaveLength(KEYS)
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.offset).toBeGreaterThan(seen[i - 1]!.offset)
    for (const r of seen) expect({ value: r.value, offset: r.offset }).toEqual(latest.get(r.key))
    expect(new Set(seen.map((r) => r.key)).size).toBe(KEYS)
  })

  it("a long run of overwrites keeps the log size bounded", { timeout: 120_000 }, async () => {
    const topic = "compacted-long-run"
    await createCompactedTopic(topic)
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    await producer.connect()
    const sizes: Array<number> = []
    let written = 0
    for (let phase = 0; phase < 8; phase++) {
      for (let s = 0; s < 3; s++) {
        await producer.send({
          topic,
          messages: Array.from({ length: 2_000 }, (_, j) => ({ key: `k-${(written + j) % 200}`, value: `v-${written + j}-${"p".repeat(40)}` }))
        })
        written += 2_000
      }
      await broker.cleanLogs()
      sizes.push(partitionBytes(topic))
    }
    await producer.disconnect()
    const written_bytes = written * 60
    console.log(`long run: ${written} overwrites of 200 keys (~${written_bytes} bytes written), partition size after each clean: ${sizes.join(", ")}`)
    // bounded: the later phases are no larger than the early ones plus one segment's worth
    const bound = Math.max(...sizes.slice(0, 3)) + SEGMENT_BYTES
    for (const s of sizes.slice(3)) expect(s).toBeLessThanOrEqual(bound)
    expect(Math.max(...sizes)).toBeLessThan(written_bytes / 5)
  })
})
