/**
 * Shutdown answers requests that wait on events instead of holding the drain: a fetch
 * long-polling an idle partition gets its (empty) answer when the broker stops.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, ManagedRuntime, References } from "effect"
import { describe, expect, it } from "vitest"
import { BrokerLayer } from "../../src/broker.ts"
import { Config } from "../../src/config/Config.ts"
import { FetchSessions } from "../../src/fetch/FetchSessions.ts"
import { BrokerServer } from "../../src/server/BrokerServer.ts"
import { CreateTopics, Fetch } from "../../src/protocol/generated/apis.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

describe("shutdown", () => {
  it("answers a long-polling fetch at once instead of holding the drain", async () => {
    const config = Config.layerFromValues({ listeners: "PLAINTEXT://127.0.0.1:0", "log.dirs": fs.mkdtempSync(path.join(os.tmpdir(), "kafka-shutdown-")) })
    const runtime = ManagedRuntime.make(
      Layer.merge(BrokerLayer, FetchSessions.layer).pipe(
        Layer.provide(config),
        Layer.provide(Layer.succeed(References.MinimumLogLevel, "None")),
        Layer.orDie
      )
    )
    const server = await runtime.runPromise(Effect.gen(function*() {
      return yield* BrokerServer
    }))
    const sessions = await runtime.runPromise(Effect.gen(function*() {
      return yield* FetchSessions
    }))
    const client = await WireClient.connect(server.addresses[0]!.port)
    client.write(encodeRequest(CreateTopics, 7, 1, { topics: [{ name: "idle", numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 }))
    expect(decodeResponse(CreateTopics, 7, await client.read()).body.topics[0].errorCode).toBe(0)

    // An hour-long wait for a byte that never comes.
    client.write(encodeRequest(Fetch, 12, 2, {
      replicaId: -1,
      maxWaitMs: 3_600_000,
      minBytes: 1,
      maxBytes: 1 << 20,
      sessionEpoch: 0, // opens a session: how the test sees that the fetch is being handled
      topics: [{ topic: "idle", partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }]
    }))
    const response = client.read()
    // Bounded: event-loop turns until the fetch has opened its session, i.e. is waiting.
    for (let turn = 0; turn < 10_000 && sessions.size() === 0; turn++) await new Promise((r) => setImmediate(r))
    expect(sessions.size()).toBe(1)
    const stopped = runtime.dispose()
    const { correlationId, body } = decodeResponse(Fetch, 12, await response)
    expect(correlationId).toBe(2)
    expect(body.responses[0].partitions[0]).toMatchObject({ errorCode: 0, highWatermark: 0n })
    await stopped
    await client.closedByBroker()
  })
})
