/**
 * The benchmark suite of issue 11: every scenario, its baseline in the same run, rounds,
 * medians. `runBench(profile)` returns the figures; bench/main.ts prints them and writes
 * bench-results.json; test/bench/quick.test.ts runs it with the tiny profile.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  apiVersionsAnswered, type BrokerProcess, killLiveChildren, pageCacheOwedMb, processCpuMs, processCpuSplitMs, processRssMb, startBrokerProcess, trackChild
} from "./broker-process.ts"
import {
  AdminClient, type BatchShape, encodeBatch, fetchRequest, KIB_RECORDS_64KIB_BATCHES, partsPayload, type ProduceParts, produceParts,
  withSequence
} from "./kafka.ts"
import { describeRound, type E2eRound, endToEnd } from "./e2e.ts"
import { buildStackFloor } from "./stack-floor.ts"
import { runPipeline, type Payload, type PipelineResult } from "./load.ts"
import { median, percentileSorted } from "./stats.ts"

export interface Profile {
  readonly name: "full" | "quick" | "tiny"
  readonly rounds: number
  /** Per timed produce round: warm-up, then the measured window. */
  readonly warmupMs: number
  readonly durationMs: number
  /** Produce load: connections and requests in flight per connection. */
  readonly connections: number
  readonly window: number
  /** Bytes put on disk for the fetch scenario, and batches per fetch response. */
  readonly fetchBytes: number
  readonly fetchBatchesPerResponse: number
  readonly fetchWindow: number
  /** A fetch round ends when every consumer has read everything, or after this long. */
  readonly fetchMaxMs: number
  readonly e2eMs: number
  /** The bare relay's in-memory log (MiB); a consumer further behind is served from its file. */
  readonly relayRingMiB: number
  readonly topics10k: number
  readonly partitionsPerTopic10k: number
  /** Wait after ready before reading idle RSS. */
  readonly idleSettleMs: number
  /**
   * One broker process for everything but one restart (the test's profile): start-up is
   * the main broker's spawn, flush.messages=1 a topic config, the many partitions live
   * in the main directory and the retained-data restart is also the many-partition one.
   */
  readonly shareBrokers: boolean
  /**
   * Wait for the kernel's writeback (`sync`) before each scenario group and before each
   * round of the many-partitions comparison (see settleDisk). Off in the test's profile.
   */
  readonly settleDisk: boolean
}

export const PROFILES: Record<Profile["name"], Profile> = {
  full: {
    name: "full", rounds: 5, warmupMs: 500, durationMs: 2000, connections: 4, window: 8,
    fetchBytes: 1 << 30, fetchBatchesPerResponse: 16, fetchWindow: 4, fetchMaxMs: 4000, e2eMs: 3000, relayRingMiB: 64,
    topics10k: 100, partitionsPerTopic10k: 100, idleSettleMs: 1000, shareBrokers: false, settleDisk: true
  },
  quick: {
    name: "quick", rounds: 1, warmupMs: 200, durationMs: 1000, connections: 4, window: 8,
    fetchBytes: 64 << 20, fetchBatchesPerResponse: 16, fetchWindow: 4, fetchMaxMs: 2000, e2eMs: 1000, relayRingMiB: 64,
    topics10k: 10, partitionsPerTopic10k: 100, idleSettleMs: 300, shareBrokers: false, settleDisk: true
  },
  tiny: {
    name: "tiny", rounds: 1, warmupMs: 0, durationMs: 150, connections: 2, window: 2,
    fetchBytes: 2 << 20, fetchBatchesPerResponse: 4, fetchWindow: 2, fetchMaxMs: 1000, e2eMs: 600, relayRingMiB: 16,
    topics10k: 4, partitionsPerTopic10k: 5, idleSettleMs: 0, shareBrokers: true, settleDisk: false
  }
}

export interface Figure {
  /** Key in bench-results.json. */
  readonly key: string
  readonly name: string
  readonly unit: string
  /** Median over rounds. */
  readonly value: number
  readonly rounds: ReadonlyArray<number>
  /** Median of the baseline's rounds, and what the baseline is. */
  readonly baseline?: { readonly name: string; readonly value: number; readonly rounds: ReadonlyArray<number> }
  /** value / baseline (or the ratio the issue defines, e.g. CPU per GB broker / bare). */
  readonly ratio?: number
  readonly note?: string
}

export interface BenchResult {
  readonly profile: Profile["name"]
  readonly figures: ReadonlyArray<Figure>
  readonly inFlight: Record<string, string>
}

export type Log = (line: string) => void

/** A start-up slower than this is measured once, not R times; one slower than the limit fails the bench. */
const SLOW_START_ROUND_MS = 20_000
const SLOW_START_LIMIT_MS = 15 * 60_000

const bareServerPath = path.join(import.meta.dirname, "bare-server.ts")
/** The start-up floor (bench/lib/bare-listener.cjs): plain CommonJS, nothing but node:net. */
const bareListenerPath = path.join(import.meta.dirname, "bare-listener.cjs")
const MB = 1e6
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const f1 = (n: number) => (Number.isFinite(n) ? (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1)) : String(n))

export interface BareServer {
  readonly child: ChildProcess
  readonly pid: number
  readonly port: number
  readonly readyMs: number
  stop: () => Promise<void>
}

