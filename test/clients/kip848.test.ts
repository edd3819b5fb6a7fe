/**
 * KIP-848 with a real client: @platformatic/kafka consumers with `groupProtocol: "consumer"`
 * (ConsumerGroupHeartbeat v0, OffsetCommit/OffsetFetch v9 with member epochs) against the
 * broker. Two consumers split a 6-partition topic, one leaves and the other takes every
 * partition over (after the leaver's partitions are revoked), and a later member of the
 * group resumes from the committed offsets. Waits are on the clients' own heartbeat events,
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

let broker: EmbeddedBroker
beforeAll(async () => {
  broker = await startBroker({ properties: { "group.consumer.heartbeat.interval.ms": "100", "num.partitions": "1" } })
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

describe("@platformatic/kafka with groupProtocol consumer (KIP-848)", () => {
  it("two consumers split the partitions, one leaves and the other takes all, a new member resumes from committed offsets", async () => {
    const seen: Array<Seen> = []
    const progress = new EventEmitter()
    const consumed = (n: number, what: string) => untilEvent(progress, "record", () => seen.length >= n, n, what)
    const a = newConsumer("kip848-a")
    const b = newConsumer("kip848-b")
    const ra = await consumeInto(a, seen, () => progress.emit("record"))
    await untilEvent(a, "consumer:heartbeat:end", () => assignedPartitions(a).length === PARTITIONS, 400, "a owns the topic alone")

    // b joins: a is asked to revoke half, b gets that half only once a has let it go.
    const rb = await consumeInto(b, seen, () => progress.emit("record"))
    const split = () => {
      const pa = assignedPartitions(a)
      const pb = assignedPartitions(b)
      return pa.length === 3 && pb.length === 3 && new Set([...pa, ...pb]).size === PARTITIONS
    }
    await Promise.all([
      untilEvent(a, "consumer:heartbeat:end", split, 400, "split between a and b"),
      untilEvent(b, "consumer:heartbeat:end", split, 400, "split between a and b")
    ])
    // A fetch a sent before it revoked may still be in flight; wait for two of its fetches to complete.
    await nextEvents(ra.stream, "fetch", 2)

    await produce(1, 5)
    await consumed(5 * PARTITIONS, "first round consumed")
    const first = seen.filter((s) => s.value.startsWith("r1-"))
    for (const s of first) expect(s.by === "kip848-a" ? assignedPartitions(a) : assignedPartitions(b)).toContain(s.partition)

    // ConsumerGroupDescribe shows both members, each reconciled to its target.
    const conn = new RawConnection(await WireClient.connect(broker.port))
    try {
      const described = await conn.call(ConsumerGroupDescribe, 0, { groupIds: [GROUP], includeAuthorizedOperations: false })
      const group = described.groups[0]
      expect(group).toMatchObject({ errorCode: 0, groupId: GROUP, groupState: "Stable", assignorName: "uniform" })
      expect(group.members.map((m: { clientId: string }) => m.clientId).sort()).toEqual(["kip848-a", "kip848-b"])
      for (const m of group.members) {
        expect(m.assignment.topicPartitions[0].topicName).toBe(TOPIC)
        expect(m.assignment.topicPartitions[0].partitions.length).toBe(3)
        expect(m.targetAssignment).toEqual(m.assignment)
        expect(m.memberEpoch).toBe(group.groupEpoch)
      }
    } finally {
      conn.close()
    }

    // b leaves (ConsumerGroupHeartbeat with epoch -1); a is given every partition and
    // continues b's half from b's committed offsets.
    await rb.stream.close()
    await b.close()
    await untilEvent(a, "consumer:heartbeat:end", () => assignedPartitions(a).length === PARTITIONS, 400, "a takes all partitions")
    await produce(2, 5)
    await consumed(10 * PARTITIONS, "second round consumed by a")
    expect(seen.filter((s) => s.value.startsWith("r2-")).every((s) => s.by === "kip848-a")).toBe(true)
    await ra.stream.close()
    await a.close()

    // A new member resumes exactly where the group committed: only the third round.
    await produce(3, 2)
    const c = newConsumer("kip848-c")
    const rc = await consumeInto(c, seen, () => progress.emit("record"))
    await consumed(12 * PARTITIONS, "third round consumed by c")
    await rc.stream.close()
    await c.close()

    expect(seen.filter((s) => s.by === "kip848-c").map((s) => s.value).sort()).toEqual(
      Array.from({ length: PARTITIONS }, (_, p) => [`r3-p${p}-0`, `r3-p${p}-1`]).flat().sort()
    )
    // Every record exactly once across the three members.
    const keys = seen.map((s) => `${s.partition}:${s.offset}`)
    expect(new Set(keys).size).toBe(keys.length)
    expect(seen.length).toBe(12 * PARTITIONS)
    await Promise.allSettled([ra.done, rb.done, rc.done])
  })
})
