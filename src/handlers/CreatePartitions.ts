/**
 * CreatePartitions (key 37), versions 0-3: raises topics' partition counts.
 *
 * Every topic name of the request gets exactly one result, in request order, and is handled on
 * its own through Topics.createPartitions, as Kafka's controller does:
 * - a name given more than once: one INVALID_REQUEST result ("Duplicate topic name."), no change;
 * - unknown topic: UNKNOWN_TOPIC_OR_PARTITION;
 * - a count not above the current one: INVALID_PARTITIONS;
 * - explicit assignments (one per new partition) must each be exactly this node, the only
 *   broker: otherwise INVALID_REPLICA_ASSIGNMENT;
 * - validate_only: checked, nothing changed.
 * Results carry an error message, null on success.
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { CreatePartitions } from "../protocol/generated/apis/CreatePartitions.ts"
import type { CreatePartitionsRequest, CreatePartitionsRequestCreatePartitionsTopic } from "../protocol/generated/message/CreatePartitionsRequest.ts"
import type {
  CreatePartitionsResponseCreatePartitionsTopicResultInit,
  CreatePartitionsResponseInit
} from "../protocol/generated/message/CreatePartitionsResponse.ts"
import { MAX_RECORDS_PER_USER_OP, type TopicAdminError, Topics, type TopicsShape } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"
import { perDistinctTopic } from "./per-topic.ts"

export const CREATE_PARTITIONS_MIN_VERSION = 0
export const CREATE_PARTITIONS_MAX_VERSION = 3

type TopicResult = CreatePartitionsResponseCreatePartitionsTopicResultInit

const result = (name: string, errorCode: number, errorMessage: string | null): TopicResult => ({ name, errorCode, errorMessage })

/** Kafka's CreatePartitionsRequest.getErrorResponse: the error for every topic. */
export const createPartitionsErrorResponse = (request: CreatePartitionsRequest, errorCode: number): CreatePartitionsResponseInit => ({
  throttleTimeMs: 0,
  results: request.topics.map((t) => result(t.name, errorCode, null))
})

/** Why explicit assignments for the new partitions cannot be used, if they cannot. */
const assignmentError = (t: CreatePartitionsRequestCreatePartitionsTopic, current: number, nodeId: number): string | undefined => {
  if (t.assignments === null || t.count <= current) return undefined
  const added = t.count - current
  if (t.assignments.length !== added) {
    return `Attempted to add ${added} additional partition(s), but only ${t.assignments.length} assignment(s) were specified.`
  }
  for (const a of t.assignments) {
    if (a.brokerIds.length !== 1 || a.brokerIds[0] !== nodeId) {
      return `The manual partition assignment ${JSON.stringify(a.brokerIds)} is not this single broker (node ${nodeId}).`
    }
  }
  return undefined
}

const createOne = (topics: TopicsShape, t: CreatePartitionsRequestCreatePartitionsTopic, validateOnly: boolean): Effect.Effect<TopicResult> => {
  const topic = topics.image().topicsByName.get(t.name)
  if (topic !== undefined) {
    const error = assignmentError(t, topic.partitions.size, topics.nodeId)
    if (error !== undefined) return Effect.succeed(result(t.name, ErrorCode.INVALID_REPLICA_ASSIGNMENT, error))
  }
  return topics.createPartitions(t.name, t.count, validateOnly).pipe(
    Effect.match({
      onFailure: (e: TopicAdminError) => result(t.name, e.errorCode, e.message),
      onSuccess: () => result(t.name, ErrorCode.NONE, null)
    })
  )
}

export const createPartitions = (topics: TopicsShape, request: CreatePartitionsRequest): Effect.Effect<CreatePartitionsResponseInit> => {
  // Kafka's controller adds a PartitionRecord per new partition to one BoundedList for the
  // whole request: the topic that overflows it fails with the list's exception, which its
  // catch-all answers as UNKNOWN_SERVER_ERROR (no message), and the list stays full.
  let records = 0
  const bounded = (t: CreatePartitionsRequestCreatePartitionsTopic): Effect.Effect<TopicResult> => {
    const current = topics.image().topicsByName.get(t.name)?.partitions.size
    if (current !== undefined && t.count > current) {
      if (records + (t.count - current) > MAX_RECORDS_PER_USER_OP) {
        records = MAX_RECORDS_PER_USER_OP
        return Effect.succeed(result(t.name, ErrorCode.UNKNOWN_SERVER_ERROR, null))
      }
      records += t.count - current
    }
    return createOne(topics, t, request.validateOnly)
  }
  return Effect.map(
    perDistinctTopic(
      request.topics,
      (name) => result(name, ErrorCode.INVALID_REQUEST, "Duplicate topic name."),
      bounded
    ),
    (results) => ({ throttleTimeMs: 0, results })
  )
}

export const CreatePartitionsHandler = defineHandler(CreatePartitions, {
  minVersion: CREATE_PARTITIONS_MIN_VERSION,
  maxVersion: CREATE_PARTITIONS_MAX_VERSION,
  handle: (request) => Effect.flatMap(Topics, (topics) => createPartitions(topics, request)),
  errorResponse: (request, errorCode) => createPartitionsErrorResponse(request, errorCode)
})
