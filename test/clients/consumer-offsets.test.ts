/**
 * Issue 10 proof for durable groups: three KafkaJS consumers share a 6-partition topic, one
 * leaves and the other two take over its partitions with no record lost or read twice past the
 * committed offsets; then the group resumes from its committed
 * offsets after the broker process restarts (a clean stop, and `kill -9` after the commit was
 * acknowledged); a lag report (DescribeGroups + OffsetFetch + ListOffsets) shows lag 0; and
 * DeleteGroups removes the group and its offsets, also across a restart; a live KafkaJS consumer
 * keeps its member id across a restart (membership restored). Then the group admin APIs through
 * KafkaJS's and @platformatic/kafka's admin clients on an embedded broker.
 */
import { EventEmitter } from "node:events"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Admin } from "@platformatic/kafka"
import { Kafka, logLevel } from "kafkajs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import { Metadata } from "../../src/protocol/generated/apis.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

const GROUP_ARGS = ["--override", "group.initial.rebalance.delay.ms=0", "--override", "offsets.topic.num.partitions=5"]

const kafkaFor = (bootstrap: string) =>
  new Kafka({ clientId: "offsets-test", brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 } })

const produce = async (kafka: Kafka, topic: string, from: number, count: number, partitions = 3) => {
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({ topic, messages: Array.from({ length: count }, (_, i) => ({ partition: (from + i) % partitions, value: `v${from + i}` })) })
  await producer.disconnect()
}

/** Resolves once `check()` holds, re-checked on each of `progress`'s events; fails after `max` events without it. */
const until = (progress: EventEmitter, check: () => boolean, what: string, max = 10_000): Promise<void> =>
  new Promise((resolve, reject) => {
    if (check()) return resolve()
    let seen = 0
    const on = () => {
      if (check()) {
        progress.off("event", on)
        resolve()
      } else if (++seen >= max) {
        progress.off("event", on)
        reject(new Error(`${what}: not reached after ${max} events`))
      }
    }
    progress.on("event", on)
  })

/**
 * Three KafkaJS consumers of `groupId` share a 6-partition topic (two partitions each), each
 * committing every record before it takes the next; one leaves, the other two take over its
 * partitions. Returns every value read (so duplicates show) and the rebalances seen.
 */
const threeConsumersOneLeaves = async (kafka: Kafka, groupId: string, topic: string) => {
  const progress = new EventEmitter()
  progress.setMaxListeners(0)
  const read: Array<string> = []
  const consumers = ["c1", "c2", "c3"].map((name) => {
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50, sessionTimeout: 10_000, heartbeatInterval: 500 })
    const member = { name, consumer, partitions: [] as Array<number>, joins: 0 }
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      member.partitions = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b)
      member.joins++
      progress.emit("event")
    })
    return member
  })
  for (const m of consumers) {
    await m.consumer.connect()
    await m.consumer.subscribe({ topic, fromBeginning: true })
    void m.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        read.push(message.value!.toString())
        await m.consumer.commitOffsets([{ topic, partition, offset: String(BigInt(message.offset) + 1n) }])
        progress.emit("event")
      }
    })
  }
  const split = (ms: ReadonlyArray<typeof consumers[number]>, each: number) => () =>
    ms.every((m) => m.partitions.length === each) && new Set(ms.flatMap((m) => m.partitions)).size === 6
  await until(progress, split(consumers, 2), "three members with two partitions each")
  await produce(kafka, topic, 0, 30, 6)
  await until(progress, () => read.length >= 30, "the first 30 records read")
  const [c1, c2, c3] = consumers as [typeof consumers[number], typeof consumers[number], typeof consumers[number]]
  const leaverPartitions = c3.partitions
  await c3.consumer.disconnect()
  await until(progress, split([c1, c2], 3), "the two remaining members take over the third's partitions")
  const tookOver = leaverPartitions.every((p) => c1.partitions.includes(p) || c2.partitions.includes(p))
  await produce(kafka, topic, 30, 30, 6)
  await until(progress, () => read.length >= 60, "the next 30 records read")
  await c1.consumer.disconnect()
  await c2.consumer.disconnect()
  return { read, tookOver, joins: consumers.map((m) => m.joins) }
}

/**
 * Consumes with a fresh KafkaJS consumer of `groupId` until `expected` records arrived, commits
 * what it read (acknowledged before this returns) and leaves the group. fromBeginning: true, so
 * anything before the committed offsets would be read again.
 */
