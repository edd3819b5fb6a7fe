/**
 * KIP-848 group state as ConsumerGroup* coordinator records: Kafka's byte layout, the
 * records a coordinator writes for a run of heartbeats, and a replay of them (or of only
 * what compaction keeps) that brings back the same groups.
 */
import { describe, expect, it } from "vitest"
import { UniformAssignor } from "../../../src/groups/consumer/assignors.ts"
import { ConsumerGroupCoordinator } from "../../../src/groups/consumer/consumer-coordinator.ts"
import {
  type ConsumerGroupRecord,
  decodeConsumerGroupRecord,
  groupEpochRecord,
  memberMetadataRecord
} from "../../../src/groups/consumer/records.ts"
import type { TopicLookup } from "../../../src/groups/consumer/types.ts"
import { hb, ORDERS, owned } from "./helpers.ts"

const TOPICS: TopicLookup = (name) => (name === "orders" ? { topicId: ORDERS, numPartitions: 4 } : undefined)

const newCore = () => {
  let n = 0
  const timers: Array<{ at: number; action: () => void; cancelled: boolean }> = []
  const core = new ConsumerGroupCoordinator(
    {
      now: () => 0,
      schedule: (delayMs, action) => {
        const t = { at: delayMs, action, cancelled: false }
        timers.push(t)
        return () => {
          t.cancelled = true
        }
      },
      newMemberUuid: () => `m${++n}`
    },
    { sessionTimeoutMs: 45_000, heartbeatIntervalMs: 5000, maxSize: 100, assignors: [UniformAssignor], recordChanges: true },
    { has: () => false, deleteIfEmpty: () => true }
  )
  return { core, timers }
}

const hex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString("hex"))

describe("ConsumerGroup* records", () => {
  it("are laid out as Kafka writes them: int16 record type + key, int16 version + flexible value", () => {
    const r = groupEpochRecord("g", 5)
    expect(hex(r.key)).toBe("0003" + "0001" + "67")
    expect(hex(r.value)).toBe("0000" + "00000005" + "00")
    expect(hex(groupEpochRecord("g", null).value)).toBeNull()
    const m = memberMetadataRecord("g", "m1", {
      instanceId: null,
      rackId: null,
      clientId: "c",
      clientHost: "/h",
      subscribedTopicNames: ["t"],
      rebalanceTimeoutMs: 1000,
      serverAssignor: "uniform"
    })
    expect(hex(m.key)).toBe("0005" + "0001" + "67" + "0002" + Buffer.from("m1").toString("hex"))
    expect(decodeConsumerGroupRecord(m)).toEqual({
      _tag: "MemberMetadata",
      groupId: "g",
      memberId: "m1",
      metadata: { instanceId: null, rackId: null, clientId: "c", clientHost: "/h", subscribedTopicNames: ["t"], rebalanceTimeoutMs: 1000, serverAssignor: "uniform" }
    })
    // Classic records (offset commit type 1, group metadata type 2) are not ours.
    expect(decodeConsumerGroupRecord({ key: Uint8Array.of(0, 2, 0, 1, 0x67), value: null })).toBeUndefined()
  })

  it("a replay of what the coordinator wrote, or of what compaction keeps of it, brings the groups back", () => {
    const { core } = newCore()
    const written: Array<ConsumerGroupRecord> = []
    const take = () => {
      for (const g of core.takeRecords()) written.push(...g.records)
    }
    core.heartbeat(hb({ instanceId: "i1" }), TOPICS)
    take()
    const types = written.map((r) => new DataView(r.key.buffer, r.key.byteOffset).getInt16(0))
    // A first join: member subscription, partition metadata, group epoch, target, assignment epoch, current assignment.
    expect(types).toEqual([5, 4, 3, 7, 6, 8])
    core.heartbeat(hb(), TOPICS)
    core.heartbeat(hb({ memberId: "m1", memberEpoch: 1, instanceId: "i1", ownedTopicPartitions: owned(0, 1, 2, 3) }), TOPICS)
    core.heartbeat(hb({ memberId: "m1", memberEpoch: 1, instanceId: "i1", ownedTopicPartitions: owned(0, 1) }), TOPICS)
    core.heartbeat(hb({ memberId: "m2", memberEpoch: 2, ownedTopicPartitions: [] }), TOPICS)
    core.heartbeat(hb(), TOPICS)
    core.heartbeat(hb({ memberId: "m3", memberEpoch: -1 }), TOPICS)
    core.heartbeat(hb({ groupId: "other" }), TOPICS)
    take()
    // An unchanged heartbeat writes nothing.
    core.heartbeat(hb({ memberId: "m2", memberEpoch: 2, ownedTopicPartitions: owned(2, 3) }), TOPICS)
    core.heartbeat(hb({ memberId: "m2", memberEpoch: 2, ownedTopicPartitions: owned(2, 3) }), TOPICS)
    take()
    const expected = ["g", "other"].map((id) => core.describe(id))

    const replayed = newCore()
    for (const r of written) replayed.core.replay(decodeConsumerGroupRecord(r)!)
    replayed.core.finishReplay()
    expect(["g", "other"].map((id) => replayed.core.describe(id))).toEqual(expected)
    // Every loaded member has a session again.
    expect(replayed.timers.filter((t) => !t.cancelled).length).toBe(3)
    // And it carries on from there: m2 is still at epoch 2 and gets nothing new.
    expect(replayed.core.heartbeat(hb({ memberId: "m2", memberEpoch: 2, ownedTopicPartitions: owned(2, 3) }), TOPICS)).toMatchObject({ errorCode: 0, memberEpoch: expected[0]!.members[1]!.memberEpoch })

    // Compaction keeps the last record of each key and drops tombstoned keys.
    const latest = new Map<string, ConsumerGroupRecord>()
    for (const r of written) latest.set(hex(r.key)!, r)
    const compacted = [...latest.values()].filter((r) => r.value !== null)
    expect(compacted.length).toBeLessThan(written.length)
    const fromCompacted = newCore()
    for (const r of compacted) fromCompacted.core.replay(decodeConsumerGroupRecord(r)!)
    fromCompacted.core.finishReplay()
    expect(["g", "other"].map((id) => fromCompacted.core.describe(id))).toEqual(expected)
  })

  it("a deleted group leaves tombstones for all its keys", () => {
    const { core } = newCore()
    core.heartbeat(hb(), TOPICS)
    core.heartbeat(hb({ memberId: "m1", memberEpoch: -1 }), TOPICS)
    core.takeRecords()
    expect(core.classicJoinError("g")).toBe(0)
    const [deleted] = core.takeRecords()
    expect(deleted!.records.map((r) => [new DataView(r.key.buffer, r.key.byteOffset).getInt16(0), r.value])).toEqual([
      [6, null],
      [4, null],
      [3, null]
    ])
  })
})
