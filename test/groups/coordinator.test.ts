/**
 * The classic group protocol state machine, through the GroupCoordinator service, under
 * TestClock: every timeout (session, rebalance, initial delay) is driven by TestClock.adjust.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { bytes, commitInput, done, isWaiting, joinInput, joinNewMember, settle, startJoin, startSync, withCoordinator } from "./helpers.ts"

const describeState = (gc: Parameters<Parameters<typeof withCoordinator>[0]>[0], groupId = "g") =>
  Effect.map(gc.describeGroups([groupId]), (groups) => groups[0]!)

describe("GroupCoordinator: one member", () => {
  it.effect("joins (MEMBER_ID_REQUIRED first), syncs, heartbeats, commits and leaves", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const first = yield* gc.joinGroup(joinInput({ requireKnownMemberId: true }))
        expect(first).toMatchObject({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId: "client-1", generationId: -1, leader: "" })

        const join = yield* startJoin(gc, joinInput({ memberId: "client-1", requireKnownMemberId: true }))
        const joined = yield* done(join)
        expect(joined).toMatchObject({
          errorCode: ErrorCode.NONE,
          generationId: 1,
          protocolType: "consumer",
          protocolName: "range",
          leader: "client-1",
          memberId: "client-1",
          members: [{ memberId: "client-1", groupInstanceId: null, metadata: bytes(1) }]
        })
        expect((yield* describeState(gc)).state).toBe("CompletingRebalance")

        const synced = yield* done(yield* startSync(gc, "g", 1, "client-1", [{ memberId: "client-1", assignment: bytes(9, 9) }]))
        expect(synced).toEqual({ errorCode: ErrorCode.NONE, protocolType: "consumer", protocolName: "range", assignment: bytes(9, 9) })
        const described = yield* describeState(gc)
        expect(described).toMatchObject({ state: "Stable", protocolType: "consumer", protocolData: "range" })
        expect(described.members).toEqual([
          { memberId: "client-1", groupInstanceId: null, clientId: "client", clientHost: "/127.0.0.1", metadata: bytes(1), assignment: bytes(9, 9) }
        ])

        expect(yield* gc.heartbeat({ groupId: "g", generationId: 1, memberId: "client-1", groupInstanceId: null })).toBe(ErrorCode.NONE)
        // A sync in a Stable group answers the current assignment at once.
        expect((yield* done(yield* startSync(gc, "g", 1, "client-1"))).assignment).toEqual(bytes(9, 9))

        const committed = yield* gc.commitOffsets(commitInput({
          generationId: 1,
          memberId: "client-1",
          offsets: [{ topic: "t", partition: 0, offset: 42n, leaderEpoch: 3, metadata: "m", commitTimestampMs: -1 }]
        }))
        expect(committed).toEqual([ErrorCode.NONE])

        const left = yield* gc.leaveGroup("g", [{ memberId: "client-1", groupInstanceId: null, reason: null }])
        expect(left).toEqual({ errorCode: ErrorCode.NONE, members: [{ memberId: "client-1", groupInstanceId: null, errorCode: ErrorCode.NONE }] })
        // The group keeps its offsets, so it stays, Empty, one generation further.
        expect(yield* describeState(gc)).toMatchObject({ state: "Empty", members: [] })
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 1, memberId: "client-1", groupInstanceId: null })).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
        const fetched = yield* gc.fetchOffsets("g", [{ topic: "t", partitions: [0, 1] }])
        expect(fetched.topics).toEqual([{
          topic: "t",
          partitions: [
            { partition: 0, offset: 42n, leaderEpoch: 3, metadata: "m", errorCode: ErrorCode.NONE },
            { partition: 1, offset: -1n, leaderEpoch: -1, metadata: "", errorCode: ErrorCode.NONE }
          ]
        }])
      })
    ))

  it.effect("a group without offsets disappears when its last member leaves", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const joined = yield* done(yield* startJoin(gc, joinInput()))
        yield* done(yield* startSync(gc, "g", joined.generationId, joined.memberId))
        yield* gc.leaveGroup("g", [{ memberId: joined.memberId, groupInstanceId: null, reason: null }])
        expect(yield* describeState(gc)).toMatchObject({ errorCode: ErrorCode.NONE, state: "Dead", protocolType: "" })
        expect(yield* gc.listGroups({ states: [], types: [] })).toEqual([])
      })
    ))

  it.effect("a rejoin with the same member id from a new group is UNKNOWN_MEMBER_ID", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const result = yield* gc.joinGroup(joinInput({ memberId: "someone-else", requireKnownMemberId: true }))
        expect(result).toMatchObject({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, memberId: "someone-else", generationId: -1 })
        expect((yield* describeState(gc)).state).toBe("Dead")
      })
    ))
})

describe("GroupCoordinator: validation", () => {
  it.effect("empty group id, session timeout bounds, protocol checks", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        expect((yield* gc.joinGroup(joinInput({ groupId: "" }))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID)
        expect((yield* gc.joinGroup(joinInput({ sessionTimeoutMs: 5999 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
        expect((yield* gc.joinGroup(joinInput({ sessionTimeoutMs: 1_800_001 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
        expect((yield* gc.joinGroup(joinInput({ protocolType: "" }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
        expect((yield* gc.joinGroup(joinInput({ protocols: [] }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
        expect(yield* gc.heartbeat({ groupId: "", generationId: 1, memberId: "m", groupInstanceId: null })).toBe(ErrorCode.INVALID_GROUP_ID)
        expect((yield* gc.syncGroup({ groupId: "", generationId: 1, memberId: "m", groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })).errorCode)
          .toBe(ErrorCode.INVALID_GROUP_ID)
        expect((yield* gc.leaveGroup("", [{ memberId: "m", groupInstanceId: null, reason: null }])).errorCode).toBe(ErrorCode.INVALID_GROUP_ID)

        const joined = yield* done(yield* startJoin(gc, joinInput()))
        yield* done(yield* startSync(gc, "g", 1, joined.memberId))
        // Another protocol type, or no protocol in common with the group's members.
        expect((yield* gc.joinGroup(joinInput({ protocolType: "connect" }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
        expect((yield* gc.joinGroup(joinInput({ protocols: [{ name: "sticky", metadata: bytes() }] }))).errorCode)
          .toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
        // SyncGroup v5 names the protocol; a wrong one is rejected.
        const wrong = yield* gc.syncGroup({ groupId: "g", generationId: 1, memberId: joined.memberId, groupInstanceId: null, protocolType: "consumer", protocolName: "roundrobin", assignments: [] })
        expect(wrong.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
        expect((yield* describeState(gc)).state).toBe("Stable")
      })
    ))

  it.effect("stale generations are ILLEGAL_GENERATION for heartbeat, sync and commit", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const joined = yield* done(yield* startJoin(gc, joinInput()))
        yield* done(yield* startSync(gc, "g", 1, joined.memberId))
        const id = joined.memberId
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 0, memberId: id, groupInstanceId: null })).toBe(ErrorCode.ILLEGAL_GENERATION)
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: id, groupInstanceId: null })).toBe(ErrorCode.ILLEGAL_GENERATION)
        expect((yield* gc.syncGroup({ groupId: "g", generationId: 7, memberId: id, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })).errorCode)
          .toBe(ErrorCode.ILLEGAL_GENERATION)
        const offsets = [{ topic: "t", partition: 0, offset: 1n, leaderEpoch: -1, metadata: null, commitTimestampMs: -1 }]
        expect(yield* gc.commitOffsets(commitInput({ generationId: 5, memberId: id, offsets }))).toEqual([ErrorCode.ILLEGAL_GENERATION])
        // Unknown members, and commits without a member while the group has members.
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 1, memberId: "ghost", groupInstanceId: null })).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
        expect(yield* gc.commitOffsets(commitInput({ generationId: 1, memberId: "ghost", offsets }))).toEqual([ErrorCode.UNKNOWN_MEMBER_ID])
        expect(yield* gc.commitOffsets(commitInput({ offsets }))).toEqual([ErrorCode.UNKNOWN_MEMBER_ID])
        expect(yield* gc.heartbeat({ groupId: "nope", generationId: 1, memberId: id, groupInstanceId: null })).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
      })
    ))
})

describe("GroupCoordinator: rebalancing", () => {
  it.effect("a second member triggers a rebalance; the first learns it by heartbeat and rejoins", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const a = yield* done(yield* startJoin(gc, joinInput({ clientId: "a", protocols: [{ name: "range", metadata: bytes(0xa) }] })))
        expect(a).toMatchObject({ generationId: 1, leader: "a-1", memberId: "a-1" })
        yield* done(yield* startSync(gc, "g", 1, "a-1", [{ memberId: "a-1", assignment: bytes(1) }]))

        // b prefers roundrobin but also speaks range; a only range.
        const bJoin = yield* startJoin(gc, joinInput({
          clientId: "b",
          protocols: [{ name: "roundrobin", metadata: bytes(0xb0) }, { name: "range", metadata: bytes(0xb) }]
        }))
        expect(isWaiting(bJoin)).toBe(true)
        expect((yield* describeState(gc)).state).toBe("PreparingRebalance")
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 1, memberId: "a-1", groupInstanceId: null })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
        // Commits of the current generation are still accepted while members rejoin.
        expect(yield* gc.commitOffsets(commitInput({
          generationId: 1,
          memberId: "a-1",
          offsets: [{ topic: "t", partition: 0, offset: 5n, leaderEpoch: -1, metadata: null, commitTimestampMs: -1 }]
        }))).toEqual([ErrorCode.NONE])

        const aJoin = yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1", protocols: [{ name: "range", metadata: bytes(0xa) }] }))
        const a2 = yield* done(aJoin)
        const b2 = yield* done(bJoin)
        expect(a2).toMatchObject({ errorCode: 0, generationId: 2, leader: "a-1", protocolName: "range" })
        expect(a2.members).toEqual([
          { memberId: "a-1", groupInstanceId: null, metadata: bytes(0xa) },
          { memberId: "b-2", groupInstanceId: null, metadata: bytes(0xb) }
        ])
        expect(b2).toMatchObject({ errorCode: 0, generationId: 2, leader: "a-1", memberId: "b-2", members: [] })

        // A member's commit between join and sync: REBALANCE_IN_PROGRESS.
        expect(yield* gc.commitOffsets(commitInput({
          generationId: 2,
          memberId: "b-2",
          offsets: [{ topic: "t", partition: 1, offset: 5n, leaderEpoch: -1, metadata: null, commitTimestampMs: -1 }]
        }))).toEqual([ErrorCode.REBALANCE_IN_PROGRESS])
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: "b-2", groupInstanceId: null })).toBe(ErrorCode.NONE)

        // The follower waits for the leader's assignment.
        const bSync = yield* startSync(gc, "g", 2, "b-2")
        expect(isWaiting(bSync)).toBe(true)
        const aSync = yield* startSync(gc, "g", 2, "a-1", [{ memberId: "a-1", assignment: bytes(1) }, { memberId: "b-2", assignment: bytes(2) }])
        expect((yield* done(aSync)).assignment).toEqual(bytes(1))
        expect(yield* done(bSync)).toMatchObject({ errorCode: 0, protocolType: "consumer", protocolName: "range", assignment: bytes(2) })
        expect((yield* describeState(gc)).state).toBe("Stable")
      })
    ))

  it.effect("an unchanged rejoin is answered from the current generation (no new rebalance)", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        yield* done(yield* startJoin(gc, joinInput({ clientId: "a" })))
        const b = yield* startJoin(gc, joinInput({ clientId: "b" }))
        yield* done(yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1" })))
        yield* done(b)
        // The leader lost its JoinGroup answer and asks again before syncing: same generation, members included.
        const again = yield* done(yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1" })))
        expect(again).toMatchObject({ generationId: 2, leader: "a-1", members: [{ memberId: "a-1" }, { memberId: "b-2" }] })
        expect((yield* describeState(gc)).state).toBe("CompletingRebalance")
        yield* done(yield* startSync(gc, "g", 2, "a-1"))
        // A follower rejoining unchanged in a Stable group changes nothing either.
        const follower = yield* done(yield* startJoin(gc, joinInput({ clientId: "b", memberId: "b-2" })))
        expect(follower).toMatchObject({ errorCode: 0, generationId: 2, leader: "a-1", members: [] })
        expect((yield* describeState(gc)).state).toBe("Stable")
        // The leader rejoining does rebalance (it may have new metadata to act on).
        const leader = yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1" }))
        expect(isWaiting(leader)).toBe(true)
        expect((yield* describeState(gc)).state).toBe("PreparingRebalance")
      })
    ))

  it.effect("the protocol is the one most members prefer among those all support", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const both = [{ name: "range", metadata: bytes(1) }, { name: "roundrobin", metadata: bytes(2) }]
        const a = yield* startJoin(gc, joinInput({ clientId: "a", protocols: both }))
        expect((yield* done(a)).protocolName).toBe("range")
        const b = yield* startJoin(gc, joinInput({ clientId: "b", protocols: [both[1]!, both[0]!] }))
        const c = yield* startJoin(gc, joinInput({ clientId: "c", protocols: [both[1]!] }))
        const a2 = yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1", protocols: both }))
        const result = yield* done(a2)
        expect(result.protocolName).toBe("roundrobin")
        expect(result.members.map((m) => m.metadata)).toEqual([bytes(2), bytes(2), bytes(2)])
        expect((yield* done(b)).protocolName).toBe("roundrobin")
        expect((yield* done(c)).generationId).toBe(result.generationId)
      })
    ))

  it.effect("members that do not rejoin within the rebalance timeout are removed", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const a = yield* done(yield* startJoin(gc, joinInput({ clientId: "a", rebalanceTimeoutMs: 20_000, sessionTimeoutMs: 30_000 })))
        yield* done(yield* startSync(gc, "g", 1, a.memberId))
        const b = yield* startJoin(gc, joinInput({ clientId: "b", rebalanceTimeoutMs: 20_000 }))
        // a keeps heartbeating but never rejoins.
        yield* TestClock.adjust(9_000)
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 1, memberId: "a-1", groupInstanceId: null })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
        yield* TestClock.adjust(10_999)
        expect(isWaiting(b)).toBe(true)
        yield* TestClock.adjust(1)
        expect(yield* done(b)).toMatchObject({ errorCode: 0, generationId: 2, leader: "b-2", memberId: "b-2" })
        expect((yield* done(b)).members.map((m) => m.memberId)).toEqual(["b-2"])
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 1, memberId: "a-1", groupInstanceId: null })).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
      })
    ))

  it.effect("a leader that never syncs is removed after the rebalance timeout, and the group rebalances", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const a = yield* startJoin(gc, joinInput({ clientId: "a", rebalanceTimeoutMs: 15_000, sessionTimeoutMs: 60_000 }))
        const b = yield* startJoin(gc, joinInput({ clientId: "b", rebalanceTimeoutMs: 15_000, sessionTimeoutMs: 60_000 }))
        // a joined first and completed generation 1 alone; b's join started generation 2.
        expect((yield* done(a)).generationId).toBe(1)
        const aAgain = yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1", rebalanceTimeoutMs: 15_000, sessionTimeoutMs: 60_000 }))
        expect((yield* done(b)).generationId).toBe(2)
        expect((yield* done(aAgain)).leader).toBe("a-1")
        const bSync = yield* startSync(gc, "g", 2, "b-2")
        yield* TestClock.adjust(15_000)
        // The follower is told to rejoin; the silent leader is gone.
        expect((yield* done(bSync)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
        expect(yield* describeState(gc)).toMatchObject({ state: "PreparingRebalance" })
        expect((yield* describeState(gc)).members.map((m) => m.memberId)).toEqual(["b-2"])
        const b3 = yield* done(yield* startJoin(gc, joinInput({ clientId: "b", memberId: "b-2", rebalanceTimeoutMs: 15_000, sessionTimeoutMs: 60_000 })))
        expect(b3).toMatchObject({ generationId: 3, leader: "b-2" })
      })
    ))

  it.effect("a leaving member makes the others rebalance; waiting joins are answered when the rest rejoin", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const a = yield* startJoin(gc, joinInput({ clientId: "a" }))
        yield* done(a)
        const b = yield* startJoin(gc, joinInput({ clientId: "b" }))
        const a2 = yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1" }))
        yield* done(a2)
        yield* done(b)
        yield* done(yield* startSync(gc, "g", 2, "a-1"))
        yield* done(yield* startSync(gc, "g", 2, "b-2"))
        expect((yield* describeState(gc)).state).toBe("Stable")

        expect((yield* gc.leaveGroup("g", [{ memberId: "a-1", groupInstanceId: null, reason: "bye" }])).members[0]!.errorCode).toBe(ErrorCode.NONE)
        expect(yield* describeState(gc)).toMatchObject({ state: "PreparingRebalance" })
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: "b-2", groupInstanceId: null })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
        const b3 = yield* done(yield* startJoin(gc, joinInput({ clientId: "b", memberId: "b-2" })))
        expect(b3).toMatchObject({ generationId: 3, leader: "b-2", members: [{ memberId: "b-2" }] })
      })
    ))
})

describe("GroupCoordinator: timeouts", () => {
  it.effect("group.initial.rebalance.delay.ms holds the first rebalance, extended while members arrive", () =>
    withCoordinator(
      (gc) =>
        Effect.gen(function*() {
          const a = yield* joinNewMember(gc, { clientId: "a" })
          yield* TestClock.adjust(2_000)
          expect(isWaiting(a)).toBe(true)
          // b arrives within the delay: the delay starts over (within the rebalance timeout).
          const b = yield* joinNewMember(gc, { clientId: "b" })
          yield* TestClock.adjust(1_000)
          expect(isWaiting(a)).toBe(true)
          expect(isWaiting(b)).toBe(true)
          yield* TestClock.adjust(2_999)
          expect(isWaiting(a)).toBe(true)
          yield* TestClock.adjust(1)
          const [ra, rb] = [yield* done(a), yield* done(b)]
          expect(ra).toMatchObject({ errorCode: 0, generationId: 1, leader: "a-1" })
          expect(ra.members.map((m) => m.memberId)).toEqual(["a-1", "b-2"])
          expect(rb).toMatchObject({ errorCode: 0, generationId: 1, leader: "a-1", members: [] })
        }),
      { initialRebalanceDelayMs: 3_000 }
    ))

  it.effect("the initial delay alone (no newcomers) completes after exactly the delay", () =>
    withCoordinator(
      (gc) =>
        Effect.gen(function*() {
          const a = yield* startJoin(gc, joinInput())
          yield* TestClock.adjust(2_999)
          expect(isWaiting(a)).toBe(true)
          yield* TestClock.adjust(1)
          expect((yield* done(a)).generationId).toBe(1)
        }),
      { initialRebalanceDelayMs: 3_000 }
    ))

  it.effect("a member that stops heartbeating is expired after session.timeout.ms", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const a = yield* done(yield* startJoin(gc, joinInput({ clientId: "a", sessionTimeoutMs: 10_000 })))
        const b = yield* startJoin(gc, joinInput({ clientId: "b", sessionTimeoutMs: 10_000 }))
        yield* done(yield* startJoin(gc, joinInput({ clientId: "a", memberId: a.memberId, sessionTimeoutMs: 10_000 })))
        yield* done(b)
        yield* startSync(gc, "g", 2, "b-2")
        yield* done(yield* startSync(gc, "g", 2, "a-1", []))
        // a heartbeats every 3 s; b never does.
        for (let i = 0; i < 3; i++) {
          yield* TestClock.adjust(3_000)
          expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: "a-1", groupInstanceId: null })).toBe(ErrorCode.NONE)
        }
        expect((yield* describeState(gc)).members).toHaveLength(2)
        yield* TestClock.adjust(1_000)
        // b's session expired: a learns of the rebalance, rejoins alone.
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: "a-1", groupInstanceId: null })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: "b-2", groupInstanceId: null })).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
        const a3 = yield* done(yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1", sessionTimeoutMs: 10_000 })))
        expect(a3).toMatchObject({ generationId: 3, members: [{ memberId: "a-1" }] })
        // And a's own session ends too once it goes quiet; with no offsets the group is gone.
        yield* done(yield* startSync(gc, "g", 3, "a-1"))
        yield* TestClock.adjust(10_000)
        expect((yield* describeState(gc)).state).toBe("Dead")
      })
    ))

  it.effect("a member id handed out with MEMBER_ID_REQUIRED expires if it never joins", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const a = yield* done(yield* startJoin(gc, joinInput({ clientId: "a", sessionTimeoutMs: 30_000 })))
        yield* done(yield* startSync(gc, "g", 1, a.memberId))
        const pending = yield* gc.joinGroup(joinInput({ clientId: "b", requireKnownMemberId: true, sessionTimeoutMs: 8_000 }))
        expect(pending).toMatchObject({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId: "b-2" })
        // A pending member is not a member: the group stays Stable.
        expect((yield* describeState(gc)).state).toBe("Stable")
        yield* TestClock.adjust(8_000)
        // Its id is no longer valid.
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 1, memberId: "a-1", groupInstanceId: null })).toBe(ErrorCode.NONE)
        const late = yield* gc.joinGroup(joinInput({ clientId: "b", memberId: "b-2", requireKnownMemberId: true }))
        expect(late.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
      })
    ))

  it.effect("a pending member holds the rebalance until it joins", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const a = yield* done(yield* startJoin(gc, joinInput({ clientId: "a" })))
        yield* done(yield* startSync(gc, "g", 1, a.memberId))
        const pending = yield* gc.joinGroup(joinInput({ clientId: "b", requireKnownMemberId: true }))
        // a rejoins (say, its subscription changed): the rebalance waits for b, who is pending.
        const a2 = yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1", protocols: [{ name: "range", metadata: bytes(7) }] }))
        expect(isWaiting(a2)).toBe(true)
        const b = yield* startJoin(gc, joinInput({ clientId: "b", memberId: pending.memberId, requireKnownMemberId: true }))
        expect((yield* done(a2)).members.map((m) => m.memberId)).toEqual(["a-1", "b-2"])
        expect((yield* done(b)).generationId).toBe(2)
      })
    ))
})

describe("GroupCoordinator: static membership", () => {
  it.effect("a restarted static member takes over its identity without a rebalance; the old id is fenced", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const leader = yield* done(yield* startJoin(gc, joinInput({ clientId: "a", groupInstanceId: "ia" })))
        expect(leader.memberId).toBe("ia-1")
        const f = yield* startJoin(gc, joinInput({ clientId: "b", groupInstanceId: "ib" }))
        yield* done(yield* startJoin(gc, joinInput({ clientId: "a", memberId: "ia-1", groupInstanceId: "ia" })))
        expect((yield* done(f)).memberId).toBe("ib-2")
        yield* startSync(gc, "g", 2, "ib-2")
        yield* done(yield* startSync(gc, "g", 2, "ia-1", [{ memberId: "ia-1", assignment: bytes(1) }, { memberId: "ib-2", assignment: bytes(2) }]))

        // "ib" restarts: unknown member id, same instance id.
        const again = yield* done(yield* startJoin(gc, joinInput({ clientId: "b", groupInstanceId: "ib" })))
        expect(again).toMatchObject({ errorCode: 0, memberId: "ib-3", generationId: 2, leader: "ia-1", members: [] })
        expect((yield* describeState(gc)).state).toBe("Stable")
        expect((yield* done(yield* startSync(gc, "g", 2, "ib-3"))).assignment).toEqual(bytes(2))
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: "ib-2", groupInstanceId: "ib" })).toBe(ErrorCode.FENCED_INSTANCE_ID)
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: "ib-3", groupInstanceId: "ib" })).toBe(ErrorCode.NONE)

        // LeaveGroup v3+ can name a static member by instance id alone.
        const left = yield* gc.leaveGroup("g", [
          { memberId: "", groupInstanceId: "ib", reason: null },
          { memberId: "", groupInstanceId: "nobody", reason: null },
          { memberId: "ia-1", groupInstanceId: "wrong", reason: null }
        ])
        expect(left.members.map((m) => m.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID])
        expect((yield* describeState(gc)).members.map((m) => m.memberId)).toEqual(["ia-1"])
      })
    ))
})

describe("GroupCoordinator: static membership (KIP-345, KIP-814)", () => {
  /** Two static members ia (leader) and ib, Stable at generation 2 with assignments 1 and 2. */
  const twoStatic = (gc: Parameters<Parameters<typeof withCoordinator>[0]>[0]) =>
    Effect.gen(function*() {
      yield* done(yield* startJoin(gc, joinInput({ clientId: "a", groupInstanceId: "ia" })))
      const f = yield* startJoin(gc, joinInput({ clientId: "b", groupInstanceId: "ib" }))
      yield* done(yield* startJoin(gc, joinInput({ clientId: "a", memberId: "ia-1", groupInstanceId: "ia" })))
      yield* done(f)
      const followerSync = yield* startSync(gc, "g", 2, "ib-2")
      yield* done(yield* startSync(gc, "g", 2, "ia-1", [{ memberId: "ia-1", assignment: bytes(1) }, { memberId: "ib-2", assignment: bytes(2) }]))
      yield* done(followerSync)
    })

  it.effect("a restarted static leader keeps the generation: v9+ gets the members with skip_assignment, older versions are not named leader", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        yield* twoStatic(gc)
        const v9 = yield* gc.joinGroup(joinInput({ clientId: "a", groupInstanceId: "ia", supportsSkipAssignment: true }))
        expect(v9).toMatchObject({ errorCode: 0, memberId: "ia-3", generationId: 2, leader: "ia-3", skipAssignment: true })
        expect(v9.members.map((m) => [m.memberId, m.groupInstanceId])).toEqual([["ia-3", "ia"], ["ib-2", "ib"]])
        expect((yield* describeState(gc)).state).toBe("Stable")
        // Its SyncGroup (no assignments: it skipped them) returns the assignment it had.
        expect((yield* done(yield* startSync(gc, "g", 2, "ia-3"))).assignment).toEqual(bytes(1))
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: "ib-2", groupInstanceId: "ib" })).toBe(ErrorCode.NONE)

        const v5 = yield* gc.joinGroup(joinInput({ clientId: "a", groupInstanceId: "ia" }))
        // Named leader is the replaced id, so the old client does not compute an assignment.
        expect(v5).toMatchObject({ errorCode: 0, memberId: "ia-4", generationId: 2, leader: "ia-3", skipAssignment: false, members: [] })
        expect((yield* describeState(gc)).state).toBe("Stable")
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: "ia-3", groupInstanceId: "ia" })).toBe(ErrorCode.FENCED_INSTANCE_ID)
      })
    ))

  it.effect("a static member that comes back with metadata that changes the selected protocol makes the group rebalance", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        yield* twoStatic(gc)
        // Now only "sticky" is offered by b: range is no longer supported by all... but a offers only range,
        // so b must keep range in its list to join; it prefers sticky, and so does a after its own change.
        const b = yield* startJoin(gc, joinInput({ clientId: "b", groupInstanceId: "ib", protocols: [{ name: "sticky", metadata: bytes(3) }, { name: "range", metadata: bytes(1) }] }))
        // Votes: a range, b sticky: a tie goes to the leader's preference, range; unchanged, so no rebalance.
        expect(yield* done(b)).toMatchObject({ errorCode: 0, memberId: "ib-3", generationId: 2 })
        expect((yield* describeState(gc)).state).toBe("Stable")
        const a = yield* startJoin(gc, joinInput({ clientId: "a", groupInstanceId: "ia", protocols: [{ name: "sticky", metadata: bytes(3) }, { name: "range", metadata: bytes(1) }] }))
        // Both prefer sticky now: the selected protocol would change, so the group rebalances.
        expect(isWaiting(a)).toBe(true)
        expect((yield* describeState(gc)).state).toBe("PreparingRebalance")
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: "ib-3", groupInstanceId: "ib" })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
        const b3 = yield* startJoin(gc, joinInput({ clientId: "b", memberId: "ib-3", groupInstanceId: "ib", protocols: [{ name: "sticky", metadata: bytes(3) }, { name: "range", metadata: bytes(1) }] }))
        expect(yield* done(a)).toMatchObject({ errorCode: 0, generationId: 3, protocolName: "sticky", memberId: "ia-4" })
        expect((yield* done(b3)).generationId).toBe(3)
      })
    ))

  it.effect("a static member replaced while the group completes a rebalance: its old SyncGroup is fenced and the group rebalances", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        yield* twoStatic(gc)
        // b rejoins with new metadata: generation 3 is formed, b syncs and waits for the leader.
        const b = yield* startJoin(gc, joinInput({ clientId: "b", memberId: "ib-2", groupInstanceId: "ib", protocols: [{ name: "range", metadata: bytes(5) }] }))
        const a = yield* done(yield* startJoin(gc, joinInput({ clientId: "a", memberId: "ia-1", groupInstanceId: "ia" })))
        expect(a.generationId).toBe(3)
        yield* done(b)
        const bSync = yield* startSync(gc, "g", 3, "ib-2")
        // b's process restarts before the leader assigned.
        const b2 = yield* startJoin(gc, joinInput({ clientId: "b", groupInstanceId: "ib" }))
        expect(yield* done(bSync)).toMatchObject({ errorCode: ErrorCode.FENCED_INSTANCE_ID })
        expect((yield* describeState(gc)).state).toBe("PreparingRebalance")
        yield* done(yield* startJoin(gc, joinInput({ clientId: "a", memberId: "ia-1", groupInstanceId: "ia" })))
        expect(yield* done(b2)).toMatchObject({ errorCode: 0, memberId: "ib-3", generationId: 4 })
      })
    ))
})

