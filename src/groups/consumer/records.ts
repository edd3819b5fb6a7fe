/**
 * KIP-848 consumer group state as Kafka's coordinator records in `__consumer_offsets`
 * (GroupCoordinatorRecordHelpers): the key is `int16 record type` followed by the key
 * message, the value `int16 version` (0) followed by the value message, or null for a
 * tombstone. Record types: 3 ConsumerGroupMetadata (group epoch), 4 PartitionMetadata
 * (subscribed topics), 5 MemberMetadata (subscription), 6 TargetAssignmentMetadata
 * (assignment epoch), 7 TargetAssignmentMember, 8 CurrentMemberAssignment. Pure functions
 * over the generated codecs.
 */
import { Reader, Writer } from "../../protocol/primitives.ts"
import {
  decodeConsumerGroupCurrentMemberAssignmentKey,
  encodeConsumerGroupCurrentMemberAssignmentKey
} from "../../protocol/generated/coordinator/ConsumerGroupCurrentMemberAssignmentKey.ts"
import {
  type ConsumerGroupCurrentMemberAssignmentValue,
  decodeConsumerGroupCurrentMemberAssignmentValue,
  encodeConsumerGroupCurrentMemberAssignmentValue
} from "../../protocol/generated/coordinator/ConsumerGroupCurrentMemberAssignmentValue.ts"
import { decodeConsumerGroupMemberMetadataKey, encodeConsumerGroupMemberMetadataKey } from "../../protocol/generated/coordinator/ConsumerGroupMemberMetadataKey.ts"
import {
  type ConsumerGroupMemberMetadataValue,
  decodeConsumerGroupMemberMetadataValue,
  encodeConsumerGroupMemberMetadataValue
} from "../../protocol/generated/coordinator/ConsumerGroupMemberMetadataValue.ts"
import { decodeConsumerGroupMetadataKey, encodeConsumerGroupMetadataKey } from "../../protocol/generated/coordinator/ConsumerGroupMetadataKey.ts"
import { decodeConsumerGroupMetadataValue, encodeConsumerGroupMetadataValue } from "../../protocol/generated/coordinator/ConsumerGroupMetadataValue.ts"
import {
  decodeConsumerGroupPartitionMetadataKey,
  encodeConsumerGroupPartitionMetadataKey
} from "../../protocol/generated/coordinator/ConsumerGroupPartitionMetadataKey.ts"
import {
  type ConsumerGroupPartitionMetadataValue,
  decodeConsumerGroupPartitionMetadataValue,
  encodeConsumerGroupPartitionMetadataValue
} from "../../protocol/generated/coordinator/ConsumerGroupPartitionMetadataValue.ts"
import {
  decodeConsumerGroupTargetAssignmentMemberKey,
  encodeConsumerGroupTargetAssignmentMemberKey
} from "../../protocol/generated/coordinator/ConsumerGroupTargetAssignmentMemberKey.ts"
import {
  type ConsumerGroupTargetAssignmentMemberValue,
  decodeConsumerGroupTargetAssignmentMemberValue,
  encodeConsumerGroupTargetAssignmentMemberValue
} from "../../protocol/generated/coordinator/ConsumerGroupTargetAssignmentMemberValue.ts"
import {
  decodeConsumerGroupTargetAssignmentMetadataKey,
  encodeConsumerGroupTargetAssignmentMetadataKey
} from "../../protocol/generated/coordinator/ConsumerGroupTargetAssignmentMetadataKey.ts"
import {
  decodeConsumerGroupTargetAssignmentMetadataValue,
  encodeConsumerGroupTargetAssignmentMetadataValue
} from "../../protocol/generated/coordinator/ConsumerGroupTargetAssignmentMetadataValue.ts"
import { type Assignment, assignmentOf, sortedEntries } from "./assignment.ts"
import type { MemberState } from "./reconciliation.ts"
import type { TopicInfo } from "./types.ts"

/** One coordinator record: version-prefixed key and value (null = tombstone). */
export interface ConsumerGroupRecord {
  readonly key: Uint8Array
  readonly value: Uint8Array | null
}

export const CONSUMER_GROUP_RECORD_TYPES = {
  groupMetadata: 3,
  partitionMetadata: 4,
  memberMetadata: 5,
  targetAssignmentMetadata: 6,
  targetAssignmentMember: 7,
  currentMemberAssignment: 8
} as const

const VALUE_VERSION = 0

/** Kafka's MemberState ids. */
const MEMBER_STATE_IDS: Readonly<Record<MemberState, number>> = { STABLE: 0, UNREVOKED_PARTITIONS: 1, UNRELEASED_PARTITIONS: 2, UNKNOWN: 127 }
const memberStateOf = (id: number): MemberState =>
  id === 0 ? "STABLE" : id === 1 ? "UNREVOKED_PARTITIONS" : id === 2 ? "UNRELEASED_PARTITIONS" : "UNKNOWN"

