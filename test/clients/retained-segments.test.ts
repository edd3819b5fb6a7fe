/**
 * Sealed segments' index entries on demand, with real clients: after a clean restart a
 * partition of many segments holds none of its sealed segments' entries; kcat (librdkafka)
 * fetching at offsets inside them and KafkaJS asking for offsets by timestamp (ListOffsets,
 * the time index) read them, and with `log.index.memory.max.bytes=0` only the segment last
 * used keeps them (/metrics shows it).
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import { describe, expect, it } from "vitest"
import { startBroker } from "../../src/broker.ts"
import { requireTool } from "../support/os-tools.ts"

const TOPIC = "history"
const SENDS = 60
const PER_SEND = 10
const T0 = 1_700_000_000_000

const kafkaFor = (bootstrap: string) => new Kafka({ clientId: "retained-segments-test", brokers: [bootstrap], logLevel: logLevel.NOTHING })

/** The record at `offset` of partition 0, read by kcat (no consumer group): "offset|value". */
const kcatAt = (bootstrap: string, offset: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn("kcat", ["-C", "-b", bootstrap, "-t", TOPIC, "-p", "0", "-o", String(offset), "-c", "1", "-e", "-q", "-f", "%o|%s\\n"])
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.on("error", reject)
    child.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`kcat exited with ${code}`))))
  })

const indexGauges = async (httpUrl: string): Promise<{ bytes: number; segments: number }> => {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1])
  return { bytes: gauge("kafka_log_index_memory_bytes"), segments: gauge("kafka_log_index_memory_segments") }
}

describe.skipIf(requireTool("kcat") === undefined)("sealed segments' indexes on demand", () => {
  it("reads a sealed segment's entries only when a client's fetch or ListOffsets needs them, within log.index.memory.max.bytes", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-retained-"))
    const first = await startBroker({ properties: { "log.dirs": logDir } })
    const kafka = kafkaFor(first.bootstrap)
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, configEntries: [{ name: "segment.bytes", value: "4096" }, { name: "index.interval.bytes", value: "256" }] }] })
    await admin.disconnect()
    const producer = kafka.producer()
    await producer.connect()
    for (let s = 0; s < SENDS; s++) {
      const messages = Array.from({ length: PER_SEND }, (_, i) => {
        const offset = s * PER_SEND + i
        return { value: `value-${offset}`.padEnd(40, "."), timestamp: String(T0 + offset) }
      })
      await producer.send({ topic: TOPIC, acks: 1, messages })
    }
    await producer.disconnect()
    await first.stop()
    const segments = fs.readdirSync(path.join(logDir, `${TOPIC}-0`)).filter((f) => f.endsWith(".log")).length
    expect(segments).toBeGreaterThan(5)

    const second = await startBroker({ properties: { "log.dirs": logDir, "log.index.memory.max.bytes": "0" } })
    try {
      expect(await indexGauges(second.httpUrl!)).toEqual({ bytes: 0, segments: 0 })
      for (const offset of [7, 233, 401, 555]) {
        expect(await kcatAt(second.bootstrap, offset)).toBe(`${offset}|${`value-${offset}`.padEnd(40, ".")}`)
      }
      const admin2 = kafkaFor(second.bootstrap).admin()
      await admin2.connect()
      for (const offset of [3, 318, 499]) {
        const [found] = await admin2.fetchTopicOffsetsByTimestamp(TOPIC, T0 + offset)
        expect(found).toMatchObject({ partition: 0, offset: String(offset) })
      }
      await admin2.disconnect()
      // Budget 0: the segment used last keeps its entries, the others were dropped again.
      const held = await indexGauges(second.httpUrl!)
      expect(held.segments).toBe(1)
      expect(held.bytes).toBeGreaterThan(0)
    } finally {
      await second.stop()
      fs.rmSync(logDir, { recursive: true, force: true })
    }
  })
})