describe("GroupCoordinator: group.max.size", () => {
  it.effect("a full group refuses new members with GROUP_MAX_SIZE_REACHED (no member id); its own members still rejoin", () =>
    withCoordinator(
      (gc) =>
        Effect.gen(function*() {
          const a = yield* joinNewMember(gc, { clientId: "a" })
          yield* done(a)
          const b = yield* joinNewMember(gc, { clientId: "b" })
          const a2 = yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1", requireKnownMemberId: true }))
          yield* done(a2)
          yield* done(b)
          const bSync = yield* startSync(gc, "g", 2, "b-2")
          yield* done(yield* startSync(gc, "g", 2, "a-1"))
          yield* done(bSync)
          // Stable with 2 of 2: a third member is refused before it is even given an id.
          const c = yield* gc.joinGroup(joinInput({ clientId: "c", requireKnownMemberId: true }))
          expect(c).toMatchObject({ errorCode: ErrorCode.GROUP_MAX_SIZE_REACHED, memberId: "" })
          expect((yield* describeState(gc)).state).toBe("Stable")
          // Members rejoin as usual; while they rebalance, a newcomer still finds the group full.
          const a3 = yield* startJoin(gc, joinInput({ clientId: "a", memberId: "a-1", requireKnownMemberId: true, protocols: [{ name: "range", metadata: bytes(9) }] }))
          expect(isWaiting(a3)).toBe(true)
          const pending = yield* gc.joinGroup(joinInput({ clientId: "c", requireKnownMemberId: true }))
          expect(pending.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED)
          // ...only one of two members is waiting in the join phase, so a pending id was handed out (Kafka counts awaiting joins).
          const b3 = yield* startJoin(gc, joinInput({ clientId: "b", memberId: "b-2", requireKnownMemberId: true }))
          // Now two are waiting: the pending newcomer is refused when it joins with its id, and dropped.
          const c2 = yield* gc.joinGroup(joinInput({ clientId: "c", memberId: pending.memberId, requireKnownMemberId: true }))
          expect(c2).toMatchObject({ errorCode: ErrorCode.GROUP_MAX_SIZE_REACHED, memberId: "" })
          expect(yield* done(a3)).toMatchObject({ errorCode: 0, generationId: 3 })
          expect((yield* done(b3)).generationId).toBe(3)
          expect((yield* done(a3)).members.map((m) => m.memberId)).toEqual(["a-1", "b-2"])
        }),
      { maxSize: 2 }
    ))
})

