/**
 * Issue proof: each real client creates a 3-partition topic, produces 10 000 keyed records
 * with every compression codec it supports, and consumes them all back in order per
 * partition with the right keys, values, headers and timestamps.
 */
import { spawn } from "node:child_process"
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from "@platformatic/kafka"
import { CompressionTypes, Kafka, logLevel } from "kafkajs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import { readBufferCounts } from "../../src/log/read-buffers.ts"
import { registerKafkaJsCodecs } from "../support/kafkajs-codecs.ts"
import { requireTool } from "../support/os-tools.ts"

const RECORDS = 10_000
const PARTITIONS = 3
const BASE_TIMESTAMP = 1_700_000_000_000

let broker: EmbeddedBroker
beforeAll(async () => {
  broker = await startBroker({ properties: { "group.initial.rebalance.delay.ms": "0" } })
})
afterAll(() => broker.stop())

interface Consumed {
  readonly partition: number
  readonly offset: bigint
  readonly key: string
  readonly value: string
  readonly header: string | undefined
  readonly timestamp: number
}

const valueOf = (i: number) => `value-${i}-${"x".repeat(i % 50)}`

/** Read slabs the (embedded) broker has taken so far: a connection of large requests reads into them. */
const slabsTaken = (): number => {
  const c = readBufferCounts()
  return c.sharedAllocated + c.sharedReused
}

/** Every record exactly once, offsets and record numbers increasing within each partition. */
const expectComplete = (consumed: ReadonlyArray<Consumed>, opts: { headers: "per-record" | "static"; timestamps: boolean }) => {
  expect(consumed).toHaveLength(RECORDS)
  const seen = new Set<number>()
  const lastByPartition = new Map<number, { offset: bigint; i: number }>()
  for (const c of consumed) {
    const i = Number(c.key.slice(4))
    expect(c.key).toBe(`key-${i}`)
    expect(c.value).toBe(valueOf(i))
    expect(c.header).toBe(opts.headers === "per-record" ? `h-${i}` : "static")
    if (opts.timestamps) expect(c.timestamp).toBe(BASE_TIMESTAMP + i)
    expect(seen.has(i)).toBe(false)
    seen.add(i)
    const last = lastByPartition.get(c.partition)
    if (last !== undefined) {
      expect(c.offset).toBeGreaterThan(last.offset)
      expect(i).toBeGreaterThan(last.i)
    }
    lastByPartition.set(c.partition, { offset: c.offset, i })
  }
  expect(lastByPartition.size).toBe(PARTITIONS)
}

const run = (cmd: string, args: ReadonlyArray<string>, input?: string): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }))
    child.stdin.end(input ?? "")
  })

describe("KafkaJS", () => {
  registerKafkaJsCodecs()
  const codecs = [
    ["none", CompressionTypes.None],
    ["gzip", CompressionTypes.GZIP],
    ["snappy", CompressionTypes.Snappy],
    ["lz4", CompressionTypes.LZ4],
    ["zstd", CompressionTypes.ZSTD]
  ] as const
  for (const [name, codec] of codecs) {
    it(`produces and consumes ${RECORDS} records with ${name}`, async () => {
      const kafka = new Kafka({ clientId: `kafkajs-${name}`, brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
      const topic = `kafkajs-${name}`
      const admin = kafka.admin()
      await admin.connect()
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] })).toBe(true)
      await admin.disconnect()

      const producer = kafka.producer({ allowAutoTopicCreation: false })
      await producer.connect()
      const slabsBefore = slabsTaken()
      for (let start = 0; start < RECORDS; start += 1000) {
        await producer.send({
          topic,
          compression: codec,
          messages: Array.from({ length: 1000 }, (_, j) => {
            const i = start + j
            return { key: `key-${i}`, value: valueOf(i), headers: { h: `h-${i}` }, timestamp: String(BASE_TIMESTAMP + i) }
          })
        })
      }
      await producer.disconnect()
      // Uncompressed, its requests are large (about 80 KB): the broker reads them into slabs of its own.
      if (codec === CompressionTypes.None) expect(slabsTaken()).toBeGreaterThan(slabsBefore)

      const consumer = kafka.consumer({ groupId: `group-${topic}`, maxWaitTimeInMs: 50 })
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning: true })
      const consumed: Array<Consumed> = []
      await new Promise<void>((resolve, reject) => {
        consumer.run({
          eachMessage: async ({ partition, message }) => {
            consumed.push({
              partition,
              offset: BigInt(message.offset),
              key: message.key!.toString(),
              value: message.value!.toString(),
              header: message.headers?.["h"]?.toString(),
              timestamp: Number(message.timestamp)
            })
            if (consumed.length === RECORDS) resolve()
          }
        }).catch(reject)
      })
      await consumer.disconnect()
      expectComplete(consumed, { headers: "per-record", timestamps: true })
    })
  }
})

