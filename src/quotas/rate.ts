/**
 * The windowed rate Kafka's client quotas are measured with: its `Rate` over a `WindowedSum`
 * (SampledStat), with the quota check of `Sensor.checkQuotas` and the delay of
 * `QuotaUtils.throttleTime`. Plain code over millisecond timestamps the caller passes in
 * (the Effect Clock's, so tests run it under TestClock).
 *
 * A rate keeps `samples + 1` samples of `windowMs` each (one extra for the sample that
 * overlaps the start of the monitored window). A sample is replaced once it is complete
 * (older than `windowMs`) and a value arrives; samples with no event for `samples * windowMs`
 * are reset. The rate is the sum of the live samples over the elapsed time since the oldest,
 * which is taken as at least `samples - 1` full windows, so a first burst is not measured
 * against a few milliseconds.
 */

export interface RateConfig {
  /** quota.window.num (Kafka's default 11). */
  readonly samples: number
  /** quota.window.size.seconds in ms (Kafka's default 1000). */
  readonly windowMs: number
}

interface Sample {
  value: number
  eventCount: number
  startTimeMs: number
  lastEventMs: number
}

const newSample = (now: number): Sample => ({ value: 0, eventCount: 0, startTimeMs: now, lastEventMs: now })

const resetSample = (s: Sample, now: number): void => {
  s.value = 0
  s.eventCount = 0
  s.startTimeMs = now
  s.lastEventMs = now
}

export class SampledRate {
  private readonly samples: Array<Sample> = []
  private current = 0
  config: RateConfig

  constructor(config: RateConfig) {
    this.config = config
  }

  /** Adds `value` (negative to take back a value recorded earlier) at `now`. */
  record(value: number, now: number): void {
    let sample = this.currentSample(now)
    if (now - sample.startTimeMs >= this.config.windowMs) sample = this.advance(now)
    sample.value += value
    sample.eventCount += 1
    sample.lastEventMs = now
  }

  /** The rate per second at `now`. */
  measure(now: number): number {
    this.purgeObsolete(now)
    let total = 0
    for (const s of this.samples) total += s.value
    return total / (this.windowSize(now) / 1000)
  }

  /** The time (ms) the rate is computed over at `now`: Kafka's Rate.windowSize. */
  windowSize(now: number): number {
    this.purgeObsolete(now)
    let elapsed = now - this.oldest(now).startTimeMs
    const fullWindows = Math.trunc(elapsed / this.config.windowMs)
    const minFullWindows = this.config.samples - 1
    if (fullWindows < minFullWindows) elapsed += (minFullWindows - fullWindows) * this.config.windowMs
    return Math.max(elapsed, 1)
  }

  /** Whether every sample has gone without an event for `ms` (an inactive sensor, to forget). */
  idleSince(now: number, ms: number): boolean {
    for (const s of this.samples) if (now - s.lastEventMs < ms) return false
    return true
  }

  private currentSample(now: number): Sample {
    if (this.samples.length === 0) this.samples.push(newSample(now))
    return this.samples[this.current]!
  }

  private advance(now: number): Sample {
    this.current = (this.current + 1) % (this.config.samples + 1)
    if (this.current >= this.samples.length) {
      const s = newSample(now)
      this.samples.push(s)
      return s
    }
    const s = this.samples[this.current]!
    resetSample(s, now)
    return s
  }

  private oldest(now: number): Sample {
    if (this.samples.length === 0) this.samples.push(newSample(now))
    let oldest = this.samples[0]!
    for (let i = 1; i < this.samples.length; i++) {
      if (this.samples[i]!.startTimeMs < oldest.startTimeMs) oldest = this.samples[i]!
    }
    return oldest
  }

  private purgeObsolete(now: number): void {
    const expireAge = this.config.samples * this.config.windowMs
    for (const s of this.samples) if (now - s.lastEventMs >= expireAge) resetSample(s, now)
  }
}

/**
 * The delay that brings an observed rate back to its bound if nothing more is recorded
 * (QuotaUtils.throttleTime): O * W / (W + X) = T gives X = (O - T) / T * W, rounded.
 */
export const throttleTimeMs = (observed: number, bound: number, windowSizeMs: number): number =>
  Math.round(((observed - bound) / bound) * windowSizeMs)
