/**
 * KIP-848 consumer groups across a restart: the coordinator writes ConsumerGroup* records to
 * `__consumer_offsets` (here an in-memory GroupLog) before it answers a heartbeat, and a new
 * coordinator over the same log has every group, member, epoch and assignment back; members
 * carry on heartbeating with their epochs, and expire if they do not. DeleteGroups removes an
 * empty consumer group with tombstones; OffsetDelete refuses subscribed topics.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { decodeConsumerGroupRecord } from "../../../src/groups/consumer/records.ts"
import type { TopicLookup } from "../../../src/groups/consumer/types.ts"
import { GroupCoordinator, type GroupCoordinatorShape } from "../../../src/groups/GroupCoordinator.ts"
import { GroupLog, makeMemoryGroupLog } from "../../../src/groups/GroupLog.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { commitInput } from "../helpers.ts"
import { hb, ORDERS, owned } from "./helpers.ts"

const TOPICS: TopicLookup = (name) => (name === "orders" ? { topicId: ORDERS, numPartitions: 4 } : undefined)
type MemoryLog = ReturnType<typeof makeMemoryGroupLog>

const lifetime = <A, E>(mem: MemoryLog, body: (gc: GroupCoordinatorShape) => Effect.Effect<A, E>) => {
  let n = 0
  const layer = GroupCoordinator.layerOver(Layer.succeed(GroupLog, mem.log), { initialRebalanceDelayMs: 0, newConsumerMemberId: () => `m${++n}-${mem.entries.length}` })
  return Effect.scoped(GroupCoordinator.use(body).pipe(Effect.provide(layer)))
}

const consumerRecordTypes = (mem: MemoryLog) =>
  mem.entries.flatMap((e) => (e._tag === "Record" && decodeConsumerGroupRecord(e.record) !== undefined ? [new DataView(e.record.key.buffer, e.record.key.byteOffset).getInt16(0)] : []))

describe("KIP-848 consumer groups in __consumer_offsets", () => {
  it.effect("come back after a restart with their members, epochs and assignments, and carry on", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog()
      const before = yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          const a = yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
          // The heartbeat was answered after its records were written.
          expect(consumerRecordTypes(mem)).toEqual([5, 4, 3, 7, 6, 8])
          const b = yield* gc.consumerGroupHeartbeat(hb({ instanceId: "static-b" }), TOPICS)
          yield* gc.consumerGroupHeartbeat(hb({ memberId: a.memberId!, memberEpoch: 1, ownedTopicPartitions: owned(0, 1) }), TOPICS)
          yield* gc.consumerGroupHeartbeat(hb({ memberId: b.memberId!, memberEpoch: 2, instanceId: "static-b", ownedTopicPartitions: [] }), TOPICS)
          return { a: a.memberId!, b: b.memberId!, described: (yield* gc.consumerGroupDescribe(["g"]))[0]! }
        }))
      expect(before.described).toMatchObject({ state: "Stable", groupEpoch: 2 })

      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          expect((yield* gc.consumerGroupDescribe(["g"]))[0]).toEqual(before.described)
          expect(yield* gc.listGroups({ states: [], types: ["consumer"] })).toEqual([{ groupId: "g", protocolType: "consumer", state: "Stable", groupType: "consumer" }])
          // a carries on at its epoch; b never comes back and is fenced when its session expires.
          for (let i = 0; i < 2; i++) {
            yield* TestClock.adjust("30 seconds")
            const a = yield* gc.consumerGroupHeartbeat(hb({ memberId: before.a, memberEpoch: 2, ownedTopicPartitions: owned(0, 1) }), TOPICS)
            expect(a.errorCode).toBe(0)
          }
          const a = yield* gc.consumerGroupHeartbeat(hb({ memberId: before.a, memberEpoch: 2, ownedTopicPartitions: owned(0, 1) }), TOPICS)
          expect(a.memberEpoch).toBe(3)
          expect(a.assignment?.[0]?.partitions).toEqual([0, 1, 2, 3])
        }))

      // And that too survives the next restart.
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          const described = (yield* gc.consumerGroupDescribe(["g"]))[0]!
          expect(described.members.map((m) => [m.memberId, m.memberEpoch])).toEqual([[before.a, 3]])
        }))
    }))

  it.effect("DeleteGroups removes an empty consumer group and its offsets with tombstones; a non-empty one is NON_EMPTY_GROUP", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog()
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          const a = yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
          const offsets = [{ topic: "orders", partition: 0, offset: 5n, leaderEpoch: -1, metadata: null, commitTimestampMs: -1 }]
          expect(yield* gc.commitOffsets(commitInput({ memberId: a.memberId!, generationId: 1, apiVersion: 9, offsets }))).toEqual([0])
          // The member's topic is subscribed: its offsets cannot be deleted.
          expect(yield* gc.deleteOffsets("g", [{ topic: "orders", partition: 0 }])).toEqual({ errorCode: 0, partitions: [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC] })
          expect(yield* gc.deleteGroups(["g"])).toEqual([{ groupId: "g", errorCode: ErrorCode.NON_EMPTY_GROUP }])
          yield* gc.consumerGroupHeartbeat(hb({ memberId: a.memberId!, memberEpoch: -1 }), TOPICS)
          expect(yield* gc.deleteGroups(["g"])).toEqual([{ groupId: "g", errorCode: 0 }])
          expect((yield* gc.consumerGroupDescribe(["g"]))[0]!.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND)
        }))
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          expect((yield* gc.consumerGroupDescribe(["g"]))[0]!.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND)
          expect(yield* gc.listGroups({ states: [], types: [] })).toEqual([])
          const fetched = yield* gc.fetchOffsets("g", [{ topic: "orders", partitions: [0] }])
          expect(fetched.topics[0]!.partitions[0]!.offset).toBe(-1n)
        }))
    }))
})
