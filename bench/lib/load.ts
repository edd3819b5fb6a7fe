/**
 * The load generator: pre-encoded requests, pipelined over several connections, a fixed
 * number in flight per connection. Per response it only splits frames (no decoding, no
 * copies), so that on a 2-core machine it leaves the server as much CPU as it can.
 */
import * as net from "node:net"
import { FrameCounter } from "./frames.ts"

/** A request: one buffer, or parts written corked (a shared batch between a per-request prefix and suffix). */
export type Payload = Buffer | ReadonlyArray<Buffer>

export interface PipelineOptions {
  readonly port: number
  readonly connections: number
  /** Requests in flight per connection. */
  readonly window: number
  /** The next request for a connection; undefined when it has nothing more to send. */
  readonly next: (connection: number) => Payload | undefined
  /** Timed mode: responses before warmupMs are not counted, sending stops after warmupMs + durationMs. Without durationMs: until every request is answered. */
  readonly warmupMs?: number
  readonly durationMs?: number
  /** Called when the measured window opens and closes (e.g. to read the server's CPU time). */
  readonly onWindowStart?: () => void
  readonly onWindowEnd?: () => void
}

export interface PipelineResult {
  /** Responses received in the measured window. */
  readonly responses: number
  /** Request bytes whose responses arrived in the window. */
  readonly requestBytes: number
  /** Response bytes received in the window. */
  readonly responseBytes: number
  readonly elapsedMs: number
}

const sizeOf = (p: Payload): number => {
  if (Buffer.isBuffer(p)) return p.length
  let n = 0
  for (const b of p as ReadonlyArray<Buffer>) n += b.length
  return n
}

export const runPipeline = (options: PipelineOptions): Promise<PipelineResult> =>
  new Promise((resolve, reject) => {
    const timed = options.durationMs !== undefined
    let counting = !timed || (options.warmupMs ?? 0) === 0
    let stopped = false
    let responses = 0
    let requestBytes = 0
    let responseBytes = 0
    let windowStart = 0
    let windowEnd = 0
    let open = options.connections
    let failed = false
    const sockets: Array<net.Socket> = []

    const openWindow = () => {
      options.onWindowStart?.()
      counting = true
      windowStart = performance.now()
    }
    const closeWindow = () => {
      if (windowEnd !== 0) return
      windowEnd = performance.now()
      counting = false
      options.onWindowEnd?.()
    }
    const finish = () => {
      if (--open > 0) return
      closeWindow()
      resolve({ responses, requestBytes, responseBytes, elapsedMs: windowEnd - windowStart })
    }
    const fail = (e: Error) => {
      if (failed) return
      failed = true
      for (const s of sockets) s.destroy()
      reject(e)
    }

    for (let c = 0; c < options.connections; c++) {
      const sentSizes: Array<number> = []
      let head = 0
      let inFlight = 0
      let exhausted = false
      const frames = new FrameCounter(8)
      const done: Array<number> = []
      const socket = net.connect({ port: options.port, host: "127.0.0.1" })
      sockets.push(socket)
      const send = () => {
        if (stopped || exhausted || inFlight >= options.window) return
        socket.cork()
        while (inFlight < options.window) {
          const p = options.next(c)
          if (p === undefined) {
            exhausted = true
            break
          }
          if (Buffer.isBuffer(p)) socket.write(p)
          else for (const part of p as ReadonlyArray<Buffer>) socket.write(part)
          sentSizes.push(sizeOf(p))
          inFlight++
        }
        socket.uncork()
      }
      let closed = false
      const close = () => {
        if (closed) return
        closed = true
        socket.destroy()
        finish()
      }
      socket.on("connect", () => {
        socket.setNoDelay(true)
        send()
        if (inFlight === 0) close()
      })
      socket.on("data", (chunk: Buffer) => {
        if (counting) responseBytes += chunk.length
        done.length = 0
        frames.feed(chunk, done)
        for (let i = 0; i < done.length; i++) {
          const size = sentSizes[head++]!
          if (counting) {
            responses++
            requestBytes += size
          }
        }
        inFlight -= done.length
        if (head > 4096) {
          sentSizes.splice(0, head)
          head = 0
        }
        send()
        if (inFlight === 0 && (stopped || exhausted)) close()
      })
      socket.on("error", (e) => fail(e))
      socket.on("close", () => {
        if (!closed && !failed) fail(new Error(`connection ${c} closed by the server with ${inFlight} requests in flight`))
      })
    }

    if (timed) {
      const warmup = options.warmupMs ?? 0
      if (warmup > 0) setTimeout(openWindow, warmup)
      else openWindow()
      setTimeout(() => {
        closeWindow()
        stopped = true
      }, warmup + options.durationMs!)
    } else {
      openWindow()
    }
  })
