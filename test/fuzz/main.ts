/**
 * `pnpm fuzz [--runs N] [--seconds S] [--target NAME] [--seed N]`: runs the fuzz targets for
 * longer than `pnpm test` does (default 10^6 inputs each), with a fresh seed, and saves
 * every input that breaks a target to the corpus, which `pnpm test` then replays.
 */
import fc from "fast-check"
import { parseArgs } from "node:util"
import { saveToCorpus } from "./corpus.ts"
import { FUZZ_TARGETS } from "./targets.ts"

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "1000000" },
    seconds: { type: "string" },
    target: { type: "string", multiple: true },
    seed: { type: "string" }
  }
})

const runs = Number(values.runs)
const seed = values.seed === undefined ? Date.now() % 0x7fffffff : Number(values.seed)
const timeLimitMs = values.seconds === undefined ? undefined : Number(values.seconds) * 1000
const targets = values.target === undefined ? FUZZ_TARGETS : FUZZ_TARGETS.filter((t) => values.target!.includes(t.name))

let failed = 0
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
console.log(`${targets.length - failed} passed, ${failed} failed`)
process.exitCode = failed === 0 ? 0 : 1
