/**
 * The GroupLog service: where group coordinators keep their state, as coordinator records in
 * `__consumer_offsets`. It knows nothing about what the records mean: a coordinator appends
 * "these records for group G" (one batch, in the partition Kafka computes for G, optionally
 * as a transactional batch of a producer), and at start-up replays every partition, handing
 * each record, and each transaction marker, to a handler in log order.
 *
 * The log-backed layer creates the topic on first use with Kafka's configs
 * (cleanup.policy=compact, compression.type=producer, segment.bytes=offsets.topic.segment.bytes);
 * a topic found in the metadata image keeps its partition count, as in Kafka. The in-memory
 * layer keeps the entries in a list (tests replay it to simulate a restart). A cluster mode
 * swaps this service.
 *
 * Other coordinators (KIP-848 consumer groups) use it the same way: append their
 * ConsumerGroup* records for a group id, and at start-up call `replay` with a handler that
 * picks the record types it owns (coordinator-records.ts `recordTypeOf`); replay only reads,
 * so each owner may run its own pass.
 */
import { Clock, Context, Effect, Layer, Schema, Semaphore } from "effect"
import { Config } from "../config/Config.ts"
import { CONSUMER_OFFSETS_TOPIC, coordinatorPartitionFor } from "../coordinator/internal-topics.ts"
import { LogStore } from "../log/LogStore.ts"
import { readTxnMarker } from "../log/control-records.ts"
import { buildRecordBatch, COMPRESSION_NONE, LOG_OVERHEAD, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, readBatchHeader, readRecords, viewOf, batchSizeAt } from "../log/record-batch.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { Topics } from "../topics/Topics.ts"
import type { CoordinatorRecord } from "./coordinator-records.ts"

export const OFFSETS_TOPIC_DEFAULTS = {
  numPartitions: 50,
  segmentBytes: 104_857_600
} as const

/** The producer of a transactional batch (TxnOffsetCommit). */
export interface TxnProducer {
  readonly producerId: number
  readonly producerEpoch: number
}

export type ReplayedEntry =
  | {
    readonly _tag: "Record"
    readonly partition: number
    readonly offset: number
    readonly timestamp: number
    readonly record: CoordinatorRecord
    /** The producer of a transactional batch; -1 for ordinary coordinator writes. */
    readonly producerId: number
  }
  | {
    readonly _tag: "Marker"
    readonly partition: number
    readonly offset: number
    readonly producerId: number
    readonly commit: boolean
  }

/** An append that did not happen; `errorCode` is what the request that caused it answers. */
export class GroupLogError extends Schema.TaggedError<GroupLogError>()("GroupLogError", {
  errorCode: Schema.Number,
  message: Schema.String
}) {}

export interface GroupLogShape {
  readonly numPartitions: number
  /** The `__consumer_offsets` partition of a group. */
  readonly partitionFor: (groupId: string) => number
  /** Appends the records as one batch to the group's partition; succeeds once they are in the log. */
  readonly append: (groupId: string, records: ReadonlyArray<CoordinatorRecord>, producer?: TxnProducer) => Effect.Effect<void, GroupLogError>
  /** Hands every record and marker of every partition to `handler`, partition by partition, in offset order. */
  readonly replay: (handler: (entry: ReplayedEntry) => void) => Effect.Effect<void, GroupLogError>
}

export interface GroupLogOptions {
  /** offsets.topic.num.partitions */
  readonly numPartitions?: number
  /** offsets.topic.segment.bytes */
  readonly segmentBytes?: number
}

export class GroupLog extends Context.Service<GroupLog, GroupLogShape>()("kafka-broker/groups/GroupLog") {
  /** Records in `__consumer_offsets` through the LogStore. */
  static readonly layer = (options: GroupLogOptions = {}): Layer.Layer<GroupLog, never, Topics | LogStore> =>
    Layer.effect(GroupLog, makeLogGroupLog(options))

