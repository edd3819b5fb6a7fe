/**
 * KIP-848 with a real client: @platformatic/kafka consumers with `groupProtocol: "consumer"`
 * (ConsumerGroupHeartbeat v0, OffsetCommit/OffsetFetch v9 with member epochs) against the
 * broker. Three consumers share a 6-partition topic, one leaves and the others take its
 * partitions over, one joins and is given partitions only after their owners revoked them;
 * every record is consumed once, and a later member of the group resumes from the
 * committed offsets, also after a broker restart. ConsumerGroupDescribe shows the members and
 * their assignments. Waits are on the clients' own heartbeat events,
 * bounded in number; the broker hands out a 100 ms heartbeat interval so they come quickly.
 */
import { EventEmitter } from "node:events"
import { Admin, Consumer, type Message, Producer, stringDeserializers, stringSerializers } from "@platformatic/kafka"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import { ConsumerGroupDescribe } from "../../src/protocol/generated/apis.ts"
import { WireClient } from "../support/wire-client.ts"
import { RawConnection } from "../groups/wire-support.ts"

const TOPIC = "kip848-orders"
const PARTITIONS = 6
const GROUP = "kip848-group"

const PROPERTIES = { "group.consumer.heartbeat.interval.ms": "100", "num.partitions": "1" }

let broker: EmbeddedBroker
beforeAll(async () => {
  broker = await startBroker({ properties: PROPERTIES })
  const admin = new Admin({ clientId: "kip848-admin", bootstrapBrokers: [broker.bootstrap] })
  await admin.createTopics({ topics: [TOPIC], partitions: PARTITIONS, replicas: 1 })
  await admin.close()
})
afterAll(() => broker.stop())

const produce = async (round: number, perPartition: number) => {
  const producer = new Producer({ clientId: "kip848-producer", bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers })
  const messages = []
  for (let p = 0; p < PARTITIONS; p++) {
    for (let i = 0; i < perPartition; i++) messages.push({ topic: TOPIC, partition: p, key: `k${p}`, value: `r${round}-p${p}-${i}` })
  }
  await producer.send({ messages })
  await producer.close()
}

const newConsumer = (clientId: string) =>
  new Consumer({
    groupId: GROUP,
    groupProtocol: "consumer",
    clientId,
    bootstrapBrokers: [broker.bootstrap],
    deserializers: stringDeserializers,
    maxWaitTime: 50
  })

type AnyConsumer = ReturnType<typeof newConsumer>

const assignedPartitions = (c: AnyConsumer): Array<number> =>
  (c.assignments ?? []).filter((a) => a.topic === TOPIC).flatMap((a) => a.partitions).sort((a, b) => a - b)

/** Resolves once `check()` holds, re-checking after each of `emitter`'s `event`s; fails after `max` of them. */
const untilEvent = (emitter: EventEmitter, event: string, check: () => boolean, max: number, what: string): Promise<void> =>
  new Promise((resolve, reject) => {
    if (check()) return resolve()
    let seen = 0
    const on = () => {
      if (check()) {
        emitter.off(event, on)
        resolve()
      } else if (++seen >= max) {
        emitter.off(event, on)
        reject(new Error(`${what}: not reached after ${max} ${event} events`))
      }
    }
    emitter.on(event, on)
  })

/** Resolves after `emitter` emitted `event` `n` more times. */
const nextEvents = (emitter: EventEmitter, event: string, n: number): Promise<void> =>
  new Promise((resolve) => {
    let left = n
    const on = () => {
      if (--left === 0) {
        emitter.off(event, on)
        resolve()
      }
    }
    emitter.on(event, on)
  })

interface Seen {
  readonly partition: number
  readonly offset: bigint
  readonly value: string
  readonly by: string
}

/**
 * A commit made while the member's epoch moves on (another member joined or left) is
 * refused with STALE_MEMBER_EPOCH, as Kafka refuses it; the client retries once its next
 * heartbeat has brought the new epoch (what the Java consumer does too).
 */
const commitWithRetry = async (consumer: AnyConsumer, message: Message<string, string, string, string>) => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await message.commit()
    } catch (e) {
      const stale = (e as { errors?: Array<{ apiId?: string }> }).errors?.some((x) => x.apiId === "STALE_MEMBER_EPOCH")
      if (!stale || attempt >= 20) throw e
      staleCommits++
      await new Promise<void>((resolve) => consumer.once("consumer:heartbeat:end", () => resolve()))
    }
  }
}
let staleCommits = 0

/** Consumes in the background, committing every record once handled. */
const consumeInto = async (consumer: AnyConsumer, seen: Array<Seen>, onRecord: () => void) => {
  const stream = await consumer.consume({ topics: [TOPIC], mode: "committed", fallbackMode: "earliest", autocommit: false })
  const done = (async () => {
    for await (const message of stream as AsyncIterable<Message<string, string, string, string>>) {
      seen.push({ partition: message.partition, offset: message.offset, value: message.value as string, by: consumer.clientId })
      await commitWithRetry(consumer, message)
      onRecord()
    }
  })()
  return { stream, done }
}

interface Running {
  readonly consumer: AnyConsumer
  readonly stream: { close: () => Promise<void> } & EventEmitter
  readonly done: Promise<void>
}

