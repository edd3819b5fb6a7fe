/**
 * The data-plane handlers behind a real server, over loopback sockets, with raw requests:
 * what only shows on the wire (acks=0 sends nothing, a bad batch keeps the connection,
 * a long-polling fetch answered by another connection's produce, responses in order,
 * version ranges and the answers to versions below them).
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { FetchSessions, type FetchSessionsShape } from "../../../src/fetch/FetchSessions.ts"
import { FetchHandler } from "../../../src/handlers/Fetch.ts"
import { ListOffsetsHandler } from "../../../src/handlers/ListOffsets.ts"
import { ProduceHandler } from "../../../src/handlers/Produce.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { ApiVersions, Fetch, ListOffsets, Produce } from "../../../src/protocol/generated/apis.ts"
import { BrokerServer } from "../../../src/server/BrokerServer.ts"
import { decodeResponse, encodeRequest, WireClient } from "../../support/wire-client.ts"
import { batch, dataPlaneLayer, fetchRequest, listOffsetsRequest, produceRequest, recordsOf, removeTempDirs } from "./helpers.ts"
import { testServerLayer } from "../../support/test-server.ts"

const runtimes: Array<ManagedRuntime.ManagedRuntime<BrokerServer, never>> = []
const clients: Array<WireClient> = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  for (const r of runtimes.splice(0)) await r.dispose()
  removeTempDirs()
})

const start = async (sessions: FetchSessionsShape = FetchSessions.make({ slots: 10 })) => {
  const layer = testServerLayer([ProduceHandler, FetchHandler, ListOffsetsHandler]).pipe(
    Layer.provide(dataPlaneLayer([{ name: "t", partitions: 2 }], { sessionsInstance: sessions }))
  )
  const runtime = ManagedRuntime.make(layer)
  runtimes.push(runtime)
  const server = await runtime.runPromise(Effect.gen(function*() {
    return yield* BrokerServer
  }))
  return server.addresses[0]!.port
}

const connect = async (port: number) => {
  const client = await WireClient.connect(port)
  clients.push(client)
  return client
}

const latestOffset = (correlationId: number, partition = 0) =>
  encodeRequest(ListOffsets, 7, correlationId, listOffsetsRequest([["t", [[partition, -1]]]]))

const latestOf = (frame: Uint8Array) => {
  const { correlationId, body } = decodeResponse(ListOffsets, 7, frame)
  return { correlationId, offset: body.topics[0].partitions[0].offset as bigint }
}

describe("data-plane handlers on a real server", () => {
  it("sends no response for acks=0, yet appends; the next request is answered next", async () => {
    const client = await connect(await start())
    client.write(Buffer.concat([
      encodeRequest(Produce, 9, 1, produceRequest([["t", [[0, batch(3)]]]], { acks: 0 })),
      latestOffset(2),
      encodeRequest(ApiVersions, 3, 3, {})
    ]))
    expect(latestOf(await client.read())).toEqual({ correlationId: 2, offset: 3n })
    expect(decodeResponse(ApiVersions, 3, await client.read()).correlationId).toBe(3)
  })

  it("answers bad batches per partition and keeps the connection and the acknowledged records", async () => {
    const client = await connect(await start())
    client.write(encodeRequest(Produce, 11, 1, produceRequest([["t", [[0, batch(2)]]]])))
    expect(decodeResponse(Produce, 11, await client.read()).body.responses[0].partitionResponses[0].errorCode).toBe(0)

    const corrupt = batch(2)
    corrupt[corrupt.length - 1]! ^= 0x01
    client.write(Buffer.concat([
      encodeRequest(Produce, 11, 2, produceRequest([["t", [[0, corrupt], [1, batch(1)]]]])),
      latestOffset(3, 0),
      latestOffset(4, 1)
    ]))
    const produced = decodeResponse(Produce, 11, await client.read())
    expect(produced.correlationId).toBe(2)
    expect(produced.body.responses[0].partitionResponses.map((p: { errorCode: number }) => p.errorCode)).toEqual([ErrorCode.CORRUPT_MESSAGE, 0])
    expect(latestOf(await client.read())).toEqual({ correlationId: 3, offset: 2n })
    expect(latestOf(await client.read())).toEqual({ correlationId: 4, offset: 1n })
  })

  it("answers a long-polling fetch when another connection produces, keeping response order", async () => {
    const sessions = FetchSessions.make({ slots: 10 })
    const port = await start(sessions)
    const consumer = await connect(port)
    const producer = await connect(port)
    // A fetch that only an append can answer (its max wait is far beyond the test), opening
    // a session so the test can see it has started; a request is pipelined behind it.
    consumer.write(Buffer.concat([
      encodeRequest(Fetch, 12, 1, fetchRequest([{ topic: "t", partition: 1 }], { maxWaitMs: 120_000, minBytes: 1, sessionEpoch: 0 })),
      latestOffset(2, 1)
    ]))
    // The fetch handler opens the session right before its first read (bounded event-loop turns, no timers).
    for (let i = 0; i < 10_000 && sessions.size() === 0; i++) await new Promise<void>((resolve) => setImmediate(resolve))
    expect(sessions.size()).toBe(1)
    // The produce on the other connection ends the wait.
    producer.write(encodeRequest(Produce, 11, 11, produceRequest([["t", [[1, batch(2, { prefix: "wake" })]]]])))
    expect(decodeResponse(Produce, 11, await producer.read()).correlationId).toBe(11)
    const fetched = decodeResponse(Fetch, 12, await consumer.read())
    expect(fetched.correlationId).toBe(1)
    expect(recordsOf(fetched.body.responses[0].partitions[0].records).map((r) => r.value)).toEqual(["wake0", "wake1"])
    // The pipelined request was served when it was read (before the produce), and its
    // response was held back until the fetch's had been written.
    expect(latestOf(await consumer.read())).toEqual({ correlationId: 2, offset: 0n })
  })

  it("serves Produce 3-11, Fetch 4-17, ListOffsets 1-10, lists Produce from v0 as Kafka 4 does (KAFKA-18659), and answers older versions with UNSUPPORTED_VERSION", async () => {
    const client = await connect(await start())
    client.write(encodeRequest(ApiVersions, 3, 1, { clientSoftwareName: "wire-test", clientSoftwareVersion: "1.0" }))
    const apiKeys = decodeResponse(ApiVersions, 3, await client.read()).body.apiKeys
    const range = (key: number) => apiKeys.find((k: { apiKey: number }) => k.apiKey === key)
    // librdkafka before 2.10 compresses only for a broker that lists Produce v0.
    expect(range(0)).toMatchObject({ minVersion: 0, maxVersion: 11 })
    expect(range(1)).toMatchObject({ minVersion: 4, maxVersion: 17 })
    expect(range(2)).toMatchObject({ minVersion: 1, maxVersion: 10 })

    client.write(Buffer.concat([
      encodeRequest(Produce, 2, 2, produceRequest([["t", [[0, batch(1)]]]])),
      encodeRequest(Fetch, 3, 3, fetchRequest([{ topic: "t", partition: 0 }])),
      encodeRequest(ListOffsets, 0, 4, { replicaId: -1, topics: [{ name: "t", partitions: [{ partitionIndex: 0, timestamp: -1n, maxNumOffsets: 1 }] }] })
    ]))
    const produce = decodeResponse(Produce, 2, await client.read())
    expect(produce.body.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
    const fetch = decodeResponse(Fetch, 3, await client.read())
    expect(fetch.body.responses[0].partitions[0].errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
    const listOffsets = decodeResponse(ListOffsets, 0, await client.read())
    expect(listOffsets.body.topics[0].partitions[0].errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
    // Nothing was appended by the refused produce.
    client.write(latestOffset(5))
    expect(latestOf(await client.read())).toEqual({ correlationId: 5, offset: 0n })
  })
})
