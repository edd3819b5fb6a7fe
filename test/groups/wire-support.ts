/**
 * A real broker server with only the group APIs (and ApiVersions), a fake Topics, and a
 * raw connection that sends request bodies encoded by anyone (our codecs, KafkaJS's,
 * @platformatic/kafka's) and hands back response bodies.
 */
import { createRequire } from "node:module"
import { Effect, Layer, ManagedRuntime } from "effect"
import { groupHandlers } from "../../src/broker.ts"
import { GroupCoordinator, type GroupCoordinatorOptions } from "../../src/groups/GroupCoordinator.ts"
import { EMPTY_IMAGE, type PartitionImage, type TopicImage } from "../../src/metadata/image.ts"
import type { AnyApi } from "../../src/protocol/api.ts"
import { encodeRequestHeader } from "../../src/protocol/generated/message/RequestHeader.ts"
import { decodeResponseHeader } from "../../src/protocol/generated/message/ResponseHeader.ts"
import { requestHeaderVersion, responseHeaderVersion } from "../../src/protocol/header.ts"
import { Reader, Writer } from "../../src/protocol/primitives.ts"
import { BrokerServer } from "../../src/server/BrokerServer.ts"
import { Topics, type TopicsShape } from "../../src/topics/Topics.ts"
import { WireClient } from "../support/wire-client.ts"
import { testServerLayer } from "../support/test-server.ts"

export const NODE_ID = 7

/** The id fakeTopics gives the `index`-th topic: 16 bytes, the first one index + 1 (base64, as our codecs carry uuids). */
export const fakeTopicId = (index: number): string => {
  const bytes = new Uint8Array(16)
  bytes[0] = index + 1
  return Buffer.from(bytes).toString("base64url")
}

/** A Topics that knows `topics` (name -> partition count) and nothing else. */
export const fakeTopics = (topics: Readonly<Record<string, number>>): Layer.Layer<Topics> => {
  const topicsByName = new Map<string, TopicImage>(
    Object.entries(topics).map(([name, count], index) => [
      name,
      {
        name,
        topicId: fakeTopicId(index),
        partitions: new Map(Array.from({ length: count }, (_, p) => [p, { partition: p } as PartitionImage]))
      }
    ])
  )
  const topicsById = new Map([...topicsByName.values()].map((t) => [t.topicId, t]))
  const unused = () => Effect.die(new Error("not used by the group APIs"))
  const shape: TopicsShape = {
    image: () => ({ ...EMPTY_IMAGE, topicsByName, topicsById }),
    clusterId: "test-cluster",
    nodeId: NODE_ID,
    topicConfig: () => new Map(),
    create: unused,
    delete: unused,
    createPartitions: unused,
    autoCreate: unused,
    describeTopicConfigs: unused,
    describeBrokerConfigs: () => [],
    dynamicConfigs: () => new Map(),
    alterTopicConfigs: unused,
    alterBrokerConfigs: unused
  }
  return Layer.succeed(Topics, Topics.of(shape))
}

export interface GroupServer {
  readonly port: number
  readonly connect: () => Promise<RawConnection>
  readonly stop: () => Promise<void>
}

export const startGroupServer = async (
  topics: Readonly<Record<string, number>>,
  options: GroupCoordinatorOptions = { initialRebalanceDelayMs: 0 }
): Promise<GroupServer> => {
  const layer = testServerLayer(groupHandlers).pipe(
    Layer.provide(GroupCoordinator.layerInMemory(options)),
    Layer.provide(fakeTopics(topics))
  )
  const runtime = ManagedRuntime.make(layer)
  const server = await runtime.runPromise(Effect.gen(function*() {
    return yield* BrokerServer
  }))
  const port = server.addresses[0]!.port
  return {
    port,
    connect: async () => new RawConnection(await WireClient.connect(port)),
    stop: () => runtime.dispose()
  }
}

let nextCorrelationId = 1

