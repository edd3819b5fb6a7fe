/**
 * The server-side assignors as pure functions: balance, stickiness and co-partitioning,
 * with the cases Kafka's UniformAssignorTest / RangeAssignorTest pin down.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { type Assignment, assignmentOf, partitionCount, sortedEntries } from "../../../src/groups/consumer/assignment.ts"
import {
  type AssignmentMemberSpec,
  type GroupSpec,
  RangeAssignor,
  subscriptionTypeOf,
  UniformAssignor
} from "../../../src/groups/consumer/assignors.ts"

const T1 = "topic1-id"
const T2 = "topic2-id"
const T3 = "topic3-id"

const member = (memberId: string, topics: ReadonlyArray<string>, assignment: Assignment = new Map(), instanceId: string | null = null): AssignmentMemberSpec => ({
  memberId,
  instanceId,
  rackId: null,
  subscribedTopicIds: new Set(topics),
  assignment
})

const spec = (members: ReadonlyArray<AssignmentMemberSpec>, partitionCounts: Record<string, number>): GroupSpec => {
  const subscribers = new Map<string, number>()
  for (const m of members) for (const t of m.subscribedTopicIds) subscribers.set(t, (subscribers.get(t) ?? 0) + 1)
  return { members, subscriptionType: subscriptionTypeOf(subscribers, members.length), partitionCounts: new Map(Object.entries(partitionCounts)) }
}

const plain = (result: Map<string, Assignment>) =>
  Object.fromEntries([...result].map(([id, a]) => [id, Object.fromEntries(sortedEntries(a))]))

/** Every partition of the subscribed topics is assigned to exactly one member subscribed to it. */
const expectComplete = (s: GroupSpec, result: Map<string, Assignment>) => {
  const owner = new Map<string, string>()
  for (const [memberId, a] of result) {
    const m = s.members.find((x) => x.memberId === memberId)!
    for (const [topicId, partitions] of a) {
      expect(m.subscribedTopicIds.has(topicId)).toBe(true)
      for (const p of partitions) {
        const key = `${topicId}:${p}`
        expect(owner.has(key), `${key} assigned twice`).toBe(false)
        owner.set(key, memberId)
      }
    }
  }
  const subscribed = new Set(s.members.flatMap((m) => [...m.subscribedTopicIds]))
  let expected = 0
  for (const t of subscribed) expected += s.partitionCounts.get(t) ?? 0
  expect(owner.size).toBe(expected)
}

describe("uniform assignor, homogeneous group", () => {
  it("spreads partitions evenly over new members", () => {
    const s = spec([member("A", [T1, T3]), member("B", [T1, T3])], { [T1]: 3, [T3]: 2 })
    const result = UniformAssignor.assign(s)
    expectComplete(s, result)
    expect([...result.values()].map(partitionCount).sort()).toEqual([2, 3])
  })

  it("keeps what each member has within its quota and moves only the excess", () => {
    const s = spec(
      [
        member("A", [T1, T2], assignmentOf([[T1, [0, 1, 2]], [T2, [0, 1, 2]]])),
        member("B", [T1, T2], assignmentOf([[T1, [3, 4, 5]], [T2, [3, 4, 5]]])),
        member("C", [T1, T2])
      ],
      { [T1]: 6, [T2]: 6 }
    )
    const result = UniformAssignor.assign(s)
    expectComplete(s, result)
    expect([...result.values()].map(partitionCount)).toEqual([4, 4, 4])
    // A and B lost two partitions each and kept the rest.
    for (const [id, before] of [["A", s.members[0]!.assignment], ["B", s.members[1]!.assignment]] as const) {
      let kept = 0
      for (const [t, ps] of result.get(id)!) for (const p of ps) if (before.get(t)?.has(p)) kept++
      expect(kept).toBe(4)
    }
  })

  it("gives everything back to the remaining member when one leaves, moving nothing it had", () => {
    const s = spec([member("A", [T1], assignmentOf([[T1, [0, 2, 4]]]))], { [T1]: 6 })
    expect(plain(UniformAssignor.assign(s))).toEqual({ A: { [T1]: [0, 1, 2, 3, 4, 5] } })
  })

  it("drops partitions of topics the group no longer subscribes to", () => {
    const s = spec([member("A", [T2], assignmentOf([[T1, [0, 1]], [T2, [0]]]))], { [T1]: 2, [T2]: 2 })
    expect(plain(UniformAssignor.assign(s))).toEqual({ A: { [T2]: [0, 1] } })
  })

  it("leaves members without partitions when there are fewer partitions than members", () => {
    const s = spec([member("A", [T1]), member("B", [T1]), member("C", [T1])], { [T1]: 2 })
    const result = UniformAssignor.assign(s)
    expectComplete(s, result)
    expect([...result.values()].map(partitionCount).sort()).toEqual([0, 1, 1])
  })

  it("is balanced and complete for any sizes and any previous assignment (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 1000 }), (members, partitions, seed) => {
        const previous = Array.from({ length: members }, () => new Map<string, Set<number>>())
        for (let p = 0; p < partitions; p++) {
          const owner = (seed * 31 + p * 7) % (members + 1)
          if (owner < members) previous[owner]!.set(T1, (previous[owner]!.get(T1) ?? new Set()).add(p))
        }
        const s = spec(previous.map((a, i) => member(`m${i}`, [T1], a)), { [T1]: partitions })
        const result = UniformAssignor.assign(s)
        expectComplete(s, result)
        const sizes = [...result.values()].map(partitionCount)
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
      })
    )
  })
})

