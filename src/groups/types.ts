/**
 * The group coordinator's vocabulary: what the group APIs ask of it and what it answers,
 * independent of any protocol version. Handlers translate between these and the wire.
 */
import type { ConsumerGroupState } from "./consumer/types.ts"

/** Kafka's classic group states, with the names DescribeGroups and ListGroups report. */
export type GroupState = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable" | "Dead"

export const GROUP_STATES: ReadonlyArray<GroupState> = ["Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"]

/** The type of groups run by the classic protocol (KIP-848 groups are "consumer"). */
export const CLASSIC_GROUP_TYPE = "classic"

export interface GroupProtocol {
  readonly name: string
  readonly metadata: Uint8Array
}

export interface JoinGroupInput {
  readonly groupId: string
  /** "" for a member's first join. */
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly sessionTimeoutMs: number
  readonly rebalanceTimeoutMs: number
  readonly protocolType: string
  readonly protocols: ReadonlyArray<GroupProtocol>
  /** JoinGroup v4+: a first join gets a member id back with MEMBER_ID_REQUIRED, and joins again with it (KIP-394). */
  readonly requireKnownMemberId: boolean
  /** JoinGroup v9+: a static leader that rejoins without changes is told to skip the assignment (KIP-814). */
  readonly supportsSkipAssignment: boolean
  readonly reason: string | null
}

export interface JoinGroupMember {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly metadata: Uint8Array
}

export interface JoinGroupResult {
  readonly errorCode: number
  readonly generationId: number
  readonly protocolType: string | null
  readonly protocolName: string | null
  readonly leader: string
  readonly skipAssignment: boolean
  readonly memberId: string
  /** Every member with its metadata for the chosen protocol, for the leader only. */
  readonly members: ReadonlyArray<JoinGroupMember>
}

export interface SyncGroupInput {
  readonly groupId: string
  readonly generationId: number
  readonly memberId: string
  readonly groupInstanceId: string | null
  /** SyncGroup v5+: checked against the group's when not null. */
  readonly protocolType: string | null
  readonly protocolName: string | null
  /** The leader's assignment; empty from followers. */
  readonly assignments: ReadonlyArray<{ readonly memberId: string; readonly assignment: Uint8Array }>
}

export interface SyncGroupResult {
  readonly errorCode: number
  readonly protocolType: string | null
  readonly protocolName: string | null
  readonly assignment: Uint8Array
}

export interface HeartbeatInput {
  readonly groupId: string
  readonly generationId: number
  readonly memberId: string
  readonly groupInstanceId: string | null
}

export interface LeavingMember {
  /** "" to name a static member by its group instance id only. */
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly reason: string | null
}

export interface LeaveGroupResult {
  /** Group-level error; members' errors are in `members`. */
  readonly errorCode: number
  readonly members: ReadonlyArray<{ readonly memberId: string; readonly groupInstanceId: string | null; readonly errorCode: number }>
}

export interface OffsetToCommit {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly leaderEpoch: number
  readonly metadata: string | null
  /** OffsetCommit v1 may carry one; -1 means "now". */
  readonly commitTimestampMs: number
  /** OffsetCommit v2-v4 retention_time_ms: the offset expires this long after its commit (-1 = broker's retention). */
  readonly retentionTimeMs?: number
}

export interface CommitOffsetsInput {
  readonly groupId: string
  /** -1 for a commit from outside group management (admin tools, manual assignment). */
  readonly generationId: number
  readonly memberId: string
  readonly groupInstanceId: string | null
  /** The OffsetCommit version: v9+ answers GROUP_ID_NOT_FOUND where older ones get ILLEGAL_GENERATION. */
  readonly apiVersion: number
  readonly offsets: ReadonlyArray<OffsetToCommit>
}

/** One error code per offset of the input, in order. */
export type CommitOffsetsResult = ReadonlyArray<number>

export interface FetchOffsetsTopic {
  readonly topic: string
  readonly partitions: ReadonlyArray<number>
}

export interface FetchedOffset {
  readonly partition: number
  /** -1 when nothing was committed. */
  readonly offset: bigint
  readonly leaderEpoch: number
  readonly metadata: string
  readonly errorCode: number
}

export interface FetchOffsetsResult {
  readonly errorCode: number
  readonly topics: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<FetchedOffset> }>
}

export interface ListGroupsFilter {
  /** Case-insensitive state names; empty = all. */
  readonly states: ReadonlyArray<string>
  /** Case-insensitive group types; empty = all. */
  readonly types: ReadonlyArray<string>
}

export interface ListedGroup {
  readonly groupId: string
  readonly protocolType: string
  /** A classic group's state, or a KIP-848 consumer group's (Assigning, Reconciling...). */
  readonly state: GroupState | ConsumerGroupState
  readonly groupType: string
}

export interface DescribedMember {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly metadata: Uint8Array
  readonly assignment: Uint8Array
}

export interface DescribedGroup {
  readonly errorCode: number
  readonly groupId: string
  readonly state: GroupState
  readonly protocolType: string
  /** The chosen protocol while Stable, else "". */
  readonly protocolData: string
  readonly members: ReadonlyArray<DescribedMember>
}

export interface TxnCommitOffsetsInput extends CommitOffsetsInput {
  readonly transactionalId: string
  readonly producerId: number
  readonly producerEpoch: number
}

export interface DeleteGroupResult {
  readonly groupId: string
  readonly errorCode: number
}

export interface DeleteOffsetsResult {
  /** Group-level error (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP...); partitions are then not answered. */
  readonly errorCode: number
  /** One code per requested partition, in request order (GROUP_SUBSCRIBED_TO_TOPIC where the group consumes the topic). */
  readonly partitions: ReadonlyArray<number>
}
