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
import type { OffsetToCommit } from "../groups/types.ts"
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
      const image = topics.image()
      const version = ctx.apiVersion
      const codes: Array<Array<number>> = []
      const offsets: Array<OffsetToCommit> = []
      const slots: Array<readonly [number, number]> = []
      const groupError = request.groupId === "" ? ErrorCode.INVALID_GROUP_ID : ErrorCode.NONE
      request.topics.forEach((topic, t) => {
        const known = image.topicsByName.get(topic.name)
        codes.push(topic.partitions.map((p, i) => {
          if (groupError !== ErrorCode.NONE) return groupError
          if (known === undefined || !known.partitions.has(p.partitionIndex)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          offsets.push({
            topic: topic.name,
            partition: p.partitionIndex,
            offset: p.committedOffset,
            leaderEpoch: version >= 2 ? p.committedLeaderEpoch : -1,
            metadata: p.committedMetadata,
            commitTimestampMs: -1
          })
          slots.push([t, i])
          return ErrorCode.NONE
        }))
      })
      if (offsets.length > 0) {
        const results = yield* coordinator.commitTransactionalOffsets({
          groupId: request.groupId,
          generationId: version >= 3 ? request.generationId : -1,
          memberId: version >= 3 ? request.memberId : "",
          groupInstanceId: version >= 3 ? request.groupInstanceId : null,
          apiVersion: version,
          offsets,
          transactionalId: request.transactionalId,
          producerId: Number(request.producerId),
          producerEpoch: request.producerEpoch
        })
        results.forEach((code, k) => {
          const [t, i] = slots[k]!
          codes[t]![i] = code
        })
      }
      return {
        throttleTimeMs: 0,
        topics: request.topics.map((topic, t) => ({
          name: topic.name,
          partitions: topic.partitions.map((p, i) => ({ partitionIndex: p.partitionIndex, errorCode: codes[t]![i]! }))
        }))
      }
    })
})
