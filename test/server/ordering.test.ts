/**
 * Response order and shutdown, with handlers that finish out of order. The handlers here
 * are test doubles registered for real API keys; the server, sockets and framing are real.
 */
import { Effect, ManagedRuntime } from "effect"
import { describe, expect, it } from "vitest"
import { defineHandler } from "../../src/handlers/handler.ts"
import { ApiVersions, Fetch, Metadata } from "../../src/protocol/generated/apis.ts"
import { BrokerServer } from "../../src/server/BrokerServer.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"
import { testServerLayer } from "../support/test-server.ts"

interface Gate {
  readonly opened: Promise<void>
  readonly open: () => void
}
const gate = (): Gate => {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { opened, open }
}

/** A Fetch handler that blocks until `release` opens, and a Metadata handler that opens `metadataRan`. */
const startServer = (fetchStarted: Gate, release: Gate, metadataRan: Gate, fetchInterrupted: Gate = gate()) => {
  const handlers = [
    defineHandler(Fetch, {
      minVersion: 4,
      maxVersion: 17,
      blocking: true,
      handle: () =>
        Effect.sync(() => fetchStarted.open()).pipe(
          Effect.andThen(Effect.promise(() => release.opened)),
          Effect.as({ throttleTimeMs: 0, errorCode: 0, sessionId: 7, responses: [] }),
          Effect.onInterrupt(() => Effect.sync(() => fetchInterrupted.open()))
        )
    }),
    defineHandler(Metadata, {
      minVersion: 0,
      maxVersion: 12,
      handle: () => Effect.sync(() => metadataRan.open()).pipe(Effect.as({ brokers: [], topics: [] }))
    })
  ]
  return ManagedRuntime.make(testServerLayer<never>(handlers))
}

const fetchRequest = (correlationId: number) =>
  encodeRequest(Fetch, 12, correlationId, { replicaId: -1, maxWaitMs: 500, minBytes: 1, topics: [] })

describe("response ordering", () => {
  it("writes responses in request order when a later request finishes first", async () => {
    const fetchStarted = gate()
    const release = gate()
    const metadataRan = gate()
    const runtime = startServer(fetchStarted, release, metadataRan)
    const server = await runtime.runPromise(Effect.gen(function*() {
      return yield* BrokerServer
    }))
    const client = await WireClient.connect(server.addresses[0]!.port)
    client.write(Buffer.concat([fetchRequest(1), encodeRequest(Metadata, 9, 2, { topics: null }), encodeRequest(ApiVersions, 3, 3, {})]))
    // The Metadata handler ran while the Fetch was still blocked; only then is the Fetch released.
    await metadataRan.opened
    release.open()
    const first = await client.read()
    const second = await client.read()
    const third = await client.read()
    expect(decodeResponse(Fetch, 12, first)).toMatchObject({ correlationId: 1, body: { sessionId: 7 } })
    expect(decodeResponse(Metadata, 9, second).correlationId).toBe(2)
    expect(decodeResponse(ApiVersions, 3, third).correlationId).toBe(3)
    client.close()
    await runtime.dispose()
  })

  it("on shutdown stops accepting, answers the in-flight request, then closes", async () => {
    const fetchStarted = gate()
    const release = gate()
    const runtime = startServer(fetchStarted, release, gate())
    const server = await runtime.runPromise(Effect.gen(function*() {
      return yield* BrokerServer
    }))
    const port = server.addresses[0]!.port
    const client = await WireClient.connect(port)
    client.write(fetchRequest(11))
    await fetchStarted.opened
    const disposed = runtime.dispose()
    // Shutdown has begun once a new connection is closed unanswered (bounded: a fixed number of probes).
    let drainingSeen = false
    for (let attempt = 0; attempt < 200 && !drainingSeen; attempt++) {
      const probe = await WireClient.connect(port).catch(() => undefined)
      if (probe === undefined) {
        drainingSeen = true
        break
      }
      probe.write(encodeRequest(ApiVersions, 3, 99, {}))
      drainingSeen = await probe.read().then(() => false, () => true)
      probe.close()
    }
    expect(drainingSeen).toBe(true)
    release.open()
    const response = await client.read()
    expect(decodeResponse(Fetch, 12, response)).toMatchObject({ correlationId: 11, body: { sessionId: 7 } })
    expect((await client.closedByBroker()).unreadFrames).toBe(0)
    await disposed
  })

  it("interrupts a waiting handler when its client goes away", async () => {
    const fetchStarted = gate()
    const interrupted = gate()
    const runtime = startServer(fetchStarted, gate(), gate(), interrupted)
    const server = await runtime.runPromise(Effect.gen(function*() {
      return yield* BrokerServer
    }))
    const client = await WireClient.connect(server.addresses[0]!.port)
    client.write(fetchRequest(21))
    await fetchStarted.opened
    client.close()
    await interrupted.opened
    await runtime.dispose()
  })
})
