/**
 * `node bench/start-probe.ts <rounds> [<variant>]...`: start-to-ready (spawn until ApiVersions
 * answers, as the bench measures it) of a fresh broker process on a fresh data directory, the
 * variants alternating round by round; medians and quartiles per variant. A variant is node's
 * whole command line (`--initial-old-space-size=64 /tmp/a/start.cjs`); "" is `pnpm start`'s, and
 * "floor" is the bench's start-up floor (bench/lib/bare-listener.cjs, ready when it answers a
 * frame), so that a probe run says how far the machine's own floor moved while it ran.
 * A bundle's code cache holds V8's flags: variants with different flags each need their own
 * copy of dist/ (and a launcher that runs it), or each start rejects the other's cache.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { processMinorFaults, startBrokerProcess, startCommand } from "./lib/broker-process.ts"
import { startBare } from "./lib/harness.ts"

const [roundsArg, ...variantArgs] = process.argv.slice(2)
const rounds = Number(roundsArg ?? 10)
const variants = variantArgs.length > 0 ? variantArgs : [""]
const results = variants.map(() => [] as Array<number>)
// CPU (every thread's run time from schedstat, in ns, where /proc/<pid>/stat counts 10 ms ticks)
// and page faults at the moment it answered: on a busy or drifting machine these tell two
// builds apart when their wall times do not.
const cpus = variants.map(() => [] as Array<number>)
const faults = variants.map(() => [] as Array<number>)
const cpuAndFaults = (pid: number, v: number) => {
  let ns = 0
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0])
  cpus[v]!.push(ns / 1e6)
  faults[v]!.push(processMinorFaults(pid))
}
const quantile = (xs: ReadonlyArray<number>, q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!
for (let r = 0; r < rounds; r++) {
  for (let v = 0; v < variants.length; v++) {
    const variant = variants[v]!
    if (variant === "floor") {
      const bare = await startBare([])
      results[v]!.push(bare.readyMs)
      cpuAndFaults(bare.pid, v)
      await bare.stop()
      continue
    }
    const words = variant.split(/\s+/).filter((w) => w.length > 0)
    const command = words.length === 0 ? startCommand() : words
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "start-probe-"))
    const b = await startBrokerProcess({ dataDir: dir, command })
    results[v]!.push(b.readyMs)
    cpuAndFaults(b.pid, v)
    await b.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
for (let v = 0; v < variants.length; v++) {
  const xs = results[v]!
  console.log(`${JSON.stringify(variants[v])}: median ${quantile(xs, 0.5).toFixed(1)} ms, quartiles ${quantile(xs, 0.25).toFixed(1)}-${quantile(xs, 0.75).toFixed(1)}, min ${quantile(xs, 0).toFixed(1)} (${xs.length} rounds); CPU median ${quantile(cpus[v]!, 0.5).toFixed(1)} ms, quartiles ${quantile(cpus[v]!, 0.25).toFixed(1)}-${quantile(cpus[v]!, 0.75).toFixed(1)}; page faults median ${quantile(faults[v]!, 0.5)}`)
}
