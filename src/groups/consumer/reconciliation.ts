/**
 * KIP-848's reconciliation of one member towards its target assignment (Kafka's
 * CurrentAssignmentBuilder). The rules that keep two members from ever owning one partition:
 *
 * - partitions the target takes away are first *pending revocation*: the member keeps its
 *   epoch and stays in UNREVOKED_PARTITIONS until a heartbeat no longer lists them as owned;
 * - partitions the target adds are given only when no other member still holds them (their
 *   "partition epoch" is -1); the others wait in UNRELEASED_PARTITIONS and are handed out on
 *   a later heartbeat, once the previous owner revoked them;
 * - the member moves to the target epoch as soon as nothing is left to revoke.
 */
import type { Assignment } from "./assignment.ts"

export type MemberState = "STABLE" | "UNREVOKED_PARTITIONS" | "UNRELEASED_PARTITIONS" | "UNKNOWN"

/** What reconciliation reads and writes of a member. */
export interface ReconciledMember {
  readonly state: MemberState
  readonly memberEpoch: number
  readonly previousMemberEpoch: number
  readonly assignedPartitions: Assignment
  readonly partitionsPendingRevocation: Assignment
}

export class FencedByUnknownState extends Error {}

/** The epoch of the member currently holding a partition, or -1 when it is free. */
export type PartitionEpochOf = (topicId: string, partition: number) => number

/** True when `owned` (null: not reported) still contains any of `pending`. */
const ownsRevokedPartitions = (owned: Assignment | null, pending: Assignment): boolean => {
  if (owned === null) return true
  for (const [topicId, partitions] of owned) {
    const revoking = pending.get(topicId)
    if (revoking === undefined) continue
    for (const p of partitions) if (revoking.has(p)) return true
  }
  return false
}

const withEpoch = (member: ReconciledMember, epoch: number) =>
  epoch === member.memberEpoch
    ? { memberEpoch: member.memberEpoch, previousMemberEpoch: member.previousMemberEpoch }
    : { memberEpoch: epoch, previousMemberEpoch: member.memberEpoch }

const computeNext = (
  member: ReconciledMember,
  memberEpoch: number,
  targetEpoch: number,
  target: Assignment,
  partitionEpochOf: PartitionEpochOf,
  owned: Assignment | null
): ReconciledMember => {
  let hasUnreleased = false
  const assigned = new Map<string, Set<number>>()
  const pendingRevocation = new Map<string, Set<number>>()
  const pendingAssignment = new Map<string, Set<number>>()
  const topicIds = new Set([...target.keys(), ...member.assignedPartitions.keys()])
  for (const topicId of topicIds) {
    const targetPartitions = target.get(topicId) ?? new Set<number>()
    const current = member.assignedPartitions.get(topicId) ?? new Set<number>()
    const keep = new Set([...current].filter((p) => targetPartitions.has(p)))
    const revoke = new Set([...current].filter((p) => !keep.has(p)))
    const add = new Set<number>()
    for (const p of targetPartitions) {
      if (keep.has(p)) continue
      if (partitionEpochOf(topicId, p) !== -1) hasUnreleased = true
      else add.add(p)
    }
    if (keep.size > 0) assigned.set(topicId, keep)
    if (revoke.size > 0) pendingRevocation.set(topicId, revoke)
    if (add.size > 0) pendingAssignment.set(topicId, add)
  }
  if (pendingRevocation.size > 0 && ownsRevokedPartitions(owned, pendingRevocation)) {
    return { state: "UNREVOKED_PARTITIONS", ...withEpoch(member, memberEpoch), assignedPartitions: assigned, partitionsPendingRevocation: pendingRevocation }
  }
  for (const [topicId, partitions] of pendingAssignment) {
    const set = assigned.get(topicId)
    if (set === undefined) assigned.set(topicId, partitions)
    else for (const p of partitions) set.add(p)
  }
  return {
    state: hasUnreleased ? "UNRELEASED_PARTITIONS" : "STABLE",
    ...withEpoch(member, targetEpoch),
    assignedPartitions: assigned,
    partitionsPendingRevocation: new Map()
  }
}

/**
 * The member's next assignment state, or the member itself when it cannot move yet.
 * `owned` is what the heartbeat reported (null when the heartbeat omitted it).
 */
export const reconcile = (
  member: ReconciledMember,
  targetEpoch: number,
  target: Assignment,
  partitionEpochOf: PartitionEpochOf,
  owned: Assignment | null
): ReconciledMember => {
  switch (member.state) {
    case "STABLE":
      return member.memberEpoch !== targetEpoch
        ? computeNext(member, member.memberEpoch, targetEpoch, target, partitionEpochOf, owned)
        : member
    case "UNREVOKED_PARTITIONS":
      if (ownsRevokedPartitions(owned, member.partitionsPendingRevocation)) return member
      return computeNext(member, member.memberEpoch + 1, targetEpoch, target, partitionEpochOf, owned)
    case "UNRELEASED_PARTITIONS":
      return computeNext(member, member.memberEpoch, targetEpoch, target, partitionEpochOf, owned)
    case "UNKNOWN":
      if (owned === null || owned.size > 0) throw new FencedByUnknownState()
      return computeNext(member, targetEpoch, targetEpoch, target, partitionEpochOf, owned)
  }
}
