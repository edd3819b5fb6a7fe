/**
 * `pnpm bench [--quick]`: issue 11's benchmark suite (bench/lib/harness.ts). Prints progress,
 * then (in a full run) how many of issue 11's targets it met (bench/lib/targets.ts) and one line per figure
 * `name: value unit (ratio to baseline)`, and writes
 * bench-results.json at the project root (medians at the top level, rounds under "figures").
 */
import { execSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { projectRoot } from "./lib/broker-process.ts"
import { abortBench, GROUPS, type Group, PROFILES, runBench } from "./lib/harness.ts"
import { figureLine, resultsJson } from "./lib/report.ts"
import { fmt, round } from "./lib/stats.ts"
import { describeBound, judgeTargets, withUnit } from "./lib/targets.ts"
import { raiseMallocTrimThreshold } from "../src/malloc-trim.ts"

// The load generator and consumer must not be the bottleneck: without this, the fetch consumer
// here faulted its freed read buffers back in (src/malloc-trim.ts) and capped both servers' fetch
// figures at ~300 MB/s; with it, 2.4 GB/s.
raiseMallocTrimThreshold()

const quick = process.argv.includes("--quick")
const profile = PROFILES[process.argv.includes("--tiny") ? "tiny" : quick ? "quick" : "full"]

const machine = () => {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? os.cpus()[0]?.model ?? "unknown"
  let disk = "unknown"
  try {
    const dev = execSync(`df --output=source ${os.tmpdir()} | tail -1`, { encoding: "utf8" }).trim()
    const name = path.basename(dev).replace(/[0-9]+$/, "")
    const rotational = fs.existsSync(`/sys/block/${name}/queue/rotational`) ? fs.readFileSync(`/sys/block/${name}/queue/rotational`, "utf8").trim() : "?"
    const fsType = execSync(`df --output=fstype ${os.tmpdir()} | tail -1`, { encoding: "utf8" }).trim()
    disk = `${dev} (${fsType}, ${rotational === "0" ? "non-rotational" : rotational === "1" ? "rotational" : "rotational unknown"}) for ${os.tmpdir()}`
  } catch {}
  return { nproc: os.availableParallelism(), cpu, memory_gb: round(os.totalmem() / 2 ** 30, 1), disk, node: process.version, kernel: os.release(), load_average: `${os.loadavg().map((l) => l.toFixed(1)).join(" ")} at start` }
}

const onlyArg = process.argv.find((a) => a.startsWith("--only="))
const only = onlyArg === undefined ? undefined : new Set(onlyArg.slice("--only=".length).split(",") as Array<Group>)
for (const g of only ?? []) {
  if (!GROUPS.includes(g)) {
    console.error(`--only: unknown group ${g} (groups: ${GROUPS.join(", ")})`)
    process.exit(2)
  }
}

// An interrupted bench leaves no broker, bare server or temporary directory behind.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    abortBench()
    process.exit(130)
  })
}

const started = performance.now()
const log = (line: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`)
const m = machine()
log(`pnpm bench${quick ? " --quick" : ""}: ${profile.rounds} round(s) per scenario; ${m.nproc} CPUs (${m.cpu}), ${m.disk}; load average ${m.load_average}`)
// --entry=<bundle>: the broker scenarios run that build instead of `pnpm start` (A/B against another build).
const entry = process.argv.find((a) => a.startsWith("--entry="))?.slice("--entry=".length)
if (entry !== undefined) log(`broker: node ${entry}`)
const result = await runBench(profile, { log, entry, ...(only === undefined ? {} : { only }) })

const json = resultsJson(result, {
  rounds: profile.rounds,
  generated_at: new Date().toISOString(),
  duration_s: round((performance.now() - started) / 1000, 1),
  machine: m
})
// Judged on full runs only: a quick run's sizes are not the issue's (1 000 partitions, short rounds).
const verdicts = profile.name === "full" ? judgeTargets(json) : []
if (verdicts.length > 0) {
  json["targets"] = verdicts.map((v) => ({ key: v.target.key, bound: v.target.bound, target: v.target.value, value: v.value ?? null, met: v.met }))
}
const measured = verdicts.filter((v) => v.value !== undefined)
const missed = measured.filter((v) => !v.met)
console.log("")
if (measured.length > 0) {
  console.log(`issue 11's targets: ${measured.length - missed.length} of ${measured.length} measured met` +
    (missed.length === 0 ? "" : `; missed: ${missed.map((v) => `${v.target.key} ${withUnit(v.target, fmt(v.value!))} (${describeBound(v.target)})`).join(", ")}`))
}
console.log(`median of ${profile.rounds} round(s)${profile.rounds > 1 ? ", min-max in brackets" : ""}; in flight: ${Object.entries(result.inFlight).map(([k, v]) => `${k}: ${v}`).join("; ")}`)
console.log("")
for (const f of result.figures) console.log(figureLine(f))

fs.writeFileSync(path.join(projectRoot, "bench-results.json"), JSON.stringify(json, null, 2) + "\n")
console.log(`\nwrote bench-results.json (${json.duration_s} s)`)