describe("@platformatic/kafka", () => {
  for (const codec of ["none", "gzip", "snappy", "lz4", "zstd"] as const) {
    it(`produces and consumes ${RECORDS} records with ${codec}`, async () => {
      const topic = `platformatic-${codec}`
      const admin = new Admin({ clientId: "platformatic-admin", bootstrapBrokers: [broker.bootstrap] })
      await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 })
      await admin.close()

      const producer = new Producer({ clientId: "platformatic-producer", bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers })
      const slabsBefore = slabsTaken()
      for (let start = 0; start < RECORDS; start += 1000) {
        await producer.send({
          ...(codec === "none" ? {} : { compression: codec }),
          messages: Array.from({ length: 1000 }, (_, j) => {
            const i = start + j
            return { topic, key: `key-${i}`, value: valueOf(i), headers: { h: `h-${i}` }, timestamp: BigInt(BASE_TIMESTAMP + i) }
          })
        })
      }
      await producer.close()
      if (codec === "none") expect(slabsTaken()).toBeGreaterThan(slabsBefore)

      const consumer = new Consumer({
        groupId: `group-${topic}`,
        clientId: "platformatic-consumer",
        bootstrapBrokers: [broker.bootstrap],
        deserializers: stringDeserializers,
        maxWaitTime: 50
      })
      const stream = await consumer.consume({ topics: [topic], mode: "earliest", autocommit: false })
      const consumed: Array<Consumed> = []
      for await (const message of stream) {
        consumed.push({
          partition: message.partition,
          offset: message.offset,
          key: message.key as string,
          value: message.value as string,
          header: message.headers.get("h") as string | undefined,
          timestamp: Number(message.timestamp)
        })
        if (consumed.length === RECORDS) break
      }
      await stream.close()
      await consumer.close()
      expectComplete(consumed, { headers: "per-record", timestamps: true })
    })
  }
})

describe("KafkaJS with a 16 MiB per-partition fetch size", () => {
  it("consumes a partition of 12 MiB in order and whole, although the broker reads at most 4 MiB of it per fetch", async () => {
    const kafka = new Kafka({ clientId: "kafkajs-large-fetch", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
    const topic = "kafkajs-large-fetch"
    const admin = kafka.admin()
    await admin.connect()
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })).toBe(true)
    await admin.disconnect()
    const COUNT = 12_000
    const large = (i: number) => `${i}:`.padEnd(1024, "x")
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    await producer.connect()
    for (let start = 0; start < COUNT; start += 500) {
      await producer.send({ topic, messages: Array.from({ length: 500 }, (_, j) => ({ value: large(start + j) })) })
    }
    await producer.disconnect()

    const consumer = kafka.consumer({ groupId: `group-${topic}`, maxWaitTimeInMs: 50, maxBytesPerPartition: 16 << 20, maxBytes: 32 << 20 })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    const values: Array<string> = []
    let batches = 0
    await new Promise<void>((resolve, reject) => {
      consumer.run({
        eachBatch: async ({ batch }) => {
          batches++
          for (const m of batch.messages) values.push(m.value!.toString())
          if (values.length >= COUNT) resolve()
        }
      }).catch(reject)
    })
    await consumer.disconnect()
    expect(values).toEqual(Array.from({ length: COUNT }, (_, i) => large(i)))
    // 12 MiB in pieces of at most 4 MiB.
    expect(batches).toBeGreaterThanOrEqual(3)
  })
})

describe.skipIf(requireTool("kcat") === undefined)("kcat (librdkafka)", () => {
  for (const codec of ["none", "gzip", "snappy", "lz4", "zstd"] as const) {
    it(`produces and consumes ${RECORDS} records with ${codec}`, async () => {
      const topic = `kcat-${codec}`
      const admin = new Admin({ clientId: "kcat-admin", bootstrapBrokers: [broker.bootstrap] })
      await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 })
      await admin.close()

      const lines = Array.from({ length: RECORDS }, (_, i) => `key-${i}|${valueOf(i)}`).join("\n") + "\n"
      const slabsBefore = slabsTaken()
      const produced = await run("kcat", ["-P", "-b", broker.bootstrap, "-t", topic, "-K", "|", "-H", "h=static", "-z", codec, "-X", "linger.ms=5"], lines)
      expect(produced.stderr).toBe("")
      expect(produced.code).toBe(0)
      if (codec === "none") expect(slabsTaken()).toBeGreaterThan(slabsBefore)

      const consumedOut = await run("kcat", ["-C", "-b", broker.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p|%o|%k|%s|%T|%h\\n"])
      expect(consumedOut.code).toBe(0)
      const consumed = consumedOut.stdout.trim().split("\n").map((line): Consumed => {
        const [p, o, k, v, t, h] = line.split("|")
        return { partition: Number(p), offset: BigInt(o!), key: k!, value: v!, timestamp: Number(t), header: h?.replace(/^h=/, "") }
      })
      expectComplete(consumed, { headers: "static", timestamps: false })
    })
  }
})