const consumeAndCommit = async (kafka: Kafka, groupId: string, topic: string, expected: number): Promise<Array<string>> => {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const values: Array<string> = []
  const next = new Map<number, bigint>()
  await new Promise<void>((resolve, reject) => {
    if (expected === 0) resolve()
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        values.push(message.value!.toString())
        next.set(partition, BigInt(message.offset) + 1n)
        if (values.length === expected) resolve()
      }
    }).catch(reject)
  })
  await consumer.commitOffsets([...next].map(([partition, offset]) => ({ topic, partition, offset: String(offset) })))
  await consumer.disconnect()
  return values
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => `v${from + i}`)

/** Metadata v12 for one topic: is it reported internal? */
const isInternal = async (port: number, topic: string): Promise<boolean> => {
  const client = await WireClient.connect(port)
  client.write(encodeRequest(Metadata, 12, 1, { topics: [{ name: topic }], allowAutoTopicCreation: false }))
  const body = decodeResponse(Metadata, 12, await client.read()).body
  client.close()
  return body.topics[0].isInternal
}

/** kafka-consumer-groups --describe: per partition, committed offset and lag against the high watermark. */
const lagReport = async (kafka: Kafka, groupId: string, topic: string) => {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const [group] = (await admin.describeGroups([groupId])).groups
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
    const ends = await admin.fetchTopicOffsets(topic)
    const lag = committed!.partitions.map((p) => Number(ends.find((e) => e.partition === p.partition)!.high) - Number(p.offset))
    return { state: group!.state, offsets: committed!.partitions.map((p) => Number(p.offset)).sort(), lag }
  } finally {
    await admin.disconnect()
  }
}

describe("durable consumer groups across broker restarts (real process)", () => {
  it("a KafkaJS group resumes from its committed offsets after a clean restart and after kill -9; a deleted group stays deleted", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-offsets-"))
    const topic = "resume"
    const groupId = "resume-group"
    let broker: BrokerProcess = await startBrokerProcess({ logDir, args: GROUP_ARGS })
    try {
      let kafka = kafkaFor(`127.0.0.1:${broker.port}`)
      const admin = kafka.admin()
      await admin.connect()
      await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] })
      await admin.disconnect()
      // Three consumers, one leaves: every record read once, none twice past the committed offsets.
      const shared = await threeConsumersOneLeaves(kafka, groupId, topic)
      expect(shared.tookOver).toBe(true)
      expect(shared.read.length).toBe(60)
      expect(shared.read.sort()).toEqual(range(0, 60).sort())
      // c1 and c2 saw at least the first generation and the one after c3 left.
      expect(shared.joins[0]).toBeGreaterThanOrEqual(2)
      expect(shared.joins[1]).toBeGreaterThanOrEqual(2)
      expect(await lagReport(kafka, groupId, topic)).toEqual({ state: "Empty", offsets: [10, 10, 10, 10, 10, 10], lag: [0, 0, 0, 0, 0, 0] })
      await produce(kafka, topic, 60, 18, 6)
      expect(await isInternal(broker.port, "__consumer_offsets")).toBe(true)
      // A second group is deleted before the restart: it must stay deleted.
      expect((await consumeAndCommit(kafka, "doomed-group", topic, 78)).length).toBe(78)
      const admin1 = kafka.admin()
      await admin1.connect()
      expect(await admin1.deleteGroups(["doomed-group"])).toEqual([{ groupId: "doomed-group", errorCode: 0 }])
      await admin1.disconnect()

      // Clean stop.
      broker.child.kill("SIGTERM")
      expect((await broker.exited).code).toBe(0)
      broker = await startBrokerProcess({ logDir, args: GROUP_ARGS })
      kafka = kafkaFor(`127.0.0.1:${broker.port}`)
      const admin2 = kafka.admin()
      await admin2.connect()
      expect((await admin2.listGroups()).groups.map((g) => g.groupId)).toEqual([groupId])
      const [doomed] = await admin2.fetchOffsets({ groupId: "doomed-group", topics: [topic] })
      expect(doomed!.partitions.map((p) => p.offset)).toEqual(["-1", "-1", "-1", "-1", "-1", "-1"])
      await admin2.disconnect()
      expect((await consumeAndCommit(kafka, groupId, topic, 18)).sort()).toEqual(range(60, 18).sort())
      await produce(kafka, topic, 78, 6, 6)

      // kill -9 once the commit was acknowledged.
      broker.child.kill("SIGKILL")
      await broker.exited
      broker = await startBrokerProcess({ logDir, args: GROUP_ARGS })
      kafka = kafkaFor(`127.0.0.1:${broker.port}`)
      expect((await consumeAndCommit(kafka, groupId, topic, 6)).sort()).toEqual(range(78, 6).sort())

      const report = await lagReport(kafka, groupId, topic)
      expect(report).toEqual({ state: "Empty", offsets: [14, 14, 14, 14, 14, 14], lag: [0, 0, 0, 0, 0, 0] })
    } finally {
      broker.child.kill("SIGKILL")
      await broker.exited
    }
  }, 120_000)
})

