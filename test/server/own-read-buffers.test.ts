/**
 * A connection of large requests reads its socket into consecutive parts of slabs of its own
 * (src/server/own-read-buffers.ts), so that a produce request over several reads lies in one
 * piece. Node's internals are used for it; these tests pin what the broker relies on: reads
 * land in the buffers given, pausing at the read limit stops reading and a pull restarts it,
 * and the end of the stream still arrives.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as net from "node:net"
import { DIRECT_READ_LIMIT_LARGE_REQUESTS, takeOverReading } from "../../src/server/Listeners.ts"
import { readIntoOwnBuffers } from "../../src/server/own-read-buffers.ts"
import { acquireReadBuffer, releaseReadBuffers } from "../../src/log/read-buffers.ts"

const pair = () =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ client: net.Socket; server: net.Socket; listener: net.Server }>((resolve, reject) => {
        const listener = net.createServer((server) => resolve({ client, server, listener }))
        listener.once("error", reject)
        let client: net.Socket
        listener.listen(0, "127.0.0.1", () => {
          client = net.connect({ port: (listener.address() as net.AddressInfo).port, host: "127.0.0.1" })
          client.once("error", reject)
        })
      })
    ),
    ({ client, listener, server }) =>
      Effect.sync(() => {
        client.destroy()
        server.destroy()
        listener.close()
      })
  )

const SLAB = 1024 * 1024

describe("reading into own buffers", () => {
  it.effect("an accepted socket reads into the buffers given, each read a view of the one given last", () =>
    Effect.gen(function*() {
      const { client, server } = yield* pair()
      const given: Array<Buffer> = []
      const reads: Array<Buffer> = []
      let done: () => void = () => undefined
      const total = 3 * SLAB
      let received = 0
      const all = new Promise<void>((resolve) => (done = resolve))
      const switched = readIntoOwnBuffers(server, () => {
        const b = Buffer.allocUnsafeSlow(SLAB)
        given.push(b)
        return b
      }, (chunk) => {
        reads.push(chunk)
        received += chunk.length
        if (received === total) done()
      })
      assert.isTrue(switched)
      server.on("data", () => assert.fail("a read emitted as 'data'"))
      const sent = Buffer.alloc(total)
      for (let i = 0; i < total; i++) sent[i] = (i * 7) & 0xff
      client.write(sent)
      yield* Effect.promise(() => all)
      reads.forEach((r, i) => {
        assert.strictEqual(r.buffer, given[i]!.buffer)
        assert.strictEqual(r.byteOffset, given[i]!.byteOffset)
      })
      assert.isTrue(Buffer.concat(reads).equals(sent))
    }).pipe(Effect.scoped))

  it.effect("a socket already reading into buffers of its own is left as it is", () =>
    Effect.gen(function*() {
      const { server } = yield* pair()
      assert.isTrue(readIntoOwnBuffers(server, () => Buffer.allocUnsafe(1024), () => undefined))
      assert.isFalse(readIntoOwnBuffers(server, () => Buffer.allocUnsafe(1024), () => undefined))
    }).pipe(Effect.scoped))
})

describe("a connection of large requests", () => {
  it.effect("reads consecutive parts of one slab, stops at the read limit, and still sees the end of the stream", () =>
    Effect.gen(function*() {
      const { client, server } = yield* pair()
      const total = 8 * SLAB
      const sent = Buffer.alloc(total)
      for (let i = 0; i < total; i++) sent[i] = (i * 13) & 0xff
      client.end(sent)
      const pull = takeOverReading(server, undefined, () => DIRECT_READ_LIMIT_LARGE_REQUESTS, () => true)
      const chunks: Array<Uint8Array> = []
      const pulls: Array<number> = []
      // Bounded: every pull but the last takes at least one read.
      for (let i = 0; i < 10_000; i++) {
        const exit = yield* Effect.exit(pull)
        if (Exit.isFailure(exit)) break
        pulls.push(exit.value.reduce((n, c) => n + c.length, 0))
        chunks.push(...exit.value)
      }
      assert.isTrue(Buffer.concat(chunks).equals(sent))
      // The first pull may hold Node's own reads; after it, a slab per MiB or so.
      const buffers = new Set(chunks.slice(1).map((c) => c.buffer))
      assert.isAtMost(buffers.size, total / SLAB + 2)
      for (let i = 1; i < chunks.length; i++) {
        const [a, b] = [chunks[i - 1]!, chunks[i]!]
        if (a.buffer === b.buffer) assert.strictEqual(b.byteOffset, a.byteOffset + a.length)
      }
      // A pull holds the read limit and at most the read that crossed it (up to a slab).
      for (const p of pulls) assert.isAtMost(p, DIRECT_READ_LIMIT_LARGE_REQUESTS + SLAB)
    }).pipe(Effect.scoped))

  it.effect("a connection between requests holds a small buffer for its next read, not a slab", () =>
    Effect.gen(function*() {
      const { client, server } = yield* pair()
      const pull = takeOverReading(server, undefined, () => DIRECT_READ_LIMIT_LARGE_REQUESTS, () => true)
      const pullBytes = (n: number) =>
        Effect.gen(function*() {
          let got = 0
          // Bounded: every pull takes at least one read.
          for (let i = 0; i < 10_000 && got < n; i++) got += (yield* pull).reduce((k, c) => k + c.length, 0)
          return got
        })
      client.write(Buffer.alloc(4 * SLAB, 1))
      assert.strictEqual(yield* pullBytes(4 * SLAB), 4 * SLAB)
      // What the client sends between its large requests (a Metadata request, say).
      client.write(Buffer.alloc(100, 2))
      assert.strictEqual(yield* pullBytes(100), 100)
      const kBuffer = Object.getOwnPropertySymbols(server).find((s) => s.description === "kBuffer")!
      const next = (server as unknown as Record<symbol, Buffer>)[kBuffer]!
      assert.isAtMost(next.buffer.byteLength, 4 * 1024)
    }).pipe(Effect.scoped))

  it.effect("a slab is reused only once every byte read into it has been framed", () =>
    Effect.gen(function*() {
      const { client, server } = yield* pair()
      let pulled = 0
      let framed = 0
      const pull = takeOverReading(server, undefined, () => DIRECT_READ_LIMIT_LARGE_REQUESTS, () => true, () => pulled - framed)
      const pullAtLeast = (n: number) =>
        Effect.gen(function*() {
          const chunks: Array<Uint8Array> = []
          // Bounded: every pull takes at least one read.
          for (let i = 0; i < 10_000 && pulled < n; i++) {
            const got = yield* pull
            chunks.push(...got)
            pulled += got.reduce((k, c) => k + c.length, 0)
          }
          return chunks
        })
      client.write(Buffer.alloc(4 * SLAB, 3))
      const slabs = new Set((yield* pullAtLeast(4 * SLAB)).map((c) => c.buffer))
      const taken = () => {
        const bs = Array.from({ length: 8 }, () => acquireReadBuffer(SLAB))
        releaseReadBuffers(bs)
        return bs.filter((b) => slabs.has(b.buffer)).length
      }
      // Nothing framed yet: the slabs read into stay the reader's, however many pulls come.
      client.write(Buffer.alloc(100, 4))
      yield* pullAtLeast(4 * SLAB + 100)
      assert.strictEqual(taken(), 0)
      // All framed (and no frame held): the next pull gives the full ones back.
      framed = pulled
      client.write(Buffer.alloc(100, 5))
      yield* pullAtLeast(4 * SLAB + 200)
      assert.isAbove(taken(), 0)
    }).pipe(Effect.scoped))
})
