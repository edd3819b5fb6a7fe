/**
 * End-to-end latency, producer to consumer, as the bench measures it.
 *
 * The producer is a process of its own (bench/lib/e2e-producer.ts): open loop, paced by
 * time over as many connections as the peak was measured with, acks=1. The consumer runs
 * here (the bench's process does nothing else meanwhile): one long-poll Fetch in flight
 * (max.wait.ms 500, min.bytes 1, as a Kafka consumer's defaults), the next one sent as soon
 * as the previous response is parsed. A batch's latency is the time its Fetch response frame
 * was complete here minus the time the producer handed its request to the socket; the two
 * are joined on the base offset the produce ack names, and both clocks are CLOCK_MONOTONIC.
 *
 * Each round also says which side would saturate: the producer's pacing lag (sent - due), the
 * ack round trip (the broker's produce path alone), and the CPU time of the server, the
 * producer and the consumer over the round, as a fraction of one core.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { processCpuMs, trackChild } from "./broker-process.ts"
import { type FetchedBatches, FetchResponseStream } from "./fetch-stream.ts"
import { fetchRequest, KIB_RECORDS_64KIB_BATCHES } from "./kafka.ts"
import { percentileSorted } from "./stats.ts"

/** The machine's CPU time so far (jiffies), busy and in all, from /proc/stat's first line. */
const machineCpu = (): { busy: number; total: number } => {
  const fields = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = fields.reduce((a, b) => a + b, 0)
  // idle and iowait are fields 4 and 5 (indices 3 and 4).
  return { busy: total - fields[3]! - fields[4]!, total }
}

/** A full collection of this process's heap (gc() made reachable at run time; undefined behaviour is V8's caveat, not seen). */
let gcFunction: (() => void) | undefined
const collectGarbage = (): void => {
  if (gcFunction === undefined) {
    v8.setFlagsFromString("--expose-gc")
    gcFunction = vm.runInNewContext("gc") as () => void
  }
  gcFunction()
}

/** One clock for every process on the machine (CLOCK_MONOTONIC), in ms. */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6

/** What the producer process reports (times in monotonicMs). */
export interface ProducerReport {
  readonly dueMs: ReadonlyArray<number>
  readonly sentMs: ReadonlyArray<number>
  readonly ackedMs: ReadonlyArray<number>
  readonly baseOffsets: ReadonlyArray<number>
  /** The producer's own CPU time (user+sys) over the run. */
  readonly cpuMs: number
  readonly wallMs: number
}

export interface E2eOptions {
  readonly port: number
  /** The server's pid, for its CPU time over the round. */
  readonly serverPid: number
  readonly topic: string
  /** The producer's pace; 0 floods instead (`window` requests in flight per connection), for the capacity. */
  readonly batchesPerSec: number
  readonly window?: number
  readonly durationMs: number
  readonly connections: number
  /** Batches due before this are not counted. */
  readonly warmupMs: number
}

export interface E2eRound {
  /** Per counted batch, sorted ascending: producer's write to consumer's complete response (ms). */
  readonly latencies: ReadonlyArray<number>
  /** Producer's pacing lag (sent - due) and the produce ack round trip (acked - sent), sorted. */
  readonly lag: ReadonlyArray<number>
  readonly ack: ReadonlyArray<number>
  /** CPU time over the round as a fraction of one core. */
  readonly serverCpu: number
  readonly producerCpu: number
  readonly consumerCpu: number
  /** The share of the machine's CPUs busy over the round (every process, this bench's and others'). */
  readonly machineBusy: number
  /** Fetch responses the consumer received; their sizes and transfer times (first chunk to last), sorted. */
  readonly fetches: number
  readonly responseBytes: ReadonlyArray<number>
  readonly transferMs: ReadonlyArray<number>
  /** Batches per second the consumer received from the warm-up's end to the producer's last send. */
  readonly deliveredPerSec: number
}

const producerPath = path.join(import.meta.dirname, "e2e-producer.ts")
/**
 * The producer collects its start-up garbage before the round (gc()), and its young
 * generation starts large enough for a round's few MB of allocation: its one scavenge per
 * round otherwise took 17-35 ms here (the new space's fresh pages fault in on this VM at
 * ~6 us per 4 KiB), a pause as long as every other latency in the round together.
 */
