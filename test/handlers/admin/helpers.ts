/**
 * Test support for the admin handlers: an in-memory Topics service that behaves like the
 * real one (src/topics/layer.ts: create adds to the image, validation codes and messages,
 * validate-only, delete.topic.enable, auto-create on/off), and a runner that takes a
 * request through the wire codecs at a given version, runs the handler against the fake,
 * and encodes the response at that version and decodes it again, so every test also proves
 * the encoder accepts what the handler answered for that version.
 */
import { Effect, Layer, References } from "effect"
import type { Handler, RequestContext } from "../../../src/handlers/handler.ts"
import { isPreEncoded, NO_RESPONSE } from "../../../src/handlers/handler.ts"
import { EMPTY_IMAGE, type MetadataImage, type PartitionImage, type TopicImage } from "../../../src/metadata/image.ts"
import type { ApiDefinition } from "../../../src/protocol/api.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { Reader, uuidFromBytes, Writer } from "../../../src/protocol/primitives.ts"
import {
  type CreateTopicRequest,
  type DescribedConfig,
  TopicAdminError,
  Topics,
  topicNameError,
  type TopicsShape
} from "../../../src/topics/Topics.ts"

export const NODE_ID = 1
export const CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qk"
export const ADVERTISED_HOST = "kafka.example.test"
export const ADVERTISED_PORT = 19092

