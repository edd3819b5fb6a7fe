/**
 * The Produce and Fetch handlers under client quotas (TestClock, real LogStore): the throttle
 * goes into throttle_time_ms and to the connection's mute; acks=0 is muted without a response;
 * a throttled consumer fetch is answered empty, with the session id only for an incremental
 * session (Kafka's getThrottledResponse), and a fetch asks no more than the quota allows.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { FetchHandler } from "../../src/handlers/Fetch.ts"
import { type AnyHandler, NO_RESPONSE } from "../../src/handlers/handler.ts"
import { ProduceHandler } from "../../src/handlers/Produce.ts"
import type { ClientQuotaImage } from "../../src/metadata/image.ts"
import { quotaEntityKey } from "../../src/metadata/image.ts"
import type { AnyApi } from "../../src/protocol/api.ts"
import { ClientQuotas, makeClientQuotas } from "../../src/quotas/ClientQuotas.ts"
import {
  batch,
  dataPlaneLayer,
  decodedRequest,
  fetchRequest,
  produceRequest,
  removeTempDirs,
  requestContext,
  roundTripResponse
} from "../handlers/data-plane/helpers.ts"

afterEach(removeTempDirs)

const CLIENT = "data-plane-test"

const quotaImage = (values: Record<string, number>): [string, ClientQuotaImage] => {
  const entity = [{ entityType: "client-id", entityName: CLIENT }]
  return [quotaEntityKey(entity), { entity, values: new Map(Object.entries(values)) }]
}

const withQuotas = (values: Record<string, number>) =>
  Layer.merge(
    dataPlaneLayer([{ name: "t", partitions: 1 }]),
    Layer.succeed(ClientQuotas, makeClientQuotas({ samples: 11, windowMs: 1000 }, () => new Map([quotaImage(values)])))
  )

/** Runs a handler as the dispatcher would, with the request's wire size and a mute recorder. */
const handle = <R>(handler: AnyHandler<R>, version: number, init: unknown, requestSize = 0) =>
  Effect.gen(function*() {
    const mutes: Array<number> = []
    const ctx = { ...requestContext(handler.api as AnyApi, version), requestSize, throttleChannel: (ms: number) => void mutes.push(ms) }
    const body = yield* handler.handle(decodedRequest(handler.api as AnyApi, version, init), ctx)
    return { body: body === NO_RESPONSE ? NO_RESPONSE : roundTripResponse(handler.api as AnyApi, version, body), mutes }
  })

describe("Produce under producer_byte_rate", () => {
  it.effect("answers with the throttle and mutes for it; acks=0 is muted without a response", () =>
    Effect.gen(function*() {
      const request = produceRequest([["t", [[0, batch(1)]]]])
      const first = yield* handle(ProduceHandler, 9, request, 1000)
      assert.strictEqual(first.body.throttleTimeMs, 0)
      assert.deepStrictEqual(first.mutes, [])
      // 2000 bytes in the 10 s minimum window against 100 B/s: (200 − 100) / 100 × 10 s.
      const second = yield* handle(ProduceHandler, 9, request, 1000)
      assert.strictEqual(second.body.responses[0].partitionResponses[0].errorCode, 0)
      assert.strictEqual(second.body.throttleTimeMs, 10_000)
      assert.deepStrictEqual(second.mutes, [10_000])
      const silent = yield* handle(ProduceHandler, 9, { ...request, acks: 0 }, 1000)
      assert.strictEqual(silent.body, NO_RESPONSE)
      assert.deepStrictEqual(silent.mutes, [20_000])
    }).pipe(Effect.provide(withQuotas({ producer_byte_rate: 100 }))))
})

describe("Fetch under consumer_byte_rate", () => {
  it.effect("asks at most quota × 10 windows; once over, answers empty (session id kept only for an incremental fetch) and does not count it", () =>
    Effect.gen(function*() {
      yield* handle(ProduceHandler, 9, produceRequest([["t", [[0, batch(20, { valueSize: 150 })]]]]))
      // A full fetch that opens a session: 500 B/s × 10 windows caps it at 5000 bytes; its ~3.5 KB pass.
      const first = yield* handle(FetchHandler, 12, fetchRequest([{ topic: "t", partition: 0 }], { sessionEpoch: 0 }))
      const records = first.body.responses[0].partitions[0].records as Uint8Array
      assert.isAbove(records.length, 2000)
      assert.strictEqual(first.body.throttleTimeMs, 0)
      const sessionId = first.body.sessionId as number
      assert.isAbove(sessionId, 0)
      // The same again in the session: over 500 B/s, so throttled, empty, session kept.
      const second = yield* handle(FetchHandler, 12, fetchRequest([{ topic: "t", partition: 0 }], { sessionId, sessionEpoch: 1 }))
      assert.isAbove(second.body.throttleTimeMs, 0)
      assert.deepStrictEqual(second.mutes, [second.body.throttleTimeMs])
      assert.deepStrictEqual(second.body.responses, [])
      assert.strictEqual(second.body.sessionId, sessionId)
      // A sessionless full fetch throttled answers session id 0.
      const third = yield* handle(FetchHandler, 12, fetchRequest([{ topic: "t", partition: 0 }]))
      assert.isAbove(third.body.throttleTimeMs, 0)
      assert.strictEqual(third.body.sessionId, 0)
      assert.deepStrictEqual(third.body.responses, [])
      // Throttled responses were not counted: once the first fetch's sample expires (11 s), all is clear.
      yield* TestClock.adjust("11 seconds")
      const later = yield* handle(FetchHandler, 12, fetchRequest([{ topic: "t", partition: 0 }]))
      assert.strictEqual(later.body.throttleTimeMs, 0)
      assert.strictEqual((later.body.responses[0].partitions[0].records as Uint8Array).length, records.length)
    }).pipe(Effect.provide(withQuotas({ consumer_byte_rate: 500 }))))

  it.effect("caps max_bytes at what the quota allows over the windows (the response's own overhead then throttles a little, as in Kafka)", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 4; i++) yield* handle(ProduceHandler, 9, produceRequest([["t", [[0, batch(10, { valueSize: 100, prefix: `b${i}` })]]]]))
      // 300 B/s × 10 windows = 3000 bytes read of the ~5 KB asked for: the rate is then just
      // over the quota (by the response overhead), so a short throttle, where the whole log
      // (~520 B/s) would have earned over 7 s.
      const { body } = yield* handle(FetchHandler, 12, fetchRequest([{ topic: "t", partition: 0 }], { maxBytes: 1 << 20 }))
      assert.isAbove(body.throttleTimeMs, 0)
      assert.isBelow(body.throttleTimeMs, 1000)
    }).pipe(Effect.provide(withQuotas({ consumer_byte_rate: 300 }))))
})
