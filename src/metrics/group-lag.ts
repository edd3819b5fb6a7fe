/**
 * A consumer group's committed offsets against the partitions' high watermarks: the lag an
 * operator watches. Shared by /metrics and the console's API.
 */
import { Effect } from "effect"
import type { GroupCoordinatorShape } from "../groups/GroupCoordinator.ts"
import type { LogStoreShape } from "../log/LogStore.ts"

export interface PartitionLag {
  readonly topic: string
  readonly partition: number
  /** -1 when nothing was committed. */
  readonly committed: number
  readonly highWatermark: number
  /** High watermark minus committed offset (never negative); the whole partition when nothing was committed. */
  readonly lag: number
}

export const groupLag = (groups: GroupCoordinatorShape, logs: LogStoreShape, groupId: string): Effect.Effect<ReadonlyArray<PartitionLag>> =>
  Effect.map(groups.fetchOffsets(groupId, null), (result) => {
    const lags: Array<PartitionLag> = []
    for (const t of result.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== 0) continue
        const log = logs.findPartition(t.topic, p.partition)
        const highWatermark = log?.highWatermark ?? 0
        const committed = Number(p.offset)
        const from = committed >= 0 ? committed : (log?.logStartOffset ?? 0)
        lags.push({ topic: t.topic, partition: p.partition, committed, highWatermark, lag: Math.max(0, highWatermark - from) })
      }
    }
    lags.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
    return lags
  })
