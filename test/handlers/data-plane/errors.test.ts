import { assert, describe, it } from "vitest"
import { errorCodeByName, errorCodeOf, errorMessageOf, isUnexpected, kafkaErrorOf } from "../../../src/handlers/errors.ts"
import {
  InconsistentTopicId,
  InvalidRecordBatch,
  LogCorrupted,
  LogIoError,
  OffsetOutOfRange,
  PartitionNotFound,
  RecordListTooLarge
} from "../../../src/log/errors.ts"
import {
  InconsistentTopicIdError,
  InvalidBatchError,
  OffsetOutOfRangeError,
  RecordBatchTooLargeError
} from "../../../src/log/partition-log.ts"
import { UnreadableSegmentError } from "../../../src/log/segment.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { TopicAdminError } from "../../../src/topics/Topics.ts"

const io = () => Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC", path: "/data/t-0/00.log" })

describe("errorCodeOf", () => {
  it("maps the LogStore's typed errors", () => {
    assert.strictEqual(errorCodeOf(new PartitionNotFound({ topic: "t", partition: 0 })), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    assert.strictEqual(errorCodeOf(new OffsetOutOfRange({ topic: "t", partition: 0, offset: 9, logStartOffset: 0, logEndOffset: 3 })), ErrorCode.OFFSET_OUT_OF_RANGE)
    for (const [code, expected] of [["CORRUPT_MESSAGE", 2], ["INVALID_RECORD", 87], ["MESSAGE_TOO_LARGE", 10]] as const) {
      const error = new InvalidRecordBatch({ topic: "t", partition: 0, code, reason: "r", message: `bad: ${code}`, batchIndex: 0 })
      assert.strictEqual(errorCodeOf(error), expected)
      assert.strictEqual(errorMessageOf(error), `bad: ${code}`)
    }
    assert.strictEqual(errorCodeOf(new RecordListTooLarge({ topic: "t", partition: 0, size: 10 })), ErrorCode.RECORD_LIST_TOO_LARGE)
    assert.strictEqual(errorCodeOf(new InconsistentTopicId({ topic: "t", partition: 0, message: "other id" })), ErrorCode.INCONSISTENT_TOPIC_ID)
    assert.strictEqual(errorCodeOf(new LogCorrupted({ topic: "t", partition: 0, message: "torn" })), ErrorCode.KAFKA_STORAGE_ERROR)
    assert.strictEqual(errorCodeOf(new LogIoError({ operation: "append", path: "/x", message: "EIO", cause: null })), ErrorCode.KAFKA_STORAGE_ERROR)
  })

  it("maps TopicAdminError to its own code and message", () => {
    const error = new TopicAdminError({ errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, message: "Topic 't' already exists." })
    assert.deepStrictEqual(kafkaErrorOf(error), { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, message: "Topic 't' already exists." })
  })

  it("maps the plain errors a partition log throws the same way as their typed forms", () => {
    assert.strictEqual(errorCodeOf(new OffsetOutOfRangeError(9, 0, 3)), ErrorCode.OFFSET_OUT_OF_RANGE)
    assert.strictEqual(
      errorCodeOf(new InvalidBatchError({ ok: false, code: "INVALID_RECORD", reason: "x", message: "m", batchIndex: 0, position: 0 })),
      ErrorCode.INVALID_RECORD
    )
    assert.strictEqual(errorCodeOf(new RecordBatchTooLargeError(10, 5)), ErrorCode.RECORD_LIST_TOO_LARGE)
    assert.strictEqual(errorCodeOf(new InconsistentTopicIdError("x")), ErrorCode.INCONSISTENT_TOPIC_ID)
    assert.strictEqual(errorCodeOf(new UnreadableSegmentError("x")), ErrorCode.KAFKA_STORAGE_ERROR)
    assert.strictEqual(errorCodeOf(io()), ErrorCode.KAFKA_STORAGE_ERROR)
    assert.isFalse(isUnexpected(io()))
  })

  it("answers anything else with UNKNOWN_SERVER_ERROR", () => {
    assert.strictEqual(errorCodeOf(new Error("log /x is closed")), ErrorCode.UNKNOWN_SERVER_ERROR)
    assert.strictEqual(errorCodeOf("boom"), ErrorCode.UNKNOWN_SERVER_ERROR)
    assert.strictEqual(errorCodeOf({ _tag: "SomethingElse" }), ErrorCode.UNKNOWN_SERVER_ERROR)
    assert.isTrue(isUnexpected(new TypeError("bug")))
  })

  it("resolves Kafka error names", () => {
    assert.strictEqual(errorCodeByName("FETCH_SESSION_ID_NOT_FOUND"), 70)
    assert.strictEqual(errorCodeByName("INVALID_FETCH_SESSION_EPOCH"), 71)
    assert.strictEqual(errorCodeByName("toString"), ErrorCode.UNKNOWN_SERVER_ERROR)
  })
})
