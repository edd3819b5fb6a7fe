/**
 * The group coordinator's state in `__consumer_offsets`: records in Kafka's formats, replay
 * after a restart (a second coordinator over the same in-memory GroupLog), group deletion and
 * offset deletion with their tombstones, offset expiry under TestClock, and transactional
 * offsets (TxnOffsetCommit) pending until their transaction ends.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { type DecodedGroupRecord, decodeGroupRecord, GROUP_METADATA_RECORD_TYPE, groupMetadataRecord, offsetCommitRecord, recordTypeOf } from "../../src/groups/coordinator-records.ts"
import { GroupCoordinator, type GroupCoordinatorOptions, type GroupCoordinatorShape } from "../../src/groups/GroupCoordinator.ts"
import { GroupLog, GroupLogError, makeMemoryGroupLog } from "../../src/groups/GroupLog.ts"
import type { OffsetToCommit, TxnCommitOffsetsInput } from "../../src/groups/types.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { encodeConsumerProtocolSubscription } from "../../src/protocol/generated/message/ConsumerProtocolSubscription.ts"
import { Writer } from "../../src/protocol/primitives.ts"
import { bytes, commitInput, done, joinInput, settle, startJoin, startSync } from "./helpers.ts"

type MemoryLog = ReturnType<typeof makeMemoryGroupLog>

/** One broker lifetime: a coordinator over `mem`, released at the end (a restart is the next lifetime). */
const lifetime = <A, E>(mem: MemoryLog, body: (gc: GroupCoordinatorShape) => Effect.Effect<A, E>, options: GroupCoordinatorOptions = {}) => {
  let n = 0
  const layer = GroupCoordinator.layerOver(Layer.succeed(GroupLog, mem.log), {
    initialRebalanceDelayMs: 0,
    newMemberId: (prefix) => `${prefix}-${++n}`,
    ...options
  })
  return Effect.scoped(GroupCoordinator.use(body).pipe(Effect.provide(layer)))
}

const offset = (topic: string, partition: number, value: bigint): OffsetToCommit => ({ topic, partition, offset: value, leaderEpoch: 0, metadata: "", commitTimestampMs: -1 })

/** A consumer's subscription metadata (ConsumerProtocolSubscription v0, version-prefixed). */
const subscription = (...topics: Array<string>): Uint8Array => {
  const w = new Writer(64)
  w.int16(0)
  encodeConsumerProtocolSubscription(w, 0, { topics })
  return w.toBytes()
}

/** Joins one member and completes its generation (leader assigns `assignment`). */
const stableGroup = (gc: GroupCoordinatorShape, groupId = "g", metadata = bytes(1), protocolType = "consumer") =>
  Effect.gen(function*() {
    const joined = yield* done(yield* startJoin(gc, joinInput({ groupId, protocolType, protocols: [{ name: "range", metadata }] })))
    yield* done(yield* startSync(gc, groupId, joined.generationId, joined.memberId, [{ memberId: joined.memberId, assignment: bytes(7) }]))
    return joined
  })

const fetchOne = (gc: GroupCoordinatorShape, groupId: string, topic: string, partition: number, requireStable = false) =>
  Effect.map(gc.fetchOffsets(groupId, [{ topic, partitions: [partition] }], requireStable), (r) => r.topics[0]!.partitions[0]!)

type DecodedEntry = (DecodedGroupRecord & { readonly producerId: number }) | { readonly _tag: "Marker"; readonly commit: boolean }

const decodedEntries = (mem: MemoryLog): Array<DecodedEntry> =>
  mem.entries.map((e): DecodedEntry => (e._tag === "Record" ? { ...decodeGroupRecord(e.record), producerId: e.producerId } : { _tag: "Marker", commit: e.commit }))