describe("uniform assignor, heterogeneous group", () => {
  it("assigns each topic only to its subscribers and balances where subscriptions allow", () => {
    const s = spec([member("A", [T1]), member("B", [T1, T2]), member("C", [T2])], { [T1]: 4, [T2]: 4 })
    const result = UniformAssignor.assign(s)
    expectComplete(s, result)
    expect([...result.values()].map(partitionCount).sort()).toEqual([2, 3, 3].sort())
  })

  it("is sticky: members keep what they have, and only the overloaded member gives partitions up", () => {
    const s = spec(
      [member("A", [T1], assignmentOf([[T1, [0, 1]]])), member("B", [T1, T2], assignmentOf([[T1, [2, 3]], [T2, [0, 1, 2, 3]]])), member("C", [T2])],
      { [T1]: 4, [T2]: 4 }
    )
    const result = UniformAssignor.assign(s)
    expectComplete(s, result)
    for (const p of [0, 1]) expect(result.get("A")!.get(T1)!.has(p)).toBe(true)
    expect([...result.values()].map(partitionCount).sort()).toEqual([2, 3, 3])
    // B kept 3 of its 6; everything else it had went to a subscriber that needed it.
    let kept = 0
    for (const [t, ps] of result.get("B")!) for (const p of ps) if (s.members[1]!.assignment.get(t)?.has(p)) kept++
    expect(kept).toBe(partitionCount(result.get("B")!))
  })
})

describe("range assignor", () => {
  it("co-partitions when every member subscribes to the same topics with equal partition counts", () => {
    const s = spec([member("A", [T1, T2]), member("B", [T1, T2])], { [T1]: 3, [T2]: 3 })
    expect(plain(RangeAssignor.assign(s))).toEqual({ A: { [T1]: [0, 1], [T2]: [0, 1] }, B: { [T1]: [2], [T2]: [2] } })
  })

  it("orders static members by instance id before dynamic members", () => {
    const s = spec([member("A", [T1]), member("B", [T1], new Map(), "i2"), member("C", [T1], new Map(), "i1")], { [T1]: 3 })
    expect(plain(RangeAssignor.assign(s))).toEqual({ C: { [T1]: [0] }, B: { [T1]: [1] }, A: { [T1]: [2] } })
  })

  it("splits each topic over its own subscribers in a heterogeneous group", () => {
    const s = spec([member("A", [T1, T2]), member("B", [T1]), member("C", [T2, T3])], { [T1]: 3, [T2]: 2, [T3]: 1 })
    const result = RangeAssignor.assign(s)
    expectComplete(s, result)
    expect(plain(result)).toEqual({ A: { [T1]: [0, 1], [T2]: [0] }, B: { [T1]: [2] }, C: { [T2]: [1], [T3]: [0] } })
  })
})
