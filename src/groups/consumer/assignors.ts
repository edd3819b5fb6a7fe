/**
 * Server-side assignors of KIP-848 consumer groups (Kafka's ConsumerGroupPartitionAssignor):
 * given every member's subscription and current target assignment, the next target
 * assignment. Pure functions; the group coordinator picks one per group by name
 * (`group.consumer.assignors`, the members' `server_assignor`).
 *
 * - `uniform` (UniformAssignor): balance first (member sizes differ by at most one), then
 *   stickiness (a member keeps what it has within its quota). For a homogeneous group this
 *   follows Kafka's UniformHomogeneousAssignmentBuilder step by step. For a heterogeneous
 *   group (members subscribed to different topics) it is a simpler sticky balance than
 *   Kafka's UniformHeterogeneousAssignmentBuilder: keep, fill the least loaded subscriber,
 *   then move partitions from the most to the least loaded subscriber until no move helps.
 * - `range` (RangeAssignor): contiguous ranges per topic in member order (static members by
 *   instance id first, then member ids), co-partitioned when subscriptions and partition
 *   counts agree. Not sticky by design, as Kafka's.
 */
import type { Assignment } from "./assignment.ts"

export type SubscriptionType = "HOMOGENEOUS" | "HETEROGENEOUS"

export interface AssignmentMemberSpec {
  readonly memberId: string
  readonly instanceId: string | null
  readonly rackId: string | null
  /** Ids of the existing topics the member subscribes to. */
  readonly subscribedTopicIds: ReadonlySet<string>
  /** The member's current target assignment (what stickiness keeps). */
  readonly assignment: Assignment
}

export interface GroupSpec {
  /** In the group's member order. */
  readonly members: ReadonlyArray<AssignmentMemberSpec>
  readonly subscriptionType: SubscriptionType
  /** topic id -> partition count, for every subscribed topic that exists. */
  readonly partitionCounts: ReadonlyMap<string, number>
}

/** memberId -> new target assignment; every member of the spec has an entry. */
export type GroupAssignment = Map<string, Assignment>

export interface ConsumerGroupAssignor {
  readonly name: string
  readonly assign: (spec: GroupSpec) => GroupAssignment
}

/** Kafka's ConsumerGroup.subscriptionType: homogeneous when every member subscribes to every subscribed topic. */
export const subscriptionTypeOf = (subscribers: ReadonlyMap<string, number>, numMembers: number): SubscriptionType => {
  for (const count of subscribers.values()) if (count !== numMembers) return "HETEROGENEOUS"
  return "HOMOGENEOUS"
}

const freeze = (m: Map<string, Set<number>>): Assignment => {
  for (const [topicId, partitions] of m) if (partitions.size === 0) m.delete(topicId)
  return m
}

const sortedTopicIds = (ids: Iterable<string>): Array<string> => [...ids].sort()

const addTo = (m: Map<string, Set<number>>, topicId: string, partition: number): void => {
  let set = m.get(topicId)
  if (set === undefined) {
    set = new Set()
    m.set(topicId, set)
  }
  set.add(partition)
}

// ------------------------------------------------------------------ uniform

