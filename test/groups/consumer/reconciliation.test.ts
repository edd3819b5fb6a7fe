/**
 * KIP-848's safety property, checked over random runs of the coordinator with clients that
 * behave as the protocol asks (each heartbeat reports what the client owns, and the client
 * adopts every assignment it is given): no partition is ever owned by two clients at once,
 * however joins, leaves and heartbeats interleave; and once everyone keeps heartbeating the
 * group converges to a complete, balanced assignment. Plus the reconciliation rules on
 * their own (Kafka's CurrentAssignmentBuilder cases).
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { assignmentOf, EMPTY_ASSIGNMENT, sortedEntries } from "../../../src/groups/consumer/assignment.ts"
import { RangeAssignor, UniformAssignor } from "../../../src/groups/consumer/assignors.ts"
import { ConsumerGroupCoordinator } from "../../../src/groups/consumer/consumer-coordinator.ts"
import { reconcile, type ReconciledMember } from "../../../src/groups/consumer/reconciliation.ts"
import type { TopicLookup, TopicPartitions } from "../../../src/groups/consumer/types.ts"

const T = "topic-id-AAAAAAAAAAAAAA"
const PARTITIONS = 7
const TOPICS: TopicLookup = (name) => (name === "t" ? { topicId: T, numPartitions: PARTITIONS } : undefined)

interface Client {
  memberId: string
  epoch: number
  owned: Array<number>
  live: boolean
}

type Step = { readonly _tag: "join" } | { readonly _tag: "heartbeat"; readonly client: number } | { readonly _tag: "leave"; readonly client: number }

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Step>({ _tag: "join" }) },
  { weight: 6, arbitrary: fc.nat(7).map((client): Step => ({ _tag: "heartbeat", client })) },
  { weight: 1, arbitrary: fc.nat(7).map((client): Step => ({ _tag: "leave", client })) }
)

const run = (assignor: typeof UniformAssignor, steps: ReadonlyArray<Step>) => {
  let n = 0
  const core = new ConsumerGroupCoordinator(
    { now: () => 0, schedule: () => () => {}, newMemberUuid: () => `m${++n}` },
    { sessionTimeoutMs: 45_000, heartbeatIntervalMs: 5000, maxSize: 100, assignors: [assignor] },
    { has: () => false, deleteIfEmpty: () => true }
  )
  const clients: Array<Client> = []
  const adopt = (c: Client, assignment: ReadonlyArray<TopicPartitions> | null) => {
    if (assignment !== null) c.owned = assignment.flatMap((tp) => [...tp.partitions])
  }
  const heartbeat = (c: Client) => {
    const r = core.heartbeat({
      groupId: "g",
      memberId: c.memberId,
      memberEpoch: c.epoch,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: 30_000,
      subscribedTopicNames: ["t"],
      subscribedTopicRegex: null,
      serverAssignor: null,
      ownedTopicPartitions: c.epoch === 0 ? [] : [{ topicId: T, partitions: c.owned }],
      clientId: "c",
      clientHost: "/h"
    }, TOPICS)
    expect(r.errorCode).toBe(0)
    c.memberId = r.memberId!
    c.epoch = r.memberEpoch
    adopt(c, r.assignment)
  }
  const checkDisjoint = () => {
    const owners = new Map<number, string>()
    for (const c of clients) {
      if (!c.live) continue
      for (const p of c.owned) {
        expect(owners.get(p), `partition ${p} owned by ${owners.get(p)} and ${c.memberId}`).toBeUndefined()
        owners.set(p, c.memberId)
      }
    }
  }
  for (const s of steps) {
    if (s._tag === "join") {
      const c: Client = { memberId: "", epoch: 0, owned: [], live: true }
      clients.push(c)
      heartbeat(c)
    } else {
      const live = clients.filter((c) => c.live)
      if (live.length === 0) continue
      const c = live[s.client % live.length]!
      if (s._tag === "heartbeat") heartbeat(c)
      else {
        core.heartbeat({ groupId: "g", memberId: c.memberId, memberEpoch: -1, instanceId: null, rackId: null, rebalanceTimeoutMs: -1, subscribedTopicNames: null, subscribedTopicRegex: null, serverAssignor: null, ownedTopicPartitions: null, clientId: "c", clientHost: "/h" }, TOPICS)
        c.live = false
        c.owned = []
      }
    }
    checkDisjoint()
  }
  // Everyone heartbeats until nothing changes: the group converges.
  const live = clients.filter((c) => c.live)
  for (let round = 0; round < 4 && live.length > 0; round++) for (const c of live) heartbeat(c)
  if (live.length > 0) {
    const all = live.flatMap((c) => c.owned).sort((a, b) => a - b)
    expect(all).toEqual(Array.from({ length: PARTITIONS }, (_, p) => p))
    const sizes = live.map((c) => c.owned.length)
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
    expect(core.state("g")).toBe("Stable")
  }
}

describe("reconciliation, over random runs", () => {
  it("never lets two clients own a partition at once, and converges (uniform)", () => {
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => run(UniformAssignor, [{ _tag: "join" }, ...steps])), { numRuns: 200 })
  })

  it("never lets two clients own a partition at once, and converges (range)", () => {
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => run(RangeAssignor, [{ _tag: "join" }, ...steps])), { numRuns: 200 })
  })
})

describe("reconcile (CurrentAssignmentBuilder)", () => {
  const member = (over: Partial<ReconciledMember> = {}): ReconciledMember => ({
    state: "STABLE",
    memberEpoch: 10,
    previousMemberEpoch: 9,
    assignedPartitions: assignmentOf([[T, [0, 1, 2]]]),
    partitionsPendingRevocation: EMPTY_ASSIGNMENT,
    ...over
  })
  const free = () => -1
  const plain = (m: ReconciledMember) => ({
    state: m.state,
    memberEpoch: m.memberEpoch,
    previousMemberEpoch: m.previousMemberEpoch,
    assigned: sortedEntries(m.assignedPartitions),
    revoking: sortedEntries(m.partitionsPendingRevocation)
  })

  it("stays put when already at the target epoch", () => {
    const m = member()
    expect(reconcile(m, 10, assignmentOf([[T, [5]]]), free, null)).toBe(m)
  })

  it("moves to the new epoch at once when only partitions are added", () => {
    expect(plain(reconcile(member(), 11, assignmentOf([[T, [0, 1, 2, 3]]]), free, null))).toEqual({
      state: "STABLE", memberEpoch: 11, previousMemberEpoch: 10, assigned: [[T, [0, 1, 2, 3]]], revoking: []
    })
  })

  it("keeps its epoch and asks for revocation first when partitions go", () => {
    const next = reconcile(member(), 11, assignmentOf([[T, [0, 3]]]), free, assignmentOf([[T, [0, 1, 2]]]))
    expect(plain(next)).toEqual({ state: "UNREVOKED_PARTITIONS", memberEpoch: 10, previousMemberEpoch: 9, assigned: [[T, [0]]], revoking: [[T, [1, 2]]] })
    // Still owned: no progress. Released: the next epoch, with the new partition.
    expect(reconcile(next, 11, assignmentOf([[T, [0, 3]]]), free, assignmentOf([[T, [0, 1]]]))).toBe(next)
    expect(plain(reconcile(next, 11, assignmentOf([[T, [0, 3]]]), free, assignmentOf([[T, [0]]])))).toEqual({
      state: "STABLE", memberEpoch: 11, previousMemberEpoch: 10, assigned: [[T, [0, 3]]], revoking: []
    })
  })

  it("waits in UNRELEASED_PARTITIONS for partitions another member still holds", () => {
    const heldElsewhere = (_: string, p: number) => (p === 3 ? 7 : -1)
    const next = reconcile(member(), 11, assignmentOf([[T, [0, 1, 2, 3, 4]]]), heldElsewhere, null)
    expect(plain(next)).toEqual({ state: "UNRELEASED_PARTITIONS", memberEpoch: 11, previousMemberEpoch: 10, assigned: [[T, [0, 1, 2, 4]]], revoking: [] })
    expect(plain(reconcile(next, 11, assignmentOf([[T, [0, 1, 2, 3, 4]]]), free, null))).toEqual({
      state: "STABLE", memberEpoch: 11, previousMemberEpoch: 10, assigned: [[T, [0, 1, 2, 3, 4]]], revoking: []
    })
  })
})
