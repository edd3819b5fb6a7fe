/**
 * DescribeTopicPartitions (key 75), version 0 (KIP-966): topic partitions with their
 * eligible leader replicas, paged for clusters with very many partitions. Kafka's admin
 * client (describeTopics) and kafka-topics.sh use it in place of Metadata.
 *
 * As Kafka's DescribeTopicPartitionsRequestHandler and KRaftMetadataCache do:
 * - topics: the requested names (or every topic when the list is empty), deduplicated and
 *   answered in name order, skipping names before the cursor's topic;
 * - a cursor whose topic is not in a non-empty request list, or whose partition index is
 *   negative, makes the request invalid: INVALID_REQUEST for every requested topic;
 * - unknown names get UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION if the name is not
 *   a legal topic name) with the zero topic id; they use none of the partition budget;
 * - at most min(response_partition_limit, 2000) partitions (at least 1) are returned,
 *   starting at the cursor's partition for the cursor's topic; next_cursor names the first
 *   partition not returned (the start of the next topic when a topic ended exactly at the
 *   limit), null when everything was returned;
 * - partitions carry leader (-1 when it is not this node), leader epoch, replicas, isr,
 *   eligible leader replicas and last known ELR from the image, offline replicas empty;
 * - topic authorized operations: Kafka always fills them in for this API (the request has
 *   no flag to ask for them); without an authorizer that is every topic operation.
 */
import { isInternalTopic } from "../coordinator/internal-topics.ts"
import { Effect, Option } from "effect"
import { LogStore, type LogStoreShape } from "../log/LogStore.ts"
import type { PartitionImage, TopicImage } from "../metadata/image.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { DescribeTopicPartitions } from "../protocol/generated/apis/DescribeTopicPartitions.ts"
import type { DescribeTopicPartitionsRequest } from "../protocol/generated/message/DescribeTopicPartitionsRequest.ts"
import type {
  DescribeTopicPartitionsResponseDescribeTopicPartitionsResponsePartitionInit,
  DescribeTopicPartitionsResponseDescribeTopicPartitionsResponseTopicInit,
  DescribeTopicPartitionsResponseInit
} from "../protocol/generated/message/DescribeTopicPartitionsResponse.ts"
import { ZERO_UUID } from "../protocol/primitives.ts"
import { Topics, topicNameError, type TopicsShape } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"
import { TOPIC_AUTHORIZED_OPERATIONS } from "./Metadata.ts"

export const DESCRIBE_TOPIC_PARTITIONS_MIN_VERSION = 0
export const DESCRIBE_TOPIC_PARTITIONS_MAX_VERSION = 0

/** Kafka's max.request.partition.size.limit default: the most partitions one response carries. */
export const MAX_RESPONSE_PARTITIONS = 2000

type TopicResponse = DescribeTopicPartitionsResponseDescribeTopicPartitionsResponseTopicInit
type PartitionResponse = DescribeTopicPartitionsResponseDescribeTopicPartitionsResponsePartitionInit

const NO_REPLICAS: ReadonlyArray<number> = Object.freeze([])

/** `offline`: the partition's log dir failed (no leader, this broker's replica offline), as in Metadata. */
const partitionResponse = (p: PartitionImage, nodeId: number, offline = false): PartitionResponse => ({
  errorCode: offline ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
  partitionIndex: p.partition,
  leaderId: !offline && p.leader === nodeId ? nodeId : -1,
  leaderEpoch: p.leaderEpoch,
  replicaNodes: p.replicas,
  isrNodes: p.isr,
  eligibleLeaderReplicas: p.eligibleLeaderReplicas,
  lastKnownElr: p.lastKnownElr,
  offlineReplicas: offline ? [nodeId] : NO_REPLICAS
})

/** Kafka's DescribeTopicPartitionsRequest.getErrorResponse: the error for every requested topic. */
export const describeTopicPartitionsErrorResponse = (request: DescribeTopicPartitionsRequest, errorCode: number): DescribeTopicPartitionsResponseInit => ({
  throttleTimeMs: 0,
  topics: request.topics.map((t) => ({ errorCode, name: t.name, topicId: ZERO_UUID, isInternal: false, partitions: [] })),
  nextCursor: null
})

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

export const describeTopicPartitions = (topics: TopicsShape, request: DescribeTopicPartitionsRequest, logs?: LogStoreShape): DescribeTopicPartitionsResponseInit => {
  const image = topics.image()
  const anyOffline = logs !== undefined && logs.offlineLogDirs().length > 0
  const nodeId = topics.nodeId
  const cursor = request.cursor
  const cursorTopic = cursor?.topicName ?? ""
  const fetchAll = request.topics.length === 0

  const names = new Set<string>()
  if (fetchAll) {
    for (const name of image.topicsByName.keys()) if (name >= cursorTopic) names.add(name)
  } else {
    for (const t of request.topics) if (t.name >= cursorTopic) names.add(t.name)
    if (cursor !== null && !names.has(cursor.topicName)) return describeTopicPartitionsErrorResponse(request, ErrorCode.INVALID_REQUEST)
  }
  if (cursor !== null && cursor.partitionIndex < 0) return describeTopicPartitionsErrorResponse(request, ErrorCode.INVALID_REQUEST)

  let remaining = Math.max(1, Math.min(MAX_RESPONSE_PARTITIONS, request.responsePartitionLimit))
  const out: Array<TopicResponse> = []
  for (const name of [...names].sort(byName)) {
    if (remaining === 0) {
      // Every partition of the previous topics fitted: the next page starts at this topic.
      return { throttleTimeMs: 0, topics: out, nextCursor: { topicName: name, partitionIndex: 0 } }
    }
    const topic: TopicImage | undefined = image.topicsByName.get(name)
    if (topic === undefined) {
      if (!fetchAll) {
        out.push({
          errorCode: topicNameError(name) === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.INVALID_TOPIC_EXCEPTION,
          name,
          topicId: ZERO_UUID,
          isInternal: false,
          partitions: [],
          topicAuthorizedOperations: TOPIC_AUTHORIZED_OPERATIONS
        })
      }
      continue
    }
    const count = topic.partitions.size
    const start = cursor !== null && name === cursor.topicName ? cursor.partitionIndex : 0
    const end = Math.min(count, start + remaining)
    const partitions: Array<PartitionResponse> = []
    for (let i = start; i < end; i++) {
      const p = topic.partitions.get(i)
      if (p !== undefined) partitions.push(partitionResponse(p, nodeId, anyOffline && logs!.findPartition(name, i)?.isOffline === true))
    }
    out.push({
      errorCode: ErrorCode.NONE,
      name,
      topicId: topic.topicId,
      isInternal: isInternalTopic(name),
      partitions,
      topicAuthorizedOperations: TOPIC_AUTHORIZED_OPERATIONS
    })
    if (end < count) return { throttleTimeMs: 0, topics: out, nextCursor: { topicName: name, partitionIndex: end } }
    remaining -= partitions.length
  }
  return { throttleTimeMs: 0, topics: out, nextCursor: null }
}

export const DescribeTopicPartitionsHandler = defineHandler(DescribeTopicPartitions, {
  minVersion: DESCRIBE_TOPIC_PARTITIONS_MIN_VERSION,
  maxVersion: DESCRIBE_TOPIC_PARTITIONS_MAX_VERSION,
  handle: (request) =>
    Effect.flatMap(Topics, (topics) =>
      Effect.map(Effect.serviceOption(LogStore), (logs) => describeTopicPartitions(topics, request, Option.getOrUndefined(logs)))),
  errorResponse: (request, errorCode) => describeTopicPartitionsErrorResponse(request, errorCode)
})
