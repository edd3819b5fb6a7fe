/**
 * A connection's pull gets everything libuv read from its socket in one wake-up at once (up
 * to 32 chunks of 64 KiB, one 'data' event each), so the frame loop handles those requests
 * together: their batches go to the log in one write and their responses in one socket
 * write. Delivered per 'data' event, a 66 KiB produce request cost a segment write and a
 * socket write of its own.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as net from "node:net"
import { takeOverReading } from "../../src/server/Listeners.ts"

/** A loopback pair whose server side does not read until told to. */
const pausedPair = () =>
  Effect.promise(() =>
    new Promise<{ client: net.Socket; server: net.Socket; close: () => void }>((resolve, reject) => {
      const listener = net.createServer({ pauseOnConnect: true }, (server) =>
        resolve({
          client,
          server,
          close: () => {
            client.destroy()
            server.destroy()
            listener.close()
          }
        }))
      listener.once("error", reject)
      let client: net.Socket
      listener.listen(0, "127.0.0.1", () => {
        client = net.connect({ port: (listener.address() as net.AddressInfo).port, host: "127.0.0.1" })
        client.once("error", reject)
      })
    })
  )

describe("direct reading", () => {
  it.effect("a waiting pull gets every chunk read in one wake-up together", () =>
    Effect.gen(function*() {
      const { client, server, close } = yield* pausedPair()
      yield* Effect.addFinalizer(() => Effect.sync(close))
      // 100 KB: more than one 64 KiB read, less than the kernel's initial receive buffer, so
      // all of it waits in the kernel when the server starts reading.
      const bytes = Buffer.alloc(100_000, 7)
      yield* Effect.promise(() => new Promise<void>((resolve) => client.write(bytes, () => resolve())))
      const pull = takeOverReading(server)
      const chunks = yield* pull
      assert.isAbove(chunks.length, 1)
      assert.strictEqual(chunks.reduce((n, c) => n + c.length, 0), bytes.length)
    }).pipe(Effect.scoped))
})

describe("the read limit", () => {
  it.effect("bounds each pull to the limit the connection gives at that moment, plus the chunk that crossed it", () =>
    Effect.gen(function*() {
      const { client, server, close } = yield* pausedPair()
      yield* Effect.addFinalizer(() => Effect.sync(close))
      const total = 4 * 1024 * 1024
      const sent = new Promise<void>((resolve) => client.write(Buffer.alloc(total, 7), () => resolve()))
      let limit = 64 * 1024
      const pull = takeOverReading(server, undefined, () => limit)
      const CHUNK = 64 * 1024
      let received = 0
      const sizes: Array<{ size: number; limit: number }> = []
      // Bounded: every pull takes at least one chunk.
      for (let i = 0; i < 10_000 && received < total; i++) {
        // The connection's judgement changes between pulls (its requests turned out large).
        if (received >= total / 2) limit = 1024 * 1024
        const at = limit
        const size = (yield* pull).reduce((n, c) => n + c.length, 0)
        sizes.push({ size, limit: at })
        received += size
      }
      yield* Effect.promise(() => sent)
      assert.strictEqual(received, total)
      for (const s of sizes) assert.isAtMost(s.size, s.limit + CHUNK, `a pull of ${s.size} bytes under a limit of ${s.limit}`)
      assert.isTrue(sizes.some((s) => s.limit === 1024 * 1024), "pulls under the larger limit")
    }).pipe(Effect.scoped))
})
