/**
 * The admin handlers behind a real server (sockets, framing, dispatch), over the fake
 * Topics: the registry accepts their version ranges, ApiVersions advertises them, and a
 * client on a listener with an advertised address is told that address in Metadata.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { CreatePartitionsHandler } from "../../../src/handlers/CreatePartitions.ts"
import { CreateTopicsHandler } from "../../../src/handlers/CreateTopics.ts"
import { DeleteTopicsHandler } from "../../../src/handlers/DeleteTopics.ts"
import { DescribeConfigsHandler } from "../../../src/handlers/DescribeConfigs.ts"
import { DescribeTopicPartitionsHandler } from "../../../src/handlers/DescribeTopicPartitions.ts"
import type { AnyHandler } from "../../../src/handlers/handler.ts"
import { MetadataHandler } from "../../../src/handlers/Metadata.ts"
import { ApiVersions, CreateTopics, Metadata } from "../../../src/protocol/generated/apis.ts"
import { BrokerServer } from "../../../src/server/BrokerServer.ts"
import type { Topics } from "../../../src/topics/Topics.ts"
import { decodeResponse, encodeRequest, WireClient } from "../../support/wire-client.ts"
import { makeFakeTopics, NODE_ID } from "./helpers.ts"
import { testServerLayer } from "../../support/test-server.ts"

const ADMIN_HANDLERS: ReadonlyArray<AnyHandler<Topics>> = [
  MetadataHandler,
  DescribeTopicPartitionsHandler,
  CreateTopicsHandler,
  DeleteTopicsHandler,
  CreatePartitionsHandler,
  DescribeConfigsHandler
]

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

const startServer = async () => {
  const fake = makeFakeTopics()
  fake.addTopic("orders", 2)
  const layer = testServerLayer(ADMIN_HANDLERS, { host: "advertised.example", port: 29092 }).pipe(Layer.provide(fake.layer))
  const runtime = ManagedRuntime.make(layer)
  cleanups.push(() => runtime.dispose())
  const server = await runtime.runPromise(Effect.gen(function*() {
    return yield* BrokerServer
  }))
  const client = await WireClient.connect(server.addresses[0]!.port)
  cleanups.push(async () => client.close())
  return { fake, client }
}

describe("admin handlers on the wire", () => {
  it("are advertised by ApiVersions with their version ranges", async () => {
    const { client } = await startServer()
    client.write(encodeRequest(ApiVersions, 3, 1, { clientSoftwareName: "test", clientSoftwareVersion: "1.0" }))
    const { body } = decodeResponse(ApiVersions, 3, await client.read())
    const ranges = (body.apiKeys as Array<{ apiKey: number; minVersion: number; maxVersion: number }>).map((k) => [k.apiKey, k.minVersion, k.maxVersion])
    expect(ranges).toEqual([[3, 0, 12], [18, 0, 4], [19, 0, 7], [20, 0, 6], [32, 0, 4], [37, 0, 3], [75, 0, 0]])
  })

  it("answer Metadata with the listener's advertised address, and create topics", async () => {
    const { client, fake } = await startServer()
    client.write(encodeRequest(Metadata, 12, 2, { topics: null }))
    const metadata = decodeResponse(Metadata, 12, await client.read())
    expect(metadata.correlationId).toBe(2)
    expect(metadata.body.brokers).toEqual([{ nodeId: NODE_ID, host: "advertised.example", port: 29092, rack: null }])
    expect(metadata.body.topics.map((t: { name: string }) => t.name)).toEqual(["orders"])

    client.write(encodeRequest(CreateTopics, 7, 3, { topics: [{ name: "fresh", numPartitions: 2, replicationFactor: 1 }] }))
    const created = decodeResponse(CreateTopics, 7, await client.read())
    expect(created.body.topics[0]).toMatchObject({ name: "fresh", errorCode: 0, numPartitions: 2 })
    expect(fake.image().topicsByName.has("fresh")).toBe(true)
  })
})
