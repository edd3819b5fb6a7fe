import { describe, expect, it } from "vitest"
import {
  DescribeTopicPartitionsHandler,
  MAX_RESPONSE_PARTITIONS
} from "../../../src/handlers/DescribeTopicPartitions.ts"
import { TOPIC_AUTHORIZED_OPERATIONS } from "../../../src/handlers/Metadata.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { DescribeTopicPartitions } from "../../../src/protocol/generated/apis.ts"
import type { DescribeTopicPartitionsRequestInit } from "../../../src/protocol/generated/message/DescribeTopicPartitionsRequest.ts"
import type { DescribeTopicPartitionsResponse } from "../../../src/protocol/generated/message/DescribeTopicPartitionsResponse.ts"
import { ZERO_UUID } from "../../../src/protocol/primitives.ts"
import { call, type FakeTopics, makeFakeTopics, NODE_ID } from "./helpers.ts"

const describeTopics = (fake: FakeTopics, request: DescribeTopicPartitionsRequestInit) =>
  call(DescribeTopicPartitions, DescribeTopicPartitionsHandler, fake, 0, request)

/** "topic:partition" for every partition of a response, in response order. */
const partitionsOf = (res: DescribeTopicPartitionsResponse): Array<string> =>
  res.topics.flatMap((t) => t.partitions.map((p) => `${t.name}:${p.partitionIndex}`))

