/**
 * A TransactionCoordinator over a real LogStore (temp dir) with a fake Topics image, an
 * in-memory transaction log the test can hold on to (to "restart" over it), in-memory
 * producer ids, and a group coordinator that records the transaction completions it hears of.
 */
import { Effect, Layer } from "effect"
import { GroupCoordinator } from "../../src/groups/GroupCoordinator.ts"
import { readTxnMarker, type TxnMarker } from "../../src/log/control-records.ts"
import { LogStore, type LogStoreShape } from "../../src/log/LogStore.ts"
import { batchSizeAt, readBatchHeader, viewOf } from "../../src/log/record-batch.ts"
import { ProducerIdManager } from "../../src/txn/ProducerIdManager.ts"
import { TransactionCoordinator, type TransactionCoordinatorOptions, type TransactionCoordinatorShape } from "../../src/txn/TransactionCoordinator.ts"
import { TransactionLog } from "../../src/txn/TransactionLog.ts"
import type { TxnTransit } from "../../src/txn/transaction-metadata.ts"
import { dataPlaneLayer, type TopicSpec } from "../handlers/data-plane/helpers.ts"

/** A small __consumer_offsets keeps each test's data plane quick to create. */
export const OFFSETS_PARTITIONS = 5

export const TOPICS: ReadonlyArray<TopicSpec> = [
  { name: "t", partitions: 3 },
  { name: "u", partitions: 1 },
  { name: "__consumer_offsets", partitions: OFFSETS_PARTITIONS }
]

export interface Completion {
  readonly producerId: number
  readonly partitions: ReadonlyArray<number>
  readonly commit: boolean
}

export interface TxnEnv {
  readonly txn: TransactionCoordinatorShape
  readonly logs: LogStoreShape
  readonly completions: Array<Completion>
}

const recordingGroups = (completions: Array<Completion>) =>
  Layer.effect(
    GroupCoordinator,
    GroupCoordinator.useSync((gc) => ({
      ...gc,
      onTransactionCompleted: (producerId: number, partitions: ReadonlyArray<number>, commit: boolean) =>
        Effect.sync(() => void completions.push({ producerId, partitions: [...partitions], commit }))
    }))
  ).pipe(Layer.provide(GroupCoordinator.layerInMemory()))

export interface WithTxnOptions {
  readonly coordinator?: Partial<TransactionCoordinatorOptions>
  /** The transaction log's contents, kept across "restarts". */
  readonly log?: Map<string, TxnTransit>
  /** Another transaction log than the in-memory one over `log`. */
  readonly transactionLog?: Layer.Layer<TransactionLog>
  /** A shared data plane (LogStore + Topics) across restarts. */
  readonly dataPlane?: ReturnType<typeof dataPlaneLayer>
}

export const makeDataPlane = () => Layer.fresh(dataPlaneLayer(TOPICS))

export const withTxn = <A, E, R>(options: WithTxnOptions, program: (env: TxnEnv) => Effect.Effect<A, E, R>) => {
  const completions: Array<Completion> = []
  const coordinator = TransactionCoordinator.layer({ offsetsTopicNumPartitions: OFFSETS_PARTITIONS, ...options.coordinator }).pipe(
    Layer.provide(options.transactionLog ?? TransactionLog.layerMemory({ shared: options.log ?? new Map() })),
    Layer.provide(recordingGroups(completions)),
    Layer.provide(ProducerIdManager.layerMemory)
  )
  const layer = coordinator.pipe(Layer.provideMerge(options.dataPlane ?? makeDataPlane()))
  return Effect.gen(function*() {
    const txn = yield* TransactionCoordinator
    const logs = yield* LogStore
    return yield* program({ txn, logs, completions })
  }).pipe(Effect.provide(Layer.merge(layer, ProducerIdManager.layerMemory)))
}

/** The transaction markers in a partition, in log order. */
export const markersIn = (logs: LogStoreShape, topic: string, partition: number) =>
  Effect.gen(function*() {
    const data = yield* Effect.orDie(logs.read(topic, partition, 0, 1 << 20, true))
    const markers: Array<TxnMarker & { offset: number }> = []
    const view = viewOf(data.records)
    for (let pos = 0; pos < data.records.length;) {
      const size = batchSizeAt(view, pos)
      const batch = data.records.subarray(pos, pos + size)
      const marker = readTxnMarker(batch)
      if (marker !== undefined) markers.push({ ...marker, offset: readBatchHeader(batch).baseOffset })
      pos += size
    }
    return markers
  })

export const tp = (...entries: ReadonlyArray<readonly [string, ReadonlyArray<number>]>): Map<string, Set<number>> =>
  new Map(entries.map(([topic, parts]) => [topic, new Set(parts)]))
