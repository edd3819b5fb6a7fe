/**
 * Metadata (key 3), versions 0-12: which brokers there are (this one), which topics exist
 * and where their partitions are led from.
 *
 * - brokers: this node, at the endpoint the client reached us on (ctx.advertisedHost/Port),
 *   rack null; cluster id (v2+); controller id (v1+) is this node too.
 * - topics: every topic when the request's topics is null (v1+) or empty (v0); otherwise the
 *   requested ones, by name or (v12) by topic id. Names given twice are answered once.
 *   - An unknown topic id (v12) gets UNKNOWN_TOPIC_ID with a null name.
 *   - An invalid name gets INVALID_TOPIC_EXCEPTION and is never auto-created.
 *   - An unknown valid name is created through Topics.autoCreate when the request allows it
 *     (allow_auto_topic_creation, v4+; always for v0-v3) and answered with the new topic's
 *     partitions; Topics.autoCreate returns undefined when auto.create.topics.enable is off,
 *     and then (as without permission) the answer is UNKNOWN_TOPIC_OR_PARTITION.
 * - per partition: leader (this node, else LEADER_NOT_AVAILABLE with leader -1, as Kafka
 *   answers for a leader that is not a live broker), leader epoch (v7+), replicas, isr,
 *   offline replicas (v5+, always empty).
 * - authorized operations (v8+): without an authorizer Kafka reports every operation the
 *   resource type supports; we send that when asked, else Kafka's "omitted" value.
 *
 * Metadata is the most frequent admin request (every client refreshes it periodically), so
 * the answer is plain code over the current image, one Effect.succeed unless a topic has to
 * be auto-created. Partition lists are built once per topic object: images are immutable
 * and share unchanged topics, so the cache stays valid until the topic itself changes.
 */
import { isInternalTopic } from "../coordinator/internal-topics.ts"
import { Effect, Option } from "effect"
import { LogStore, type LogStoreShape } from "../log/LogStore.ts"
import type { PartitionImage, TopicImage } from "../metadata/image.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { Metadata } from "../protocol/generated/apis/Metadata.ts"
import type { MetadataRequest } from "../protocol/generated/message/MetadataRequest.ts"
import type {
  MetadataResponseInit,
  MetadataResponseMetadataResponsePartitionInit,
  MetadataResponseMetadataResponseTopicInit
} from "../protocol/generated/message/MetadataResponse.ts"
import { ZERO_UUID } from "../protocol/primitives.ts"
import { type TopicAdminError, Topics, topicNameError, type TopicsShape } from "../topics/Topics.ts"
import { defineHandler, type RequestContext } from "./handler.ts"

export const METADATA_MIN_VERSION = 0
export const METADATA_MAX_VERSION = 12

/** Kafka's "authorized operations not requested" value (Integer.MIN_VALUE). */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648

/**
 * Without an authorizer every supported operation is allowed (Kafka's AuthHelper with no
 * authorizer: Utils.to32BitField(AclEntry.supportedOperations(type))).
 * TOPIC: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11.
 */
export const TOPIC_AUTHORIZED_OPERATIONS = [3, 4, 5, 6, 7, 8, 10, 11].reduce((bits, op) => bits | (1 << op), 0)
/** CLUSTER: CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12. */
export const CLUSTER_AUTHORIZED_OPERATIONS = [5, 7, 8, 9, 10, 11, 12].reduce((bits, op) => bits | (1 << op), 0)

/** First versions of the fields that depend on the version. */
const NULL_MEANS_ALL_VERSION = 1
const ALLOW_AUTO_CREATE_VERSION = 4
const AUTHORIZED_OPERATIONS_VERSION = 8
const CLUSTER_OPERATIONS_LAST_VERSION = 10
/** Request topics carry a topic id and a nullable name from v10, usable from v12. */
const TOPIC_ID_WIRE_VERSION = 10
const TOPIC_ID_REQUEST_VERSION = 12

type TopicResponse = MetadataResponseMetadataResponseTopicInit
type PartitionResponse = MetadataResponseMetadataResponsePartitionInit

const NO_PARTITIONS: ReadonlyArray<PartitionResponse> = Object.freeze([])
const NO_REPLICAS: ReadonlyArray<number> = Object.freeze([])

/**
 * The partitions of a topic in index order. Partitions are dense (0..n-1) in every log this
 * broker or Kafka writes, so this is a walk by index; a sparse map falls back to sorting.
 */
