/**
 * `node bench/e2e-probe.ts [--bare] [--capacity] [MB/s ...]`: the end-to-end scenario
 * (bench/lib/e2e.ts) alone, at the given producer rates, against a fresh broker process (or,
 * with --bare, the bare relay of bench/lib/bare-server.ts: the harness's own floor). One line
 * per rate: latency percentiles, the produce ack round trip, the producer's pacing lag and
 * each side's CPU. --capacity first floods (the rate the consumer then receives is the
 * machine's end-to-end capacity with all three processes running), then runs at half of it.
 * --entry=<bundle> runs that file instead of `pnpm start` (A/B against another build);
 * BENCH_BROKER_NODE_ARGS passes node flags to the broker (e.g. --cpu-prof); E2E_MS sets the
 * round's length, E2E_WARMUP_MS the uncounted first round's (1500 ms at 50 MB/s: a fresh
 * server's JIT warm-up), E2E_CONNECTIONS the producer's connections, E2E_TRACE=<file> writes every
 * batch's due time, lag, ack and latency (and its send time on CLOCK_MONOTONIC, to line up
 * with other processes' timestamps); E2E_PRODUCER_NODE_ARGS passes node flags to the producer.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startBrokerProcess } from "./lib/broker-process.ts"
import { describeRound, endToEnd } from "./lib/e2e.ts"
import { percentileSorted } from "./lib/stats.ts"
import { startBare } from "./lib/harness.ts"
import { AdminClient, encodeBatch, KIB_RECORDS_64KIB_BATCHES, partsPayload, produceParts } from "./lib/kafka.ts"
import { raiseMallocTrimThreshold } from "../src/malloc-trim.ts"

// As the broker does (src/malloc-trim.ts): this process's reads must not fault in freed heap.
raiseMallocTrimThreshold()

const args = process.argv.slice(2)
const rates = args.filter((a) => !a.startsWith("--")).map(Number)
const durationMs = Number(process.env["E2E_MS"] ?? 3000)
const warmupMs = Number(process.env["E2E_WARMUP_MS"] ?? 1500)
const connections = Number(process.env["E2E_CONNECTIONS"] ?? 4)
const root = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-e2e-probe-"))
const bare = args.includes("--bare")
const capacity = args.includes("--capacity")
const entry = args.find((a) => a.startsWith("--entry="))?.slice("--entry=".length)
const broker = await (bare ? startBare(["relay", path.join(root, "relay.bin")]) : startBrokerProcess({ dataDir: root, ...(entry === undefined ? {} : { command: [entry] }) }))
  .catch((e: unknown) => {
    fs.rmSync(root, { recursive: true, force: true })
    throw e
  })
try {
  const admin = bare ? undefined : await AdminClient.connect(broker.port)
  const requestSize = partsPayload(produceParts("e2e", 0, encodeBatch(KIB_RECORDS_64KIB_BATCHES), 1)).reduce((n, b) => n + b.length, 0)
  const label = bare ? "bare relay" : entry ?? "broker"
  let round = 0
  const run = async (batchesPerSec: number, ms = durationMs) => {
    const topic = `probe-${round++}`
    await admin?.createTopics([{ name: topic, partitions: 1 }])
    const r = await endToEnd({ port: broker.port, serverPid: broker.pid, topic, batchesPerSec, durationMs: ms, connections, warmupMs: Math.min(300, ms / 5) })
    await admin?.deleteTopics([topic])
    return r
  }
  // A fresh server's first second is JIT warm-up (tens of ms of compiling at a time): not measured.
  if (warmupMs > 0) {
    const r = await run((50 * 1e6) / requestSize, warmupMs)
    console.log(`${label} warm-up (not counted), 50 MB/s for ${warmupMs} ms: p50 ${percentileSorted(r.latencies, 0.5).toFixed(2)} ms, p99 ${percentileSorted(r.latencies, 0.99).toFixed(2)} ms`)
  }
  const mbps = [...rates]
  if (capacity) {
    const r = await run(0)
    const cap = (r.deliveredPerSec * requestSize) / 1e6
    console.log(`${label} capacity (producer flooding, ${connections} x 8 in flight): ${describeRound(r, requestSize)}; load average ${os.loadavg()[0]!.toFixed(1)}`)
    mbps.unshift(Math.round(cap / 2))
  }
  for (const rate of mbps.length > 0 || capacity ? mbps : [10, 100, 200]) {
    const r = await run((rate * 1e6) / requestSize)
    console.log(`${label} ${rate} MB/s: ${describeRound(r, requestSize)}; load average ${os.loadavg()[0]!.toFixed(1)}`)
  }
  admin?.close()
} finally {
  if (bare) {
    const exited = new Promise((r) => broker.child.once("close", r))
    broker.child.kill("SIGTERM")
    await exited
  }
  await broker.stop()
  fs.rmSync(root, { recursive: true, force: true })
}
