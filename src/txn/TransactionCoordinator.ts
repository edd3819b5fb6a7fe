/**
 * The TransactionCoordinator service: Kafka's transaction coordinator for a single broker
 * (KIP-98, KIP-360, KIP-588, KIP-664, KIP-890 part 1). It owns every transactional id's
 * state (transaction-metadata.ts), makes each transition durable in the TransactionLog
 * before it takes effect, writes the transaction markers into every partition of a
 * transaction when it ends, and runs Kafka's two timers on Effect's Clock: aborting
 * transactions older than their timeout (fencing their producer) and removing transactional
 * ids idle for transactional.id.expiration.ms.
 *
 * Concurrency follows Kafka's: a transition in flight is marked pending, and every other
 * request for that transactional id meanwhile gets CONCURRENT_TRANSACTIONS (clients retry).
 * Checks and preparations are synchronous, so no request sees a half-prepared state.
 *
 * Unlike Kafka, EndTxn is answered after the markers and the Complete record are written
 * (Kafka answers once PrepareCommit/PrepareAbort is durable and writes the markers
 * afterwards): the outcome a client sees is the same, and a client's next transaction never
 * meets CONCURRENT_TRANSACTIONS. A marker that cannot be written is retried by the timer; a
 * transaction found prepared at start-up is completed then.
 */
import { Clock, Context, Effect, Layer, Schedule } from "effect"
import { Config } from "../config/Config.ts"
import { CONSUMER_OFFSETS_TOPIC, coordinatorPartitionFor } from "../coordinator/internal-topics.ts"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { encodeTxnMarkerBatch } from "../log/control-records.ts"
import { LogStore } from "../log/LogStore.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { Topics } from "../topics/Topics.ts"
import { ProducerIdManager } from "./ProducerIdManager.ts"
import { TransactionLog } from "./TransactionLog.ts"
import {
  containsAll,
  isEpochExhausted,
  isExpirationAllowed,
  isRefusal,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  type TopicPartitions,
  TXN_STATE_NAMES,
  TxnMetadata,
  TxnState,
  txnStateFromName,
  type TxnTransit
} from "./transaction-metadata.ts"

export interface TransactionCoordinatorOptions {
  /** transaction.max.timeout.ms */
  readonly maxTimeoutMs: number
  /** transactional.id.expiration.ms */
  readonly transactionalIdExpirationMs: number
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms */
  readonly abortTimedOutIntervalMs: number
  /** transaction.remove.expired.transaction.cleanup.interval.ms */
  readonly removeExpiredIntervalMs: number
  /** offsets.topic.num.partitions: where AddOffsetsToTxn's group lives. */
  readonly offsetsTopicNumPartitions: number
  /** transaction.partition.verification.enable (KIP-890 part 1). */
  readonly verificationEnabled: boolean
}

export const TRANSACTION_COORDINATOR_DEFAULTS: TransactionCoordinatorOptions = {
  maxTimeoutMs: 900_000,
  transactionalIdExpirationMs: 604_800_000,
  abortTimedOutIntervalMs: 10_000,
  removeExpiredIntervalMs: 3_600_000,
  offsetsTopicNumPartitions: 50,
  verificationEnabled: true
}

export interface ProducerIdAndEpoch {
  readonly producerId: number
  readonly producerEpoch: number
}

export interface InitProducerIdResult {
  readonly errorCode: number
  readonly producerId: number
  readonly producerEpoch: number
}

export interface PartitionResult {
  readonly topic: string
  readonly partition: number
  readonly errorCode: number
}

export interface DescribedTransaction {
  readonly transactionalId: string
  readonly errorCode: number
  readonly state: string
  readonly producerId: number
  readonly producerEpoch: number
  readonly transactionTimeoutMs: number
  readonly transactionStartTimeMs: number
  readonly topics: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<number> }>
}

