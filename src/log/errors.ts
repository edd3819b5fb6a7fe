/**
 * Typed failures of the LogStore service. Each names the Kafka error code the protocol
 * layer should answer with; the central error mapping lives elsewhere.
 */
import { Schema } from "effect"

/** UNKNOWN_TOPIC_OR_PARTITION (3): this broker holds no log for the partition. */
export class PartitionNotFound extends Schema.TaggedError<PartitionNotFound>()("PartitionNotFound", {
  topic: Schema.String,
  partition: Schema.Number
}) {}

/** OFFSET_OUT_OF_RANGE (1): fetch or delete-records offset outside [logStartOffset, logEndOffset]. */
export class OffsetOutOfRange extends Schema.TaggedError<OffsetOutOfRange>()("OffsetOutOfRange", {
  topic: Schema.String,
  partition: Schema.Number,
  offset: Schema.Number,
  logStartOffset: Schema.Number,
  logEndOffset: Schema.Number
}) {}

/**
 * The produce payload failed validation. `code` is the Kafka error name to answer with:
 * CORRUPT_MESSAGE (2), INVALID_RECORD (87) or MESSAGE_TOO_LARGE (10); see
 * record-batch.ts for which check yields which.
 */
export class InvalidRecordBatch extends Schema.TaggedError<InvalidRecordBatch>()("InvalidRecordBatch", {
  topic: Schema.String,
  partition: Schema.Number,
  code: Schema.String,
  reason: Schema.String,
  message: Schema.String,
  batchIndex: Schema.Number
}) {}

/** RECORD_LIST_TOO_LARGE (18): the append is larger than a whole segment (segment.bytes). */
export class RecordListTooLarge extends Schema.TaggedError<RecordListTooLarge>()("RecordListTooLarge", {
  topic: Schema.String,
  partition: Schema.Number,
  size: Schema.Number
}) {}

/** INCONSISTENT_TOPIC_ID (103): partition.metadata names another topic id. */
export class InconsistentTopicId extends Schema.TaggedError<InconsistentTopicId>()("InconsistentTopicId", {
  topic: Schema.String,
  partition: Schema.Number,
  message: Schema.String
}) {}

/**
 * KAFKA_STORAGE_ERROR (56): data on disk cannot be read as a log (corrupt batch found
 * while reading, legacy message format, malformed checkpoint). Not the client's fault,
 * so not CORRUPT_MESSAGE.
 */
export class LogCorrupted extends Schema.TaggedError<LogCorrupted>()("LogCorrupted", {
  topic: Schema.String,
  partition: Schema.Number,
  message: Schema.String
}) {}

/** KAFKA_STORAGE_ERROR (56): a file system operation failed (ENOSPC, EIO, permissions...). */
export class LogIoError extends Schema.TaggedError<LogIoError>()("LogIoError", {
  operation: Schema.String,
  path: Schema.String,
  message: Schema.String,
  cause: Schema.Defect()
}) {}

/**
 * The producer state refuses the batch (Kafka's ProducerAppendInfo checks): `code` is
 * INVALID_PRODUCER_EPOCH (47), OUT_OF_ORDER_SEQUENCE_NUMBER (45), INVALID_TXN_STATE (48) or
 * TRANSACTION_COORDINATOR_FENCED (52).
 */
export class ProducerStateRejected extends Schema.TaggedError<ProducerStateRejected>()("ProducerStateRejected", {
  topic: Schema.String,
  partition: Schema.Number,
  code: Schema.String,
  message: Schema.String
}) {}

export type LogStoreError =
  | PartitionNotFound
  | OffsetOutOfRange
  | InvalidRecordBatch
  | ProducerStateRejected
  | RecordListTooLarge
  | InconsistentTopicId
  | LogCorrupted
  | LogIoError
