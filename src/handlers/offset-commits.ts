/**
 * What OffsetCommit and TxnOffsetCommit share: every requested partition, in request order,
 * gets either an error of its own (unknown topic or partition, or an error for the whole
 * request) or a place in the commit handed to the coordinator, whose per-offset answers are
 * then put back in request order.
 */
import type { OffsetToCommit } from "../groups/types.ts"
import type { MetadataImage } from "../metadata/image.ts"
import { ErrorCode } from "../protocol/error-codes.ts"

interface RequestedTopic {
  readonly name: string
  readonly partitions: ReadonlyArray<{ readonly partitionIndex: number }>
}

export interface CommitPlan {
  /** The offsets to hand to the coordinator. */
  readonly offsets: ReadonlyArray<OffsetToCommit>
  /** The response's topics, given the coordinator's error code per offset (in `offsets` order). */
  readonly answer: (results: ReadonlyArray<number>) => Array<{
    name: string
    partitions: Array<{ partitionIndex: number; errorCode: number }>
  }>
}

export const planCommit = <T extends RequestedTopic>(
  image: MetadataImage,
  topics: ReadonlyArray<T>,
  toOffset: (topic: T, partition: T["partitions"][number]) => OffsetToCommit,
  requestError: number = ErrorCode.NONE
): CommitPlan => {
  const codes: Array<Array<number>> = []
  const offsets: Array<OffsetToCommit> = []
  const slots: Array<readonly [number, number]> = []
  topics.forEach((topic, t) => {
    const known = image.topicsByName.get(topic.name)
    codes.push(topic.partitions.map((p, i) => {
      if (requestError !== ErrorCode.NONE) return requestError
      if (known === undefined || !known.partitions.has(p.partitionIndex)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
      offsets.push(toOffset(topic, p))
      slots.push([t, i])
      return ErrorCode.NONE
    }))
  })
  return {
    offsets,
    answer: (results) => {
      results.forEach((code, k) => {
        const [t, i] = slots[k]!
        codes[t]![i] = code
      })
      return topics.map((topic, t) => ({
        name: topic.name,
        partitions: topic.partitions.map((p, i) => ({ partitionIndex: p.partitionIndex, errorCode: codes[t]![i]! }))
      }))
    }
  }
}
