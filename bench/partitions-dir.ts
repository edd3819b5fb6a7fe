/**
 * `pnpm bench:partitions-dir [dir] [--topics N] [--partitions N] [--rounds N]`: builds a data
 * directory with N topics x N partitions (100 x 100 by default) through the broker (CreateTopics,
 * one small batch produced to every partition, a clean stop), then measures start-to-ready, idle
 * RSS and Metadata for all partitions on restarts of it; then once more after a kill -9 (the
 * start that has to recover). The broker runs as `pnpm start` runs it (bench/lib/broker-process.ts).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AdminClient, encodeBatch, partsPayload, produceParts } from "./lib/kafka.ts"
import { type BrokerProcess, processCpuMs, processRssMb, startBrokerProcess } from "./lib/broker-process.ts"

const argv = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}
const topics = flag("topics", 100)
const perTopic = flag("partitions", 100)
const rounds = flag("rounds", 3)
const positional = argv.filter((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--"))
const dataDir = positional[0] ?? fs.mkdtempSync(path.join(os.tmpdir(), "kafka-10k-"))
const total = topics * perTopic
const names = Array.from({ length: topics }, (_, t) => `many-${String(t).padStart(3, "0")}`)
const batch = encodeBatch({ recordBytes: 100, records: 10 })

const stop = async (b: BrokerProcess) => {
  await b.stop()
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 1000))

const fill = async (b: BrokerProcess, create: boolean) => {
  const admin = await AdminClient.connect(b.port)
  const t0 = performance.now()
  if (create) {
    for (let t = 0; t < topics; t += 10) await admin.createTopics(names.slice(t, t + 10).map((name) => ({ name, partitions: perTopic })))
    console.log(`created ${total} partitions in ${(performance.now() - t0).toFixed(0)} ms`)
  }
  const t1 = performance.now()
  for (const name of names) {
    for (let p = 0; p < perTopic; p++) await admin.produceChecked(partsPayload(produceParts(name, p, batch, 1)))
  }
  console.log(`produced one batch to each of ${total} partitions in ${(performance.now() - t1).toFixed(0)} ms`)
  admin.close()
}

const measure = async (label: string) => {
  const b = await startBrokerProcess({ dataDir })
  const readyMs = b.readyMs
  const cpuAtReady = processCpuMs(b.pid)
  const admin = await AdminClient.connect(b.port)
  const m0 = performance.now()
  const n = await admin.metadataAll()
  const metadataMs = performance.now() - m0
  const m1 = performance.now()
  await admin.metadataAll()
  const metadata2Ms = performance.now() - m1
  admin.close()
  await settle()
  const rss = processRssMb(b.pid)
  console.log(`${label}: ready ${readyMs.toFixed(0)} ms (CPU ${cpuAtReady.toFixed(0)} ms), Metadata for ${n} partitions ${metadataMs.toFixed(0)} ms then ${metadata2Ms.toFixed(0)} ms, idle RSS ${rss.toFixed(1)} MB`)
  return b
}

console.log(`data directory ${dataDir}: ${topics} topics x ${perTopic} partitions`)
const exists = fs.existsSync(path.join(dataDir, "meta.properties"))
if (!exists) {
  const b = await startBrokerProcess({ dataDir })
  await fill(b, true)
  await stop(b)
}
for (let r = 0; r < rounds; r++) await stop(await measure(`clean start ${r + 1}/${rounds}`))

// Unclean: produce again, then kill -9; the next start recovers what the checkpoints do not cover.
const b = await startBrokerProcess({ dataDir })
await fill(b, false)
b.child.kill("SIGKILL")
await new Promise((resolve) => b.child.once("close", resolve))
await stop(await measure("start after kill -9"))
await stop(await measure("clean start after that"))
if (positional[0] === undefined) fs.rmSync(dataDir, { recursive: true, force: true })
