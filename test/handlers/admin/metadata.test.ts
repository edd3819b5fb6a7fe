import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  AUTHORIZED_OPERATIONS_OMITTED,
  CLUSTER_AUTHORIZED_OPERATIONS,
  METADATA_MAX_VERSION,
  METADATA_MIN_VERSION,
  MetadataHandler,
  TOPIC_AUTHORIZED_OPERATIONS
} from "../../../src/handlers/Metadata.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { Metadata } from "../../../src/protocol/generated/apis.ts"
import type { MetadataRequestInit } from "../../../src/protocol/generated/message/MetadataRequest.ts"
import type { MetadataResponseInit } from "../../../src/protocol/generated/message/MetadataResponse.ts"
import { ZERO_UUID } from "../../../src/protocol/primitives.ts"
import {
  ADVERTISED_HOST,
  ADVERTISED_PORT,
  call,
  CLUSTER_ID,
  contextFor,
  decodedRequest,
  type FakeTopics,
  makeFakeTopics,
  NODE_ID,
  nextTopicId,
  versions
} from "./helpers.ts"

const metadata = (fake: FakeTopics, version: number, request: MetadataRequestInit) => call(Metadata, MetadataHandler, fake, version, request)

const byName = <T extends { readonly name: string | null }>(topics: ReadonlyArray<T>, name: string): T => {
  const t = topics.find((x) => x.name === name)
  if (t === undefined) throw new Error(`no topic ${name} in the response`)
  return t
}

/** AclOperation codes (bit positions in the authorized-operations bitfield). */
const READ = 3
const DESCRIBE = 8
const CLUSTER_ACTION = 9
const IDEMPOTENT_WRITE = 12
const hasOp = (bits: number, op: number) => (bits & (1 << op)) !== 0

