/**
 * `node bench/checkpoint-stall-probe.ts [--partitions=N] [--rounds=R] [--segment-mib=M] [--busy] [--src=<dir>]`:
 * how long the log store's periodic disk work holds the event loop, on the real disk under
 * os.tmpdir(). An in-process LogStore with N partitions runs R periodic checkpoints (the
 * three offset checkpoint files of the dir, every 60 s in the broker) and R forces of a
 * rolled M MiB segment (30 s after a roll under the default flush policy), while a 1 ms timer
 * records every event-loop stall (gap > 2 ms over its period) from the start of each until
 * 5 ms after it completed, and monitorEventLoopDelay the delay histogram (appends included). --busy keeps the disk busy meanwhile (a child writing and fsyncing 64 MiB
 * chunks), as the e2e scenario's produce does. --src=<dir> takes the LogStore from another
 * checkout's src/ (A/B against the code before a change); its node_modules must resolve to
 * the same `effect`.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { Effect, Layer } from "effect"

const arg = (name: string, fallback: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
const partitions = Number(arg("partitions", "2000"))
const rounds = Number(arg("rounds", "10"))
const segmentMiB = Number(arg("segment-mib", "64"))
const busy = process.argv.includes("--busy")
const src = path.resolve(arg("src", path.join(import.meta.dirname, "..", "src")))

const { LogStore } = await import(path.join(src, "log", "LogStore.ts")) as typeof import("../src/log/LogStore.ts")
const { buildRecordBatch } = await import(path.join(src, "log", "record-batch.ts")) as typeof import("../src/log/record-batch.ts")

const { FileIo } = await import(path.join(src, "storage", "FileIo.ts")) as typeof import("../src/storage/FileIo.ts")
/** With STALL_TRACE=1: every synchronous file call over 2 ms, by call (what a stall is made of). */
const slowCalls = new Map<string, Array<number>>()
/** The measured phase running now (slow calls are recorded only within one). */
let phase: string | null = null
const tracedIo = Object.fromEntries(Object.entries(fs).map(([name, f]) =>
  [name, typeof f === "function" && name.endsWith("Sync")
    ? (...args: Array<unknown>) => {
      const t = performance.now()
      try {
        return (f as (...a: Array<unknown>) => unknown)(...args)
      } finally {
        const ms = performance.now() - t
        if (ms > 2 && phase !== null) {
          const key = `${phase}: ${name}`
          const list = slowCalls.get(key) ?? []
          list.push(ms)
          slowCalls.set(key, list)
        }
      }
    }
    : f]
)) as unknown as typeof fs

const root = fs.mkdtempSync(path.join(os.tmpdir(), "checkpoint-stall-"))
const logDir = path.join(root, "logs")
fs.mkdirSync(logDir)

/** Event-loop stalls while counting: gaps of a 1 ms timer beyond 2 ms over its period. */
class StallProbe {
  readonly stalls: Array<number> = []
  counting = false
  private last = performance.now()
  private readonly timer = setInterval(() => {
    const t = performance.now()
    const gap = t - this.last - 1
    if (gap > 2 && this.counting) this.stalls.push(gap)
    this.last = t
  }, 1)
  stop(): void {
    clearInterval(this.timer)
  }
}

const busyWriter = busy
  ? spawn(process.execPath, ["-e", `
      const fs = require("node:fs"); const chunk = Buffer.alloc(1 << 20, 7); const file = ${JSON.stringify(path.join(root, "busy.bin"))}
      for (;;) { const fd = fs.openSync(file, "w"); for (let i = 0; i < 64; i++) fs.writeSync(fd, chunk); fs.fsyncSync(fd); fs.closeSync(fd) }
    `], { stdio: "ignore" })
  : undefined

const summary = (what: string, probe: StallProbe, h: ReturnType<typeof monitorEventLoopDelay>, took: Array<number>) => {
  const stalls = probe.stalls
  const max = stalls.length === 0 ? 0 : Math.max(...stalls)
  const total = stalls.reduce((a, b) => a + b, 0)
  took.sort((a, b) => a - b)
  console.log(
    `${what}: ${rounds} rounds, each ${took[Math.floor(took.length / 2)]!.toFixed(1)} ms (median; max ${took[took.length - 1]!.toFixed(1)}) until done; ` +
      `event-loop stalls > 2 ms: ${stalls.length} (max ${max.toFixed(1)} ms, total ${total.toFixed(0)} ms); ` +
      `loop delay p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms, max ${(h.max / 1e6).toFixed(1)} ms`
  )
}

