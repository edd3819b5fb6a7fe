/**
 * The vocabulary of KIP-848 consumer groups between the handlers and the coordinator,
 * independent of protocol versions.
 */

/** Kafka's ConsumerGroup.ConsumerGroupState names, as ListGroups and ConsumerGroupDescribe report them. */
export type ConsumerGroupState = "Empty" | "Assigning" | "Reconciling" | "Stable" | "Dead"

export const CONSUMER_GROUP_TYPE = "consumer"
/** ConsumerProtocol.PROTOCOL_TYPE: what ListGroups reports as a consumer group's protocol type. */
export const CONSUMER_PROTOCOL_TYPE = "consumer"

/** Member epoch of a heartbeat that joins (or rejoins) the group. */
export const JOIN_GROUP_MEMBER_EPOCH = 0
/** Member epoch of a heartbeat that leaves the group. */
export const LEAVE_GROUP_MEMBER_EPOCH = -1
/** Member epoch of a static member that leaves and will come back within the session timeout. */
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2

export interface TopicPartitions {
  readonly topicId: string
  readonly partitions: ReadonlyArray<number>
}

/** What a heartbeat needs of the cluster's topics, by name. */
export interface TopicInfo {
  readonly topicId: string
  readonly numPartitions: number
}

export type TopicLookup = (name: string) => TopicInfo | undefined

export interface ConsumerHeartbeatInput {
  readonly groupId: string
  /** "" on the first heartbeat of a member (v0: the coordinator makes the id). */
  readonly memberId: string
  readonly memberEpoch: number
  readonly instanceId: string | null
  readonly rackId: string | null
  /** -1: unchanged since the last heartbeat. */
  readonly rebalanceTimeoutMs: number
  /** null: unchanged since the last heartbeat. */
  readonly subscribedTopicNames: ReadonlyArray<string> | null
  readonly subscribedTopicRegex: string | null
  /** null: unchanged. */
  readonly serverAssignor: string | null
  /** null: unchanged; otherwise every partition the member owns now. */
  readonly ownedTopicPartitions: ReadonlyArray<TopicPartitions> | null
  readonly clientId: string
  readonly clientHost: string
}

export interface ConsumerHeartbeatResult {
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly memberId: string | null
  readonly memberEpoch: number
  readonly heartbeatIntervalMs: number
  /** null: the member's assignment did not change (and the request was not a full one). */
  readonly assignment: ReadonlyArray<TopicPartitions> | null
}

export interface DescribedConsumerMember {
  readonly memberId: string
  readonly instanceId: string | null
  readonly rackId: string | null
  readonly memberEpoch: number
  readonly clientId: string
  readonly clientHost: string
  readonly subscribedTopicNames: ReadonlyArray<string>
  readonly subscribedTopicRegex: string | null
  readonly assignment: ReadonlyArray<TopicPartitions>
  readonly targetAssignment: ReadonlyArray<TopicPartitions>
}

export interface DescribedConsumerGroup {
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly groupId: string
  readonly state: ConsumerGroupState | ""
  readonly groupEpoch: number
  readonly assignmentEpoch: number
  readonly assignorName: string
  readonly members: ReadonlyArray<DescribedConsumerMember>
}

/** A commit's or fetch's member identity, checked against a consumer group. */
export interface ConsumerOffsetsMember {
  readonly memberId: string | null
  readonly memberEpoch: number
}
