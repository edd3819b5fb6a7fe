/**
 * Typed failures of the metadata log. The request handlers map them to Kafka error codes;
 * each class carries its code as `kafkaErrorCode` so that mapping is one lookup, and the
 * message is worded like Kafka's so clients print something familiar.
 */
import { Schema } from "effect"

/** TOPIC_ALREADY_EXISTS (36). */
export class TopicAlreadyExists extends Schema.TaggedError<TopicAlreadyExists>()("TopicAlreadyExists", {
  topic: Schema.String,
  message: Schema.String
}) {
  static readonly kafkaErrorCode = 36
}

/** UNKNOWN_TOPIC_OR_PARTITION (3). */
export class UnknownTopic extends Schema.TaggedError<UnknownTopic>()("UnknownTopic", {
  topic: Schema.String,
  message: Schema.String
}) {
  static readonly kafkaErrorCode = 3
}

/** INVALID_PARTITIONS (37). */
export class InvalidPartitions extends Schema.TaggedError<InvalidPartitions>()("InvalidPartitions", {
  topic: Schema.String,
  message: Schema.String
}) {
  static readonly kafkaErrorCode = 37
}

/** INVALID_REPLICATION_FACTOR (38). */
export class InvalidReplicationFactor extends Schema.TaggedError<InvalidReplicationFactor>()("InvalidReplicationFactor", {
  topic: Schema.String,
  message: Schema.String
}) {
  static readonly kafkaErrorCode = 38
}

/** INVALID_TOPIC_EXCEPTION (17): an illegal name, or one that collides with an existing topic. */
export class InvalidTopic extends Schema.TaggedError<InvalidTopic>()("InvalidTopic", {
  topic: Schema.String,
  message: Schema.String
}) {
  static readonly kafkaErrorCode = 17
}

/**
 * The metadata log cannot be replayed: a CRC-valid batch whose records do not decode, a
 * snapshot without header or footer, a gap between snapshot and log. Fatal at start-up
 * (Kafka stops too); torn tails are not this error, they are truncated.
 */
export class MetadataLogCorrupted extends Schema.TaggedError<MetadataLogCorrupted>()("MetadataLogCorrupted", {
  path: Schema.String,
  message: Schema.String
}) {
  static readonly kafkaErrorCode = -1
}

/**
 * Reading or writing the metadata log failed. Once an append has failed the log refuses
 * further changes (the file may or may not hold the batch), as Kafka halts on a metadata
 * log I/O error. KAFKA_STORAGE_ERROR (56) for the client.
 */
export class MetadataIoError extends Schema.TaggedError<MetadataIoError>()("MetadataIoError", {
  path: Schema.String,
  message: Schema.String
}) {
  static readonly kafkaErrorCode = 56
}

/**
 * `meta.properties` is unreadable or disagrees with the configuration (node.id mismatch,
 * two log dirs of different clusters, duplicate directory ids). Fatal at start-up.
 */
export class MetaPropertiesError extends Schema.TaggedError<MetaPropertiesError>()("MetaPropertiesError", {
  path: Schema.String,
  message: Schema.String
}) {
  static readonly kafkaErrorCode = -1
}

/**
 * A log directory cannot be used: it cannot be created, or another broker holds its `.lock`.
 * Fatal at start-up, as in Kafka (which stops when it cannot lock a log dir).
 */
export class LogDirUnavailable extends Schema.TaggedError<LogDirUnavailable>()("LogDirUnavailable", {
  path: Schema.String,
  message: Schema.String
}) {
  static readonly kafkaErrorCode = -1
}

export type MetadataStartupError = MetadataLogCorrupted | MetadataIoError | MetaPropertiesError | LogDirUnavailable