const bytes = (prefix: number, write: (w: Writer) => void): Uint8Array => {
  const w = new Writer(64)
  w.int16(prefix)
  write(w)
  return w.toBytes()
}

const topicPartitions = (a: Assignment) => sortedEntries(a).map(([topicId, partitions]) => ({ topicId, partitions }))

export interface MemberMetadata {
  readonly instanceId: string | null
  readonly rackId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly subscribedTopicNames: ReadonlyArray<string>
  readonly rebalanceTimeoutMs: number
  readonly serverAssignor: string | null
}

export interface CurrentAssignment {
  readonly memberEpoch: number
  readonly previousMemberEpoch: number
  readonly state: MemberState
  readonly assignedPartitions: Assignment
  readonly partitionsPendingRevocation: Assignment
}

const T = CONSUMER_GROUP_RECORD_TYPES

export const groupEpochRecord = (groupId: string, epoch: number | null): ConsumerGroupRecord => ({
  key: bytes(T.groupMetadata, (w) => encodeConsumerGroupMetadataKey(w, T.groupMetadata, { groupId })),
  value: epoch === null ? null : bytes(VALUE_VERSION, (w) => encodeConsumerGroupMetadataValue(w, VALUE_VERSION, { epoch }))
})

export const partitionMetadataRecord = (groupId: string, topics: ReadonlyMap<string, TopicInfo> | null): ConsumerGroupRecord => ({
  key: bytes(T.partitionMetadata, (w) => encodeConsumerGroupPartitionMetadataKey(w, T.partitionMetadata, { groupId })),
  value: topics === null ? null : bytes(VALUE_VERSION, (w) =>
    encodeConsumerGroupPartitionMetadataValue(w, VALUE_VERSION, {
      topics: [...topics].map(([topicName, t]) => ({ topicId: t.topicId, topicName, numPartitions: t.numPartitions, partitionMetadata: [] }))
    }))
})

export const memberMetadataRecord = (groupId: string, memberId: string, m: MemberMetadata | null): ConsumerGroupRecord => ({
  key: bytes(T.memberMetadata, (w) => encodeConsumerGroupMemberMetadataKey(w, T.memberMetadata, { groupId, memberId })),
  value: m === null ? null : bytes(VALUE_VERSION, (w) =>
    encodeConsumerGroupMemberMetadataValue(w, VALUE_VERSION, {
      instanceId: m.instanceId,
      rackId: m.rackId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      subscribedTopicNames: m.subscribedTopicNames,
      subscribedTopicRegex: null,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      serverAssignor: m.serverAssignor,
      classicMemberMetadata: null
    }))
})

export const targetAssignmentEpochRecord = (groupId: string, assignmentEpoch: number | null): ConsumerGroupRecord => ({
  key: bytes(T.targetAssignmentMetadata, (w) => encodeConsumerGroupTargetAssignmentMetadataKey(w, T.targetAssignmentMetadata, { groupId })),
  value: assignmentEpoch === null ? null : bytes(VALUE_VERSION, (w) => encodeConsumerGroupTargetAssignmentMetadataValue(w, VALUE_VERSION, { assignmentEpoch }))
})

export const targetAssignmentRecord = (groupId: string, memberId: string, target: Assignment | null): ConsumerGroupRecord => ({
  key: bytes(T.targetAssignmentMember, (w) => encodeConsumerGroupTargetAssignmentMemberKey(w, T.targetAssignmentMember, { groupId, memberId })),
  value: target === null ? null : bytes(VALUE_VERSION, (w) =>
    encodeConsumerGroupTargetAssignmentMemberValue(w, VALUE_VERSION, { topicPartitions: topicPartitions(target) }))
})

export const currentAssignmentRecord = (groupId: string, memberId: string, c: CurrentAssignment | null): ConsumerGroupRecord => ({
  key: bytes(T.currentMemberAssignment, (w) => encodeConsumerGroupCurrentMemberAssignmentKey(w, T.currentMemberAssignment, { groupId, memberId })),
  value: c === null ? null : bytes(VALUE_VERSION, (w) =>
    encodeConsumerGroupCurrentMemberAssignmentValue(w, VALUE_VERSION, {
      memberEpoch: c.memberEpoch,
      previousMemberEpoch: c.previousMemberEpoch,
      state: MEMBER_STATE_IDS[c.state],
      assignedPartitions: topicPartitions(c.assignedPartitions),
      partitionsPendingRevocation: topicPartitions(c.partitionsPendingRevocation)
    }))
})

