/**
 * `node bench/retained-probe.ts [dir] [--gb N] [--segment-mb M] [--rounds R] [variant]...`: what
 * retained data costs a start and the broker's memory. Builds (once, through the broker) a
 * directory holding N GB (default 8) in one partition of M MiB segments (default 256), in
 * batches of four 1 KiB records: each batch is larger than index.interval.bytes, so each gets
 * an index entry, the densest indexes Kafka's default writes (~5 MB of entries per GB). Then,
 * per round, each variant (node's command line as in start-probe; "" is `pnpm start`'s)
 * starts on it: start-to-ready, idle RSS; then a consumer reads the whole partition from
 * offset 0 (reading on from segment to segment needs no index), and 1 000 fetches at random
 * offsets follow (each needs its segment's offset index); RSS after each, with the sealed
 * segments' index bytes in memory from /metrics (`kafka_log_index_memory_bytes`).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { LAST_OFFSET_DELTA_OFFSET, RECORD_BATCH_OVERHEAD } from "../src/log/record-batch.ts"
import { processCpuMs, processRssMb, startBrokerProcess, startCommand } from "./lib/broker-process.ts"
import { AdminClient, encodeBatch, fetchRequest, partsPayload, produceParts } from "./lib/kafka.ts"
import { runPipeline } from "./lib/load.ts"

const argv = process.argv.slice(2)
const flagAt = (name: string): number => argv.indexOf(`--${name}`)
const flag = (name: string, fallback: number): number => (flagAt(name) >= 0 ? Number(argv[flagAt(name) + 1]) : fallback)
const gb = flag("gb", 8)
const segmentMb = flag("segment-mb", 256)
const rounds = flag("rounds", 3)
const FLAGS = new Set(["--gb", "--segment-mb", "--rounds"])
// A variant may itself start with "--" (a node option): only the flags above and their values are not positional.
const positional = argv.filter((a, i) => !FLAGS.has(a) && !FLAGS.has(argv[i - 1] ?? ""))
const dataDir = positional[0] !== undefined && positional[0] !== "" ? positional[0] : fs.mkdtempSync(path.join(os.tmpdir(), "kafka-retained-"))
const variants = positional.length > 1 ? positional.slice(1) : [""]
const TOPIC = "retained"

const settle = () => new Promise((resolve) => setTimeout(resolve, 1500))

/** kafka_log_index_memory_bytes in MB from the broker's /metrics, or "-" when it has none (an older build). */
const indexMemoryMb = async (output: string): Promise<string> => {
  const url = /http listener on (http:\/\/[\d.:]+)/.exec(output)?.[1]
  if (url === undefined) return "-"
  const text = await (await fetch(`${url}/metrics`)).text()
  const m = /^kafka_log_index_memory_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text)
  return m === null ? "-" : (Number(m[1]) / 1e6).toFixed(1)
}

const fill = async () => {
  const b = await startBrokerProcess({ dataDir })
  const admin = await AdminClient.connect(b.port)
  await admin.createTopics([{ name: TOPIC, partitions: 1, configs: { "segment.bytes": String(segmentMb * 1024 * 1024) } }])
  admin.close()
  const parts = produceParts(TOPIC, 0, encodeBatch({ recordBytes: 1024, records: 4 }), 1)
  let left = Math.ceil((gb * 1e9) / parts.batch.length)
  const t0 = performance.now()
  await runPipeline({ port: b.port, connections: 1, window: 64, next: () => (left-- > 0 ? partsPayload(parts) : undefined) })
  console.log(`produced ${gb} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  await b.stop()
}

/** Reads the partition from 0 to its end, 4 MiB per fetch; returns the offsets read. */
const readAll = async (port: number): Promise<number> => {
  const admin = await AdminClient.connect(port)
  let offset = 0
  for (;;) {
    const records = await admin.fetchRecords(fetchRequest({ topic: TOPIC, partition: 0, offset, partitionMaxBytes: 4 * 1024 * 1024 }))
    const view = new DataView(records.buffer, records.byteOffset, records.byteLength)
    let pos = 0
    let next = offset
    while (pos + RECORD_BATCH_OVERHEAD <= records.length) {
      const size = view.getInt32(pos + 8) + 12
      if (pos + size > records.length) break
      next = Number(view.getBigInt64(pos)) + view.getInt32(pos + LAST_OFFSET_DELTA_OFFSET) + 1
      pos += size
    }
    if (next === offset) break
    offset = next
  }
  admin.close()
  return offset
}

/** Fetches 64 KiB at `count` offsets spread at random below `end` (a deterministic sequence). */
const seek = async (port: number, end: number, count: number): Promise<void> => {
  const admin = await AdminClient.connect(port)
  let x = 12345
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) % 2147483648
    await admin.fetchRecords(fetchRequest({ topic: TOPIC, partition: 0, offset: x % end, partitionMaxBytes: 64 * 1024 }))
  }
  admin.close()
}

console.log(`data directory ${dataDir}`)
if (!fs.existsSync(path.join(dataDir, "meta.properties"))) await fill()
const segments = fs.readdirSync(path.join(dataDir, `${TOPIC}-0`)).filter((f) => f.endsWith(".log")).length
console.log(`${TOPIC}-0: ${segments} segments`)
for (let r = 0; r < rounds; r++) {
  for (const variant of variants) {
    const words = variant.split(/\s+/).filter((w) => w.length > 0)
    const b = await startBrokerProcess({ dataDir, command: words.length === 0 ? startCommand() : words })
    const cpuAtReady = processCpuMs(b.pid)
    await settle()
    const idle = processRssMb(b.pid)
    const t0 = performance.now()
    const offsets = await readAll(b.port)
    const readMs = performance.now() - t0
    await settle()
    const afterRead = processRssMb(b.pid)
    const indexesAfterRead = await indexMemoryMb(b.output())
    const t1 = performance.now()
    await seek(b.port, offsets, 1000)
    const seekMs = performance.now() - t1
    await settle()
    const afterSeeks = processRssMb(b.pid)
    const indexesAfterSeeks = await indexMemoryMb(b.output())
    await b.stop()
    console.log(
      `${JSON.stringify(variant)} round ${r + 1}: ready ${b.readyMs.toFixed(0)} ms (CPU ${cpuAtReady.toFixed(0)} ms), idle RSS ${idle.toFixed(1)} MB; ` +
        `read ${offsets} offsets in ${(readMs / 1000).toFixed(1)} s, RSS ${afterRead.toFixed(1)} MB (sealed indexes ${indexesAfterRead} MB); ` +
        `1000 seeks in ${(seekMs / 1000).toFixed(2)} s, RSS ${afterSeeks.toFixed(1)} MB (sealed indexes ${indexesAfterSeeks} MB)`
    )
  }
}
if (positional[0] === undefined) fs.rmSync(dataDir, { recursive: true, force: true })
