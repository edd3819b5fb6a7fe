/**
 * `pnpm bench:metrics`: the cost of request metrics on the produce path. Pipelined
 * Produce requests (acks=1, one batch of 10 records of 100 B each: small requests make
 * per-request costs show the most) over 4 connections to a broker with request metrics and
 * to one started with `requestMetrics: false` (the connection then observes nothing), each in
 * its own child process. Rounds alternate between the two. Two figures: requests per second
 * (best round), and the broker's CPU time per request (best round), which the other
 * processes on a shared machine disturb much less than throughput.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import * as path from "node:path"
import { buildRecordBatch } from "../src/log/record-batch.ts"
import { Produce } from "../src/protocol/generated/apis/Produce.ts"
import { encodeRequest } from "../test/support/wire-client.ts"

const CONNECTIONS = 4
const WINDOW = 16
const WARMUP_MS = 1000
const MEASURE_MS = 3000
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 4)
const TOPIC = "bench-metrics"

const here = path.dirname(new URL(import.meta.url).pathname)

const startServer = (mode: "broker" | "broker-no-metrics"): Promise<{ port: number; child: ChildProcess }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, "servers.ts"), mode], { stdio: ["pipe", "pipe", "inherit"] })
    child.stdout!.once("data", (d) => resolve({ port: Number(String(d).trim()), child }))
    child.once("exit", (code) => reject(new Error(`${mode} server exited with ${code}`)))
  })

const now = Date.now()
const records = buildRecordBatch({ records: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: "x".repeat(100), timestamp: now + i })) })
const request = Buffer.from(encodeRequest(Produce, 9, 0, {
  transactionalId: null,
  acks: 1,
  timeoutMs: 30_000,
  topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }]
}))

const driveConnection = (port: number, state: { counting: boolean; stopped: boolean; count: number }) =>
  new Promise<void>((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" }, () => {
      socket.setNoDelay(true)
      socket.write(Buffer.concat(Array.from({ length: WINDOW }, () => request)))
    })
    let pending = Buffer.alloc(0)
    socket.on("data", (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      let pos = 0
      let responses = 0
      while (pending.length - pos >= 4) {
        const size = pending.readInt32BE(pos)
        if (pending.length - pos < 4 + size) break
        pos += 4 + size
        responses++
      }
      pending = pending.subarray(pos)
      if (state.counting) state.count += responses
      if (state.stopped) {
        socket.destroy()
        resolve()
        return
      }
      if (responses > 0) socket.write(Buffer.concat(Array.from({ length: responses }, () => request)))
    })
    socket.on("error", reject)
  })

/** The child's CPU time so far, in microseconds. */
const cpuOf = (child: ChildProcess): Promise<number> =>
  new Promise((resolve) => {
    child.stdout!.once("data", (d) => resolve(Number(String(d).trim())))
    child.stdin!.write("cpu\n")
  })

interface Round {
  readonly rate: number
  readonly cpuMicrosPerRequest: number
}

const measure = async (server: { port: number; child: ChildProcess }): Promise<Round> => {
  const state = { counting: false, stopped: false, count: 0 }
  const done = Promise.all(Array.from({ length: CONNECTIONS }, () => driveConnection(server.port, state)))
  await new Promise((r) => setTimeout(r, WARMUP_MS))
  const cpuStart = await cpuOf(server.child)
  state.counting = true
  const start = performance.now()
  await new Promise((r) => setTimeout(r, MEASURE_MS))
  const elapsed = performance.now() - start
  const count = state.count
  state.counting = false
  const cpuEnd = await cpuOf(server.child)
  state.stopped = true
  await done
  return { rate: (count / elapsed) * 1000, cpuMicrosPerRequest: (cpuEnd - cpuStart) / Math.max(1, count) }
}

const on = await startServer("broker")
const off = await startServer("broker-no-metrics")
try {
  const withMetrics: Array<Round> = []
  const without: Array<Round> = []
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      withMetrics.push(await measure(on))
      without.push(await measure(off))
    } else {
      without.push(await measure(off))
      withMetrics.push(await measure(on))
    }
  }
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
  const bestRate = (xs: Array<Round>) => Math.max(...xs.map((r) => r.rate))
  const bestCpu = (xs: Array<Round>) => Math.min(...xs.map((r) => r.cpuMicrosPerRequest))
  const line = (name: string, xs: Array<Round>) =>
    console.log(`  ${name}: ${fmt(bestRate(xs))} req/s, ${bestCpu(xs).toFixed(2)} µs CPU/request (rounds ${xs.map((r) => fmt(r.rate)).join(", ")})`)
  console.log(`Produce v9 (10 x 100 B records, acks=1), ${CONNECTIONS} connections x ${WINDOW} pipelined, best of ${ROUNDS} x ${MEASURE_MS / 1000}s`)
  line("with request metrics   ", withMetrics)
  line("without request metrics", without)
  console.log(`  throughput ratio with/without : ${(bestRate(withMetrics) / bestRate(without)).toFixed(3)}`)
  console.log(`  CPU per request with/without  : ${(bestCpu(withMetrics) / bestCpu(without)).toFixed(3)}`)
} finally {
  on.child.kill("SIGKILL")
  off.child.kill("SIGKILL")
}