describe("coordinator records", () => {
  it("are written with Kafka's key and value versions and read back", () => {
    const oc = offsetCommitRecord("g", "t", 3, { offset: 42n, leaderEpoch: 5, metadata: "m", commitTimestamp: 1000n })
    expect(recordTypeOf(oc.key)).toBe(1)
    expect(new DataView(oc.value!.buffer, oc.value!.byteOffset).getInt16(0)).toBe(3)
    // key: int16 1, string "g", string "t", int32 3
    expect([...oc.key]).toEqual([0, 1, 0, 1, 103, 0, 1, 116, 0, 0, 0, 3])
    expect(decodeGroupRecord(oc)).toMatchObject({ _tag: "OffsetCommit", group: "g", topic: "t", partition: 3, value: { offset: 42n, leaderEpoch: 5, metadata: "m", commitTimestamp: 1000n } })
    const gm = groupMetadataRecord("g", { protocolType: "consumer", generation: 4, protocol: "range", leader: "m1", currentStateTimestamp: 5n, members: [] })
    expect(recordTypeOf(gm.key)).toBe(2)
    expect(new DataView(gm.value!.buffer, gm.value!.byteOffset).getInt16(0)).toBe(3)
    expect(decodeGroupRecord(gm)).toMatchObject({ _tag: "GroupMetadata", group: "g", value: { generation: 4, protocol: "range", leader: "m1" } })
    expect(decodeGroupRecord(offsetCommitRecord("g", "t", 0, null))).toMatchObject({ _tag: "OffsetCommit", value: null })
    expect(decodeGroupRecord(groupMetadataRecord("g", null))).toMatchObject({ _tag: "GroupMetadata", value: null })
  })
})

describe("GroupCoordinator: restart", () => {
  it.effect("offsets, generation, members and assignments come back from the log", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 5 })
      const joined = yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          const joined = yield* stableGroup(gc)
          expect(yield* gc.commitOffsets(commitInput({ generationId: joined.generationId, memberId: joined.memberId, offsets: [offset("t", 0, 10n), offset("t", 1, 20n)] })))
            .toEqual([ErrorCode.NONE, ErrorCode.NONE])
          return joined
        }))
      expect(decodedEntries(mem).map((e) => e._tag)).toEqual(["GroupMetadata", "OffsetCommit", "OffsetCommit"])
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          expect((yield* fetchOne(gc, "g", "t", 1)).offset).toBe(20n)
          const [described] = yield* gc.describeGroups(["g"])
          expect(described).toMatchObject({ state: "Stable", protocolData: "range", members: [{ memberId: joined.memberId }] })
          expect([...described!.members[0]!.assignment]).toEqual([7])
          // The member carries on with its generation.
          expect(yield* gc.heartbeat({ groupId: "g", generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null })).toBe(ErrorCode.NONE)
          expect(yield* gc.commitOffsets(commitInput({ generationId: joined.generationId, memberId: joined.memberId, offsets: [offset("t", 0, 11n)] }))).toEqual([ErrorCode.NONE])
          // A restored member that never comes back is expired after its session timeout.
          yield* TestClock.adjust(10_001)
          yield* settle
          expect((yield* gc.describeGroups(["g"]))[0]!.state).toBe("Empty")
        }))
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          expect((yield* fetchOne(gc, "g", "t", 0)).offset).toBe(11n)
          expect((yield* gc.describeGroups(["g"]))[0]).toMatchObject({ state: "Empty", members: [] })
          expect(yield* gc.listGroups({ states: ["empty"], types: [] })).toEqual([{ groupId: "g", protocolType: "consumer", state: "Empty", groupType: "classic" }])
        }))
    }))
})