const PRODUCER_NODE_ARGS = ["--expose-gc", "--min-semi-space-size=32"]
const FETCH_MAX_WAIT_MS = 500
const PARTITION_MAX_BYTES = 8 << 20

/**
 * When each batch arrived, by base offset: the bench's batches are all KIB_RECORDS_64KIB_BATCHES
 * (so a base offset is a multiple of its record count), kept in a typed array allocated up
 * front — nothing on the consumer's heap grows while the clock runs.
 */
class ArrivalTimes {
  private readonly byBatch: Float64Array
  private readonly others = new Map<number, number>()
  constructor(batches: number) {
    this.byBatch = new Float64Array(batches).fill(NaN)
  }
  private slot(baseOffset: number): number {
    const i = baseOffset / KIB_RECORDS_64KIB_BATCHES.records
    return Number.isInteger(i) && i < this.byBatch.length ? i : -1
  }
  get(baseOffset: number): number | undefined {
    const i = this.slot(baseOffset)
    const t = i >= 0 ? this.byBatch[i]! : this.others.get(baseOffset)
    return t === undefined || Number.isNaN(t) ? undefined : t
  }
  /** Records the first arrival only. */
  set(baseOffset: number, at: number): void {
    const i = this.slot(baseOffset)
    if (i >= 0) {
      if (Number.isNaN(this.byBatch[i]!)) this.byBatch[i] = at
    } else if (!this.others.has(baseOffset)) this.others.set(baseOffset, at)
  }
  *values(): Iterable<number> {
    for (const t of this.byBatch) if (!Number.isNaN(t)) yield t
    yield* this.others.values()
  }
}

/** The long-polling consumer: records when each batch (by base offset) arrived. */
class Consumer {
  readonly received: ArrivalTimes
  fetches = 0
  /** Per response: bytes, and ms from its first chunk to its last (transfer time seen here). */
  readonly responseBytes: Array<number> = []
  readonly transferMs: Array<number> = []
  private firstChunkAt = -1
  private bytes = 0
  private offset = 0
  private correlationId = 0
  private stopped = false
  private error: Error | undefined
  private waiter: (() => void) | undefined
  private waitFor = Infinity
  /** The Fetch request, encoded once: each fetch patches its correlation id and offset in place. */
  private readonly request: Buffer
  private readonly offsetAt: number
  private readonly stream: FetchResponseStream
  private socket!: net.Socket
  private receivedAt = 0

  private constructor(topic: string, batches: number) {
    this.received = new ArrivalTimes(batches)
    const probe = 0x0102030405
    this.request = fetchRequest({ topic, partition: 0, offset: probe, partitionMaxBytes: PARTITION_MAX_BYTES, maxWaitMs: FETCH_MAX_WAIT_MS, minBytes: 1 })
    this.offsetAt = this.request.indexOf(Buffer.from([0, 0, 0, 1, 2, 3, 4, 5]))
    if (this.offsetAt < 0) throw new Error("fetch offset not found in the encoded request")
    this.stream = new FetchResponseStream((r) => this.onResponse(r), (e) => this.fail(e))
  }

  /** `batches`: how many the round may send (more are kept too, less cheaply). */
  static connect(port: number, topic: string, batches: number): Promise<Consumer> {
    const c = new Consumer(topic, batches)
    return new Promise((resolve, reject) => {
      // Node reads straight into this one buffer (no allocation, no copy per chunk); the
      // stream parser reads the few header bytes it needs from it.
      const input = Buffer.alloc(1 << 20)
      const socket = net.connect({
        port, host: "127.0.0.1",
        onread: { buffer: input, callback: (n: number, buf: Uint8Array) => c.onRead(buf as Buffer, n) }
      }, () => {
        socket.setNoDelay(true)
        c.fetch()
        resolve(c)
      })
      c.socket = socket
      socket.on("error", (e) => c.fail(e))
      socket.once("error", reject)
      socket.on("close", () => c.fail(new Error("consumer connection closed by the server")))
    })
  }

  private fetch(): void {
    this.request.writeInt32BE(++this.correlationId, 8)
    this.request.writeBigInt64BE(BigInt(this.offset), this.offsetAt)
    this.socket.write(this.request)
  }

