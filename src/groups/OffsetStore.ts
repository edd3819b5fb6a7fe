/**
 * Where committed consumer offsets live. The group coordinator validates a commit and then
 * hands the offsets to this store; OffsetFetch reads them back. The interface is the seam
 * for durability: the in-memory store here is the first implementation, a store over
 * `__consumer_offsets` can replace it without touching the coordinator (a commit is one
 * `put`, so a log-backed store appends it as one batch, atomically, as Kafka does).
 */
import { Context, Effect, Layer, Schema } from "effect"

/** One committed offset, as OffsetCommit stores it and OffsetFetch returns it. */
export interface CommittedOffset {
  readonly offset: bigint
  /** The leader epoch the consumer saw for the record before `offset` (-1 when unknown). */
  readonly leaderEpoch: number
  /** The client's metadata string ("" when the client sent none). */
  readonly metadata: string
  /** When the commit was made (or the timestamp an OffsetCommit v1 carried). */
  readonly commitTimestampMs: number
}

export interface TopicPartitionOffset {
  readonly topic: string
  readonly partition: number
  readonly committed: CommittedOffset
}

/** A store that could not take or read offsets; `errorCode` is what the response carries. */
export class OffsetStoreError extends Schema.TaggedError<OffsetStoreError>()("OffsetStoreError", {
  errorCode: Schema.Number,
  message: Schema.String
}) {}

export interface OffsetStoreShape {
  /** Stores the offsets of one commit request for one group, all or nothing. */
  readonly put: (groupId: string, offsets: ReadonlyArray<TopicPartitionOffset>) => Effect.Effect<void, OffsetStoreError>
  /** The committed offset of one partition, or undefined when there is none. */
  readonly get: (groupId: string, topic: string, partition: number) => Effect.Effect<CommittedOffset | undefined, OffsetStoreError>
  /** Every committed offset of a group, by topic then partition. */
  readonly list: (groupId: string) => Effect.Effect<ReadonlyArray<TopicPartitionOffset>, OffsetStoreError>
}

export class OffsetStore extends Context.Service<OffsetStore, OffsetStoreShape>()("kafka-broker/groups/OffsetStore") {
  /** Offsets in memory: lost on restart, like a broker without `__consumer_offsets`. */
  static readonly layerMemory: Layer.Layer<OffsetStore> = Layer.sync(OffsetStore, () => makeMemoryOffsetStore())
}

/** group -> topic -> partition -> offset */
export const makeMemoryOffsetStore = (): OffsetStoreShape => {
  const groups = new Map<string, Map<string, Map<number, CommittedOffset>>>()
  return OffsetStore.of({
    put: (groupId, offsets) =>
      Effect.sync(() => {
        if (offsets.length === 0) return
        let topics = groups.get(groupId)
        if (topics === undefined) {
          topics = new Map()
          groups.set(groupId, topics)
        }
        for (const { topic, partition, committed } of offsets) {
          let partitions = topics.get(topic)
          if (partitions === undefined) {
            partitions = new Map()
            topics.set(topic, partitions)
          }
          partitions.set(partition, committed)
        }
      }),
    get: (groupId, topic, partition) => Effect.sync(() => groups.get(groupId)?.get(topic)?.get(partition)),
    list: (groupId) =>
      Effect.sync(() => {
        const out: Array<TopicPartitionOffset> = []
        const topics = groups.get(groupId)
        if (topics === undefined) return out
        for (const [topic, partitions] of topics) {
          for (const partition of [...partitions.keys()].sort((a, b) => a - b)) {
            out.push({ topic, partition, committed: partitions.get(partition)! })
          }
        }
        return out
      })
  })
}
