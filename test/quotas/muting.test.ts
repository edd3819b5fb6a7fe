/**
 * KIP-219 channel muting under TestClock: a throttled response is written at once, then the
 * connection handles no further request (already buffered or newly arriving) until the
 * throttle time has passed on the broker's clock. Also the request quota wrapper: the time a
 * handler takes is recorded against request_percentage, and the response carries the throttle.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Queue } from "effect"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"
import { defineHandler } from "../../src/handlers/handler.ts"
import { makeRegistry } from "../../src/handlers/registry.ts"
import type { ClientQuotaImage } from "../../src/metadata/image.ts"
import { quotaEntityKey } from "../../src/metadata/image.ts"
import { ListGroups } from "../../src/protocol/generated/apis.ts"
import { makeClientQuotas } from "../../src/quotas/ClientQuotas.ts"
import { withRequestQuota } from "../../src/quotas/request-quota.ts"
import { type ConnectionHandle, serveConnection } from "../../src/server/connection.ts"
import { decodeResponse, encodeRequest } from "../support/wire-client.ts"

const THROTTLE_MS = 1000

/** A ListGroups that throttles its client for THROTTLE_MS, as a quota violation would. */
const throttling = defineHandler(ListGroups, {
  minVersion: 0,
  maxVersion: 5,
  handle: (_request, ctx) => {
    ctx.throttleChannel?.(THROTTLE_MS)
    return Effect.succeed({ throttleTimeMs: THROTTLE_MS, errorCode: 0, groups: [] })
  }
})

/** A ListGroups that works for a few real milliseconds (request time for the request quota). */
const busy = defineHandler(ListGroups, {
  minVersion: 0,
  maxVersion: 5,
  handle: () => {
    const until = performance.now() + 2
    while (performance.now() < until) { /* spin: handling time the request quota counts */ }
    return Effect.succeed({ throttleTimeMs: 0, errorCode: 0, groups: [] })
  }
})

/** An in-memory socket: chunks offered to `incoming` are read by the broker; writes are kept. */
const fakeSocket = Effect.gen(function*() {
  const incoming = yield* Queue.unbounded<Uint8Array>()
  const written: Array<Uint8Array> = []
  const socket = Socket.make({
    reader: Effect.succeed({ pull: Effect.map(Queue.take(incoming), (c) => [c] as const), upgrade: () => Effect.void }),
    writer: Effect.succeed({
      write: (chunk) => Effect.sync(() => void written.push(chunk as Uint8Array)),
      writeAll: (chunks) => Effect.sync(() => void written.push(...(chunks as ReadonlyArray<Uint8Array>)))
    })
  })
  /** Response frames written so far, correlation ids and throttle times. */
  const responses = () => {
    const all = Buffer.concat(written)
    const out: Array<{ correlationId: number; throttleTimeMs: number }> = []
    let pos = 0
    while (pos + 4 <= all.length) {
      const size = all.readInt32BE(pos)
      const { correlationId, body } = decodeResponse(ListGroups, 4, all.subarray(pos + 4, pos + 4 + size))
      out.push({ correlationId, throttleTimeMs: body.throttleTimeMs })
      pos += 4 + size
    }
    return out
  }
  return { socket, incoming, responses }
})

const listGroups = (correlationId: number) => encodeRequest(ListGroups, 4, correlationId, { statesFilter: [] }, "muted-client")

/** Lets the connection's fibers run (bounded: no waiting on the real clock). */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

const serve = (socket: Socket.Socket, registry: ReturnType<typeof makeRegistry<never>>, onHandle: (h: ConnectionHandle) => void = () => {}) =>
  serveConnection(socket, registry, {
    clientAddress: "127.0.0.1:1",
    listenerName: "PLAINTEXT",
    advertisedHost: "127.0.0.1",
    advertisedPort: 9092,
    maxRequestSize: 1 << 20,
    drainTimeout: "1 second",
    maxQueuedRequests: 500,
    abort: () => {}
  }, (h) => Effect.sync(() => onHandle(h)))

describe("channel muting (KIP-219)", () => {
  it.effect("answers a throttled request at once, then handles nothing more until the throttle has passed", () =>
    Effect.gen(function*() {
      const { socket, incoming, responses } = yield* fakeSocket
      let handle: ConnectionHandle | undefined
      const fiber = yield* Effect.forkChild(serve(socket, makeRegistry([throttling]), (h) => (handle = h)))
      // Two requests in one read: the second waits out the first's throttle.
      yield* Queue.offer(incoming, Buffer.concat([listGroups(1), listGroups(2)]))
      yield* settle
      assert.deepStrictEqual(responses(), [{ correlationId: 1, throttleTimeMs: THROTTLE_MS }])
      // Muted by the broker: not idle, whatever the idle sweep's deadline.
      assert.isUndefined(handle!.idleness(Number.MAX_SAFE_INTEGER))
      // A request arriving meanwhile is read but held too.
      yield* Queue.offer(incoming, listGroups(3))
      yield* TestClock.adjust(`${THROTTLE_MS - 1} millis`)
      yield* settle
      assert.strictEqual(responses().length, 1)
      yield* TestClock.adjust("1 millis")
      yield* settle
      // Request 2 is answered (and throttles again): 3 waits another full throttle.
      assert.deepStrictEqual(responses().map((r) => r.correlationId), [1, 2])
      yield* TestClock.adjust(`${THROTTLE_MS} millis`)
      yield* settle
      assert.deepStrictEqual(responses().map((r) => r.correlationId), [1, 2, 3])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("request_percentage: a client over its share of handling time is throttled (capped at one window) and muted; others are not", () =>
    Effect.gen(function*() {
      const components = [{ entityType: "client-id", entityName: "muted-client" }]
      const image: [string, ClientQuotaImage] = [quotaEntityKey(components), { entity: components, values: new Map([["request_percentage", 0.001]]) }]
      const quotas = makeClientQuotas({ samples: 11, windowMs: 1000 }, () => new Map([image]))
      const clock = yield* Effect.clockWith(Effect.succeed)
      const registry = makeRegistry([withRequestQuota(busy, quotas, clock)])
      const { socket, incoming, responses } = yield* fakeSocket
      const fiber = yield* Effect.forkChild(serve(socket, registry))
      yield* Queue.offer(incoming, Buffer.concat([listGroups(1), listGroups(2)]))
      yield* settle
      // 2 ms of 1 s is 0.2%, over 0.001%: throttled by far more than a window, capped at 1000 ms.
      assert.deepStrictEqual(responses(), [{ correlationId: 1, throttleTimeMs: 1000 }])
      yield* TestClock.adjust("1000 millis")
      yield* settle
      assert.deepStrictEqual(responses().map((r) => r.correlationId), [1, 2])
      yield* Fiber.interrupt(fiber)

      const other = yield* fakeSocket
      const otherFiber = yield* Effect.forkChild(serve(other.socket, registry))
      yield* Queue.offer(other.incoming, Buffer.concat([encodeRequest(ListGroups, 4, 7, { statesFilter: [] }, "free-client"), encodeRequest(ListGroups, 4, 8, { statesFilter: [] }, "free-client")]))
      yield* settle
      assert.deepStrictEqual(other.responses(), [{ correlationId: 7, throttleTimeMs: 0 }, { correlationId: 8, throttleTimeMs: 0 }])
      yield* Fiber.interrupt(otherFiber)
    }))
})
