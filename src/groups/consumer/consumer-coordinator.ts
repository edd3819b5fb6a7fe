/**
 * KIP-848 consumer groups (ConsumerGroupHeartbeat) as Kafka 4.x's GroupMetadataManager runs
 * them, as a synchronous state machine over all consumer groups of this coordinator:
 *
 * 1. a heartbeat creates or updates its member; a changed subscription (or changed topic
 *    metadata: a partition added, a topic created or re-created) bumps the *group epoch*;
 * 2. when the group epoch is ahead of the *assignment epoch*, the group's server-side
 *    assignor computes a new *target assignment* for every member (sticky for `uniform`);
 * 3. the member is reconciled towards its target (reconciliation.ts): partitions are
 *    revoked before they move, and handed to a new owner only once released.
 *
 * Members are fenced (removed, group epoch bumped) when their session expires
 * (group.consumer.session.timeout.ms since the last heartbeat) or when they keep partitions
 * pending revocation past their rebalance timeout. Every operation runs to completion
 * without yielding, as Kafka runs a group's operations one at a time; timers come from the
 * environment (Effect's Clock in the service, TestClock in tests).
 *
 * The state lives in memory here; its shape follows Kafka's ConsumerGroup* coordinator
 * records (member metadata, target assignment, current assignment, group/assignment epochs),
 * so that a store over `__consumer_offsets` can record and replay it.
 */
import { ErrorCode } from "../../protocol/error-codes.ts"
import type { Cancel } from "../classic-coordinator.ts"
import { type Assignment, assignmentOf, EMPTY_ASSIGNMENT, isSubset, sameAssignment, sortedEntries } from "./assignment.ts"
import { type ConsumerGroupAssignor, type GroupSpec, subscriptionTypeOf } from "./assignors.ts"
import { FencedByUnknownState, type MemberState, reconcile, type ReconciledMember } from "./reconciliation.ts"
import {
  type ConsumerGroupRecord,
  currentAssignmentRecord,
  type CurrentAssignment,
  type DecodedConsumerGroupRecord,
  groupEpochRecord,
  type MemberMetadata,
  memberMetadataRecord,
  partitionMetadataRecord,
  targetAssignmentEpochRecord,
  targetAssignmentRecord
} from "./records.ts"
import {
  CONSUMER_GROUP_TYPE,
  CONSUMER_PROTOCOL_TYPE,
  type ConsumerGroupState,
  type ConsumerHeartbeatInput,
  type ConsumerHeartbeatResult,
  type ConsumerOffsetsMember,
  type DescribedConsumerGroup,
  type DescribedConsumerMember,
  JOIN_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_STATIC_MEMBER_EPOCH,
  type TopicInfo,
  type TopicLookup,
  type TopicPartitions
} from "./types.ts"

export interface ConsumerCoordinatorEnv {
  readonly now: () => number
  readonly schedule: (delayMs: number, action: () => void) => Cancel
  /** A fresh member id (Kafka: Uuid.randomUuid().toString()). */
  readonly newMemberUuid: () => string
}

export interface ConsumerCoordinatorConfig {
  /** group.consumer.session.timeout.ms (45000). */
  readonly sessionTimeoutMs: number
  /** group.consumer.heartbeat.interval.ms (5000). */
  readonly heartbeatIntervalMs: number
  /** group.consumer.max.size (Integer.MAX_VALUE). */
  readonly maxSize: number
  /** group.consumer.assignors, in order: the first is the default. */
  readonly assignors: ReadonlyArray<ConsumerGroupAssignor>
  /**
   * Record every change as ConsumerGroup* coordinator records, for `takeRecords` (the
   * coordinator appends them to `__consumer_offsets` before it answers).
   */
  readonly recordChanges?: boolean
}

/** The records of one group's change, in the order Kafka writes them. */
export interface GroupRecords {
  readonly groupId: string
  readonly records: ReadonlyArray<ConsumerGroupRecord>
}

/** What was last recorded of a group, to write only what changed. */
interface RecordedGroup {
  groupEpoch: number
  assignmentEpoch: number
  metadata: string
  readonly members: Map<string, { metadata: string; target: string; current: string }>
}

/** A group being rebuilt from its records at start-up. */
interface LoadingGroup {
  epoch: number | undefined
  assignmentEpoch: number
  metadata: ReadonlyMap<string, TopicInfo>
  readonly metadataOf: Map<string, MemberMetadata>
  readonly targetOf: Map<string, Assignment>
  readonly currentOf: Map<string, CurrentAssignment>
}

/** How the classic side of the coordinator answers for a group id (the two share one namespace). */
export interface ClassicGroups {
  /** Whether a classic group with this id exists. */
  readonly has: (groupId: string) => boolean
  /** Deletes the classic group if it is empty (Kafka: maybeDeleteEmptyClassicGroup); true when it did or there was none. */
  readonly deleteIfEmpty: (groupId: string) => boolean
}

interface Member extends ReconciledMember {
  readonly memberId: string
  readonly instanceId: string | null
  readonly rackId: string | null
  readonly rebalanceTimeoutMs: number
  readonly serverAssignor: string | null
  /** Sorted. */
  readonly subscribedTopicNames: ReadonlyArray<string>
  readonly clientId: string
  readonly clientHost: string
}