export interface ListTransactionsFilter {
  readonly states: ReadonlyArray<string>
  readonly producerIds: ReadonlyArray<number>
  /** < 0: any; else only transactions running longer than this. */
  readonly durationMs: number
}

export interface ListedTransactions {
  readonly errorCode: number
  readonly unknownStateFilters: ReadonlyArray<string>
  readonly transactions: ReadonlyArray<{ readonly transactionalId: string; readonly producerId: number; readonly state: string }>
}

export interface TransactionCoordinatorShape {
  /** The transactional branch of InitProducerId (a non-empty transactional id). */
  readonly initProducerId: (transactionalId: string, transactionTimeoutMs: number, expected: ProducerIdAndEpoch | undefined) => Effect.Effect<InitProducerIdResult>
  /** AddPartitionsToTxn (and AddOffsetsToTxn): one error for all the partitions. */
  readonly addPartitions: (transactionalId: string, producerId: number, producerEpoch: number, partitions: TopicPartitions) => Effect.Effect<number>
  /** AddPartitionsToTxn v4+ with verify_only: whether each partition is in the transaction. */
  readonly verifyPartitions: (transactionalId: string, producerId: number, producerEpoch: number, partitions: TopicPartitions) => ReadonlyArray<PartitionResult>
  /** AddOffsetsToTxn: adds the group's __consumer_offsets partition. */
  readonly addOffsets: (transactionalId: string, producerId: number, producerEpoch: number, groupId: string) => Effect.Effect<number>
  readonly endTxn: (transactionalId: string, producerId: number, producerEpoch: number, commit: boolean) => Effect.Effect<number>
  readonly describe: (transactionalId: string) => DescribedTransaction
  readonly list: (filter: ListTransactionsFilter) => Effect.Effect<ListedTransactions>
  /**
   * KIP-890 part 1, for the Produce hot path (plain code): the coordinator's answer to a
   * transactional batch of `producerId`/`producerEpoch` for `topic`-`partition`: NONE when the
   * partition was added to the ongoing transaction, else TRANSACTION_ABORTABLE,
   * INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED or CONCURRENT_TRANSACTIONS (the Produce
   * handler translates them as Kafka's ReplicaManager does).
   */
  readonly verifyProduce: (transactionalId: string, producerId: number, producerEpoch: number, topic: string, partition: number) => number
  /** Whether transactional produces are verified at all (transaction.partition.verification.enable). */
  readonly verificationEnabled: boolean
  /** The timers' work, callable directly (tests). */
  readonly abortTimedOutTransactions: Effect.Effect<void>
  readonly removeExpiredTransactionalIds: Effect.Effect<void>
  /** The partition of __transaction_state that owns a transactional id. */
  readonly partitionFor: (transactionalId: string) => number
}

const SHORT_MAX = 32767

