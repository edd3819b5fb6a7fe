import { describe, expect, it } from "vitest"
import { DeleteTopicsHandler } from "../../../src/handlers/DeleteTopics.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { DeleteTopics } from "../../../src/protocol/generated/apis.ts"
import type { DeleteTopicsRequestInit } from "../../../src/protocol/generated/message/DeleteTopicsRequest.ts"
import { ZERO_UUID } from "../../../src/protocol/primitives.ts"
import { call, type FakeTopics, makeFakeTopics, nextTopicId, versions } from "./helpers.ts"

const deleteTopics = (fake: FakeTopics, version: number, request: DeleteTopicsRequestInit) => call(DeleteTopics, DeleteTopicsHandler, fake, version, request)

describe("DeleteTopics", () => {
  it("serves versions 0-6", () => {
    expect([DeleteTopicsHandler.minVersion, DeleteTopicsHandler.maxVersion]).toEqual([0, 6])
  })

  it("deletes topics named in topic_names (v0-v5) and answers unknown ones with UNKNOWN_TOPIC_OR_PARTITION", async () => {
    for (const v of [0, 3, 5]) {
      const fake = makeFakeTopics()
      fake.addTopic("orders", 2)
      fake.addTopic("kept", 1)
      const res = await deleteTopics(fake, v, { topicNames: ["orders", "missing"] })
      expect(res.responses.map((r) => [r.name, r.errorCode])).toEqual([["orders", ErrorCode.NONE], ["missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]])
      expect([...fake.image().topicsByName.keys()]).toEqual(["kept"])
      expect(fake.calls.delete).toEqual(["orders"])
    }
  })

  it("sends error messages from v5 (null on success)", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("orders", 1)
    const v5 = await deleteTopics(fake, 5, { topicNames: ["orders", "missing"] })
    expect(v5.responses.map((r) => r.errorMessage)).toEqual([null, "This server does not host this topic-partition."])
    const v4 = await deleteTopics(fake, 4, { topicNames: ["missing"] })
    expect(v4.responses[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    expect(v4.responses[0]!.errorMessage).not.toBe("This server does not host this topic-partition.")
  })

  it("deletes by name or by topic id (v6) and answers with the topic's id", async () => {
    const fake = makeFakeTopics()
    const byName = fake.addTopic("by-name", 1)
    const byId = fake.addTopic("by-id", 1)
    const res = await deleteTopics(fake, 6, { topics: [{ name: "by-name" }, { name: null, topicId: byId.topicId }] })
    expect(res.responses).toEqual([
      expect.objectContaining({ name: "by-name", topicId: byName.topicId, errorCode: ErrorCode.NONE, errorMessage: null }),
      expect.objectContaining({ name: "by-id", topicId: byId.topicId, errorCode: ErrorCode.NONE, errorMessage: null })
    ])
    expect(fake.image().topicsByName.size).toBe(0)
  })

  it("answers an unknown id with UNKNOWN_TOPIC_ID and a null name, an unknown name with the zero id (v6)", async () => {
    const fake = makeFakeTopics()
    const unknownId = nextTopicId()
    const res = await deleteTopics(fake, 6, { topics: [{ name: null, topicId: unknownId }, { name: "missing" }] })
    expect(res.responses).toEqual([
      expect.objectContaining({ name: null, topicId: unknownId, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, errorMessage: "This server does not host this topic ID." }),
      expect.objectContaining({ name: "missing", topicId: ZERO_UUID, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })
    ])
  })

  it("refuses entries with both a name and an id, or neither (v6)", async () => {
    const fake = makeFakeTopics()
    const t = fake.addTopic("orders", 1)
    const res = await deleteTopics(fake, 6, { topics: [{ name: "orders", topicId: t.topicId }, { name: null, topicId: ZERO_UUID }] })
    expect(res.responses.map((r) => [r.name, r.errorCode])).toEqual([["orders", ErrorCode.INVALID_REQUEST], [null, ErrorCode.INVALID_REQUEST]])
    expect(fake.image().topicsByName.has("orders")).toBe(true)
  })

  it("answers a name or an id given twice with one INVALID_REQUEST and deletes nothing for it", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("twice", 1)
    const byId = fake.addTopic("id-twice", 1)
    fake.addTopic("once", 1)
    const v5 = await deleteTopics(fake, 5, { topicNames: ["twice", "once", "twice"] })
    expect(v5.responses.map((r) => [r.name, r.errorCode, r.errorMessage])).toEqual([
      ["twice", ErrorCode.INVALID_REQUEST, "Duplicate topic name."],
      ["once", ErrorCode.NONE, null]
    ])
    const v6 = await deleteTopics(fake, 6, { topics: [{ name: null, topicId: byId.topicId }, { name: null, topicId: byId.topicId }] })
    expect(v6.responses.map((r) => [r.name, r.topicId, r.errorCode, r.errorMessage])).toEqual([[null, byId.topicId, ErrorCode.INVALID_REQUEST, "Duplicate topic id."]])
    expect([...fake.image().topicsByName.keys()].sort()).toEqual(["id-twice", "twice"])
    expect(fake.calls.delete).toEqual(["once"])
  })

  it("answers TOPIC_DELETION_DISABLED when deletion is off (v3+), INVALID_REQUEST to older clients", async () => {
    const fake = makeFakeTopics({ deleteTopicEnable: false })
    fake.addTopic("orders", 1)
    const v3 = await deleteTopics(fake, 3, { topicNames: ["orders"] })
    expect(v3.responses[0]!.errorCode).toBe(ErrorCode.TOPIC_DELETION_DISABLED)
    const v2 = await deleteTopics(fake, 2, { topicNames: ["orders"] })
    expect(v2.responses[0]!.errorCode).toBe(ErrorCode.INVALID_REQUEST)
    const v6 = await deleteTopics(fake, 6, { topics: [{ name: "orders" }] })
    expect(v6.responses[0]).toMatchObject({ errorCode: ErrorCode.TOPIC_DELETION_DISABLED, errorMessage: "Topic deletion is disabled." })
    expect(fake.image().topicsByName.has("orders")).toBe(true)
  })

  it("encodes at every version it serves", async () => {
    for (const v of versions(0, 6)) {
      const fake = makeFakeTopics()
      const byId = fake.addTopic("by-id", 1)
      fake.addTopic("by-name", 1)
      const request: DeleteTopicsRequestInit = v >= 6
        ? { topics: [{ name: "by-name" }, { name: null, topicId: byId.topicId }, { name: "missing" }, { name: null, topicId: nextTopicId() }, { name: "by-name" }] }
        : { topicNames: ["by-name", "by-id", "missing", "by-name"] }
      const res = await deleteTopics(fake, v, request)
      expect(res.responses.map((r) => r.errorCode)).toEqual(
        v >= 6
          ? [ErrorCode.INVALID_REQUEST, ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_ID]
          : [ErrorCode.INVALID_REQUEST, ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
      )
      expect(fake.image().topicsByName.has("by-id")).toBe(false)
    }
  })
})
