/**
 * DeleteRecords (key 21), versions 0-2: moves a partition's log start offset up to the
 * requested offset (-1: the high watermark) and deletes the segments wholly below it, as
 * Kafka's ReplicaManager.deleteRecords. Per partition: the new low watermark, or
 * UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE (beyond the high watermark, or negative),
 * POLICY_VIOLATION for a topic without cleanup.policy=delete; failures carry low watermark -1.
 * The new log start offset is checkpointed before the answer (LogStore.deleteRecords).
 */
import { Effect } from "effect"
import { LogStore } from "../log/LogStore.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { DeleteRecords } from "../protocol/generated/apis/DeleteRecords.ts"
import type { DeleteRecordsRequest } from "../protocol/generated/message/DeleteRecordsRequest.ts"
import type { DeleteRecordsResponseDeleteRecordsPartitionResultInit, DeleteRecordsResponseInit } from "../protocol/generated/message/DeleteRecordsResponse.ts"
import { Topics } from "../topics/Topics.ts"
import { errorCodeOf } from "./errors.ts"
import { defineHandler } from "./handler.ts"

type PartitionResult = DeleteRecordsResponseDeleteRecordsPartitionResultInit

const failed = (partitionIndex: number, errorCode: number): PartitionResult => ({ partitionIndex, lowWatermark: -1n, errorCode })

export const deleteRecordsErrorResponse = (request: DeleteRecordsRequest, errorCode: number): DeleteRecordsResponseInit => ({
  throttleTimeMs: 0,
  topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => failed(p.partitionIndex, errorCode)) }))
})

export const DeleteRecordsHandler = defineHandler(DeleteRecords, {
  minVersion: 0,
  maxVersion: 2,
  handle: (request) =>
    Effect.gen(function*() {
      const topics = yield* Topics
      const logs = yield* LogStore
      const image = topics.image()
      const results = []
      for (const t of request.topics) {
        const topic = image.topicsByName.get(t.name)
        const deletable = topic !== undefined && (topics.topicConfig(t.name).get("cleanup.policy") ?? "delete").split(",").includes("delete")
        const partitions: Array<PartitionResult> = []
        for (const p of t.partitions) {
          if (topic === undefined || !topic.partitions.has(p.partitionIndex)) {
            partitions.push(failed(p.partitionIndex, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
            continue
          }
          if (!deletable) {
            partitions.push(failed(p.partitionIndex, ErrorCode.POLICY_VIOLATION))
            continue
          }
          // -1 means the high watermark; any other negative offset is out of range.
          const offset = Number(p.offset)
          if (offset < -1) {
            partitions.push(failed(p.partitionIndex, ErrorCode.OFFSET_OUT_OF_RANGE))
            continue
          }
          partitions.push(yield* logs.deleteRecords(t.name, p.partitionIndex, offset).pipe(
            Effect.match({
              onFailure: (e) => failed(p.partitionIndex, errorCodeOf(e)),
              onSuccess: (low) => ({ partitionIndex: p.partitionIndex, lowWatermark: BigInt(low), errorCode: ErrorCode.NONE })
            })
          ))
        }
        results.push({ name: t.name, partitions })
      }
      return { throttleTimeMs: 0, topics: results } satisfies DeleteRecordsResponseInit
    }),
  errorResponse: (request, errorCode) => deleteRecordsErrorResponse(request, errorCode)
})
