import { describe, expect, it } from "vitest"
import { CreatePartitionsHandler } from "../../../src/handlers/CreatePartitions.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { CreatePartitions } from "../../../src/protocol/generated/apis.ts"
import type { CreatePartitionsRequestInit } from "../../../src/protocol/generated/message/CreatePartitionsRequest.ts"
import { call, type FakeTopics, makeFakeTopics, NODE_ID, versions } from "./helpers.ts"

const createPartitions = (fake: FakeTopics, version: number, request: CreatePartitionsRequestInit) =>
  call(CreatePartitions, CreatePartitionsHandler, fake, version, request)

const countOf = (fake: FakeTopics, name: string) => fake.image().topicsByName.get(name)?.partitions.size

describe("CreatePartitions", () => {
  it("serves versions 0-3", () => {
    expect([CreatePartitionsHandler.minVersion, CreatePartitionsHandler.maxVersion]).toEqual([0, 3])
  })

  it("raises partition counts, each topic answered on its own with Kafka's code and a message", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("grow", 1)
    fake.addTopic("same", 2)
    fake.addTopic("shrink", 3)
    const res = await createPartitions(fake, 3, {
      topics: [
        { name: "grow", count: 4, assignments: null },
        { name: "same", count: 2, assignments: null },
        { name: "shrink", count: 1, assignments: null },
        { name: "missing", count: 2, assignments: null }
      ],
      timeoutMs: 1000
    })
    expect(res.results.map((r) => [r.name, r.errorCode])).toEqual([
      ["grow", ErrorCode.NONE],
      ["same", ErrorCode.INVALID_PARTITIONS],
      ["shrink", ErrorCode.INVALID_PARTITIONS],
      ["missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
    ])
    expect(res.results.map((r) => r.errorMessage)).toEqual([
      null,
      "Topic already has 2 partition(s).",
      "The topic shrink currently has 3 partition(s); 1 would not be an increase.",
      "This server does not host this topic-partition."
    ])
    expect([countOf(fake, "grow"), countOf(fake, "same"), countOf(fake, "shrink")]).toEqual([4, 2, 3])
  })

  it("only validates with validate_only", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("orders", 1)
    const ok = await createPartitions(fake, 1, { topics: [{ name: "orders", count: 3, assignments: null }], validateOnly: true })
    expect(ok.results[0]).toMatchObject({ name: "orders", errorCode: ErrorCode.NONE, errorMessage: null })
    expect(countOf(fake, "orders")).toBe(1)
    expect(fake.calls.createPartitions).toEqual([{ name: "orders", totalCount: 3, validateOnly: true }])
    const bad = await createPartitions(fake, 1, { topics: [{ name: "orders", count: 1, assignments: null }], validateOnly: true })
    expect(bad.results[0]!.errorCode).toBe(ErrorCode.INVALID_PARTITIONS)
  })

  it("answers a name given twice with one INVALID_REQUEST and changes nothing for it", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("twice", 1)
    fake.addTopic("once", 1)
    const res = await createPartitions(fake, 2, {
      topics: [{ name: "twice", count: 2, assignments: null }, { name: "once", count: 2, assignments: null }, { name: "twice", count: 3, assignments: null }]
    })
    expect(res.results.map((r) => [r.name, r.errorCode, r.errorMessage])).toEqual([
      ["twice", ErrorCode.INVALID_REQUEST, "Duplicate topic name."],
      ["once", ErrorCode.NONE, null]
    ])
    expect([countOf(fake, "twice"), countOf(fake, "once")]).toEqual([1, 2])
    expect(fake.calls.createPartitions.map((c) => c.name)).toEqual(["once"])
  })

  it("accepts assignments of the new partitions to this broker and refuses others", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("ok", 1)
    fake.addTopic("other-broker", 1)
    fake.addTopic("too-few", 1)
    const res = await createPartitions(fake, 3, {
      topics: [
        { name: "ok", count: 3, assignments: [{ brokerIds: [NODE_ID] }, { brokerIds: [NODE_ID] }] },
        { name: "other-broker", count: 2, assignments: [{ brokerIds: [NODE_ID + 1] }] },
        { name: "too-few", count: 3, assignments: [{ brokerIds: [NODE_ID] }] }
      ]
    })
    expect(res.results.map((r) => [r.name, r.errorCode])).toEqual([
      ["ok", ErrorCode.NONE],
      ["other-broker", ErrorCode.INVALID_REPLICA_ASSIGNMENT],
      ["too-few", ErrorCode.INVALID_REPLICA_ASSIGNMENT]
    ])
    expect(res.results[2]!.errorMessage).toBe("Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.")
    expect([countOf(fake, "ok"), countOf(fake, "other-broker"), countOf(fake, "too-few")]).toEqual([3, 1, 1])
  })

  it("encodes at every version it serves", async () => {
    for (const v of versions(0, 3)) {
      const fake = makeFakeTopics()
      fake.addTopic("orders", 1)
      const res = await createPartitions(fake, v, {
        topics: [
          { name: "orders", count: 2, assignments: null },
          { name: "missing", count: 2, assignments: null },
          { name: "dup", count: 2, assignments: null },
          { name: "dup", count: 2, assignments: null }
        ]
      })
      expect(res.results.map((r) => [r.name, r.errorCode])).toEqual([
        ["orders", ErrorCode.NONE],
        ["missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ["dup", ErrorCode.INVALID_REQUEST]
      ])
      expect(res.results[1]!.errorMessage).toBe("This server does not host this topic-partition.")
    }
  })
})
