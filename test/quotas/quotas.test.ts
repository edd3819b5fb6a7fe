/**
 * Client quotas under TestClock: Kafka's windowed rate (Rate over SampledStat), the throttle
 * time of QuotaUtils and its caps, the entity precedence of ClientQuotaManager, the combined
 * produce / fetch / request decisions of KafkaApis, and quotas following ClientQuotaRecords.
 * Expected numbers are Kafka's formulas worked by hand.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { TestClock } from "effect/testing"
import type { ClientQuotaImage } from "../../src/metadata/image.ts"
import { quotaEntityKey } from "../../src/metadata/image.ts"
import {
  ANONYMOUS_USER,
  fetchMaxBytesUnderQuota,
  fetchThrottle,
  makeClientQuotas,
  produceThrottle,
  requestThrottle
} from "../../src/quotas/ClientQuotas.ts"
import { ClientQuotaManager, DEFAULT_ENTITY, entityKey } from "../../src/quotas/quota-manager.ts"
import { SampledRate } from "../../src/quotas/rate.ts"

const KAFKA_WINDOWS = { samples: 11, windowMs: 1000 }
const now = Clock.currentTimeMillis

const quotas = (entries: ReadonlyArray<[string | undefined, string | undefined, number]>) =>
  new Map(entries.map(([user, clientId, bound]) => [entityKey(user, clientId), { user, clientId, bound }]))

describe("SampledRate (Kafka's Rate over a WindowedSum)", () => {
  it.effect("measures over at least samples-1 windows, then over the time since the oldest sample", () =>
    Effect.gen(function*() {
      const rate = new SampledRate(KAFKA_WINDOWS)
      const t0 = yield* now
      rate.record(1000, t0)
      // 0 ms elapsed counts as 10 full windows: 1000 bytes / 10 s.
      assert.strictEqual(rate.windowSize(t0), 10_000)
      assert.strictEqual(rate.measure(t0), 100)
      yield* TestClock.adjust("5500 millis")
      // 5.5 s elapsed: 5 full windows, padded with 5 more.
      assert.strictEqual(rate.windowSize(yield* now), 10_500)
      yield* TestClock.adjust("5000 millis")
      rate.record(500, yield* now)
      // 10.5 s since the first sample: no padding any more.
      assert.strictEqual(rate.windowSize(yield* now), 10_500)
      assert.closeTo(rate.measure(yield* now), 1500 / 10.5, 1e-9)
    }))

  it.effect("drops samples with no event for samples × window (11 s), keeps the ones overlapping the window", () =>
    Effect.gen(function*() {
      const rate = new SampledRate(KAFKA_WINDOWS)
      rate.record(1000, yield* now)
      yield* TestClock.adjust("6000 millis")
      rate.record(2000, yield* now)
      yield* TestClock.adjust("4999 millis")
      assert.closeTo(rate.measure(yield* now), 3000 / 10.999, 1e-9)
      yield* TestClock.adjust("1 millis")
      // The first sample is 11 s old: gone; the second is 5 s old, padded to 10 windows.
      assert.strictEqual(rate.measure(yield* now), 2000 / 10)
      yield* TestClock.adjust("6000 millis")
      assert.strictEqual(rate.measure(yield* now), 0)
    }))

  it.effect("rolls to a new sample each window and reuses the oldest of samples+1 slots", () =>
    Effect.gen(function*() {
      const rate = new SampledRate({ samples: 2, windowMs: 1000 })
      for (let i = 0; i < 5; i++) {
        rate.record(100, yield* now)
        yield* TestClock.adjust("1000 millis")
      }
      // At 5 s the 3 slots hold the samples of 2 s, 3 s and 4 s; those idle for 2 windows
      // (2 s, 3 s) are reset, the one of 4 s is measured over its 1 s (= samples − 1 windows).
      const t = yield* now
      assert.strictEqual(rate.windowSize(t), 1000)
      assert.strictEqual(rate.measure(t), 100)
      rate.record(100, t)
      assert.strictEqual(rate.measure(t), 200)
    }))
})

describe("ClientQuotaManager", () => {
  it.effect("throttles once the rate exceeds the quota, by (O - T) / T × W, rounded", () =>
    Effect.gen(function*() {
      const m = new ClientQuotaManager(KAFKA_WINDOWS)
      m.setQuotas(quotas([[undefined, "p", 100]]))
      const t = yield* now
      // 1000 bytes over the 10 s minimum window: exactly the quota, not over it.
      assert.strictEqual(m.record(ANONYMOUS_USER, "p", 1000, t), 0)
      // 1001 bytes: 100.1/s, 0.1% over: 10 ms.
      assert.strictEqual(m.record(ANONYMOUS_USER, "p", 1, t), 10)
      assert.strictEqual(m.record(ANONYMOUS_USER, "p", 1000, t), 10_010)
      // Other client ids have no quota.
      assert.strictEqual(m.record(ANONYMOUS_USER, "other", 1e9, t), 0)
      // Byte-rate throttles are not capped: a single huge burst may wait long.
      assert.strictEqual(m.record(ANONYMOUS_USER, "p", 1e6, t), Math.round(((1_002_001 / 10 - 100) / 100) * 10_000))
    }))

  it.effect("records nothing while no quota of its kind was ever set", () =>
    Effect.gen(function*() {
      const m = new ClientQuotaManager(KAFKA_WINDOWS)
      assert.isFalse(m.enabled)
      assert.strictEqual(m.record(ANONYMOUS_USER, "p", 1e12, yield* now), 0)
      assert.deepStrictEqual(m.usage(yield* now), [])
      assert.strictEqual(m.maxValueInQuotaWindow(ANONYMOUS_USER, "p", yield* now), Number.POSITIVE_INFINITY)
    }))

  it.effect("caps request-quota throttles at one window (ClientRequestQuotaManager)", () =>
    Effect.gen(function*() {
      const q = makeClientQuotas(KAFKA_WINDOWS, () => new Map([quotaImage([["client-id", "busy"]], { request_percentage: 1 })]))
      const t = yield* now
      // One whole second of handling is 100%: 10%/s over 10 s against 1%: 90 s uncapped.
      assert.strictEqual(requestThrottle(q, "busy", 1e9, t), 1000)
      assert.strictEqual(requestThrottle(q, "idle-client", 1e9, t), 0)
    }))

  it("applies Kafka's precedence: user+client, user+default client, user, default user+client, defaults, client, default client", () => {
    const m = new ClientQuotaManager(KAFKA_WINDOWS)
    const all: Array<[string | undefined, string | undefined, number]> = [
      ["alice", "app", 1],
      ["alice", DEFAULT_ENTITY, 2],
      ["alice", undefined, 3],
      [DEFAULT_ENTITY, "app", 4],
      [DEFAULT_ENTITY, DEFAULT_ENTITY, 5],
      [DEFAULT_ENTITY, undefined, 6],
      [undefined, "app", 7],
      [undefined, DEFAULT_ENTITY, 8]
    ]
    const limit = (user: string, clientId: string) => m.quotaLimit(m.quotaTags(user, clientId))
    for (let i = 0; i < all.length; i++) {
      m.setQuotas(quotas(all.slice(i)))
      assert.strictEqual(limit("alice", "app"), i + 1, `with levels ${i + 1}..8 set`)
    }
    m.setQuotas(quotas(all))
    assert.strictEqual(limit("alice", "other"), 2)
    assert.strictEqual(limit("bob", "app"), 4)
    assert.strictEqual(limit("bob", "other"), 5)
    m.setQuotas(quotas([]))
    assert.strictEqual(limit("alice", "app"), Number.POSITIVE_INFINITY)
  })

  it.effect("shares one rate among the clients the applying entity covers", () =>
    Effect.gen(function*() {
      const t = yield* now
      const byClient = new ClientQuotaManager(KAFKA_WINDOWS)
      byClient.setQuotas(quotas([[undefined, DEFAULT_ENTITY, 100]]))
      assert.deepStrictEqual(byClient.quotaTags("alice", "app"), { user: "", clientId: "app" })
      byClient.record("alice", "app", 600, t)
      // The same client id under another user counts together: 1200 bytes / 10 s.
      assert.strictEqual(byClient.record("bob", "app", 600, t), 2000)
      assert.strictEqual(byClient.record("bob", "other", 600, t), 0)

      const byUser = new ClientQuotaManager(KAFKA_WINDOWS)
      byUser.setQuotas(quotas([[ANONYMOUS_USER, undefined, 100]]))
      byUser.record(ANONYMOUS_USER, "a", 600, t)
      assert.strictEqual(byUser.record(ANONYMOUS_USER, "b", 600, t), 2000)
      assert.deepStrictEqual(byUser.usage(t).map((u) => [u.user, u.clientId, u.quota]), [[ANONYMOUS_USER, "", 100]])
    }))

  it.effect("takes a changed quota into sensors already measuring, and reports throttles per entity", () =>
    Effect.gen(function*() {
      const m = new ClientQuotaManager(KAFKA_WINDOWS)
      m.setQuotas(quotas([[undefined, "p", 100]]))
      const t = yield* now
      assert.strictEqual(m.record(ANONYMOUS_USER, "p", 1500, t), 5000)
      m.recordThrottle(ANONYMOUS_USER, "p", 5000, t)
      m.setQuotas(quotas([[undefined, "p", 1000]]))
      assert.strictEqual(m.record(ANONYMOUS_USER, "p", 1, t), 0)
      const [usage] = m.usage(t)
      assert.deepStrictEqual({ ...usage, rate: Math.round(usage!.rate * 10) / 10 }, {
        user: "",
        clientId: "p",
        rate: 150.1,
        quota: 1000,
        throttleTimeMsTotal: 5000,
        throttleCount: 1
      })
    }))
})

const quotaImage = (entity: ReadonlyArray<[string, string | null]>, values: Record<string, number>): [string, ClientQuotaImage] => {
  const components = entity.map(([entityType, entityName]) => ({ entityType, entityName }))
  return [quotaEntityKey(components), { entity: components, values: new Map(Object.entries(values)) }]
}

describe("ClientQuotas: KafkaApis' decisions over quotas from ClientQuotaRecords", () => {
  it.effect("produce: bytes against producer_byte_rate, time against request_percentage except for acks=0; the larger wins", () =>
    Effect.gen(function*() {
      const q = makeClientQuotas(KAFKA_WINDOWS, () =>
        new Map([
          quotaImage([["client-id", "p"]], { producer_byte_rate: 100 }),
          quotaImage([["client-id", "r"]], { request_percentage: 1 })
        ]))
      const t = yield* now
      assert.strictEqual(produceThrottle(q, "p", 2000, 0, 1, t), 10_000)
      // Request time alone: 1 s of handling is capped at 1000 ms; acks=0 is exempt from it.
      assert.strictEqual(produceThrottle(q, "r", 2000, 1e9, 1, t), 1000)
      assert.strictEqual(produceThrottle(q, "r", 2000, 1e9, 0, t), 0)
      assert.deepStrictEqual(q.produce.usage(t).map((u) => [u.clientId, u.throttleCount]), [["p", 1], ["r", 0]])
      assert.deepStrictEqual(q.request.usage(t).map((u) => [u.clientId, u.throttleCount]), [["p", 0], ["r", 1]])
    }))

  it.effect("fetch: capped at quota × (samples − 1) windows; a throttled response is not counted", () =>
    Effect.gen(function*() {
      const q = makeClientQuotas(KAFKA_WINDOWS, () => new Map([quotaImage([["user", null]], { consumer_byte_rate: 100 })]))
      const t = yield* now
      assert.strictEqual(fetchMaxBytesUnderQuota(q, "c", t), 1000)
      assert.strictEqual(fetchThrottle(q, "c", 1000, 0, t), 0)
      assert.strictEqual(fetchThrottle(q, "c", 500, 0, t), 5000)
      // Unrecorded: the rate is back to 1000 bytes / 10 s.
      assert.strictEqual(q.fetch.usage(t)[0]!.rate, 100)
      yield* TestClock.adjust("11000 millis")
      assert.strictEqual(fetchThrottle(q, "c", 500, 0, yield* now), 0)
    }))

  it.effect("follows the image: a quota altered or removed applies to the next request", () =>
    Effect.gen(function*() {
      let image = new Map([quotaImage([["client-id", null]], { producer_byte_rate: 100 })])
      const q = makeClientQuotas(KAFKA_WINDOWS, () => image)
      const t = yield* now
      assert.strictEqual(produceThrottle(q, "any", 2000, 0, 1, t), 10_000)
      image = new Map([quotaImage([["client-id", null]], { producer_byte_rate: 1000 })])
      assert.strictEqual(produceThrottle(q, "any", 1, 0, 1, t), 0)
      image = new Map([quotaImage([["client-id", "any"]], { producer_byte_rate: 10 })])
      assert.strictEqual(produceThrottle(q, "any", 1, 0, 1, t), Math.round(((2002 / 10 - 10) / 10) * 10_000))
      image = new Map()
      assert.strictEqual(produceThrottle(q, "any", 1e9, 0, 1, t), 0)
      // ip quotas are connection quotas, not these.
      image = new Map([quotaImage([["ip", null]], { connection_creation_rate: 1 })])
      assert.strictEqual(produceThrottle(q, "any", 1e9, 0, 1, t), 0)
    }))
})