  /** `__consumer_offsets` as the broker's offsets.topic.* properties configure it. */
  static readonly layerFromConfig: Layer.Layer<GroupLog, never, Config | Topics | LogStore> = Layer.unwrap(
    Config.useSync((config) => GroupLog.layer({ numPartitions: config.offsetsTopicNumPartitions, segmentBytes: config.offsetsTopicSegmentBytes }))
  )

  /** Records kept in memory (lost with the layer). */
  static readonly layerMemory = (options: GroupLogOptions = {}): Layer.Layer<GroupLog> =>
    Layer.sync(GroupLog, () => makeMemoryGroupLog(options).log)
}

/** Kafka's mapping of append failures for coordinator writes (GroupMetadataManager/CoordinatorRuntime). */
const appendErrorCode = (e: { readonly _tag: string }): number => {
  switch (e._tag) {
    case "RecordListTooLarge":
      return ErrorCode.INVALID_COMMIT_OFFSET_SIZE
    case "PartitionNotFound":
      return ErrorCode.COORDINATOR_NOT_AVAILABLE
    default:
      return ErrorCode.UNKNOWN_SERVER_ERROR
  }
}

const batchOf = (records: ReadonlyArray<CoordinatorRecord>, now: number, producer: TxnProducer | undefined): Uint8Array =>
  buildRecordBatch({
    records: records.map((r) => ({ key: r.key, value: r.value, timestamp: now })),
    timestamp: now,
    producerId: producer?.producerId ?? NO_PRODUCER_ID,
    producerEpoch: producer?.producerEpoch ?? NO_PRODUCER_EPOCH,
    isTransactional: producer !== undefined
  })

/**
 * Replays one chunk of whole batches; returns the offset after the last whole batch read
 * (or `from` when the chunk held none).
 */
export const replayBatches = (
  bytes: Uint8Array,
  partition: number,
  from: number,
  handler: (entry: ReplayedEntry) => void,
  onSkipped: (reason: string) => void
): number => {
  const view = viewOf(bytes)
  let pos = 0
  let next = from
  while (pos + LOG_OVERHEAD <= bytes.length) {
    const size = batchSizeAt(view, pos)
    if (size <= LOG_OVERHEAD || pos + size > bytes.length) break
    const batch = bytes.subarray(pos, pos + size)
    const header = readBatchHeader(batch, 0)
    next = header.lastOffset + 1
    pos += size
    if (header.isControl) {
      const marker = readTxnMarker(batch)
      if (marker !== undefined) {
        handler({ _tag: "Marker", partition, offset: header.baseOffset, producerId: marker.producerId, commit: marker.commit })
      }
      continue
    }
    if (header.compression !== COMPRESSION_NONE) {
      onSkipped(`compressed batch at offset ${header.baseOffset} (codec ${header.compression}) is not read`)
      continue
    }
    const producerId = header.isTransactional ? header.producerId : -1
    for (const record of readRecords(batch)) {
      if (record.key === null) continue
      handler({
        _tag: "Record",
        partition,
        offset: record.offset,
        timestamp: record.timestamp,
        record: { key: record.key.slice(), value: record.value === null ? null : record.value.slice() },
        producerId
      })
    }
  }
  return next
}

const REPLAY_CHUNK_BYTES = 1 << 20

