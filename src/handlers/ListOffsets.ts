/**
 * ListOffsets (key 2), versions 1-10: where a consumer should start reading.
 *
 * Per partition, by the requested timestamp:
 * - -1 LATEST: the high watermark (for read_committed the last stable offset, which is the
 *   high watermark here), with the partition's current leader epoch;
 * - -2 EARLIEST and -4 EARLIEST_LOCAL: the log start offset (all data is local);
 * - -3 MAX_TIMESTAMP (KIP-734): the record with the largest timestamp;
 * - -5 LATEST_TIERED: offset -1 (no tiered storage), as Kafka answers without it;
 * - any other value: the first offset whose timestamp is at or after it, or offset -1 and
 *   timestamp -1 when there is none.
 * leaderEpoch (v4+) is the epoch of the batch holding the returned offset.
 *
 * Every requested partition gets exactly one answer, in request order: unknown topics and
 * partitions get UNKNOWN_TOPIC_OR_PARTITION, and a partition named twice gets
 * INVALID_REQUEST for each occurrence, as Kafka does. Plain code in one Effect.
 */
import { Context, Effect } from "effect"
import {
  EARLIEST_LOCAL_TIMESTAMP,
  EARLIEST_TIMESTAMP,
  LATEST_TIERED_TIMESTAMP,
  LATEST_TIMESTAMP,
  LogStore,
  type LogStoreShape,
  MAX_TIMESTAMP,
  READ_COMMITTED
} from "../log/LogStore.ts"
import type { PartitionLog, TimestampAndOffset } from "../log/partition-log.ts"
import type { TopicImage } from "../metadata/image.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { ListOffsets } from "../protocol/generated/apis/ListOffsets.ts"
import type { ListOffsetsRequest } from "../protocol/generated/message/ListOffsetsRequest.ts"
import type {
  ListOffsetsResponseInit,
  ListOffsetsResponseListOffsetsPartitionResponseInit
} from "../protocol/generated/message/ListOffsetsResponse.ts"
import { Topics, type TopicsShape } from "../topics/Topics.ts"
import { isUnexpected, kafkaErrorOf } from "./errors.ts"
import { defineHandler } from "./handler.ts"

export const LIST_OFFSETS_MIN_VERSION = 1
export const LIST_OFFSETS_MAX_VERSION = 10
/** First version with leader_epoch in the response. */
const LEADER_EPOCH_VERSION = 4

type PartitionResponse = ListOffsetsResponseListOffsetsPartitionResponseInit

const partitionError = (partitionIndex: number, errorCode: number): PartitionResponse => ({
  partitionIndex,
  errorCode,
  timestamp: -1n,
  offset: -1n
})

/** The same error for every partition (unsupported versions). */
export const listOffsetsErrorResponse = (request: ListOffsetsRequest, errorCode: number): ListOffsetsResponseInit => ({
  throttleTimeMs: 0,
  topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => partitionError(p.partitionIndex, errorCode)) }))
})

/** Kafka's epochForOffset: the epoch of the latest leader-epoch entry starting at or before `offset`. */
const epochForOffset = (log: PartitionLog, offset: number): number => {
  if (offset < 0) return -1
  const entries = log.leaderEpochCache.all()
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!
    if (e.startOffset <= offset) return e.epoch
  }
  return -1
}

interface Lookup extends TimestampAndOffset {
  readonly leaderEpoch: number
}

const NOT_FOUND: Lookup = { offset: -1, timestamp: -1, leaderEpoch: -1 }

