/**
 * The broker as its own process, started the way `pnpm start` starts it: the command is read
 * from package.json's `start` script (so a prebuilt bundle there is what gets measured), run
 * with node directly so that the process measured is the broker's, not pnpm's.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { ApiVersions } from "../../src/protocol/generated/apis.ts"
import { encodeRequest } from "../../test/support/wire-client.ts"

export const projectRoot = path.resolve(import.meta.dirname, "..", "..")

/** node's argument list for `pnpm start`, from package.json (the one place that knows it). */
export const startCommand = (): ReadonlyArray<string> => {
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }
  const script = pkg.scripts["start"] ?? ""
  const words = script.trim().split(/\s+/)
  if (words[0] !== "node" || /[;&|<>$`]/.test(script)) {
    throw new Error(`bench/lib/broker-process.ts runs "pnpm start" as "node <args>", but package.json has start = ${JSON.stringify(script)}: update startCommand()`)
  }
  return words.slice(1)
}

/** Every child the bench started and has not seen exit, so that an interrupted bench leaves none behind. */
export const liveChildren = new Set<ChildProcess>()

export const killLiveChildren = (): void => {
  for (const c of liveChildren) c.kill("SIGKILL")
  liveChildren.clear()
}

export const trackChild = (child: ChildProcess): void => {
  liveChildren.add(child)
  child.once("close", () => liveChildren.delete(child))
}

export interface BrokerProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly port: number
  readonly dataDir: string
  /** Milliseconds from spawn until the first ApiVersions response. */
  readonly readyMs: number
  output: () => string
  /** SIGTERM, wait for the exit (SIGKILL after `killAfterMs`, default 20 s). */
  stop: (killAfterMs?: number) => Promise<void>
}

/** Ask ApiVersions once on a fresh connection; resolves when any response frame arrives. */
export const apiVersionsAnswered = (port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" }, () => {
      socket.write(encodeRequest(ApiVersions, 3, 1, { clientSoftwareName: "bench", clientSoftwareVersion: "1" }))
    })
    let got = 0
    socket.on("data", (chunk) => {
      got += chunk.length
      if (got >= 4) {
        socket.destroy()
        resolve()
      }
    })
    socket.once("error", reject)
  })

export const startBrokerProcess = (options: {
  dataDir: string
  overrides?: Record<string, string>
  readyTimeoutMs?: number
  /** node's arguments instead of `pnpm start`'s (e.g. another build's bundle, for an A/B run). */
  command?: ReadonlyArray<string>
  /** Environment variables added to the bench's own (e.g. a malloc tunable, for an A/B run). */
  env?: Record<string, string>
}): Promise<BrokerProcess> => {
  const overrides: Record<string, string> = {
    "listeners": "PLAINTEXT://127.0.0.1:0",
    "http.listener": "http://127.0.0.1:0",
    "log.dirs": options.dataDir,
    ...options.overrides
  }
  // BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the broker under bench load.
  const nodeArgs = (process.env["BENCH_BROKER_NODE_ARGS"] ?? "").split(/\s+/).filter((a) => a.length > 0)
  const args = [...nodeArgs, ...(options.command ?? startCommand()), ...Object.entries(overrides).flatMap(([k, v]) => ["--override", `${k}=${v}`])]
  const spawnedAt = performance.now()
  const child = spawn(process.execPath, args, { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env } })
  trackChild(child)
  let out = ""
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)))
  const stop = async (killAfterMs = 20_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs)
    await exited
    clearTimeout(timer)
  }
  return new Promise((resolve, reject) => {
    let found = false
    const timeout = options.readyTimeoutMs === undefined ? undefined : setTimeout(() => {
      void stop()
      reject(new Error(`broker not ready within ${options.readyTimeoutMs} ms`))
    }, options.readyTimeoutMs)
    const onData = (d: Buffer) => {
      out += d.toString()
      if (out.length > 1_000_000) out = out.slice(-100_000)
      if (found) return
      const m = /listening on PLAINTEXT:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (!m) return
      found = true
      const port = Number(m[1])
      apiVersionsAnswered(port).then(
        () => {
          clearTimeout(timeout)
          resolve({ child, pid: child.pid!, port, dataDir: options.dataDir, readyMs: performance.now() - spawnedAt, output: () => out, stop })
        },
        (e) => {
          void stop()
          reject(e)
        }
      )
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    void exited.then((code) => {
      clearTimeout(timeout)
      if (!found) reject(new Error(`broker exited with ${code} before listening:\n${out}`))
    })
  })
}

const CLOCK_TICKS_PER_SECOND = 100 // USER_HZ: 100 on every Linux build Node runs on

/** /proc/<pid>/stat's fields after the command's closing parenthesis: [0] is field 3 (state). */
const statFields = (pid: number): Array<string> => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
}

/** The process's user and sys CPU time so far, in milliseconds, from /proc/<pid>/stat. */
export const processCpuSplitMs = (pid: number): { readonly user: number; readonly sys: number } => {
  const fields = statFields(pid)
  // utime and stime are fields 14 and 15.
  return { user: (Number(fields[11]) * 1000) / CLOCK_TICKS_PER_SECOND, sys: (Number(fields[12]) * 1000) / CLOCK_TICKS_PER_SECOND }
}

/** The process's minor page faults so far (field 10 of /proc/<pid>/stat). */
export const processMinorFaults = (pid: number): number => Number(statFields(pid)[7])

/** The process's user+sys CPU time so far, in milliseconds. */
export const processCpuMs = (pid: number): number => {
  const { user, sys } = processCpuSplitMs(pid)
  return user + sys
}

/** The machine's dirty and under-writeback page cache, in MB (/proc/meminfo): what the kernel still owes the disk. */
export const pageCacheOwedMb = (): { readonly dirty: number; readonly writeback: number } => {
  const meminfo = fs.readFileSync("/proc/meminfo", "utf8")
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(meminfo)?.[1] ?? NaN)
  return { dirty: kb("Dirty") / 1024, writeback: kb("Writeback") / 1024 }
}

/** Resident set size in MiB, from /proc/<pid>/status. */
export const processRssMb = (pid: number): number => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m ? Number(m[1]) / 1024 : NaN
}
