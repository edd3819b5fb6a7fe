/** The suite's two outputs: one line per figure, and bench-results.json's content. */
import type { BenchResult, Figure } from "./harness.ts"
import { fmt, round } from "./stats.ts"

/** The top-level keys issue 11 asks bench-results.json for (medians), plus the CPU ratios. */
export const REQUIRED_KEYS = [
  "produce_mb_s", "produce_ratio", "fetch_mb_s", "fetch_ratio", "e2e_p50_ms", "e2e_p99_ms", "startup_ms", "idle_rss_mb",
  "partitions_10k_create_ms", "partitions_10k_metadata_ms", "partitions_10k_produce_ratio", "produce_cpu_ratio", "fetch_cpu_ratio"
] as const

/** Every figure a complete run produces (bench/lib/harness.ts adds them in this order). */
export const FIGURE_KEYS = [
  "startup_ms", "idle_rss_mb", "startup_stack_ms",
  "produce_mb_s", "produce_cpu_ms_per_gb", "produce_8p_mb_s", "produce_acks_all_mb_s", "produce_idempotent_mb_s", "produce_flush_each_mb_s",
  "fetch_mb_s", "fetch_cpu_ms_per_gb", "fetch_4c_mb_s",
  "e2e_p50_ms", "e2e_p99_ms", "e2e_p999_ms", "e2e_capacity_mb_s", "e2e_half_capacity_p50_ms", "e2e_half_capacity_p99_ms", "e2e_half_capacity_p999_ms", "e2e_half_capacity_cpu_ms_per_gb",
  "partitions_10k_create_ms", "partitions_10k_metadata_ms", "partitions_10k_produce_mb_s", "partitions_10k_loaded_rss_mb", "partitions_10k_shutdown_ms", "partitions_10k_startup_ms", "partitions_10k_idle_rss_mb",
  "retained_startup_ms", "retained_idle_rss_mb", "retained_mb"
] as const

const range = (xs: ReadonlyArray<number>) => (xs.length > 1 ? ` [min ${fmt(Math.min(...xs))}, max ${fmt(Math.max(...xs))}]` : "")

/** `name: value unit (ratio to baseline)`, then the rounds' min-max. */
export const figureLine = (f: Figure): string =>
  `${f.name}: ${fmt(f.value)} ${f.unit} ${f.ratio === undefined ? "(no baseline)" : `(${f.ratio.toFixed(2)} of ${f.baseline!.name})`}${range(f.rounds)}`

/** A figure's ratio key: produce_mb_s -> produce_ratio, produce_cpu_ms_per_gb -> produce_cpu_ratio. */
export const ratioKey = (key: string): string =>
  key.endsWith("_cpu_ms_per_gb") ? key.replace(/_ms_per_gb$/, "_ratio") : key.replace(/_(mb_s|ms|mb)$/, "_ratio")

/** Medians (and ratios) at the top level, then everything else. */
export const resultsJson = (result: BenchResult, extra: Record<string, unknown>): Record<string, unknown> => {
  const top: Record<string, number> = {}
  for (const f of result.figures) {
    top[f.key] = round(f.value, 3)
    if (f.ratio !== undefined) top[ratioKey(f.key)] = round(f.ratio, 3)
  }
  return { ...top, profile: result.profile, ...extra, in_flight: result.inFlight, figures: result.figures }
}