const make = (options: TransactionCoordinatorOptions) =>
  Effect.gen(function*() {
    const txnLog = yield* TransactionLog
    const logs = yield* LogStore
    const topics = yield* Topics
    const groups = yield* GroupCoordinator
    const producerIds = yield* ProducerIdManager

    const cache = new Map<string, TxnMetadata>()
    /** Transactions whose markers or Complete record could not be written yet. */
    const unfinished = new Set<TxnMetadata>()

    const now = Clock.currentTimeMillis

    /** Writes a prepared transition and applies it; on failure the transition is forgotten. */
    const persist = (md: TxnMetadata, transit: TxnTransit, time: number): Effect.Effect<number> =>
      txnLog.append(md.transactionalId, transit, time).pipe(
        Effect.map(() => {
          md.completeTransitionTo(transit)
          return ErrorCode.NONE as number
        }),
        Effect.catchTag("TransactionLogError", (e) =>
          Effect.as(
            Effect.andThen(Effect.sync(() => md.abandonTransition()), Effect.logWarning(`transaction ${md.transactionalId}: ${e.message}`)),
            e.errorCode
          ))
      )

    // ---------------------------------------------------------------------------------
    // Ending a transaction: markers into every partition, then the Complete record.
    // ---------------------------------------------------------------------------------

    const writeMarker = (md: TxnMetadata, topic: string, partition: number, commit: boolean, time: number) =>
      Effect.suspend(() => {
        const topicImage = topics.image().topicsByName.get(topic)
        const partitionImage = topicImage?.partitions.get(partition)
        // A partition that no longer exists (topic deleted) needs no marker, as in Kafka.
        if (partitionImage === undefined) return Effect.succeed(true)
        const batch = encodeTxnMarkerBatch({
          producerId: md.producerId,
          producerEpoch: md.producerEpoch,
          coordinatorEpoch: txnLog.coordinatorEpoch(md.transactionalId),
          commit
        }, time)
        return logs.append(topic, partition, batch, { origin: "coordinator", leaderEpoch: partitionImage.leaderEpoch }).pipe(
          Effect.as(true),
          Effect.catchTag("PartitionNotFound", () => Effect.succeed(true)),
          Effect.catch((e) => Effect.as(Effect.logWarning(`transaction ${md.transactionalId}: marker for ${topic}-${partition} not written yet (${e._tag})`), false))
        )
      })

    /** Completes a transaction in PrepareCommit/PrepareAbort; leaves it for the timer to retry if a write fails. */
    const completeTransaction = (md: TxnMetadata): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (md.pendingTransitionInProgress) return
        if (md.state !== TxnState.PrepareCommit && md.state !== TxnState.PrepareAbort) return
        const commit = md.state === TxnState.PrepareCommit
        const time = yield* now
        const complete = md.prepareComplete(time)
        const offsetsPartitions: Array<number> = []
        let allWritten = true
        for (const [topic, parts] of [...md.partitions]) {
          for (const partition of [...parts]) {
            if (yield* writeMarker(md, topic, partition, commit, time)) {
              // Kafka drops a partition from the transaction once its marker is in.
              parts.delete(partition)
              if (topic === CONSUMER_OFFSETS_TOPIC) offsetsPartitions.push(partition)
            } else {
              allWritten = false
            }
          }
          if (parts.size === 0) md.partitions.delete(topic)
        }
        if (offsetsPartitions.length > 0) {
          yield* groups.onTransactionCompleted(md.producerId, offsetsPartitions, commit)
        }
        if (!allWritten) {
          md.abandonTransition()
          unfinished.add(md)
          return
        }
        const error = yield* persist(md, complete, time)
        if (error === ErrorCode.NONE) unfinished.delete(md)
        else unfinished.add(md)
      })

    /** Moves an Ongoing transaction to PrepareCommit/PrepareAbort (already prepared), durably, then completes it. */
    const endPrepared = (md: TxnMetadata, transit: TxnTransit, time: number, isFence: boolean): Effect.Effect<number> =>
      Effect.gen(function*() {
        const error = yield* persist(md, transit, time)
        if (error !== ErrorCode.NONE) {
          if (isFence) md.hasFailedEpochFence = true
          return error
        }
        yield* completeTransaction(md)
        return ErrorCode.NONE
      })

    /** Fences the producer of an Ongoing transaction (epoch + 1) and aborts the transaction. */
    const fenceAndAbort = (md: TxnMetadata, time: number): Effect.Effect<number> =>
      Effect.suspend(() => {
        // One synchronous step: nobody sees the PrepareEpochFence in between.
        const fence = md.prepareFenceProducerEpoch()
        const abort = md.convertFenceToAbort(fence.producerEpoch, time)
        return endPrepared(md, abort, time, true)
      })

    // ---------------------------------------------------------------------------------
    // InitProducerId
    // ---------------------------------------------------------------------------------

    const initError = (errorCode: number): InitProducerIdResult => ({ errorCode, producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH })

    type InitDecision =
      | { readonly _tag: "Error"; readonly errorCode: number }
      | { readonly _tag: "NeedProducerId" }
      | { readonly _tag: "Fence" }
      | { readonly _tag: "Transit"; readonly transit: TxnTransit }

    const decideInit = (md: TxnMetadata, timeoutMs: number, expected: ProducerIdAndEpoch | undefined, newProducerId: number | undefined, time: number): InitDecision => {
      if (md.pendingTransitionInProgress) return { _tag: "Error", errorCode: ErrorCode.CONCURRENT_TRANSACTIONS }
      if (expected !== undefined) {
        // KIP-360: a producer id other than the current one is fenced, unless the metadata
        // was just created, or it is a retry after a rotation the producer never heard about.
        const valid = md.producerEpoch === NO_PRODUCER_EPOCH ||
          expected.producerId === md.producerId ||
          (expected.producerId === md.previousProducerId && isEpochExhausted(expected.producerEpoch))
        if (!valid) return { _tag: "Error", errorCode: ErrorCode.PRODUCER_FENCED }
      }
      switch (md.state) {
        case TxnState.PrepareAbort:
        case TxnState.PrepareCommit:
          return { _tag: "Error", errorCode: ErrorCode.CONCURRENT_TRANSACTIONS }
        case TxnState.Empty:
        case TxnState.CompleteAbort:
        case TxnState.CompleteCommit: {
          if (md.isProducerEpochExhausted && (expected === undefined || expected.producerEpoch === md.producerEpoch)) {
            if (newProducerId === undefined) return { _tag: "NeedProducerId" }
            return { _tag: "Transit", transit: md.prepareProducerIdRotation(newProducerId, timeoutMs, time, expected !== undefined) }
          }
          const r = md.prepareIncrementProducerEpoch(timeoutMs, expected?.producerEpoch, time)
          return isRefusal(r) ? { _tag: "Error", errorCode: r.errorCode } : { _tag: "Transit", transit: r }
        }
        case TxnState.Ongoing:
          return { _tag: "Fence" }
        case TxnState.Dead:
        case TxnState.PrepareEpochFence:
          return { _tag: "Error", errorCode: ErrorCode.UNKNOWN_SERVER_ERROR }
      }
    }

    const initProducerId = (transactionalId: string, timeoutMs: number, expected: ProducerIdAndEpoch | undefined): Effect.Effect<InitProducerIdResult> =>
      Effect.gen(function*() {
        if (transactionalId === "") return initError(ErrorCode.INVALID_REQUEST)
        if (timeoutMs <= 0 || timeoutMs > options.maxTimeoutMs) return initError(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
        let md = cache.get(transactionalId)
        if (md === undefined) {
          const producerId = yield* producerIds.generateProducerId.pipe(Effect.result)
          if (producerId._tag === "Failure") return initError(producerId.failure.errorCode)
          md = cache.get(transactionalId)
          if (md === undefined) {
            md = TxnMetadata.fresh(transactionalId, producerId.success, timeoutMs, yield* now)
            cache.set(transactionalId, md)
          }
        }
        const time = yield* now
        let decision = decideInit(md, timeoutMs, expected, undefined, time)
        if (decision._tag === "NeedProducerId") {
          const producerId = yield* producerIds.generateProducerId.pipe(Effect.result)
          if (producerId._tag === "Failure") return initError(producerId.failure.errorCode)
          decision = decideInit(md, timeoutMs, expected, producerId.success, yield* now)
        }
        switch (decision._tag) {
          case "Error":
            return initError(decision.errorCode)
          case "NeedProducerId":
            return initError(ErrorCode.CONCURRENT_TRANSACTIONS)
          case "Fence": {
            // Abort the open transaction under a bumped epoch; the client retries and gets the next one.
            const error = yield* fenceAndAbort(md, time)
            return initError(error === ErrorCode.NONE ? ErrorCode.CONCURRENT_TRANSACTIONS : error)
          }
          case "Transit": {
            const error = yield* persist(md, decision.transit, time)
            if (error !== ErrorCode.NONE) return initError(error)
            yield* Effect.logInfo(`initialized transactional id ${transactionalId} with producer id ${md.producerId} and epoch ${md.producerEpoch}`)
            return { errorCode: ErrorCode.NONE, producerId: md.producerId, producerEpoch: md.producerEpoch }
          }
        }
      }).pipe(Effect.uninterruptible)

    // ---------------------------------------------------------------------------------
    // AddPartitionsToTxn / AddOffsetsToTxn
    // ---------------------------------------------------------------------------------

    /** The checks AddPartitionsToTxn and its verify-only form share; undefined when they pass. */
    const checkProducer = (md: TxnMetadata | undefined, producerId: number, producerEpoch: number): number | undefined => {
      if (md === undefined || md.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
      if (md.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED
      return undefined
    }

    const addPartitions = (transactionalId: string, producerId: number, producerEpoch: number, partitions: TopicPartitions): Effect.Effect<number> =>
      Effect.gen(function*() {
        if (transactionalId === "") return ErrorCode.INVALID_REQUEST
        const md = cache.get(transactionalId)
        const refused = checkProducer(md, producerId, producerEpoch)
        if (refused !== undefined || md === undefined) return refused ?? ErrorCode.INVALID_PRODUCER_ID_MAPPING
        if (md.pendingTransitionInProgress) return ErrorCode.CONCURRENT_TRANSACTIONS
        if (md.state === TxnState.PrepareCommit || md.state === TxnState.PrepareAbort) return ErrorCode.CONCURRENT_TRANSACTIONS
        if (md.state === TxnState.Ongoing && containsAll(md.partitions, partitions)) return ErrorCode.NONE
        const time = yield* now
        return yield* persist(md, md.prepareAddPartitions(partitions, time), time)
      }).pipe(Effect.uninterruptible)

    const verifyPartitions = (transactionalId: string, producerId: number, producerEpoch: number, partitions: TopicPartitions): ReadonlyArray<PartitionResult> => {
      const all = (errorCode: number) => [...partitions].flatMap(([topic, parts]) => [...parts].map((partition) => ({ topic, partition, errorCode })))
      if (transactionalId === "") return all(ErrorCode.INVALID_REQUEST)
      const md = cache.get(transactionalId)
      const refused = checkProducer(md, producerId, producerEpoch)
      if (refused !== undefined || md === undefined) return all(refused ?? ErrorCode.INVALID_PRODUCER_ID_MAPPING)
      if (md.state === TxnState.PrepareCommit || md.state === TxnState.PrepareAbort) return all(ErrorCode.CONCURRENT_TRANSACTIONS)
      return [...partitions].flatMap(([topic, parts]) =>
        [...parts].map((partition) => ({ topic, partition, errorCode: md.hasPartition(topic, partition) ? ErrorCode.NONE : ErrorCode.TRANSACTION_ABORTABLE }))
      )
    }

    const verifyProduce = (transactionalId: string, producerId: number, producerEpoch: number, topic: string, partition: number): number => {
      const md = cache.get(transactionalId)
      if (md === undefined || md.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
      if (md.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED
      // A transaction being ended takes no more records: its markers may already be written.
      if (md.state === TxnState.PrepareCommit || md.state === TxnState.PrepareAbort ||
        md.pendingState === TxnState.PrepareCommit || md.pendingState === TxnState.PrepareAbort) {
        return ErrorCode.CONCURRENT_TRANSACTIONS
      }
      return md.state === TxnState.Ongoing && md.hasPartition(topic, partition) ? ErrorCode.NONE : ErrorCode.TRANSACTION_ABORTABLE
    }

    // ---------------------------------------------------------------------------------
    // EndTxn
    // ---------------------------------------------------------------------------------

    const endTxn = (transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Effect.Effect<number> =>
      Effect.gen(function*() {
        if (transactionalId === "") return ErrorCode.INVALID_REQUEST
        const md = cache.get(transactionalId)
        if (md === undefined || md.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
        if (producerEpoch !== md.producerEpoch) return ErrorCode.PRODUCER_FENCED
        if (md.pendingTransitionInProgress) return ErrorCode.CONCURRENT_TRANSACTIONS
        switch (md.state) {
          case TxnState.Ongoing: {
            const time = yield* now
            const transit = md.prepareAbortOrCommit(commit ? TxnState.PrepareCommit : TxnState.PrepareAbort, time)
            return yield* endPrepared(md, transit, time, false)
          }
          case TxnState.CompleteCommit:
            return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE
          case TxnState.CompleteAbort:
            return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE
          case TxnState.PrepareCommit:
            return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE
          case TxnState.PrepareAbort:
            return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS
          case TxnState.Empty:
            return ErrorCode.INVALID_TXN_STATE
          case TxnState.Dead:
          case TxnState.PrepareEpochFence:
            return ErrorCode.UNKNOWN_SERVER_ERROR
        }
      }).pipe(Effect.uninterruptible)

    // ---------------------------------------------------------------------------------
    // Describe / List
    // ---------------------------------------------------------------------------------

    const describe = (transactionalId: string): DescribedTransaction => {
      const base = { transactionalId, state: "", producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH, transactionTimeoutMs: 0, transactionStartTimeMs: -1, topics: [] }
      if (transactionalId === "") return { ...base, errorCode: ErrorCode.INVALID_REQUEST }
      const md = cache.get(transactionalId)
      if (md === undefined || md.state === TxnState.Dead) return { ...base, errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND }
      return {
        transactionalId,
        errorCode: ErrorCode.NONE,
        state: TXN_STATE_NAMES[md.state]!,
        producerId: md.producerId,
        producerEpoch: md.producerEpoch,
        transactionTimeoutMs: md.txnTimeoutMs,
        transactionStartTimeMs: md.txnStartTimestamp,
        topics: [...md.partitions].map(([topic, parts]) => ({ topic, partitions: [...parts] }))
      }
    }

    const list = (filter: ListTransactionsFilter, time: number): ListedTransactions => {
      const states = new Set<TxnState>()
      const unknownStateFilters: Array<string> = []
      for (const name of filter.states) {
        const s = txnStateFromName(name)
        if (s === undefined) unknownStateFilters.push(name)
        else states.add(s)
      }
      const producerIdFilter = new Set(filter.producerIds)
      const transactions: Array<{ transactionalId: string; producerId: number; state: string }> = []
      for (const md of cache.values()) {
        if (md.state === TxnState.Dead) continue
        if (producerIdFilter.size > 0 && !producerIdFilter.has(md.producerId)) continue
        if (filter.states.length > 0 && !states.has(md.state)) continue
        if (filter.durationMs >= 0 && time - md.txnStartTimestamp <= filter.durationMs) continue
        transactions.push({ transactionalId: md.transactionalId, producerId: md.producerId, state: TXN_STATE_NAMES[md.state]! })
      }
      return { errorCode: ErrorCode.NONE, unknownStateFilters, transactions }
    }

    // ---------------------------------------------------------------------------------
    // Timers
    // ---------------------------------------------------------------------------------

    const abortTimedOutTransactions: Effect.Effect<void> = Effect.gen(function*() {
      const time = yield* now
      for (const md of [...unfinished]) yield* completeTransaction(md)
      for (const md of [...cache.values()]) {
        if (md.pendingTransitionInProgress || md.state !== TxnState.Ongoing) continue
        if (md.txnStartTimestamp + md.txnTimeoutMs >= time) continue
        if (md.producerEpoch === SHORT_MAX) continue
        const error = yield* fenceAndAbort(md, time)
        if (error === ErrorCode.NONE) yield* Effect.logInfo(`aborted transaction of ${md.transactionalId}: it ran longer than ${md.txnTimeoutMs} ms`)
      }
    }).pipe(Effect.uninterruptible)

    const removeExpiredTransactionalIds: Effect.Effect<void> = Effect.gen(function*() {
      const time = yield* now
      for (const md of [...cache.values()]) {
        if (md.pendingTransitionInProgress || !isExpirationAllowed(md.state)) continue
        if (md.txnLastUpdateTimestamp + options.transactionalIdExpirationMs > time) continue
        md.prepareDead()
        const written = yield* txnLog.append(md.transactionalId, null, time).pipe(Effect.as(true), Effect.catch(() => Effect.succeed(false)))
        if (written) {
          cache.delete(md.transactionalId)
          yield* Effect.logInfo(`removed expired transactional id ${md.transactionalId}`)
        } else {
          md.abandonTransition()
        }
      }
    }).pipe(Effect.uninterruptible)

    // ---------------------------------------------------------------------------------
    // Start-up: replay the log, finish what was prepared before the restart, start the timers.
    // ---------------------------------------------------------------------------------

    const loaded = yield* txnLog.load.pipe(
      Effect.catchTag("TransactionLogError", (e) => Effect.as(Effect.logError(`transaction log not loaded: ${e.message}`), []))
    )
    for (const md of loaded) cache.set(md.transactionalId, md)
    if (loaded.length > 0) yield* Effect.logInfo(`loaded ${loaded.length} transactional id(s) from the transaction log`)
    for (const md of loaded) {
      if (md.state === TxnState.PrepareCommit || md.state === TxnState.PrepareAbort) yield* completeTransaction(md)
    }

    const every = (ms: number, task: Effect.Effect<void>) =>
      Effect.forkScoped(task.pipe(Effect.repeat(Schedule.spaced(ms)), Effect.delay(ms)))
    yield* every(options.abortTimedOutIntervalMs, abortTimedOutTransactions)
    yield* every(options.removeExpiredIntervalMs, removeExpiredTransactionalIds)

    return TransactionCoordinator.of({
      initProducerId,
      addPartitions,
      verifyPartitions,
      addOffsets: (transactionalId, producerId, producerEpoch, groupId) =>
        addPartitions(transactionalId, producerId, producerEpoch, new Map([[CONSUMER_OFFSETS_TOPIC, new Set([coordinatorPartitionFor(groupId, options.offsetsTopicNumPartitions)])]])),
      endTxn,
      describe,
      list: (filter) => Effect.map(now, (time) => list(filter, time)),
      verifyProduce,
      verificationEnabled: options.verificationEnabled,
      abortTimedOutTransactions,
      removeExpiredTransactionalIds,
      partitionFor: (transactionalId) => coordinatorPartitionFor(transactionalId, txnLog.numPartitions)
    })
  })

export class TransactionCoordinator extends Context.Service<TransactionCoordinator, TransactionCoordinatorShape>()("kafka-broker/txn/TransactionCoordinator") {
  static readonly layer = (
    options: Partial<TransactionCoordinatorOptions> = {}
  ): Layer.Layer<TransactionCoordinator, never, TransactionLog | LogStore | Topics | GroupCoordinator | ProducerIdManager> =>
    Layer.effect(TransactionCoordinator, make({ ...TRANSACTION_COORDINATOR_DEFAULTS, ...options }))

  /** Configured by the broker's transaction.* properties. */
  static readonly layerFromConfig: Layer.Layer<TransactionCoordinator, never, Config | TransactionLog | LogStore | Topics | GroupCoordinator | ProducerIdManager> =
    Layer.unwrap(
      Config.useSync((config) =>
        TransactionCoordinator.layer({
          maxTimeoutMs: config.transactionMaxTimeoutMs,
          transactionalIdExpirationMs: config.transactionalIdExpirationMs,
          abortTimedOutIntervalMs: config.transactionAbortTimedOutTransactionCleanupIntervalMs,
          removeExpiredIntervalMs: config.transactionRemoveExpiredTransactionCleanupIntervalMs,
          offsetsTopicNumPartitions: config.offsetsTopicNumPartitions,
          verificationEnabled: config.transactionPartitionVerificationEnable
        }))
    )
}