describe("GroupCoordinator: group.max.size lowered across a restart", () => {
  it.effect("a loaded group over the cap rebalances; the members past it are refused with GROUP_MAX_SIZE_REACHED", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 3 })
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          const joins = [yield* startJoin(gc, joinInput({ clientId: "a" })), yield* startJoin(gc, joinInput({ clientId: "b" })), yield* startJoin(gc, joinInput({ clientId: "c" }))]
          // The initial delay restarts once for the members that arrived during it.
          yield* TestClock.adjust(6_000)
          const syncs = [yield* startSync(gc, "g", 1, "b-2"), yield* startSync(gc, "g", 1, "c-3")]
          expect((yield* done(joins[0]!)).members).toHaveLength(3)
          yield* done(yield* startSync(gc, "g", 1, "a-1", [{ memberId: "a-1", assignment: bytes(1) }, { memberId: "b-2", assignment: bytes(2) }, { memberId: "c-3", assignment: bytes(3) }]))
          yield* settle
          for (const s of syncs) yield* done(s)
          expect((yield* gc.describeGroups(["g"]))[0]!.state).toBe("Stable")
        }), { initialRebalanceDelayMs: 3_000 })
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          expect((yield* gc.describeGroups(["g"]))[0]!.state).toBe("PreparingRebalance")
          expect(yield* gc.heartbeat({ groupId: "g", generationId: 1, memberId: "c-3", groupInstanceId: null })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
          const a = yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1" }))
          const b = yield* startJoin(gc, joinInput({ clientId: "b", memberId: "b-2" }))
          // Two members wait in the join phase: the third is refused and removed, which completes the join.
          expect(yield* gc.joinGroup(joinInput({ clientId: "c", memberId: "c-3" }))).toMatchObject({ errorCode: ErrorCode.GROUP_MAX_SIZE_REACHED, memberId: "" })
          yield* settle
          expect(yield* done(a)).toMatchObject({ errorCode: 0, generationId: 2 })
          expect((yield* done(a)).members.map((m) => m.memberId)).toEqual(["a-1", "b-2"])
          expect((yield* done(b)).generationId).toBe(2)
        }), { maxSize: 2 })
    }))
})

describe("GroupCoordinator: DeleteGroups and OffsetDelete", () => {
  it.effect("DeleteGroups: NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, and an empty group goes with its offsets, also after a restart", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 3 })
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          const joined = yield* stableGroup(gc, "busy")
          yield* gc.commitOffsets(commitInput({ groupId: "idle", offsets: [offset("t", 0, 5n)] }))
          expect(yield* gc.deleteGroups(["busy", "nope", "idle", ""])).toEqual([
            { groupId: "busy", errorCode: ErrorCode.NON_EMPTY_GROUP },
            { groupId: "nope", errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
            { groupId: "idle", errorCode: ErrorCode.NONE },
            { groupId: "", errorCode: ErrorCode.INVALID_GROUP_ID }
          ])
          expect((yield* fetchOne(gc, "idle", "t", 0)).offset).toBe(-1n)
          expect((yield* gc.listGroups({ states: [], types: [] })).map((g) => g.groupId)).toEqual(["busy"])
          expect(joined.generationId).toBe(1)
        }))
      const tombstones = decodedEntries(mem).filter((e) => "value" in e && e.value === null)
      expect(tombstones).toMatchObject([{ _tag: "OffsetCommit", group: "idle", topic: "t", partition: 0 }, { _tag: "GroupMetadata", group: "idle" }])
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          expect((yield* fetchOne(gc, "idle", "t", 0)).offset).toBe(-1n)
          expect(yield* gc.deleteGroups(["idle"])).toEqual([{ groupId: "idle", errorCode: ErrorCode.GROUP_ID_NOT_FOUND }])
        }))
    }))

  it.effect("OffsetDelete: GROUP_SUBSCRIBED_TO_TOPIC for a consumer group's topics, NON_EMPTY_GROUP for other protocols", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 3 })
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          const joined = yield* stableGroup(gc, "c", subscription("t"))
          yield* gc.commitOffsets(commitInput({ groupId: "c", generationId: joined.generationId, memberId: joined.memberId, offsets: [offset("t", 0, 1n), offset("u", 0, 2n)] }))
          expect(yield* gc.deleteOffsets("c", [{ topic: "t", partition: 0 }, { topic: "u", partition: 0 }])).toEqual({
            errorCode: ErrorCode.NONE,
            partitions: [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC, ErrorCode.NONE]
          })
          expect((yield* fetchOne(gc, "c", "t", 0)).offset).toBe(1n)
          expect((yield* fetchOne(gc, "c", "u", 0)).offset).toBe(-1n)

          const other = yield* stableGroup(gc, "connect", bytes(1), "connect")
          yield* gc.commitOffsets(commitInput({ groupId: "connect", generationId: other.generationId, memberId: other.memberId, offsets: [offset("t", 0, 1n)] }))
          expect(yield* gc.deleteOffsets("connect", [{ topic: "t", partition: 0 }])).toEqual({ errorCode: ErrorCode.NON_EMPTY_GROUP, partitions: [] })
          expect(yield* gc.deleteOffsets("missing", [{ topic: "t", partition: 0 }])).toEqual({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND, partitions: [] })
        }))
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          expect((yield* fetchOne(gc, "c", "u", 0)).offset).toBe(-1n)
          expect((yield* fetchOne(gc, "c", "t", 0)).offset).toBe(1n)
        }))
    }))
})

