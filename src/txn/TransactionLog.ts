/**
 * Where the transaction coordinator keeps its state: the TransactionLog service. The broker's
 * layer writes Kafka's `__transaction_state` topic (TransactionLogKey / TransactionLogValue
 * records, version-prefixed, one uncompressed batch per write, appended with origin
 * "coordinator"), so a Kafka data directory's transactions are replayed here and ours are
 * legible to Kafka's tools. A cluster mode can provide another layer (etcd...) behind the
 * same interface; the in-memory layer is for unit tests.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { Config } from "../config/Config.ts"
import { coordinatorPartitionFor, TRANSACTION_STATE_TOPIC } from "../coordinator/internal-topics.ts"
import { LogStore, type LogStoreShape } from "../log/LogStore.ts"
import { batchSizeAt, buildRecordBatch, LOG_OVERHEAD, readBatchHeader, readRecords, viewOf } from "../log/record-batch.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { decodeTransactionLogKey, encodeTransactionLogKey } from "../protocol/generated/coordinator/TransactionLogKey.ts"
import { decodeTransactionLogValue, encodeTransactionLogValue } from "../protocol/generated/coordinator/TransactionLogValue.ts"
import { Reader, Writer } from "../protocol/primitives.ts"
import { Topics, type TopicsShape } from "../topics/Topics.ts"
import { fromLogValue, metadataOfTransit, toLogValue, type TxnMetadata, type TxnTransit } from "./transaction-metadata.ts"

/** A write to the transaction log failed; `errorCode` is what the waiting request is answered with. */
export class TransactionLogError extends Schema.TaggedError<TransactionLogError>()("TransactionLogError", {
  errorCode: Schema.Number,
  message: Schema.String
}) {}

export interface TransactionLogShape {
  /** Partitions of the log (transaction.state.log.num.partitions): a transactional id's partition decides its coordinator. */
  readonly numPartitions: number
  /**
   * Makes a transition durable (null: the transactional id expired; a tombstone). Succeeds
   * only once the write is acknowledged.
   */
  readonly append: (transactionalId: string, transit: TxnTransit | null, now: number) => Effect.Effect<void, TransactionLogError>
  /** Every transactional id's last state, as a restart finds it (expired ids absent). */
  readonly load: Effect.Effect<ReadonlyArray<TxnMetadata>, TransactionLogError>
  /** The coordinator epoch of the log partition that owns `transactionalId` (written into markers). */
  readonly coordinatorEpoch: (transactionalId: string) => number
}

export class TransactionLog extends Context.Service<TransactionLog, TransactionLogShape>()("kafka-broker/txn/TransactionLog") {
  /** Kept in memory: for tests that need no durability. `shared` lets a test "restart" over the same contents. */
  static readonly layerMemory = (options: { readonly numPartitions?: number; readonly shared?: Map<string, TxnTransit> } = {}): Layer.Layer<TransactionLog> =>
    Layer.sync(TransactionLog, () => {
      const entries = options.shared ?? new Map<string, TxnTransit>()
      return {
        numPartitions: options.numPartitions ?? 50,
        append: (transactionalId, transit) =>
          Effect.sync(() => {
            if (transit === null) entries.delete(transactionalId)
            else entries.set(transactionalId, transit)
          }),
        load: Effect.sync(() => [...entries].map(([id, t]) => metadataOfTransit(id, t))),
        coordinatorEpoch: () => 0
      }
    })

  /** `__transaction_state` in the broker's own logs, created on first use with Kafka's topic configs. */
  static readonly layer: Layer.Layer<TransactionLog, never, Config | LogStore | Topics> = Layer.effect(
    TransactionLog,
    Effect.gen(function*() {
      const config = yield* Config
      const logs = yield* LogStore
      const topics = yield* Topics
      return makeLogBacked(logs, topics, {
        numPartitions: config.transactionStateLogNumPartitions,
        segmentBytes: config.transactionStateLogSegmentBytes,
        minIsr: config.transactionStateLogMinIsr
      })
    })
  )
}

// ---------------------------------------------------------------------------------------
// Record encoding: Kafka's MessageUtil.toVersionPrefixedBytes (int16 version, then the body).
// ---------------------------------------------------------------------------------------

const KEY_VERSION = 0
/** Version 0: Kafka's value format until transaction version 2 is enabled (KIP-890 part 2 is not served). */
const VALUE_VERSION = 0
const MAX_VALUE_VERSION = 1

export const encodeTxnLogKey = (transactionalId: string): Uint8Array => {
  const w = new Writer(64)
  w.int16(KEY_VERSION)
  encodeTransactionLogKey(w, KEY_VERSION, { transactionalId })
  return w.toBytes()
}

export const encodeTxnLogValue = (transit: TxnTransit): Uint8Array => {
  const w = new Writer(128)
  w.int16(VALUE_VERSION)
  encodeTransactionLogValue(w, VALUE_VERSION, toLogValue(transit))
  return w.toBytes()
}

/** The transactional id of a record key, or undefined for a key of another kind or version (skipped, as Kafka does). */
export const decodeTxnLogKey = (key: Uint8Array): string | undefined => {
  const r = new Reader(key)
  const version = r.int16()
  if (version !== KEY_VERSION) return undefined
  return decodeTransactionLogKey(r, version).transactionalId
}

/** A record value as state (null value: a tombstone). Throws on an unknown version, as Kafka does. */
export const decodeTxnLogValue = (transactionalId: string, value: Uint8Array | null): TxnMetadata | null => {
  if (value === null) return null
  const r = new Reader(value)
  const version = r.int16()
  if (version < 0 || version > MAX_VALUE_VERSION) throw new Error(`unknown version ${version} of a transaction log value for ${transactionalId}`)
  return fromLogValue(transactionalId, decodeTransactionLogValue(r, version))
}

