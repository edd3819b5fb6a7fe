/**
 * CreateTopics (key 19), versions 0-7.
 *
 * Each topic is created on its own through Topics.create and gets its own result; a failure
 * never affects the other topics of the request. Per topic:
 * - num_partitions / replication_factor -1 take the broker defaults (v4+ clients send -1),
 *   explicit replica assignments and configs are passed on, validate_only (v1+) checks
 *   without creating;
 * - a name given more than once gets one INVALID_REQUEST result ("Duplicate topic name.")
 *   and is not created, as Kafka's ControllerApis answers;
 * - an illegal name gets INVALID_TOPIC_EXCEPTION; other refusals carry Topics' code
 *   (TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR,
 *   INVALID_REPLICA_ASSIGNMENT, INVALID_CONFIG, INVALID_REQUEST, ...) and message (v1+).
 * v5+ results of created topics carry the topic id (v7+ on the wire), partition count,
 * replication factor and the topic's configs as DescribeConfigs would list them;
 * topic_config_error_code stays NONE. Failed topics carry Kafka's defaults (-1, -1, null).
 *
 * The request timeout is not used: creation completes (or fails) before the answer.
 */
import { Effect } from "effect"
import type { TopicImage } from "../metadata/image.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { CreateTopics } from "../protocol/generated/apis/CreateTopics.ts"
import type { CreateTopicsRequest, CreateTopicsRequestCreatableTopic } from "../protocol/generated/message/CreateTopicsRequest.ts"
import type {
  CreateTopicsResponseCreatableTopicConfigsInit,
  CreateTopicsResponseCreatableTopicResultInit,
  CreateTopicsResponseInit
} from "../protocol/generated/message/CreateTopicsResponse.ts"
import { ZERO_UUID } from "../protocol/primitives.ts"
import {
  type DescribedConfig,
  MAX_RECORDS_PER_USER_OP,
  type TopicAdminError,
  Topics,
  topicNameError,
  type TopicsShape
} from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"
import { perDistinctTopic } from "./per-topic.ts"

export const CREATE_TOPICS_MIN_VERSION = 0
export const CREATE_TOPICS_MAX_VERSION = 7
/** First version whose results describe the created topic (partitions, replication, configs). */
const TOPIC_DETAILS_VERSION = 5

/** Kafka's ConfigSource ids. */
const DYNAMIC_TOPIC_CONFIG = 1
const DEFAULT_CONFIG = 5

type TopicResult = CreateTopicsResponseCreatableTopicResultInit
type ConfigResult = CreateTopicsResponseCreatableTopicConfigsInit

const failed = (name: string, errorCode: number, errorMessage: string | null): TopicResult => ({
  name,
  topicId: ZERO_UUID,
  errorCode,
  errorMessage,
  numPartitions: -1,
  replicationFactor: -1,
  configs: null
})

/** Kafka's CreateTopicsRequest.getErrorResponse: the error for every topic. */
export const createTopicsErrorResponse = (request: CreateTopicsRequest, errorCode: number): CreateTopicsResponseInit => ({
  throttleTimeMs: 0,
  topics: [...new Set(request.topics.map((t) => t.name))].map((name) => failed(name, errorCode, null))
})

const configResult = (c: DescribedConfig): ConfigResult => ({
  name: c.name,
  value: c.isSensitive ? null : c.value,
  readOnly: c.readOnly,
  configSource: c.source,
  isSensitive: c.isSensitive
})

/**
 * The configs of a topic that does not exist (validate_only): the broker's topic defaults
 * with the requested configs on top. The defaults' own source is not known here, so they
 * are reported as DEFAULT_CONFIG.
 */
const wouldBeConfigs = (topics: TopicsShape, t: CreateTopicsRequestCreatableTopic): Array<ConfigResult> => {
  const entries = new Map<string, ConfigResult>()
  for (const [name, value] of topics.topicConfig(t.name)) {
    entries.set(name, { name, value, readOnly: false, configSource: DEFAULT_CONFIG, isSensitive: false })
  }
  for (const c of t.configs) entries.set(c.name, { name: c.name, value: c.value, readOnly: false, configSource: DYNAMIC_TOPIC_CONFIG, isSensitive: false })
  return [...entries.values()].sort((a, b) => (a.name! < b.name! ? -1 : a.name! > b.name! ? 1 : 0))
}

