/**
 * OffsetFetch (key 9), v0-v9: committed offsets of a group (v0-v7) or of several groups
 * (v8+), for the named partitions or, with topics null (v2+), for every partition the group
 * committed. A partition without a committed offset answers offset -1 and no error, as does
 * an unknown group. With require_stable (v7+), a partition whose offset is pending in an open
 * transaction answers UNSTABLE_OFFSET_COMMIT (the client retries), as Kafka does. v9 names the
 * member (id and epoch) of a KIP-848 consumer group, checked as Kafka checks it
 * (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID for the group).
 */
import { Effect } from "effect"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import type { FetchOffsetsResult, FetchOffsetsTopic } from "../groups/types.ts"
import { OffsetFetch } from "../protocol/generated/apis/OffsetFetch.ts"
import type { OffsetFetchResponseInit } from "../protocol/generated/message/OffsetFetchResponse.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { defineHandler } from "./handler.ts"

const requestedTopics = (
  topics: ReadonlyArray<{ readonly name: string; readonly partitionIndexes: ReadonlyArray<number> }> | null
): ReadonlyArray<FetchOffsetsTopic> | null => topics === null ? null : topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes }))

const topicsOf = (result: FetchOffsetsResult, version: number) =>
  result.topics.map((t) => ({
    name: t.topic,
    partitions: t.partitions.map((p) => ({
      partitionIndex: p.partition,
      committedOffset: p.offset,
      committedLeaderEpoch: p.leaderEpoch,
      metadata: p.metadata,
      // v0-v1 have no group-level error: each partition carries it.
      errorCode: version < 2 && p.errorCode === ErrorCode.NONE ? result.errorCode : p.errorCode
    }))
  }))

export const OffsetFetchHandler = defineHandler(OffsetFetch, {
  minVersion: 0,
  maxVersion: 9,
  handle: (request, ctx): Effect.Effect<OffsetFetchResponseInit, never, GroupCoordinator> =>
    GroupCoordinator.use((coordinator): Effect.Effect<OffsetFetchResponseInit> => {
      const version = ctx.apiVersion
      if (version >= 8) {
        return Effect.forEach(request.groups, (group) =>
          coordinator.fetchOffsets(
            group.groupId,
            requestedTopics(group.topics),
            request.requireStable,
            version >= 9 ? { memberId: group.memberId, memberEpoch: group.memberEpoch } : undefined
          ).pipe(
            Effect.map((result) => ({ groupId: group.groupId, errorCode: result.errorCode, topics: topicsOf(result, version) }))
          )).pipe(Effect.map((groups) => ({ throttleTimeMs: 0, groups })))
      }
      // v0-v1 cannot ask for "all topics" (null is a v2+ form).
      return coordinator.fetchOffsets(request.groupId, requestedTopics(version >= 2 ? request.topics : request.topics ?? []), version >= 7 && request.requireStable).pipe(
        Effect.map((result) => ({ throttleTimeMs: 0, errorCode: result.errorCode, topics: topicsOf(result, version) }))
      )
    })
})
