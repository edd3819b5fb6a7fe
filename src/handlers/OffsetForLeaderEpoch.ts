/**
 * OffsetForLeaderEpoch (key 23), versions 0-4: for each partition, the end offset of the
 * requested leader epoch and the largest epoch at or below it, from the partition's
 * leader-epoch cache (the `leader-epoch-checkpoint` file), by Kafka's
 * LeaderEpochFileCache.endOffsetFor rules: the latest epoch ends at the log end offset; an
 * older epoch ends where the next one starts; unknown epochs are (-1, -1). Consumers
 * (librdkafka, the Java client) use it after a leader epoch change to detect truncation.
 *
 * current_leader_epoch (v2+) is checked against the partition's epoch as Fetch does:
 * older is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH; -1 skips the check.
 */
import { Effect } from "effect"
import { LogStore } from "../log/LogStore.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { OffsetForLeaderEpoch } from "../protocol/generated/apis/OffsetForLeaderEpoch.ts"
import type { OffsetForLeaderEpochRequest } from "../protocol/generated/message/OffsetForLeaderEpochRequest.ts"
import type { OffsetForLeaderEpochResponseEpochEndOffsetInit, OffsetForLeaderEpochResponseInit } from "../protocol/generated/message/OffsetForLeaderEpochResponse.ts"
import { Topics } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"

type EpochEndOffset = OffsetForLeaderEpochResponseEpochEndOffsetInit

const failed = (partition: number, errorCode: number): EpochEndOffset => ({ errorCode, partition, leaderEpoch: -1, endOffset: -1n })

export const offsetForLeaderEpochErrorResponse = (request: OffsetForLeaderEpochRequest, errorCode: number): OffsetForLeaderEpochResponseInit => ({
  throttleTimeMs: 0,
  topics: request.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => failed(p.partition, errorCode)) }))
})

export const OffsetForLeaderEpochHandler = defineHandler(OffsetForLeaderEpoch, {
  minVersion: 0,
  maxVersion: 4,
  handle: (request) =>
    Effect.gen(function*() {
      const topics = yield* Topics
      const logs = yield* LogStore
      const image = topics.image()
      return {
        throttleTimeMs: 0,
        topics: request.topics.map((t) => {
          const topic = image.topicsByName.get(t.topic)
          return {
            topic: t.topic,
            partitions: t.partitions.map((p): EpochEndOffset => {
              const partition = topic?.partitions.get(p.partition)
              const log = partition === undefined ? undefined : logs.findPartition(t.topic, p.partition)
              if (log?.isOffline === true) return failed(p.partition, ErrorCode.KAFKA_STORAGE_ERROR)
              if (partition === undefined || log === undefined || log.isClosed) return failed(p.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
              if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== partition.leaderEpoch) {
                return failed(p.partition, p.currentLeaderEpoch > partition.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH)
              }
              const { epoch, endOffset } = log.leaderEpochCache.endOffsetFor(p.leaderEpoch, log.logEndOffset)
              return { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: epoch, endOffset: BigInt(endOffset) }
            })
          }
        })
      } satisfies OffsetForLeaderEpochResponseInit
    }),
  errorResponse: (request, errorCode) => offsetForLeaderEpochErrorResponse(request, errorCode)
})