describe("a live KafkaJS consumer across an embedded broker restart on the same port", () => {
  it("keeps its member id: the group's members and generation were restored from __consumer_offsets", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-live-group-"))
    const properties = { "log.dirs": logDir, "group.initial.rebalance.delay.ms": "0", "offsets.topic.num.partitions": "3" }
    let broker = await startBroker({ properties })
    const port = broker.port
    const kafka = kafkaFor(broker.bootstrap)
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: "live", numPartitions: 3 }] })
    await admin.disconnect()
    await produce(kafka, "live", 0, 9)
    const consumer = kafka.consumer({ groupId: "live-group", maxWaitTimeInMs: 50, sessionTimeout: 30_000, heartbeatInterval: 500 })
    const seen = new Set<string>()
    let reached: (() => void) | undefined
    let target = 9
    const arrived = () => new Promise<void>((resolve) => {
      reached = resolve
      if (seen.size >= target) resolve()
    })
    try {
      await consumer.connect()
      await consumer.subscribe({ topic: "live", fromBeginning: true })
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen.add(message.value!.toString())
          if (seen.size >= target) reached?.()
        }
      })
      await arrived()
      const describe = async () => {
        const a = kafkaFor(`127.0.0.1:${port}`).admin()
        await a.connect()
        try {
          return (await a.describeGroups(["live-group"])).groups[0]!
        } finally {
          await a.disconnect()
        }
      }
      const before = await describe()
      expect(before.state).toBe("Stable")

      await broker.stop()
      broker = await startBroker({ properties: { ...properties, listeners: `PLAINTEXT://127.0.0.1:${port}` } })
      target = 18
      await produce(kafkaFor(broker.bootstrap), "live", 9, 9)
      await arrived()
      expect([...seen].sort()).toEqual(range(0, 18).sort())
      const after = await describe()
      expect(after.members.map((m) => m.memberId)).toEqual(before.members.map((m) => m.memberId))
    } finally {
      await consumer.disconnect()
      await broker.stop()
    }
  }, 60_000)
})