export const makeLogGroupLog = (options: GroupLogOptions) =>
  Effect.gen(function*() {
    const topics = yield* Topics
    const logs = yield* LogStore
    const existing = topics.image().topicsByName.get(CONSUMER_OFFSETS_TOPIC)
    const numPartitions = existing?.partitions.size ?? options.numPartitions ?? OFFSETS_TOPIC_DEFAULTS.numPartitions
    const segmentBytes = options.segmentBytes ?? OFFSETS_TOPIC_DEFAULTS.segmentBytes
    const createLock = yield* Semaphore.make(1)

    const ensureTopic: Effect.Effect<void, GroupLogError> = createLock.withPermits(1)(
      Effect.suspend(() => {
        if (topics.image().topicsByName.has(CONSUMER_OFFSETS_TOPIC)) return Effect.void
        return topics.create({
          name: CONSUMER_OFFSETS_TOPIC,
          numPartitions,
          replicationFactor: -1,
          configs: [
            { name: "cleanup.policy", value: "compact" },
            { name: "compression.type", value: "producer" },
            { name: "segment.bytes", value: String(segmentBytes) }
          ],
          validateOnly: false
        }).pipe(
          Effect.asVoid,
          Effect.catchIf((e) => e.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS, () => Effect.void),
          Effect.mapError((e) => new GroupLogError({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, message: `cannot create ${CONSUMER_OFFSETS_TOPIC}: ${e.message}` }))
        )
      })
    )

    const partitionFor = (groupId: string) => coordinatorPartitionFor(groupId, numPartitions)

    const append = (groupId: string, records: ReadonlyArray<CoordinatorRecord>, producer?: TxnProducer): Effect.Effect<void, GroupLogError> =>
      records.length === 0 ? Effect.void : Effect.gen(function*() {
        yield* ensureTopic
        const now = yield* Clock.currentTimeMillis
        yield* logs.append(CONSUMER_OFFSETS_TOPIC, partitionFor(groupId), batchOf(records, now, producer), { origin: "coordinator" }).pipe(
          Effect.mapError((e) => new GroupLogError({ errorCode: appendErrorCode(e), message: `append to ${CONSUMER_OFFSETS_TOPIC} failed: ${e.message}` }))
        )
      })

    const replay = (handler: (entry: ReplayedEntry) => void): Effect.Effect<void, GroupLogError> =>
      Effect.gen(function*() {
        if (!topics.image().topicsByName.has(CONSUMER_OFFSETS_TOPIC)) return
        for (let partition = 0; partition < numPartitions; partition++) {
          const log = logs.findPartition(CONSUMER_OFFSETS_TOPIC, partition)
          if (log === undefined) continue
          let offset = log.logStartOffset
          const end = log.highWatermark
          const skipped: Array<string> = []
          while (offset < end) {
            const data = yield* logs.read(CONSUMER_OFFSETS_TOPIC, partition, offset, REPLAY_CHUNK_BYTES, true).pipe(
              Effect.mapError((e) => new GroupLogError({ errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, message: `replay of ${CONSUMER_OFFSETS_TOPIC}-${partition} failed: ${e.message}` }))
            )
            const next = replayBatches(data.records, partition, offset, handler, (reason) => skipped.push(reason))
            if (next <= offset) break
            offset = next
          }
          for (const reason of skipped) yield* Effect.logWarning(`${CONSUMER_OFFSETS_TOPIC}-${partition}: ${reason}`)
        }
      })

    return GroupLog.of({ numPartitions, partitionFor, append, replay })
  })

/** The in-memory GroupLog, with a way for tests to write transaction markers as the transaction coordinator would. */
export const makeMemoryGroupLog = (options: GroupLogOptions = {}) => {
  const numPartitions = options.numPartitions ?? OFFSETS_TOPIC_DEFAULTS.numPartitions
  const entries: Array<ReplayedEntry> = []
  const nextOffset = new Map<number, number>()
  const take = (partition: number, n: number): number => {
    const base = nextOffset.get(partition) ?? 0
    nextOffset.set(partition, base + n)
    return base
  }
  const partitionFor = (groupId: string) => coordinatorPartitionFor(groupId, numPartitions)
  const log = GroupLog.of({
    numPartitions,
    partitionFor,
    append: (groupId, records, producer) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          const partition = partitionFor(groupId)
          const base = take(partition, records.length)
          records.forEach((record, i) =>
            entries.push({ _tag: "Record", partition, offset: base + i, timestamp: now, record, producerId: producer?.producerId ?? -1 }))
        })),
    replay: (handler) => Effect.sync(() => entries.forEach(handler))
  })
  const appendMarker = (partition: number, producerId: number, commit: boolean): void => {
    entries.push({ _tag: "Marker", partition, offset: take(partition, 1), producerId, commit })
  }
  return { log, entries, appendMarker }
}
