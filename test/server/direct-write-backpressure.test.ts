/**
 * The direct write path under output backpressure, driven step by step through an in-memory
 * DirectWriter: the test decides when the socket needs a drain and when it drains, and
 * delivers request bytes synchronously to a waiting pull, as the Node socket does.
 *
 * The stall this guards against (seen as a fetch bench connection never answered): the frame
 * loop waits for progress (a write in flight and over OUTPUT_BACKLOG_LIMIT of responses
 * behind it); the socket drains, the next write signals progress, and the loop, resumed
 * synchronously inside that signal, reads the request waiting meanwhile, answers it and
 * waits again, on a new wait that the signal then cleared. Nothing woke it again.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Socket from "effect/socket/Socket"
import { defineHandler } from "../../src/handlers/handler.ts"
import { makeRegistry } from "../../src/handlers/registry.ts"
import { ListGroups } from "../../src/protocol/generated/apis.ts"
import { OUTPUT_BACKLOG_LIMIT, serveConnection } from "../../src/server/connection.ts"
import type { DirectWriter } from "../../src/server/Listeners.ts"
import { encodeRequest } from "../support/wire-client.ts"

/** A ListGroups answered with more than OUTPUT_BACKLOG_LIMIT bytes (as a large fetch response). */
const GROUP_NAME = "g".repeat(60_000)
const GROUPS = Math.ceil(OUTPUT_BACKLOG_LIMIT / GROUP_NAME.length) + 1
const large = defineHandler(ListGroups, {
  minVersion: 0,
  maxVersion: 5,
  handle: () =>
    Effect.succeed({
      throttleTimeMs: 0,
      errorCode: 0,
      groups: Array.from({ length: GROUPS }, () => ({ groupId: GROUP_NAME, protocolType: "consumer", groupState: "Stable", groupType: "classic" }))
    })
})

const listGroups = (correlationId: number) => encodeRequest(ListGroups, 4, correlationId, { statesFilter: [] }, "backpressured")

/** The socket as the connection sees it: reads handed to a waiting pull at once, writes kept, drains on demand. */
const directSocket = () => {
  const written: Array<Buffer> = []
  let unread: Array<Uint8Array> = []
  let reader: ((effect: Effect.Effect<ReadonlyArray<Uint8Array>>) => void) | undefined
  let needsDrain = false
  let drainWaiter: (() => void) | undefined
  const direct: DirectWriter = {
    write: (chunks, onWritten) => {
      written.push(Buffer.concat(chunks))
      onWritten?.()
      return !needsDrain
    },
    onDrained: (f) => {
      if (!needsDrain) return f()
      const before = drainWaiter
      drainWaiter = before === undefined ? f : () => {
        before()
        f()
      }
    },
    // Every write is copied above: the connection may reuse its buffers at once.
    flushed: () => true,
    takeOverReading: () =>
      Effect.callback<ReadonlyArray<Uint8Array>>((resume) => {
        if (unread.length > 0) {
          const got = unread
          unread = []
          return resume(Effect.succeed(got))
        }
        reader = resume
        return Effect.sync(() => {
          if (reader === resume) reader = undefined
        })
      }),
    readState: () => ""
  }
  return {
    direct,
    /** Request bytes arriving: to the waiting pull now (as a socket's `data` event), else kept for the next pull. */
    receive: (bytes: Uint8Array) =>
      Effect.sync(() => {
        const waiting = reader
        reader = undefined
        if (waiting !== undefined) waiting(Effect.succeed([bytes]))
        else unread.push(bytes)
      }),
    /** Whether writes from now on fill the socket's buffer. */
    setNeedsDrain: (value: boolean) => Effect.sync(() => void (needsDrain = value)),
    /** The socket drains: whoever waits for it runs, in this call (a `drain` event). */
    drain: Effect.sync(() => {
      const f = drainWaiter
      drainWaiter = undefined
      f?.()
    }),
    /** The correlation ids of the response frames written so far. */
    answered: (): Array<number> => {
      const all = Buffer.concat(written)
      const ids: Array<number> = []
      for (let pos = 0; pos + 8 <= all.length; pos += 4 + all.readInt32BE(pos)) ids.push(all.readInt32BE(pos + 4))
      return ids
    }
  }
}

