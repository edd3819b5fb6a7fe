/**
 * `pnpm bench:metrics`: the cost of request metrics on the produce path. Pipelined
 * Produce requests (acks=1, one batch of 10 records of 100 B each: small requests make
 * per-request costs show the most) over 4 connections to a broker with request metrics and
 * to one started with `requestMetrics: false` (the connection then observes nothing), each in
 * its own child process. Rounds alternate between the two. Two figures: requests per second
 * (best round), and the broker's CPU time per request (best round), which the other
 * processes on a shared machine disturb much less than throughput.
 */
import { buildRecordBatch } from "../src/log/record-batch.ts"
import { Produce } from "../src/protocol/generated/apis/Produce.ts"
import { encodeRequest } from "../test/support/wire-client.ts"
import { processCpuMs } from "./lib/broker-process.ts"
import { runPipeline } from "./lib/load.ts"
import { type ServerProcess, startServer } from "./lib/servers-process.ts"

const CONNECTIONS = 4
const WINDOW = 16
const WARMUP_MS = 1000
const MEASURE_MS = 3000
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 4)
const TOPIC = "bench-metrics"

const now = Date.now()
const records = buildRecordBatch({ records: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: "x".repeat(100), timestamp: now + i })) })
const request = Buffer.from(encodeRequest(Produce, 9, 0, {
  transactionalId: null,
  acks: 1,
  timeoutMs: 30_000,
  topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }]
}))

interface Round {
  readonly rate: number
  readonly cpuMicrosPerRequest: number
}

const measure = async (server: ServerProcess): Promise<Round> => {
  let cpuStart = 0
  let cpuEnd = 0
  const r = await runPipeline({
    port: server.port, connections: CONNECTIONS, window: WINDOW, next: () => request, warmupMs: WARMUP_MS, durationMs: MEASURE_MS,
    onWindowStart: () => (cpuStart = processCpuMs(server.pid)),
    onWindowEnd: () => (cpuEnd = processCpuMs(server.pid))
  })
  return { rate: (r.responses / r.elapsedMs) * 1000, cpuMicrosPerRequest: ((cpuEnd - cpuStart) * 1000) / Math.max(1, r.responses) }
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
  await on.stop()
  await off.stop()
}
