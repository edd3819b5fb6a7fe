/**
 * Instruments cheap enough for the request path: plain numbers and typed arrays updated with
 * arithmetic, registered in an effect Metric registry with `Metric.registerUnsafe`, which
 * reads them when the registry is snapshotted (a scrape). Updating an effect Metric directly
 * looks its series up in the registry on every update, which cost more than the rest of a
 * small produce.
 */
import { type Context, Metric } from "effect"

type Attributes = Readonly<Record<string, string>> | undefined

const ignore = () => {}

/** A monotonic count. */
export class Count {
  value = 0
  add(n: number): void {
    this.value += n
  }
}

/** A gauge whose value is set. */
export class Level {
  value = 0
}

/** Observations into fixed buckets (upper bounds, ascending); Prometheus' cumulative form on read. */
export class Histogram {
  readonly boundaries: ReadonlyArray<number>
  readonly counts: Float64Array
  count = 0
  sum = 0
  min = Number.MAX_VALUE
  max = -Number.MAX_VALUE
  constructor(boundaries: ReadonlyArray<number>) {
    this.boundaries = boundaries
    this.counts = new Float64Array(boundaries.length + 1)
  }
  observe(value: number): void {
    const b = this.boundaries
    let i = 0
    while (i < b.length && value > b[i]!) i++
    this.counts[i]!++
    this.count++
    this.sum += value
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
  }
  state(): Metric.HistogramState {
    const buckets: Array<[number, number]> = []
    let cumulated = 0
    for (let i = 0; i < this.boundaries.length; i++) {
      cumulated += this.counts[i]!
      buckets.push([this.boundaries[i]!, cumulated])
    }
    return { buckets, count: this.count, min: this.min, max: this.max, sum: this.sum }
  }
}

export interface Registered {
  readonly remove: () => void
}

export const registerCount = (context: Context.Context<never>, name: string, description: string, attributes: Attributes, count: Count): Registered =>
  Metric.registerUnsafe(Metric.counter(name, { description, attributes }), context, {
    get: () => ({ count: count.value, incremental: false }),
    update: ignore,
    modify: ignore
  })

export const registerLevel = (context: Context.Context<never>, name: string, description: string, attributes: Attributes, level: Level): Registered =>
  Metric.registerUnsafe(Metric.gauge(name, { description, attributes }), context, {
    get: () => ({ value: level.value }),
    update: ignore,
    modify: ignore
  })

export const registerHistogram = (context: Context.Context<never>, name: string, description: string, attributes: Attributes, histogram: Histogram): Registered =>
  Metric.registerUnsafe(Metric.histogram(name, { description, attributes, boundaries: histogram.boundaries }), context, {
    get: () => histogram.state(),
    update: ignore,
    modify: ignore
  })
