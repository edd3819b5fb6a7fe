/**
 * `pnpm bench:api-versions`: pipelined ApiVersions round trips per second over 8 connections, against
 * the broker and against a bare Node.js server that answers the same frames with a
 * precomputed response, both measured in this run. The ratio is the per-request overhead
 * of the broker's architecture (framing, dispatch, Effect, in-order writes).
 *
 * Servers run in child processes (bench/servers.ts); this process generates the load with the
 * bench's pipeline (bench/lib/load.ts). Each measurement is a fixed duration after a warm-up,
 * repeated; the best round counts (least disturbed by the rest of the machine).
 */
import { ApiVersions } from "../src/protocol/generated/apis.ts"
import { encodeRequest } from "../test/support/wire-client.ts"
import { runPipeline } from "./lib/load.ts"
import { startServer } from "./lib/servers-process.ts"

const CONNECTIONS = 8
const WINDOW = 32 // requests in flight per connection
const WARMUP_MS = 1000
const MEASURE_MS = 3000
const ROUNDS = 3

const request = Buffer.from(encodeRequest(ApiVersions, 3, 0, { clientSoftwareName: "bench", clientSoftwareVersion: "1.0" }))

const best = async (mode: "broker" | "bare"): Promise<number> => {
  const server = await startServer(mode)
  try {
    let top = 0
    for (let i = 0; i < ROUNDS; i++) {
      const r = await runPipeline({ port: server.port, connections: CONNECTIONS, window: WINDOW, next: () => request, warmupMs: WARMUP_MS, durationMs: MEASURE_MS })
      top = Math.max(top, (r.responses / r.elapsedMs) * 1000)
    }
    return top
  } finally {
    await server.stop()
  }
}

const bare = await best("bare")
const broker = await best("broker")
const fmt = (n: number) => `${Math.round(n).toLocaleString("en-US")} req/s`
console.log(`ApiVersions v3, ${CONNECTIONS} connections x ${WINDOW} pipelined, best of ${ROUNDS} x ${MEASURE_MS / 1000}s`)
console.log(`  bare node:net server : ${fmt(bare)}`)
console.log(`  broker               : ${fmt(broker)}`)
console.log(`  ratio broker/bare    : ${(broker / bare).toFixed(2)}`)
