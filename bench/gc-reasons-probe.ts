/**
 * `node bench/gc-reasons-probe.ts [MB/s] [--entry=<bundle>]`: the e2e scenario (bench/lib/e2e.ts) at one rate for
 * E2E_MS (default 10 s) against a broker run with --trace-gc; prints how many scavenges and
 * mark-compacts it did per second and why V8 started the mark-compacts (its trace's reason),
 * the evidence for what drives the broker's GC pauses.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startBrokerProcess } from "./lib/broker-process.ts"
import { describeRound, endToEnd } from "./lib/e2e.ts"
import { AdminClient, encodeBatch, KIB_RECORDS_64KIB_BATCHES, partsPayload, produceParts } from "./lib/kafka.ts"

const rate = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 50)
const entry = process.argv.find((a) => a.startsWith("--entry="))?.slice("--entry=".length)
const durationMs = Number(process.env["E2E_MS"] ?? 10_000)
const root = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-gc-probe-"))
process.env["BENCH_BROKER_NODE_ARGS"] = `${process.env["BENCH_BROKER_NODE_ARGS"] ?? ""} --trace-gc`
const broker = await startBrokerProcess({ dataDir: root, ...(entry === undefined ? {} : { command: [entry] }) })
try {
  const admin = await AdminClient.connect(broker.port)
  await admin.createTopics([{ name: "gc", partitions: 1 }])
  const requestSize = partsPayload(produceParts("gc", 0, encodeBatch(KIB_RECORDS_64KIB_BATCHES), 1)).reduce((n, b) => n + b.length, 0)
  const before = broker.output().length
  const r = await endToEnd({ port: broker.port, serverPid: broker.pid, topic: "gc", batchesPerSec: (rate * 1e6) / requestSize, durationMs, connections: 4, warmupMs: 300 })
  const trace = broker.output().slice(before).split("\n")
  const scavenges = trace.filter((l) => l.includes(": Scavenge") || l.includes("Minor Mark-Sweep"))
  const compacts = trace.filter((l) => l.includes(": Mark-Compact"))
  const pause = (l: string) => Number(/MB, (?:pooled: [^,]+, )?([\d.]+) \/ [\d.]+ ms/.exec(l)?.[1] ?? NaN)
  const reasons = new Map<string, number>()
  for (const l of compacts) {
    const reason = /ms\) (?:\(average mu[^)]*\) )?(.*)$/.exec(l)?.[1]?.trim() ?? "?"
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
  }
  const secs = durationMs / 1000
  const sum = (ls: Array<string>) => ls.map(pause).filter((x) => !Number.isNaN(x)).reduce((a, b) => a + b, 0)
  console.log(`${rate} MB/s for ${secs} s: ${describeRound(r, requestSize)}`)
  console.log(`scavenges ${(scavenges.length / secs).toFixed(1)}/s (${sum(scavenges).toFixed(0)} ms in all); mark-compacts ${(compacts.length / secs).toFixed(1)}/s (${sum(compacts).toFixed(0)} ms in all)`)
  for (const [reason, n] of reasons) console.log(`  mark-compact: ${n} x ${reason}`)
  if (process.env["GC_TRACE_LINES"] === "1") for (const l of [...scavenges.slice(0, 3), ...compacts.slice(0, 5)]) console.log(`  ${l}`)
  await admin.deleteTopics(["gc"])
  admin.close()
} finally {
  await broker.stop()
  fs.rmSync(root, { recursive: true, force: true })
}
