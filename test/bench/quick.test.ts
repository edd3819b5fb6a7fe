/**
 * `pnpm bench` cannot rot: its harness runs here end to end against the broker process
 * (the shared-broker "tiny" profile of `--quick`: one round, tiny sizes, one restart), and
 * every figure, every key issue 11 asks of bench-results.json and every key its targets judge
 * (which `pnpm bench:readme` renders) must come out. Values are
 * never asserted: timing belongs to `pnpm bench`, not to the test suite.
 */
import { describe, expect, it } from "vitest"
import { PROFILES, runBench } from "../../bench/lib/harness.ts"
import { FIGURE_KEYS, figureLine, REQUIRED_KEYS, resultsJson } from "../../bench/lib/report.ts"
import { judgeTargets } from "../../bench/lib/targets.ts"

describe("pnpm bench --quick harness", () => {
  it("produces every figure, with its baseline ratio where it has one, and the issue's JSON keys", async () => {
    const result = await runBench(PROFILES.tiny)
    expect(result.figures.map((f) => f.key).sort()).toEqual([...FIGURE_KEYS].sort())
    for (const f of result.figures) {
      expect(f.rounds.length, f.key).toBeGreaterThan(0)
      expect(Number.isNaN(f.value), `${f.key} was not measured`).toBe(false)
      expect(figureLine(f)).toMatch(/^.+: \S+ \S+.* \((no baseline|\S+ of .+)\)/)
    }
    const json = resultsJson(result, {})
    for (const key of REQUIRED_KEYS) expect(typeof json[key], key).toBe("number")
    for (const v of judgeTargets(json)) expect(typeof v.value, v.target.key).toBe("number")
  }, 120_000)
})