describe("@platformatic/kafka with groupProtocol consumer (KIP-848)", () => {
  it("three consumers share a topic, one leaves and one joins, every record is consumed once, a later member resumes from committed offsets", async () => {
    const seen: Array<Seen> = []
    const progress = new EventEmitter()
    const consumed = (n: number, what: string) => untilEvent(progress, "record", () => seen.length >= n, n, what)
    const start = async (clientId: string): Promise<Running> => {
      const consumer = newConsumer(clientId)
      const { stream, done } = await consumeInto(consumer, seen, () => progress.emit("record"))
      return { consumer, stream: stream as unknown as Running["stream"], done }
    }
    const stop = async (r: Running) => {
      await r.stream.close()
      await r.consumer.close()
    }
    /** Waits until the members' assignments are disjoint, cover the topic, and have the given sizes. */
    const settled = async (members: ReadonlyArray<Running>, sizes: ReadonlyArray<number>) => {
      const check = () => {
        const all = members.map((m) => assignedPartitions(m.consumer))
        return JSON.stringify(all.map((p) => p.length).sort()) === JSON.stringify([...sizes].sort()) &&
          new Set(all.flat()).size === PARTITIONS
      }
      await Promise.all(members.map((m) => untilEvent(m.consumer, "consumer:heartbeat:end", check, 400, `assignment ${sizes.join("/")}`)))
      // A fetch sent before a revocation may still be in flight: wait for two more of each stream's fetches.
      await Promise.all(members.map((m) => nextEvents(m.stream, "fetch", 2)))
    }
    const describeGroup = async () => {
      const conn = new RawConnection(await WireClient.connect(broker.port))
      try {
        return (await conn.call(ConsumerGroupDescribe, 0, { groupIds: [GROUP], includeAuthorizedOperations: false })).groups[0]
      } finally {
        conn.close()
      }
    }

    const a = await start("kip848-a")
    await settled([a], [PARTITIONS])
    const b = await start("kip848-b")
    const c = await start("kip848-c")
    await settled([a, b, c], [2, 2, 2])

    await produce(1, 5)
    await consumed(5 * PARTITIONS, "first round consumed")
    // Each record went to the member that owns its partition.
    for (const s of seen) {
      const owner = [a, b, c].find((m) => m.consumer.clientId === s.by)!
      expect(assignedPartitions(owner.consumer)).toContain(s.partition)
    }

    // ConsumerGroupDescribe shows the three members, each reconciled to its target.
    const group = await describeGroup()
    expect(group).toMatchObject({ errorCode: 0, groupId: GROUP, groupState: "Stable", assignorName: "uniform" })
    expect(group.members.map((m: { clientId: string }) => m.clientId).sort()).toEqual(["kip848-a", "kip848-b", "kip848-c"])
    for (const m of group.members) {
      expect(m.assignment.topicPartitions[0].topicName).toBe(TOPIC)
      expect(m.assignment.topicPartitions[0].partitions.length).toBe(2)
      expect(m.targetAssignment).toEqual(m.assignment)
      expect(m.memberEpoch).toBe(group.groupEpoch)
    }

    // b leaves (ConsumerGroupHeartbeat with epoch -1): a and c take its partitions over.
    await stop(b)
    await settled([a, c], [3, 3])
    // d joins: a and c each revoke one partition before d is given them.
    const d = await start("kip848-d")
    await settled([a, c, d], [2, 2, 2])
    await produce(2, 5)
    await consumed(10 * PARTITIONS, "second round consumed")
    expect(new Set(seen.filter((s) => s.value.startsWith("r2-")).map((s) => s.by))).toEqual(new Set(["kip848-a", "kip848-c", "kip848-d"]))
    const after = await describeGroup()
    expect(after.members.map((m: { clientId: string }) => m.clientId).sort()).toEqual(["kip848-a", "kip848-c", "kip848-d"])
    expect(after.groupEpoch).toBeGreaterThan(group.groupEpoch)
    await Promise.all([stop(a), stop(c), stop(d)])
    const empty = await describeGroup()
    expect(empty).toMatchObject({ groupState: "Empty", members: [] })

    // The broker restarts on the same data directory: the group (ConsumerGroup* records) and
    // its committed offsets are read back from __consumer_offsets.
    await broker.stop()
    broker = await startBroker({ properties: { ...PROPERTIES, "log.dirs": broker.logDir } })
    expect(await describeGroup()).toMatchObject({ groupState: "Empty", groupEpoch: empty.groupEpoch, assignmentEpoch: empty.assignmentEpoch })

    // A new member resumes exactly where the group committed: only the third round.
    await produce(3, 2)
    const e = await start("kip848-e")
    await consumed(12 * PARTITIONS, "third round consumed by e")
    await stop(e)
    expect(seen.filter((s) => s.by === "kip848-e").map((s) => s.value).sort()).toEqual(
      Array.from({ length: PARTITIONS }, (_, p) => [`r3-p${p}-0`, `r3-p${p}-1`]).flat().sort()
    )
    // Every record exactly once across the five members.
    const keys = seen.map((s) => `${s.partition}:${s.offset}`)
    expect(new Set(keys).size).toBe(keys.length)
    expect(seen.length).toBe(12 * PARTITIONS)
    await Promise.allSettled([a, b, c, d, e].map((r) => r.done))
  })
})