/** One client connection: requests in, response bodies (header stripped) out, in order. */
export class RawConnection {
  readonly client: WireClient
  constructor(client: WireClient) {
    this.client = client
  }

  /** Sends a request whose body is already encoded; resolves with the response body. */
  send(api: AnyApi, version: number, body: Uint8Array, clientId = "group-test"): Promise<Uint8Array> {
    const correlationId = nextCorrelationId++
    const w = new Writer(64 + body.length)
    const sizeAt = w.reserveInt32()
    encodeRequestHeader(w, requestHeaderVersion(api, version), { requestApiKey: api.apiKey, requestApiVersion: version, correlationId, clientId })
    w.raw(body)
    w.setInt32At(sizeAt, w.pos - 4)
    this.client.write(w.toBytes())
    return this.client.read().then((frame) => {
      const r = new Reader(frame)
      const header = decodeResponseHeader(r, responseHeaderVersion(api, version))
      if (header.correlationId !== correlationId) throw new Error(`correlation id ${header.correlationId}, expected ${correlationId}`)
      return frame.subarray(r.pos)
    })
  }

  /** Encodes with our codec, decodes with our codec. */
  async call<ReqInit>(api: AnyApi, version: number, body: ReqInit, clientId?: string) {
    const w = new Writer(256)
    api.encodeRequest(w, version, body)
    const response = await this.send(api, version, w.toBytes(), clientId)
    // oxlint-disable-next-line no-explicit-any
    return api.decodeResponse(new Reader(response), version) as any
  }

  close(): void {
    this.client.close()
  }
}

/** KafkaJS's own request encoders and response decoders, by API name (its "requests" table). */
export const kafkajsRequests: Record<string, { protocol: (v: { version: number }) => (args: unknown) => KafkaJsProtocol }> =
  createRequire(import.meta.url)("kafkajs/src/protocol/requests/index.js").requests

export interface KafkaJsProtocol {
  readonly request: { readonly apiKey: number; readonly apiVersion: number; readonly encode: () => Promise<{ readonly buffer: Buffer }> }
  readonly response: { readonly decode: (b: Buffer) => Promise<unknown>; readonly parse: (d: unknown) => Promise<unknown> }
}

/** Sends a request exactly as KafkaJS encodes it and parses the answer exactly as KafkaJS does (throwing its errors). */
export const kafkajsCall = async (conn: RawConnection, api: AnyApi, name: string, version: number, args: unknown): Promise<any> => {
  const { request, response } = kafkajsRequests[name]!.protocol({ version })(args)
  if (request.apiVersion !== version || request.apiKey !== api.apiKey) throw new Error(`KafkaJS built ${name} v${request.apiVersion}`)
  const body = (await request.encode()).buffer
  const answer = await conn.send(api, version, body, "kafkajs")
  const decoded = await response.decode(Buffer.from(answer))
  return response.parse(decoded)
}

/** @platformatic/kafka's API modules: createRequest (Writer) and parseResponse (Reader). */
export interface PlatformaticApi {
  readonly createRequest: (...args: Array<any>) => { readonly buffer: Buffer }
  readonly parseResponse: (correlationId: number, apiKey: number, apiVersion: number, reader: any) => any
  readonly api: { readonly key: number; readonly version: number }
}

export const platformaticCall = async (conn: RawConnection, api: AnyApi, module: PlatformaticApi, ...args: Array<unknown>): Promise<any> => {
  const { Reader: PlatformaticReader } = await import("@platformatic/kafka")
  const version = module.api.version
  if (module.api.key !== api.apiKey) throw new Error(`module is for API key ${module.api.key}`)
  const body = module.createRequest(...args).buffer
  const answer = await conn.send(api, version, body, "platformatic")
  const reader = PlatformaticReader.from(Buffer.from(answer))
  const parsed = module.parseResponse(0, api.apiKey, version, reader)
  if (reader.remaining !== 0) throw new Error(`${reader.remaining} bytes left after parsing ${module.api.key} v${version}`)
  return parsed
}