/** A baseline server: bench/lib/bare-server.ts with `args`, or with none, the start-up floor (bare-listener.cjs). */
export const startBare = (args: ReadonlyArray<string>): Promise<BareServer> =>
  new Promise((resolve, reject) => {
    const spawnedAt = performance.now()
    // BENCH_BARE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the bare servers as BENCH_BROKER_NODE_ARGS does the broker.
    const nodeArgs = (process.env["BENCH_BARE_NODE_ARGS"] ?? "").split(/\s+/).filter((a) => a.length > 0)
    const child = spawn(process.execPath, [...nodeArgs, ...(args.length === 0 ? [bareListenerPath] : [bareServerPath, ...args])], { stdio: ["ignore", "pipe", "inherit"] })
    trackChild(child)
    const exited = new Promise<void>((r) => child.once("close", () => r()))
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      await exited
    }
    child.stdout!.once("data", (d) => {
      const port = Number(String(d).trim())
      // Ready as the broker is: when a request frame is answered.
      apiVersionsAnswered(port).then(
        () => resolve({ child, pid: child.pid!, port, readyMs: performance.now() - spawnedAt, stop }),
        reject
      )
    })
    child.once("exit", (code) => {
      if (code !== null && code !== 0) reject(new Error(`bare server ${args.join(" ")} exited with ${code}`))
    })
  })

interface Measured {
  readonly mbps: number
  readonly cpuMsPerGb: number
  /** The sys (kernel) part of cpuMsPerGb (produce rounds). */
  readonly sysMsPerGb?: number
  /** Dirty + writeback page cache (MB) when the window opened and when it closed (produce rounds). */
  readonly owedMb?: readonly [number, number]
}

/** A produce round's CPU per GB (of it sys) and the page cache the kernel still owed the disk, for the progress lines. */
const cpuText = (m: Measured): string =>
  `${f1(m.cpuMsPerGb)} CPU ms/GB, sys ${f1(m.sysMsPerGb ?? NaN)}; dirty+writeback ${f1(m.owedMb?.[0] ?? NaN)} -> ${f1(m.owedMb?.[1] ?? NaN)} MB`

const owedNow = () => {
  const o = pageCacheOwedMb()
  return o.dirty + o.writeback
}