const uniformHomogeneous = (spec: GroupSpec): GroupAssignment => {
  const out: GroupAssignment = new Map()
  const subscribed = spec.members[0]!.subscribedTopicIds
  const topics = sortedTopicIds([...subscribed].filter((t) => spec.partitionCounts.has(t)))
  if (topics.length === 0) {
    for (const m of spec.members) out.set(m.memberId, new Map())
    return out
  }
  const owned = new Set<string>()
  for (const m of spec.members) {
    for (const [topicId, partitions] of m.assignment) for (const p of partitions) owned.add(`${topicId}:${p}`)
  }
  const unassigned: Array<readonly [string, number]> = []
  let total = 0
  for (const topicId of topics) {
    const count = spec.partitionCounts.get(topicId)!
    for (let p = 0; p < count; p++) if (!owned.has(`${topicId}:${p}`)) unassigned.push([topicId, p])
    total += count
  }
  const minQuota = Math.floor(total / spec.members.length)
  let extra = total % spec.members.length
  const unfilled: Array<{ memberId: string; remaining: number }> = []
  const built = new Map<string, Map<string, Set<number>>>()
  for (const m of spec.members) {
    let quota = minQuota
    if (extra > 0) {
      quota++
      extra--
    }
    const next = new Map<string, Set<number>>()
    for (const topicId of sortedTopicIds(m.assignment.keys())) {
      const count = spec.partitionCounts.get(topicId)
      if (!subscribed.has(topicId) || count === undefined) continue
      for (const p of [...m.assignment.get(topicId)!].sort((a, b) => a - b)) {
        if (p >= count) continue
        if (quota > 0) {
          addTo(next, topicId, p)
          quota--
        } else {
          unassigned.push([topicId, p])
        }
      }
    }
    if (quota > 0) unfilled.push({ memberId: m.memberId, remaining: quota })
    built.set(m.memberId, next)
  }
  let i = 0
  for (const { memberId, remaining } of unfilled) {
    const next = built.get(memberId)!
    for (let k = 0; k < remaining && i < unassigned.length; k++, i++) addTo(next, unassigned[i]![0], unassigned[i]![1])
  }
  for (const m of spec.members) out.set(m.memberId, freeze(built.get(m.memberId)!))
  return out
}

const uniformHeterogeneous = (spec: GroupSpec): GroupAssignment => {
  const built = new Map<string, Map<string, Set<number>>>()
  const counts = new Map<string, number>()
  const taken = new Set<string>()
  for (const m of spec.members) {
    const next = new Map<string, Set<number>>()
    let n = 0
    for (const topicId of sortedTopicIds(m.assignment.keys())) {
      const count = spec.partitionCounts.get(topicId)
      if (!m.subscribedTopicIds.has(topicId) || count === undefined) continue
      for (const p of [...m.assignment.get(topicId)!].sort((a, b) => a - b)) {
        const key = `${topicId}:${p}`
        if (p >= count || taken.has(key)) continue
        taken.add(key)
        addTo(next, topicId, p)
        n++
      }
    }
    built.set(m.memberId, next)
    counts.set(m.memberId, n)
  }
  const subscribersOf = new Map<string, Array<string>>()
  for (const m of spec.members) {
    for (const topicId of m.subscribedTopicIds) {
      if (!spec.partitionCounts.has(topicId)) continue
      let list = subscribersOf.get(topicId)
      if (list === undefined) {
        list = []
        subscribersOf.set(topicId, list)
      }
      list.push(m.memberId)
    }
  }
  // Topics with the fewest subscribers first: they have the least freedom.
  const topics = sortedTopicIds(subscribersOf.keys()).sort((a, b) => subscribersOf.get(a)!.length - subscribersOf.get(b)!.length)
  const leastLoaded = (candidates: ReadonlyArray<string>): string => {
    let best = candidates[0]!
    for (const c of candidates) if (counts.get(c)! < counts.get(best)!) best = c
    return best
  }
  for (const topicId of topics) {
    const count = spec.partitionCounts.get(topicId)!
    for (let p = 0; p < count; p++) {
      if (taken.has(`${topicId}:${p}`)) continue
      const to = leastLoaded(subscribersOf.get(topicId)!)
      addTo(built.get(to)!, topicId, p)
      counts.set(to, counts.get(to)! + 1)
    }
  }
  // Balance: move one partition at a time from a loaded member to a subscriber with at least two fewer.
  let moves = 0
  const maxMoves = [...spec.partitionCounts.values()].reduce((a, b) => a + b, 0) * spec.members.length
  let moved = true
  while (moved && moves < maxMoves) {
    moved = false
    for (const topicId of topics) {
      const subscribers = subscribersOf.get(topicId)!
      const receiver = leastLoaded(subscribers)
      let donor: string | undefined
      for (const s of subscribers) {
        const owns = built.get(s)!.get(topicId)
        if (owns === undefined || owns.size === 0) continue
        if (counts.get(s)! > counts.get(receiver)! + 1 && (donor === undefined || counts.get(s)! > counts.get(donor)!)) donor = s
      }
      if (donor === undefined) continue
      const from = built.get(donor)!.get(topicId)!
      const p = Math.max(...from)
      from.delete(p)
      addTo(built.get(receiver)!, topicId, p)
      counts.set(donor, counts.get(donor)! - 1)
      counts.set(receiver, counts.get(receiver)! + 1)
      moved = true
      moves++
    }
  }
  const out: GroupAssignment = new Map()
  for (const m of spec.members) out.set(m.memberId, freeze(built.get(m.memberId)!))
  return out
}