interface Group {
  readonly groupId: string
  groupEpoch: number
  assignmentEpoch: number
  /** In join order. */
  readonly members: Map<string, Member>
  /** instance id -> member id */
  readonly staticMembers: Map<string, string>
  readonly targetAssignment: Map<string, Assignment>
  /** topic id -> partition -> epoch of the member holding it (assigned or pending revocation). */
  readonly partitionEpochs: Map<string, Map<number, number>>
  /** topic name -> its id and partition count, for the topics the members subscribe to that exist. */
  subscriptionMetadata: ReadonlyMap<string, TopicInfo>
  readonly sessionTimers: Map<string, Cancel>
  readonly rebalanceTimers: Map<string, Cancel>
}

/** A heartbeat's failure: Kafka's ApiException with its error code and message. */
class HeartbeatError {
  readonly errorCode: number
  readonly message: string
  constructor(errorCode: number, message: string) {
    this.errorCode = errorCode
    this.message = message
  }
}

const fail = (errorCode: number, message: string): never => {
  throw new HeartbeatError(errorCode, message)
}

const isBlank = (s: string | null): boolean => s !== null && s.trim() === ""

const toAssignment = (partitions: ReadonlyArray<TopicPartitions> | null): Assignment | null =>
  partitions === null ? null : assignmentOf(partitions.map((tp) => [tp.topicId, tp.partitions] as const))

const toTopicPartitions = (a: Assignment): Array<TopicPartitions> => sortedEntries(a).map(([topicId, partitions]) => ({ topicId, partitions }))

const sameNames = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => a.length === b.length && a.every((n, i) => n === b[i])

const sameMetadata = (a: ReadonlyMap<string, TopicInfo>, b: ReadonlyMap<string, TopicInfo>): boolean => {
  if (a.size !== b.size) return false
  for (const [name, info] of a) {
    const other = b.get(name)
    if (other === undefined || other.topicId !== info.topicId || other.numPartitions !== info.numPartitions) return false
  }
  return true
}

const isReconciledTo = (m: Member, epoch: number): boolean => m.state === "STABLE" && m.memberEpoch === epoch

export class ConsumerGroupCoordinator {
  private readonly groups = new Map<string, Group>()
  private readonly env: ConsumerCoordinatorEnv
  private readonly config: ConsumerCoordinatorConfig
  private readonly classic: ClassicGroups
  private readonly recorded = new Map<string, RecordedGroup>()
  private pendingRecords: Array<GroupRecords> = []
  private readonly loading = new Map<string, LoadingGroup>()

  constructor(env: ConsumerCoordinatorEnv, config: ConsumerCoordinatorConfig, classic: ClassicGroups) {
    if (config.assignors.length === 0) throw new Error("group.consumer.assignors must name at least one assignor")
    this.env = env
    this.config = config
    this.classic = classic
  }

  // -------------------------------------------------------------- namespace

  has(groupId: string): boolean {
    return this.groups.has(groupId)
  }

  /**
   * A classic JoinGroup for `groupId`: an empty consumer group gives its id up (Kafka deletes
   * it and creates a classic group); a non-empty one answers INCONSISTENT_GROUP_PROTOCOL
   * (Kafka would take the classic member into the consumer group; mixed groups are not run
   * here). NONE when the classic coordinator may go ahead.
   */
  classicJoinError(groupId: string): number {
    const group = this.groups.get(groupId)
    if (group === undefined) return ErrorCode.NONE
    if (group.members.size > 0) return ErrorCode.INCONSISTENT_GROUP_PROTOCOL
    this.deleteGroup(group)
    this.recordChanges(groupId)
    return ErrorCode.NONE
  }

  // ------------------------------------------------------------- heartbeat

  heartbeat(input: ConsumerHeartbeatInput, topics: TopicLookup): ConsumerHeartbeatResult {
    try {
      return this.heartbeatUnrecorded(input, topics)
    } finally {
      this.recordChanges(input.groupId)
    }
  }

  private heartbeatUnrecorded(input: ConsumerHeartbeatInput, topics: TopicLookup): ConsumerHeartbeatResult {
    try {
      this.validateRequest(input)
      if (input.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH || input.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
        return this.leave(input)
      }
      return this.regularHeartbeat(input, topics)
    } catch (e) {
      if (e instanceof HeartbeatError) {
        return { errorCode: e.errorCode, errorMessage: e.message, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null }
      }
      throw e
    }
  }

