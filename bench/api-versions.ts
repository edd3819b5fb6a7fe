/**
 * `pnpm bench:api-versions`: pipelined ApiVersions round trips per second over 8 connections, against
 * the broker and against a bare Node.js server that answers the same frames with a
 * precomputed response, both measured in this run. The ratio is the per-request overhead
 * of the broker's architecture (framing, dispatch, Effect, in-order writes).
 *
 * Servers run in child processes; this process generates the load. Each measurement is a
 * fixed duration after a warm-up, repeated; the best round counts (least disturbed by the
 * rest of the machine).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import * as path from "node:path"
import { ApiVersions } from "../src/protocol/generated/apis.ts"
import { encodeRequest } from "../test/support/wire-client.ts"

const CONNECTIONS = 8
const WINDOW = 32 // requests in flight per connection
const WARMUP_MS = 1000
const MEASURE_MS = 3000
const ROUNDS = 3

const here = path.dirname(new URL(import.meta.url).pathname)

const startServer = (mode: "broker" | "bare"): Promise<{ port: number; child: ChildProcess }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, "servers.ts"), mode], { stdio: ["ignore", "pipe", "inherit"] })
    child.stdout!.once("data", (d) => resolve({ port: Number(String(d).trim()), child }))
    child.once("exit", (code) => reject(new Error(`${mode} server exited with ${code}`)))
  })

const request = Buffer.from(encodeRequest(ApiVersions, 3, 0, { clientSoftwareName: "bench", clientSoftwareVersion: "1.0" }))

/** Drives one connection: keeps WINDOW requests in flight, counts responses while `counting`. */
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
      if (responses > 0) socket.write(responses === 1 ? request : Buffer.concat(Array.from({ length: responses }, () => request)))
    })
    socket.on("error", reject)
  })

const measure = async (port: number): Promise<number> => {
  const state = { counting: false, stopped: false, count: 0 }
  const done = Promise.all(Array.from({ length: CONNECTIONS }, () => driveConnection(port, state)))
  await new Promise((r) => setTimeout(r, WARMUP_MS))
  state.counting = true
  const start = performance.now()
  await new Promise((r) => setTimeout(r, MEASURE_MS))
  const elapsed = performance.now() - start
  const count = state.count
  state.stopped = true
  await done
  return (count / elapsed) * 1000
}

const best = async (mode: "broker" | "bare"): Promise<number> => {
  const { port, child } = await startServer(mode)
  try {
    let top = 0
    for (let i = 0; i < ROUNDS; i++) top = Math.max(top, await measure(port))
    return top
  } finally {
    child.kill("SIGKILL")
  }
}

const bare = await best("bare")
const broker = await best("broker")
const fmt = (n: number) => `${Math.round(n).toLocaleString("en-US")} req/s`
console.log(`ApiVersions v3, ${CONNECTIONS} connections x ${WINDOW} pipelined, best of ${ROUNDS} x ${MEASURE_MS / 1000}s`)
console.log(`  bare node:net server : ${fmt(bare)}`)
console.log(`  broker               : ${fmt(broker)}`)
console.log(`  ratio broker/bare    : ${(broker / bare).toFixed(2)}`)