/** Kafka's ConfigSource ids. */
export const SOURCE = { DYNAMIC_TOPIC_CONFIG: 1, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const

/** The topic configs the fake knows, with their broker-level defaults and ConfigType ids. */
const TOPIC_CONFIGS: ReadonlyMap<string, { readonly value: string; readonly type: number; readonly brokerKey: string }> = new Map([
  ["cleanup.policy", { value: "delete", type: 7, brokerKey: "log.cleanup.policy" }],
  ["max.message.bytes", { value: "1048588", type: 3, brokerKey: "message.max.bytes" }],
  ["retention.ms", { value: "604800000", type: 5, brokerKey: "log.retention.ms" }]
])

/** Broker configs the fake describes: one of them sensitive, as a real broker has. */
const BROKER_CONFIGS: ReadonlyArray<{ readonly name: string; readonly value: string; readonly type: number; readonly source: number; readonly sensitive: boolean }> = [
  { name: "auto.create.topics.enable", value: "true", type: 1, source: SOURCE.DEFAULT_CONFIG, sensitive: false },
  { name: "log.retention.ms", value: "604800000", type: 5, source: SOURCE.STATIC_BROKER_CONFIG, sensitive: false },
  { name: "num.partitions", value: "1", type: 3, source: SOURCE.DEFAULT_CONFIG, sensitive: false },
  { name: "ssl.keystore.password", value: "hunter2", type: 9, source: SOURCE.STATIC_BROKER_CONFIG, sensitive: true }
]

export interface FakeOptions {
  readonly autoCreateTopicsEnable?: boolean
  readonly deleteTopicEnable?: boolean
  /** num.partitions */
  readonly numPartitions?: number
  /** default.replication.factor */
  readonly defaultReplicationFactor?: number
  readonly nodeId?: number
}

export interface FakeTopics {
  readonly service: TopicsShape
  readonly layer: Layer.Layer<Topics>
  /** Adds a topic directly to the image (as if replayed from the metadata log). */
  readonly addTopic: (name: string, partitions: number, options?: { readonly leader?: number; readonly leaderEpoch?: number; readonly elr?: ReadonlyArray<number>; readonly lastKnownElr?: ReadonlyArray<number>; readonly configs?: Readonly<Record<string, string>>; readonly reversePartitionOrder?: boolean }) => TopicImage
  readonly image: () => MetadataImage
  /** Names passed to each service operation, in call order. */
  readonly calls: { readonly autoCreate: Array<string>; readonly create: Array<CreateTopicRequest>; readonly delete: Array<string>; readonly createPartitions: Array<{ name: string; totalCount: number; validateOnly: boolean }> }
}

const adminError = (errorCode: number, message: string) => new TopicAdminError({ errorCode, message })

let idCounter = 0
/** A fresh, never-zero topic id. */
export const nextTopicId = (): string => {
  idCounter += 1
  const bytes = new Uint8Array(16)
  new DataView(bytes.buffer).setUint32(12, idCounter)
  bytes[0] = 0x5a
  return uuidFromBytes(bytes)
}

const partitionImage = (partition: number, leader: number, leaderEpoch = 0, elr: ReadonlyArray<number> = [], lastKnownElr: ReadonlyArray<number> = []): PartitionImage => ({
  partition,
  replicas: [leader === -1 ? NODE_ID : leader],
  isr: leader === -1 ? [] : [leader],
  removingReplicas: [],
  addingReplicas: [],
  leader,
  leaderRecoveryState: 0,
  leaderEpoch,
  partitionEpoch: 0,
  directories: [],
  eligibleLeaderReplicas: elr,
  lastKnownElr
})

export const makeFakeTopics = (options: FakeOptions = {}): FakeTopics => {
  const nodeId = options.nodeId ?? NODE_ID
  const autoCreateEnable = options.autoCreateTopicsEnable ?? true
  const deleteEnable = options.deleteTopicEnable ?? true
  const defaultPartitions = options.numPartitions ?? 1
  const defaultReplication = options.defaultReplicationFactor ?? 1
  let image: MetadataImage = EMPTY_IMAGE
  const calls: FakeTopics["calls"] = { autoCreate: [], create: [], delete: [], createPartitions: [] }

  const put = (topic: TopicImage, configs?: ReadonlyMap<string, string>) => {
    const byName = new Map(image.topicsByName)
    const byId = new Map(image.topicsById)
    byName.set(topic.name, topic)
    byId.set(topic.topicId, topic)
    const topicConfigs = new Map(image.topicConfigs)
    if (configs !== undefined && configs.size > 0) topicConfigs.set(topic.name, configs)
    image = { ...image, offset: image.offset + 1, topicsByName: byName, topicsById: byId, topicConfigs }
  }

  const remove = (topic: TopicImage) => {
    const byName = new Map(image.topicsByName)
    const byId = new Map(image.topicsById)
    byName.delete(topic.name)
    byId.delete(topic.topicId)
    const topicConfigs = new Map(image.topicConfigs)
    topicConfigs.delete(topic.name)
    image = { ...image, offset: image.offset + 1, topicsByName: byName, topicsById: byId, topicConfigs }
  }

  const buildTopic = (name: string, topicId: string, count: number, leader = nodeId, leaderEpoch = 0, elr: ReadonlyArray<number> = [], lastKnownElr: ReadonlyArray<number> = []): TopicImage => ({
    name,
    topicId,
    partitions: new Map(Array.from({ length: count }, (_, p) => [p, partitionImage(p, leader, leaderEpoch, elr, lastKnownElr)]))
  })

  const addTopic: FakeTopics["addTopic"] = (name, partitions, o = {}) => {
    const built = buildTopic(name, nextTopicId(), partitions, o.leader ?? nodeId, o.leaderEpoch ?? 0, o.elr, o.lastKnownElr)
    // A map whose iteration order is not the index order: responses must still list partitions by index.
    const topic = o.reversePartitionOrder === true ? { ...built, partitions: new Map([...built.partitions].reverse()) } : built
    put(topic, new Map(Object.entries(o.configs ?? {})))
    return topic
  }

  const topicConfig = (name: string): ReadonlyMap<string, string> => {
    const effective = new Map<string, string>()
    for (const [k, v] of TOPIC_CONFIGS) effective.set(k, v.value)
    for (const [k, v] of image.topicConfigs.get(name) ?? []) effective.set(k, v)
    return effective
  }

  const configError = (name: string, value: string | null): string | undefined => {
    if (!TOPIC_CONFIGS.has(name)) return `Unknown topic config name: ${name}`
    if (value === null) return `Null value not supported for topic configs: ${name}`
    if ((name === "retention.ms" || name === "max.message.bytes") && !/^-?\d+$/.test(value)) {
      return `Invalid value ${value} for configuration ${name}: Not a number of type ${name === "retention.ms" ? "LONG" : "INT"}`
    }
    return undefined
  }

  const create = (request: CreateTopicRequest) =>
    Effect.suspend(() => {
      calls.create.push(request)
      const nameError = topicNameError(request.name)
      if (nameError !== undefined) return Effect.fail(adminError(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError))
      if (image.topicsByName.has(request.name)) {
        return Effect.fail(adminError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${request.name}' already exists.`))
      }
      const assignments = request.assignments ?? []
      if (assignments.length > 0 && (request.numPartitions !== -1 || request.replicationFactor !== -1)) {
        return Effect.fail(adminError(ErrorCode.INVALID_REQUEST, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."))
      }
      for (const a of assignments) {
        if (a.brokerIds.length !== 1 || a.brokerIds[0] !== nodeId) {
          return Effect.fail(adminError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Partition ${a.partitionIndex}: replicas ${JSON.stringify(a.brokerIds)} are not this single broker (node ${nodeId}).`))
        }
      }
      const numPartitions = assignments.length > 0 ? assignments.length : request.numPartitions === -1 ? defaultPartitions : request.numPartitions
      const replicationFactor = assignments.length > 0 ? 1 : request.replicationFactor === -1 ? defaultReplication : request.replicationFactor
      if (numPartitions <= 0) return Effect.fail(adminError(ErrorCode.INVALID_PARTITIONS, "Number of partitions was set to an invalid non-positive value."))
      if (replicationFactor <= 0) return Effect.fail(adminError(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0, or -1 to use the default value."))
      if (replicationFactor > 1) {
        return Effect.fail(adminError(ErrorCode.INVALID_REPLICATION_FACTOR, `Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only 1 broker(s) are registered.`))
      }
      const configs = new Map<string, string>()
      for (const c of request.configs) {
        const error = configError(c.name, c.value)
        if (error !== undefined) return Effect.fail(adminError(ErrorCode.INVALID_CONFIG, error))
        configs.set(c.name, c.value!)
      }
      const topic = buildTopic(request.name, nextTopicId(), numPartitions)
      if (!request.validateOnly) put(topic, configs)
      return Effect.succeed(topic)
    })

  const service: TopicsShape = {
    image: () => image,
    clusterId: CLUSTER_ID,
    nodeId,
    topicConfig,
    create,
    delete: (name) =>
      Effect.suspend(() => {
        calls.delete.push(name)
        const topic = image.topicsByName.get(name)
        if (topic === undefined) return Effect.fail(adminError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition."))
        if (!deleteEnable) return Effect.fail(adminError(ErrorCode.TOPIC_DELETION_DISABLED, "Topic deletion is disabled."))
        remove(topic)
        return Effect.void
      }),
    createPartitions: (name, totalCount, validateOnly) =>
      Effect.suspend(() => {
        calls.createPartitions.push({ name, totalCount, validateOnly })
        const topic = image.topicsByName.get(name)
        if (topic === undefined) return Effect.fail(adminError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition."))
        const current = topic.partitions.size
        if (totalCount < current) {
          return Effect.fail(adminError(ErrorCode.INVALID_PARTITIONS, `The topic ${name} currently has ${current} partition(s); ${totalCount} would not be an increase.`))
        }
        if (totalCount === current) return Effect.fail(adminError(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partition(s).`))
        if (!validateOnly) {
          const partitions = new Map(topic.partitions)
          for (let p = current; p < totalCount; p++) partitions.set(p, partitionImage(p, nodeId))
          put({ ...topic, partitions })
        }
        return Effect.void
      }),
    autoCreate: (name) =>
      Effect.suspend(() => {
        calls.autoCreate.push(name)
        const existing = image.topicsByName.get(name)
        if (existing !== undefined) return Effect.succeed(existing)
        if (!autoCreateEnable) return Effect.succeed(undefined)
        return create({ name, numPartitions: -1, replicationFactor: -1, configs: [], validateOnly: false })
      }),
    describeTopicConfigs: (name, keys) =>
      Effect.suspend(() => {
        if (!image.topicsByName.has(name)) return Effect.fail(adminError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition."))
        const overrides = image.topicConfigs.get(name)
        const names = keys ?? [...TOPIC_CONFIGS.keys()].sort()
        const out: Array<DescribedConfig> = []
        for (const n of names) {
          const known = TOPIC_CONFIGS.get(n)
          if (known === undefined) continue
          const override = overrides?.get(n)
          const synonyms: Array<DescribedConfig["synonyms"][number]> = []
          if (override !== undefined) synonyms.push({ name: n, value: override, source: SOURCE.DYNAMIC_TOPIC_CONFIG })
          synonyms.push({ name: known.brokerKey, value: known.value, source: SOURCE.DEFAULT_CONFIG })
          out.push({
            name: n,
            value: override ?? known.value,
            readOnly: false,
            source: override !== undefined ? SOURCE.DYNAMIC_TOPIC_CONFIG : SOURCE.DEFAULT_CONFIG,
            isSensitive: false,
            configType: known.type,
            documentation: `Documentation of ${n}.`,
            synonyms
          })
        }
        return Effect.succeed(out)
      }),
    describeBrokerConfigs: (keys) =>
      BROKER_CONFIGS.filter((c) => keys === null || keys.includes(c.name)).map((c) => ({
        name: c.name,
        value: c.value,
        readOnly: true,
        source: c.source,
        isSensitive: c.sensitive,
        configType: c.type,
        documentation: `Documentation of ${c.name}.`,
        synonyms: [{ name: c.name, value: c.value, source: c.source }]
      })),
    dynamicConfigs: (resource, name) => (resource === "topic" ? image.topicConfigs.get(name) : undefined) ?? new Map(),
    alterTopicConfigs: () => Effect.die(new Error("alterTopicConfigs: not in the admin fake")),
    alterBrokerConfigs: () => Effect.die(new Error("alterBrokerConfigs: not in the admin fake"))
  }
  return { service, layer: Layer.succeed(Topics, Topics.of(service)), addTopic, image: () => image, calls }
}

export const contextFor = (apiKey: number, version: number): RequestContext => ({
  apiKey,
  apiVersion: version,
  header: { requestApiKey: apiKey, requestApiVersion: version, correlationId: 7, clientId: "admin-test" },
  clientAddress: "127.0.0.1:50000",
  listenerName: "PLAINTEXT",
  advertisedHost: ADVERTISED_HOST,
  advertisedPort: ADVERTISED_PORT
})

/** A request as the broker would decode it from a client's bytes at `version`. */
export const decodedRequest = <Req, ReqInit, Res, ResInit>(api: ApiDefinition<Req, ReqInit, Res, ResInit>, version: number, request: ReqInit): Req => {
  const w = new Writer()
  api.encodeRequest(w, version, request)
  return api.decodeRequest(new Reader(w.toBytes()), version)
}

/** The response body's wire bytes at `version` (throws if the encoder refuses it). */
export const encodeResponse = <Req, ReqInit, Res, ResInit>(api: ApiDefinition<Req, ReqInit, Res, ResInit>, version: number, response: ResInit): Uint8Array => {
  const w = new Writer()
  api.encodeResponse(w, version, response)
  return w.toBytes()
}

/**
 * Runs `handler` on `request` (sent at `version`) against `fake`, and returns the response
 * as a client at that version decodes it.
 */
export const call = async <Req, ReqInit, Res, ResInit>(
  api: ApiDefinition<Req, ReqInit, Res, ResInit>,
  handler: Handler<Req, ResInit, Topics>,
  fake: FakeTopics,
  version: number,
  request: ReqInit
): Promise<Res> => {
  const decoded = decodedRequest(api, version, request)
  const result = await Effect.runPromise(
    handler.handle(decoded, contextFor(api.apiKey, version)).pipe(
      Effect.provide(fake.layer),
      Effect.provideService(References.MinimumLogLevel, "None")
    )
  )
  if (result === NO_RESPONSE || isPreEncoded(result)) throw new Error(`${api.name} handler gave no encodable response`)
  const bytes = encodeResponse(api, version, result)
  const r = new Reader(bytes)
  const decodedResponse = api.decodeResponse(r, version)
  if (r.remaining !== 0) throw new Error(`${api.name} v${version} response has ${r.remaining} trailing bytes`)
  return decodedResponse
}

/** Every version from `min` to `max`. */
export const versions = (min: number, max: number): Array<number> => Array.from({ length: max - min + 1 }, (_, i) => min + i)