  private validateRequest(input: ConsumerHeartbeatInput): void {
    if (input.groupId.trim() === "") fail(ErrorCode.INVALID_REQUEST, "GroupId can't be empty.")
    if (isBlank(input.instanceId)) fail(ErrorCode.INVALID_REQUEST, "InstanceId can't be empty.")
    if (isBlank(input.rackId)) fail(ErrorCode.INVALID_REQUEST, "RackId can't be empty.")
    if (input.subscribedTopicRegex !== null) fail(ErrorCode.INVALID_REQUEST, "SubscribedTopicRegex is not supported yet.")
    const epoch = input.memberEpoch
    if (epoch > 0 || epoch === LEAVE_GROUP_MEMBER_EPOCH) {
      if (input.memberId.trim() === "") fail(ErrorCode.INVALID_REQUEST, "MemberId can't be empty.")
    } else if (epoch === JOIN_GROUP_MEMBER_EPOCH) {
      if (input.rebalanceTimeoutMs === -1) fail(ErrorCode.INVALID_REQUEST, "RebalanceTimeoutMs must be provided in first request.")
      if (input.ownedTopicPartitions === null || input.ownedTopicPartitions.length > 0) {
        fail(ErrorCode.INVALID_REQUEST, "TopicPartitions must be empty when (re-)joining.")
      }
      if (input.subscribedTopicNames === null || input.subscribedTopicNames.length === 0) {
        fail(ErrorCode.INVALID_REQUEST, "SubscribedTopicNames must be set in first request.")
      }
    } else if (epoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      if (input.memberId.trim() === "") fail(ErrorCode.INVALID_REQUEST, "MemberId can't be empty.")
      if (input.instanceId === null) fail(ErrorCode.INVALID_REQUEST, "InstanceId can't be null.")
    } else {
      fail(ErrorCode.INVALID_REQUEST, "MemberEpoch is invalid.")
    }
    if (input.serverAssignor !== null && !this.config.assignors.some((a) => a.name === input.serverAssignor)) {
      fail(
        ErrorCode.UNSUPPORTED_ASSIGNOR,
        `ServerAssignor ${input.serverAssignor} is not supported. Supported assignors: ${this.config.assignors.map((a) => a.name).join(", ")}.`
      )
    }
  }

