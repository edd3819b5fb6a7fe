/**
 * `node bench/e2e-probe.ts [--bare] [MB/s ...]`: the end-to-end scenario (bench/lib/e2e.ts)
 * alone, at the given producer rates, against a fresh broker process (or, with --bare, the
 * bare relay of bench/lib/bare-server.ts: the harness's own floor). One line per rate: latency
 * percentiles, the produce ack round trip, the producer's pacing lag and each side's CPU.
 * --entry=<bundle> runs that file instead of `pnpm start` (A/B against another build);
 * BENCH_BROKER_NODE_ARGS passes node flags to the broker (e.g. --cpu-prof); E2E_MS sets the
 * round's length, E2E_CONNECTIONS the producer's connections, E2E_TRACE=<file> writes every
 * batch's due time, lag, ack and latency.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startBrokerProcess } from "./lib/broker-process.ts"
import { describeRound, endToEnd } from "./lib/e2e.ts"
import { startBare } from "./lib/harness.ts"
import { AdminClient, encodeBatch, KIB_RECORDS_64KIB_BATCHES, partsPayload, produceParts } from "./lib/kafka.ts"

const args = process.argv.slice(2)
const rates = args.filter((a) => !a.startsWith("--")).map(Number)
const durationMs = Number(process.env["E2E_MS"] ?? 3000)
const connections = Number(process.env["E2E_CONNECTIONS"] ?? 4)
const root = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-e2e-probe-"))
const bare = args.includes("--bare")
const entry = args.find((a) => a.startsWith("--entry="))?.slice("--entry=".length)
const broker = bare ? await startBare(["relay", path.join(root, "relay.bin")]) : await startBrokerProcess({ dataDir: root, ...(entry === undefined ? {} : { command: [entry] }) })
try {
  const admin = bare ? undefined : await AdminClient.connect(broker.port)
  const requestSize = partsPayload(produceParts("e2e", 0, encodeBatch(KIB_RECORDS_64KIB_BATCHES), 1)).reduce((n, b) => n + b.length, 0)
  for (const [i, mbps] of (rates.length > 0 ? rates : [10, 100, 200]).entries()) {
    const topic = `probe-${i}`
    await admin?.createTopics([{ name: topic, partitions: 1 }])
    const round = await endToEnd({
      port: broker.port, serverPid: broker.pid, topic, batchesPerSec: (mbps * 1e6) / requestSize, durationMs, connections, warmupMs: 300
    })
    console.log(`${bare ? "bare relay" : entry ?? "broker"} ${mbps} MB/s: ${describeRound(round)}; load average ${os.loadavg()[0]!.toFixed(1)}`)
    await admin?.deleteTopics([topic])
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