describe("GroupCoordinator: a dead leader (librdkafka destroyed without leaving)", () => {
  it.effect("followers waiting in SyncGroup get REBALANCE_IN_PROGRESS when the leader's session expires, well before the rebalance timeout", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        // librdkafka's defaults: a 45 s session, max.poll.interval.ms (the rebalance timeout) 300 s.
        const member = (clientId: string, memberId = "") => joinInput({ clientId, memberId, sessionTimeoutMs: 45_000, rebalanceTimeoutMs: 300_000 })
        yield* done(yield* startJoin(gc, member("a")))
        yield* done(yield* startSync(gc, "g", 1, "a-1"))
        const b = yield* startJoin(gc, member("b"))
        yield* TestClock.adjust(400)
        expect(yield* gc.heartbeat({ groupId: "g", generationId: 1, memberId: "a-1", groupInstanceId: null })).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
        const a = yield* done(yield* startJoin(gc, member("a", "a-1")))
        expect(a).toMatchObject({ generationId: 2, leader: "a-1" })
        yield* done(b)
        // The leader got its JoinGroup answer and died: no SyncGroup, no heartbeat, no LeaveGroup.
        const bSync = yield* startSync(gc, "g", 2, "b-2")
        for (let t = 0; t < 44; t++) {
          yield* TestClock.adjust(1_000)
          expect(yield* gc.heartbeat({ groupId: "g", generationId: 2, memberId: "b-2", groupInstanceId: null })).toBe(ErrorCode.NONE)
        }
        yield* TestClock.adjust(999)
        expect(isWaiting(bSync)).toBe(true)
        yield* TestClock.adjust(1)
        expect(yield* done(bSync)).toMatchObject({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS })
        expect((yield* describeState(gc)).members.map((m) => m.memberId)).toEqual(["b-2"])
        // b rejoins alone and leads generation 3.
        expect(yield* done(yield* startJoin(gc, member("b", "b-2")))).toMatchObject({ generationId: 3, leader: "b-2" })
      })
    ))
})