  private onRead(buf: Buffer, n: number): boolean {
    const now = monotonicMs()
    if (this.firstChunkAt < 0) this.firstChunkAt = now
    this.receivedAt = now
    this.bytes += n
    this.stream.feed(buf, 0, n)
    return true
  }

  private onResponse(r: FetchedBatches): void {
    const now = this.receivedAt
    this.fetches++
    this.responseBytes.push(this.bytes)
    this.transferMs.push(now - this.firstChunkAt)
    // A response's last chunk may carry nothing of the next (one fetch in flight).
    this.firstChunkAt = -1
    this.bytes = 0
    if (r.correlationId !== this.correlationId) return this.fail(new Error(`fetch response ${r.correlationId}, expected ${this.correlationId}`))
    for (let i = 0; i < r.baseOffsets.length; i++) {
      const baseOffset = r.baseOffsets[i]!
      this.received.set(baseOffset, now)
      this.offset = r.nextOffsets[i]!
    }
    if (this.stopped) return
    this.fetch()
    if (this.offset >= this.waitFor) this.wake()
  }

  private fail(e: Error): void {
    if (this.stopped) return
    this.error ??= e
    this.wake()
  }

  private wake(): void {
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }

  /** Resolves once everything before `offset` was received (or the deadline passed, or the connection failed). */
  async until(offset: number, deadline: number): Promise<void> {
    this.waitFor = offset
    while (this.error === undefined && this.offset < offset && monotonicMs() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiter = resolve
        setTimeout(resolve, Math.max(0, Math.min(100, deadline - monotonicMs())))
      })
    }
    if (this.error !== undefined) throw this.error
  }

  close(): void {
    this.stopped = true
    this.socket.destroy()
  }
}

/** Runs the producer process; resolves when it has connected, with how to start it and its report. */
const startProducer = (o: E2eOptions): Promise<{ go: () => void; report: Promise<ProducerReport> }> =>
  new Promise((resolveReady, rejectReady) => {
    // E2E_PRODUCER_NODE_ARGS passes node flags to the producer (e.g. --cpu-prof, --import a probe).
    const nodeArgs = [...PRODUCER_NODE_ARGS, ...(process.env["E2E_PRODUCER_NODE_ARGS"] ?? "").split(/\s+/).filter((x) => x.length > 0)]
    const child = spawn(process.execPath, [...nodeArgs, producerPath, String(o.port), o.topic, String(o.batchesPerSec), String(o.durationMs), String(o.connections), String(o.window ?? 8)], {
      stdio: ["pipe", "pipe", "inherit"]
    })
    trackChild(child)
    let out = ""
    let ready = false
    let resolveReport: (r: ProducerReport) => void = () => {}
    let rejectReport: (e: Error) => void = () => {}
    const report = new Promise<ProducerReport>((res, rej) => {
      resolveReport = res
      rejectReport = rej
    })
    report.catch(() => {})
    child.stdout!.setEncoding("utf8")
    child.stdout!.on("data", (d: string) => {
      out += d
      let nl: number
      while ((nl = out.indexOf("\n")) >= 0) {
        const line = out.slice(0, nl)
        out = out.slice(nl + 1)
        if (!ready && line === "ready") {
          ready = true
          resolveReady({ go: () => child.stdin!.write("go\n"), report })
        } else if (ready) {
          resolveReport(JSON.parse(line) as ProducerReport)
        }
      }
    })
    child.once("exit", (code, signal) => {
      const e = new Error(`e2e producer exited with ${code ?? signal} before reporting`)
      if (!ready) rejectReady(e)
      rejectReport(e)
    })
  })

