/**
 * One kind of client quota (produce bytes, fetch bytes, or request time) as Kafka's
 * ClientQuotaManager enforces it: which quota applies to a (user, client id) by Kafka's
 * precedence, one windowed rate per quota entity in use, and the throttle time when a
 * recorded value takes the rate over its bound. Plain code; times are the caller's clock.
 *
 * Precedence, most specific first (DefaultQuotaCallback):
 *   user + client-id, user + default client-id, user, default user + client-id,
 *   default user + default client-id, default user, client-id, default client-id.
 * Clients that share the quota entity that applies share its rate: with only client-id
 * quotas set, all users of one client id count together; with only user quotas, all client
 * ids of one user. As in Kafka, once a level of quotas has been set the manager keeps that
 * sharing until restart, even if the quotas are removed.
 */
import { type RateConfig, SampledRate, throttleTimeMs } from "./rate.ts"

/** A quota entity's name for the default entity of its type (Kafka's ZooKeeperInternals.DEFAULT_STRING). */
export const DEFAULT_ENTITY = "<default>"

/** Kafka's QuotaTypes bits: which levels of quotas have ever been set. */
const CLIENT_ID_QUOTAS = 1
const USER_QUOTAS = 2
const USER_CLIENT_ID_QUOTAS = 4

/** Kafka forgets a client's sensors after an hour without use (InactiveSensorExpirationTimeSeconds). */
export const INACTIVE_SENSOR_EXPIRATION_MS = 3_600_000

/**
 * A quota entity as a lookup key: user and client id, each a name, DEFAULT_ENTITY, or
 * undefined when the entity has no component of that type.
 */
export const entityKey = (user: string | undefined, clientId: string | undefined): string =>
  `${user === undefined ? "\u0000" : `u${user}`}\u0001${clientId === undefined ? "\u0000" : `c${clientId}`}`

/** The metric tags Kafka names a client's quota sensor by: the entity whose quota it shares. */
export interface QuotaTags {
  readonly user: string
  readonly clientId: string
}

interface ClientSensor {
  readonly tags: QuotaTags
  readonly rate: SampledRate
  /** The bound in force for this sensor (Kafka's MetricConfig quota), +Infinity when none applies. */
  bound: number
  lastUsedMs: number
}

export interface QuotaUsage {
  readonly user: string
  readonly clientId: string
  /** The rate at `now`, per second. */
  readonly rate: number
  /** The quota in force, undefined when none. */
  readonly quota: number | undefined
  /** Total throttle time (ms) handed to the entity since the manager started. */
  readonly throttleTimeMsTotal: number
  readonly throttleCount: number
}

export class ClientQuotaManager {
  private readonly overrides = new Map<string, number>()
  private readonly sensors = new Map<string, ClientSensor>()
  private readonly throttleTotals = new Map<string, { ms: number; count: number }>()
  private quotaTypesEnabled = 0
  private lastExpiryMs = 0
  config: RateConfig
  /** Caps throttle times (the request quota caps at one window); +Infinity for byte rates. */
  private readonly maxThrottleTimeMs: number

  constructor(config: RateConfig, maxThrottleTimeMs = Number.POSITIVE_INFINITY) {
    this.config = config
    this.maxThrottleTimeMs = maxThrottleTimeMs
  }

  /** Whether any quota of this kind has been set since start (Kafka records nothing until then). */
  get enabled(): boolean {
    return this.quotaTypesEnabled !== 0
  }

  /**
   * Replaces the quotas: entityKey(user, clientId) → bound. Sensors already created take
   * their new bound at once (Kafka's updateQuotaMetricConfigs).
   */
  setQuotas(quotas: ReadonlyMap<string, { readonly user: string | undefined; readonly clientId: string | undefined; readonly bound: number }>): void {
    this.overrides.clear()
    for (const [key, q] of quotas) {
      this.overrides.set(key, q.bound)
      if (q.user !== undefined) this.quotaTypesEnabled |= q.clientId !== undefined ? USER_CLIENT_ID_QUOTAS : USER_QUOTAS
      else if (q.clientId !== undefined) this.quotaTypesEnabled |= CLIENT_ID_QUOTAS
    }
    for (const s of this.sensors.values()) s.bound = this.quotaLimit(s.tags)
  }

  /** The entity whose quota (and rate) a client shares (DefaultQuotaCallback.quotaMetricTags). */
  quotaTags(user: string, clientId: string): QuotaTags {
    switch (this.quotaTypesEnabled) {
      case 0:
      case CLIENT_ID_QUOTAS:
        return { user: "", clientId }
      case USER_QUOTAS:
        return { user, clientId: "" }
      case USER_CLIENT_ID_QUOTAS:
        return { user, clientId }
    }
    const has = (u: string | undefined, c: string | undefined) => this.overrides.has(entityKey(u, c))
    if (has(user, clientId) || has(user, DEFAULT_ENTITY)) return { user, clientId }
    if (has(user, undefined)) return { user, clientId: "" }
    if (has(DEFAULT_ENTITY, clientId) || has(DEFAULT_ENTITY, DEFAULT_ENTITY)) return { user, clientId }
    if (has(DEFAULT_ENTITY, undefined)) return { user, clientId: "" }
    return { user: "", clientId }
  }

