/**
 * The one place where failures become Kafka error codes. Handlers never fail: whatever goes
 * wrong for a partition (or a whole request) is answered with the code chosen here.
 *
 * It understands
 * - the tagged errors of the LogStore service (src/log/errors.ts) and TopicAdminError,
 * - the plain errors a PartitionLog throws, for handlers that call the log directly on
 *   their hot path (PartitionLog.append / read throw them; LogStore wraps them as the
 *   tagged errors above, with the same codes),
 * - Kafka error names (the record validator's codes, the fetch session cache's errors).
 *
 * Anything else is UNKNOWN_SERVER_ERROR, as Kafka answers for an unexpected exception.
 */
import { CheckpointFormatError } from "../log/checkpoint.ts"
import { KafkaStorageError } from "../log/log-dir-failure.ts"
import type { LogStoreError } from "../log/errors.ts"
import {
  InconsistentTopicIdError,
  InvalidBatchError,
  OffsetOutOfRangeError,
  RecordBatchTooLargeError
} from "../log/partition-log.ts"
import { ProducerStateError } from "../log/producer-state.ts"
import { UnreadableSegmentError } from "../log/segment.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import type { TopicAdminError } from "../topics/Topics.ts"

/** The typed errors handlers meet. */
export type HandlerError = LogStoreError | TopicAdminError

export interface KafkaError {
  readonly errorCode: number
  readonly message: string
}

/** Kafka's default message for the codes the data-plane handlers answer with (Errors.java). */
const DEFAULT_MESSAGES: ReadonlyMap<number, string> = new Map([
  [ErrorCode.UNKNOWN_SERVER_ERROR, "The server experienced an unexpected error when processing the request."],
  [ErrorCode.OFFSET_OUT_OF_RANGE, "The requested offset is not within the range of offsets maintained by the server."],
  [ErrorCode.CORRUPT_MESSAGE, "This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt."],
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition."],
  [ErrorCode.MESSAGE_TOO_LARGE, "The request included a message larger than the max message size the server will accept."],
  [ErrorCode.RECORD_LIST_TOO_LARGE, "The request included message batch larger than the configured segment size on the server."],
  [ErrorCode.INVALID_REQUIRED_ACKS, "Produce request specified an invalid value for required acks."],
  [ErrorCode.INVALID_TIMESTAMP, "The timestamp of the message is out of acceptable range."],
  [ErrorCode.INVALID_REQUEST, "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details."],
  [ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, "The message format version on the broker does not support the request."],
  [ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, "Transactional Id authorization failed."],
  [ErrorCode.KAFKA_STORAGE_ERROR, "Disk error when trying to access log file on the disk."],
  [ErrorCode.FETCH_SESSION_ID_NOT_FOUND, "The fetch session ID was not found."],
  [ErrorCode.INVALID_FETCH_SESSION_EPOCH, "The fetch session epoch is invalid."],
  [ErrorCode.FENCED_LEADER_EPOCH, "The leader epoch in the request is older than the epoch on the broker."],
  [ErrorCode.UNKNOWN_LEADER_EPOCH, "The leader epoch in the request is newer than the epoch on the broker."],
  [ErrorCode.INVALID_RECORD, "This record has failed the validation on broker and hence will be rejected."],
  [ErrorCode.UNKNOWN_TOPIC_ID, "This server does not host this topic ID."],
  [ErrorCode.INCONSISTENT_TOPIC_ID, "The log's topic ID did not match the topic ID in the request."],
  [ErrorCode.COORDINATOR_NOT_AVAILABLE, "The coordinator is not available."],
  [ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, "The broker received an out of order sequence number."],
  [ErrorCode.INVALID_PRODUCER_EPOCH, "Producer attempted to produce with an old epoch."],
  [ErrorCode.INVALID_TXN_STATE, "The producer attempted a transactional operation in an invalid state."],
  [ErrorCode.TRANSACTION_COORDINATOR_FENCED, "Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current coordinator for a given producer."]
])

/** Kafka's generic message for a code ("" when we have none). */
export const defaultMessageOf = (errorCode: number): string => DEFAULT_MESSAGES.get(errorCode) ?? ""

