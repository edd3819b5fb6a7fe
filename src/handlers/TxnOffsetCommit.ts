/**
 * TxnOffsetCommit (key 28), v0-v4: a transactional producer commits a consumer group's
 * offsets as part of its transaction (sendOffsetsToTransaction). They are written to
 * `__consumer_offsets` as a transactional batch of the producer and stay pending (invisible
 * to OffsetFetch) until the transaction coordinator ends the transaction. v3+ carry the
 * consumer's generation and member id, checked as for OffsetCommit (ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID) but without the group-state checks.
 */
import { Effect } from "effect"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { planCommit } from "./offset-commits.ts"
import { TxnOffsetCommit } from "../protocol/generated/apis/TxnOffsetCommit.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { Topics } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"

export const TxnOffsetCommitHandler = defineHandler(TxnOffsetCommit, {
  minVersion: 0,
  maxVersion: 4,
  handle: (request, ctx) =>
    Effect.gen(function*() {
      const topics = yield* Topics
      const coordinator = yield* GroupCoordinator
      const version = ctx.apiVersion
      const plan = planCommit(topics.image(), request.topics, (topic, p) => ({
        topic: topic.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: version >= 2 ? p.committedLeaderEpoch : -1,
        metadata: p.committedMetadata,
        commitTimestampMs: -1
      }), request.groupId === "" ? ErrorCode.INVALID_GROUP_ID : ErrorCode.NONE)
      const results = plan.offsets.length === 0 ? [] : yield* coordinator.commitTransactionalOffsets({
        groupId: request.groupId,
        generationId: version >= 3 ? request.generationId : -1,
        memberId: version >= 3 ? request.memberId : "",
        groupInstanceId: version >= 3 ? request.groupInstanceId : null,
        apiVersion: version,
        offsets: plan.offsets,
        transactionalId: request.transactionalId,
        producerId: Number(request.producerId),
        producerEpoch: request.producerEpoch
      })
      return { throttleTimeMs: 0, topics: plan.answer(results) }
    })
})
