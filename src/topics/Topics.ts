/**
 * The Topics service: topic administration and lookup for the request handlers. It owns
 * the agreement between the metadata log (which topics and partitions exist, their ids and
 * configs) and the log store (one partition log per partition): a change is appended to the
 * metadata log first, then the partition logs follow; at start-up the logs are reconciled
 * with the replayed image.
 */
import { Context, type Effect, Schema } from "effect"
import type { MetadataImage, TopicImage } from "../metadata/image.ts"

export interface CreateTopicRequest {
  readonly name: string
  /** -1 = the broker default (num.partitions). */
  readonly numPartitions: number
  /** -1 = the broker default (default.replication.factor). */
  readonly replicationFactor: number
  /** Explicit replica assignment, by partition; only single-replica assignments to this node are valid here. */
  readonly assignments?: ReadonlyArray<{ readonly partitionIndex: number; readonly brokerIds: ReadonlyArray<number> }>
  /** Topic-level configs (retention.ms, max.message.bytes, ...). */
  readonly configs: ReadonlyArray<{ readonly name: string; readonly value: string | null }>
  readonly validateOnly: boolean
}

/** A config as DescribeConfigs reports it. */
export interface DescribedConfig {
  readonly name: string
  readonly value: string | null
  readonly readOnly: boolean
  /** Kafka's ConfigSource ids: 1 DYNAMIC_TOPIC_CONFIG, 4 STATIC_BROKER_CONFIG, 5 DEFAULT_CONFIG, ... */
  readonly source: number
  readonly isSensitive: boolean
  /** Kafka's ConfigType ids (DescribeConfigs v3+): 1 BOOLEAN, 2 STRING, 3 INT, 4 SHORT, 5 LONG, 6 DOUBLE, 7 LIST, 8 CLASS, 9 PASSWORD. */
  readonly configType: number
  readonly documentation: string | null
  readonly synonyms: ReadonlyArray<{ readonly name: string; readonly value: string | null; readonly source: number }>
}

/**
 * Why a topic operation failed. `errorCode` is the Kafka error code the response carries
 * (TOPIC_ALREADY_EXISTS 36, UNKNOWN_TOPIC_OR_PARTITION 3, INVALID_TOPIC_EXCEPTION 17,
 * INVALID_PARTITIONS 37, INVALID_REPLICATION_FACTOR 38, INVALID_REPLICA_ASSIGNMENT 39,
 * INVALID_CONFIG 40, TOPIC_DELETION_DISABLED 73, UNKNOWN_TOPIC_ID 100, KAFKA_STORAGE_ERROR 56, ...).
 */
export class TopicAdminError extends Schema.TaggedError<TopicAdminError>()("TopicAdminError", {
  errorCode: Schema.Number,
  message: Schema.String
}) {}

export interface TopicsShape {
  /** The current metadata image: a plain read for hot paths. */
  readonly image: () => MetadataImage
  readonly clusterId: string
  readonly nodeId: number
  /**
   * The topic's effective configs by topic-level key (max.message.bytes, retention.ms,
   * message.timestamp.type, cleanup.policy, ...): broker defaults overridden by the topic's own.
   */
  readonly topicConfig: (topic: string) => ReadonlyMap<string, string>
  /** Creates a topic (or only validates, with validateOnly). Returns the topic as it is (or would be). */
  readonly create: (request: CreateTopicRequest) => Effect.Effect<TopicImage, TopicAdminError>
  /** Deletes a topic: metadata first, then its partition logs' files. */
  readonly delete: (name: string) => Effect.Effect<void, TopicAdminError>
  /** Raises a topic's partition count to `totalCount`. */
  readonly createPartitions: (name: string, totalCount: number, validateOnly: boolean) => Effect.Effect<void, TopicAdminError>
  /**
   * Creates `name` with the broker defaults if `auto.create.topics.enable` allows it and it
   * does not exist yet; returns the topic, or undefined when auto-creation is off.
   */
  readonly autoCreate: (name: string) => Effect.Effect<TopicImage | undefined, TopicAdminError>
  /** DescribeConfigs for a topic (all keys when `keys` is null). */
  readonly describeTopicConfigs: (name: string, keys: ReadonlyArray<string> | null) => Effect.Effect<ReadonlyArray<DescribedConfig>, TopicAdminError>
  /**
   * DescribeConfigs for the broker: this node's configs, or with `clusterDefault` the dynamic
   * cluster-wide defaults (resource name "").
   */
  readonly describeBrokerConfigs: (keys: ReadonlyArray<string> | null, clusterDefault?: boolean) => ReadonlyArray<DescribedConfig>
  /** The dynamic configs stored for a topic, or for the broker resource `name` (node id or ""). */
  readonly dynamicConfigs: (resource: ConfigResourceKind, name: string) => ReadonlyMap<string, string>
  /**
   * Changes a topic's dynamic configs (a null value deletes the key): validated as Kafka's
   * controller does (INVALID_CONFIG naming key and value, UNKNOWN_TOPIC_OR_PARTITION), written
   * as ConfigRecords, then applied to the topic's partition logs at once. Nothing is written
   * with `validateOnly`.
   */
  readonly alterTopicConfigs: (name: string, changes: ReadonlyMap<string, string | null>, validateOnly: boolean) => Effect.Effect<void, TopicAdminError>
  /**
   * Changes dynamic broker configs of `resource` (this node's id, or "" for the cluster-wide
   * default): read-only keys and invalid values are INVALID_REQUEST, as Kafka answers; the
   * new values reach every partition log whose topic does not override them.
   */
  readonly alterBrokerConfigs: (resource: string, changes: ReadonlyMap<string, string | null>, validateOnly: boolean) => Effect.Effect<void, TopicAdminError>
}

export type ConfigResourceKind = "topic" | "broker"

/**
 * Kafka's QuorumController.MAX_RECORDS_PER_USER_OP: one admin request may write at most this
 * many metadata records (a TopicRecord, its ConfigRecords and one PartitionRecord per
 * partition for a created topic; one PartitionRecord per added partition). It is also what
 * keeps a request claiming 10^9 partitions from sizing anything.
 */
export const MAX_RECORDS_PER_USER_OP = 10_000

export class Topics extends Context.Service<Topics, TopicsShape>()("kafka-broker/topics/Topics") {}

/** Kafka's topic name rule (Topic.validate): 1-249 characters of [a-zA-Z0-9._-], not "." or "..". */
export const topicNameError = (name: string): string | undefined => {
  if (name.length === 0) return "Topic name is illegal, it can't be empty"
  if (name === "." || name === "..") return "Topic name cannot be \".\" or \"..\""
  if (name.length > 249) return `Topic name is illegal, it can't be longer than 249 characters, topic name: ${name}`
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`
  }
  return undefined
}
