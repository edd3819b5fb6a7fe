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
import { planCommit } from "./offset-commits.ts"
import { OffsetCommit } from "../protocol/generated/apis/OffsetCommit.ts"
import { Topics } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"

export const OffsetCommitHandler = defineHandler(OffsetCommit, {
  minVersion: 0,
  maxVersion: 9,
  handle: (request, ctx) =>
    Effect.gen(function*() {
      const topics = yield* Topics
      const coordinator = yield* GroupCoordinator
      const version = ctx.apiVersion
      const plan = planCommit(topics.image(), request.topics, (topic, p) => ({
        topic: topic.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: version >= 6 ? p.committedLeaderEpoch : -1,
        metadata: p.committedMetadata,
        commitTimestampMs: version === 1 ? Number(p.commitTimestamp) : -1,
        retentionTimeMs: version >= 2 && version <= 4 ? Number(request.retentionTimeMs) : -1
      }))
      const results = yield* coordinator.commitOffsets({
        groupId: request.groupId,
        generationId: version >= 1 ? request.generationIdOrMemberEpoch : -1,
        memberId: version >= 1 ? request.memberId : "",
        groupInstanceId: version >= 7 ? request.groupInstanceId : null,
        apiVersion: version,
        offsets: plan.offsets
      })
      return { throttleTimeMs: 0, topics: plan.answer(results) }
    })
})