  /** The bound for a sensor's tags by Kafka's precedence, +Infinity when no quota applies. */
  quotaLimit(tags: QuotaTags): number {
    const get = (u: string | undefined, c: string | undefined) => this.overrides.get(entityKey(u, c))
    const { user, clientId } = tags
    let q: number | undefined
    if (user !== "" && clientId !== "") {
      q = get(user, clientId) ?? get(user, DEFAULT_ENTITY) ?? get(DEFAULT_ENTITY, clientId) ?? get(DEFAULT_ENTITY, DEFAULT_ENTITY)
    } else if (user !== "") {
      q = get(user, undefined) ?? get(DEFAULT_ENTITY, undefined)
    } else if (clientId !== "") {
      q = get(undefined, clientId) ?? get(undefined, DEFAULT_ENTITY)
    }
    return q ?? Number.POSITIVE_INFINITY
  }

  /**
   * Records `value` for the client at `now` and returns how long (ms) to throttle it: 0 while
   * the rate stays within its quota (Kafka's recordAndGetThrottleTimeMs). Nothing is recorded
   * while no quota of this kind was ever set (maybeRecordAndGetThrottleTimeMs).
   */
  record(user: string, clientId: string, value: number, now: number): number {
    if (!this.enabled) return 0
    const sensor = this.sensorFor(user, clientId, now)
    sensor.rate.record(value, now)
    if (sensor.bound === Number.POSITIVE_INFINITY) return 0
    const observed = sensor.rate.measure(now)
    if (observed <= sensor.bound) return 0
    return Math.min(throttleTimeMs(observed, sensor.bound, sensor.rate.windowSize(now)), this.maxThrottleTimeMs)
  }

  /** Records without a quota check: the value counts against the next request (recordNoThrottle). */
  recordNoThrottle(user: string, clientId: string, value: number, now: number): void {
    if (!this.enabled) return
    this.sensorFor(user, clientId, now).rate.record(value, now)
  }

  /** Takes back a value recorded for a response that is not sent (a throttled fetch). */
  unrecord(user: string, clientId: string, value: number, now: number): void {
    if (!this.enabled) return
    this.sensorFor(user, clientId, now).rate.record(-value, now)
  }

  /**
   * The most that can be recorded at once without being throttled for sure
   * (getMaxValueInQuotaWindow): quota × (samples − 1) windows. +Infinity without a quota.
   */
  maxValueInQuotaWindow(user: string, clientId: string, now: number): number {
    if (!this.enabled) return Number.POSITIVE_INFINITY
    const bound = this.sensorFor(user, clientId, now).bound
    return bound * (this.config.samples - 1) * (this.config.windowMs / 1000)
  }

  /** Counts a throttle handed to the client (Kafka's throttle-time sensor). */
  recordThrottle(user: string, clientId: string, throttleMs: number, now: number): void {
    if (throttleMs <= 0) return
    const sensor = this.sensorFor(user, clientId, now)
    const key = entityKey(sensor.tags.user, sensor.tags.clientId)
    const total = this.throttleTotals.get(key)
    if (total === undefined) this.throttleTotals.set(key, { ms: throttleMs, count: 1 })
    else {
      total.ms += throttleMs
      total.count += 1
    }
  }

  /** Every quota entity in use: its rate and quota at `now`, and its throttle totals. */
  usage(now: number): Array<QuotaUsage> {
    const out: Array<QuotaUsage> = []
    for (const [key, s] of this.sensors) {
      const total = this.throttleTotals.get(key)
      out.push({
        user: s.tags.user,
        clientId: s.tags.clientId,
        rate: s.rate.measure(now),
        quota: s.bound === Number.POSITIVE_INFINITY ? undefined : s.bound,
        throttleTimeMsTotal: total?.ms ?? 0,
        throttleCount: total?.count ?? 0
      })
    }
    return out
  }

  private sensorFor(user: string, clientId: string, now: number): ClientSensor {
    this.expireInactive(now)
    const tags = this.quotaTags(user, clientId)
    const key = entityKey(tags.user, tags.clientId)
    let sensor = this.sensors.get(key)
    if (sensor === undefined) {
      sensor = { tags, rate: new SampledRate(this.config), bound: this.quotaLimit(tags), lastUsedMs: now }
      this.sensors.set(key, sensor)
    }
    sensor.lastUsedMs = now
    return sensor
  }

  /** Kafka's sensors expire after an hour unused: a broker seeing many client ids does not keep them all. */
  private expireInactive(now: number): void {
    if (now - this.lastExpiryMs < 30_000) return
    this.lastExpiryMs = now
    for (const [key, s] of this.sensors) {
      if (now - s.lastUsedMs >= INACTIVE_SENSOR_EXPIRATION_MS) {
        this.sensors.delete(key)
        this.throttleTotals.delete(key)
      }
    }
  }
}
