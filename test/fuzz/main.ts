/**
 * `pnpm fuzz [--runs N] [--seconds S] [--target NAME] [--seed N]`: runs the fuzz targets for
 * longer than `pnpm test` does (default 10^6 inputs each), with a fresh seed, and saves
 * every input that breaks a target to the corpus, which `pnpm test` then replays.
 *
 * `pnpm fuzz --crash N [--seed N]`: runs the crash harness (test/crash) for N crash points
 * instead of the 200 of `pnpm test`, with a fresh seed (printed; CRASH_SEED=<seed> with
 * CRASH_ITERATIONS=N replays a failure). Codec targets run too only if named with --target.
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import fc from "fast-check"
import { parseArgs } from "node:util"
import { saveToCorpus } from "./corpus.ts"
import { FUZZ_TARGETS } from "./targets.ts"

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "1000000" },
    seconds: { type: "string" },
    target: { type: "string", multiple: true },
    seed: { type: "string" },
    crash: { type: "string" }
  }
})

const runs = Number(values.runs)
const seed = values.seed === undefined ? Date.now() % 0x7fffffff : Number(values.seed)
const timeLimitMs = values.seconds === undefined ? undefined : Number(values.seconds) * 1000
const targets = values.target === undefined ? (values.crash === undefined ? FUZZ_TARGETS : []) : FUZZ_TARGETS.filter((t) => values.target!.includes(t.name))

let failed = 0
if (values.crash !== undefined) {
  const root = path.resolve(import.meta.dirname, "..", "..")
  console.log(`crash harness: ${values.crash} crash points, seed ${seed}`)
  const run = spawnSync("pnpm", ["vitest", "run", "test/crash/crash.test.ts"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, CRASH_ITERATIONS: values.crash, CRASH_SEED: String(seed), CRASH_TIMEOUT_MS: String(Math.max(900_000, Number(values.crash) * 10_000)) }
  })
  if (run.status !== 0) {
    failed++
    console.log(`crash harness FAILED (seed ${seed}; replay with CRASH_SEED=${seed} CRASH_ITERATIONS=${values.crash} pnpm vitest run test/crash)`)
  }
}
console.log(`fuzzing ${targets.length} targets, ${runs} inputs each${timeLimitMs === undefined ? "" : ` or ${values.seconds} s`}, seed ${seed}`)
for (const target of targets) {
  const started = Date.now()
  let ran = 0
  const result = fc.check(
    fc.property(target.arbitrary, (input) => {
      // fc.check runs synchronously, so progress is counted, not timed.
      if (++ran % 100_000 === 0) console.log(`  ${target.name}: ${ran} inputs…`)
      target.check(input)
    }),
    { seed, numRuns: runs, ...(timeLimitMs === undefined ? {} : { interruptAfterTimeLimit: timeLimitMs }), endOnFailure: false }
  )
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  if (result.failed && result.counterexample !== null) {
    failed++
    const [input] = result.counterexample
    const file = saveToCorpus(target.name, input)
    console.log(`${target.name}: FAILED after ${result.numRuns} inputs (${seconds} s): ${String(result.errorInstance)}\n  saved to ${file}`)
  } else {
    console.log(`${target.name}: ${result.numRuns} inputs, no failure (${seconds} s)`)
  }
}
if (targets.length > 0) console.log(`${targets.length - failed} passed, ${failed} failed`)
process.exitCode = failed === 0 ? 0 : 1