/** The code for a Kafka error name ("CORRUPT_MESSAGE", "INVALID_FETCH_SESSION_EPOCH", ...). */
export const errorCodeByName = (name: string): number =>
  Object.hasOwn(ErrorCode, name) ? ErrorCode[name as keyof typeof ErrorCode] : ErrorCode.UNKNOWN_SERVER_ERROR

const fromTagged = (error: HandlerError): KafkaError => {
  switch (error._tag) {
    case "PartitionNotFound":
      return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: defaultMessageOf(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) }
    case "OffsetOutOfRange":
      return {
        errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
        message: `Offset ${error.offset} is out of range for ${error.topic}-${error.partition} [${error.logStartOffset}, ${error.logEndOffset}]`
      }
    case "InvalidRecordBatch":
    case "ProducerStateRejected":
      return { errorCode: errorCodeByName(error.code), message: error.message }
    case "RecordListTooLarge":
      return { errorCode: ErrorCode.RECORD_LIST_TOO_LARGE, message: `Record batch of ${error.size} bytes exceeds the segment size of ${error.topic}-${error.partition}` }
    case "InconsistentTopicId":
      return { errorCode: ErrorCode.INCONSISTENT_TOPIC_ID, message: error.message }
    case "LogCorrupted":
    case "LogIoError":
      return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, message: error.message }
    case "TopicAdminError":
      return { errorCode: error.errorCode, message: error.message }
    default: {
      const unreachable: never = error
      return unreachable
    }
  }
}

const TAGS: ReadonlySet<string> = new Set([
  "PartitionNotFound",
  "OffsetOutOfRange",
  "InvalidRecordBatch",
  "ProducerStateRejected",
  "RecordListTooLarge",
  "InconsistentTopicId",
  "LogCorrupted",
  "LogIoError",
  "TopicAdminError"
])

const isHandlerError = (u: unknown): u is HandlerError =>
  typeof u === "object" && u !== null && TAGS.has((u as { _tag?: unknown })._tag as string)

const isErrno = (e: unknown): e is NodeJS.ErrnoException =>
  e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string"

/** The Kafka error code and message for any failure (typed, thrown by a log, or unexpected). */
export const kafkaErrorOf = (error: HandlerError | unknown): KafkaError => {
  if (isHandlerError(error)) return fromTagged(error)
  if (error instanceof OffsetOutOfRangeError) return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, message: error.message }
  if (error instanceof InvalidBatchError) return { errorCode: errorCodeByName(error.failure.code), message: error.failure.message }
  if (error instanceof ProducerStateError) return { errorCode: errorCodeByName(error.errorName), message: error.message }
  if (error instanceof RecordBatchTooLargeError) return { errorCode: ErrorCode.RECORD_LIST_TOO_LARGE, message: error.message }
  if (error instanceof InconsistentTopicIdError) return { errorCode: ErrorCode.INCONSISTENT_TOPIC_ID, message: error.message }
  if (error instanceof UnreadableSegmentError || error instanceof CheckpointFormatError || error instanceof KafkaStorageError || isErrno(error)) {
    return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, message: error.message }
  }
  return {
    errorCode: ErrorCode.UNKNOWN_SERVER_ERROR,
    message: error instanceof Error ? error.message : defaultMessageOf(ErrorCode.UNKNOWN_SERVER_ERROR)
  }
}

/** The Kafka error code for any failure. */
export const errorCodeOf = (error: HandlerError | unknown): number => kafkaErrorOf(error).errorCode

/** The message to send with it (ProduceResponse error_message and the like). */
export const errorMessageOf = (error: HandlerError | unknown): string => kafkaErrorOf(error).message

/**
 * Whether a failure is unexpected (a bug or a closed log), i.e. worth an error log line;
 * typed and validation failures are the client's or the disk's and answered quietly.
 */
export const isUnexpected = (error: unknown): boolean => kafkaErrorOf(error).errorCode === ErrorCode.UNKNOWN_SERVER_ERROR