const program = Effect.gen(function*() {
  const store = yield* LogStore
  const batch = buildRecordBatch({ records: [{ key: "k", value: "v".repeat(100), timestamp: Date.now() }] })
  for (let p = 0; p < partitions; p++) {
    yield* store.createPartition("t", p, "AAAAAAAAAAAAAAAAAAAAAQ")
    yield* store.append("t", p, batch)
  }
  // Nothing else dirty: the periodic checkpoint alone.
  yield* store.checkpoint()
  {
    // The control: what the machine alone (other processes, timers) stalls in as long a window.
    const probe = new StallProbe()
    const h = monitorEventLoopDelay({ resolution: 1 })
    h.enable()
    const took: Array<number> = []
    for (let r = 0; r < rounds; r++) {
      yield* Effect.sleep("20 millis")
      probe.counting = true
      const t = performance.now()
      yield* Effect.sleep("30 millis")
      took.push(performance.now() - t)
      probe.counting = false
    }
    h.disable()
    probe.stop()
    summary("control (idle 30 ms windows)", probe, h, took)
  }
  {
    const probe = new StallProbe()
    const h = monitorEventLoopDelay({ resolution: 1 })
    h.enable()
    const took: Array<number> = []
    for (let r = 0; r < rounds; r++) {
      yield* Effect.sleep("20 millis")
      probe.counting = true
      phase = "checkpoint"
      const t = performance.now()
      yield* store.checkpoint()
      took.push(performance.now() - t)
      // The stall of a synchronous write shows at the timer's next turn.
      yield* Effect.sleep("5 millis")
      probe.counting = false
      phase = null
    }
    h.disable()
    probe.stop()
    summary(`periodic checkpoint (${partitions} partitions)`, probe, h, took)
  }
  // A rolled segment of segmentMiB MiB, forced when due (its pages still dirty: the worst case).
  const big = buildRecordBatch({ records: Array.from({ length: 64 }, (_, i) => ({ key: null, value: "x".repeat(1000), timestamp: Date.now() + i })) })
  yield* store.createPartition("rolled", 0, "AAAAAAAAAAAAAAAAAAAAAg", { segmentBytes: segmentMiB << 20 })
  const log = yield* store.getPartition("rolled", 0)
  const probe = new StallProbe()
  const h = monitorEventLoopDelay({ resolution: 1 })
  const took: Array<number> = []
  let now = Date.now()
  for (let r = 0; r < rounds; r++) {
    const segments = log.segmentList().length
    while (log.segmentList().length === segments) yield* store.append("rolled", 0, big)
    if (r === 0) h.enable()
    yield* Effect.sleep("20 millis")
    now += 31_000
    probe.counting = true
    phase = "rolled"
    const t = performance.now()
    yield* store.flushDue(now)
    const inFlight = (log as { rolledFlushInFlight?: Promise<void> | null }).rolledFlushInFlight
    if (inFlight) yield* Effect.promise(() => inFlight)
    took.push(performance.now() - t)
    yield* Effect.sleep("5 millis")
    probe.counting = false
    phase = null
  }
  h.disable()
  probe.stop()
  summary(`rolled ${segmentMiB} MiB segment force`, probe, h, took)
})

try {
  console.log(`log store from ${src}; disk under ${os.tmpdir()}${busy ? ", busy (64 MiB writes + fsync in a loop)" : ""}; load average ${os.loadavg()[0]!.toFixed(1)}`)
  const io = process.env["STALL_TRACE"] === "1" ? tracedIo : fs
  await Effect.runPromise(Effect.provide(program, LogStore.layer({ logDirs: [logDir] }).pipe(Layer.provide(Layer.succeed(FileIo, io)))) as Effect.Effect<void>)
  for (const [name, ms] of slowCalls) console.log(`  ${name}: ${ms.length} calls over 2 ms, max ${Math.max(...ms).toFixed(1)} ms, total ${ms.reduce((a, b) => a + b, 0).toFixed(0)} ms`)
} finally {
  busyWriter?.kill()
  fs.rmSync(root, { recursive: true, force: true })
}
