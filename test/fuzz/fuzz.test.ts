/**
 * Fuzzing in `pnpm test`: every target runs a fixed number of generated inputs with a fixed
 * seed (so a failure reproduces), then replays its corpus of inputs that once broke it.
 * `pnpm fuzz` runs the same targets for longer with fresh seeds.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { readCorpus } from "./corpus.ts"
import { FUZZ_TARGETS } from "./targets.ts"

const RUNS = Number(process.env["FUZZ_RUNS"] ?? 10_000)
const SEED = 20261130

describe("fuzz targets (fixed seed)", () => {
  for (const target of FUZZ_TARGETS) {
    it(`${target.name}: ${RUNS} generated inputs`, () => {
      fc.assert(fc.property(target.arbitrary, (input) => target.check(input)), { seed: SEED, numRuns: RUNS })
    })
    it(`${target.name}: replays its corpus`, () => {
      const corpus = readCorpus(target.name)
      for (const { file, input } of corpus) expect(() => target.check(input), file).not.toThrow()
    })
  }
})
