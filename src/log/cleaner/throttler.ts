/**
 * Kafka's Throttler for the log cleaner (`log.cleaner.io.max.bytes.per.second`): bytes are
 * counted as they are read and written; every check interval the observed rate is compared
 * with the desired one and the cleaner sleeps long enough to bring it back down. Time is
 * Effect's Clock, so TestClock drives it.
 */
import { Clock, Effect } from "effect"

/** Kafka's default check interval. */
export const THROTTLE_CHECK_INTERVAL_MS = 300

export class Throttler {
  readonly bytesPerSecond: number
  readonly checkIntervalMs: number
  private periodStart = -1
  private observed = 0

  constructor(bytesPerSecond: number, checkIntervalMs = THROTTLE_CHECK_INTERVAL_MS) {
    this.bytesPerSecond = bytesPerSecond
    this.checkIntervalMs = checkIntervalMs
  }

  /** How long to sleep after `bytes` more at time `now` (plain, for tests and the Effect). */
  observe(bytes: number, now: number): number {
    if (!Number.isFinite(this.bytesPerSecond) || this.bytesPerSecond >= Number.MAX_VALUE) return 0
    if (this.periodStart < 0) this.periodStart = now
    this.observed += bytes
    const elapsed = now - this.periodStart
    if (elapsed <= this.checkIntervalMs || this.observed <= 0) return 0
    const rate = (this.observed * 1000) / elapsed
    let sleepMs = 0
    if (rate > this.bytesPerSecond) sleepMs = Math.round(this.observed / (this.bytesPerSecond / 1000) - elapsed)
    this.periodStart = now + Math.max(sleepMs, 0)
    this.observed = 0
    return Math.max(sleepMs, 0)
  }

  maybeThrottle(bytes: number): Effect.Effect<void> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const ms = this.observe(bytes, now)
      return ms > 0 ? Effect.sleep(ms) : Effect.void
    })
  }
}