describe("DescribeTopicPartitions", () => {
  it("serves version 0", () => {
    expect([DescribeTopicPartitionsHandler.minVersion, DescribeTopicPartitionsHandler.maxVersion]).toEqual([0, 0])
  })

  it("describes every topic in name order when no topic is named", async () => {
    const fake = makeFakeTopics()
    const c = fake.addTopic("charlie", 1)
    const a = fake.addTopic("alpha", 2)
    fake.addTopic("bravo", 1)
    const res = await describeTopics(fake, { topics: [] })
    expect(res.topics.map((t) => t.name)).toEqual(["alpha", "bravo", "charlie"])
    expect(res.topics[0]).toMatchObject({ errorCode: ErrorCode.NONE, topicId: a.topicId, isInternal: false })
    expect(res.topics[2]!.topicId).toBe(c.topicId)
    expect(res.nextCursor).toBeNull()
  })

  it("answers the named topics once each, in name order; unknown ones with UNKNOWN_TOPIC_OR_PARTITION and the zero id", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("orders", 1)
    fake.addTopic("audit", 1)
    const res = await describeTopics(fake, { topics: [{ name: "orders" }, { name: "missing" }, { name: "audit" }, { name: "orders" }] })
    expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ["audit", ErrorCode.NONE],
      ["missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ["orders", ErrorCode.NONE]
    ])
    expect(res.topics[1]).toMatchObject({ topicId: ZERO_UUID, partitions: [] })
    expect(fake.calls.autoCreate).toEqual([])
  })

  it("answers an illegal name with INVALID_TOPIC_EXCEPTION", async () => {
    const res = await describeTopics(makeFakeTopics(), { topics: [{ name: "no spaces" }] })
    expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([["no spaces", ErrorCode.INVALID_TOPIC_EXCEPTION]])
  })

  it("describes partitions in index order with leader, epoch, replicas, isr, ELR and last known ELR from the image", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("orders", 3, { leaderEpoch: 4, elr: [NODE_ID], lastKnownElr: [9], reversePartitionOrder: true })
    fake.addTopic("leaderless", 1, { leader: -1 })
    const res = await describeTopics(fake, { topics: [{ name: "orders" }, { name: "leaderless" }] })
    const orders = res.topics.find((t) => t.name === "orders")!
    expect(orders.partitions.map((p) => p.partitionIndex)).toEqual([0, 1, 2])
    expect(orders.partitions[1]).toEqual({
      errorCode: ErrorCode.NONE,
      partitionIndex: 1,
      leaderId: NODE_ID,
      leaderEpoch: 4,
      replicaNodes: [NODE_ID],
      isrNodes: [NODE_ID],
      eligibleLeaderReplicas: [NODE_ID],
      lastKnownElr: [9],
      offlineReplicas: []
    })
    const leaderless = res.topics.find((t) => t.name === "leaderless")!
    expect(leaderless.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, leaderId: -1, isrNodes: [] })
  })

  it("fills in the topic authorized operations for every topic, as Kafka does for this API", async () => {
    const fake = makeFakeTopics()
    fake.addTopic("orders", 1)
    const res = await describeTopics(fake, { topics: [{ name: "orders" }, { name: "missing" }] })
    expect(res.topics.map((t) => t.topicAuthorizedOperations)).toEqual([TOPIC_AUTHORIZED_OPERATIONS, TOPIC_AUTHORIZED_OPERATIONS])
  })

  describe("paging", () => {
    const threeTopics = () => {
      const fake = makeFakeTopics()
      fake.addTopic("c", 4)
      fake.addTopic("a", 3)
      fake.addTopic("b", 2)
      return fake
    }
    const everyPartition = ["a:0", "a:1", "a:2", "b:0", "b:1", "c:0", "c:1", "c:2", "c:3"]

    it("stops at the partition limit and points the cursor at the first partition not returned", async () => {
      const fake = threeTopics()
      const first = await describeTopics(fake, { topics: [], responsePartitionLimit: 4 })
      expect(partitionsOf(first)).toEqual(["a:0", "a:1", "a:2", "b:0"])
      expect(first.nextCursor).toMatchObject({ topicName: "b", partitionIndex: 1 })

      const second = await describeTopics(fake, { topics: [], responsePartitionLimit: 4, cursor: { topicName: "b", partitionIndex: 1 } })
      expect(second.topics.map((t) => t.name)).toEqual(["b", "c"])
      expect(partitionsOf(second)).toEqual(["b:1", "c:0", "c:1", "c:2"])
      expect(second.nextCursor).toMatchObject({ topicName: "c", partitionIndex: 3 })

      const third = await describeTopics(fake, { topics: [], responsePartitionLimit: 4, cursor: { topicName: "c", partitionIndex: 3 } })
      expect(partitionsOf(third)).toEqual(["c:3"])
      expect(third.nextCursor).toBeNull()
    })

    it("points the cursor at the next topic when a topic ends exactly at the limit", async () => {
      const res = await describeTopics(threeTopics(), { topics: [], responsePartitionLimit: 3 })
      expect(partitionsOf(res)).toEqual(["a:0", "a:1", "a:2"])
      expect(res.topics.map((t) => t.name)).toEqual(["a"])
      expect(res.nextCursor).toMatchObject({ topicName: "b", partitionIndex: 0 })
    })

    it("returns every partition exactly once when a client follows the cursor, whatever the page size", async () => {
      for (const limit of [1, 2, 3, 5, 9, 100]) {
        const fake = threeTopics()
        const seen: Array<string> = []
        let cursor: { topicName: string; partitionIndex: number } | null = null
        for (let page = 0; page < 20; page++) {
          const res: DescribeTopicPartitionsResponse = await describeTopics(fake, { topics: [{ name: "c" }, { name: "a" }, { name: "b" }], responsePartitionLimit: limit, cursor })
          seen.push(...partitionsOf(res))
          cursor = res.nextCursor === null ? null : { topicName: res.nextCursor.topicName, partitionIndex: res.nextCursor.partitionIndex }
          if (cursor === null) break
        }
        expect(cursor).toBeNull()
        expect(seen).toEqual(everyPartition)
      }
    })

    it("unknown topics use none of the limit", async () => {
      const fake = makeFakeTopics()
      fake.addTopic("b", 2)
      const res = await describeTopics(fake, { topics: [{ name: "a-missing" }, { name: "b" }], responsePartitionLimit: 2 })
      expect(res.topics.map((t) => [t.name, t.errorCode, t.partitions.length])).toEqual([
        ["a-missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0],
        ["b", ErrorCode.NONE, 2]
      ])
      expect(res.nextCursor).toBeNull()
    })

    it("caps the limit at 2000 partitions and treats a limit below 1 as 1", async () => {
      const fake = makeFakeTopics()
      fake.addTopic("big", MAX_RESPONSE_PARTITIONS + 5)
      const capped = await describeTopics(fake, { topics: [{ name: "big" }], responsePartitionLimit: 10_000 })
      expect(capped.topics[0]!.partitions).toHaveLength(MAX_RESPONSE_PARTITIONS)
      expect(capped.nextCursor).toMatchObject({ topicName: "big", partitionIndex: MAX_RESPONSE_PARTITIONS })
      const atLeastOne = await describeTopics(fake, { topics: [{ name: "big" }], responsePartitionLimit: 0 })
      expect(partitionsOf(atLeastOne)).toEqual(["big:0"])
      expect(atLeastOne.nextCursor).toMatchObject({ topicName: "big", partitionIndex: 1 })
    })

    it("skips topics named before the cursor's topic", async () => {
      const fake = threeTopics()
      const res = await describeTopics(fake, { topics: [{ name: "a" }, { name: "b" }, { name: "c" }], cursor: { topicName: "b", partitionIndex: 0 } })
      expect(res.topics.map((t) => t.name)).toEqual(["b", "c"])
    })

    it("refuses a cursor whose topic is not requested, or a negative partition: INVALID_REQUEST for every topic", async () => {
      const fake = threeTopics()
      const notListed = await describeTopics(fake, { topics: [{ name: "a" }, { name: "c" }], cursor: { topicName: "b", partitionIndex: 0 } })
      expect(notListed.topics.map((t) => [t.name, t.errorCode])).toEqual([["a", ErrorCode.INVALID_REQUEST], ["c", ErrorCode.INVALID_REQUEST]])
      expect(notListed.nextCursor).toBeNull()
      const negative = await describeTopics(fake, { topics: [{ name: "a" }], cursor: { topicName: "a", partitionIndex: -1 } })
      expect(negative.topics.map((t) => [t.name, t.errorCode])).toEqual([["a", ErrorCode.INVALID_REQUEST]])
    })

    it("answers a cursor past a topic's last partition with no partitions from it", async () => {
      const fake = threeTopics()
      const res = await describeTopics(fake, { topics: [{ name: "a" }, { name: "b" }], cursor: { topicName: "a", partitionIndex: 7 } })
      expect(res.topics.map((t) => [t.name, t.partitions.length])).toEqual([["a", 0], ["b", 2]])
      expect(res.nextCursor).toBeNull()
    })
  })
})
