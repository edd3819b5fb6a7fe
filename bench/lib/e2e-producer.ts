/**
 * The end-to-end scenario's producer, a process of its own so that neither its pacing nor
 * the consumer's decoding waits on the other's event loop (bench/lib/e2e.ts starts it).
 *
 *   node bench/lib/e2e-producer.ts <port> <topic> <batchesPerSec> <durationMs> <connections> [window]
 *
 * Prints "ready" once connected, starts on a line on stdin, then sends batch i at
 * t0 + i / rate (open loop: a slow server does not slow it down) over the connections in
 * turn, as the peak was measured. With a rate of 0 it floods instead, for the scenario's
 * capacity: <window> requests in flight per connection (8 by default), the next sent as
 * soon as an ack comes back, until <durationMs> is over. Per request it records when it was due, when it was
 * handed to the socket and when its ack (acks=1) came back, and the base offset the ack
 * names, which is how the consumer's receive times are joined to it. Times are
 * process.hrtime (CLOCK_MONOTONIC: one clock for every process on the machine), in ms.
 * Prints one JSON line of results when every request is answered.
 */
import * as net from "node:net"
import { monotonicMs, type ProducerReport } from "./e2e.ts"
import { encodeBatch, KIB_RECORDS_64KIB_BATCHES, produceParts } from "./kafka.ts"
import { raiseMallocTrimThreshold } from "../../src/malloc-trim.ts"

// As the broker does (src/malloc-trim.ts): this process's reads must not fault in freed heap.
raiseMallocTrimThreshold()

const [portArg, topic, rateArg, durationArg, connectionsArg, windowArg] = process.argv.slice(2)
const port = Number(portArg)
const rate = Number(rateArg)
const durationMs = Number(durationArg)
const connections = Number(connectionsArg)
const window = Number(windowArg ?? 8)
if (!topic || !(port > 0) || !(rate >= 0) || !(durationMs > 0) || !(connections > 0) || !(window > 0)) {
  console.error("usage: node bench/lib/e2e-producer.ts <port> <topic> <batchesPerSec> <durationMs> <connections> [window]")
  process.exit(2)
}

const flood = rate === 0
/** Requests to send (paced); flooding sends until the time is up. */
const total = flood ? Infinity : Math.max(1, Math.floor((durationMs / 1000) * rate))
const parts = produceParts(topic, 0, encodeBatch(KIB_RECORDS_64KIB_BATCHES), 1)
// Every slot allocated up front (flooding: for up to 50 000 batches/s, 3 GB/s): nothing grows
// while the clock runs, so the producer's heap neither grows nor collects mid-round.
const capacity = flood ? Math.ceil((durationMs / 1000) * 50_000) : total
const dueMs = new Float64Array(capacity)
const sentMs = new Float64Array(capacity)
const ackedMs = new Float64Array(capacity)
const baseOffsets = new Float64Array(capacity).fill(-1)
let acked = 0
/** Flooding: whether the time is up (no more sends). */
let stopped = false

interface Conn {
  readonly socket: net.Socket
  /** Request indices awaiting their response, in order. */
  readonly waiting: Array<number>
  head: number
  /** Received bytes not yet parsed: Node reads into `input` after them (onread: no buffer per chunk). */
  readonly input: Buffer
  have: number
}

/** Unsigned varint at `pos` of `b`: [value, next position]. */
const uvarint = (b: Buffer, pos: number): [number, number] => {
  let v = 0
  let shift = 0
  while (true) {
    const x = b[pos++]!
    v += (x & 0x7f) * 2 ** shift
    if (x < 0x80) return [v, pos]
    shift += 7
  }
}

/**
 * A Produce v9 response (the frame after its size), read only as far as the bench needs:
 * correlation id, the one partition's error code and base offset.
 */
const onFrame = (conn: Conn, b: Buffer, at: number, now: number) => {
  const i = conn.waiting[conn.head++]!
  const correlationId = b.readInt32BE(at)
  if (correlationId !== i) throw new Error(`produce response ${correlationId}, expected ${i}`)
  let [tagged, pos] = uvarint(b, at + 4)
  if (tagged !== 0) throw new Error("tagged fields in a produce response header")
  ;[, pos] = uvarint(b, pos) // topics (one)
  const [nameLength, afterName] = uvarint(b, pos)
  ;[, pos] = uvarint(b, afterName + nameLength - 1) // partitions (one)
  const errorCode = b.readInt16BE(pos + 4)
  if (errorCode !== 0) throw new Error(`produce: error ${errorCode}`)
  baseOffsets[i] = b.readInt32BE(pos + 6) * 4294967296 + b.readUInt32BE(pos + 10)
  ackedMs[i] = now
  acked++
  if (flood) {
    if (!stopped && (now - t0 >= durationMs || next === capacity)) stopped = true
    if (!stopped) {
      dueMs[next] = now
      send(next++)
    } else if (acked === next) finish()
  } else if (acked === total) finish()
}

const onRead = (conn: Conn, n: number) => {
  const now = monotonicMs()
  const b = conn.input
  const end = conn.have + n
  let pos = 0
  while (end - pos >= 4 && end - pos >= 4 + b.readInt32BE(pos)) {
    onFrame(conn, b, pos + 4, now)
    pos += 4 + b.readInt32BE(pos)
  }
  // What is left is part of one small response: move it to the front.
  if (pos < end) b.copy(b, 0, pos, end)
  conn.have = end - pos
}

const connect = (): Promise<Conn> =>
  new Promise((resolve, reject) => {
    const input = Buffer.alloc(256 << 10)
    const conn: Conn = { socket: undefined as unknown as net.Socket, waiting: [], head: 0, input, have: 0 }
    const socket = net.connect({
      port, host: "127.0.0.1",
      onread: { buffer: () => input.subarray(conn.have), callback: (n: number) => (onRead(conn, n), true) }
    }, () => {
      socket.setNoDelay(true)
      resolve(conn)
    })
    ;(conn as { socket: net.Socket }).socket = socket
    socket.once("error", reject)
  })

const conns = await Promise.all(Array.from({ length: connections }, connect))
const cpu0 = process.cpuUsage()
let t0 = 0
let next = 0

// Every request's prefix (its correlation id differs), built before the clock starts when paced.
const prefixOf = (i: number) => {
  const prefix = Buffer.from(parts.prefix)
  prefix.writeInt32BE(i, 8)
  return prefix
}
const prefixes = flood ? [] : Array.from({ length: total }, (_, i) => prefixOf(i))

function send(i: number) {
  const conn = conns[i % connections]!
  const prefix = flood ? prefixOf(i) : prefixes[i]!
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
  const sent = (xs: Float64Array) => Array.from(xs.subarray(0, next))
  const report: ProducerReport = { dueMs: sent(dueMs), sentMs: sent(sentMs), ackedMs: sent(ackedMs), baseOffsets: sent(baseOffsets), cpuMs: (cpu.user + cpu.system) / 1000, wallMs: monotonicMs() - t0 }
  process.stdout.write(JSON.stringify(report) + "\n", () => {
    for (const c of conns) c.socket.destroy()
    process.exit(0)
  })
}

process.stdin.once("data", () => {
  t0 = monotonicMs()
  if (!flood) return pace()
  for (let w = 0; w < window * connections; w++) {
    dueMs[next] = t0
    send(next++)
  }
})
// Start the round with an empty young generation and no start-up garbage (e2e.ts spawns this
// with --expose-gc): a collection mid-round would pause the producer for a whole scavenge.
;(globalThis as { gc?: () => void }).gc?.()
process.stdout.write("ready\n")
