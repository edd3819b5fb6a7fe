/**
 * `pnpm bench:compaction`: produce latency while the log cleaner works. A compacted topic
 * is filled with 400 000 updates over 1 000 keys (1 MiB segments); then a KafkaJS producer
 * sends single records (acks=1) one after another to another topic, first with the cleaner
 * idle, then while it cleans the filled topic (unthrottled, then throttled to
 * log.cleaner.io.max.bytes.per.second = 8 MB/s). Reports p50/p99/max latency and the
 * cleaning time.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import { startBroker } from "../src/broker.ts"

const UPDATES = 400_000
const KEYS = 1_000

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

const run = async (throttle: string | undefined) => {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-bench-compaction-"))
  const properties: Record<string, string> = { "log.dirs": workDir, "log.cleaner.backoff.ms": "3600000" }
  if (throttle !== undefined) properties["log.cleaner.io.max.bytes.per.second"] = throttle
  const broker = await startBroker({ properties, logLevel: "Warn" })
  const kafka = new Kafka({ clientId: "bench", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
  try {
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({
      topics: [
        { topic: "compacted", numPartitions: 1, configEntries: [{ name: "cleanup.policy", value: "compact" }, { name: "segment.bytes", value: String(1 << 20) }] },
        { topic: "latency", numPartitions: 1 }
      ]
    })
    await admin.disconnect()
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    await producer.connect()
    for (let start = 0; start < UPDATES; start += 5_000) {
      await producer.send({
        topic: "compacted",
        messages: Array.from({ length: 5_000 }, (_, j) => ({ key: `key-${(start + j) % KEYS}`, value: `value-${start + j}-${"v".repeat(60)}` }))
      })
    }
    const measure = async (until: () => boolean, max: number) => {
      const latencies: Array<number> = []
      for (let i = 0; i < max && until(); i++) {
        const t = performance.now()
        await producer.send({ topic: "latency", acks: 1, messages: [{ value: `m${i}` }] })
        latencies.push(performance.now() - t)
      }
      return latencies.sort((a, b) => a - b)
    }
    const idle = await measure(() => true, 2_000)
    let cleaning = true
    const started = performance.now()
    const done = broker.cleanLogs().then((rounds) => {
      cleaning = false
      return rounds
    })
    const during = await measure(() => cleaning, 1_000_000)
    const rounds = await done
    const cleanMs = performance.now() - started
    await producer.disconnect()
    const fmt = (l: ReadonlyArray<number>) =>
      `n=${l.length} p50=${percentile(l, 0.5).toFixed(2)}ms p99=${percentile(l, 0.99).toFixed(2)}ms max=${l[l.length - 1]!.toFixed(2)}ms`
    const r = rounds[0]
    console.log(`cleaner ${throttle === undefined ? "unthrottled" : `throttled to ${throttle} B/s`}:`)
    console.log(`  cleaning: ${(cleanMs / 1000).toFixed(1)} s, ${r?.sizeBefore} → ${r?.sizeAfter} bytes, ${r?.recordsRetained} records kept`)
    console.log(`  produce latency idle:           ${fmt(idle)}`)
    console.log(`  produce latency while cleaning: ${during.length > 0 ? fmt(during) : "n=0"}`)
  } finally {
    await broker.stop()
    fs.rmSync(workDir, { recursive: true, force: true })
  }
}

await run(undefined)
await run("8000000")