export const partitionsInOrder = (topic: TopicImage): ReadonlyArray<PartitionImage> => {
  const n = topic.partitions.size
  const out = new Array<PartitionImage>(n)
  for (let i = 0; i < n; i++) {
    const p = topic.partitions.get(i)
    if (p === undefined) return [...topic.partitions.values()].sort((a, b) => a.partition - b.partition)
    out[i] = p
  }
  return out
}

const partitionResponse = (p: PartitionImage, nodeId: number): PartitionResponse => {
  const led = p.leader === nodeId
  return {
    errorCode: led ? ErrorCode.NONE : ErrorCode.LEADER_NOT_AVAILABLE,
    partitionIndex: p.partition,
    leaderId: led ? nodeId : -1,
    leaderEpoch: p.leaderEpoch,
    replicaNodes: p.replicas,
    isrNodes: p.isr,
    offlineReplicas: NO_REPLICAS
  }
}

/**
 * A partition whose log dir failed: what Kafka answers once the controller has moved the
 * leadership off this broker's offline replica (ReplicationControlManager.handleDirectoriesOffline)
 * and KRaftMetadataCache lists the replica as offline.
 */
const offlinePartitionResponse = (p: PartitionImage, nodeId: number): PartitionResponse => ({
  errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
  partitionIndex: p.partition,
  leaderId: -1,
  leaderEpoch: p.leaderEpoch,
  replicaNodes: p.replicas,
  isrNodes: p.isr,
  offlineReplicas: [nodeId]
})

/** Partition lists by topic object (and the node id they were built for). */
const partitionCache = new WeakMap<TopicImage, { readonly nodeId: number; readonly partitions: ReadonlyArray<PartitionResponse> }>()

const partitionsOf = (topic: TopicImage, nodeId: number): ReadonlyArray<PartitionResponse> => {
  const cached = partitionCache.get(topic)
  if (cached !== undefined && cached.nodeId === nodeId) return cached.partitions
  const partitions = Object.freeze(partitionsInOrder(topic).map((p) => partitionResponse(p, nodeId)))
  partitionCache.set(topic, { nodeId, partitions })
  return partitions
}

/** Per-request choices that shape every topic entry. */
interface Shape {
  readonly nodeId: number
  readonly topicOperations: number
  /** Whether a partition's log dir is offline; null while every log dir is online (the cached path). */
  readonly offline: ((topic: string, partition: number) => boolean) | null
}

const topicResponse = (topic: TopicImage, shape: Shape): TopicResponse => ({
  errorCode: ErrorCode.NONE,
  name: topic.name,
  topicId: topic.topicId,
  isInternal: isInternalTopic(topic.name),
  partitions: shape.offline === null
    ? partitionsOf(topic, shape.nodeId)
    : partitionsInOrder(topic).map((p) =>
      shape.offline!(topic.name, p.partition) ? offlinePartitionResponse(p, shape.nodeId) : partitionResponse(p, shape.nodeId)
    ),
  topicAuthorizedOperations: shape.topicOperations
})

const topicError = (errorCode: number, name: string | null, topicId: string, shape: Shape): TopicResponse => ({
  errorCode,
  name,
  topicId,
  isInternal: false,
  partitions: NO_PARTITIONS,
  topicAuthorizedOperations: shape.topicOperations
})

/**
 * Kafka's answer to a Metadata request it cannot serve (MetadataRequest.getErrorResponse):
 * every requested topic with the error, names never null, no brokers.
 */
export const metadataErrorResponse = (request: MetadataRequest, errorCode: number): MetadataResponseInit => ({
  throttleTimeMs: 0,
  brokers: [],
  topics: (request.topics ?? []).map((t) => ({
    errorCode,
    name: t.name ?? "",
    topicId: t.topicId,
    isInternal: false,
    partitions: NO_PARTITIONS
  }))
})

/** A topic still to be answered: auto-created first. */
interface Pending {
  readonly index: number
  readonly name: string
}

const autoCreated = (topics: TopicsShape, name: string, shape: Shape): Effect.Effect<TopicResponse> =>
  topics.autoCreate(name).pipe(
    Effect.map((topic) =>
      topic === undefined ? topicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, ZERO_UUID, shape) : topicResponse(topic, shape)
    ),
    Effect.catch((e: TopicAdminError) =>
      Effect.as(
        Effect.logWarning(`auto-creating topic ${name} failed: ${e.message}`),
        topicError(e.errorCode, name, ZERO_UUID, shape)
      )
    )
  )

