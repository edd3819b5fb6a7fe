/**
 * Where committed consumer offsets live. The group coordinator validates a commit and then
 * hands the offsets to this store; OffsetFetch reads them back. Every change is first
 * appended to the GroupLog as OffsetCommit records (one batch per request, so a commit is
 * all or nothing, as in Kafka) and only then made visible: a commit is acknowledged only
 * once its records are in `__consumer_offsets`.
 *
 * Transactional offsets (TxnOffsetCommit) are appended as a transactional batch of their
 * producer and kept pending, invisible to OffsetFetch, until the transaction coordinator
 * reports the transaction's outcome (its markers are then in the log): committed ones
 * become the group's offsets, aborted ones are dropped. At start-up the GroupCoordinator
 * replays the log through `replayOffset` / `replayMarker`, which rebuild the same state.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { offsetCommitRecord, type CoordinatorRecord } from "./coordinator-records.ts"
import { GroupLog, type GroupLogError, type GroupLogShape, type TxnProducer } from "./GroupLog.ts"

/** One committed offset, as OffsetCommit stores it and OffsetFetch returns it. */
export interface CommittedOffset {
  readonly offset: bigint
  /** The leader epoch the consumer saw for the record before `offset` (-1 when unknown). */
  readonly leaderEpoch: number
  /** The client's metadata string ("" when the client sent none). */
  readonly metadata: string
  /** When the commit was made (or the timestamp an OffsetCommit v1 carried). */
  readonly commitTimestampMs: number
  /** An explicit expiry time (OffsetCommit v2-v4 retention_time, value v1 records); -1 = none. */
  readonly expireTimestampMs?: number
}

export interface TopicPartitionOffset {
  readonly topic: string
  readonly partition: number
  readonly committed: CommittedOffset
}

export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

/** A store that could not take or read offsets; `errorCode` is what the response carries. */
export class OffsetStoreError extends Schema.TaggedError<OffsetStoreError>()("OffsetStoreError", {
  errorCode: Schema.Number,
  message: Schema.String
}) {}

export interface OffsetStoreShape {
  /** Stores the offsets of one commit request for one group, all or nothing. */
  readonly put: (groupId: string, offsets: ReadonlyArray<TopicPartitionOffset>) => Effect.Effect<void, OffsetStoreError>
  /** Stores transactional offsets of `producer`, pending until completeTransaction. */
  readonly putPending: (groupId: string, producer: TxnProducer, offsets: ReadonlyArray<TopicPartitionOffset>) => Effect.Effect<void, OffsetStoreError>
  /**
   * The transaction of `producerId` ended and its markers are in the `__consumer_offsets`
   * partitions `logPartitions`: its pending offsets there are materialized or dropped.
   */
  readonly completeTransaction: (producerId: number, logPartitions: ReadonlyArray<number>, commit: boolean) => Effect.Effect<void>
  /**
   * Writes tombstones for the partitions that have an offset (committed or pending) and
   * `extra` records of the group in the same batch, then forgets the committed offsets.
   */
  readonly remove: (groupId: string, partitions: ReadonlyArray<TopicPartition>, extra?: ReadonlyArray<CoordinatorRecord>) => Effect.Effect<void, OffsetStoreError>
  /** The committed offset of one partition, or undefined when there is none. */
  readonly get: (groupId: string, topic: string, partition: number) => Effect.Effect<CommittedOffset | undefined, OffsetStoreError>
  /** Every committed offset of a group, by topic then partition. */
  readonly list: (groupId: string) => Effect.Effect<ReadonlyArray<TopicPartitionOffset>, OffsetStoreError>
  /** Whether a transaction holds a pending offset for the partition (OffsetFetch require_stable). */
  readonly hasPending: (groupId: string, topic: string, partition: number) => boolean
  /** Pending transactional offsets of the group, every partition. */
  readonly pendingPartitions: (groupId: string) => ReadonlyArray<TopicPartition>
  /** Whether any transaction holds pending offsets for the group. */
  readonly hasOpenTransactions: (groupId: string) => boolean
  /** Groups with committed offsets. */
  readonly groupIds: () => ReadonlyArray<string>
  /** Start-up replay of one OffsetCommit record (value null = tombstone); producerId -1 unless transactional. */
  readonly replayOffset: (logPartition: number, producerId: number, groupId: string, topic: string, partition: number, committed: CommittedOffset | null) => void
  /** Start-up replay of a transaction marker. */
  readonly replayMarker: (logPartition: number, producerId: number, commit: boolean) => void
}