export type DecodedConsumerGroupRecord =
  | { readonly _tag: "GroupEpoch"; readonly groupId: string; readonly epoch: number | null }
  | { readonly _tag: "PartitionMetadata"; readonly groupId: string; readonly topics: Map<string, TopicInfo> | null }
  | { readonly _tag: "MemberMetadata"; readonly groupId: string; readonly memberId: string; readonly metadata: MemberMetadata | null }
  | { readonly _tag: "TargetAssignmentEpoch"; readonly groupId: string; readonly assignmentEpoch: number | null }
  | { readonly _tag: "TargetAssignment"; readonly groupId: string; readonly memberId: string; readonly target: Assignment | null }
  | { readonly _tag: "CurrentAssignment"; readonly groupId: string; readonly memberId: string; readonly current: CurrentAssignment | null }

const toAssignment = (tps: ReadonlyArray<{ readonly topicId: string; readonly partitions: ReadonlyArray<number> }>): Assignment =>
  assignmentOf(tps.map((tp) => [tp.topicId, tp.partitions] as const))

/**
 * Decodes a record of types 3 to 8; undefined for any other type (classic group and offset
 * records, share groups). Throws on malformed bytes.
 */
export const decodeConsumerGroupRecord = (record: ConsumerGroupRecord): DecodedConsumerGroupRecord | undefined => {
  if (record.key.length < 2) return undefined
  const keyReader = new Reader(record.key, 0)
  const type = keyReader.int16()
  const value = (): Reader | null => {
    if (record.value === null) return null
    const r = new Reader(record.value, 0)
    r.int16()
    return r
  }
  switch (type) {
    case T.groupMetadata: {
      const k = decodeConsumerGroupMetadataKey(keyReader, type)
      const v = value()
      return { _tag: "GroupEpoch", groupId: k.groupId, epoch: v === null ? null : decodeConsumerGroupMetadataValue(v, VALUE_VERSION).epoch }
    }
    case T.partitionMetadata: {
      const k = decodeConsumerGroupPartitionMetadataKey(keyReader, type)
      const v = value()
      const decoded: ConsumerGroupPartitionMetadataValue | null = v === null ? null : decodeConsumerGroupPartitionMetadataValue(v, VALUE_VERSION)
      return {
        _tag: "PartitionMetadata",
        groupId: k.groupId,
        topics: decoded === null ? null : new Map(decoded.topics.map((t) => [t.topicName, { topicId: t.topicId, numPartitions: t.numPartitions }]))
      }
    }
    case T.memberMetadata: {
      const k = decodeConsumerGroupMemberMetadataKey(keyReader, type)
      const v = value()
      const m: ConsumerGroupMemberMetadataValue | null = v === null ? null : decodeConsumerGroupMemberMetadataValue(v, VALUE_VERSION)
      return {
        _tag: "MemberMetadata",
        groupId: k.groupId,
        memberId: k.memberId,
        metadata: m === null ? null : {
          instanceId: m.instanceId,
          rackId: m.rackId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          subscribedTopicNames: [...m.subscribedTopicNames].sort(),
          rebalanceTimeoutMs: m.rebalanceTimeoutMs,
          serverAssignor: m.serverAssignor
        }
      }
    }
    case T.targetAssignmentMetadata: {
      const k = decodeConsumerGroupTargetAssignmentMetadataKey(keyReader, type)
      const v = value()
      return { _tag: "TargetAssignmentEpoch", groupId: k.groupId, assignmentEpoch: v === null ? null : decodeConsumerGroupTargetAssignmentMetadataValue(v, VALUE_VERSION).assignmentEpoch }
    }
    case T.targetAssignmentMember: {
      const k = decodeConsumerGroupTargetAssignmentMemberKey(keyReader, type)
      const v = value()
      const t: ConsumerGroupTargetAssignmentMemberValue | null = v === null ? null : decodeConsumerGroupTargetAssignmentMemberValue(v, VALUE_VERSION)
      return { _tag: "TargetAssignment", groupId: k.groupId, memberId: k.memberId, target: t === null ? null : toAssignment(t.topicPartitions) }
    }
    case T.currentMemberAssignment: {
      const k = decodeConsumerGroupCurrentMemberAssignmentKey(keyReader, type)
      const v = value()
      const c: ConsumerGroupCurrentMemberAssignmentValue | null = v === null ? null : decodeConsumerGroupCurrentMemberAssignmentValue(v, VALUE_VERSION)
      return {
        _tag: "CurrentAssignment",
        groupId: k.groupId,
        memberId: k.memberId,
        current: c === null ? null : {
          memberEpoch: c.memberEpoch,
          previousMemberEpoch: c.previousMemberEpoch,
          state: memberStateOf(c.state),
          assignedPartitions: toAssignment(c.assignedPartitions),
          partitionsPendingRevocation: toAssignment(c.partitionsPendingRevocation)
        }
      }
    }
    default:
      return undefined
  }
}