/** The response for one request: already computed (Effect.succeed) unless a topic must be auto-created. */
export const metadata = (
  topics: TopicsShape,
  request: MetadataRequest,
  ctx: RequestContext,
  logs?: LogStoreShape
): Effect.Effect<MetadataResponseInit> => {
  const version = ctx.apiVersion
  const requested = request.topics
  // v10-11 carry a nullable name and a topic id on the wire, but only v12 may use them.
  if (version >= TOPIC_ID_WIRE_VERSION && version < TOPIC_ID_REQUEST_VERSION && requested !== null) {
    for (const t of requested) {
      if (t.name === null || t.topicId !== ZERO_UUID) return Effect.succeed(metadataErrorResponse(request, ErrorCode.INVALID_REQUEST))
    }
  }
  const nodeId = topics.nodeId
  const image = topics.image()
  const shape: Shape = {
    nodeId,
    topicOperations: version >= AUTHORIZED_OPERATIONS_VERSION && request.includeTopicAuthorizedOperations
      ? TOPIC_AUTHORIZED_OPERATIONS
      : AUTHORIZED_OPERATIONS_OMITTED,
    offline: logs === undefined || logs.offlineLogDirs().length === 0
      ? null
      : (topic, partition) => logs.findPartition(topic, partition)?.isOffline === true
  }
  const base = {
    throttleTimeMs: 0,
    brokers: [{ nodeId, host: ctx.advertisedHost, port: ctx.advertisedPort, rack: null }],
    clusterId: topics.clusterId,
    controllerId: nodeId,
    clusterAuthorizedOperations: version >= AUTHORIZED_OPERATIONS_VERSION && version <= CLUSTER_OPERATIONS_LAST_VERSION &&
        request.includeClusterAuthorizedOperations
      ? CLUSTER_AUTHORIZED_OPERATIONS
      : AUTHORIZED_OPERATIONS_OMITTED
  }

  const allTopics = requested === null || (version < NULL_MEANS_ALL_VERSION && requested.length === 0)
  if (allTopics) {
    const all: Array<TopicResponse> = []
    for (const topic of image.topicsByName.values()) all.push(topicResponse(topic, shape))
    return Effect.succeed({ ...base, topics: all })
  }

  const allowAutoCreate = version < ALLOW_AUTO_CREATE_VERSION || request.allowAutoTopicCreation
  const out: Array<TopicResponse> = []
  let pending: Array<Pending> | undefined
  const seenNames = new Set<string>()
  const seenIds = new Set<string>()
  for (const t of requested) {
    if (version >= TOPIC_ID_REQUEST_VERSION && (t.name === null || t.topicId !== ZERO_UUID)) {
      if (seenIds.has(t.topicId)) continue
      seenIds.add(t.topicId)
      const topic = t.topicId === ZERO_UUID ? undefined : image.topicsById.get(t.topicId)
      if (topic === undefined) out.push(topicError(ErrorCode.UNKNOWN_TOPIC_ID, null, t.topicId, shape))
      else if (!seenNames.has(topic.name)) {
        seenNames.add(topic.name)
        out.push(topicResponse(topic, shape))
      }
      continue
    }
    const name = t.name!
    if (seenNames.has(name)) continue
    seenNames.add(name)
    const topic = image.topicsByName.get(name)
    if (topic !== undefined) out.push(topicResponse(topic, shape))
    else if (topicNameError(name) !== undefined) out.push(topicError(ErrorCode.INVALID_TOPIC_EXCEPTION, name, ZERO_UUID, shape))
    else if (!allowAutoCreate) out.push(topicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, ZERO_UUID, shape))
    else {
      // A placeholder, replaced once the topic is auto-created (or found to be unknown).
      ;(pending ??= []).push({ index: out.length, name })
      out.push(topicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, ZERO_UUID, shape))
    }
  }
  if (pending === undefined) return Effect.succeed({ ...base, topics: out })
  return Effect.as(
    Effect.forEach(pending, (p) => Effect.map(autoCreated(topics, p.name, shape), (r) => (out[p.index] = r)), { discard: true }),
    { ...base, topics: out }
  )
}

export const MetadataHandler = defineHandler(Metadata, {
  minVersion: METADATA_MIN_VERSION,
  maxVersion: METADATA_MAX_VERSION,
  handle: (request, ctx) =>
    Effect.flatMap(Topics, (topics) =>
      Effect.flatMap(Effect.serviceOption(LogStore), (logs) => metadata(topics, request, ctx, Option.getOrUndefined(logs)))),
  errorResponse: (request, errorCode) => metadataErrorResponse(request, errorCode)
})
