/**
 * DescribeProducers (key 61), v0 (KIP-664): the active producers of each partition, from the
 * partition's producer state (producer id, epoch, last sequence and timestamp, the
 * coordinator epoch of its last marker, and the first offset of its open transaction or -1).
 * An invalid topic name gets INVALID_TOPIC_EXCEPTION, an unknown topic or partition
 * UNKNOWN_TOPIC_OR_PARTITION, per partition, as in Kafka.
 */
import { Effect } from "effect"
import { LogStore } from "../log/LogStore.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { DescribeProducers } from "../protocol/generated/apis/DescribeProducers.ts"
import type { DescribeProducersResponseInit, DescribeProducersResponsePartitionResponseInit } from "../protocol/generated/message/DescribeProducersResponse.ts"
import { topicNameError, Topics } from "../topics/Topics.ts"
import { defaultMessageOf } from "./errors.ts"
import { defineHandler } from "./handler.ts"

const partitionError = (partitionIndex: number, errorCode: number, errorMessage: string | null): DescribeProducersResponsePartitionResponseInit => ({
  partitionIndex,
  errorCode,
  errorMessage,
  activeProducers: []
})

const unknownPartition = (p: number) => partitionError(p, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, defaultMessageOf(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))

export const DescribeProducersHandler = defineHandler(DescribeProducers, {
  minVersion: 0,
  maxVersion: 0,
  handle: (request) =>
    Effect.gen(function*() {
      const topics = yield* Topics
      const logs = yield* LogStore
      const image = topics.image()
      const topicsOut = yield* Effect.forEach(request.topics, (t) => {
        const nameError = topicNameError(t.name)
        const topic = image.topicsByName.get(t.name)
        return Effect.map(
          Effect.forEach(t.partitionIndexes, (p): Effect.Effect<DescribeProducersResponsePartitionResponseInit> => {
            if (nameError !== undefined) return Effect.succeed(partitionError(p, ErrorCode.INVALID_TOPIC_EXCEPTION, nameError))
            if (topic?.partitions.has(p) !== true) return Effect.succeed(unknownPartition(p))
            return logs.activeProducers(t.name, p).pipe(
              Effect.map((producers) => ({
                partitionIndex: p,
                errorCode: ErrorCode.NONE,
                errorMessage: null,
                activeProducers: producers.map((s) => ({
                  producerId: BigInt(s.producerId),
                  producerEpoch: s.producerEpoch,
                  lastSequence: s.lastSequence,
                  lastTimestamp: BigInt(s.lastTimestamp),
                  coordinatorEpoch: s.coordinatorEpoch,
                  currentTxnStartOffset: BigInt(s.currentTxnStartOffset)
                }))
              })),
              Effect.catchTag("PartitionNotFound", () => Effect.succeed(unknownPartition(p)))
            )
          }),
          (partitions) => ({ name: t.name, partitions })
        )
      })
      return {
        throttleTimeMs: 0,
        topics: topicsOut
      } satisfies DescribeProducersResponseInit
    }),
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((p) => partitionError(p, errorCode, null)) }))
  })
})