describe("GroupCoordinator: offsets", () => {
  it.effect("simple commits (generation -1) create a group; fetch returns -1 for unknown offsets", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const offsets = [
          { topic: "t", partition: 0, offset: 10n, leaderEpoch: 1, metadata: null, commitTimestampMs: -1 },
          { topic: "t", partition: 1, offset: 11n, leaderEpoch: -1, metadata: "x".repeat(4097), commitTimestampMs: -1 },
          { topic: "u", partition: 2, offset: 12n, leaderEpoch: -1, metadata: "meta", commitTimestampMs: 5 }
        ]
        expect(yield* gc.commitOffsets(commitInput({ groupId: "simple", offsets }))).toEqual([
          ErrorCode.NONE,
          ErrorCode.OFFSET_METADATA_TOO_LARGE,
          ErrorCode.NONE
        ])
        expect(yield* gc.listGroups({ states: [], types: [] })).toEqual([{ groupId: "simple", protocolType: "", state: "Empty", groupType: "classic" }])
        const all = yield* gc.fetchOffsets("simple", null)
        expect(all.topics).toEqual([
          { topic: "t", partitions: [{ partition: 0, offset: 10n, leaderEpoch: 1, metadata: "", errorCode: 0 }] },
          { topic: "u", partitions: [{ partition: 2, offset: 12n, leaderEpoch: -1, metadata: "meta", errorCode: 0 }] }
        ])
        const unknownGroup = yield* gc.fetchOffsets("nobody", [{ topic: "t", partitions: [0] }])
        expect(unknownGroup).toEqual({ errorCode: 0, topics: [{ topic: "t", partitions: [{ partition: 0, offset: -1n, leaderEpoch: -1, metadata: "", errorCode: 0 }] }] })
        expect((yield* gc.fetchOffsets("nobody", null)).topics).toEqual([])
      })
    ))

  it.effect("a member commit to a group that does not exist: ILLEGAL_GENERATION, GROUP_ID_NOT_FOUND from v9", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const offsets = [{ topic: "t", partition: 0, offset: 1n, leaderEpoch: -1, metadata: null, commitTimestampMs: -1 }]
        expect(yield* gc.commitOffsets(commitInput({ groupId: "x", generationId: 3, memberId: "m", apiVersion: 8, offsets }))).toEqual([ErrorCode.ILLEGAL_GENERATION])
        expect(yield* gc.commitOffsets(commitInput({ groupId: "x", generationId: 3, memberId: "m", apiVersion: 9, offsets }))).toEqual([ErrorCode.GROUP_ID_NOT_FOUND])
        expect(yield* gc.listGroups({ states: [], types: [] })).toEqual([])
        // An empty-string group id is accepted for commits, as Kafka does for compatibility.
        expect(yield* gc.commitOffsets(commitInput({ groupId: "", offsets }))).toEqual([ErrorCode.NONE])
      })
    ))

  it.effect("offsets of several groups are independent", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        const at = (offset: bigint) => [{ topic: "t", partition: 0, offset, leaderEpoch: -1, metadata: null, commitTimestampMs: -1 }]
        yield* gc.commitOffsets(commitInput({ groupId: "g1", offsets: at(1n) }))
        yield* gc.commitOffsets(commitInput({ groupId: "g2", offsets: at(2n) }))
        yield* gc.commitOffsets(commitInput({ groupId: "g1", offsets: at(3n) }))
        const g1 = yield* gc.fetchOffsets("g1", [{ topic: "t", partitions: [0] }])
        const g2 = yield* gc.fetchOffsets("g2", [{ topic: "t", partitions: [0] }])
        expect(g1.topics[0]!.partitions[0]!.offset).toBe(3n)
        expect(g2.topics[0]!.partitions[0]!.offset).toBe(2n)
      })
    ))
})