/** One partition's answer; throws what the log throws. */
const lookup = (log: PartitionLog, timestamp: number, currentLeaderEpoch: number, readCommitted: boolean): Lookup => {
  // Kafka's lastFetchableOffset: read_committed consumers see up to the last stable offset.
  const lastFetchable = readCommitted ? log.lastStableOffset : log.highWatermark
  switch (timestamp) {
    case LATEST_TIMESTAMP:
      return { offset: lastFetchable, timestamp: -1, leaderEpoch: currentLeaderEpoch }
    case EARLIEST_TIMESTAMP:
    case EARLIEST_LOCAL_TIMESTAMP:
      return { offset: log.logStartOffset, timestamp: -1, leaderEpoch: epochForOffset(log, log.logStartOffset) }
    case LATEST_TIERED_TIMESTAMP:
      return NOT_FOUND
    case MAX_TIMESTAMP: {
      const found = log.maxTimestampOffset()
      return found === null ? NOT_FOUND : { ...found, leaderEpoch: epochForOffset(log, found.offset) }
    }
    default: {
      const found = log.offsetForTimestamp(timestamp)
      return found === null || found.offset >= lastFetchable ? NOT_FOUND : { ...found, leaderEpoch: epochForOffset(log, found.offset) }
    }
  }
}

export interface ListOffsetsOutcome {
  readonly response: ListOffsetsResponseInit
  readonly unexpected: ReadonlyArray<unknown>
}

/** The whole request as plain code. */
export const listOffsets = (logs: LogStoreShape, topics: TopicsShape, request: ListOffsetsRequest, version: number): ListOffsetsOutcome => {
  const image = topics.image()
  const unexpected: Array<unknown> = []
  // Partitions named more than once in the request (topic NUL partition).
  const seen = new Set<string>()
  const duplicates = new Set<string>()
  for (const t of request.topics) {
    for (const p of t.partitions) {
      const key = `${t.name}\u0000${p.partitionIndex}`
      if (seen.has(key)) duplicates.add(key)
      else seen.add(key)
    }
  }
  const withEpoch = version >= LEADER_EPOCH_VERSION
  const responseTopics = request.topics.map((t) => {
    const topic: TopicImage | undefined = image.topicsByName.get(t.name)
    const partitions = t.partitions.map((p): PartitionResponse => {
      const index = p.partitionIndex
      if (duplicates.size > 0 && duplicates.has(`${t.name}\u0000${index}`)) return partitionError(index, ErrorCode.INVALID_REQUEST)
      const partition = topic?.partitions.get(index)
      const log = partition === undefined ? undefined : logs.findPartition(t.name, index)
      if (log?.isOffline === true) return partitionError(index, ErrorCode.KAFKA_STORAGE_ERROR)
      if (partition === undefined || log === undefined || log.isClosed) return partitionError(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== partition.leaderEpoch) {
        return partitionError(index, p.currentLeaderEpoch > partition.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH)
      }
      try {
        const found = lookup(log, Number(p.timestamp), partition.leaderEpoch, version >= 2 && request.isolationLevel === READ_COMMITTED)
        return {
          partitionIndex: index,
          errorCode: ErrorCode.NONE,
          timestamp: BigInt(found.timestamp),
          offset: BigInt(found.offset),
          ...(withEpoch ? { leaderEpoch: found.leaderEpoch } : {})
        }
      } catch (e) {
        if (isUnexpected(e)) unexpected.push(e)
        return partitionError(index, kafkaErrorOf(e).errorCode)
      }
    })
    return { name: t.name, partitions }
  })
  return { response: { throttleTimeMs: 0, topics: responseTopics }, unexpected }
}

export const ListOffsetsHandler = defineHandler(ListOffsets, {
  minVersion: LIST_OFFSETS_MIN_VERSION,
  maxVersion: LIST_OFFSETS_MAX_VERSION,
  handle: (request, ctx) =>
    Effect.contextWith((services: Context.Context<LogStore | Topics>) => {
      const outcome = listOffsets(Context.get(services, LogStore), Context.get(services, Topics), request, ctx.apiVersion)
      if (outcome.unexpected.length === 0) return Effect.succeed(outcome.response)
      return Effect.as(
        Effect.forEach(outcome.unexpected, (e) => Effect.logError("list offsets failed unexpectedly", e), { discard: true }),
        outcome.response
      )
    }),
  errorResponse: (request, errorCode) => listOffsetsErrorResponse(request, errorCode)
})
