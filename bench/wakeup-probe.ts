/**
 * `node bench/wakeup-probe.ts [messages/s ...]`: the machine's own floor for the end-to-end
 * scenario — how long one process takes to see a message another process wrote to a loopback
 * socket, with nothing else in the way (no parsing, no disk). A child process sends 64 KiB
 * messages paced by time (as the e2e producer paces its batches), each stamped with its
 * send time (CLOCK_MONOTONIC); this process stamps the arrival of each message's last byte.
 * One line per rate: one-way latency p50/p99/p999/max, and the sender's pacing lag.
 * WAKEUP_BYTES sets the message size, WAKEUP_MS the length of a rate's run, WAKEUP_DATA=1
 * reads with 'data' events (a fresh buffer per read, as a server's sockets do) instead of onread.
 */
import { fork } from "node:child_process"
import * as net from "node:net"
import * as os from "node:os"
import { percentileSorted } from "./lib/stats.ts"

const now = () => Number(process.hrtime.bigint()) / 1e6
const bytes = Number(process.env["WAKEUP_BYTES"] ?? 65_536)
const durationMs = Number(process.env["WAKEUP_MS"] ?? 3000)

const onData = process.env["WAKEUP_DATA"] === "1"

if (process.argv[2] === "--sender") {
  // Child: accept the receiver, then send `total` messages at `rate` per second; the first 8 bytes of each carry its send time.
  const rate = Number(process.argv[3])
  const total = Math.max(1, Math.floor((durationMs / 1000) * rate))
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    const messages = Array.from({ length: total }, () => Buffer.alloc(bytes, 1))
    const lag: Array<number> = []
    const t0 = now()
    let next = 0
    const pace = () => {
      const t = now()
      while (next < total && t0 + (next * 1000) / rate <= t) {
        lag.push(t - (t0 + (next * 1000) / rate))
        const m = messages[next++]!
        m.writeDoubleBE(now(), 0)
        socket.write(m)
      }
      if (next < total) setTimeout(pace, Math.max(0, t0 + (next * 1000) / rate - now()))
      else process.send!(lag.sort((a, b) => a - b), () => socket.end(() => server.close()))
    }
    pace()
  })
  server.listen(0, "127.0.0.1", () => process.send!((server.address() as net.AddressInfo).port))
} else {
  const rates = process.argv.slice(2).map(Number)
  for (const rate of rates.length > 0 ? rates : [150, 1500, 4500]) {
    const latencies: Array<number> = []
    let lag: Array<number> = []
    await new Promise<void>((resolve, reject) => {
      const child = fork(import.meta.filename, ["--sender", String(rate)])
      child.on("error", reject)
      child.once("message", (port) => {
        child.on("message", (m) => (lag = m as Array<number>))
        const stampBytes = Buffer.alloc(8)
        let have = 0
        let stamp = 0
        const onChunk = (chunk: Buffer, n: number) => {
          const at = now()
          let pos = 0
          while (pos < n) {
            if (have < 8) {
              const take = Math.min(8 - have, n - pos)
              chunk.copy(stampBytes, have, pos, pos + take)
              if (have + take === 8) stamp = stampBytes.readDoubleBE(0)
              have += take
              pos += take
              continue
            }
            const take = Math.min(bytes - have, n - pos)
            have += take
            pos += take
            if (have === bytes) {
              latencies.push(at - stamp)
              have = 0
            }
          }
        }
        // By default the receiver reads into one buffer (onread: no allocation per chunk), as
        // the e2e consumer does; WAKEUP_DATA=1 takes 'data' events (a fresh buffer per read), as a server's sockets do.
        const input = Buffer.alloc(1 << 20)
        const socket = onData
          ? net.connect({ port: port as number, host: "127.0.0.1" })
          : net.connect({ port: port as number, host: "127.0.0.1", onread: { buffer: input, callback: (n: number) => (onChunk(input, n), true) } })
        if (onData) socket.on("data", (c: Buffer) => onChunk(c, c.length))
        socket.setNoDelay(true)
        socket.on("close", () => {
          child.once("exit", () => resolve())
        })
      })
    })
    latencies.sort((a, b) => a - b)
    const p = (xs: ReadonlyArray<number>, q: number) => percentileSorted(xs, q).toFixed(2)
    console.log(`${rate} messages/s of ${bytes} B (${((rate * bytes) / 1e6).toFixed(0)} MB/s${onData ? ", 'data' events" : ""}): one-way p50 ${p(latencies, 0.5)} ms, p99 ${p(latencies, 0.99)} ms, ` +
      `p999 ${p(latencies, 0.999)} ms, max ${latencies.at(-1)!.toFixed(2)} ms over ${latencies.length}; sender lag p99 ${p(lag, 0.99)} ms; load average ${os.loadavg()[0]!.toFixed(1)}`)
  }
}