export const endToEnd = async (o: E2eOptions): Promise<E2eRound> => {
  const batches = Math.ceil((o.durationMs / 1000) * (o.batchesPerSec === 0 ? 50_000 : o.batchesPerSec)) + 16
  const consumer = await Consumer.connect(o.port, o.topic, batches)
  try {
    const producer = await startProducer(o)
    const server0 = processCpuMs(o.serverPid)
    const consumer0 = process.cpuUsage()
    const machine0 = machineCpu()
    // The consumer too starts the round with its young generation empty.
    collectGarbage()
    const t0 = monotonicMs()
    producer.go()
    const report = await producer.report
    let end = 0
    for (const b of report.baseOffsets) end = Math.max(end, b + KIB_RECORDS_64KIB_BATCHES.records)
    // A flood may leave the consumer far behind: it gets longer to catch up.
    await consumer.until(end, monotonicMs() + 10_000 + (o.batchesPerSec === 0 ? 3 * o.durationMs : 0))
    const wallMs = monotonicMs() - t0
    const serverCpuMs = processCpuMs(o.serverPid) - server0
    const consumerCpu = process.cpuUsage(consumer0)
    const machine1 = machineCpu()
    const from = report.dueMs[0]! + o.warmupMs
    const to = report.dueMs[0]! + o.durationMs
    let delivered = 0
    for (const at of consumer.received.values()) if (at >= from && at < to) delivered++
    const latencies: Array<number> = []
    const lag: Array<number> = []
    const ack: Array<number> = []
    let missing = 0
    for (let i = 0; i < report.sentMs.length; i++) {
      if (report.dueMs[i]! < from) continue
      lag.push(report.sentMs[i]! - report.dueMs[i]!)
      ack.push(report.ackedMs[i]! - report.sentMs[i]!)
      const at = consumer.received.get(report.baseOffsets[i]!)
      if (at === undefined) missing++
      else latencies.push(at - report.sentMs[i]!)
    }
    const trace = process.env["E2E_TRACE"]
    if (trace !== undefined) {
      const lines = report.sentMs.map((sent, i) =>
        `${(report.dueMs[i]! - report.dueMs[0]!).toFixed(2)} ${(sent - report.dueMs[i]!).toFixed(2)} ${(report.ackedMs[i]! - sent).toFixed(2)} ${((consumer.received.get(report.baseOffsets[i]!) ?? NaN) - sent).toFixed(2)} ${sent.toFixed(2)}`)
      fs.writeFileSync(trace, "due lag ack e2e sent_monotonic\n" + lines.join("\n") + "\n")
    }
    if (missing > 0) throw new Error(`end-to-end: ${missing} acknowledged batches never reached the consumer`)
    const sort = (xs: Array<number>) => xs.sort((a, b) => a - b)
    return {
      latencies: sort(latencies), lag: sort(lag), ack: sort(ack),
      serverCpu: serverCpuMs / wallMs, producerCpu: report.cpuMs / report.wallMs, consumerCpu: (consumerCpu.user + consumerCpu.system) / 1000 / wallMs,
      machineBusy: (machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total),
      fetches: consumer.fetches, responseBytes: sort(consumer.responseBytes), transferMs: sort(consumer.transferMs),
      deliveredPerSec: delivered / ((to - from) / 1000)
    }
  } finally {
    consumer.close()
  }
}

/** One line for a round: latency percentiles, and what each side spent. */
export const describeRound = (r: E2eRound, requestBytes: number): string => {
  const p = (xs: ReadonlyArray<number>, q: number) => percentileSorted(xs, q).toFixed(2)
  return `delivered ${((r.deliveredPerSec * requestBytes) / 1e6).toFixed(0)} MB/s; ${r.latencies.length} batches, p50 ${p(r.latencies, 0.5)} ms, p99 ${p(r.latencies, 0.99)} ms, p999 ${p(r.latencies, 0.999)} ms; ` +
    `produce ack p50/p99 ${p(r.ack, 0.5)}/${p(r.ack, 0.99)} ms, producer lag p99 ${p(r.lag, 0.99)} ms; ` +
    `CPU (of one core) server ${(r.serverCpu * 100).toFixed(0)}%, producer ${(r.producerCpu * 100).toFixed(0)}%, consumer ${(r.consumerCpu * 100).toFixed(0)}%, ` +
    `machine ${(r.machineBusy * 100).toFixed(0)}% busy; ` +
    `${r.fetches} fetch responses, p50/max ${(percentileSorted(r.responseBytes, 0.5) / 1e6).toFixed(2)}/${(r.responseBytes.at(-1)! / 1e6).toFixed(2)} MB, ` +
    `transfer p50/max ${p(r.transferMs, 0.5)}/${r.transferMs.at(-1)!.toFixed(2)} ms`
}