/** One batch per write: a single record, no producer id, uncompressed (Kafka's EnforcedCompression). */
export const txnLogBatch = (transactionalId: string, transit: TxnTransit | null, now: number): Uint8Array =>
  buildRecordBatch({ records: [{ key: encodeTxnLogKey(transactionalId), value: transit === null ? null : encodeTxnLogValue(transit) }], timestamp: now })

/** Replays every record of `bytes` (whole batches of one read) into `into`; returns the offset after the last whole batch. */
export const replayBatches = (bytes: Uint8Array, into: Map<string, TxnMetadata | null>): number => {
  const view = viewOf(bytes)
  let pos = 0
  let next = -1
  while (pos + LOG_OVERHEAD <= bytes.length) {
    const size = batchSizeAt(view, pos)
    if (pos + size > bytes.length) break
    const batch = bytes.subarray(pos, pos + size)
    const header = readBatchHeader(batch, 0)
    next = header.lastOffset + 1
    if (!header.isControl) {
      for (const record of readRecords(batch)) {
        if (record.key === null) continue
        const transactionalId = decodeTxnLogKey(record.key)
        if (transactionalId === undefined) continue
        into.set(transactionalId, decodeTxnLogValue(transactionalId, record.value))
      }
    }
    pos += size
  }
  return next
}

const READ_CHUNK_BYTES = 4 * 1024 * 1024

const makeLogBacked = (
  logs: LogStoreShape,
  topics: TopicsShape,
  options: { readonly numPartitions: number; readonly segmentBytes: number; readonly minIsr: number }
): TransactionLogShape => {
  const fail = (errorCode: number, message: string) => new TransactionLogError({ errorCode, message })

  /** The partitions the topic has (it may have been created by Kafka with another count). */
  const topicImage = () => topics.image().topicsByName.get(TRANSACTION_STATE_TOPIC)

  const numPartitions = topicImage()?.partitions.size ?? options.numPartitions

  const ensureTopic = Effect.suspend(() => {
    if (topicImage() !== undefined) return Effect.void
    return topics.create({
      name: TRANSACTION_STATE_TOPIC,
      numPartitions: options.numPartitions,
      // A single broker: Kafka's default of 3 could never be met.
      replicationFactor: 1,
      configs: [
        { name: "cleanup.policy", value: "compact" },
        { name: "compression.type", value: "uncompressed" },
        { name: "unclean.leader.election.enable", value: "false" },
        { name: "min.insync.replicas", value: String(options.minIsr) },
        { name: "segment.bytes", value: String(options.segmentBytes) }
      ],
      validateOnly: false
    }).pipe(
      Effect.catchIf((e) => e.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS, () => Effect.void),
      // Kafka answers COORDINATOR_NOT_AVAILABLE while the topic cannot be created.
      Effect.mapError((e) => fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, `cannot create ${TRANSACTION_STATE_TOPIC}: ${e.message}`)),
      Effect.asVoid
    )
  })

  const append = (transactionalId: string, transit: TxnTransit | null, now: number) =>
    Effect.gen(function*() {
      yield* ensureTopic
      const partition = coordinatorPartitionFor(transactionalId, numPartitions)
      const leaderEpoch = topicImage()?.partitions.get(partition)?.leaderEpoch
      yield* logs.append(TRANSACTION_STATE_TOPIC, partition, txnLogBatch(transactionalId, transit, now), { origin: "coordinator", ...(leaderEpoch === undefined ? {} : { leaderEpoch }) }).pipe(
        // Kafka maps a failed transaction log append to COORDINATOR_NOT_AVAILABLE (storage errors)
        // or NOT_COORDINATOR (the partition is gone), so the client retries.
        Effect.mapError((e) =>
          fail(e._tag === "PartitionNotFound" ? ErrorCode.NOT_COORDINATOR : ErrorCode.COORDINATOR_NOT_AVAILABLE, `append to ${TRANSACTION_STATE_TOPIC}-${partition} failed: ${e._tag}`)
        )
      )
    })

  const load = Effect.gen(function*() {
    const topic = topicImage()
    const state = new Map<string, TxnMetadata | null>()
    if (topic === undefined) return []
    for (const partition of [...topic.partitions.keys()].sort((a, b) => a - b)) {
      const log = logs.findPartition(TRANSACTION_STATE_TOPIC, partition)
      if (log === undefined) continue
      let offset = log.logStartOffset
      while (offset < log.logEndOffset) {
        const data = yield* logs.read(TRANSACTION_STATE_TOPIC, partition, offset, READ_CHUNK_BYTES, true).pipe(
          Effect.mapError((e) => fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, `reading ${TRANSACTION_STATE_TOPIC}-${partition} failed: ${e._tag}`))
        )
        if (data.records.length === 0) break
        const next = yield* Effect.try({
          try: () => replayBatches(data.records, state),
          catch: (e) => fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${TRANSACTION_STATE_TOPIC}-${partition}: ${e instanceof Error ? e.message : String(e)}`)
        })
        if (next <= offset) break
        offset = next
      }
    }
    const loaded: Array<TxnMetadata> = []
    for (const metadata of state.values()) if (metadata !== null) loaded.push(metadata)
    return loaded
  })

  return {
    numPartitions,
    append,
    load,
    coordinatorEpoch: (transactionalId) =>
      topicImage()?.partitions.get(coordinatorPartitionFor(transactionalId, numPartitions))?.leaderEpoch ?? 0
  }
}