export const UniformAssignor: ConsumerGroupAssignor = {
  name: "uniform",
  assign: (spec) => {
    if (spec.members.length === 0) return new Map()
    return spec.subscriptionType === "HOMOGENEOUS" ? uniformHomogeneous(spec) : uniformHeterogeneous(spec)
  }
}

// -------------------------------------------------------------------- range

/** Static members first, by instance id; then dynamic members by member id. */
const rangeOrder = (members: ReadonlyArray<AssignmentMemberSpec>): Array<AssignmentMemberSpec> =>
  [...members].sort((a, b) => {
    if (a.instanceId !== null && b.instanceId !== null) return a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0
    if (a.instanceId !== null) return -1
    if (b.instanceId !== null) return 1
    return a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0
  })

export const RangeAssignor: ConsumerGroupAssignor = {
  name: "range",
  assign: (spec) => {
    const out: GroupAssignment = new Map()
    if (spec.members.length === 0) return out
    const ordered = rangeOrder(spec.members)
    const topics = new Map<string, { numPartitions: number; numMembers: number; minQuota: number; extra: number; nextRange: number }>()
    for (const m of ordered) {
      for (const topicId of m.subscribedTopicIds) {
        const numPartitions = spec.partitionCounts.get(topicId)
        if (numPartitions === undefined) continue
        const t = topics.get(topicId)
        if (t === undefined) topics.set(topicId, { numPartitions, numMembers: 1, minQuota: -1, extra: -1, nextRange: 0 })
        else t.numMembers++
      }
    }
    for (const m of ordered) {
      const next = new Map<string, Set<number>>()
      for (const topicId of sortedTopicIds(m.subscribedTopicIds)) {
        const t = topics.get(topicId)
        if (t === undefined) continue
        if (t.minQuota === -1) {
          t.minQuota = Math.floor(t.numPartitions / t.numMembers)
          t.extra = t.numPartitions % t.numMembers
        }
        let quota = t.minQuota
        if (t.extra > 0) {
          quota++
          t.extra--
        }
        const start = t.nextRange
        const end = Math.min(start + quota, t.numPartitions)
        t.nextRange = end
        for (let p = start; p < end; p++) addTo(next, topicId, p)
      }
      out.set(m.memberId, freeze(next))
    }
    return out
  }
}

export const ASSIGNORS: ReadonlyMap<string, ConsumerGroupAssignor> = new Map([
  [UniformAssignor.name, UniformAssignor],
  [RangeAssignor.name, RangeAssignor]
])

/**
 * `group.consumer.assignors` entries are assignor names or, as Kafka's defaults were
 * written before 4.0, their class names.
 */
export const assignorByConfigName = (name: string): ConsumerGroupAssignor | undefined => {
  const trimmed = name.trim()
  const direct = ASSIGNORS.get(trimmed)
  if (direct !== undefined) return direct
  if (trimmed === "org.apache.kafka.coordinator.group.assignor.UniformAssignor") return UniformAssignor
  if (trimmed === "org.apache.kafka.coordinator.group.assignor.RangeAssignor") return RangeAssignor
  return undefined
}
