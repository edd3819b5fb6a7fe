/**
 * `node bench/produce-probe.ts [seconds] [--entry=<bundle>] [--partitions=<n>] [--records=<n>]`: the produce scenario (1 partition,
 * acks=1) against the broker and the bare sink in turn, with per-request counters for each
 * server: CPU (user/sys), minor page faults, voluntary/involuntary context switches, and
 * syscalls by kind (perf stat tracepoints, when perf is available). Where a CPU-per-GB gap
 * between them comes from, before profiling it.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startBrokerProcess } from "./lib/broker-process.ts"
import { startBare } from "./lib/harness.ts"
import { AdminClient, encodeBatch, KIB_RECORDS_64KIB_BATCHES, partsPayload, produceParts, withSequence } from "./lib/kafka.ts"
import { runPipeline } from "./lib/load.ts"
import { raiseMallocTrimThreshold } from "../src/malloc-trim.ts"

// As the broker does (src/malloc-trim.ts): this process's reads must not fault in freed heap.
raiseMallocTrimThreshold()

const seconds = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 4)
const entry = process.argv.find((a) => a.startsWith("--entry="))?.slice("--entry=".length)
const root = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-produce-probe-"))

interface Counters { user: number; sys: number; minflt: number; vcs: number; ivcs: number }
const counters = (pid: number): Counters => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN)
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10, minflt: Number(f[7]), vcs: field("voluntary_ctxt_switches"), ivcs: field("nonvoluntary_ctxt_switches") }
}
const EVENTS = ["syscalls:sys_enter_read", "syscalls:sys_enter_write", "syscalls:sys_enter_writev", "syscalls:sys_enter_pwrite64", "syscalls:sys_enter_pwritev", "syscalls:sys_enter_epoll_wait", "syscalls:sys_enter_epoll_pwait", "raw_syscalls:sys_enter"]
const hasPerf = (() => {
  try {
    execFileSync("perf", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

const traceGc = process.argv.includes("--trace-gc")
if (traceGc) process.env["BENCH_BROKER_NODE_ARGS"] = `${process.env["BENCH_BROKER_NODE_ARGS"] ?? ""} --trace-gc`
let brokerOutput: (() => string) | undefined

// --perf-record=<file>: `perf record -g` of the broker's last window (JIT frames named with
// BENCH_BROKER_NODE_ARGS=--perf-basic-prof), and of the sink's into <file>.sink.
const perfRecord = process.argv.find((a) => a.startsWith("--perf-record="))?.slice("--perf-record=".length)

// --idempotent: one producer per connection (acks=-1, 5 in flight), each request a fresh copy with its sequence, as the bench's idempotent scenario.
const idempotent = process.argv.includes("--idempotent")
// --partitions=<n>: the brokers' topic has n partitions, and each request goes to the next one.
const partitions = Number(process.argv.find((a) => a.startsWith("--partitions="))?.slice("--partitions=".length) ?? 1)
// --records=<n>: batches of n 1 KiB records (64 by default, the bench's 64 KiB batches); 1 shows the cost per request.
const shape = { ...KIB_RECORDS_64KIB_BATCHES, records: Number(process.argv.find((a) => a.startsWith("--records="))?.slice("--records=".length) ?? KIB_RECORDS_64KIB_BATCHES.records) }
const CONNECTIONS = 4

const run = async (name: string, port: number, pid: number, topic: string, record?: string, admin?: AdminClient) => {
  const outputBefore = name.startsWith("broker") ? (brokerOutput?.() ?? "").length : 0
  const batch = encodeBatch(shape)
  // As the bench's 8-partition scenario: each request to one partition, in turn.
  const requests = Array.from({ length: name.startsWith("sink") ? 1 : partitions }, (_, p) => partsPayload(produceParts(topic, p, batch, 1)))
  const request = requests[0]!
  const requestBytes = request.reduce((n, b) => n + b.length, 0)
  let sent = 0
  let next: (c: number) => ReadonlyArray<Buffer> = () => requests[sent++ % requests.length]!
  if (idempotent) {
    const producers = admin === undefined
      ? Array.from({ length: CONNECTIONS }, (_, i) => ({ id: BigInt(i + 1), epoch: 0 }))
      : await Promise.all(Array.from({ length: CONNECTIONS }, () => admin.initProducerId()))
    const perConn = producers.map((pr) => ({ template: produceParts(topic, 0, encodeBatch(shape, pr), -1), seq: 0 }))
    next = (c) => withSequence(perConn[c]!.template, perConn[c]!.seq++ * shape.records)
  }
  execFileSync("sync")
  let c0: Counters | undefined
  let c1: Counters | undefined
  let perf: ReturnType<typeof spawn> | undefined
  // Awaited after the pipeline drains: perf may exit before that, so the wait starts at its spawn.
  let perfClosed: Promise<unknown> = Promise.resolve()
  let perfOut = ""
  const r = await runPipeline({
    port, connections: CONNECTIONS, window: idempotent ? 5 : 8, next, warmupMs: 1000, durationMs: seconds * 1000,
    onWindowStart: () => {
      c0 = counters(pid)
      if (record !== undefined) perf = spawn("perf", ["record", ...(process.env["PROBE_PERF_EVENT"] ? ["-e", process.env["PROBE_PERF_EVENT"]] : []), "-g", "-o", record, "-p", String(pid)], { stdio: "ignore" })
      else if (hasPerf) {
        perf = spawn("perf", ["stat", "-x", ",", "-e", EVENTS.join(","), "-p", String(pid)], { stdio: ["ignore", "ignore", "pipe"] })
        perf.stderr!.on("data", (d) => (perfOut += d))
      }
      if (perf !== undefined) {
        const spawned = perf
        perfClosed = new Promise((res) => spawned.once("close", res))
      }
    },
    onWindowEnd: () => {
      c1 = counters(pid)
      perf?.kill("SIGINT")
    }
  })
  await perfClosed
  const n = r.responses
  const gb = (n * requestBytes) / 1e9
  const per = (x: number) => (x / n).toFixed(2)
  const d = (k: keyof Counters) => c1![k] - c0![k]
  const line = [`${name}: ${(gb * 1e3 / (r.elapsedMs / 1000)).toFixed(0)} MB/s, ${n} requests`,
    `CPU ms/GB ${((d("user") + d("sys")) / gb).toFixed(0)} (user ${(d("user") / gb).toFixed(0)}, sys ${(d("sys") / gb).toFixed(0)})`,
    `per request: CPU ${((d("user") + d("sys")) * 1000 / n).toFixed(1)} us, minflt ${per(d("minflt"))}, vcs ${per(d("vcs"))}, ivcs ${per(d("ivcs"))}`]
  for (const l of perfOut.split("\n")) {
    const [count, , event] = l.split(",")
    if (event !== undefined && count !== undefined && EVENTS.includes(event)) line.push(`${event.replace(/^.*sys_enter_?/, "") || "all syscalls"} ${per(Number(count))}`)
  }
  if (name === "broker" && traceGc && brokerOutput !== undefined) {
    const trace = brokerOutput().slice(outputBefore).split("\n")
    const scavenges = trace.filter((l) => l.includes(": Scavenge")).length
    const compacts = trace.filter((l) => l.includes(": Mark-Compact"))
    // PROBE_GC_LINES=n prints the last n collections of the window as V8 traced them.
    const show = Number(process.env["PROBE_GC_LINES"] ?? 0)
    if (show > 0) for (const l of trace.filter((l) => l.includes("Scavenge") || l.includes("Mark-Compact")).slice(-show)) console.log(`  ${l.trim()}`)
    line.push(`scavenges per 1000 requests ${(scavenges * 1000 / n).toFixed(1)}, mark-compacts ${(compacts.length * 1000 / n).toFixed(1)} (${[...new Set(compacts.map((l) => l.replace(/^.*\] /, "").replace(/^.*?ms: [^;]*; /, "")))].slice(0, 3).join(" | ")})`)
  }
  console.log(line.join("; "))
  return (d("user") + d("sys")) / gb
}

// --ab=<entryA>,<entryB>[,...]: one broker per entry ("start" = `pnpm start`; "<entry>@KEY=VALUE"
// adds an environment variable to that broker's), rounds alternating over them and the sink
// (ROUNDS, default 4), and each one's median CPU per GB at the end: an A/B on a machine whose
// speed drifts between runs.
const ab = process.argv.find((a) => a.startsWith("--ab="))?.slice("--ab=".length).split(",")
const rounds = Number(process.env["ROUNDS"] ?? (ab === undefined ? 2 : 4))

try {
  const entries = ab ?? [entry ?? "start"]
  const brokers = []
  for (const [i, e] of entries.entries()) {
    // "<entry>@KEY=VALUE@...": that entry's broker runs with these environment variables added.
    const [command, ...vars] = e.split("@")
    const env = Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf("=")), v.slice(v.indexOf("=") + 1)]))
    brokers.push(await startBrokerProcess({ dataDir: path.join(root, `broker${i}`), env, ...(command === "start" ? {} : { command: [command!] }) }))
  }
  brokerOutput = brokers[0]!.output
  const sink = await startBare(["sink", path.join(root, "sink.bin"), ...(process.argv.includes("--sink-per-read") ? ["per-read"] : [])])
  const cpu: Array<Array<number>> = entries.map(() => [])
  try {
    const admins = await Promise.all(brokers.map((b) => AdminClient.connect(b.port)))
    for (let round = 0; round < rounds; round++) {
      // Every other round in reverse order: no entry always runs right after the sink.
      const order = [...brokers.entries()]
      if (round % 2 === 1) order.reverse()
      for (const [i, broker] of order) {
        const topic = `probe${round}`
        await admins[i]!.createTopics([{ name: topic, partitions }])
        const name = ab === undefined ? "broker" : `broker ${entries[i]}`
        cpu[i]!.push(await run(name, broker.port, broker.pid, topic, round === rounds - 1 ? perfRecord : undefined, admins[i]))
        await admins[i]!.deleteTopics([topic])
      }
      await run("sink  ", sink.port, sink.pid, "probe", round === rounds - 1 && perfRecord !== undefined ? `${perfRecord}.sink` : undefined)
      fs.truncateSync(path.join(root, "sink.bin"), 0)
    }
    for (const a of admins) a.close()
    if (ab !== undefined) {
      const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
      // The first round is the brokers' warm-up.
      for (const [i, e] of entries.entries()) console.log(`${e}: median CPU ms/GB ${median(cpu[i]!.slice(1)).toFixed(0)} over rounds 2-${rounds} (${cpu[i]!.map((c) => c.toFixed(0)).join(", ")})`)
    }
  } finally {
    for (const b of brokers) await b.stop()
    await sink.stop()
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