/** Lets the connection's fibers run (bounded: no waiting on a clock). */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

/** A connection served over `directSocket`, in a fiber of its own. */
const startDirect = Effect.gen(function*() {
  const s = directSocket()
  const socket = Socket.make({
    reader: Effect.succeed({ pull: Effect.never, upgrade: () => Effect.void }),
    writer: Effect.succeed({ write: () => Effect.void, writeAll: () => Effect.void })
  })
  const fiber = yield* Effect.forkChild(serveConnection(socket, makeRegistry([large]), {
    clientAddress: "127.0.0.1:1",
    listenerName: "PLAINTEXT",
    advertisedHost: "127.0.0.1",
    advertisedPort: 9092,
    maxRequestSize: 1 << 20,
    drainTimeout: "1 second",
    maxQueuedRequests: 500,
    abort: () => {},
    direct: s.direct
  }, () => Effect.void))
  yield* settle
  return { s, fiber }
})

/** A connection waiting for progress: 1 written (filling the socket), 2 behind it over the limit, 3 unread. */
const serveDirect = Effect.gen(function*() {
  const { s, fiber } = yield* startDirect
  // 1 is written and fills the socket; 2 is answered behind it, over the backlog limit:
  // the loop stops reading and waits for progress.
  yield* s.setNeedsDrain(true)
  yield* s.receive(listGroups(1))
  yield* settle
  yield* s.receive(listGroups(2))
  yield* settle
  assert.deepStrictEqual(s.answered(), [1])
  // 3 arrives while the loop waits: kept for its next read.
  yield* s.receive(listGroups(3))
  yield* settle
  assert.deepStrictEqual(s.answered(), [1])
  return { s, fiber }
})

describe("direct writes under output backpressure", () => {
  it.effect("requests read together stop being handled once their responses reach the backlog limit", () =>
    Effect.gen(function*() {
      const { s, fiber } = yield* startDirect
      // One read holds three requests (a wake-up's worth of socket chunks): 1's response alone
      // reaches the limit, so it is written, and 2 and 3 wait for the socket to take it.
      yield* s.setNeedsDrain(true)
      yield* s.receive(Buffer.concat([listGroups(1), listGroups(2), listGroups(3)]))
      yield* settle
      assert.deepStrictEqual(s.answered(), [1])
      yield* s.setNeedsDrain(false)
      yield* s.drain
      yield* settle
      assert.deepStrictEqual(s.answered(), [1, 2, 3])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a request read while a drained write resumes the loop is answered, and so is the next one", () =>
    Effect.gen(function*() {
      const { s, fiber } = yield* serveDirect
      // The socket drains and 2 is written (filling it again): the loop resumes in that
      // write's signal, reads 3, answers it and waits again, 3 being over the limit too.
      yield* s.drain
      yield* settle
      assert.deepStrictEqual(s.answered(), [1, 2])
      // The socket drains for good: 3 is written and the loop must read again.
      yield* s.setNeedsDrain(false)
      yield* s.drain
      yield* settle
      assert.deepStrictEqual(s.answered(), [1, 2, 3])
      yield* s.receive(listGroups(4))
      yield* settle
      assert.deepStrictEqual(s.answered(), [1, 2, 3, 4])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a response finished inside the write that drained the socket is written by that write's callback", () =>
    Effect.gen(function*() {
      const { s, fiber } = yield* serveDirect
      // The socket drains for good: writing 2 resumes the loop, which answers 3 while that
      // write is still in progress (its own flush leaves 3 to it).
      yield* s.setNeedsDrain(false)
      yield* s.drain
      yield* settle
      assert.deepStrictEqual(s.answered(), [1, 2, 3])
      yield* s.receive(listGroups(4))
      yield* settle
      assert.deepStrictEqual(s.answered(), [1, 2, 3, 4])
      yield* Fiber.interrupt(fiber)
    }))
})