describe("GroupCoordinator: offset expiry", () => {
  const retention = { offsetsRetentionMs: 60_000, offsetsRetentionCheckIntervalMs: 10_000 }

  it.effect("an empty group's offsets expire retention after it became empty; then the group goes", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 3 })
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          const joined = yield* stableGroup(gc)
          yield* gc.commitOffsets(commitInput({ generationId: joined.generationId, memberId: joined.memberId, offsets: [offset("t", 0, 3n)] }))
          // Offsets of a Stable group (not one that reports its subscriptions) do not expire, however old.
          for (let i = 0; i < 14; i++) {
            yield* TestClock.adjust(9_000)
            expect(yield* gc.heartbeat({ groupId: "g", generationId: 1, memberId: joined.memberId, groupInstanceId: null })).toBe(ErrorCode.NONE)
          }
          expect((yield* fetchOne(gc, "g", "t", 0)).offset).toBe(3n)
          yield* gc.leaveGroup("g", [{ memberId: joined.memberId, groupInstanceId: null, reason: null }])
          yield* settle
          // Counted from when the group became empty, not from the commit.
          yield* TestClock.adjust(50_000)
          expect((yield* fetchOne(gc, "g", "t", 0)).offset).toBe(3n)
          yield* TestClock.adjust(20_000)
          yield* settle
          expect((yield* fetchOne(gc, "g", "t", 0)).offset).toBe(-1n)
          expect(yield* gc.listGroups({ states: [], types: [] })).toEqual([])
        }), retention)
      const last = decodedEntries(mem).slice(-2)
      expect(last).toMatchObject([{ _tag: "OffsetCommit", value: null }, { _tag: "GroupMetadata", value: null }])
    }))

  it.effect("a Stable consumer group keeps the offsets of the topics it subscribes to; others expire retention after their commit", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 3 })
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          const joined = yield* stableGroup(gc, "g", subscription("t"))
          yield* gc.commitOffsets(commitInput({ generationId: joined.generationId, memberId: joined.memberId, offsets: [offset("t", 0, 1n), offset("old", 0, 2n)] }))
          for (let i = 0; i < 7; i++) {
            yield* TestClock.adjust(9_000)
            yield* gc.heartbeat({ groupId: "g", generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null })
          }
          expect(yield* gc.expireOffsets).toBe(1)
          expect((yield* fetchOne(gc, "g", "t", 0)).offset).toBe(1n)
          expect((yield* fetchOne(gc, "g", "old", 0)).offset).toBe(-1n)
          expect((yield* gc.describeGroups(["g"]))[0]!.state).toBe("Stable")
        }), { ...retention, offsetsRetentionCheckIntervalMs: 1_000_000 })
    }))

  it.effect("a simple consumer's offsets expire retention after their commit", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 3 })
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          yield* gc.commitOffsets(commitInput({ groupId: "s", offsets: [offset("t", 0, 1n)] }))
          yield* TestClock.adjust(30_000)
          yield* gc.commitOffsets(commitInput({ groupId: "s", offsets: [offset("t", 1, 1n)] }))
          yield* TestClock.adjust(30_000)
          expect(yield* gc.expireOffsets).toBe(1)
          expect((yield* fetchOne(gc, "s", "t", 0)).offset).toBe(-1n)
          expect((yield* fetchOne(gc, "s", "t", 1)).offset).toBe(1n)
        }), { ...retention, offsetsRetentionCheckIntervalMs: 1_000_000 })
    }))
})

