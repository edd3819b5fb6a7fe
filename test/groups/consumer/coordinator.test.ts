/**
 * KIP-848 consumer groups through the GroupCoordinator service, under TestClock: joins,
 * member epochs, incremental revocation (a partition moves only after its owner revoked
 * it), session and rebalance timeouts, static members, the group size limit, the shared
 * classic/consumer group id namespace, and offsets committed and fetched with member epochs.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { RangeAssignor, UniformAssignor } from "../../../src/groups/consumer/assignors.ts"
import type { ConsumerHeartbeatInput, TopicInfo, TopicLookup } from "../../../src/groups/consumer/types.ts"
import type { GroupCoordinatorOptions, GroupCoordinatorShape } from "../../../src/groups/GroupCoordinator.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { commitInput, joinInput, startJoin, withCoordinator } from "../helpers.ts"
import { hb, ORDERS, owned } from "./helpers.ts"

const EVENTS = "events-topic-id-AAAAAA"

const topicsOf = (topics: Record<string, TopicInfo>): TopicLookup => (name) => topics[name]
const TOPICS = topicsOf({ orders: { topicId: ORDERS, numPartitions: 6 }, events: { topicId: EVENTS, numPartitions: 2 } })

const partitionsOf = (assignment: ReadonlyArray<{ topicId: string; partitions: ReadonlyArray<number> }> | null) =>
  assignment === null ? null : assignment.filter((tp) => tp.topicId === ORDERS).flatMap((tp) => tp.partitions)

const withConsumerGroups = <A, E>(body: (gc: GroupCoordinatorShape) => Effect.Effect<A, E, never>, options: GroupCoordinatorOptions = {}) => {
  let n = 0
  return withCoordinator(body, { newConsumerMemberId: () => `m${++n}`, consumerSessionTimeoutMs: 45_000, consumerHeartbeatIntervalMs: 5000, ...options })
}

const describeGroup = (gc: GroupCoordinatorShape, groupId = "g") => Effect.map(gc.consumerGroupDescribe([groupId]), (groups) => groups[0]!)

describe("ConsumerGroupHeartbeat: joining and reconciling", () => {
  it.effect("a first member joins with epoch 0 and gets every partition at epoch 1", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        const joined = yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        expect(joined).toEqual({
          errorCode: 0,
          errorMessage: null,
          memberId: "m1",
          memberEpoch: 1,
          heartbeatIntervalMs: 5000,
          assignment: [{ topicId: ORDERS, partitions: [0, 1, 2, 3, 4, 5] }]
        })
        // A heartbeat that reports nothing new gets no assignment back.
        const quiet = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, rebalanceTimeoutMs: -1, subscribedTopicNames: null, ownedTopicPartitions: null }), TOPICS)
        expect(quiet).toMatchObject({ errorCode: 0, memberEpoch: 1, assignment: null })
        const described = yield* describeGroup(gc)
        expect(described).toMatchObject({ errorCode: 0, state: "Stable", groupEpoch: 1, assignmentEpoch: 1, assignorName: "uniform" })
        expect(described.members[0]).toMatchObject({
          memberId: "m1",
          memberEpoch: 1,
          clientId: "client",
          clientHost: "/127.0.0.1",
          subscribedTopicNames: ["orders"],
          assignment: [{ topicId: ORDERS, partitions: [0, 1, 2, 3, 4, 5] }],
          targetAssignment: [{ topicId: ORDERS, partitions: [0, 1, 2, 3, 4, 5] }]
        })
      })
    ))

  it.effect("a partition goes to its new owner only after the previous owner revoked it", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        // b joins: the target splits the topic, but a still owns everything.
        const b1 = yield* gc.consumerGroupHeartbeat(hb({ clientId: "b" }), TOPICS)
        expect(b1).toMatchObject({ memberId: "m2", memberEpoch: 2, assignment: [] })
        expect((yield* describeGroup(gc)).state).toBe("Reconciling")

        // a is asked to revoke 3..5 and stays at epoch 1 until it does.
        const a1 = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, ownedTopicPartitions: owned(0, 1, 2, 3, 4, 5) }), TOPICS)
        expect(a1.memberEpoch).toBe(1)
        expect(partitionsOf(a1.assignment)).toEqual([0, 1, 2])
        // b still gets nothing: the partitions are not released yet.
        const b2 = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m2", memberEpoch: 2, ownedTopicPartitions: [] }), TOPICS)
        expect(partitionsOf(b2.assignment)).toEqual([])
        // A heartbeat that still lists them changes nothing.
        const a2 = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, ownedTopicPartitions: owned(0, 1, 2, 3, 4, 5) }), TOPICS)
        expect(a2.memberEpoch).toBe(1)
        // a revokes: it moves to epoch 2, and b can now have 3..5.
        const a3 = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, ownedTopicPartitions: owned(0, 1, 2) }), TOPICS)
        expect(a3).toMatchObject({ memberEpoch: 2 })
        const b3 = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m2", memberEpoch: 2, ownedTopicPartitions: [] }), TOPICS)
        expect(partitionsOf(b3.assignment)).toEqual([3, 4, 5])
        expect(yield* describeGroup(gc)).toMatchObject({ state: "Stable", groupEpoch: 2, assignmentEpoch: 2 })
      })
    ))

  it.effect("a member that leaves (epoch -1) hands its partitions to the others", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, ownedTopicPartitions: owned(0, 1, 2) }), TOPICS)
        yield* gc.consumerGroupHeartbeat(hb({ memberId: "m2", memberEpoch: 2, ownedTopicPartitions: [] }), TOPICS)
        const left = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m2", memberEpoch: -1 }), TOPICS)
        expect(left).toMatchObject({ errorCode: 0, memberId: "m2", memberEpoch: -1 })
        expect((yield* describeGroup(gc)).state).toBe("Assigning")
        const a = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 2, ownedTopicPartitions: owned(0, 1, 2) }), TOPICS)
        expect(a).toMatchObject({ memberEpoch: 3 })
        expect(partitionsOf(a.assignment)).toEqual([0, 1, 2, 3, 4, 5])
        // The member that left is unknown now.
        const again = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m2", memberEpoch: 2, ownedTopicPartitions: [] }), TOPICS)
        expect(again.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
      })
    ))

  it.effect("the server_assignor most members ask for is used; an unknown one is UNSUPPORTED_ASSIGNOR", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        const bad = yield* gc.consumerGroupHeartbeat(hb({ serverAssignor: "sticky" }), TOPICS)
        expect(bad.errorCode).toBe(ErrorCode.UNSUPPORTED_ASSIGNOR)
        expect(bad.errorMessage).toBe("ServerAssignor sticky is not supported. Supported assignors: uniform, range.")
        yield* gc.consumerGroupHeartbeat(hb({ serverAssignor: "range", subscribedTopicNames: ["orders", "events"] }), TOPICS)
        expect((yield* describeGroup(gc)).assignorName).toBe("range")
      })
    ))

  it.effect("a topic that grows bumps the group epoch and its new partitions are assigned", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        const grown = topicsOf({ orders: { topicId: ORDERS, numPartitions: 8 } })
        const next = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, ownedTopicPartitions: owned(0, 1, 2, 3, 4, 5) }), grown)
        expect(next.memberEpoch).toBe(2)
        expect(partitionsOf(next.assignment)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
      })
    ))
})

describe("ConsumerGroupHeartbeat: errors", () => {
  it.effect("validates requests as Kafka does (INVALID_REQUEST)", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        const cases: Array<[Partial<ConsumerHeartbeatInput>, string]> = [
          [{ groupId: " " }, "GroupId can't be empty."],
          [{ instanceId: "" }, "InstanceId can't be empty."],
          [{ rebalanceTimeoutMs: -1 }, "RebalanceTimeoutMs must be provided in first request."],
          [{ ownedTopicPartitions: owned(0) }, "TopicPartitions must be empty when (re-)joining."],
          [{ subscribedTopicNames: [] }, "SubscribedTopicNames must be set in first request."],
          [{ memberEpoch: 3 }, "MemberId can't be empty."],
          [{ memberEpoch: -2, memberId: "x" }, "InstanceId can't be null."],
          [{ memberEpoch: -3 }, "MemberEpoch is invalid."]
        ]
        for (const [input, message] of cases) {
          const r = yield* gc.consumerGroupHeartbeat(hb(input), TOPICS)
          expect(r).toEqual({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: message, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null })
        }
        // Nothing was created by the failed joins.
        expect(yield* gc.listGroups({ states: [], types: [] })).toEqual([])
      })
    ))

  it.effect("FENCED_MEMBER_EPOCH for an epoch ahead, or behind and not the previous one; the previous one with owned partitions in the assignment is accepted", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        const ahead = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 2, ownedTopicPartitions: owned() }), TOPICS)
        expect(ahead.errorCode).toBe(ErrorCode.FENCED_MEMBER_EPOCH)
        // Epoch 0 is m1's previous epoch and it owns a subset of its assignment: the join response was lost.
        const lost = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 0, ownedTopicPartitions: [] }), TOPICS)
        expect(lost).toMatchObject({ errorCode: 0, memberEpoch: 1 })
        yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, ownedTopicPartitions: owned(0, 1, 2, 3, 4, 5), subscribedTopicNames: ["orders", "events"] }), TOPICS)
        const behind = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 0, ownedTopicPartitions: [] }), TOPICS)
        expect(behind.errorCode).toBe(ErrorCode.FENCED_MEMBER_EPOCH)
      })
    ))

  it.effect("UNKNOWN_MEMBER_ID for a member the group does not have; GROUP_ID_NOT_FOUND for a group that does not exist", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        expect((yield* gc.consumerGroupHeartbeat(hb({ memberId: "ghost", memberEpoch: 1 }), TOPICS)).errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND)
        expect((yield* gc.consumerGroupHeartbeat(hb({ memberId: "ghost", memberEpoch: -1 }), TOPICS)).errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND)
        yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        expect((yield* gc.consumerGroupHeartbeat(hb({ memberId: "ghost", memberEpoch: 1 }), TOPICS)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
        expect((yield* gc.consumerGroupHeartbeat(hb({ memberId: "ghost", memberEpoch: -1 }), TOPICS)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
      })
    ))

  it.effect("GROUP_MAX_SIZE_REACHED for a new member of a full group (group.consumer.max.size)", () =>
    withConsumerGroups(
      (gc) =>
        Effect.gen(function*() {
          expect((yield* gc.consumerGroupHeartbeat(hb(), TOPICS)).errorCode).toBe(0)
          const second = yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
          expect(second.errorCode).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED)
          expect(second.errorMessage).toBe("The consumer group has reached its maximum capacity of 1 members.")
          // The member already in keeps heartbeating.
          expect((yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, ownedTopicPartitions: owned(0, 1, 2, 3, 4, 5) }), TOPICS)).errorCode).toBe(0)
        }),
      { consumerMaxSize: 1 }
    ))
})

describe("ConsumerGroupHeartbeat: timers on the Clock", () => {
  it.effect("a member that stops heartbeating is fenced after group.consumer.session.timeout.ms", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, ownedTopicPartitions: owned(0, 1, 2) }), TOPICS)
        // m1 keeps heartbeating every 20 s; m2 stays silent.
        for (let i = 0; i < 2; i++) {
          yield* TestClock.adjust("20 seconds")
          yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 2, ownedTopicPartitions: owned(0, 1, 2) }), TOPICS)
        }
        expect((yield* describeGroup(gc)).members.map((m) => m.memberId)).toEqual(["m1", "m2"])
        yield* TestClock.adjust("5 seconds")
        expect((yield* describeGroup(gc)).members.map((m) => m.memberId)).toEqual(["m1"])
        const taken = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 2, ownedTopicPartitions: owned(0, 1, 2) }), TOPICS)
        expect(partitionsOf(taken.assignment)).toEqual([0, 1, 2, 3, 4, 5])
        // m1's session is still counted from its last heartbeat.
        yield* TestClock.adjust("44 seconds")
        expect((yield* describeGroup(gc)).members.length).toBe(1)
        yield* TestClock.adjust("1 second")
        expect((yield* describeGroup(gc)).state).toBe("Empty")
      })
    ))

  it.effect("a member that does not revoke within its rebalance timeout is fenced, and its partitions move on", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        yield* gc.consumerGroupHeartbeat(hb({ rebalanceTimeoutMs: 10_000 }), TOPICS)
        yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        const asked = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, rebalanceTimeoutMs: -1, ownedTopicPartitions: owned(0, 1, 2, 3, 4, 5) }), TOPICS)
        expect(partitionsOf(asked.assignment)).toEqual([0, 1, 2])
        // m1 keeps heartbeating but never lets 3..5 go.
        yield* TestClock.adjust("9 seconds")
        expect((yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, rebalanceTimeoutMs: -1, ownedTopicPartitions: owned(0, 1, 2, 3, 4, 5) }), TOPICS)).errorCode).toBe(0)
        yield* TestClock.adjust("1 second")
        expect((yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, rebalanceTimeoutMs: -1, ownedTopicPartitions: owned(0, 1, 2, 3, 4, 5) }), TOPICS)).errorCode).toBe(
          ErrorCode.UNKNOWN_MEMBER_ID
        )
        const b = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m2", memberEpoch: 2, ownedTopicPartitions: [] }), TOPICS)
        expect(partitionsOf(b.assignment)).toEqual([0, 1, 2, 3, 4, 5])
      })
    ))
})

describe("ConsumerGroupHeartbeat: static members", () => {
  it.effect("a static member leaving with -2 keeps its partitions; the same instance rejoining gets them back without a rebalance", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        yield* gc.consumerGroupHeartbeat(hb({ instanceId: "i1" }), TOPICS)
        yield* gc.consumerGroupHeartbeat(hb({ instanceId: "i2" }), TOPICS)
        yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 1, instanceId: "i1", ownedTopicPartitions: owned(0, 1, 2) }), TOPICS)
        const b = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m2", memberEpoch: 2, instanceId: "i2", ownedTopicPartitions: [] }), TOPICS)
        expect(partitionsOf(b.assignment)).toEqual([3, 4, 5])

        // While i2 is live, another process with its instance id is refused.
        const dup = yield* gc.consumerGroupHeartbeat(hb({ instanceId: "i2" }), TOPICS)
        expect(dup.errorCode).toBe(ErrorCode.UNRELEASED_INSTANCE_ID)
        // A heartbeat with i2 and another member id is fenced.
        expect((yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: 2, instanceId: "i2", ownedTopicPartitions: [] }), TOPICS)).errorCode).toBe(
          ErrorCode.FENCED_INSTANCE_ID
        )

        const left = yield* gc.consumerGroupHeartbeat(hb({ memberId: "m2", memberEpoch: -2, instanceId: "i2" }), TOPICS)
        expect(left).toMatchObject({ errorCode: 0, memberId: "m2", memberEpoch: -2 })
        const before = yield* describeGroup(gc)
        expect(before.members.find((m) => m.instanceId === "i2")).toMatchObject({ memberEpoch: -2, assignment: [{ topicId: ORDERS, partitions: [3, 4, 5] }] })

        const back = yield* gc.consumerGroupHeartbeat(hb({ instanceId: "i2" }), TOPICS)
        expect(back).toMatchObject({ errorCode: 0, memberId: "m4", memberEpoch: before.groupEpoch })
        expect(partitionsOf(back.assignment)).toEqual([3, 4, 5])
        const after = yield* describeGroup(gc)
        expect(after.groupEpoch).toBe(before.groupEpoch)
        expect(after.members.map((m) => m.memberId).sort()).toEqual(["m1", "m4"])
      })
    ))

  it.effect("a lone static member that bounces (-2, then a new process) keeps its partitions and the group epoch", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        yield* gc.consumerGroupHeartbeat(hb({ instanceId: "i1" }), TOPICS)
        yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: -2, instanceId: "i1" }), TOPICS)
        const back = yield* gc.consumerGroupHeartbeat(hb({ instanceId: "i1" }), TOPICS)
        expect(back).toMatchObject({ errorCode: 0, memberId: "m2", memberEpoch: 1 })
        expect(partitionsOf(back.assignment)).toEqual([0, 1, 2, 3, 4, 5])
        expect(yield* describeGroup(gc)).toMatchObject({ groupEpoch: 1, state: "Stable" })
      })
    ))

  it.effect("a static member that left with -2 and does not come back is fenced when its session expires", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        yield* gc.consumerGroupHeartbeat(hb({ instanceId: "i1" }), TOPICS)
        yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: -2, instanceId: "i1" }), TOPICS)
        yield* TestClock.adjust("45 seconds")
        expect(yield* describeGroup(gc)).toMatchObject({ state: "Empty", groupEpoch: 2, members: [] })
      })
    ))
})

describe("consumer groups beside classic groups", () => {
  it.effect("a live classic group keeps its id (GROUP_ID_NOT_FOUND); a classic join to a live consumer group is INCONSISTENT_GROUP_PROTOCOL", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        yield* startJoin(gc, joinInput({ groupId: "classic" }))
        const refused = yield* gc.consumerGroupHeartbeat(hb({ groupId: "classic" }), TOPICS)
        expect(refused).toMatchObject({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: "Group classic is not a consumer group" })

        yield* gc.consumerGroupHeartbeat(hb({ groupId: "modern" }), TOPICS)
        const join = yield* gc.joinGroup(joinInput({ groupId: "modern" }))
        expect(join).toMatchObject({ errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL, generationId: -1 })

        const listed = yield* gc.listGroups({ states: [], types: [] })
        expect(listed).toEqual(expect.arrayContaining([
          { groupId: "modern", protocolType: "consumer", state: "Stable", groupType: "consumer" },
          expect.objectContaining({ groupId: "classic", groupType: "classic" })
        ]))
        expect((yield* gc.listGroups({ states: [], types: ["Consumer"] })).map((g) => g.groupId)).toEqual(["modern"])
        expect((yield* gc.listGroups({ states: ["stable"], types: [] })).map((g) => g.groupId)).toEqual(["modern"])
        expect((yield* gc.consumerGroupDescribe(["classic"]))[0]!.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND)
      })
    ))

  it.effect("an empty classic group is upgraded by a consumer join, and an empty consumer group gives its id to a classic join; offsets stay", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        const offsets = [{ topic: "orders", partition: 0, offset: 7n, leaderEpoch: -1, metadata: null, commitTimestampMs: -1 }]
        expect(yield* gc.commitOffsets(commitInput({ offsets }))).toEqual([0])
        const joined = yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        expect(joined.errorCode).toBe(0)
        yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: -1 }), TOPICS)
        expect((yield* describeGroup(gc)).state).toBe("Empty")
        yield* startJoin(gc, joinInput())
        expect((yield* gc.listGroups({ states: [], types: [] })).map((g) => g.groupType)).toEqual(["classic"])
        const fetched = yield* gc.fetchOffsets("g", [{ topic: "orders", partitions: [0] }])
        expect(fetched.topics[0]!.partitions[0]!.offset).toBe(7n)
      })
    ))
})

describe("offsets of consumer groups", () => {
  it.effect("commits carry the member epoch: STALE_MEMBER_EPOCH when it moved on, UNSUPPORTED_VERSION below OffsetCommit v9", () =>
    withConsumerGroups((gc) =>
      Effect.gen(function*() {
        yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
        const offsets = [{ topic: "orders", partition: 0, offset: 3n, leaderEpoch: -1, metadata: null, commitTimestampMs: -1 }]
        const commit = (memberId: string, epoch: number, apiVersion = 9) => gc.commitOffsets(commitInput({ memberId, generationId: epoch, apiVersion, offsets }))
        expect(yield* commit("m1", 1)).toEqual([ErrorCode.NONE])
        expect(yield* commit("m1", 0)).toEqual([ErrorCode.STALE_MEMBER_EPOCH])
        expect(yield* commit("m1", 1, 8)).toEqual([ErrorCode.UNSUPPORTED_VERSION])
        expect(yield* commit("ghost", 1)).toEqual([ErrorCode.UNKNOWN_MEMBER_ID])
        // Outside the group (epoch -1) only while it is empty.
        expect(yield* commit("", -1)).toEqual([ErrorCode.UNKNOWN_MEMBER_ID])

        const fetch = (memberId: string | null, memberEpoch: number) => gc.fetchOffsets("g", [{ topic: "orders", partitions: [0] }], false, { memberId, memberEpoch })
        expect(yield* fetch("m1", 1)).toMatchObject({ errorCode: 0, topics: [{ topic: "orders", partitions: [{ partition: 0, offset: 3n }] }] })
        expect((yield* fetch("m1", 0)).errorCode).toBe(ErrorCode.STALE_MEMBER_EPOCH)
        expect((yield* fetch("ghost", 1)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
        expect((yield* fetch(null, -1)).errorCode).toBe(0)

        yield* gc.consumerGroupHeartbeat(hb({ memberId: "m1", memberEpoch: -1 }), TOPICS)
        expect(yield* commit("", -1)).toEqual([ErrorCode.NONE])
      })
    ))
})

describe("assignor configuration", () => {
  it.effect("the first of group.consumer.assignors is the default", () =>
    withConsumerGroups(
      (gc) =>
        Effect.gen(function*() {
          yield* gc.consumerGroupHeartbeat(hb(), TOPICS)
          expect((yield* describeGroup(gc)).assignorName).toBe("range")
        }),
      { consumerAssignors: [RangeAssignor, UniformAssignor] }
    ))
})
