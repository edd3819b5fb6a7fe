/**
 * `node bench/fetch-stall-probe.ts [rounds]`: the fetch bench's load (1-4 consumers, 4
 * pipelined 1 MiB Fetch requests each) against a broker process that is SIGSTOPped and
 * SIGCONTed every few milliseconds, as a heavily loaded machine would. Before the fix in
 * src/server/connection.ts (signalProgress clearing a wait the frame loop had just set up),
 * 3 of 4 runs left a connection unanswered within 55 rounds; it now passes 200. A stalled
 * connection is closed by the broker's idle sweep (connections.max.idle.ms is 5 s here); the
 * probe then prints that line, which names the connection's read and write state, and exits 1.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startBrokerProcess } from "./lib/broker-process.ts"
import { AdminClient, encodeBatch, fetchRequest, KIB_RECORDS_64KIB_BATCHES, partsPayload, produceParts } from "./lib/kafka.ts"
import { runPipeline } from "./lib/load.ts"

const rounds = Number(process.argv[2] ?? 100)
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "fetch-stall-"))
const broker = await startBrokerProcess({ dataDir, overrides: { "connections.max.idle.ms": "5000" } })
const admin = await AdminClient.connect(broker.port)
await admin.createTopics([{ name: "f", partitions: 1 }])
const batch = encodeBatch(KIB_RECORDS_64KIB_BATCHES)
const parts = partsPayload(produceParts("f", 0, batch, 1))
const batches = 512
let left = batches
await runPipeline({ port: broker.port, connections: 1, window: 8, next: () => (left-- > 0 ? parts : undefined) })
const perResponse = 16
const requests = Array.from({ length: batches / perResponse }, (_, i) =>
  fetchRequest({ topic: "f", partition: 0, offset: i * perResponse * KIB_RECORDS_64KIB_BATCHES.records, partitionMaxBytes: perResponse * batch.length }))

let jitter = true
void (async () => {
  while (jitter) {
    process.kill(broker.pid, "SIGSTOP")
    const until = performance.now() + Math.random() * 4
    while (performance.now() < until) { /* the broker stays stopped meanwhile */ }
    process.kill(broker.pid, "SIGCONT")
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 4))
  }
})()

const finish = async (code: number) => {
  jitter = false
  process.kill(broker.pid, "SIGCONT")
  await broker.stop()
  fs.rmSync(dataDir, { recursive: true, force: true })
  process.exit(code)
}

for (let r = 0; r < rounds; r++) {
  const consumers = 1 + (r % 4)
  const position = new Array<number>(consumers).fill(0)
  try {
    await runPipeline({ port: broker.port, connections: consumers, window: 4, durationMs: 500, next: (c) => requests[position[c]!++] })
  } catch (e) {
    // A stalled connection is closed by the broker's idle sweep, which says why.
    console.log(`round ${r + 1} (${consumers} consumers): ${(e as Error).message}`)
    console.log(broker.output().split("\n").filter((l) => l.includes("idle for")).join("\n"))
    await finish(1)
  }
}
console.log(`${rounds} rounds, no stall`)
await finish(0)