describe("GroupCoordinator: TxnOffsetCommit", () => {
  const txn = (overrides: Partial<TxnCommitOffsetsInput> = {}): TxnCommitOffsetsInput => ({
    ...commitInput({ offsets: [offset("t", 0, 100n)] }),
    transactionalId: "tx",
    producerId: 7,
    producerEpoch: 1,
    ...overrides
  })

  it.effect("pending offsets are invisible (UNSTABLE_OFFSET_COMMIT with require_stable) until the transaction commits", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 3 })
      const logPartition = mem.log.partitionFor("g")
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          yield* gc.commitOffsets(commitInput({ offsets: [offset("t", 0, 50n)] }))
          expect(yield* gc.commitTransactionalOffsets(txn())).toEqual([ErrorCode.NONE])
          expect(yield* fetchOne(gc, "g", "t", 0)).toMatchObject({ offset: 50n, errorCode: ErrorCode.NONE })
          expect(yield* fetchOne(gc, "g", "t", 0, true)).toMatchObject({ offset: -1n, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT })
          // A transaction ending elsewhere does not touch it.
          yield* gc.onTransactionCompleted(7, [(logPartition + 1) % 3], true)
          expect((yield* fetchOne(gc, "g", "t", 0)).offset).toBe(50n)
          yield* gc.onTransactionCompleted(7, [logPartition], true)
          expect(yield* fetchOne(gc, "g", "t", 0, true)).toMatchObject({ offset: 100n, errorCode: ErrorCode.NONE })

          expect(yield* gc.commitTransactionalOffsets(txn({ producerId: 8, offsets: [offset("t", 0, 200n)] }))).toEqual([ErrorCode.NONE])
          yield* gc.onTransactionCompleted(8, [logPartition], false)
          expect(yield* fetchOne(gc, "g", "t", 0, true)).toMatchObject({ offset: 100n, errorCode: ErrorCode.NONE })
        }))
      const txnRecords = mem.entries.filter((e) => e._tag === "Record" && e.producerId >= 0)
      expect(txnRecords.map((e) => e._tag === "Record" && e.producerId)).toEqual([7, 8])
    }))

  it.effect("on replay, pending offsets resolve by the markers in the log", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 3 })
      const p = mem.log.partitionFor("g")
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          yield* gc.commitTransactionalOffsets(txn({ producerId: 1, offsets: [offset("t", 0, 10n)] }))
          yield* gc.commitTransactionalOffsets(txn({ producerId: 2, offsets: [offset("t", 1, 20n)] }))
          yield* gc.commitTransactionalOffsets(txn({ producerId: 3, offsets: [offset("t", 2, 30n)] }))
        }))
      // The transaction coordinator wrote markers for two of them before the restart.
      mem.appendMarker(p, 1, true)
      mem.appendMarker(p, 2, false)
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          expect((yield* fetchOne(gc, "g", "t", 0)).offset).toBe(10n)
          expect((yield* fetchOne(gc, "g", "t", 1)).offset).toBe(-1n)
          expect(yield* fetchOne(gc, "g", "t", 2, true)).toMatchObject({ errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT })
          yield* gc.onTransactionCompleted(3, [p], true)
          expect((yield* fetchOne(gc, "g", "t", 2, true)).offset).toBe(30n)
        }))
    }))

  it.effect("generation and member checks: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 3 })
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          expect(yield* gc.commitTransactionalOffsets(txn({ groupId: "none", generationId: 1, memberId: "m" }))).toEqual([ErrorCode.ILLEGAL_GENERATION])
          const joined = yield* done(yield* startJoin(gc, joinInput({ groupInstanceId: "i1" })))
          expect(yield* gc.commitTransactionalOffsets(txn({ generationId: joined.generationId + 1, memberId: joined.memberId, groupInstanceId: "i1" }))).toEqual([ErrorCode.ILLEGAL_GENERATION])
          expect(yield* gc.commitTransactionalOffsets(txn({ generationId: joined.generationId, memberId: "other" }))).toEqual([ErrorCode.UNKNOWN_MEMBER_ID])
          expect(yield* gc.commitTransactionalOffsets(txn({ generationId: joined.generationId, memberId: "other", groupInstanceId: "i1" }))).toEqual([ErrorCode.FENCED_INSTANCE_ID])
          // Unlike OffsetCommit, a transactional commit is not refused while the group completes its rebalance.
          expect(yield* gc.commitOffsets(commitInput({ generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: "i1", offsets: [offset("t", 0, 1n)] })))
            .toEqual([ErrorCode.REBALANCE_IN_PROGRESS])
          expect(yield* gc.commitTransactionalOffsets(txn({ generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: "i1" }))).toEqual([ErrorCode.NONE])
          // v0-v2 carry no member: accepted from a transactional producer even while the group has members.
          expect(yield* gc.commitTransactionalOffsets(txn({ producerId: 9 }))).toEqual([ErrorCode.NONE])
        }))
    }))
})

