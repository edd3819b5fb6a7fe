/**
 * OffsetCommit (key 8), v0-v9: a consumer (generation and member id of its group) or a
 * tool outside group management (generation -1, accepted while the group has no members)
 * stores committed offsets. Partitions of topics this broker does not have are answered
 * UNKNOWN_TOPIC_OR_PARTITION; the rest go to the group coordinator, whose group-level
 * verdict (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, ...) every
 * partition carries. For a KIP-848 consumer group, generation_id_or_member_epoch is the
 * member epoch (STALE_MEMBER_EPOCH when it moved on; members must use v9).
 */
import { Effect } from "effect"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import type { OffsetToCommit } from "../groups/types.ts"
import { OffsetCommit } from "../protocol/generated/apis/OffsetCommit.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { Topics } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"

export const OffsetCommitHandler = defineHandler(OffsetCommit, {
  minVersion: 0,
  maxVersion: 9,
  handle: (request, ctx) =>
    Effect.gen(function*() {
      const topics = yield* Topics
      const coordinator = yield* GroupCoordinator
      const image = topics.image()
      const version = ctx.apiVersion
      // Every requested partition, in request order, with its error or its place in the commit.
      const codes: Array<Array<number>> = []
      const offsets: Array<OffsetToCommit> = []
      const slots: Array<readonly [number, number]> = []
      request.topics.forEach((topic, t) => {
        const known = image.topicsByName.get(topic.name)
        codes.push(topic.partitions.map((p, i) => {
          if (known === undefined || !known.partitions.has(p.partitionIndex)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          offsets.push({
            topic: topic.name,
            partition: p.partitionIndex,
            offset: p.committedOffset,
            leaderEpoch: version >= 6 ? p.committedLeaderEpoch : -1,
            metadata: p.committedMetadata,
            commitTimestampMs: version === 1 ? Number(p.commitTimestamp) : -1,
            retentionTimeMs: version >= 2 && version <= 4 ? Number(request.retentionTimeMs) : -1
          })
          slots.push([t, i])
          return ErrorCode.NONE
        }))
      })
      const results = yield* coordinator.commitOffsets({
        groupId: request.groupId,
        generationId: version >= 1 ? request.generationIdOrMemberEpoch : -1,
        memberId: version >= 1 ? request.memberId : "",
        groupInstanceId: version >= 7 ? request.groupInstanceId : null,
        apiVersion: version,
        offsets
      })
      results.forEach((code, k) => {
        const [t, i] = slots[k]!
        codes[t]![i] = code
      })
      return {
        throttleTimeMs: 0,
        topics: request.topics.map((topic, t) => ({
          name: topic.name,
          partitions: topic.partitions.map((p, i) => ({ partitionIndex: p.partitionIndex, errorCode: codes[t]![i]! }))
        }))
      }
    })
})