describe("GroupCoordinator: listing", () => {
  it.effect("ListGroups filters by state and type, case-insensitively", () =>
    withCoordinator((gc) =>
      Effect.gen(function*() {
        yield* done(yield* startJoin(gc, joinInput({ groupId: "joining" })))
        const s = yield* done(yield* startJoin(gc, joinInput({ groupId: "stable" })))
        yield* done(yield* startSync(gc, "stable", 1, s.memberId))
        yield* gc.commitOffsets(commitInput({ groupId: "offsets-only", offsets: [{ topic: "t", partition: 0, offset: 1n, leaderEpoch: -1, metadata: null, commitTimestampMs: -1 }] }))
        const all = yield* gc.listGroups({ states: [], types: [] })
        expect(all.map((g) => [g.groupId, g.state, g.protocolType])).toEqual([
          ["joining", "CompletingRebalance", "consumer"],
          ["stable", "Stable", "consumer"],
          ["offsets-only", "Empty", ""]
        ])
        expect((yield* gc.listGroups({ states: ["stable", "EMPTY"], types: [] })).map((g) => g.groupId)).toEqual(["stable", "offsets-only"])
        expect((yield* gc.listGroups({ states: [], types: ["Classic"] })).length).toBe(3)
        expect(yield* gc.listGroups({ states: [], types: ["consumer"] })).toEqual([])
        yield* settle
      })
    ))
})

describe("GroupCoordinator: shutdown", () => {
  it.effect("requests still waiting are answered NOT_COORDINATOR when the coordinator is released", () =>
    Effect.gen(function*() {
      const waiting = yield* withCoordinator(
        (gc) =>
          Effect.gen(function*() {
            const fiber = yield* Effect.forkDetach(gc.joinGroup(joinInput()))
            yield* settle
            expect(isWaiting(fiber)).toBe(true)
            return fiber
          }),
        { initialRebalanceDelayMs: 3_000 }
      )
      expect((yield* Fiber.join(waiting)).errorCode).toBe(ErrorCode.NOT_COORDINATOR)
    }))
})