describe("GroupCoordinator: OffsetCommit v2-v4 retention_time", () => {
  it.effect("is written as a value v1 expire timestamp and expires the offset then, whatever the group", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 3 })
      yield* lifetime(mem, (gc) =>
        Effect.gen(function*() {
          yield* gc.commitOffsets(commitInput({ groupId: "r", apiVersion: 2, offsets: [{ ...offset("t", 0, 5n), retentionTimeMs: 1_000 }] }))
          const record = mem.entries.find((e) => e._tag === "Record")!
          expect(record._tag === "Record" && new DataView(record.record.value!.buffer, record.record.value!.byteOffset).getInt16(0)).toBe(1)
          expect(decodedEntries(mem)[0]).toMatchObject({ _tag: "OffsetCommit", value: { expireTimestamp: 1_000n } })
          yield* TestClock.adjust(999)
          expect(yield* gc.expireOffsets).toBe(0)
          yield* TestClock.adjust(1)
          expect(yield* gc.expireOffsets).toBe(1)
        }), { offsetsRetentionCheckIntervalMs: 1_000_000 })
    }))
})

describe("GroupCoordinator: a GroupMetadata write that fails", () => {
  it.effect("answers SyncGroup with the error and sends the group back to rebalancing", () =>
    Effect.gen(function*() {
      const mem = makeMemoryGroupLog({ numPartitions: 3 })
      let failing = true
      const log = GroupLog.of({
        ...mem.log,
        append: (groupId, records, producer) =>
          failing && records.some((r) => recordTypeOf(r.key) === GROUP_METADATA_RECORD_TYPE)
            ? Effect.fail(new GroupLogError({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, message: "disk on fire" }))
            : mem.log.append(groupId, records, producer)
      })
      let n = 0
      const layer = GroupCoordinator.layerOver(Layer.succeed(GroupLog, log), { initialRebalanceDelayMs: 0, newMemberId: (prefix) => `${prefix}-${++n}` })
      yield* Effect.scoped(GroupCoordinator.use((gc) =>
        Effect.gen(function*() {
          const joined = yield* done(yield* startJoin(gc, joinInput()))
          const synced = yield* done(yield* startSync(gc, "g", joined.generationId, joined.memberId, [{ memberId: joined.memberId, assignment: bytes(1) }]))
          expect(synced.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE)
          expect((yield* gc.describeGroups(["g"]))[0]!.state).toBe("PreparingRebalance")
          failing = false
          const rejoined = yield* done(yield* startJoin(gc, joinInput({ memberId: joined.memberId })))
          expect(rejoined.generationId).toBe(2)
          const ok = yield* done(yield* startSync(gc, "g", 2, joined.memberId, [{ memberId: joined.memberId, assignment: bytes(2) }]))
          expect(ok).toMatchObject({ errorCode: ErrorCode.NONE, assignment: bytes(2) })
        })).pipe(Effect.provide(layer)))
    }))
})
