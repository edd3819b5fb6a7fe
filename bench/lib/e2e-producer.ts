/**
 * The end-to-end scenario's producer, a process of its own so that neither its pacing nor
 * the consumer's decoding waits on the other's event loop (bench/lib/e2e.ts starts it).
 *
 *   node bench/lib/e2e-producer.ts <port> <topic> <batchesPerSec> <durationMs> <connections>
 *
 * Prints "ready" once connected, starts on a line on stdin, then sends batch i at
 * t0 + i / rate (open loop: a slow server does not slow it down) over the connections in
 * turn, as the peak was measured. Per request it records when it was due, when it was
 * handed to the socket and when its ack (acks=1) came back, and the base offset the ack
 * names, which is how the consumer's receive times are joined to it. Times are
 * process.hrtime (CLOCK_MONOTONIC: one clock for every process on the machine), in ms.
 * Prints one JSON line of results when every request is answered.
 */
import * as net from "node:net"
import { Produce } from "../../src/protocol/generated/apis.ts"
import { decodeResponse } from "../../test/support/wire-client.ts"
import { monotonicMs, type ProducerReport } from "./e2e.ts"
import { encodeBatch, KIB_RECORDS_64KIB_BATCHES, PRODUCE_VERSION, produceParts } from "./kafka.ts"

const [portArg, topic, rateArg, durationArg, connectionsArg] = process.argv.slice(2)
const port = Number(portArg)
const rate = Number(rateArg)
const durationMs = Number(durationArg)
const connections = Number(connectionsArg)
if (!topic || !(port > 0) || !(rate > 0) || !(durationMs > 0) || !(connections > 0)) {
  console.error("usage: node bench/lib/e2e-producer.ts <port> <topic> <batchesPerSec> <durationMs> <connections>")
  process.exit(2)
}

const total = Math.max(1, Math.floor((durationMs / 1000) * rate))
const parts = produceParts(topic, 0, encodeBatch(KIB_RECORDS_64KIB_BATCHES), 1)
const dueMs = new Array<number>(total).fill(0)
const sentMs = new Array<number>(total).fill(0)
const ackedMs = new Array<number>(total).fill(0)
const baseOffsets = new Array<number>(total).fill(-1)
let acked = 0

interface Conn {
  readonly socket: net.Socket
  /** Request indices awaiting their response, in order. */
  readonly waiting: Array<number>
  head: number
  pending: Array<Buffer>
  pendingBytes: number
  /** Bytes that complete the frame being received: chunks are joined once, not per chunk. */
  needed: number
}

const onFrame = (conn: Conn, payload: Buffer, now: number) => {
  const i = conn.waiting[conn.head++]!
  const response = decodeResponse(Produce, PRODUCE_VERSION, payload)
  if (response.correlationId !== i) throw new Error(`produce response ${response.correlationId}, expected ${i}`)
  const p = response.body.responses[0].partitionResponses[0]
  if (p.errorCode !== 0) throw new Error(`produce: error ${p.errorCode}`)
  baseOffsets[i] = Number(p.baseOffset)
  ackedMs[i] = now
  if (++acked === total) finish()
}

const connect = (): Promise<Conn> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" }, () => {
      socket.setNoDelay(true)
      resolve(conn)
    })
    const conn: Conn = { socket, waiting: [], head: 0, pending: [], pendingBytes: 0, needed: 4 }
    socket.once("error", reject)
    socket.on("data", (chunk: Buffer) => {
      const now = monotonicMs()
      conn.pending.push(chunk)
      conn.pendingBytes += chunk.length
      if (conn.pendingBytes < conn.needed) return
      let buffered = conn.pending.length === 1 ? conn.pending[0]! : Buffer.concat(conn.pending, conn.pendingBytes)
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0)
        onFrame(conn, buffered.subarray(4, 4 + size), now)
        buffered = buffered.subarray(4 + size)
      }
      conn.pending = buffered.length === 0 ? [] : [buffered]
      conn.pendingBytes = buffered.length
      conn.needed = buffered.length >= 4 ? 4 + buffered.readInt32BE(0) : 4
    })
  })

const conns = await Promise.all(Array.from({ length: connections }, connect))
const cpu0 = process.cpuUsage()
let t0 = 0
let next = 0

const send = (i: number) => {
  const conn = conns[i % connections]!
  const prefix = Buffer.from(parts.prefix)
  prefix.writeInt32BE(i, 8)
  conn.waiting.push(i)
  conn.socket.cork()
  conn.socket.write(prefix)
  conn.socket.write(parts.batch)
  conn.socket.write(parts.suffix)
  sentMs[i] = monotonicMs()
  conn.socket.uncork()
}

const pace = () => {
  const now = monotonicMs()
  while (next < total && t0 + (next * 1000) / rate <= now) {
    dueMs[next] = t0 + (next * 1000) / rate
    send(next++)
  }
  if (next < total) setTimeout(pace, Math.max(0, t0 + (next * 1000) / rate - monotonicMs()))
}

function finish() {
  const cpu = process.cpuUsage(cpu0)
  const report: ProducerReport = { dueMs, sentMs, ackedMs, baseOffsets, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: monotonicMs() - t0 }
  process.stdout.write(JSON.stringify(report) + "\n", () => {
    for (const c of conns) c.socket.destroy()
    process.exit(0)
  })
}

process.stdin.once("data", () => {
  t0 = monotonicMs()
  pace()
})
process.stdout.write("ready\n")
