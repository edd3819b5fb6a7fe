/**
 * OffsetDelete (key 47), v0: removes a group's committed offsets of some partitions. A group
 * with members answers NON_EMPTY_GROUP (classic groups), an unknown group GROUP_ID_NOT_FOUND;
 * partitions of a topic the group's consumers subscribe to answer GROUP_SUBSCRIBED_TO_TOPIC,
 * partitions this broker does not have UNKNOWN_TOPIC_OR_PARTITION.
 */
import { Effect } from "effect"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import type { TopicPartition } from "../groups/OffsetStore.ts"
import { OffsetDelete } from "../protocol/generated/apis/OffsetDelete.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { Topics } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"

export const OffsetDeleteHandler = defineHandler(OffsetDelete, {
  minVersion: 0,
  maxVersion: 0,
  handle: (request) =>
    Effect.gen(function*() {
      const topics = yield* Topics
      const coordinator = yield* GroupCoordinator
      const image = topics.image()
      const codes: Array<Array<number>> = []
      const known: Array<TopicPartition> = []
      const slots: Array<readonly [number, number]> = []
      request.topics.forEach((topic, t) => {
        const meta = image.topicsByName.get(topic.name)
        codes.push(topic.partitions.map((p, i) => {
          if (meta === undefined || !meta.partitions.has(p.partitionIndex)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          known.push({ topic: topic.name, partition: p.partitionIndex })
          slots.push([t, i])
          return ErrorCode.NONE
        }))
      })
      const result = yield* coordinator.deleteOffsets(request.groupId, known)
      if (result.errorCode !== ErrorCode.NONE) return { errorCode: result.errorCode, throttleTimeMs: 0, topics: [] }
      result.partitions.forEach((code, k) => {
        const [t, i] = slots[k]!
        codes[t]![i] = code
      })
      return {
        errorCode: ErrorCode.NONE,
        throttleTimeMs: 0,
        topics: request.topics.map((topic, t) => ({
          name: topic.name,
          partitions: topic.partitions.map((p, i) => ({ partitionIndex: p.partitionIndex, errorCode: codes[t]![i]! }))
        }))
      }
    }),
  errorResponse: (_request, errorCode) => ({ errorCode, throttleTimeMs: 0, topics: [] })
})