const created = (topics: TopicsShape, t: CreateTopicsRequestCreatableTopic, topic: TopicImage, validateOnly: boolean, version: number) => {
  const result = {
    name: t.name,
    topicId: topic.topicId,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    numPartitions: topic.partitions.size,
    replicationFactor: topic.partitions.get(0)?.replicas.length ?? -1
  }
  if (version < TOPIC_DETAILS_VERSION) return Effect.succeed<TopicResult>(result)
  if (validateOnly) return Effect.succeed<TopicResult>({ ...result, configs: wouldBeConfigs(topics, t) })
  return topics.describeTopicConfigs(t.name, null).pipe(
    Effect.map((configs): TopicResult => ({ ...result, configs: configs.map(configResult) })),
    // Deleted again between creation and this answer: it was created, report it as it was asked.
    Effect.catch(() => Effect.succeed<TopicResult>({ ...result, configs: wouldBeConfigs(topics, t) }))
  )
}

const createOne = (topics: TopicsShape, t: CreateTopicsRequestCreatableTopic, validateOnly: boolean, version: number): Effect.Effect<TopicResult> => {
  const nameError = topicNameError(t.name)
  if (nameError !== undefined) return Effect.succeed(failed(t.name, ErrorCode.INVALID_TOPIC_EXCEPTION, nameError))
  return topics.create({
    name: t.name,
    numPartitions: t.numPartitions,
    replicationFactor: t.replicationFactor,
    assignments: t.assignments.map((a) => ({ partitionIndex: a.partitionIndex, brokerIds: a.brokerIds })),
    configs: t.configs.map((c) => ({ name: c.name, value: c.value })),
    validateOnly
  }).pipe(
    Effect.matchEffect({
      onFailure: (e: TopicAdminError) => Effect.succeed(failed(t.name, e.errorCode, e.message)),
      onSuccess: (topic) => created(topics, t, topic, validateOnly, version)
    })
  )
}

/**
 * The metadata records the request's creatable topics would write: a TopicRecord, a
 * ConfigRecord per config and a PartitionRecord per partition (a default count, -1, counts
 * one). Topics Kafka refuses before building records (duplicates, bad names, existing
 * topics, non-positive counts) count nothing.
 */
const claimedRecords = (topics: TopicsShape, request: CreateTopicsRequest): number => {
  const seen = new Map<string, number>()
  for (const t of request.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1)
  const existing = topics.image().topicsByName
  let total = 0
  for (const t of request.topics) {
    if (seen.get(t.name)! > 1 || topicNameError(t.name) !== undefined || existing.has(t.name)) continue
    const partitions = t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? 1 : t.numPartitions
    if (partitions <= 0) continue
    total += 1 + t.configs.length + partitions
  }
  return total
}

export const createTopics = (topics: TopicsShape, request: CreateTopicsRequest, version: number): Effect.Effect<CreateTopicsResponseInit> => {
  // Kafka's controller builds the records in a BoundedList; overflowing it fails the whole
  // request (EventHandlerExceptionInfo: POLICY_VIOLATION), nothing created.
  if (claimedRecords(topics, request) > MAX_RECORDS_PER_USER_OP) {
    return Effect.succeed({
      throttleTimeMs: 0,
      topics: [...new Set(request.topics.map((t) => t.name))].map((name) =>
        failed(name, ErrorCode.POLICY_VIOLATION, "Unable to perform excessively large batch operation.")
      )
    })
  }
  return Effect.map(
    perDistinctTopic(
      request.topics,
      (name) => failed(name, ErrorCode.INVALID_REQUEST, "Duplicate topic name."),
      (t) => createOne(topics, t, request.validateOnly, version)
    ),
    (topics) => ({ throttleTimeMs: 0, topics })
  )
}

export const CreateTopicsHandler = defineHandler(CreateTopics, {
  minVersion: CREATE_TOPICS_MIN_VERSION,
  maxVersion: CREATE_TOPICS_MAX_VERSION,
  handle: (request, ctx) => Effect.flatMap(Topics, (topics) => createTopics(topics, request, ctx.apiVersion)),
  errorResponse: (request, errorCode) => createTopicsErrorResponse(request, errorCode)
})
