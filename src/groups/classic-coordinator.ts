/**
 * Kafka's classic group protocol (the JoinGroup / SyncGroup / Heartbeat / LeaveGroup
 * rebalance protocol, KIP-62, KIP-345, KIP-394) as a synchronous state machine, one per group:
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance ──leader's sync──▶ Stable
 *     ▲                    ▲   │ (no member left)                      │                                 │
 *     └────────────────────┼───┘                                       └── join, leave, expiry ──────────┤
 *                          └───────────────────────────────────────────────────────────────────────────────┘
 *
 * Every operation runs to completion without yielding, so a group is never seen half-changed
 * (Kafka takes the group's lock for the same reason). Requests that must wait (a JoinGroup
 * for the rebalance, a follower's SyncGroup for the leader's assignment) get a Deferred that
 * a later operation or a timer completes. Time and timers come from the environment, which
 * the GroupCoordinator service builds on Effect's Clock, so tests drive them with TestClock.
 *
 * Dead groups are not kept: a group that is Empty, has no members, no pending members and
 * never had offsets committed is dropped at once (Kafka drops it at its next cleanup pass).
 */
import { Deferred, Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import type { GroupMetadataValue, GroupMetadataValueInit } from "../protocol/generated/coordinator/GroupMetadataValue.ts"
import { decodeConsumerProtocolSubscription } from "../protocol/generated/message/ConsumerProtocolSubscription.ts"
import { Reader } from "../protocol/primitives.ts"
import {
  CLASSIC_GROUP_TYPE,
  type CommitOffsetsInput,
  type DescribedGroup,
  type GroupProtocol,
  type GroupState,
  type HeartbeatInput,
  type JoinGroupInput,
  type JoinGroupMember,
  type JoinGroupResult,
  type LeaveGroupResult,
  type LeavingMember,
  type ListedGroup,
  type ListGroupsFilter,
  type SyncGroupInput,
  type SyncGroupResult
} from "./types.ts"

/** Kafka's GroupCoordinator.NewMemberJoinTimeoutMs: how long a new member may wait for its first rebalance. */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 300_000

const EMPTY_BYTES = new Uint8Array(0)

export type Cancel = () => void

export interface CoordinatorEnv {
  /** Milliseconds since the epoch. */
  readonly now: () => number
  /** Runs `action` after `delayMs`, unless cancelled first. */
  readonly schedule: (delayMs: number, action: () => void) => Cancel
  /** A fresh member id for a member whose client id (or group instance id) is `prefix`. */
  readonly newMemberId: (prefix: string) => string
  /**
   * The group's persisted state changed: its GroupMetadata record (null = tombstone) must be
   * written to `__consumer_offsets`, in the order of these calls.
   */
  readonly writeGroup: (groupId: string, value: GroupMetadataValueInit | null) => void
}

/** The protocol type of consumers (ConsumerProtocol.PROTOCOL_TYPE): its metadata names the subscribed topics. */
export const CONSUMER_PROTOCOL_TYPE = "consumer"

/** What offset expiry and OffsetDelete need to know about a group. */
export interface GroupOffsetView {
  readonly state: GroupState
  /** null for a group that only ever had offsets committed (a "simple" group). */
  readonly protocolType: string | null
  /** When the group entered its current state (-1 when unknown, as in old records). */
  readonly currentStateTimestampMs: number
  /** Topics the members subscribe to, when the group is a consumer group whose metadata is readable. */
  readonly subscribedTopics: ReadonlySet<string> | undefined
}

export interface CoordinatorConfig {
  /** group.initial.rebalance.delay.ms */
  readonly initialRebalanceDelayMs: number
  /** group.min.session.timeout.ms */
  readonly minSessionTimeoutMs: number
  /** group.max.session.timeout.ms */
  readonly maxSessionTimeoutMs: number
  /** group.max.size */
  readonly maxSize: number
  /** offset.metadata.max.bytes */
  readonly offsetMetadataMaxBytes: number
}

/** A JoinGroup or SyncGroup answer: either known now, or once the rebalance gets there. */
export type Pending<A> = A | Deferred.Deferred<A>

interface Member {
  memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  rebalanceTimeoutMs: number
  sessionTimeoutMs: number
  protocols: ReadonlyArray<GroupProtocol>
  assignment: Uint8Array
  /** Outstanding JoinGroup requests; non-empty = awaiting join. */
  joinWaiters: Array<Deferred.Deferred<JoinGroupResult>>
  /** Outstanding SyncGroup requests; non-empty = awaiting sync. */
  syncWaiters: Array<Deferred.Deferred<SyncGroupResult>>
  lastHeartbeatMs: number
  /** Joined, but no rebalance has completed with it yet. */
  isNew: boolean
  removed: boolean
  sessionTimer: Cancel | undefined
}

type JoinPhase = "initial" | "normal"

interface Group {
  readonly groupId: string
  state: GroupState
  generationId: number
  protocolType: string | null
  protocolName: string | null
  leaderId: string | null
  /** In join order: the first member is the default leader. */
  readonly members: Map<string, Member>
  /** group.instance.id -> member id */
  readonly staticMembers: Map<string, string>
  /** Member ids handed out with MEMBER_ID_REQUIRED, not joined yet, with their expiry timers. */
  readonly pendingMembers: Map<string, Cancel>
  /** Members of this generation that have not sent SyncGroup yet. */
  readonly pendingSync: Set<string>
  joinPhase: JoinPhase
  joinTimer: Cancel | undefined
  syncTimer: Cancel | undefined
  /** A member joined during the initial delay: the delay is extended (group.initial.rebalance.delay.ms). */
  newMemberAdded: boolean
  /** Offsets were committed for this group, so it is kept when it empties. */
  hasOffsets: boolean
  /** When the group entered its current state. */
  currentStateTimestampMs: number
  /** A GroupMetadata record of this group is in the log (so dropping it needs a tombstone). */
  persisted: boolean
  /** Topics the members subscribe to (consumer protocol), computed when a generation starts. */
  subscribedTopics: ReadonlySet<string> | undefined
}

const completeWith = <A>(deferred: Deferred.Deferred<A>, value: A): void => {
  Deferred.doneUnsafe(deferred, Effect.succeed(value))
}

const ready = <A>(value: A): Deferred.Deferred<A> => {
  const d = Deferred.makeUnsafe<A>()
  completeWith(d, value)
  return d
}

const joinError = (errorCode: number, memberId: string): JoinGroupResult => ({
  errorCode,
  generationId: -1,
  protocolType: null,
  protocolName: null,
  leader: "",
  skipAssignment: false,
  memberId,
  members: []
})

const syncError = (errorCode: number): SyncGroupResult => ({ errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BYTES })

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Same protocols, same order, same metadata: a rejoin that changes nothing. */
const sameProtocols = (a: ReadonlyArray<GroupProtocol>, b: ReadonlyArray<GroupProtocol>): boolean =>
  a.length === b.length && a.every((p, i) => p.name === b[i]!.name && sameBytes(p.metadata, b[i]!.metadata))

const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8")

export class ClassicGroupCoordinator {
  private readonly groups = new Map<string, Group>()
  private readonly env: CoordinatorEnv
  private readonly config: CoordinatorConfig

  constructor(env: CoordinatorEnv, config: CoordinatorConfig) {
    this.env = env
    this.config = config
  }

  // ---------------------------------------------------------------- JoinGroup

  join(input: JoinGroupInput): Pending<JoinGroupResult> {
    if (input.groupId === "") return joinError(ErrorCode.INVALID_GROUP_ID, input.memberId)
    if (input.sessionTimeoutMs < this.config.minSessionTimeoutMs || input.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, input.memberId)
    }
    const isUnknown = input.memberId === ""
    let group = this.groups.get(input.groupId)
    if (group === undefined) {
      // Only a first join creates a group; a member id from elsewhere is not ours.
      if (!isUnknown) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, input.memberId)
      group = this.newGroup(input.groupId)
    }
    if (!this.acceptJoiningMember(group, input.memberId)) {
      // Kafka drops the refused member (a rejoining one too, past the cap) and answers without a member id.
      this.removeRefusedMember(group, input.memberId)
      if (group.state === "PreparingRebalance") this.tryCompleteJoin(group)
      this.maybeDrop(group)
      return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, "")
    }
    const result = isUnknown ? this.joinUnknownMember(group, input) : this.joinKnownMember(group, input)
    if (group.state === "PreparingRebalance") this.tryCompleteJoin(group)
    this.maybeDrop(group)
    return result
  }

  /**
   * group.max.size, as Kafka's acceptJoiningMember counts it: while preparing a rebalance the
   * members already waiting in the join phase count (so a lowered cap shrinks the group by
   * refusing the last members to rejoin); otherwise the members of the group.
   */
  private acceptJoiningMember(group: Group, memberId: string): boolean {
    const member = group.members.get(memberId)
    switch (group.state) {
      case "Empty":
      case "Dead":
        return true
      case "PreparingRebalance": {
        if (member !== undefined && member.joinWaiters.length > 0) return true
        let awaiting = 0
        for (const m of group.members.values()) if (m.joinWaiters.length > 0) awaiting++
        return awaiting < this.config.maxSize
      }
      default:
        return member !== undefined || group.members.size < this.config.maxSize
    }
  }

  private removeRefusedMember(group: Group, memberId: string): void {
    const pending = group.pendingMembers.get(memberId)
    if (pending !== undefined) {
      pending()
      group.pendingMembers.delete(memberId)
    }
    const member = group.members.get(memberId)
    if (member !== undefined) this.removeMember(group, member, ErrorCode.GROUP_MAX_SIZE_REACHED)
  }

  private joinUnknownMember(group: Group, input: JoinGroupInput): Pending<JoinGroupResult> {
    if (!this.supportsProtocols(group, input.protocolType, input.protocols)) {
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, "")
    }
    const memberId = this.env.newMemberId(input.groupInstanceId ?? input.clientId)
    if (input.groupInstanceId !== null) return this.joinStaticMember(group, memberId, input)
    if (input.requireKnownMemberId) {
      // KIP-394: the member learns its id first, so a retried first join does not leave a ghost member behind.
      group.pendingMembers.set(memberId, this.env.schedule(input.sessionTimeoutMs, () => this.expirePending(group, memberId)))
      return joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId)
    }
    return this.addMemberAndRebalance(group, memberId, input)
  }

  private joinKnownMember(group: Group, input: JoinGroupInput): Pending<JoinGroupResult> {
    const { memberId } = input
    if (!this.supportsProtocols(group, input.protocolType, input.protocols)) {
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, memberId)
    }
    const pending = group.pendingMembers.get(memberId)
    if (pending !== undefined) {
      pending()
      group.pendingMembers.delete(memberId)
      return this.addMemberAndRebalance(group, memberId, input)
    }
    const error = this.validateMember(group, memberId, input.groupInstanceId)
    if (error !== ErrorCode.NONE) return joinError(error, memberId)
    const member = group.members.get(memberId)!
    switch (group.state) {
      case "PreparingRebalance":
        return this.updateMemberAndRebalance(group, member, input)
      case "CompletingRebalance":
        // The same join again (its answer was lost): answer it again for the current generation.
        return sameProtocols(member.protocols, input.protocols)
          ? this.currentGeneration(group, member, group.leaderId === memberId)
          : this.updateMemberAndRebalance(group, member, input)
      case "Stable":
        // A follower rejoining unchanged needs nothing; the leader rejoins to pick up metadata changes.
        return group.leaderId === memberId || !sameProtocols(member.protocols, input.protocols)
          ? this.updateMemberAndRebalance(group, member, input)
          : this.currentGeneration(group, member, false)
      default:
        return joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId)
    }
  }

  /**
   * A static member (group.instance.id) joining without a member id. A new instance joins
   * like any member; a known one (a restarted consumer) takes over its old identity: the old
   * member id is fenced (its waiting requests get FENCED_INSTANCE_ID) and, in a Stable group
   * whose selected protocol stays the same, the group keeps its assignment without a
   * rebalance (KIP-345), as Kafka's updateStaticMemberThenRebalanceOrCompleteJoin.
   */
  private joinStaticMember(group: Group, newMemberId: string, input: JoinGroupInput): Pending<JoinGroupResult> {
    const instanceId = input.groupInstanceId!
    const oldMemberId = group.staticMembers.get(instanceId)
    const member = oldMemberId === undefined ? undefined : group.members.get(oldMemberId)
    if (oldMemberId === undefined || member === undefined) return this.addMemberAndRebalance(group, newMemberId, input)

    const leaderBefore = group.leaderId
    for (const d of member.joinWaiters) completeWith(d, joinError(ErrorCode.FENCED_INSTANCE_ID, oldMemberId))
    for (const d of member.syncWaiters) completeWith(d, syncError(ErrorCode.FENCED_INSTANCE_ID))
    member.joinWaiters = []
    member.syncWaiters = []
    // Re-key the member under its new id, keeping its place in the join order.
    const entries = [...group.members].map(([id, m]): [string, Member] => (id === oldMemberId ? [newMemberId, m] : [id, m]))
    group.members.clear()
    for (const [id, m] of entries) group.members.set(id, m)
    member.memberId = newMemberId
    group.staticMembers.set(instanceId, newMemberId)
    if (group.leaderId === oldMemberId) group.leaderId = newMemberId
    if (group.pendingSync.delete(oldMemberId)) group.pendingSync.add(newMemberId)
    member.lastHeartbeatMs = this.env.now()

    switch (group.state) {
      case "Stable": {
        member.protocols = input.protocols
        member.rebalanceTimeoutMs = input.rebalanceTimeoutMs
        member.sessionTimeoutMs = input.sessionTimeoutMs
        if (this.selectProtocol(group) !== group.protocolName) return this.updateMemberAndRebalance(group, member, input)
        // The member id in the group's record changes (Kafka writes the record before answering).
        this.persist(group)
        const isLeader = group.leaderId === newMemberId
        if (input.supportsSkipAssignment) {
          // KIP-814: a returning leader gets the members but must not reassign.
          return { ...this.currentGeneration(group, member, isLeader), skipAssignment: isLeader }
        }
        // Older clients are named the leader as it was before the replacement, so a returning
        // leader does not reassign either.
        return { ...this.currentGeneration(group, member, false), leader: leaderBefore ?? "" }
      }
      case "CompletingRebalance":
        // The leader may already be assigning to the old member id: only a new generation is consistent.
        return this.updateMemberAndRebalance(group, member, input)
      default:
        return this.updateMemberAndRebalance(group, member, input)
    }
  }

  private addMemberAndRebalance(group: Group, memberId: string, input: JoinGroupInput): Deferred.Deferred<JoinGroupResult> {
    const member: Member = {
      memberId,
      groupInstanceId: input.groupInstanceId,
      clientId: input.clientId,
      clientHost: input.clientHost,
      rebalanceTimeoutMs: input.rebalanceTimeoutMs,
      sessionTimeoutMs: input.sessionTimeoutMs,
      protocols: input.protocols,
      assignment: EMPTY_BYTES,
      joinWaiters: [],
      syncWaiters: [],
      lastHeartbeatMs: this.env.now(),
      isNew: true,
      removed: false,
      sessionTimer: undefined
    }
    if (group.state === "PreparingRebalance" && group.generationId === 0) group.newMemberAdded = true
    if (group.members.size === 0) group.protocolType = input.protocolType
    group.members.set(memberId, member)
    if (input.groupInstanceId !== null) group.staticMembers.set(input.groupInstanceId, memberId)
    if (group.leaderId === null) group.leaderId = memberId
    const deferred = Deferred.makeUnsafe<JoinGroupResult>()
    member.joinWaiters.push(deferred)
    this.scheduleSessionCheck(group, member)
    this.maybePrepareRebalance(group)
    return deferred
  }

  private updateMemberAndRebalance(group: Group, member: Member, input: JoinGroupInput): Deferred.Deferred<JoinGroupResult> {
    member.protocols = input.protocols
    member.rebalanceTimeoutMs = input.rebalanceTimeoutMs
    member.sessionTimeoutMs = input.sessionTimeoutMs
    const deferred = Deferred.makeUnsafe<JoinGroupResult>()
    member.joinWaiters.push(deferred)
    this.maybePrepareRebalance(group)
    return deferred
  }

  /** The answer of the generation that is already decided, for a member that asks again. */
  private currentGeneration(group: Group, member: Member, withMembers: boolean): JoinGroupResult {
    member.lastHeartbeatMs = this.env.now()
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? "",
      skipAssignment: false,
      memberId: member.memberId,
      members: withMembers ? this.memberMetadata(group) : []
    }
  }

  /** Empty groups accept any protocol; otherwise the type must match and one protocol must be supported by every member. */
  private supportsProtocols(group: Group, protocolType: string, protocols: ReadonlyArray<GroupProtocol>): boolean {
    if (group.state === "Empty" && group.members.size === 0) return protocolType !== "" && protocols.length > 0
    if (protocolType !== group.protocolType) return false
    const members = [...group.members.values()]
    return protocols.some((p) => members.every((m) => m.protocols.some((mp) => mp.name === p.name)))
  }

  // -------------------------------------------------------------- rebalancing

  private maybePrepareRebalance(group: Group): void {
    if (group.state === "Stable" || group.state === "CompletingRebalance" || group.state === "Empty") this.prepareRebalance(group)
  }

  private prepareRebalance(group: Group): void {
    if (group.state === "CompletingRebalance") {
      // Assignments of the abandoned generation are void: waiting followers must rejoin.
      for (const member of group.members.values()) {
        member.assignment = EMPTY_BYTES
        this.answerSync(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS))
      }
    }
    this.cancelTimer(group, "sync")
    group.pendingSync.clear()
    const wasEmpty = group.state === "Empty"
    this.setState(group, "PreparingRebalance")
    this.cancelTimer(group, "join")
    const rebalanceTimeoutMs = this.rebalanceTimeout(group)
    const delay = this.config.initialRebalanceDelayMs
    if (wasEmpty && delay > 0) {
      // A new group waits group.initial.rebalance.delay.ms for more members before its first
      // generation, so consumers starting together do not cause one rebalance each.
      group.newMemberAdded = false
      this.scheduleInitialJoin(group, delay, Math.max(rebalanceTimeoutMs - delay, 0))
    } else {
      group.joinPhase = "normal"
      group.joinTimer = this.env.schedule(rebalanceTimeoutMs, () => {
        group.joinTimer = undefined
        this.completeJoin(group)
      })
      this.tryCompleteJoin(group)
    }
  }

  /** Kafka's InitialDelayedJoin: extended by another delay while new members keep arriving, within the rebalance timeout. */
  private scheduleInitialJoin(group: Group, delayMs: number, remainingMs: number): void {
    group.joinPhase = "initial"
    group.joinTimer = this.env.schedule(delayMs, () => {
      group.joinTimer = undefined
      if (group.state !== "PreparingRebalance" || group.joinPhase !== "initial") return
      if (group.newMemberAdded && remainingMs > 0) {
        group.newMemberAdded = false
        this.scheduleInitialJoin(group, Math.min(this.config.initialRebalanceDelayMs, remainingMs), Math.max(remainingMs - delayMs, 0))
      } else {
        this.completeJoin(group)
      }
    })
  }

  private rebalanceTimeout(group: Group): number {
    let max = 0
    for (const m of group.members.values()) max = Math.max(max, m.rebalanceTimeoutMs)
    return max
  }

  private allMembersJoined(group: Group): boolean {
    if (group.pendingMembers.size > 0) return false
    for (const m of group.members.values()) if (m.joinWaiters.length === 0) return false
    return true
  }

  private tryCompleteJoin(group: Group): void {
    if (group.state === "PreparingRebalance" && group.joinPhase === "normal" && this.allMembersJoined(group)) this.completeJoin(group)
  }

  /** The join phase ends: members that did not rejoin are out, the next generation starts. */
  private completeJoin(group: Group): void {
    if (group.state !== "PreparingRebalance") return
    this.cancelTimer(group, "join")
    for (const member of [...group.members.values()]) {
      if (member.joinWaiters.length === 0) this.removeMember(group, member, ErrorCode.UNKNOWN_MEMBER_ID)
    }
    group.generationId += 1
    if (group.members.size === 0) {
      group.protocolName = null
      group.leaderId = null
      group.subscribedTopics = group.protocolType === CONSUMER_PROTOCOL_TYPE ? new Set() : undefined
      this.setState(group, "Empty")
      // The empty generation is written so that a restart knows the group emptied (and when).
      if (!this.maybeDrop(group)) this.persist(group)
      return
    }
    group.protocolName = this.selectProtocol(group)
    group.subscribedTopics = this.computeSubscribedTopics(group)
    this.setState(group, "CompletingRebalance")
    const members = this.memberMetadata(group)
    const now = this.env.now()
    for (const member of group.members.values()) {
      const isLeader = member.memberId === group.leaderId
      const result: JoinGroupResult = {
        errorCode: ErrorCode.NONE,
        generationId: group.generationId,
        protocolType: group.protocolType,
        protocolName: group.protocolName,
        leader: group.leaderId ?? "",
        skipAssignment: false,
        memberId: member.memberId,
        members: isLeader ? members : []
      }
      for (const d of member.joinWaiters) completeWith(d, result)
      member.joinWaiters = []
      member.isNew = false
      member.lastHeartbeatMs = now
      group.pendingSync.add(member.memberId)
    }
    // Members that never send SyncGroup (a leader that died after joining) must not stall
    // the others: after the rebalance timeout they are removed and the group rebalances.
    const generation = group.generationId
    group.syncTimer = this.env.schedule(this.rebalanceTimeout(group), () => {
      group.syncTimer = undefined
      if (group.generationId !== generation || (group.state !== "CompletingRebalance" && group.state !== "Stable")) return
      const missing = [...group.pendingSync].map((id) => group.members.get(id)).filter((m): m is Member => m !== undefined)
      group.pendingSync.clear()
      for (const member of missing) this.removeMemberAndUpdateGroup(group, member)
    })
  }

  /** Each member votes for its most preferred protocol that all members support; the most votes win (ties: the leader's preference). */
  private selectProtocol(group: Group): string {
    const members = [...group.members.values()]
    const leader = (group.leaderId !== null ? group.members.get(group.leaderId) : undefined) ?? members[0]!
    const candidates = leader.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)))
    const votes = new Map<string, number>()
    for (const m of members) {
      const vote = m.protocols.find((p) => candidates.includes(p.name))
      if (vote !== undefined) votes.set(vote.name, (votes.get(vote.name) ?? 0) + 1)
    }
    let best = candidates[0]!
    for (const name of candidates) if ((votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name
    return best
  }

  private memberMetadata(group: Group): ReadonlyArray<JoinGroupMember> {
    const protocol = group.protocolName
    return [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY_BYTES
    }))
  }

  // ---------------------------------------------------------------- SyncGroup

  sync(input: SyncGroupInput): Pending<SyncGroupResult> {
    if (input.groupId === "") return syncError(ErrorCode.INVALID_GROUP_ID)
    const group = this.groups.get(input.groupId)
    if (group === undefined) return syncError(ErrorCode.UNKNOWN_MEMBER_ID)
    const error = this.validateMember(group, input.memberId, input.groupInstanceId)
    if (error !== ErrorCode.NONE) return syncError(error)
    if (input.generationId !== group.generationId) return syncError(ErrorCode.ILLEGAL_GENERATION)
    if (
      (input.protocolType !== null && input.protocolType !== group.protocolType) ||
      (input.protocolName !== null && input.protocolName !== group.protocolName)
    ) {
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    }
    const member = group.members.get(input.memberId)!
    switch (group.state) {
      case "PreparingRebalance":
        return syncError(ErrorCode.REBALANCE_IN_PROGRESS)
      case "CompletingRebalance": {
        group.pendingSync.delete(member.memberId)
        const deferred = Deferred.makeUnsafe<SyncGroupResult>()
        member.syncWaiters.push(deferred)
        if (group.leaderId === member.memberId) {
          const assigned = new Map(input.assignments.map((a) => [a.memberId, a.assignment]))
          for (const m of group.members.values()) m.assignment = assigned.get(m.memberId) ?? EMPTY_BYTES
          this.setState(group, "Stable")
          this.persist(group)
          const now = this.env.now()
          for (const m of group.members.values()) {
            if (m.syncWaiters.length > 0) m.lastHeartbeatMs = now
            this.answerSync(m, this.syncResult(group, m))
          }
        }
        return deferred
      }
      case "Stable":
        group.pendingSync.delete(member.memberId)
        member.lastHeartbeatMs = this.env.now()
        return this.syncResult(group, member)
      default:
        return syncError(ErrorCode.UNKNOWN_MEMBER_ID)
    }
  }

  private syncResult(group: Group, member: Member): SyncGroupResult {
    return { errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment }
  }

  private answerSync(member: Member, result: SyncGroupResult): void {
    for (const d of member.syncWaiters) completeWith(d, result)
    member.syncWaiters = []
  }

  // ---------------------------------------------------------------- Heartbeat

  heartbeat(input: HeartbeatInput): number {
    if (input.groupId === "") return ErrorCode.INVALID_GROUP_ID
    const group = this.groups.get(input.groupId)
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
    const error = this.validateMember(group, input.memberId, input.groupInstanceId)
    if (error !== ErrorCode.NONE) return error
    if (input.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION
    const member = group.members.get(input.memberId)!
    switch (group.state) {
      case "CompletingRebalance":
      case "Stable":
        member.lastHeartbeatMs = this.env.now()
        return ErrorCode.NONE
      case "PreparingRebalance":
        member.lastHeartbeatMs = this.env.now()
        return ErrorCode.REBALANCE_IN_PROGRESS
      default:
        return ErrorCode.UNKNOWN_MEMBER_ID
    }
  }

  // --------------------------------------------------------------- LeaveGroup

  leave(groupId: string, leaving: ReadonlyArray<LeavingMember>): LeaveGroupResult {
    if (groupId === "") return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] }
    const group = this.groups.get(groupId)
    const members = leaving.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      errorCode: group === undefined ? ErrorCode.UNKNOWN_MEMBER_ID : this.leaveOne(group, m)
    }))
    if (group !== undefined) this.maybeDrop(group)
    return { errorCode: ErrorCode.NONE, members }
  }

  private leaveOne(group: Group, leaving: LeavingMember): number {
    if (leaving.memberId === "") {
      // A static member named by its instance id alone (an admin removing it).
      const memberId = leaving.groupInstanceId === null ? undefined : group.staticMembers.get(leaving.groupInstanceId)
      const member = memberId === undefined ? undefined : group.members.get(memberId)
      if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
      this.removeMemberAndUpdateGroup(group, member)
      return ErrorCode.NONE
    }
    const pending = group.pendingMembers.get(leaving.memberId)
    if (pending !== undefined) {
      pending()
      group.pendingMembers.delete(leaving.memberId)
      this.tryCompleteJoin(group)
      return ErrorCode.NONE
    }
    const error = this.validateMember(group, leaving.memberId, leaving.groupInstanceId)
    if (error !== ErrorCode.NONE) return error
    this.removeMemberAndUpdateGroup(group, group.members.get(leaving.memberId)!)
    return ErrorCode.NONE
  }

  // ----------------------------------------------------------------- members

  private validateMember(group: Group, memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const current = group.staticMembers.get(groupInstanceId)
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
      if (current !== memberId) return ErrorCode.FENCED_INSTANCE_ID
      return ErrorCode.NONE
    }
    return group.members.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID
  }

  /** Drops a member (its waiting requests get `errorCode`) without touching the group's state. */
  private removeMember(group: Group, member: Member, errorCode: number): void {
    member.removed = true
    member.sessionTimer?.()
    member.sessionTimer = undefined
    for (const d of member.joinWaiters) completeWith(d, joinError(errorCode, member.memberId))
    member.joinWaiters = []
    this.answerSync(member, syncError(errorCode))
    group.members.delete(member.memberId)
    group.pendingSync.delete(member.memberId)
    if (member.groupInstanceId !== null && group.staticMembers.get(member.groupInstanceId) === member.memberId) {
      group.staticMembers.delete(member.groupInstanceId)
    }
    if (group.leaderId === member.memberId) {
      // Prefer a member that is already waiting in the join phase.
      let next: string | null = null
      for (const m of group.members.values()) {
        if (m.joinWaiters.length > 0) {
          next = m.memberId
          break
        }
      }
      group.leaderId = next ?? group.members.keys().next().value ?? null
    }
  }

  /** A member left or expired: the rest of the group must rebalance without it. */
  private removeMemberAndUpdateGroup(group: Group, member: Member): void {
    this.removeMember(group, member, ErrorCode.UNKNOWN_MEMBER_ID)
    switch (group.state) {
      case "Stable":
      case "CompletingRebalance":
        this.prepareRebalance(group)
        break
      case "PreparingRebalance":
        this.tryCompleteJoin(group)
        break
      default:
        break
    }
  }

  /**
   * The session timeout: a member that has not heartbeated (or joined, synced, committed)
   * for session.timeout.ms is removed. Members waiting in a join or sync are alive by
   * definition; a member that joined and never got through its first rebalance goes after
   * NEW_MEMBER_JOIN_TIMEOUT_MS. One timer per member, re-armed lazily: a heartbeat only
   * records its time.
   */
  private scheduleSessionCheck(group: Group, member: Member): void {
    const check = (): void => {
      member.sessionTimer = undefined
      if (member.removed) return
      const now = this.env.now()
      let deadline: number
      if (member.joinWaiters.length > 0) {
        deadline = member.isNew ? member.lastHeartbeatMs + NEW_MEMBER_JOIN_TIMEOUT_MS : now + member.sessionTimeoutMs
      } else if (member.syncWaiters.length > 0) {
        deadline = now + member.sessionTimeoutMs
      } else {
        deadline = member.lastHeartbeatMs + member.sessionTimeoutMs
      }
      if (now >= deadline) {
        this.removeMemberAndUpdateGroup(group, member)
        this.maybeDrop(group)
      } else {
        member.sessionTimer = this.env.schedule(deadline - now, check)
      }
    }
    member.sessionTimer = this.env.schedule(member.isNew ? Math.min(member.sessionTimeoutMs, NEW_MEMBER_JOIN_TIMEOUT_MS) : member.sessionTimeoutMs, check)
  }

  private expirePending(group: Group, memberId: string): void {
    if (!group.pendingMembers.delete(memberId)) return
    this.tryCompleteJoin(group)
    this.maybeDrop(group)
  }

  // ------------------------------------------------------------------ offsets

  /**
   * Whether a commit may be stored, as one error code for all its partitions. A commit with
   * generation -1 comes from outside group management and is accepted while the group has
   * no members (creating a "simple" group if there is none); a member's commit must match
   * its generation, and waits out a rebalance's sync phase with REBALANCE_IN_PROGRESS.
   */
  validateCommit(input: CommitOffsetsInput, transactional = false): number {
    let group = this.groups.get(input.groupId)
    if (group === undefined) {
      if (input.generationId >= 0) {
        return !transactional && input.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION
      }
      group = this.newGroup(input.groupId)
    }
    if (input.generationId < 0 && group.state === "Empty") return ErrorCode.NONE
    if (input.generationId >= 0 || input.memberId !== "" || input.groupInstanceId !== null) {
      const error = this.validateMember(group, input.memberId, input.groupInstanceId)
      if (error !== ErrorCode.NONE) return error
      if (input.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION
    } else if (!transactional) {
      // Without member and generation (old versions) a commit is accepted only while the group is empty;
      // TxnOffsetCommit v0-v2 carry neither, so transactional commits are not held to it.
      return ErrorCode.UNKNOWN_MEMBER_ID
    }
    // The group's state is not enforced for transactional commits.
    if (!transactional && group.state === "CompletingRebalance") return ErrorCode.REBALANCE_IN_PROGRESS
    const member = group.members.get(input.memberId)
    if (member !== undefined) member.lastHeartbeatMs = this.env.now()
    return ErrorCode.NONE
  }

  /** Per-offset checks that do not depend on the group (offset.metadata.max.bytes). */
  offsetError(metadata: string | null): number {
    return metadata !== null && utf8Length(metadata) > this.config.offsetMetadataMaxBytes ? ErrorCode.OFFSET_METADATA_TOO_LARGE : ErrorCode.NONE
  }

  /** Records that offsets are (about to be) stored for the group, which keeps it when it is empty. */
  markOffsets(groupId: string): void {
    const group = this.groups.get(groupId)
    if (group !== undefined) group.hasOffsets = true
  }

  /** Drops a group that validateCommit created if nothing ended up committed. */
  releaseGroup(groupId: string): void {
    const group = this.groups.get(groupId)
    if (group !== undefined) this.maybeDrop(group)
  }

  // --------------------------------------------------------------- namespace

  /** Whether a classic group with this id exists (consumer groups share the id namespace). */
  hasGroup(groupId: string): boolean {
    return this.groups.has(groupId)
  }

  /**
   * Deletes the group if it is Empty with no members (Kafka's maybeDeleteEmptyClassicGroup, when
   * a consumer group takes its id); its committed offsets stay. True when it did or there was none.
   */
  deleteIfEmpty(groupId: string): boolean {
    const group = this.groups.get(groupId)
    if (group === undefined) return true
    if (group.state !== "Empty" || group.members.size > 0 || group.pendingMembers.size > 0) return false
    this.dropGroup(group)
    if (group.persisted) this.env.writeGroup(group.groupId, null)
    return true
  }

  // ---------------------------------------------------------------- describe

  listGroups(filter: ListGroupsFilter): ReadonlyArray<ListedGroup> {
    const states = new Set(filter.states.map((s) => s.toLowerCase()))
    const types = new Set(filter.types.map((t) => t.toLowerCase()))
    if (types.size > 0 && !types.has(CLASSIC_GROUP_TYPE)) return []
    const out: Array<ListedGroup> = []
    for (const group of this.groups.values()) {
      if (states.size > 0 && !states.has(group.state.toLowerCase())) continue
      out.push({ groupId: group.groupId, protocolType: group.protocolType ?? "", state: group.state, groupType: CLASSIC_GROUP_TYPE })
    }
    return out
  }

  describeGroup(groupId: string): DescribedGroup {
    const group = this.groups.get(groupId)
    if (group === undefined) {
      return { errorCode: ErrorCode.NONE, groupId, state: "Dead", protocolType: "", protocolData: "", members: [] }
    }
    const stable = group.state === "Stable"
    const protocol = stable ? group.protocolName ?? "" : ""
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? "",
      protocolData: protocol,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY_BYTES : EMPTY_BYTES,
        assignment: stable ? m.assignment : EMPTY_BYTES
      }))
    }
  }

  /**
   * The service's scope is closing: timers stop, and requests still waiting are answered
   * NOT_COORDINATOR (as Kafka answers them when it unloads a group), so clients look for
   * the coordinator again.
   */
  shutdown(): void {
    for (const group of this.groups.values()) {
      this.cancelTimer(group, "join")
      this.cancelTimer(group, "sync")
      for (const cancel of group.pendingMembers.values()) cancel()
      for (const m of group.members.values()) {
        m.sessionTimer?.()
        m.sessionTimer = undefined
        for (const d of m.joinWaiters) completeWith(d, joinError(ErrorCode.NOT_COORDINATOR, m.memberId))
        m.joinWaiters = []
        this.answerSync(m, syncError(ErrorCode.NOT_COORDINATOR))
      }
    }
  }

  // ------------------------------------------------------------------ groups

  private newGroup(groupId: string): Group {
    const group: Group = {
      groupId,
      state: "Empty",
      generationId: 0,
      protocolType: null,
      protocolName: null,
      leaderId: null,
      members: new Map(),
      staticMembers: new Map(),
      pendingMembers: new Map(),
      pendingSync: new Set(),
      joinPhase: "normal",
      joinTimer: undefined,
      syncTimer: undefined,
      newMemberAdded: false,
      hasOffsets: false,
      currentStateTimestampMs: this.env.now(),
      persisted: false,
      subscribedTopics: undefined
    }
    this.groups.set(groupId, group)
    return group
  }

  /** Drops an empty group that has no offsets; true when it is gone. */
  private maybeDrop(group: Group): boolean {
    if (group.state !== "Empty" || group.members.size > 0 || group.pendingMembers.size > 0 || group.hasOffsets) return false
    if (this.groups.get(group.groupId) !== group) return true
    this.dropGroup(group)
    if (group.persisted) this.env.writeGroup(group.groupId, null)
    return true
  }

  private dropGroup(group: Group): void {
    this.cancelTimer(group, "join")
    this.cancelTimer(group, "sync")
    this.setState(group, "Dead")
    this.groups.delete(group.groupId)
  }

  private setState(group: Group, state: GroupState): void {
    group.state = state
    group.currentStateTimestampMs = this.env.now()
  }

  /** Writes the group's GroupMetadata record as Kafka does: members with their subscription and assignment. */
  private persist(group: Group): void {
    group.persisted = true
    const protocol = group.protocolName
    this.env.writeGroup(group.groupId, {
      protocolType: group.protocolType ?? "",
      generation: group.generationId,
      protocol,
      leader: group.leaderId,
      currentStateTimestamp: BigInt(group.currentStateTimestampMs),
      members: group.state === "Empty" ? [] : [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeout: m.rebalanceTimeoutMs,
        sessionTimeout: m.sessionTimeoutMs,
        subscription: m.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY_BYTES,
        assignment: m.assignment
      }))
    })
  }

  /** Kafka's ClassicGroup.computeSubscribedTopics: undefined unless every member's consumer metadata is readable. */
  private computeSubscribedTopics(group: Group): ReadonlySet<string> | undefined {
    if (group.protocolType !== CONSUMER_PROTOCOL_TYPE) return undefined
    const topics = new Set<string>()
    for (const m of group.members.values()) {
      const metadata = m.protocols.find((p) => p.name === group.protocolName)?.metadata
      if (metadata === undefined) return undefined
      try {
        const r = new Reader(metadata)
        const version = r.int16()
        for (const t of decodeConsumerProtocolSubscription(r, version).topics) topics.add(t)
      } catch {
        return undefined
      }
    }
    return topics
  }

  // ------------------------------------------------------------ persistence

  /**
   * Start-up replay of a GroupMetadata record (null = tombstone), as Kafka's
   * ClassicGroup.fromRecord: a group with members comes back Stable with its generation,
   * leader and assignments; one without is Empty. No timers run until finishReplay.
   */
  replayGroup(groupId: string, value: GroupMetadataValue | null): void {
    const existing = this.groups.get(groupId)
    if (value === null) {
      if (existing !== undefined) this.groups.delete(groupId)
      return
    }
    if (existing !== undefined) this.groups.delete(groupId)
    const group = this.newGroup(groupId)
    group.generationId = value.generation
    group.protocolType = value.protocolType === "" ? null : value.protocolType
    group.protocolName = value.protocol
    group.leaderId = value.leader
    group.persisted = true
    const ts = Number(value.currentStateTimestamp)
    for (const m of value.members) {
      const member: Member = {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeout,
        sessionTimeoutMs: m.sessionTimeout,
        protocols: [{ name: value.protocol ?? "", metadata: m.subscription }],
        assignment: m.assignment,
        joinWaiters: [],
        syncWaiters: [],
        lastHeartbeatMs: 0,
        isNew: false,
        removed: false,
        sessionTimer: undefined
      }
      group.members.set(m.memberId, member)
      if (m.groupInstanceId !== null) group.staticMembers.set(m.groupInstanceId, m.memberId)
    }
    group.state = group.members.size === 0 ? "Empty" : "Stable"
    group.currentStateTimestampMs = ts
  }

  /** The record of `generationId` could not be written: its assignments are void and the group rebalances. */
  generationNotWritten(groupId: string, generationId: number): void {
    const group = this.groups.get(groupId)
    if (group === undefined || group.generationId !== generationId || group.state !== "Stable") return
    for (const m of group.members.values()) m.assignment = EMPTY_BYTES
    this.prepareRebalance(group)
  }

  /** Replay is over: restored members get a fresh session (as Kafka reschedules their heartbeats on load). */
  finishReplay(groupsWithOffsets: ReadonlyArray<string>): void {
    for (const groupId of groupsWithOffsets) {
      const group = this.groups.get(groupId) ?? this.newGroup(groupId)
      group.hasOffsets = true
    }
    const now = this.env.now()
    for (const group of this.groups.values()) {
      group.subscribedTopics = group.members.size === 0
        ? (group.protocolType === CONSUMER_PROTOCOL_TYPE ? new Set() : undefined)
        : this.computeSubscribedTopics(group)
      for (const member of group.members.values()) {
        member.lastHeartbeatMs = now
        this.scheduleSessionCheck(group, member)
      }
    }
    for (const group of [...this.groups.values()]) {
      if (this.maybeDrop(group)) continue
      // group.max.size was lowered since the group formed: rebalance, so that the members
      // past the cap are refused when they rejoin (after committing their offsets).
      if (group.members.size > this.config.maxSize) this.prepareRebalance(group)
    }
  }

  // ------------------------------------------------------------- admin

  /** DeleteGroups' verdict for one group (ClassicGroup.validateDeleteGroup). */
  deleteGroupError(groupId: string): number {
    if (groupId === "") return ErrorCode.INVALID_GROUP_ID
    const group = this.groups.get(groupId)
    if (group === undefined || group.state === "Dead") return ErrorCode.GROUP_ID_NOT_FOUND
    return group.state === "Empty" ? ErrorCode.NONE : ErrorCode.NON_EMPTY_GROUP
  }

  /** Forgets a deleted group (its tombstones are written by the caller). */
  removeGroup(groupId: string): void {
    const group = this.groups.get(groupId)
    if (group === undefined || group.state !== "Empty") return
    for (const cancel of group.pendingMembers.values()) cancel()
    group.pendingMembers.clear()
    this.dropGroup(group)
  }

  /** OffsetDelete's group-level verdict (ClassicGroup.validateOffsetDelete). */
  offsetDeleteError(groupId: string): number {
    if (groupId === "") return ErrorCode.INVALID_GROUP_ID
    const group = this.groups.get(groupId)
    if (group === undefined || group.state === "Dead") return ErrorCode.GROUP_ID_NOT_FOUND
    if (group.state !== "Empty" && group.protocolType !== CONSUMER_PROTOCOL_TYPE) return ErrorCode.NON_EMPTY_GROUP
    return ErrorCode.NONE
  }

  /** What offset expiry and OffsetDelete need to know about a group; undefined when there is none. */
  offsetView(groupId: string): GroupOffsetView | undefined {
    const group = this.groups.get(groupId)
    if (group === undefined) return undefined
    return {
      state: group.state,
      protocolType: group.protocolType,
      currentStateTimestampMs: group.currentStateTimestampMs,
      subscribedTopics: group.subscribedTopics
    }
  }

  /** Every offset of the group is gone (deleted or expired): an empty group goes with them. */
  offsetsGone(groupId: string): boolean {
    const group = this.groups.get(groupId)
    if (group === undefined) return true
    group.hasOffsets = false
    return this.maybeDrop(group)
  }

  /** Group ids, for the periodic offset expiry. */
  groupIds(): ReadonlyArray<string> {
    return [...this.groups.keys()]
  }

  private cancelTimer(group: Group, which: "join" | "sync"): void {
    if (which === "join") {
      group.joinTimer?.()
      group.joinTimer = undefined
    } else {
      group.syncTimer?.()
      group.syncTimer = undefined
    }
  }
}