  /** Kafka's getOrMaybeCreateConsumerGroup. */
  private consumerGroup(groupId: string, createIfNotExists: boolean): Group {
    const existing = this.groups.get(groupId)
    if (existing !== undefined) return existing
    if (this.classic.has(groupId) && !(createIfNotExists && this.classic.deleteIfEmpty(groupId))) {
      // A live classic group keeps its id (an online upgrade of a non-empty classic group is not done here).
      return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} is not a consumer group`)
    }
    if (!createIfNotExists) return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${groupId} not found.`)
    const group: Group = {
      groupId,
      groupEpoch: 0,
      assignmentEpoch: 0,
      members: new Map(),
      staticMembers: new Map(),
      targetAssignment: new Map(),
      partitionEpochs: new Map(),
      subscriptionMetadata: new Map(),
      sessionTimers: new Map(),
      rebalanceTimers: new Map()
    }
    this.groups.set(groupId, group)
    return group
  }

  private regularHeartbeat(input: ConsumerHeartbeatInput, topics: TopicLookup): ConsumerHeartbeatResult {
    const createIfNotExists = input.memberEpoch === JOIN_GROUP_MEMBER_EPOCH
    const group = this.consumerGroup(input.groupId, createIfNotExists)
    try {
      return this.heartbeatInGroup(group, input, topics, createIfNotExists)
    } finally {
      // A group created by a heartbeat that failed never existed.
      if (group.members.size === 0 && group.groupEpoch === 0) this.groups.delete(group.groupId)
    }
  }

  private heartbeatInGroup(group: Group, input: ConsumerHeartbeatInput, topics: TopicLookup, createIfNotExists: boolean): ConsumerHeartbeatResult {
    if (group.members.size >= this.config.maxSize && (input.memberId === "" || !group.members.has(input.memberId))) {
      fail(ErrorCode.GROUP_MAX_SIZE_REACHED, `The consumer group has reached its maximum capacity of ${this.config.maxSize} members.`)
    }
    const memberId = input.memberId === "" ? this.env.newMemberUuid() : input.memberId
    const owned = toAssignment(input.ownedTopicPartitions)
    let replaced: Member | undefined
    let member: Member
    if (input.instanceId === null) {
      member = this.getOrCreateMember(group, memberId, createIfNotExists)
      this.checkMemberEpoch(member, input.memberEpoch, owned)
    } else {
      const existing = this.staticMember(group, input.instanceId)
      if (createIfNotExists) {
        if (existing === undefined) {
          member = this.getOrCreateMember(group, memberId, true)
        } else {
          if (existing.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
            fail(
              ErrorCode.UNRELEASED_INSTANCE_ID,
              `Static member ${memberId} with instance id ${input.instanceId} cannot join the group because the instance id is owned by ${existing.memberId} member.`
            )
          }
          // The same instance is back: it takes over the old member's assignment under its new id.
          replaced = existing
          member = { ...existing, memberId, memberEpoch: 0, previousMemberEpoch: 0 }
        }
      } else {
        if (existing === undefined) fail(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${input.instanceId} is unknown.`)
        if (existing!.memberId !== memberId) {
          fail(ErrorCode.FENCED_INSTANCE_ID, `Static member ${memberId} with instance id ${input.instanceId} was fenced by member ${existing!.memberId}.`)
        }
        member = existing!
        this.checkMemberEpoch(member, input.memberEpoch, owned)
      }
    }

    // 1. The member's metadata; a new subscription bumps the group epoch.
    const subscribed = input.subscribedTopicNames === null ? member.subscribedTopicNames : [...new Set(input.subscribedTopicNames)].sort()
    let updated: Member = {
      ...member,
      instanceId: input.instanceId ?? member.instanceId,
      rackId: input.rackId ?? member.rackId,
      rebalanceTimeoutMs: input.rebalanceTimeoutMs === -1 ? member.rebalanceTimeoutMs : input.rebalanceTimeoutMs,
      serverAssignor: input.serverAssignor ?? member.serverAssignor,
      subscribedTopicNames: subscribed,
      clientId: input.clientId,
      clientHost: input.clientHost
    }
    const isNew = !group.members.has(memberId)
    let bumpGroupEpoch = isNew && replaced === undefined ? true : !sameNames(member.subscribedTopicNames, subscribed)
    if (replaced !== undefined) {
      // The new member inherits the old one's target; the old one's timers just find it gone.
      const target = group.targetAssignment.get(replaced.memberId)
      this.removeMember(group, replaced.memberId, false)
      if (target !== undefined) group.targetAssignment.set(memberId, target)
      if (!sameNames(replaced.subscribedTopicNames, subscribed)) bumpGroupEpoch = true
    }
    const members = new Map(group.members)
    members.set(memberId, updated)
    const metadata = this.subscriptionMetadata(members, topics)
    if (!sameMetadata(metadata, group.subscriptionMetadata)) {
      bumpGroupEpoch = true
      group.subscriptionMetadata = metadata
    }
    if (bumpGroupEpoch) group.groupEpoch++
    this.putMember(group, member.memberId === memberId && !isNew ? member : undefined, updated)

    // 2. A new target assignment when the group epoch moved past the assignment epoch.
    if (group.groupEpoch > group.assignmentEpoch) this.updateTargetAssignment(group)
    const target = group.targetAssignment.get(memberId) ?? EMPTY_ASSIGNMENT

    // 3. Reconciliation towards the target.
    if (!isReconciledTo(updated, group.assignmentEpoch)) {
      let next: ReconciledMember
      try {
        next = reconcile(updated, group.assignmentEpoch, target, (topicId, p) => group.partitionEpochs.get(topicId)?.get(p) ?? -1, owned)
      } catch (e) {
        if (e instanceof FencedByUnknownState) {
          return fail(ErrorCode.FENCED_MEMBER_EPOCH, "The consumer group member is in a unknown state. The member must abandon all its partitions and rejoin.")
        }
        throw e
      }
      if (next !== updated) {
        const reconciled: Member = { ...updated, ...next }
        this.putMember(group, updated, reconciled)
        updated = reconciled
        if (updated.state === "UNREVOKED_PARTITIONS") this.scheduleRebalanceTimeout(group, updated)
        else this.cancelTimer(group.rebalanceTimers, memberId)
      }
    }

    this.scheduleSessionTimeout(group, memberId)
    const isFullRequest = input.memberEpoch === 0 ||
      (input.rebalanceTimeoutMs !== -1 && input.subscribedTopicNames !== null && input.ownedTopicPartitions !== null)
    const changed = !sameAssignment(member.assignedPartitions, updated.assignedPartitions)
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: updated.memberId,
      memberEpoch: updated.memberEpoch,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      assignment: isFullRequest || changed || isNew ? toTopicPartitions(updated.assignedPartitions) : null
    }
  }

  private getOrCreateMember(group: Group, memberId: string, createIfNotExists: boolean): Member {
    const existing = group.members.get(memberId)
    if (existing !== undefined) return existing
    if (!createIfNotExists) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${memberId} is not a member of group ${group.groupId}.`)
    return {
      memberId,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: -1,
      serverAssignor: null,
      subscribedTopicNames: [],
      clientId: "",
      clientHost: "",
      state: "STABLE",
      memberEpoch: 0,
      previousMemberEpoch: 0,
      assignedPartitions: EMPTY_ASSIGNMENT,
      partitionsPendingRevocation: EMPTY_ASSIGNMENT
    }
  }

  private staticMember(group: Group, instanceId: string): Member | undefined {
    const memberId = group.staticMembers.get(instanceId)
    return memberId === undefined ? undefined : group.members.get(memberId)
  }

  /** Kafka's throwIfConsumerGroupMemberEpochIsInvalid. */
  private checkMemberEpoch(member: Member, received: number, owned: Assignment | null): void {
    if (received > member.memberEpoch) {
      fail(
        ErrorCode.FENCED_MEMBER_EPOCH,
        `The consumer group member has a greater member epoch (${received}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`
      )
    } else if (received < member.memberEpoch) {
      // The previous epoch with a subset of the assignment: the response that bumped the epoch was lost.
      if (received !== member.previousMemberEpoch || owned === null || !isSubset(owned, member.assignedPartitions)) {
        fail(
          ErrorCode.FENCED_MEMBER_EPOCH,
          `The consumer group member has a smaller member epoch (${received}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`
        )
      }
    }
  }

  private subscriptionMetadata(members: ReadonlyMap<string, Member>, topics: TopicLookup): Map<string, TopicInfo> {
    const names = new Set<string>()
    for (const m of members.values()) for (const n of m.subscribedTopicNames) names.add(n)
    const out = new Map<string, TopicInfo>()
    for (const name of [...names].sort()) {
      const info = topics(name)
      if (info !== undefined && info.numPartitions > 0) out.set(name, { topicId: info.topicId, numPartitions: info.numPartitions })
    }
    return out
  }

  /** Replaces `old` (or adds) in the group, keeping the static-member index and partition epochs in step. */
  private putMember(group: Group, old: Member | undefined, next: Member): void {
    if (old !== undefined) this.setPartitionEpochs(group, old, false)
    group.members.set(next.memberId, next)
    if (next.instanceId !== null) group.staticMembers.set(next.instanceId, next.memberId)
    this.setPartitionEpochs(group, next, true)
  }

  private setPartitionEpochs(group: Group, member: Member, add: boolean): void {
    for (const a of [member.assignedPartitions, member.partitionsPendingRevocation]) {
      for (const [topicId, partitions] of a) {
        let epochs = group.partitionEpochs.get(topicId)
        if (epochs === undefined) {
          if (!add) continue
          epochs = new Map()
          group.partitionEpochs.set(topicId, epochs)
        }
        for (const p of partitions) {
          if (add) epochs.set(p, member.memberEpoch)
          else if (epochs.get(p) === member.memberEpoch) epochs.delete(p)
        }
        if (epochs.size === 0) group.partitionEpochs.delete(topicId)
      }
    }
  }

  /** Kafka's TargetAssignmentBuilder: the group's assignor over every member's subscription. */
  private updateTargetAssignment(group: Group): void {
    const assignor = this.preferredAssignor(group)
    const subscribers = new Map<string, number>()
    const specMembers = [...group.members.values()].map((m) => {
      const ids = new Set<string>()
      for (const name of m.subscribedTopicNames) {
        const info = group.subscriptionMetadata.get(name)
        if (info === undefined) continue
        ids.add(info.topicId)
        subscribers.set(name, (subscribers.get(name) ?? 0) + 1)
      }
      return {
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        subscribedTopicIds: ids,
        assignment: group.targetAssignment.get(m.memberId) ?? EMPTY_ASSIGNMENT
      }
    })
    const spec: GroupSpec = {
      members: specMembers,
      subscriptionType: subscriptionTypeOf(subscribers, group.members.size),
      partitionCounts: new Map([...group.subscriptionMetadata.values()].map((t) => [t.topicId, t.numPartitions]))
    }
    const result = assignor.assign(spec)
    group.targetAssignment.clear()
    for (const m of group.members.values()) group.targetAssignment.set(m.memberId, result.get(m.memberId) ?? EMPTY_ASSIGNMENT)
    group.assignmentEpoch = group.groupEpoch
  }

  /** The assignor most members ask for (Kafka: computePreferredServerAssignor), else the default. */
  private preferredAssignor(group: Group): ConsumerGroupAssignor {
    const counts = new Map<string, number>()
    for (const m of group.members.values()) if (m.serverAssignor !== null) counts.set(m.serverAssignor, (counts.get(m.serverAssignor) ?? 0) + 1)
    let best: ConsumerGroupAssignor = this.config.assignors[0]!
    let bestCount = 0
    for (const a of this.config.assignors) {
      const n = counts.get(a.name) ?? 0
      if (n > bestCount) {
        best = a
        bestCount = n
      }
    }
    return best
  }

  private assignorName(group: Group): string {
    return this.preferredAssignor(group).name
  }

  // ----------------------------------------------------------------- leave

  private leave(input: ConsumerHeartbeatInput): ConsumerHeartbeatResult {
    const group = this.groups.get(input.groupId)
    if (group === undefined) {
      return fail(ErrorCode.GROUP_ID_NOT_FOUND, this.classic.has(input.groupId) ? `Group ${input.groupId} is not a consumer group` : `Consumer group ${input.groupId} not found.`)
    }
    const answer = (memberEpoch: number): ConsumerHeartbeatResult => ({
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: input.memberId,
      memberEpoch,
      heartbeatIntervalMs: 0,
      assignment: null
    })
    if (input.instanceId === null) {
      if (!group.members.has(input.memberId)) fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${input.memberId} is not a member of group ${group.groupId}.`)
      this.fenceMember(group, input.memberId)
      return answer(input.memberEpoch)
    }
    const member = this.staticMember(group, input.instanceId)
    if (member === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${input.instanceId} is unknown.`)
    if (member.memberId !== input.memberId) {
      fail(ErrorCode.FENCED_INSTANCE_ID, `Static member ${input.memberId} with instance id ${input.instanceId} was fenced by member ${member.memberId}.`)
    }
    if (input.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      // A static member that will be back: it keeps its assignment (and its partitions stay
      // with it) until it rejoins or its session expires.
      this.putMember(group, member, { ...member, memberEpoch: LEAVE_GROUP_STATIC_MEMBER_EPOCH, partitionsPendingRevocation: EMPTY_ASSIGNMENT })
      this.cancelTimer(group.rebalanceTimers, member.memberId)
      return { ...answer(LEAVE_GROUP_STATIC_MEMBER_EPOCH), memberId: member.memberId }
    }
    this.fenceMember(group, member.memberId)
    return answer(input.memberEpoch)
  }

  /** Removes a member and bumps the group epoch so the others are reassigned its partitions. */
  private fenceMember(group: Group, memberId: string): void {
    this.removeMember(group, memberId, true)
    group.groupEpoch++
  }

  /** `fenced`: the member is gone for good (not replaced by its static successor). */
  private removeMember(group: Group, memberId: string, fenced: boolean): void {
    const member = group.members.get(memberId)
    if (member === undefined) return
    this.setPartitionEpochs(group, member, false)
    group.members.delete(memberId)
    group.targetAssignment.delete(memberId)
    if (member.instanceId !== null && group.staticMembers.get(member.instanceId) === memberId) group.staticMembers.delete(member.instanceId)
    if (!fenced) return
    // The subscription metadata without the member: a topic nobody subscribes to any more goes.
    const remaining = new Set<string>()
    for (const m of group.members.values()) for (const n of m.subscribedTopicNames) remaining.add(n)
    const metadata = new Map([...group.subscriptionMetadata].filter(([name]) => remaining.has(name)))
    if (metadata.size !== group.subscriptionMetadata.size) group.subscriptionMetadata = metadata
    this.cancelTimer(group.sessionTimers, memberId)
    this.cancelTimer(group.rebalanceTimers, memberId)
  }

  // ----------------------------------------------------------------- timers

  private scheduleSessionTimeout(group: Group, memberId: string): void {
    this.cancelTimer(group.sessionTimers, memberId)
    group.sessionTimers.set(memberId, this.env.schedule(this.config.sessionTimeoutMs, () => {
      group.sessionTimers.delete(memberId)
      if (this.groups.get(group.groupId) === group && group.members.has(memberId)) {
        this.fenceMember(group, memberId)
        this.recordChanges(group.groupId)
      }
    }))
  }

  /** A member must revoke within its rebalance timeout, or it is fenced (Kafka: scheduleConsumerGroupRebalanceTimeout). */
  private scheduleRebalanceTimeout(group: Group, member: Member): void {
    const { memberId, memberEpoch } = member
    this.cancelTimer(group.rebalanceTimers, memberId)
    group.rebalanceTimers.set(memberId, this.env.schedule(Math.max(0, member.rebalanceTimeoutMs), () => {
      group.rebalanceTimers.delete(memberId)
      if (this.groups.get(group.groupId) !== group) return
      const current = group.members.get(memberId)
      if (current !== undefined && current.memberEpoch === memberEpoch) {
        this.fenceMember(group, memberId)
        this.recordChanges(group.groupId)
      }
    }))
  }

  private cancelTimer(timers: Map<string, Cancel>, memberId: string): void {
    timers.get(memberId)?.()
    timers.delete(memberId)
  }

  // ---------------------------------------------------------------- offsets

  /**
   * Kafka's ConsumerGroup.validateOffsetCommit: a commit with member epoch < 0 from outside
   * the group is accepted while the group is empty; a member must commit with its current
   * epoch (STALE_MEMBER_EPOCH otherwise) and, using the consumer protocol, with OffsetCommit v9+.
   */
  validateCommit(groupId: string, memberId: string, memberEpoch: number, apiVersion: number, transactional = false): number {
    const group = this.groups.get(groupId)
    if (group === undefined) return ErrorCode.GROUP_ID_NOT_FOUND
    if (memberEpoch < 0 && group.members.size === 0) return ErrorCode.NONE
    const member = group.members.get(memberId)
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
    if (!transactional && apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION
    return memberEpoch === member.memberEpoch ? ErrorCode.NONE : ErrorCode.STALE_MEMBER_EPOCH
  }

  /** Kafka's ConsumerGroup.validateOffsetFetch: the group-level error of an OffsetFetch. */
  validateFetch(groupId: string, who: ConsumerOffsetsMember): number {
    const group = this.groups.get(groupId)
    if (group === undefined) return ErrorCode.NONE
    if (who.memberId === null && who.memberEpoch < 0) return ErrorCode.NONE
    const member = who.memberId === null ? undefined : group.members.get(who.memberId)
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
    return who.memberEpoch === member.memberEpoch ? ErrorCode.NONE : ErrorCode.STALE_MEMBER_EPOCH
  }

  // --------------------------------------------------------------- describe

  state(groupId: string): ConsumerGroupState {
    const group = this.groups.get(groupId)
    return group === undefined ? "Dead" : this.stateOf(group)
  }

  private stateOf(group: Group): ConsumerGroupState {
    if (group.members.size === 0) return "Empty"
    if (group.groupEpoch > group.assignmentEpoch) return "Assigning"
    for (const m of group.members.values()) if (!isReconciledTo(m, group.assignmentEpoch)) return "Reconciling"
    return "Stable"
  }

  listGroups(): ReadonlyArray<{ readonly groupId: string; readonly protocolType: string; readonly state: ConsumerGroupState; readonly groupType: string }> {
    return [...this.groups.values()].map((g) => ({ groupId: g.groupId, protocolType: CONSUMER_PROTOCOL_TYPE, state: this.stateOf(g), groupType: CONSUMER_GROUP_TYPE }))
  }

  describe(groupId: string): DescribedConsumerGroup {
    const group = this.groups.get(groupId)
    if (group === undefined) {
      return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: null, groupId, state: "", groupEpoch: 0, assignmentEpoch: 0, assignorName: "", members: [] }
    }
    const members: Array<DescribedConsumerMember> = [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      rackId: m.rackId,
      memberEpoch: m.memberEpoch,
      clientId: m.clientId,
      clientHost: m.clientHost,
      subscribedTopicNames: m.subscribedTopicNames,
      subscribedTopicRegex: null,
      assignment: toTopicPartitions(m.assignedPartitions),
      targetAssignment: toTopicPartitions(group.targetAssignment.get(m.memberId) ?? EMPTY_ASSIGNMENT)
    }))
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      groupId,
      state: this.stateOf(group),
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      assignorName: this.assignorName(group),
      members
    }
  }

  /** Topics the group's members subscribe to (OffsetDelete answers GROUP_SUBSCRIBED_TO_TOPIC for them; their offsets do not expire). */
  subscribedTopics(groupId: string): ReadonlySet<string> {
    const out = new Set<string>()
    for (const m of this.groups.get(groupId)?.members.values() ?? []) for (const n of m.subscribedTopicNames) out.add(n)
    return out
  }

  /** DeleteGroups' verdict for a consumer group (ConsumerGroup.validateDeleteGroup). */
  deleteGroupError(groupId: string): number {
    const group = this.groups.get(groupId)
    if (group === undefined) return ErrorCode.GROUP_ID_NOT_FOUND
    return group.members.size === 0 ? ErrorCode.NONE : ErrorCode.NON_EMPTY_GROUP
  }

  /** Deletes an empty group; the tombstones of its records, for the caller to write with its offsets'. */
  deleteEmptyGroup(groupId: string): ReadonlyArray<ConsumerGroupRecord> {
    const group = this.groups.get(groupId)
    if (group === undefined || group.members.size > 0) return []
    this.deleteGroup(group)
    return this.config.recordChanges === true ? this.changesOf(groupId) : []
  }

  /** A member's reconciliation state, for tests and logs. */
  memberState(groupId: string, memberId: string): { readonly state: MemberState; readonly memberEpoch: number } | undefined {
    const m = this.groups.get(groupId)?.members.get(memberId)
    return m === undefined ? undefined : { state: m.state, memberEpoch: m.memberEpoch }
  }

  // ----------------------------------------------------- records and replay

  /** The records of every change since the last call, group by group. */
  takeRecords(): ReadonlyArray<GroupRecords> {
    const out = this.pendingRecords
    this.pendingRecords = []
    return out
  }

  /** Compares the group with what was last recorded of it and records the difference. */
  private recordChanges(groupId: string): void {
    if (this.config.recordChanges !== true) return
    const records = this.changesOf(groupId)
    if (records.length > 0) this.pendingRecords.push({ groupId, records })
  }

  /** The records that bring what was recorded of the group to its current state. */
  private changesOf(groupId: string): Array<ConsumerGroupRecord> {
    const group = this.groups.get(groupId)
    const before = this.recorded.get(groupId)
    const records: Array<ConsumerGroupRecord> = []
    if (group === undefined) {
      if (before === undefined) return records
      // Kafka's ConsumerGroup.createGroupTombstoneRecords.
      for (const memberId of before.members.keys()) records.push(currentAssignmentRecord(groupId, memberId, null))
      for (const memberId of before.members.keys()) records.push(targetAssignmentRecord(groupId, memberId, null))
      records.push(targetAssignmentEpochRecord(groupId, null))
      for (const memberId of before.members.keys()) records.push(memberMetadataRecord(groupId, memberId, null))
      records.push(partitionMetadataRecord(groupId, null))
      records.push(groupEpochRecord(groupId, null))
      this.recorded.delete(groupId)
      return records
    }
    const now: RecordedGroup = {
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      metadata: JSON.stringify([...group.subscriptionMetadata]),
      members: new Map()
    }
    for (const m of group.members.values()) {
      now.members.set(m.memberId, {
        metadata: JSON.stringify([m.instanceId, m.rackId, m.clientId, m.clientHost, m.subscribedTopicNames, m.rebalanceTimeoutMs, m.serverAssignor]),
        target: JSON.stringify(sortedEntries(group.targetAssignment.get(m.memberId) ?? EMPTY_ASSIGNMENT)),
        current: JSON.stringify([m.memberEpoch, m.previousMemberEpoch, m.state, sortedEntries(m.assignedPartitions), sortedEntries(m.partitionsPendingRevocation)])
      })
    }
    const was = before?.members ?? new Map<string, { metadata: string; target: string; current: string }>()
    for (const memberId of was.keys()) {
      if (now.members.has(memberId)) continue
      records.push(currentAssignmentRecord(groupId, memberId, null))
      records.push(targetAssignmentRecord(groupId, memberId, null))
      records.push(memberMetadataRecord(groupId, memberId, null))
    }
    for (const [memberId, n] of now.members) {
      if (was.get(memberId)?.metadata !== n.metadata) records.push(memberMetadataRecord(groupId, memberId, group.members.get(memberId)!))
    }
    if (before?.metadata !== now.metadata) records.push(partitionMetadataRecord(groupId, group.subscriptionMetadata))
    if (before?.groupEpoch !== now.groupEpoch) records.push(groupEpochRecord(groupId, now.groupEpoch))
    for (const [memberId, n] of now.members) {
      if (was.get(memberId)?.target !== n.target) {
        records.push(targetAssignmentRecord(groupId, memberId, group.targetAssignment.get(memberId) ?? EMPTY_ASSIGNMENT))
      }
    }
    if (before?.assignmentEpoch !== now.assignmentEpoch) records.push(targetAssignmentEpochRecord(groupId, now.assignmentEpoch))
    for (const [memberId, n] of now.members) {
      if (was.get(memberId)?.current !== n.current) records.push(currentAssignmentRecord(groupId, memberId, group.members.get(memberId)!))
    }
    this.recorded.set(groupId, now)
    return records
  }

  /**
   * Start-up: one record read back from `__consumer_offsets`, in log order. The latest record
   * of each key wins and a tombstone removes it, so a compacted log replays the same.
   */
  replay(record: DecodedConsumerGroupRecord): void {
    let g = this.loading.get(record.groupId)
    if (g === undefined) {
      g = { epoch: undefined, assignmentEpoch: 0, metadata: new Map(), metadataOf: new Map(), targetOf: new Map(), currentOf: new Map() }
      this.loading.set(record.groupId, g)
    }
    switch (record._tag) {
      case "GroupEpoch":
        if (record.epoch === null) this.loading.delete(record.groupId)
        else g.epoch = record.epoch
        break
      case "PartitionMetadata":
        g.metadata = record.topics ?? new Map()
        break
      case "MemberMetadata":
        if (record.metadata === null) g.metadataOf.delete(record.memberId)
        else g.metadataOf.set(record.memberId, record.metadata)
        break
      case "TargetAssignmentEpoch":
        g.assignmentEpoch = record.assignmentEpoch ?? 0
        break
      case "TargetAssignment":
        if (record.target === null) g.targetOf.delete(record.memberId)
        else g.targetOf.set(record.memberId, record.target)
        break
      case "CurrentAssignment":
        if (record.current === null) g.currentOf.delete(record.memberId)
        else g.currentOf.set(record.memberId, record.current)
        break
    }
  }

  /**
   * Start-up: the replayed groups become live. Every member gets a fresh session (Kafka
   * schedules the session timeouts of loaded members), and members still revoking get
   * their rebalance timeout again.
   */
  finishReplay(): void {
    for (const [groupId, g] of this.loading) {
      if (g.epoch === undefined) continue
      const group: Group = {
        groupId,
        groupEpoch: g.epoch,
        assignmentEpoch: g.assignmentEpoch,
        members: new Map(),
        staticMembers: new Map(),
        targetAssignment: new Map(),
        partitionEpochs: new Map(),
        subscriptionMetadata: g.metadata,
        sessionTimers: new Map(),
        rebalanceTimers: new Map()
      }
      for (const [memberId, metadata] of g.metadataOf) {
        const current = g.currentOf.get(memberId)
        const member: Member = {
          memberId,
          ...metadata,
          state: current?.state ?? "STABLE",
          memberEpoch: current?.memberEpoch ?? 0,
          previousMemberEpoch: current?.previousMemberEpoch ?? 0,
          assignedPartitions: current?.assignedPartitions ?? EMPTY_ASSIGNMENT,
          partitionsPendingRevocation: current?.partitionsPendingRevocation ?? EMPTY_ASSIGNMENT
        }
        this.putMember(group, undefined, member)
        const target = g.targetOf.get(memberId)
        if (target !== undefined) group.targetAssignment.set(memberId, target)
      }
      this.groups.set(groupId, group)
      for (const member of group.members.values()) {
        this.scheduleSessionTimeout(group, member.memberId)
        if (member.state === "UNREVOKED_PARTITIONS") this.scheduleRebalanceTimeout(group, member)
      }
      this.recordChanges(groupId)
    }
    this.loading.clear()
    // What was just read back is what is recorded: nothing to write.
    this.pendingRecords = []
  }

  // ------------------------------------------------------------------ groups

  private deleteGroup(group: Group): void {
    for (const cancel of group.sessionTimers.values()) cancel()
    for (const cancel of group.rebalanceTimers.values()) cancel()
    group.sessionTimers.clear()
    group.rebalanceTimers.clear()
    this.groups.delete(group.groupId)
  }

  /** The service's scope is closing: timers stop. */
  shutdown(): void {
    for (const group of this.groups.values()) {
      for (const cancel of group.sessionTimers.values()) cancel()
      for (const cancel of group.rebalanceTimers.values()) cancel()
      group.sessionTimers.clear()
      group.rebalanceTimers.clear()
    }
  }
}