describe("Metadata", () => {
  it("serves versions 0-12", () => {
    expect([METADATA_MIN_VERSION, METADATA_MAX_VERSION]).toEqual([0, 12])
    expect([MetadataHandler.minVersion, MetadataHandler.maxVersion]).toEqual([0, 12])
  })

  it("lists this broker at the advertised endpoint, the cluster id and itself as controller (v12)", async () => {
    const res = await metadata(makeFakeTopics(), 12, { topics: [] })
    expect(res.brokers).toEqual([{ nodeId: NODE_ID, host: ADVERTISED_HOST, port: ADVERTISED_PORT, rack: null }])
    expect(res.clusterId).toBe(CLUSTER_ID)
    expect(res.controllerId).toBe(NODE_ID)
    expect(res.topics).toEqual([])
  })

  it("uses the node id Topics reports", async () => {
    const fake = makeFakeTopics({ nodeId: 42 })
    fake.addTopic("orders", 1)
    const res = await metadata(fake, 12, { topics: null })
    expect(res.brokers.map((b) => b.nodeId)).toEqual([42])
    expect(res.controllerId).toBe(42)
    expect(res.topics[0]!.partitions[0]!.leaderId).toBe(42)
  })

  it("v0 carries neither cluster id nor controller id; v1 adds the controller, v2 the cluster id", async () => {
    const fake = makeFakeTopics()
    const v0 = await metadata(fake, 0, { topics: [] })
    expect(v0.clusterId).toBeNull()
    expect(v0.controllerId).toBe(-1)
    expect(v0.brokers).toEqual([{ nodeId: NODE_ID, host: ADVERTISED_HOST, port: ADVERTISED_PORT, rack: null }])
    const v1 = await metadata(fake, 1, { topics: [] })
    expect(v1.clusterId).toBeNull()
    expect(v1.controllerId).toBe(NODE_ID)
    const v2 = await metadata(fake, 2, { topics: [] })
    expect(v2.clusterId).toBe(CLUSTER_ID)
  })

  it("an empty topic list means all topics in v0 and no topics from v1", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("a", 1)
    fake.addTopic("b", 2)
    expect((await metadata(fake, 0, { topics: [] })).topics.map((t) => t.name).sort()).toEqual(["a", "b"])
    expect((await metadata(fake, 1, { topics: [] })).topics).toEqual([])
    expect((await metadata(fake, 12, { topics: [] })).topics).toEqual([])
  })

  it("a null topic list means all topics (v1+), without auto-creating anything", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("a", 1)
    fake.addTopic("b", 2)
    for (const v of [1, 4, 9, 12]) {
      const res = await metadata(fake, v, { topics: null })
      expect(res.topics.map((t) => t.name).sort()).toEqual(["a", "b"])
      expect(res.topics.every((t) => t.errorCode === ErrorCode.NONE)).toBe(true)
    }
    expect(fake.calls.autoCreate).toEqual([])
  })

  it("answers requested topics with their id, partitions in index order, leader, epoch, replicas and isr (v12)", async () => {
    const fake = makeFakeTopics()
    const topic = fake.addTopic("orders", 3, { leaderEpoch: 5, reversePartitionOrder: true })
    fake.addTopic("other", 1)
    const res = await metadata(fake, 12, { topics: [{ name: "orders" }] })
    expect(res.topics).toHaveLength(1)
    const t = res.topics[0]!
    expect(t.errorCode).toBe(ErrorCode.NONE)
    expect(t.name).toBe("orders")
    expect(t.topicId).toBe(topic.topicId)
    expect(t.topicId).not.toBe(ZERO_UUID)
    expect(t.isInternal).toBe(false)
    expect(t.topicAuthorizedOperations).toBe(AUTHORIZED_OPERATIONS_OMITTED)
    expect(t.partitions.map((p) => p.partitionIndex)).toEqual([0, 1, 2])
    for (const p of t.partitions) {
      expect(p).toMatchObject({ errorCode: ErrorCode.NONE, leaderId: NODE_ID, leaderEpoch: 5, replicaNodes: [NODE_ID], isrNodes: [NODE_ID], offlineReplicas: [] })
    }
  })

  it("leaves out the fields older versions lack: topic id before v10, offline replicas before v5, leader epoch before v7", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("orders", 1, { leaderEpoch: 3 })
    const v9 = await metadata(fake, 9, { topics: [{ name: "orders" }] })
    expect(v9.topics[0]!.topicId).toBe(ZERO_UUID)
    expect(v9.topics[0]!.partitions[0]!.leaderEpoch).toBe(3)
    const v10 = await metadata(fake, 10, { topics: [{ name: "orders" }] })
    expect(v10.topics[0]!.topicId).not.toBe(ZERO_UUID)
    const v6 = await metadata(fake, 6, { topics: [{ name: "orders" }] })
    expect(v6.topics[0]!.partitions[0]!.leaderEpoch).toBe(-1)
    const v4 = await metadata(fake, 4, { topics: [{ name: "orders" }] })
    expect(v4.topics[0]!.partitions[0]).toMatchObject({ leaderId: NODE_ID, replicaNodes: [NODE_ID], isrNodes: [NODE_ID] })
  })

  it("reports a partition without a live leader as LEADER_NOT_AVAILABLE with leader -1", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("leaderless", 1, { leader: -1 })
    fake.addTopic("elsewhere", 1, { leader: 7 })
    const res = await metadata(fake, 12, { topics: [{ name: "leaderless" }, { name: "elsewhere" }] })
    for (const t of res.topics) {
      expect(t.errorCode).toBe(ErrorCode.NONE)
      expect(t.partitions[0]).toMatchObject({ errorCode: ErrorCode.LEADER_NOT_AVAILABLE, leaderId: -1 })
    }
  })

  it("answers a topic named twice once", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("orders", 1)
    const res = await metadata(fake, 12, { topics: [{ name: "orders" }, { name: "orders" }] })
    expect(res.topics.map((t) => t.name)).toEqual(["orders"])
  })

  describe("topic ids (v12)", () => {
    it("answers a topic requested by id with its name", async () => {
      const fake = makeFakeTopics()
      const topic = fake.addTopic("orders", 2)
      const res = await metadata(fake, 12, { topics: [{ name: null, topicId: topic.topicId }] })
      expect(res.topics).toHaveLength(1)
      expect(res.topics[0]).toMatchObject({ errorCode: ErrorCode.NONE, name: "orders", topicId: topic.topicId })
      expect(res.topics[0]!.partitions).toHaveLength(2)
    })

    it("answers an unknown id with UNKNOWN_TOPIC_ID, a null name and the requested id, and never auto-creates", async () => {
      const fake = makeFakeTopics()
      const unknownId = nextTopicId()
      const res = await metadata(fake, 12, { topics: [{ name: null, topicId: unknownId }], allowAutoTopicCreation: true })
      expect(res.topics).toEqual([
        expect.objectContaining({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId: unknownId, partitions: [] })
      ])
      expect(fake.calls.autoCreate).toEqual([])
    })

    it("mixes names and ids in one request", async () => {
      const fake = makeFakeTopics()
      const a = fake.addTopic("a", 1)
      fake.addTopic("b", 1)
      const res = await metadata(fake, 12, { topics: [{ name: null, topicId: a.topicId }, { name: "b" }] })
      expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([["a", 0], ["b", 0]])
    })

    it("refuses null names in v10-11 as Kafka does: INVALID_REQUEST for every topic", async () => {
      const fake = makeFakeTopics()
      fake.addTopic("orders", 1)
      for (const v of [10, 11]) {
        const res = await metadata(fake, v, { topics: [{ name: null }, { name: "orders" }] })
        expect(res.brokers).toEqual([])
        expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([["", ErrorCode.INVALID_REQUEST], ["orders", ErrorCode.INVALID_REQUEST]])
      }
    })
  })

  describe("auto-creation", () => {
    it("creates an unknown topic when the request allows it (v4+) and answers with its partitions", async () => {
      const fake = makeFakeTopics({ numPartitions: 3 })
      const res = await metadata(fake, 12, { topics: [{ name: "fresh" }], allowAutoTopicCreation: true })
      expect(fake.calls.autoCreate).toEqual(["fresh"])
      const created = fake.image().topicsByName.get("fresh")
      expect(created).toBeDefined()
      const t = res.topics[0]!
      expect(t).toMatchObject({ errorCode: ErrorCode.NONE, name: "fresh", topicId: created!.topicId })
      expect(t.partitions.map((p) => [p.partitionIndex, p.errorCode, p.leaderId])).toEqual([[0, 0, NODE_ID], [1, 0, NODE_ID], [2, 0, NODE_ID]])
    })

    it("does not create when the request forbids it: UNKNOWN_TOPIC_OR_PARTITION", async () => {
      const fake = makeFakeTopics()
      const res = await metadata(fake, 12, { topics: [{ name: "fresh" }], allowAutoTopicCreation: false })
      expect(res.topics).toEqual([expect.objectContaining({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name: "fresh", topicId: ZERO_UUID, partitions: [] })])
      expect(fake.calls.autoCreate).toEqual([])
      expect(fake.image().topicsByName.has("fresh")).toBe(false)
    })

    it("does not create when the broker disables it (Topics.autoCreate returns undefined): UNKNOWN_TOPIC_OR_PARTITION", async () => {
      const fake = makeFakeTopics({ autoCreateTopicsEnable: false })
      const res = await metadata(fake, 12, { topics: [{ name: "fresh" }], allowAutoTopicCreation: true })
      expect(fake.calls.autoCreate).toEqual(["fresh"])
      expect(res.topics).toEqual([expect.objectContaining({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name: "fresh", partitions: [] })])
      expect(fake.image().topicsByName.has("fresh")).toBe(false)
    })

    it("always allows it for v0-v3, which have no allow_auto_topic_creation field", async () => {
      for (const v of [0, 1, 2, 3]) {
        const fake = makeFakeTopics()
        const res = await metadata(fake, v, { topics: [{ name: `fresh-v${v}` }] })
        expect(res.topics[0]).toMatchObject({ errorCode: ErrorCode.NONE, name: `fresh-v${v}` })
        expect(res.topics[0]!.partitions).toHaveLength(1)
        expect(fake.image().topicsByName.has(`fresh-v${v}`)).toBe(true)
      }
    })

    it("answers invalid names with INVALID_TOPIC_EXCEPTION and never creates them", async () => {
      const fake = makeFakeTopics()
      const names = ["bad name", "..", "", "x".repeat(250), "ünïcode"]
      const res = await metadata(fake, 12, { topics: names.map((name) => ({ name })), allowAutoTopicCreation: true })
      expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual(names.map((n) => [n, ErrorCode.INVALID_TOPIC_EXCEPTION]))
      expect(fake.calls.autoCreate).toEqual([])
      expect(fake.calls.create).toEqual([])
    })

    it("answers a failed auto-creation with its error code", async () => {
      const fake = makeFakeTopics({ defaultReplicationFactor: 3 })
      const res = await metadata(fake, 12, { topics: [{ name: "fresh" }], allowAutoTopicCreation: true })
      expect(res.topics).toEqual([expect.objectContaining({ errorCode: ErrorCode.INVALID_REPLICATION_FACTOR, name: "fresh", partitions: [] })])
    })

    it("keeps request order around auto-created topics", async () => {
      const fake = makeFakeTopics()
      fake.addTopic("known", 1)
      const res = await metadata(fake, 12, { topics: [{ name: "new-1" }, { name: "known" }, { name: "bad name" }, { name: "new-2" }] })
      expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([
        ["new-1", 0],
        ["known", 0],
        ["bad name", ErrorCode.INVALID_TOPIC_EXCEPTION],
        ["new-2", 0]
      ])
      expect(fake.calls.autoCreate).toEqual(["new-1", "new-2"])
    })
  })

  describe("authorized operations", () => {
    it("are omitted unless requested (v8+)", async () => {
      const fake = makeFakeTopics()
      fake.addTopic("orders", 1)
      const res = await metadata(fake, 10, { topics: [{ name: "orders" }] })
      expect(res.topics[0]!.topicAuthorizedOperations).toBe(AUTHORIZED_OPERATIONS_OMITTED)
      expect(res.clusterAuthorizedOperations).toBe(AUTHORIZED_OPERATIONS_OMITTED)
    })

    it("report every topic and cluster operation when requested (no authorizer)", async () => {
      const fake = makeFakeTopics()
      fake.addTopic("orders", 1)
      const res = await metadata(fake, 10, {
        topics: [{ name: "orders" }, { name: "missing" }],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: true,
        includeClusterAuthorizedOperations: true
      })
      expect(res.topics.map((t) => t.topicAuthorizedOperations)).toEqual([TOPIC_AUTHORIZED_OPERATIONS, TOPIC_AUTHORIZED_OPERATIONS])
      expect(TOPIC_AUTHORIZED_OPERATIONS).toBe(3576)
      expect(hasOp(TOPIC_AUTHORIZED_OPERATIONS, READ) && hasOp(TOPIC_AUTHORIZED_OPERATIONS, DESCRIBE)).toBe(true)
      expect(res.clusterAuthorizedOperations).toBe(CLUSTER_AUTHORIZED_OPERATIONS)
      expect(CLUSTER_AUTHORIZED_OPERATIONS).toBe(8096)
      expect(hasOp(CLUSTER_AUTHORIZED_OPERATIONS, CLUSTER_ACTION) && hasOp(CLUSTER_AUTHORIZED_OPERATIONS, IDEMPOTENT_WRITE)).toBe(true)
    })

    it("v11+ has topic operations only (cluster operations moved to DescribeCluster)", async () => {
      const fake = makeFakeTopics()
      fake.addTopic("orders", 1)
      const res = await metadata(fake, 12, { topics: [{ name: "orders" }], includeTopicAuthorizedOperations: true })
      expect(res.topics[0]!.topicAuthorizedOperations).toBe(TOPIC_AUTHORIZED_OPERATIONS)
      expect(res.clusterAuthorizedOperations).toBe(AUTHORIZED_OPERATIONS_OMITTED)
    })
  })

  it("is answered from the image without touching the Topics operations, reusing unchanged topics' partition lists", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("orders", 2)
    const run = async (request: MetadataRequestInit): Promise<MetadataResponseInit> => {
      const decoded = decodedRequest(Metadata, 12, request)
      const res = await Effect.runPromise(MetadataHandler.handle(decoded, contextFor(Metadata.apiKey, 12)).pipe(Effect.provide(fake.layer)))
      return res as MetadataResponseInit
    }
    const first = await run({ topics: [{ name: "orders" }] })
    const second = await run({ topics: null })
    expect(second.topics![0]!.partitions).toBe(first.topics![0]!.partitions)
    expect(fake.calls).toEqual({ autoCreate: [], create: [], delete: [], createPartitions: [] })
    // A changed topic is a new object in the image: its answer is rebuilt.
    await Effect.runPromise(fake.service.createPartitions("orders", 3, false))
    const third = await run({ topics: [{ name: "orders" }] })
    expect(third.topics![0]!.partitions).not.toBe(first.topics![0]!.partitions)
    expect(third.topics![0]!.partitions).toHaveLength(3)
  })

  it("encodes at every version it serves", async () => {
    for (const v of versions(METADATA_MIN_VERSION, METADATA_MAX_VERSION)) {
      const fake = makeFakeTopics({ numPartitions: 2 })
      fake.addTopic("known", 2, { leaderEpoch: 1 })
      fake.addTopic("leaderless", 1, { leader: -1 })
      const request: MetadataRequestInit = {
        topics: [{ name: "known" }, { name: "leaderless" }, { name: "auto" }, { name: "bad name" }],
        ...(v >= 8 ? { includeTopicAuthorizedOperations: true } : {}),
        ...(v >= 8 && v <= 10 ? { includeClusterAuthorizedOperations: true } : {})
      }
      const res = await metadata(fake, v, request)
      expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([
        ["known", 0],
        ["leaderless", 0],
        ["auto", 0],
        ["bad name", ErrorCode.INVALID_TOPIC_EXCEPTION]
      ])
      expect(res.brokers).toHaveLength(1)
      const all = await metadata(fake, v, { topics: v === 0 ? [] : null })
      expect(all.topics).toHaveLength(3)
      if (v === 12) {
        const byId = await metadata(fake, v, { topics: [{ name: null, topicId: nextTopicId() }] })
        expect(byId.topics[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_ID)
      }
      expect(byName(all.topics, "known").partitions).toHaveLength(2)
    }
  })
})