/** Polls `done` every few ms until it holds (bounded: a bench must end by itself). */
const until = async (done: () => boolean, what: string, timeoutMs = 60_000): Promise<void> => {
  const deadline = performance.now() + timeoutMs
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`not done within ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * Waits until the broker on `dataDir` has removed the partitions it was told to delete (it
 * renames each to `<topic>-<partition>.<id>-delete` at once and removes it in the background).
 * Memory freed minutes or seconds earlier costs this VM much more to write into than memory
 * freed just now: its host reclaims free guest pages (free page reporting), and a page cache
 * write into one costs ~1.1 s per GiB more of the writer's CPU (docs/performance-log.md, "Eleventh look"). So a
 * round starts right after the data before it is gone, whichever side dropped it.
 */
const deletedPartitionsRemoved = (dataDir: string): Promise<void> =>
  until(() => !fs.readdirSync(dataDir).some((name) => name.endsWith("-delete")), `${dataDir}: deleted partitions removed`)

/**
 * Waits until the kernel has written back what earlier work left dirty in the page cache
 * (`sync`). Without it a scenario inherits the writeback of everything written before it:
 * the produce spread over 10 000 partitions keeps all it writes (about 1.5 GB a round) and
 * ran while the kernel was still writing back GBs of earlier scenarios, while the
 * one-partition figure it is compared to deletes its topic after every round, and with it
 * the dirty pages not yet written. Every group, and every round of that comparison on both
 * sides, starts from a written-back disk; the time `sync` took is printed, not counted.
 */
const settleDisk = (profile: Profile, log: Log, what: string): void => {
  if (!profile.settleDisk) return
  const owed = owedNow()
  const t0 = performance.now()
  execFileSync("sync")
  log(`  (disk settled before ${what}: sync wrote back ${f1(owed)} MB of dirty+writeback page cache in ${f1(performance.now() - t0)} ms; not counted)`)
}

/** One timed pipeline against a server process, with that process's CPU time over the window. */
const measureTimed = async (
  port: number, pid: number, profile: Profile, window: number, next: (c: number) => Payload | undefined, bytes: (r: PipelineResult) => number,
  durationMs = profile.durationMs
): Promise<Measured> => {
  let cpu0 = { user: 0, sys: 0 }
  let cpu1 = { user: 0, sys: 0 }
  const owed = [0, 0] as [number, number]
  const r = await runPipeline({
    port, connections: profile.connections, window, next, warmupMs: profile.warmupMs, durationMs,
    onWindowStart: () => {
      cpu0 = processCpuSplitMs(pid)
      owed[0] = owedNow()
    },
    onWindowEnd: () => {
      cpu1 = processCpuSplitMs(pid)
      owed[1] = owedNow()
    }
  })
  const gb = bytes(r) / 1e9
  return { mbps: (gb * 1e3) / (r.elapsedMs / 1000), cpuMsPerGb: (cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) / gb, sysMsPerGb: (cpu1.sys - cpu0.sys) / gb, owedMb: owed }
}

const dirBytes = (dir: string): number => {
  let total = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) total += dirBytes(p)
    else if (e.isFile()) total += fs.statSync(p).blocks * 512
  }
  return total
}

const liveRoots = new Set<string>()

/** For an interrupted bench: kill its processes and remove its temporary directories. */
export const abortBench = (): void => {
  killLiveChildren()
  for (const root of liveRoots) fs.rmSync(root, { recursive: true, force: true })
  liveRoots.clear()
}

/** Scenario groups, for `--only`. */
export const GROUPS = ["startup", "produce", "flush", "fetch", "e2e", "partitions", "retained"] as const
export type Group = (typeof GROUPS)[number]

export interface BenchOptions {
  readonly log?: Log
  /** Run only these groups (default: all). */
  readonly only?: ReadonlySet<Group>
  /** A bundle the shared broker runs instead of `pnpm start` (an A/B run against another build). */
  readonly entry?: string | undefined
}

export const runBench = async (profile: Profile, options: BenchOptions = {}): Promise<BenchResult> => {
  const log = options.log ?? (() => {})
  const want = (g: Group) => options.only === undefined || options.only.has(g)
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-bench-"))
  liveRoots.add(root)
  const figures: Array<Figure> = []
  const inFlight: Record<string, string> = {}
  const running: Array<{ stop: () => Promise<void> }> = []
  const track = <T extends { stop: () => Promise<void> }>(x: T): T => {
    running.push(x)
    return x
  }
  const stopped = async (x: { stop: () => Promise<void> }) => {
    await x.stop()
    running.splice(running.indexOf(x), 1)
  }
  const R = profile.rounds
  const shape: BatchShape = KIB_RECORDS_64KIB_BATCHES
  const batch = encodeBatch(shape)
  const add = (f: Figure) => {
    figures.push(f)
    log(`  = ${f.name}: ${f1(f.value)} ${f.unit}${f.ratio === undefined ? "" : ` (ratio ${f.ratio.toFixed(2)})`}`)
  }
  /** A figure with its baseline (median over each's rounds); without baseline rounds, the figure alone. */
  const pair = (
    key: string, name: string, unit: string, broker: ReadonlyArray<number>, baselineName: string, bare: ReadonlyArray<number>, note?: string
  ): void => {
    const value = median(broker)
    const extra = note ? { note } : {}
    if (bare.length === 0) return add({ key, name, unit, value, rounds: broker, ...extra })
    const base = median(bare)
    add({ key, name, unit, value, rounds: broker, baseline: { name: baselineName, value: base, rounds: bare }, ratio: value / base, ...extra })
  }
  const cpuPair = (key: string, name: string, broker: ReadonlyArray<Pick<Measured, "cpuMsPerGb">>, bare: ReadonlyArray<Pick<Measured, "cpuMsPerGb">>, baselineName = "bare server") =>
    pair(key, name, "CPU ms/GB", broker.map((m) => m.cpuMsPerGb), baselineName, bare.map((m) => m.cpuMsPerGb), "server process user+sys CPU per GB moved, broker / bare")
  const newDir = (name: string) => {
    const d = path.join(root, name)
    fs.mkdirSync(d, { recursive: true })
    return d
  }
  const requestBytes = (r: PipelineResult) => r.requestBytes
  /** Start-to-ready and idle RSS on an existing directory, R rounds (one if a start is very slow). */
  const restarts = async (dir: string) => {
    const out = { startup: [] as Array<number>, rss: [] as Array<number> }
    for (let r = 0; r < R; r++) {
      const b = track(await startBrokerProcess({ dataDir: dir, readyTimeoutMs: SLOW_START_LIMIT_MS }))
      await sleep(profile.idleSettleMs)
      out.startup.push(b.readyMs)
      out.rss.push(processRssMb(b.pid))
      await stopped(b)
      log(`  round ${r + 1}/${R}: ready in ${f1(b.readyMs)} ms, RSS ${f1(out.rss[r]!)} MB`)
      if (b.readyMs > SLOW_START_ROUND_MS && r + 1 < R) {
        log(`  (start-up over ${SLOW_START_ROUND_MS / 1000} s: no more rounds, to keep the bench within its time)`)
        break
      }
    }
    return out
  }
  /**
   * Stops a broker that produced to many partitions, timed. A clean shutdown flushes every
   * partition written to (as Kafka's does): it is given the time it takes, so that the
   * start-up measured next opens a cleanly closed directory, not one a SIGKILL left to recover.
   */
  const shutdownFigure = async (b: BrokerProcess, partitions: number) => {
    log(`  clean shutdown (flushes the ${partitions} partitions)`)
    const stop0 = performance.now()
    await b.stop(SLOW_START_LIMIT_MS)
    running.splice(running.indexOf(b), 1)
    const shutdownMs = performance.now() - stop0
    if (b.child.signalCode === "SIGKILL") throw new Error(`the broker did not stop within ${SLOW_START_LIMIT_MS / 1000} s`)
    // The broker's own account: closing (writes) and forcing (the gathered fsyncs).
    const account = /Closed \d+ logs in [^\n"]*/.exec(b.output())
    if (account !== null) log(`  broker: ${account[0]}`)
    add({ key: "partitions_10k_shutdown_ms", name: `clean shutdown after producing to ${partitions} partitions`, unit: "ms", value: shutdownMs, rounds: [shutdownMs] })
  }
  try {
    // ---- start-to-ready and idle RSS on a fresh directory, against the least a Node.js process does to answer ----
    const startup: Array<number> = []
    const rss: Array<number> = []
    const bareStartup: Array<number> = []
    const bareRss: Array<number> = []
    const stackStartup: Array<number> = []
    // The stack's own floor, started as the broker is (the bundle's first start writes its code cache: not counted).
    let stackCommand: ReadonlyArray<string> | undefined
    const startStackFloor = async () => {
      if (stackCommand === undefined) {
        stackCommand = await buildStackFloor(path.join(root, "stack-floor"))
        await stopped(track(await startBrokerProcess({ dataDir: newDir("stack-floor-warm-up"), command: stackCommand })))
      }
      return track(await startBrokerProcess({ dataDir: newDir("stack-floor-data"), command: stackCommand }))
    }
    const startupRound = async (r: number, b: BrokerProcess) => {
      await sleep(profile.idleSettleMs)
      startup.push(b.readyMs)
      rss.push(processRssMb(b.pid))
      const bare = track(await startBare([]))
      await sleep(profile.idleSettleMs)
      bareStartup.push(bare.readyMs)
      bareRss.push(processRssMb(bare.pid))
      await stopped(bare)
      const stack = await startStackFloor()
      stackStartup.push(stack.readyMs)
      await stopped(stack)
      log(`  round ${r + 1}/${R}: broker ready in ${f1(b.readyMs)} ms, RSS ${f1(rss[r]!)} MB | bare node ${f1(bare.readyMs)} ms, ${f1(bareRss[r]!)} MB | effect socket server ${f1(stack.readyMs)} ms`)
    }
    const startupFigures = () => {
      pair("startup_ms", "start-to-ready (spawn until ApiVersions answers), empty data dir", "ms", startup, "bare node:net listener", bareStartup)
      pair("idle_rss_mb", "idle RSS after start-up", "MB", rss, "bare node:net listener", bareRss)
      pair("startup_stack_ms", "start-to-ready of effect's socket server alone, bundled and cached as the broker", "ms", stackStartup, "bare node:net listener", bareStartup)
    }
    if (!profile.shareBrokers) {
      // Not counted: `pnpm start` may build its bundle or fill a compile cache on a first start.
      log("warm-up start (not counted)")
      await stopped(track(await startBrokerProcess({ dataDir: newDir("warm-up") })))
    }
    if (want("startup") && !profile.shareBrokers) {
      log(`start-up: spawn until ApiVersions answers, then RSS after ${profile.idleSettleMs} ms idle; ${R} rounds`)
      for (let r = 0; r < R; r++) {
        const b = track(await startBrokerProcess({ dataDir: newDir(`startup-${r}`) }))
        await startupRound(r, b)
        await stopped(b)
      }
      startupFigures()
    }

    const brokerDir = newDir("broker")
    const broker = track(await startBrokerProcess({ dataDir: brokerDir, ...(options.entry === undefined ? {} : { command: [options.entry] }) }))
    if (want("startup") && profile.shareBrokers) {
      log("start-up: the broker just started (shared-broker profile: one round)")
      await startupRound(0, broker)
      startupFigures()
    }
    const admin = await AdminClient.connect(broker.port)
    const sinkFile = path.join(root, "sink.bin")
    const sinkFlushFile = path.join(root, "sink-fsync.bin")
    let sink: BareServer | undefined
    inFlight["produce"] = `${profile.connections} connections x ${profile.window} pipelined = ${profile.connections * profile.window} requests in flight, one ${batch.length} B batch (${shape.records} x ${shape.recordBytes} B records) each`

    /** A produce scenario: rounds alternate broker and bare sink; fresh topic per round. */
    const produceScenario = async (o: {
      readonly label: string
      readonly server: BrokerProcess
      readonly sink: BareServer
      readonly sinkFile: string
      readonly partitions: number
      readonly acks: number
      readonly idempotent?: boolean
      readonly window?: number
      readonly topicConfigs?: Record<string, string>
      readonly rounds?: number
    }): Promise<{ broker: Array<Measured>; bare: Array<Measured> }> => {
      const window = o.window ?? profile.window
      const rounds = o.rounds ?? R
      const out = { broker: [] as Array<Measured>, bare: [] as Array<Measured> }
      const a = o.server === broker ? admin : await AdminClient.connect(o.server.port)
      log(`${o.label}: ${profile.connections} connections x ${window} in flight, ${rounds} rounds of ${profile.durationMs} ms`)
      for (let r = 0; r < rounds; r++) {
        const topic = `${o.label.replace(/[^a-z0-9]+/gi, "-")}-${r}`
        await a.createTopics([{ name: topic, partitions: o.partitions, ...(o.topicConfigs ? { configs: o.topicConfigs } : {}) }])
        let next: (c: number) => Payload
        if (o.idempotent) {
          // One producer per connection, consecutive sequences (batch 0 checked here first).
          const producers = await Promise.all(Array.from({ length: profile.connections }, () => a.initProducerId()))
          const perConn = producers.map((pr) => ({ template: produceParts(topic, 0, encodeBatch(shape, pr), o.acks), seq: 0 }))
          for (const pc of perConn) await a.produceChecked(withSequence(pc.template, pc.seq++ * shape.records))
          next = (c) => {
            const pc = perConn[c]!
            return withSequence(pc.template, pc.seq++ * shape.records)
          }
        } else {
          const payloads = Array.from({ length: o.partitions }, (_, p) => partsPayload(produceParts(topic, p, batch, o.acks)))
          for (const p of payloads) await a.produceChecked(p)
          let i = 0
          next = () => payloads[i++ % payloads.length]!
        }
        const m = await measureTimed(o.server.port, o.server.pid, profile, window, next, requestBytes)
        out.broker.push(m)
        await a.deleteTopics([topic])
        await deletedPartitionsRemoved(o.server.dataDir)
        fs.truncateSync(o.sinkFile, 0)
        const bareParts = partsPayload(produceParts("bare", 0, batch, o.acks))
        // Idempotent: the sink's requests are made as the broker's are (a fresh copy with its
        // sequence and CRC per request), so that the load generator costs both sides the same.
        const bareTemplate = o.idempotent ? produceParts("bare", 0, encodeBatch(shape, { id: 1n, epoch: 0 }), o.acks) : undefined
        let bareSeq = 0
        const bareNext = bareTemplate === undefined ? () => bareParts : () => withSequence(bareTemplate, bareSeq++ * shape.records)
        const bm = await measureTimed(o.sink.port, o.sink.pid, profile, window, bareNext, requestBytes)
        // Each side's round leaves the next one its page cache as the broker's deleted topic
        // does: without this the sink's GB of dirty pages throttle the broker's next round.
        fs.truncateSync(o.sinkFile, 0)
        out.bare.push(bm)
        log(`  round ${r + 1}/${rounds}: broker ${f1(m.mbps)} MB/s (${cpuText(m)}) | bare sink ${f1(bm.mbps)} MB/s (${cpuText(bm)})`)
      }
      if (a !== admin) a.close()
      return out
    }
    const theSink = async () => (sink ??= track(await startBare(["sink", sinkFile])))
    /** Not counted: a broker's first scenario would otherwise also measure its JIT warming up. */
    const warmUp = async (server: BrokerProcess, a: AdminClient) => {
      if (profile.warmupMs === 0) return
      await a.createTopics([{ name: "warm-up", partitions: 1 }])
      const warm = partsPayload(produceParts("warm-up", 0, batch, 1))
      await runPipeline({ port: server.port, connections: profile.connections, window: profile.window, next: () => warm, durationMs: 4 * profile.warmupMs })
      await a.deleteTopics(["warm-up"])
    }

    // ---- produce ----
    if (profile.warmupMs > 0 && (want("produce") || want("fetch") || want("e2e") || want("partitions"))) {
      // Not counted: the first scenario would otherwise also measure the JIT warming up.
      log(`warm-up: ${(4 * profile.warmupMs) / 1000} s of produce to the broker and the sink (not counted)`)
      await warmUp(broker, admin)
      const s = await theSink()
      const warm = partsPayload(produceParts("warm-up", 0, batch, 1))
      await runPipeline({ port: s.port, connections: profile.connections, window: profile.window, next: () => warm, durationMs: 4 * profile.warmupMs })
      fs.truncateSync(sinkFile, 0)
    }
    let p1: { broker: Array<Measured>; bare: Array<Measured> } | undefined
    const onePartitionPeak = async () =>
      (p1 ??= await produceScenario({ label: "produce acks=1 1 partition", server: broker, sink: await theSink(), sinkFile, partitions: 1, acks: 1, rounds: 1 }))
    if (want("produce")) {
      settleDisk(profile, log, "the produce group")
      const s = await theSink()
      p1 = await produceScenario({ label: "produce acks=1 1 partition", server: broker, sink: s, sinkFile, partitions: 1, acks: 1 })
      pair("produce_mb_s", "produce 1 KiB records in 64 KiB batches, acks=1, 1 partition", "MB/s", p1.broker.map((m) => m.mbps), "bare produce sink", p1.bare.map((m) => m.mbps))
      cpuPair("produce_cpu_ms_per_gb", "produce acks=1 1 partition, server CPU per GB", p1.broker, p1.bare)
      const p8 = await produceScenario({ label: "produce acks=1 8 partitions", server: broker, sink: s, sinkFile, partitions: 8, acks: 1 })
      pair("produce_8p_mb_s", "produce acks=1, 8 partitions", "MB/s", p8.broker.map((m) => m.mbps), "bare produce sink", p8.bare.map((m) => m.mbps))
      const pAll = await produceScenario({ label: "produce acks=-1 default flush", server: broker, sink: s, sinkFile, partitions: 1, acks: -1 })
      pair("produce_acks_all_mb_s", "produce acks=-1, default flush policy, 1 partition", "MB/s", pAll.broker.map((m) => m.mbps), "bare produce sink", pAll.bare.map((m) => m.mbps))
      const idemWindow = Math.min(5, profile.window)
      const pIdem = await produceScenario({ label: "produce idempotent acks=-1", server: broker, sink: s, sinkFile, partitions: 1, acks: -1, idempotent: true, window: idemWindow })
      pair("produce_idempotent_mb_s", `produce idempotent (acks=-1, ${idemWindow} in flight per producer), 1 partition`, "MB/s", pIdem.broker.map((m) => m.mbps), "bare produce sink", pIdem.bare.map((m) => m.mbps))
      inFlight["produce_idempotent"] = `${profile.connections} producers (one per connection) x ${idemWindow} in flight`
    }
    if (want("flush")) {
      settleDisk(profile, log, "the flush group")
      // The broker-wide setting on a broker of its own; the shared-broker profile uses the
      // topic-level form (flush.messages), which Kafka gives the same meaning.
      const flushBroker = profile.shareBrokers
        ? broker
        : track(await startBrokerProcess({ dataDir: newDir("broker-flush"), overrides: { "log.flush.interval.messages": "1" } }))
      const flushSink = track(await startBare(["sink", sinkFlushFile, "fsync"]))
      const pFlush = await produceScenario({
        label: "produce acks=-1 flush.messages=1", server: flushBroker, sink: flushSink, sinkFile: sinkFlushFile, partitions: 1, acks: -1,
        ...(profile.shareBrokers ? { topicConfigs: { "flush.messages": "1" } } : {})
      })
      pair("produce_flush_each_mb_s", "produce acks=-1, log.flush.interval.messages=1, 1 partition", "MB/s", pFlush.broker.map((m) => m.mbps), "bare sink, fsync per write", pFlush.bare.map((m) => m.mbps))
      if (flushBroker !== broker) {
        await stopped(flushBroker)
        fs.rmSync(flushBroker.dataDir, { recursive: true, force: true })
      }
      await stopped(flushSink)
      fs.rmSync(sinkFlushFile, { force: true })
    }

    // ---- fetch ----
    if (want("fetch")) {
      const fetchTopic = "fetch-data"
      await admin.createTopics([{ name: fetchTopic, partitions: 1 }])
      const fetchParts = partsPayload(produceParts(fetchTopic, 0, batch, 1))
      const batchesOnDisk = Math.max(1, Math.ceil(profile.fetchBytes / batch.length))
      log(`fetch: writing ${f1((batchesOnDisk * batch.length) / MB)} MB (${batchesOnDisk} batches) through the broker`)
      {
        let left = batchesOnDisk
        await runPipeline({ port: broker.port, connections: 1, window: profile.window, next: () => (left-- > 0 ? fetchParts : undefined) })
      }
      // After the write, not before it: the kernel wrote the GB back through the first rounds
      // otherwise, and both servers read at ~1 GB/s in them against ~2.3 in the rest, the switch
      // falling in one side's round first (one full run's median ratio 0.74, its rounds' 0.72-1.07).
      settleDisk(profile, log, "the fetch rounds")
      const perResponse = profile.fetchBatchesPerResponse
      const chunkBytes = perResponse * batch.length
      const fetchRequests = Array.from({ length: Math.ceil(batchesOnDisk / perResponse) }, (_, i) =>
        fetchRequest({ topic: fetchTopic, partition: 0, offset: i * perResponse * shape.records, partitionMaxBytes: chunkBytes }))
      {
        const first = await admin.fetchRecords(fetchRequests[0]!)
        const expected = Math.min(batchesOnDisk, perResponse) * batch.length
        if (first.length !== expected) throw new Error(`fetch check: ${first.length} bytes of records, expected ${expected}`)
      }
      // The bare reader serves the broker's own segment files: same bytes, same disk.
      const partitionDir = path.join(brokerDir, `${fetchTopic}-0`)
      const segmentFiles = fs.readdirSync(partitionDir).filter((f) => f.endsWith(".log")).sort().map((f) => path.join(partitionDir, f))
      const reader = track(await startBare(["reader", String(chunkBytes), ...segmentFiles]))
      inFlight["fetch"] = `${profile.fetchWindow} pipelined Fetch requests per consumer connection, ${perResponse} batches (${chunkBytes} B) per response`
      if (profile.warmupMs > 0) {
        // Not counted, as the produce warm-up: V8 optimizes a function after thousands of
        // calls, and a 1 MiB response is one call of each function on the fetch path, so the
        // first GBs would also measure the broker's JIT (the bare reader's few functions warm
        // up at once). One-batch fetches take the same path thousands of times a second.
        const small = Array.from({ length: batchesOnDisk }, (_, i) => fetchRequest({ topic: fetchTopic, partition: 0, offset: i * shape.records, partitionMaxBytes: batch.length }))
        log(`warm-up: ${(4 * profile.warmupMs) / 1000} s of one-batch fetches from the broker and the bare reader (not counted)`)
        for (const port of [broker.port, reader.port]) {
          let next = 0
          await runPipeline({ port, connections: 1, window: profile.fetchWindow, durationMs: 4 * profile.warmupMs, next: () => small[next++ % small.length] })
        }
      }
      const fetchScenario = async (consumers: number) => {
        const out = { broker: [] as Array<Measured>, bare: [] as Array<Measured> }
        log(`fetch by ${consumers} consumer(s), each reading the ${f1((batchesOnDisk * batch.length) / MB)} MB from the start (at most ${profile.fetchMaxMs / 1000} s); ${R} rounds`)
        const once = async (port: number, pid: number): Promise<Measured> => {
          const position = new Array<number>(consumers).fill(0)
          let cpu0 = 0
          let cpu1 = 0
          const r = await runPipeline({
            port, connections: consumers, window: profile.fetchWindow, durationMs: profile.fetchMaxMs,
            next: (c) => fetchRequests[position[c]!++],
            onWindowStart: () => (cpu0 = processCpuMs(pid)),
            onWindowEnd: () => (cpu1 = processCpuMs(pid))
          })
          return { mbps: r.responseBytes / MB / (r.elapsedMs / 1000), cpuMsPerGb: (cpu1 - cpu0) / (r.responseBytes / 1e9) }
        }
        for (let r = 0; r < R; r++) {
          const m = await once(broker.port, broker.pid)
          const bm = await once(reader.port, reader.pid)
          out.broker.push(m)
          out.bare.push(bm)
          log(`  round ${r + 1}/${R}: broker ${f1(m.mbps)} MB/s (${f1(m.cpuMsPerGb)} CPU ms/GB) | bare reader ${f1(bm.mbps)} MB/s (${f1(bm.cpuMsPerGb)} CPU ms/GB)`)
        }
        return out
      }
      const f1c = await fetchScenario(1)
      pair("fetch_mb_s", `fetch ${f1((batchesOnDisk * batch.length) / MB)} MB on disk, 1 consumer`, "MB/s", f1c.broker.map((m) => m.mbps), "bare fetch reader", f1c.bare.map((m) => m.mbps))
      cpuPair("fetch_cpu_ms_per_gb", "fetch 1 consumer, server CPU per GB", f1c.broker, f1c.bare)
      const f4c = await fetchScenario(4)
      pair("fetch_4c_mb_s", "fetch by 4 consumers (each reads it all), total", "MB/s", f4c.broker.map((m) => m.mbps), "bare fetch reader", f4c.bare.map((m) => m.mbps))
      await stopped(reader)
    }

    // ---- end-to-end latency at half the peak produce rate ----
    if (want("e2e")) {
      const peak = await onePartitionPeak()
      settleDisk(profile, log, "the end-to-end group")
      const requestSize = partsPayload(produceParts("e2e-0", 0, batch, 1)).reduce((n, b) => n + b.length, 0)
      const rateText = (perSec: number) => `${f1((perSec * requestSize) / MB)} MB/s (${f1(perSec)} batches/s)`
      inFlight["e2e"] = `open-loop producer process (paced by time, ${profile.connections} connections in turn, acks=1); consumer: one long-poll Fetch in flight (max.wait 500 ms, min.bytes 1)`
      inFlight["e2e_capacity"] = `producer process flooding: ${profile.connections} connections x ${profile.window} requests in flight (acks=1); consumer: one long-poll Fetch in flight`
      // The floor: the same harness against a bare relay (bench/lib/bare-server.ts), rounds alternating.
      const relayFile = path.join(root, "relay.bin")
      const relay = track(await startBare(["relay", relayFile, String(profile.relayRingMiB)]))
      let topicN = 0
      const e2eWarmupMs = Math.min(300, profile.e2eMs / 5)
      // A paced round counts the batches due after its warm-up: at least 10 of them, however low
      // a rate a loaded machine measured (a short profile's round is 200 ms).
      const pacedRate = (batchesPerSec: number) => Math.max(batchesPerSec, 10 / ((profile.e2eMs - e2eWarmupMs) / 1000))
      // Each side drops its previous round's data right before its next round, and the round
      // starts once it is gone (deletedPartitionsRemoved says why): the broker's topic is deleted,
      // and the relay, told of the new topic by a Fetch, removes its previous topic's file.
      let brokerTopic: string | undefined
      const dropBrokerTopic = async () => {
        if (brokerTopic === undefined) return
        await admin.deleteTopics([brokerTopic])
        await deletedPartitionsRemoved(broker.dataDir)
        brokerTopic = undefined
      }
      const relayAdmin = await AdminClient.connect(relay.port)
      // The relay writes topic n to `${relayFile}.n`.
      const relayFiles = () => fs.readdirSync(root).filter((name) => name.startsWith(`${path.basename(relayFile)}.`))
      const switchRelayTo = async (topic: string) => {
        await relayAdmin.fetchRecords(fetchRequest({ topic, partition: 0, offset: 0, partitionMaxBytes: 1 }))
        await until(() => relayFiles().length <= 1, "the relay's previous topic's file removed")
      }
      const alternate = async (what: string, batchesPerSec: number) => {
        const rounds = { broker: [] as Array<E2eRound>, relay: [] as Array<E2eRound> }
        for (let r = 0; r < R; r++) {
          const topic = `e2e-${topicN++}`
          await dropBrokerTopic()
          await admin.createTopics([{ name: topic, partitions: 1 }])
          brokerTopic = topic
          const options = { topic, batchesPerSec, window: profile.window, durationMs: profile.e2eMs, connections: profile.connections, warmupMs: e2eWarmupMs }
          const round = await endToEnd({ ...options, port: broker.port, serverPid: broker.pid })
          await switchRelayTo(topic)
          const bare = await endToEnd({ ...options, port: relay.port, serverPid: relay.pid })
          for (const [side, x] of [["broker", round], ["bare relay", bare]] as const) {
            if (x.latencies.length === 0) throw new Error(`end-to-end, ${what} round ${r + 1}: no batch measured against the ${side}`)
          }
          rounds.broker.push(round)
          rounds.relay.push(bare)
          log(`  ${what} round ${r + 1}/${R}, broker: ${describeRound(round, requestSize)}; load average ${os.loadavg()[0]!.toFixed(1)}`)
          log(`  ${what} round ${r + 1}/${R}, bare relay: ${describeRound(bare, requestSize)}; load average ${os.loadavg()[0]!.toFixed(1)}`)
        }
        return rounds
      }
      const at = (xs: ReadonlyArray<E2eRound>, q: number) => xs.map((x) => percentileSorted(x.latencies, q))
      const percentiles = [["p50", 0.5], ["p99", 0.99], ["p999", 0.999]] as const

      // Issue 11's figure: half the 1-partition produce peak (measured with no consumer running).
      const halfPeak = pacedRate((0.5 * median(peak.broker.map((m) => m.mbps)) * MB) / requestSize)
      log(`end-to-end latency: producer at ${rateText(halfPeak)}, half the 1-partition peak; long-polling consumer; ${R} rounds of ${profile.e2eMs} ms`)
      const atHalfPeak = await alternate("half peak", halfPeak)
      for (const [label, q] of percentiles) {
        pair(`e2e_${label}_ms`, `end-to-end latency ${label} at half peak`, "ms", at(atHalfPeak.broker, q), "bare relay", at(atHalfPeak.relay, q), `producer to consumer at ${rateText(halfPeak)}`)
      }

      // What the machine can carry end to end with producer, server and consumer all running
      // on its 2 cores (the produce peak runs no consumer), and the latency at half of that.
      log(`end-to-end capacity: the producer floods, the consumer long-polls; ${R} rounds of ${profile.e2eMs} ms`)
      const flooded = await alternate("capacity", 0)
      const delivered = (xs: ReadonlyArray<E2eRound>) => xs.map((x) => (x.deliveredPerSec * requestSize) / MB)
      pair("e2e_capacity_mb_s", "end-to-end capacity (producer flooding, consumer long-polling, both on this machine)", "MB/s", delivered(flooded.broker), "bare relay", delivered(flooded.relay),
        "rate the consumer receives while the producer floods")
      const halfCapacity = pacedRate((0.5 * median(delivered(flooded.broker)) * MB) / requestSize)
      log(`end-to-end latency at half the broker's end-to-end capacity: producer at ${rateText(halfCapacity)}; ${R} rounds of ${profile.e2eMs} ms`)
      const atHalfCapacity = await alternate("half capacity", halfCapacity)
      for (const [label, q] of percentiles) {
        pair(`e2e_half_capacity_${label}_ms`, `end-to-end latency ${label} at half the end-to-end capacity`, "ms", at(atHalfCapacity.broker, q), "bare relay", at(atHalfCapacity.relay, q),
          `producer to consumer at ${rateText(halfCapacity)}, half the broker's e2e_capacity_mb_s`)
      }
      // On 2 shared cores the server's own cost per batch is what decides its tail latency.
      const cpuOf = (xs: ReadonlyArray<E2eRound>) => xs.map((x) => ({ cpuMsPerGb: (x.serverCpu * 1000) / ((x.deliveredPerSec * requestSize) / 1e9) }))
      cpuPair("e2e_half_capacity_cpu_ms_per_gb", "end-to-end at half the end-to-end capacity, server CPU per GB", cpuOf(atHalfCapacity.broker), cpuOf(atHalfCapacity.relay), "bare relay")
      await dropBrokerTopic()
      relayAdmin.close()
      await stopped(relay)
      fs.rmSync(relayFile, { force: true })
    }

    // ---- many partitions: Metadata, produce spread over them ----
    const topicsN = profile.topics10k
    const perTopic = profile.partitionsPerTopic10k
    const total = topicsN * perTopic
    const manyDir = profile.shareBrokers ? brokerDir : newDir("partitions")
    if (want("partitions")) {
      settleDisk(profile, log, "the partitions group")
      const many = profile.shareBrokers ? broker : track(await startBrokerProcess({ dataDir: manyDir }))
      const a = await AdminClient.connect(many.port)
      if (many !== broker) {
        // As the main broker was before its first scenario: the 1-partition rounds compared
        // with this broker's run on a warm JIT, so these must too.
        log(`  warm-up: ${(4 * profile.warmupMs) / 1000} s of produce to 1 partition of this broker (not counted)`)
        await warmUp(many, a)
      }
      log(`${total} partitions over ${topicsN} topics: creating`)
      const created0 = performance.now()
      const names = Array.from({ length: topicsN }, (_, t) => `many-${String(t).padStart(3, "0")}`)
      for (let t = 0; t < topicsN; t += 10) await a.createTopics(names.slice(t, t + 10).map((name) => ({ name, partitions: perTopic })))
      const createdMs = performance.now() - created0
      log(`  created in ${f1(createdMs)} ms`)
      add({ key: "partitions_10k_create_ms", name: `CreateTopics for ${total} partitions (${topicsN} topics, 10 per request)`, unit: "ms", value: createdMs, rounds: [createdMs] })
      const metadata: Array<number> = []
      for (let r = 0; r < R; r++) {
        const t0 = performance.now()
        const n = await a.metadataAll()
        metadata.push(performance.now() - t0)
        if (n < total) throw new Error(`Metadata described ${n} partitions, expected ${total}`)
        log(`  Metadata round ${r + 1}/${R}: ${f1(metadata[r]!)} ms for ${n} partitions`)
      }
      add({ key: "partitions_10k_metadata_ms", name: `Metadata for all ${total} partitions (${topicsN} topics)`, unit: "ms", value: median(metadata), rounds: metadata })
      const payloads = names.flatMap((name) => Array.from({ length: perTopic }, (_, p) => partsPayload(produceParts(name, p, batch, 1))))
      await a.produceChecked(payloads[payloads.length - 1]!)
      // Its baseline is measured here, in rounds alternating with its own: both sides see the
      // same machine (other load, page cache), and each round starts from a settled disk.
      const spread: Array<number> = []
      const single: Array<number> = []
      log(`  produce spread over all ${total} partitions (one batch per request, round-robin), ${R} rounds, alternating with rounds of produce to 1 partition (a fresh topic each, deleted after, as in the produce group)`)
      for (let r = 0; r < R; r++) {
        const topic = `spread-baseline-${r}`
        await admin.createTopics([{ name: topic, partitions: 1 }])
        const one = partsPayload(produceParts(topic, 0, batch, 1))
        await admin.produceChecked(one)
        settleDisk(profile, log, `round ${r + 1}, 1 partition`)
        const m1 = await measureTimed(broker.port, broker.pid, profile, profile.window, () => one, requestBytes)
        await admin.deleteTopics([topic])
        single.push(m1.mbps)
        settleDisk(profile, log, `round ${r + 1}, ${total} partitions`)
        let i = 0
        const m = await measureTimed(many.port, many.pid, profile, profile.window, () => payloads[i++ % payloads.length]!, requestBytes)
        spread.push(m.mbps)
        log(`  round ${r + 1}/${R}: ${total} partitions ${f1(m.mbps)} MB/s (${cpuText(m)}) | 1 partition ${f1(m1.mbps)} MB/s (${cpuText(m1)})`)
      }
      pair("partitions_10k_produce_mb_s", `produce spread over ${total} partitions, acks=1`, "MB/s", spread, "produce to 1 partition, rounds alternating", single)
      pair("partitions_10k_loaded_rss_mb", `RSS after creating and producing to ${total} partitions`, "MB", [processRssMb(many.pid)], "idle, empty data dir", rss)
      a.close()
      if (many !== broker) {
        // A clean shutdown flushes every partition written to (as Kafka's does): given the
        // time it takes, so that the start-up below opens a cleanly closed directory, not
        // one that a SIGKILL left to recover.
        await shutdownFigure(many, total)
        log(`start-up on the ${total}-partition directory (${f1(dirBytes(manyDir) / MB)} MB)`)
        const { startup: manyStartup, rss: manyRss } = await restarts(manyDir)
        pair("partitions_10k_startup_ms", `start-to-ready on the ${total}-partition directory`, "ms", manyStartup, "empty data dir", startup)
        pair("partitions_10k_idle_rss_mb", `idle RSS on the ${total}-partition directory`, "MB", manyRss, "empty data dir", rss)
      }
    }
    admin.close()
    if (profile.shareBrokers && want("partitions")) await shutdownFigure(broker, total)
    else await stopped(broker)
    if (sink !== undefined) await stopped(sink)

    // ---- growth with retained data: restart on the directory the runs above filled ----
    if (want("retained") || (profile.shareBrokers && want("partitions"))) {
      const retainedMb = dirBytes(brokerDir) / MB
      log(`start-up with retained data (${f1(retainedMb)} MB on disk)`)
      const { startup: retainedStartup, rss: retainedRss } = await restarts(brokerDir)
      if (want("retained")) {
        pair("retained_startup_ms", `start-to-ready with ${f1(retainedMb)} MB retained`, "ms", retainedStartup, "empty data dir", startup)
        pair("retained_idle_rss_mb", `idle RSS with ${f1(retainedMb)} MB retained`, "MB", retainedRss, "empty data dir", rss)
        add({ key: "retained_mb", name: "data retained for the two figures above", unit: "MB", value: retainedMb, rounds: [retainedMb] })
      }
      if (profile.shareBrokers && want("partitions")) {
        // Shared-broker profile: the one directory holds the many partitions too.
        pair("partitions_10k_startup_ms", `start-to-ready on the directory with ${total} partitions`, "ms", retainedStartup, "empty data dir", startup)
        pair("partitions_10k_idle_rss_mb", `idle RSS on the directory with ${total} partitions`, "MB", retainedRss, "empty data dir", rss)
      }
    }
    return { profile: profile.name, figures, inFlight }
  } catch (e) {
    // Whatever a broker said last (a crash, a closed connection's logged reason) belongs with the failure.
    for (const x of running) {
      if ("output" in x && typeof x.output === "function") log(`output of the broker on ${(x as BrokerProcess).dataDir} (last 3000 chars):\n${(x as BrokerProcess).output().slice(-3000)}`)
    }
    throw e
  } finally {
    for (const x of running.splice(0)) await x.stop().catch(() => {})
    fs.rmSync(root, { recursive: true, force: true })
    liveRoots.delete(root)
  }
}