export class OffsetStore extends Context.Service<OffsetStore, OffsetStoreShape>()("kafka-broker/groups/OffsetStore") {
  /** Offsets over the GroupLog (durable when the GroupLog is). */
  static readonly layer: Layer.Layer<OffsetStore, never, GroupLog> = Layer.effect(
    OffsetStore,
    Effect.gen(function*() {
      return makeOffsetStore(yield* GroupLog)
    })
  )
  /** Offsets over an in-memory GroupLog: lost on restart, like a broker without `__consumer_offsets`. */
  static readonly layerMemory: Layer.Layer<OffsetStore> = OffsetStore.layer.pipe(Layer.provide(GroupLog.layerMemory()))
}

/** group -> topic -> partition -> offset */
type OffsetMap = Map<string, Map<string, Map<number, CommittedOffset>>>

const setOffset = (map: OffsetMap, groupId: string, topic: string, partition: number, committed: CommittedOffset): void => {
  let topics = map.get(groupId)
  if (topics === undefined) map.set(groupId, (topics = new Map()))
  let partitions = topics.get(topic)
  if (partitions === undefined) topics.set(topic, (partitions = new Map()))
  partitions.set(partition, committed)
}

const deleteOffset = (map: OffsetMap, groupId: string, topic: string, partition: number): void => {
  const topics = map.get(groupId)
  const partitions = topics?.get(topic)
  if (partitions === undefined) return
  partitions.delete(partition)
  if (partitions.size === 0) topics!.delete(topic)
  if (topics!.size === 0) map.delete(groupId)
}

const hasOffset = (map: OffsetMap, groupId: string, topic: string, partition: number): boolean =>
  map.get(groupId)?.get(topic)?.has(partition) ?? false

const toStoreError = (e: GroupLogError) => new OffsetStoreError({ errorCode: e.errorCode, message: e.message })

const valueOf = (c: CommittedOffset) => ({
  offset: c.offset,
  leaderEpoch: c.leaderEpoch,
  metadata: c.metadata,
  commitTimestamp: BigInt(c.commitTimestampMs),
  expireTimestamp: BigInt(c.expireTimestampMs ?? -1)
})

