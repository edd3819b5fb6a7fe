/**
 * Issue 11's targets for this machine, as data: each names the top-level key of
 * bench-results.json it judges (a median, or a ratio to its baseline). `pnpm bench:readme`
 * renders them against the last run, so README never claims a target the figures do not show.
 */

export interface Target {
  /** A top-level key of bench-results.json. */
  readonly key: string
  readonly name: string
  /** At least (≥), at most (≤) or under (<) the value, as the issue words each. */
  readonly bound: "min" | "max" | "under"
  readonly value: number
  /** How a value of this key reads: a ratio (×) or the key's unit. */
  readonly unit: string
}

const TARGETS: ReadonlyArray<Target> = [
  { key: "produce_ratio", name: "produce, 1 partition, against the bare sink", bound: "min", value: 0.85, unit: "×" },
  { key: "produce_cpu_ratio", name: "produce: server CPU per GB against the sink's", bound: "max", value: 1.3, unit: "×" },
  { key: "fetch_ratio", name: "fetch, 1 consumer, against the bare reader", bound: "min", value: 0.9, unit: "×" },
  { key: "fetch_cpu_ratio", name: "fetch: server CPU per GB against the reader's", bound: "max", value: 1.3, unit: "×" },
  { key: "e2e_p99_ms", name: "end-to-end p99 at half the produce peak", bound: "under", value: 2, unit: "ms" },
  { key: "e2e_half_capacity_p99_ms", name: "end-to-end p99 at half the end-to-end capacity", bound: "under", value: 2, unit: "ms" },
  { key: "startup_ms", name: "start-to-ready, empty data directory", bound: "under", value: 150, unit: "ms" },
  { key: "idle_rss_mb", name: "idle RSS, empty data directory", bound: "under", value: 80, unit: "MB" },
  { key: "partitions_10k_startup_ms", name: "start-to-ready on 10 000 partitions", bound: "under", value: 2000, unit: "ms" },
  { key: "partitions_10k_produce_ratio", name: "produce spread over 10 000 partitions, against 1 partition", bound: "min", value: 0.7, unit: "×" }
]

const targetMet = (t: Target, value: number): boolean =>
  t.bound === "min" ? value >= t.value : t.bound === "max" ? value <= t.value : value < t.value

export interface Verdict {
  readonly target: Target
  /** The run's value, or undefined when the run did not measure it (`--only`). */
  readonly value: number | undefined
  readonly met: boolean
}

/** Every target against the top level of bench-results.json. */
export const judgeTargets = (results: Readonly<Record<string, unknown>>): ReadonlyArray<Verdict> =>
  TARGETS.map((target) => {
    const v = results[target.key]
    const value = typeof v === "number" ? v : undefined
    return { target, value, met: value !== undefined && targetMet(target, value) }
  })

/** A value of the target's key with its unit: `0.97×`, `214 ms`. */
export const withUnit = (t: Target, value: string | number): string => `${value}${t.unit === "×" ? "×" : ` ${t.unit}`}`

/** `≥ 0.85×`, `< 2 ms`. */
export const describeBound = (t: Target): string => `${t.bound === "min" ? "≥" : t.bound === "max" ? "≤" : "<"} ${withUnit(t, t.value)}`
