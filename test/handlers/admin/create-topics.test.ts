import { describe, expect, it } from "vitest"
import { CreateTopicsHandler } from "../../../src/handlers/CreateTopics.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { CreateTopics } from "../../../src/protocol/generated/apis.ts"
import type { CreateTopicsRequestCreatableTopicInit, CreateTopicsRequestInit } from "../../../src/protocol/generated/message/CreateTopicsRequest.ts"
import { ZERO_UUID } from "../../../src/protocol/primitives.ts"
import { call, type FakeTopics, makeFakeTopics, NODE_ID, SOURCE, versions } from "./helpers.ts"

const createTopics = (fake: FakeTopics, version: number, request: CreateTopicsRequestInit) => call(CreateTopics, CreateTopicsHandler, fake, version, request)

const topic = (name: string, numPartitions: number, replicationFactor: number, extra: Partial<CreateTopicsRequestCreatableTopicInit> = {}): CreateTopicsRequestCreatableTopicInit => ({
  name,
  numPartitions,
  replicationFactor,
  assignments: [],
  configs: [],
  ...extra
})

describe("CreateTopics", () => {
  it("serves versions 0-7", () => {
    expect([CreateTopicsHandler.minVersion, CreateTopicsHandler.maxVersion]).toEqual([0, 7])
  })

  it("creates a topic and describes it (v7): id, partition count, replication factor, configs", async () => {
    const fake = makeFakeTopics()
    const res = await createTopics(fake, 7, { topics: [topic("orders", 3, 1, { configs: [{ name: "retention.ms", value: "1000" }] })] })
    const created = fake.image().topicsByName.get("orders")
    expect(created?.partitions.size).toBe(3)
    expect(fake.image().topicConfigs.get("orders")?.get("retention.ms")).toBe("1000")
    expect(res.topics).toHaveLength(1)
    const r = res.topics[0]!
    expect(r).toMatchObject({
      name: "orders",
      topicId: created!.topicId,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      topicConfigErrorCode: ErrorCode.NONE,
      numPartitions: 3,
      replicationFactor: 1
    })
    expect(r.topicId).not.toBe(ZERO_UUID)
    expect(r.configs).toEqual([
      { name: "cleanup.policy", value: "delete", readOnly: false, configSource: SOURCE.DEFAULT_CONFIG, isSensitive: false },
      { name: "max.message.bytes", value: "1048588", readOnly: false, configSource: SOURCE.DEFAULT_CONFIG, isSensitive: false },
      { name: "retention.ms", value: "1000", readOnly: false, configSource: SOURCE.DYNAMIC_TOPIC_CONFIG, isSensitive: false }
    ])
  })

  it("passes the request's settings to Topics.create", async () => {
    const fake = makeFakeTopics()
    await createTopics(fake, 4, { topics: [topic("orders", 2, 1, { configs: [{ name: "cleanup.policy", value: "compact" }] })], validateOnly: false })
    expect(fake.calls.create).toEqual([
      { name: "orders", numPartitions: 2, replicationFactor: 1, assignments: [], configs: [{ name: "cleanup.policy", value: "compact" }], validateOnly: false }
    ])
  })

  it("uses the broker defaults for -1 partitions and replication factor (v4+)", async () => {
    const fake = makeFakeTopics({ numPartitions: 4 })
    const res = await createTopics(fake, 6, { topics: [topic("orders", -1, -1)] })
    expect(res.topics[0]).toMatchObject({ errorCode: ErrorCode.NONE, numPartitions: 4, replicationFactor: 1 })
    expect(fake.image().topicsByName.get("orders")?.partitions.size).toBe(4)
  })

  it("creates from explicit replica assignments, and refuses assignments to other brokers", async () => {
    const fake = makeFakeTopics()
    const res = await createTopics(fake, 5, {
      topics: [
        topic("assigned", -1, -1, { assignments: [{ partitionIndex: 0, brokerIds: [NODE_ID] }, { partitionIndex: 1, brokerIds: [NODE_ID] }] }),
        topic("elsewhere", -1, -1, { assignments: [{ partitionIndex: 0, brokerIds: [2] }] })
      ]
    })
    expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([["assigned", 0], ["elsewhere", ErrorCode.INVALID_REPLICA_ASSIGNMENT]])
    expect(res.topics[0]!.numPartitions).toBe(2)
    expect(fake.calls.create[0]!.assignments).toEqual([{ partitionIndex: 0, brokerIds: [NODE_ID] }, { partitionIndex: 1, brokerIds: [NODE_ID] }])
    expect(fake.image().topicsByName.has("elsewhere")).toBe(false)
  })

  it("only validates with validate_only (v1+): answered as created, nothing created", async () => {
    const fake = makeFakeTopics()
    const res = await createTopics(fake, 7, { topics: [topic("orders", 2, 1, { configs: [{ name: "retention.ms", value: "5" }] })], validateOnly: true })
    expect(fake.image().topicsByName.has("orders")).toBe(false)
    expect(fake.calls.create[0]!.validateOnly).toBe(true)
    const r = res.topics[0]!
    expect(r).toMatchObject({ errorCode: ErrorCode.NONE, errorMessage: null, numPartitions: 2, replicationFactor: 1 })
    expect(r.configs?.find((c) => c.name === "retention.ms")).toEqual({ name: "retention.ms", value: "5", readOnly: false, configSource: SOURCE.DYNAMIC_TOPIC_CONFIG, isSensitive: false })
    expect(r.configs?.find((c) => c.name === "cleanup.policy")?.value).toBe("delete")

    const invalid = await createTopics(fake, 1, { topics: [topic("bad-config", 1, 1, { configs: [{ name: "retention.ms", value: "soon" }] })], validateOnly: true })
    expect(invalid.topics[0]!.errorCode).toBe(ErrorCode.INVALID_CONFIG)
  })

  it("answers each topic's refusal with Kafka's code and a message, and still creates the others", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("existing", 1)
    const res = await createTopics(fake, 5, {
      topics: [
        topic("existing", 1, 1),
        topic("bad name", 1, 1),
        topic("no-partitions", 0, 1),
        topic("replicated", 1, 3),
        topic("bad-config", 1, 1, { configs: [{ name: "no.such.config", value: "1" }] }),
        topic("good", 1, 1)
      ]
    })
    expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ["existing", ErrorCode.TOPIC_ALREADY_EXISTS],
      ["bad name", ErrorCode.INVALID_TOPIC_EXCEPTION],
      ["no-partitions", ErrorCode.INVALID_PARTITIONS],
      ["replicated", ErrorCode.INVALID_REPLICATION_FACTOR],
      ["bad-config", ErrorCode.INVALID_CONFIG],
      ["good", ErrorCode.NONE]
    ])
    expect(res.topics[0]!.errorMessage).toBe("Topic 'existing' already exists.")
    expect(res.topics[1]!.errorMessage).toContain("illegal")
    expect(res.topics[4]!.errorMessage).toBe("Unknown topic config name: no.such.config")
    for (const failed of res.topics.slice(0, 5)) {
      expect(failed).toMatchObject({ topicId: ZERO_UUID, numPartitions: -1, replicationFactor: -1, configs: null })
    }
    expect([...fake.image().topicsByName.keys()].sort()).toEqual(["existing", "good"])
  })

  it("never hands an illegal name to Topics.create", async () => {
    const fake = makeFakeTopics()
    const res = await createTopics(fake, 7, { topics: [topic("..", 1, 1), topic("", 1, 1)] })
    expect(res.topics.map((t) => t.errorCode)).toEqual([ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.INVALID_TOPIC_EXCEPTION])
    expect(fake.calls.create).toEqual([])
  })

  it("answers a name given twice with one INVALID_REQUEST and creates neither", async () => {
    const fake = makeFakeTopics()
    const res = await createTopics(fake, 7, { topics: [topic("twice", 1, 1), topic("once", 1, 1), topic("twice", 2, 1)] })
    expect(res.topics.map((t) => [t.name, t.errorCode, t.errorMessage])).toEqual([
      ["twice", ErrorCode.INVALID_REQUEST, "Duplicate topic name."],
      ["once", ErrorCode.NONE, null]
    ])
    expect(fake.image().topicsByName.has("twice")).toBe(false)
    expect(fake.calls.create.map((c) => c.name)).toEqual(["once"])
  })

  it("v0 has no error messages, v1-v4 no topic details, v5-v6 no topic id", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("existing", 1)
    const v0 = await createTopics(fake, 0, { topics: [topic("existing", 1, 1), topic("t0", 1, 1)] })
    expect(v0.topics.map((t) => [t.name, t.errorCode])).toEqual([["existing", ErrorCode.TOPIC_ALREADY_EXISTS], ["t0", 0]])
    expect(v0.topics[0]!.errorMessage).not.toBe("Topic 'existing' already exists.")
    const v1 = await createTopics(fake, 1, { topics: [topic("existing", 1, 1)] })
    expect(v1.topics[0]!.errorMessage).toBe("Topic 'existing' already exists.")
    const v4 = await createTopics(fake, 4, { topics: [topic("t4", 2, 1)] })
    expect(v4.topics[0]).toMatchObject({ errorCode: 0, numPartitions: -1, replicationFactor: -1 })
    const v6 = await createTopics(fake, 6, { topics: [topic("t6", 2, 1)] })
    expect(v6.topics[0]).toMatchObject({ errorCode: 0, topicId: ZERO_UUID, numPartitions: 2, replicationFactor: 1 })
    expect(v6.topics[0]!.configs).toHaveLength(3)
    const v7 = await createTopics(fake, 7, { topics: [topic("t7", 2, 1)] })
    expect(v7.topics[0]!.topicId).toBe(fake.image().topicsByName.get("t7")!.topicId)
  })

  it("encodes at every version it serves", async () => {
    for (const v of versions(0, 7)) {
      const fake = makeFakeTopics()
      fake.addTopic("existing", 1)
      const res = await createTopics(fake, v, {
        topics: [
          topic("fresh", v >= 4 ? -1 : 1, v >= 4 ? -1 : 1, { configs: [{ name: "retention.ms", value: "10" }] }),
          topic("existing", 1, 1),
          topic("dup", 1, 1),
          topic("dup", 1, 1),
          topic("bad name", 1, 1)
        ],
        ...(v >= 1 ? { validateOnly: false } : {})
      })
      expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([
        ["fresh", 0],
        ["existing", ErrorCode.TOPIC_ALREADY_EXISTS],
        ["dup", ErrorCode.INVALID_REQUEST],
        ["bad name", ErrorCode.INVALID_TOPIC_EXCEPTION]
      ])
      if (v >= 1) {
        const validated = await createTopics(fake, v, { topics: [topic("validated", 1, 1)], validateOnly: true })
        expect(validated.topics[0]!.errorCode).toBe(ErrorCode.NONE)
      }
    }
  })
})