export const makeOffsetStore = (log: GroupLogShape): OffsetStoreShape => {
  const committed: OffsetMap = new Map()
  /** producer id -> `__consumer_offsets` partition -> its pending offsets there */
  const pending = new Map<number, Map<number, OffsetMap>>()

  const pendingOf = (producerId: number, logPartition: number): OffsetMap => {
    let byPartition = pending.get(producerId)
    if (byPartition === undefined) pending.set(producerId, (byPartition = new Map()))
    let offsets = byPartition.get(logPartition)
    if (offsets === undefined) byPartition.set(logPartition, (offsets = new Map()))
    return offsets
  }

  const resolve = (producerId: number, logPartition: number, commit: boolean): void => {
    const byPartition = pending.get(producerId)
    const offsets = byPartition?.get(logPartition)
    if (offsets === undefined) return
    byPartition!.delete(logPartition)
    if (byPartition!.size === 0) pending.delete(producerId)
    if (!commit) return
    for (const [groupId, topics] of offsets) {
      for (const [topic, partitions] of topics) {
        for (const [partition, c] of partitions) setOffset(committed, groupId, topic, partition, c)
      }
    }
  }

  const hasPending = (groupId: string, topic: string, partition: number): boolean => {
    for (const byPartition of pending.values()) {
      for (const offsets of byPartition.values()) if (hasOffset(offsets, groupId, topic, partition)) return true
    }
    return false
  }

  const pendingPartitions = (groupId: string): ReadonlyArray<TopicPartition> => {
    const out: Array<TopicPartition> = []
    for (const byPartition of pending.values()) {
      for (const offsets of byPartition.values()) {
        for (const [topic, partitions] of offsets.get(groupId) ?? []) for (const partition of partitions.keys()) out.push({ topic, partition })
      }
    }
    return out
  }

  return OffsetStore.of({
    put: (groupId, offsets) =>
      offsets.length === 0
        ? Effect.void
        : log.append(groupId, offsets.map((o) => offsetCommitRecord(groupId, o.topic, o.partition, valueOf(o.committed)))).pipe(
          Effect.mapError(toStoreError),
          Effect.andThen(Effect.sync(() => {
            for (const o of offsets) setOffset(committed, groupId, o.topic, o.partition, o.committed)
          }))
        ),
    putPending: (groupId, producer, offsets) =>
      offsets.length === 0
        ? Effect.void
        : log.append(groupId, offsets.map((o) => offsetCommitRecord(groupId, o.topic, o.partition, valueOf(o.committed))), producer).pipe(
          Effect.mapError(toStoreError),
          Effect.andThen(Effect.sync(() => {
            const target = pendingOf(producer.producerId, log.partitionFor(groupId))
            for (const o of offsets) setOffset(target, groupId, o.topic, o.partition, o.committed)
          }))
        ),
    completeTransaction: (producerId, logPartitions, commit) =>
      Effect.sync(() => {
        for (const p of logPartitions) resolve(producerId, p, commit)
      }),
    remove: (groupId, partitions, extra = []) =>
      Effect.suspend(() => {
        const doomed = partitions.filter((tp) => hasOffset(committed, groupId, tp.topic, tp.partition) || hasPending(groupId, tp.topic, tp.partition))
        const records = [...doomed.map((tp) => offsetCommitRecord(groupId, tp.topic, tp.partition, null)), ...extra]
        if (records.length === 0) return Effect.void
        return log.append(groupId, records).pipe(
          Effect.mapError(toStoreError),
          Effect.andThen(Effect.sync(() => {
            for (const tp of doomed) deleteOffset(committed, groupId, tp.topic, tp.partition)
          }))
        )
      }),
    get: (groupId, topic, partition) => Effect.sync(() => committed.get(groupId)?.get(topic)?.get(partition)),
    list: (groupId) =>
      Effect.sync(() => {
        const out: Array<TopicPartitionOffset> = []
        const topics = committed.get(groupId)
        if (topics === undefined) return out
        for (const [topic, partitions] of topics) {
          for (const partition of [...partitions.keys()].sort((a, b) => a - b)) {
            out.push({ topic, partition, committed: partitions.get(partition)! })
          }
        }
        return out
      }),
    hasPending,
    pendingPartitions,
    hasOpenTransactions: (groupId) => {
      for (const byPartition of pending.values()) for (const offsets of byPartition.values()) if (offsets.has(groupId)) return true
      return false
    },
    groupIds: () => [...committed.keys()],
    replayOffset: (logPartition, producerId, groupId, topic, partition, value) => {
      if (producerId >= 0) {
        // A tombstone in a transactional batch is not something Kafka writes; only values are pending.
        if (value !== null) setOffset(pendingOf(producerId, logPartition), groupId, topic, partition, value)
        return
      }
      if (value === null) deleteOffset(committed, groupId, topic, partition)
      else setOffset(committed, groupId, topic, partition, value)
    },
    replayMarker: (logPartition, producerId, commit) => resolve(producerId, logPartition, commit)
  })
}