describe("group admin APIs with real admin clients", () => {
  let broker: EmbeddedBroker
  beforeAll(async () => {
    broker = await startBroker({ properties: { "group.initial.rebalance.delay.ms": "0", "offsets.topic.num.partitions": "5" } })
    const admin = kafkaFor(broker.bootstrap).admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: "admin-t", numPartitions: 3 }, { topic: "admin-u", numPartitions: 1 }] })
    await admin.disconnect()
    await produce(kafkaFor(broker.bootstrap), "admin-t", 0, 9)
  })
  afterAll(async () => {
    await broker?.stop()
  })

  it("KafkaJS: listGroups, describeGroups, fetchOffsets, resetOffsets, deleteGroups (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND)", async () => {
    const kafka = kafkaFor(broker.bootstrap)
    const admin = kafka.admin()
    await admin.connect()
    try {
      expect((await consumeAndCommit(kafka, "kjs-idle", "admin-t", 9)).length).toBe(9)
      // A live member keeps "kjs-busy" non-empty.
      const busy = kafka.consumer({ groupId: "kjs-busy", maxWaitTimeInMs: 50 })
      await busy.connect()
      await busy.subscribe({ topic: "admin-t", fromBeginning: true })
      let seen = 0
      await new Promise<void>((resolve, reject) => {
        busy.run({ eachMessage: async () => { if (++seen === 9) resolve() } }).catch(reject)
      })
      try {
        const listed = (await admin.listGroups()).groups
        expect(listed).toEqual(expect.arrayContaining([{ groupId: "kjs-idle", protocolType: "consumer" }, { groupId: "kjs-busy", protocolType: "consumer" }]))
        const described = (await admin.describeGroups(["kjs-idle", "kjs-busy"])).groups
        expect(described.map((g) => [g.groupId, g.state, g.members.length])).toEqual([["kjs-idle", "Empty", 0], ["kjs-busy", "Stable", 1]])

        // KafkaJS commits the "earliest" sentinel itself (-2), as it would on Kafka; its consumers resolve it.
        await admin.resetOffsets({ groupId: "kjs-idle", topic: "admin-t", earliest: true })
        expect((await admin.fetchOffsets({ groupId: "kjs-idle", topics: ["admin-t"] }))[0]!.partitions.map((p) => p.offset)).toEqual(["-2", "-2", "-2"])

        const failure = await admin.deleteGroups(["kjs-busy", "kjs-missing"]).then(() => undefined, (e: { groups?: Array<{ groupId: string; errorCode: number }> }) => e)
        expect(failure?.groups?.map((g) => [g.groupId, g.errorCode])).toEqual([["kjs-busy", ErrorCode.NON_EMPTY_GROUP], ["kjs-missing", ErrorCode.GROUP_ID_NOT_FOUND]])
        expect(await admin.deleteGroups(["kjs-idle"])).toEqual([{ groupId: "kjs-idle", errorCode: 0 }])
        expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain("kjs-idle")
        expect((await admin.fetchOffsets({ groupId: "kjs-idle", topics: ["admin-t"] }))[0]!.partitions.map((p) => p.offset)).toEqual(["-1", "-1", "-1"])
      } finally {
        await busy.disconnect()
      }
    } finally {
      await admin.disconnect()
    }
  }, 60_000)

  it("@platformatic/kafka: listGroups with state and type filters, alter/list/delete consumer group offsets (GROUP_SUBSCRIBED_TO_TOPIC), deleteGroups", async () => {
    const kafka = kafkaFor(broker.bootstrap)
    const admin = new Admin({ clientId: "platformatic-admin", bootstrapBrokers: [broker.bootstrap] })
    const busy = kafka.consumer({ groupId: "pf-busy", maxWaitTimeInMs: 50 })
    try {
      await admin.alterConsumerGroupOffsets({ groupId: "pf-simple", topics: [{ name: "admin-t", partitionOffsets: [{ partition: 0, offset: 3n }] }, { name: "admin-u", partitionOffsets: [{ partition: 0, offset: 1n }] }] })
      const [listedOffsets] = await admin.listConsumerGroupOffsets({ groups: [{ groupId: "pf-simple", topics: [{ name: "admin-t", partitionIndexes: [0, 1] }] }], requireStable: true })
      expect(listedOffsets!.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset])).toEqual([[0, 3n], [1, -1n]])

      await busy.connect()
      await busy.subscribe({ topic: "admin-t", fromBeginning: true })
      let seen = 0
      await new Promise<void>((resolve, reject) => {
        busy.run({ eachMessage: async () => { if (++seen === 9) resolve() } }).catch(reject)
      })
      await busy.commitOffsets([{ topic: "admin-u", partition: 0, offset: "1" }])

      const stable = await admin.listGroups({ states: ["STABLE"], types: ["classic"] })
      expect([...stable.keys()]).toContain("pf-busy")
      expect([...stable.keys()]).not.toContain("pf-simple")
      expect([...(await admin.listGroups({ types: ["consumer"] })).keys()]).toEqual([])
      const described = await admin.describeGroups({ groups: ["pf-busy"] })
      expect(described.get("pf-busy")!.state.toUpperCase()).toBe("STABLE")

      // The busy group consumes admin-t: its offsets there cannot go; admin-u's can.
      const deleted = await admin.deleteConsumerGroupOffsets({ groupId: "pf-busy", topics: [{ name: "admin-u", partitionIndexes: [0] }] })
      expect(deleted).toBeDefined()
      const refused = await admin.deleteConsumerGroupOffsets({ groupId: "pf-busy", topics: [{ name: "admin-t", partitionIndexes: [0] }] }).then(() => undefined, (e: Error) => e)
      expect(JSON.stringify(refused, Object.getOwnPropertyNames(refused ?? {}))).toMatch(/GROUP_SUBSCRIBED_TO_TOPIC|subscribed/i)
      const [busyOffsets] = await admin.listConsumerGroupOffsets({ groups: ["pf-busy"] })
      expect(busyOffsets!.topics.map((t) => t.name)).not.toContain("admin-u")

      await admin.deleteConsumerGroupOffsets({ groupId: "pf-simple", topics: [{ name: "admin-u", partitionIndexes: [0] }] })
      await admin.deleteGroups({ groups: ["pf-simple"] })
      expect([...(await admin.listGroups()).keys()]).not.toContain("pf-simple")
    } finally {
      await busy.disconnect()
      await admin.close()
    }
  }, 60_000)
})
