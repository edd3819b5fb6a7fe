/**
 * The GroupCoordinator service: this broker is the coordinator of every consumer group (a
 * single node owns every `__consumer_offsets` partition). It runs the classic group protocol
 * (classic-coordinator.ts) and keeps committed offsets in an OffsetStore.
 *
 * State is durable in `__consumer_offsets` through the GroupLog: offsets via the OffsetStore,
 * GroupMetadata records whenever a generation completes, empties, or the group is deleted.
 * At start-up the log is replayed: offsets (with transactional ones resolved by the markers
 * found) and every group's generation and members are back before the first request.
 * Offsets expire per offsets.retention.minutes, checked every offsets.retention.check.interval.ms.
 *
 * Time is Effect's Clock and timers are fibers sleeping on it, forked into the layer's
 * scope: session timeouts, rebalance timeouts and group.initial.rebalance.delay.ms all
 * follow TestClock in tests, and stop when the layer is released.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { Clock, Context, Deferred, Effect, FiberSet, Layer, Queue } from "effect"
import { Config } from "../config/Config.ts"
import { shutdownSignal } from "../lifecycle/Lifecycle.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import type { GroupMetadataValueInit } from "../protocol/generated/coordinator/GroupMetadataValue.ts"
import { ClassicGroupCoordinator, CONSUMER_PROTOCOL_TYPE, type CoordinatorEnv, type GroupOffsetView, type Pending } from "./classic-coordinator.ts"
import { decodeGroupRecord, groupMetadataRecord } from "./coordinator-records.ts"
import { GroupLog } from "./GroupLog.ts"
import { assignorByConfigName, type ConsumerGroupAssignor, RangeAssignor, UniformAssignor } from "./consumer/assignors.ts"
import { ConsumerGroupCoordinator } from "./consumer/consumer-coordinator.ts"
import { type ConsumerGroupRecord, decodeConsumerGroupRecord } from "./consumer/records.ts"
import type {
  ConsumerHeartbeatInput,
  ConsumerHeartbeatResult,
  ConsumerOffsetsMember,
  DescribedConsumerGroup,
  TopicLookup
} from "./consumer/types.ts"
import { type CommittedOffset, OffsetStore, type TopicPartition, type TopicPartitionOffset } from "./OffsetStore.ts"
import type {
  CommitOffsetsInput,
  CommitOffsetsResult,
  DeleteGroupResult,
  DeleteOffsetsResult,
  DescribedGroup,
  FetchedOffset,
  FetchOffsetsResult,
  FetchOffsetsTopic,
  HeartbeatInput,
  JoinGroupInput,
  JoinGroupResult,
  LeaveGroupResult,
  LeavingMember,
  ListedGroup,
  ListGroupsFilter,
  SyncGroupInput,
  SyncGroupResult,
  TxnCommitOffsetsInput
} from "./types.ts"

export interface GroupCoordinatorOptions {
  /** group.initial.rebalance.delay.ms (Kafka's default 3000). */
  readonly initialRebalanceDelayMs?: number
  /** group.min.session.timeout.ms (6000). */
  readonly minSessionTimeoutMs?: number
  /** group.max.session.timeout.ms (1800000). */
  readonly maxSessionTimeoutMs?: number
  /** group.max.size (Integer.MAX_VALUE): most members of a classic group. */
  readonly maxSize?: number
  /** offset.metadata.max.bytes (4096). */
  readonly offsetMetadataMaxBytes?: number
  /** offsets.retention.minutes, in ms (7 days). */
  readonly offsetsRetentionMs?: number
  /** offsets.retention.check.interval.ms (600000). */
  readonly offsetsRetentionCheckIntervalMs?: number
  /** Member ids are `${clientId}-${uuid}`; tests may make them predictable. */
  readonly newMemberId?: (prefix: string) => string
  /** group.consumer.session.timeout.ms (45000): KIP-848 members' session. */
  readonly consumerSessionTimeoutMs?: number
  /** group.consumer.heartbeat.interval.ms (5000). */
  readonly consumerHeartbeatIntervalMs?: number
  /** group.consumer.max.size (Integer.MAX_VALUE). */
  readonly consumerMaxSize?: number
  /** group.consumer.assignors (uniform, range): the first is the default. */
  readonly consumerAssignors?: ReadonlyArray<ConsumerGroupAssignor>
  /** KIP-848 member ids (Kafka: a random Uuid); tests may make them predictable. */
  readonly newConsumerMemberId?: () => string
}

export const GROUP_COORDINATOR_DEFAULTS = {
  initialRebalanceDelayMs: 3000,
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 1_800_000,
  maxSize: 2_147_483_647,
  offsetMetadataMaxBytes: 4096,
  offsetsRetentionMs: 10080 * 60_000,
  offsetsRetentionCheckIntervalMs: 600_000,
  consumerSessionTimeoutMs: 45_000,
  consumerHeartbeatIntervalMs: 5000,
  consumerMaxSize: 2_147_483_647
} as const

export interface GroupCoordinatorShape {
  /** Waits while the group rebalances (JoinGroup is a blocking request). */
  readonly joinGroup: (input: JoinGroupInput) => Effect.Effect<JoinGroupResult>
  /** A follower waits for the leader's assignment. */
  readonly syncGroup: (input: SyncGroupInput) => Effect.Effect<SyncGroupResult>
  /** The heartbeat's error code. */
  readonly heartbeat: (input: HeartbeatInput) => Effect.Effect<number>
  readonly leaveGroup: (groupId: string, members: ReadonlyArray<LeavingMember>) => Effect.Effect<LeaveGroupResult>
  readonly commitOffsets: (input: CommitOffsetsInput) => Effect.Effect<CommitOffsetsResult>
  /** TxnOffsetCommit: offsets pending in the producer's transaction until onTransactionCompleted. */
  readonly commitTransactionalOffsets: (input: TxnCommitOffsetsInput) => Effect.Effect<CommitOffsetsResult>
  /**
   * `topics` null = every committed offset of the group. With `requireStable`, partitions
   * with a pending transactional offset answer UNSTABLE_OFFSET_COMMIT.
   */
  readonly fetchOffsets: (
    groupId: string,
    topics: ReadonlyArray<FetchOffsetsTopic> | null,
    requireStable?: boolean,
    /** OffsetFetch v9+: checked against a KIP-848 consumer group (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID). */
    member?: ConsumerOffsetsMember
  ) => Effect.Effect<FetchOffsetsResult>
  /** DeleteGroups: empty groups go, with their offsets (tombstones in `__consumer_offsets`). */
  readonly deleteGroups: (groupIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<DeleteGroupResult>>
  /** OffsetDelete: the group's offsets of these partitions go, unless the group consumes the topic. */
  readonly deleteOffsets: (groupId: string, partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<DeleteOffsetsResult>
  /** Runs one offset-expiry pass now (the periodic check calls it); returns the number of offsets expired. */
  readonly expireOffsets: Effect.Effect<number>
  /** Topics were deleted: every group's offsets for them get tombstones (Kafka's onPartitionsDeleted). */
  readonly onTopicsDeleted: (topics: ReadonlySet<string>) => Effect.Effect<void>
  readonly listGroups: (filter: ListGroupsFilter) => Effect.Effect<ReadonlyArray<ListedGroup>>
  readonly describeGroups: (groupIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<DescribedGroup>>
  /** KIP-848: one ConsumerGroupHeartbeat; `topics` resolves subscribed topic names against the metadata image. */
  readonly consumerGroupHeartbeat: (input: ConsumerHeartbeatInput, topics: TopicLookup) => Effect.Effect<ConsumerHeartbeatResult>
  readonly consumerGroupDescribe: (groupIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<DescribedConsumerGroup>>
  /**
   * The transaction coordinator wrote the markers of `producerId`'s transaction into the
   * `__consumer_offsets` partitions `offsetsPartitions`: offsets that producer committed with
   * TxnOffsetCommit become visible to the group (commit) or are dropped (abort). Kafka's
   * GroupCoordinator.onTransactionCompleted.
   */
  readonly onTransactionCompleted: (producerId: number, offsetsPartitions: ReadonlyArray<number>, commit: boolean) => Effect.Effect<void>
}

const awaitPending = <A>(pending: Pending<A>): Effect.Effect<A> =>
  Deferred.isDeferred(pending) ? Deferred.await(pending as Deferred.Deferred<A>) : Effect.succeed(pending as A)

const NO_OFFSET: Omit<FetchedOffset, "partition"> = { offset: -1n, leaderEpoch: -1, metadata: "", errorCode: ErrorCode.NONE }

interface GroupWrite {
  readonly groupId: string
  readonly value: GroupMetadataValueInit | null
  /** Records to write instead of a GroupMetadata record (KIP-848 consumer group changes). */
  readonly records?: ReadonlyArray<ConsumerGroupRecord>
  /** The error code of the write (NONE once it is in the log). */
  readonly done: Deferred.Deferred<number>
}

/** Kafka's appendGroupMetadataErrorToResponseError, for what a failed GroupMetadata write answers. */
const groupWriteErrorCode = (errorCode: number): number =>
  errorCode === ErrorCode.INVALID_COMMIT_OFFSET_SIZE ? ErrorCode.UNKNOWN_SERVER_ERROR : errorCode

/** Kafka's OffsetExpirationCondition: the time an offset's retention counts from, or undefined when it cannot expire now. */
const expiryBase = (view: GroupOffsetView): ((c: CommittedOffset) => number) | undefined => {
  if (view.protocolType === null) return (c) => c.commitTimestampMs
  if (view.state === "Empty") return (c) => (view.currentStateTimestampMs >= 0 ? view.currentStateTimestampMs : c.commitTimestampMs)
  if (view.protocolType === CONSUMER_PROTOCOL_TYPE && view.subscribedTopics !== undefined && view.state === "Stable") return (c) => c.commitTimestampMs
  return undefined
}

/** ListGroups' view of the consumer groups, with the same filters as the classic ones. */
const consumerListed = (consumer: ConsumerGroupCoordinator, filter: ListGroupsFilter): ReadonlyArray<ListedGroup> => {
  const states = new Set(filter.states.map((s) => s.toLowerCase()))
  const types = new Set(filter.types.map((t) => t.toLowerCase()))
  return consumer.listGroups().filter((g) =>
    (states.size === 0 || states.has(g.state.toLowerCase())) && (types.size === 0 || types.has(g.groupType))
  )
}

/** `group.consumer.assignors` names (or Kafka's class names) as assignors; unknown names are skipped. */
export const consumerAssignorsFromConfig = (names: ReadonlyArray<string>): ReadonlyArray<ConsumerGroupAssignor> => {
  const found = names.map(assignorByConfigName).filter((a): a is ConsumerGroupAssignor => a !== undefined)
  return found.length > 0 ? found : [UniformAssignor, RangeAssignor]
}

const make = (options: GroupCoordinatorOptions) =>
  Effect.gen(function*() {
    const store = yield* OffsetStore
    const log = yield* GroupLog
    const clock = yield* Clock.Clock
    const runFork = yield* FiberSet.makeRuntime<never, void, never>()
    const retentionMs = options.offsetsRetentionMs ?? GROUP_COORDINATOR_DEFAULTS.offsetsRetentionMs
    const checkIntervalMs = options.offsetsRetentionCheckIntervalMs ?? GROUP_COORDINATOR_DEFAULTS.offsetsRetentionCheckIntervalMs

    // GroupMetadata records are written in the order the group state machine asks for them,
    // by one writer fiber; a SyncGroup is answered once its generation's record is written.
    const writes = yield* Queue.unbounded<GroupWrite>()
    const lastWrite = new Map<string, Deferred.Deferred<number>>()
    const env: CoordinatorEnv = {
      now: () => clock.currentTimeMillisUnsafe(),
      schedule: (delayMs, action) => {
        const fiber = runFork(
          Effect.sleep(Math.max(0, delayMs)).pipe(
            Effect.andThen(Effect.sync(action)),
            Effect.catchDefect((defect) => Effect.logError("group coordinator timer failed", defect))
          )
        )
        return () => fiber.interruptUnsafe()
      },
      newMemberId: options.newMemberId ?? ((prefix) => `${prefix}-${randomUUID()}`),
      writeGroup: (groupId, value) => {
        const done = Deferred.makeUnsafe<number>()
        lastWrite.set(groupId, done)
        Queue.offerUnsafe(writes, { groupId, value, done })
      }
    }
    const core = new ClassicGroupCoordinator(env, {
      initialRebalanceDelayMs: options.initialRebalanceDelayMs ?? GROUP_COORDINATOR_DEFAULTS.initialRebalanceDelayMs,
      minSessionTimeoutMs: options.minSessionTimeoutMs ?? GROUP_COORDINATOR_DEFAULTS.minSessionTimeoutMs,
      maxSessionTimeoutMs: options.maxSessionTimeoutMs ?? GROUP_COORDINATOR_DEFAULTS.maxSessionTimeoutMs,
      maxSize: options.maxSize ?? GROUP_COORDINATOR_DEFAULTS.maxSize,
      offsetMetadataMaxBytes: options.offsetMetadataMaxBytes ?? GROUP_COORDINATOR_DEFAULTS.offsetMetadataMaxBytes
    })

    // KIP-848 consumer groups share the group id namespace with the classic ones; their
    // changes are written as ConsumerGroup* records through the same writer, in order.
    const consumer = new ConsumerGroupCoordinator(
      {
        now: env.now,
        schedule: (delayMs, action) => env.schedule(delayMs, () => {
          action()
          writeConsumerRecords()
        }),
        newMemberUuid: options.newConsumerMemberId ?? (() => randomBytes(16).toString("base64url"))
      },
      {
        sessionTimeoutMs: options.consumerSessionTimeoutMs ?? GROUP_COORDINATOR_DEFAULTS.consumerSessionTimeoutMs,
        heartbeatIntervalMs: options.consumerHeartbeatIntervalMs ?? GROUP_COORDINATOR_DEFAULTS.consumerHeartbeatIntervalMs,
        maxSize: options.consumerMaxSize ?? GROUP_COORDINATOR_DEFAULTS.consumerMaxSize,
        assignors: options.consumerAssignors ?? [UniformAssignor, RangeAssignor],
        recordChanges: true
      },
      { has: (groupId) => core.hasGroup(groupId), deleteIfEmpty: (groupId) => core.deleteIfEmpty(groupId) }
    )
    /** Queues the consumer groups' pending records; each group's last write is what its next answer waits for. */
    function writeConsumerRecords(): void {
      for (const { groupId, records } of consumer.takeRecords()) {
        const done = Deferred.makeUnsafe<number>()
        lastWrite.set(groupId, done)
        Queue.offerUnsafe(writes, { groupId, value: null, records, done })
      }
    }

    // Start-up: the state in `__consumer_offsets` comes back before any request is served.
    let replayed = 0
    yield* log.replay((entry) => {
      replayed++
      if (entry._tag === "Marker") {
        store.replayMarker(entry.partition, entry.producerId, entry.commit)
        return
      }
      let decoded
      try {
        decoded = decodeGroupRecord(entry.record)
      } catch (e) {
        // Kafka fails the partition's load on an unreadable record; one bad record should not cost every group here.
        runFork(Effect.logWarning(`unreadable record at ${entry.partition}/${entry.offset} of __consumer_offsets: ${String(e)}`))
        return
      }
      if (decoded._tag === "OffsetCommit") {
        const v = decoded.value
        store.replayOffset(entry.partition, entry.producerId, decoded.group, decoded.topic, decoded.partition, v === null ? null : {
          offset: v.offset,
          leaderEpoch: v.leaderEpoch,
          metadata: v.metadata,
          commitTimestampMs: Number(v.commitTimestamp),
          expireTimestampMs: Number(v.expireTimestamp)
        })
      } else if (decoded._tag === "GroupMetadata") {
        core.replayGroup(decoded.group, decoded.value)
      } else {
        let consumerRecord
        try {
          consumerRecord = decodeConsumerGroupRecord(entry.record)
        } catch (e) {
          runFork(Effect.logWarning(`unreadable consumer group record at ${entry.partition}/${entry.offset} of __consumer_offsets: ${String(e)}`))
          return
        }
        if (consumerRecord !== undefined) consumer.replay(consumerRecord)
      }
    }).pipe(Effect.catch((e) => Effect.logError(`cannot replay __consumer_offsets: ${e.message}`)))
    core.finishReplay(store.groupIds())
    consumer.finishReplay()
    if (replayed > 0) yield* Effect.logInfo(`group coordinator loaded ${replayed} record(s) from __consumer_offsets`)

    yield* Effect.forkScoped(Effect.forever(
      Effect.gen(function*() {
        const write = yield* Queue.take(writes)
        const records = write.records ?? [groupMetadataRecord(write.groupId, write.value)]
        const code = yield* log.append(write.groupId, records).pipe(
          Effect.as(ErrorCode.NONE),
          Effect.catch((e) =>
            Effect.logError(`cannot write the metadata of group ${write.groupId}: ${e.message}`).pipe(Effect.as(groupWriteErrorCode(e.errorCode)))
          )
        )
        Deferred.doneUnsafe(write.done, Effect.succeed(code))
        if (lastWrite.get(write.groupId) === write.done) lastWrite.delete(write.groupId)
      })
    ))

    yield* Effect.addFinalizer(() => Effect.sync(() => core.shutdown()))
    yield* Effect.addFinalizer(() => Effect.sync(() => consumer.shutdown()))
    // Waiting joins and syncs are answered as soon as the broker begins to shut down.
    yield* Effect.forkScoped(Effect.andThen(yield* shutdownSignal, Effect.sync(() => core.shutdown())))

    /** Waits for the group's last GroupMetadata write; its error code. */
    const awaitGroupWritten = (groupId: string): Effect.Effect<number> => {
      const pending = lastWrite.get(groupId)
      return pending === undefined ? Effect.succeed(ErrorCode.NONE) : Deferred.await(pending)
    }

    const acceptedOffsets = (input: CommitOffsetsInput, codes: Array<number>): Array<TopicPartitionOffset> => {
      const now = env.now()
      const accepted: Array<TopicPartitionOffset> = []
      input.offsets.forEach((o, i) => {
        if (codes[i] !== ErrorCode.NONE) return
        const commitTimestampMs = o.commitTimestampMs >= 0 ? o.commitTimestampMs : now
        const retention = o.retentionTimeMs ?? -1
        const committed: CommittedOffset = {
          offset: o.offset,
          leaderEpoch: o.leaderEpoch,
          metadata: o.metadata ?? "",
          commitTimestampMs,
          // An explicit retention (OffsetCommit v2-v4) is kept as an expire timestamp, as Kafka does.
          expireTimestampMs: retention >= 0 ? commitTimestampMs + retention : -1
        }
        accepted.push({ topic: o.topic, partition: o.partition, committed })
      })
      return accepted
    }

    const commitWith = (
      input: CommitOffsetsInput,
      transactional: boolean,
      write: (accepted: ReadonlyArray<TopicPartitionOffset>) => Effect.Effect<void, { readonly errorCode: number }>
    ): Effect.Effect<CommitOffsetsResult> =>
      Effect.suspend(() => {
        const groupError = consumer.has(input.groupId)
          ? consumer.validateCommit(input.groupId, input.memberId, input.generationId, input.apiVersion, transactional)
          : core.validateCommit(input, transactional)
        if (groupError !== ErrorCode.NONE) {
          core.releaseGroup(input.groupId)
          return Effect.succeed(input.offsets.map(() => groupError))
        }
        const codes = input.offsets.map((o) => core.offsetError(o.metadata))
        const accepted = acceptedOffsets(input, codes)
        if (accepted.length === 0) {
          core.releaseGroup(input.groupId)
          return Effect.succeed(codes)
        }
        core.markOffsets(input.groupId)
        return write(accepted).pipe(
          Effect.as(codes),
          Effect.catch((e) => Effect.sync(() => {
            if (store.groupIds().includes(input.groupId) || store.hasOpenTransactions(input.groupId)) return
            core.offsetsGone(input.groupId)
          }).pipe(Effect.as(codes.map((c) => (c === ErrorCode.NONE ? e.errorCode : c)))))
        )
      })

    const commitOffsets = (input: CommitOffsetsInput): Effect.Effect<CommitOffsetsResult> =>
      commitWith(input, false, (accepted) => store.put(input.groupId, accepted))

    const commitTransactionalOffsets = (input: TxnCommitOffsetsInput): Effect.Effect<CommitOffsetsResult> =>
      commitWith(input, true, (accepted) => store.putPending(input.groupId, { producerId: input.producerId, producerEpoch: input.producerEpoch }, accepted))

    const fetchOffsets = (
      groupId: string,
      topics: ReadonlyArray<FetchOffsetsTopic> | null,
      requireStable = false,
      member?: ConsumerOffsetsMember
    ): Effect.Effect<FetchOffsetsResult> => {
      const memberError = member === undefined ? ErrorCode.NONE : consumer.validateFetch(groupId, member)
      if (memberError !== ErrorCode.NONE) return Effect.succeed({ errorCode: memberError, topics: [] })
      const unstable = (topic: string, partition: number) => requireStable && store.hasPending(groupId, topic, partition)
      const fetched = (topic: string, partition: number, c: CommittedOffset | undefined): FetchedOffset =>
        unstable(topic, partition)
          ? { partition, ...NO_OFFSET, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT }
          : c === undefined
          ? { partition, ...NO_OFFSET }
          : { partition, offset: c.offset, leaderEpoch: c.leaderEpoch, metadata: c.metadata, errorCode: ErrorCode.NONE }
      if (topics === null) {
        return store.list(groupId).pipe(
          Effect.map((all): FetchOffsetsResult => {
            const byTopic = new Map<string, Array<FetchedOffset>>()
            for (const { topic, partition, committed } of all) {
              let partitions = byTopic.get(topic)
              if (partitions === undefined) {
                partitions = []
                byTopic.set(topic, partitions)
              }
              partitions.push(fetched(topic, partition, committed))
            }
            return { errorCode: ErrorCode.NONE, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) }
          }),
          Effect.catchTag("OffsetStoreError", (e) => Effect.succeed({ errorCode: e.errorCode, topics: [] }))
        )
      }
      return Effect.forEach(topics, (t) =>
        Effect.forEach(t.partitions, (partition) =>
          store.get(groupId, t.topic, partition).pipe(
            Effect.map((c) => fetched(t.topic, partition, c)),
            Effect.catchTag("OffsetStoreError", (e) => Effect.succeed({ partition, ...NO_OFFSET, errorCode: e.errorCode }))
          )).pipe(Effect.map((partitions) => ({ topic: t.topic, partitions })))).pipe(
          Effect.map((result): FetchOffsetsResult => ({ errorCode: ErrorCode.NONE, topics: result }))
        )
    }

    /** Committed and pending partitions of a group, each once. */
    const offsetPartitionsOf = (groupId: string) =>
      store.list(groupId).pipe(Effect.map((committed) => {
        const seen = new Map<string, TopicPartition>()
        for (const tp of [...committed, ...store.pendingPartitions(groupId)]) seen.set(`${tp.topic}\u0000${tp.partition}`, { topic: tp.topic, partition: tp.partition })
        return [...seen.values()]
      }))

    const deleteGroups = (groupIds: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<DeleteGroupResult>> =>
      Effect.forEach(groupIds, (groupId) =>
        Effect.gen(function*() {
          const isConsumerGroup = consumer.has(groupId)
          const error = isConsumerGroup ? consumer.deleteGroupError(groupId) : core.deleteGroupError(groupId)
          if (error !== ErrorCode.NONE) return { groupId, errorCode: error }
          // The group's offsets and the group itself go in one batch, as Kafka writes them.
          const partitions = yield* offsetPartitionsOf(groupId)
          yield* awaitGroupWritten(groupId)
          if (isConsumerGroup) {
            const tombstones = consumer.deleteEmptyGroup(groupId)
            yield* store.remove(groupId, partitions, tombstones)
            return { groupId, errorCode: ErrorCode.NONE }
          }
          yield* store.remove(groupId, partitions, [groupMetadataRecord(groupId, null)])
          core.removeGroup(groupId)
          return { groupId, errorCode: ErrorCode.NONE }
        }).pipe(Effect.catchTag("OffsetStoreError", (e) => Effect.succeed({ groupId, errorCode: e.errorCode }))))

    const deleteOffsets = (groupId: string, partitions: ReadonlyArray<TopicPartition>): Effect.Effect<DeleteOffsetsResult> =>
      Effect.gen(function*() {
        // A consumer group's offsets may be deleted in any state, except for topics it subscribes to.
        const isConsumerGroup = consumer.has(groupId)
        const error = isConsumerGroup ? ErrorCode.NONE : core.offsetDeleteError(groupId)
        if (error !== ErrorCode.NONE) return { errorCode: error, partitions: [] }
        const subscribed = isConsumerGroup ? consumer.subscribedTopics(groupId) : core.offsetView(groupId)?.subscribedTopics
        const codes = partitions.map((tp) => (subscribed?.has(tp.topic) === true ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE))
        yield* store.remove(groupId, partitions.filter((_, i) => codes[i] === ErrorCode.NONE))
        const left = yield* store.list(groupId)
        if (left.length === 0 && !store.hasOpenTransactions(groupId)) core.offsetsGone(groupId)
        return { errorCode: ErrorCode.NONE, partitions: codes }
      }).pipe(Effect.catchTag("OffsetStoreError", (e) => Effect.succeed({ errorCode: e.errorCode, partitions: [] })))

    /** Kafka's cleanupGroupMetadata: expired offsets get tombstones; an empty group left without offsets goes too. */
    const expireOffsets: Effect.Effect<number> = Effect.gen(function*() {
      const now = env.now()
      let expired = 0
      for (const groupId of store.groupIds()) {
        // A consumer group's offsets expire by commit time, except for the topics it subscribes to (ConsumerGroup's condition).
        const view: GroupOffsetView | undefined = consumer.has(groupId)
          ? { state: "Stable", protocolType: CONSUMER_PROTOCOL_TYPE, currentStateTimestampMs: -1, subscribedTopics: consumer.subscribedTopics(groupId) }
          : core.offsetView(groupId)
        if (view === undefined) continue
        const base = expiryBase(view)
        if (base === undefined) continue
        const all = yield* store.list(groupId)
        const doomed: Array<TopicPartition> = []
        for (const { topic, partition, committed } of all) {
          if (view.subscribedTopics?.has(topic) === true) continue
          const expire = committed.expireTimestampMs !== undefined && committed.expireTimestampMs >= 0
            ? now >= committed.expireTimestampMs
            : now - base(committed) >= retentionMs
          if (expire && !store.hasPending(groupId, topic, partition)) doomed.push({ topic, partition })
        }
        if (doomed.length === 0) continue
        const allGone = doomed.length === all.length && !store.hasOpenTransactions(groupId) && view.state === "Empty"
        yield* store.remove(groupId, doomed, allGone ? [groupMetadataRecord(groupId, null)] : [])
        expired += doomed.length
        if (allGone) core.removeGroup(groupId)
        yield* Effect.logInfo(`expired ${doomed.length} offset(s) of group ${groupId}${allGone ? "; the group is removed" : ""}`)
      }
      return expired
    }).pipe(Effect.catchTag("OffsetStoreError", (e) => Effect.logError(`offset expiry failed: ${e.message}`).pipe(Effect.as(0))))

    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(checkIntervalMs), expireOffsets)))

    const onTopicsDeleted = (topics: ReadonlySet<string>): Effect.Effect<void> =>
      Effect.forEach(new Set([...store.groupIds(), ...core.groupIds()]), (groupId) =>
        Effect.gen(function*() {
          const doomed = (yield* offsetPartitionsOf(groupId)).filter((tp) => topics.has(tp.topic))
          if (doomed.length === 0) return
          yield* store.remove(groupId, doomed)
          if ((yield* store.list(groupId)).length === 0 && !store.hasOpenTransactions(groupId)) core.offsetsGone(groupId)
        }).pipe(Effect.catchTag("OffsetStoreError", (e) => Effect.logError(`cannot remove the offsets of deleted topics for group ${groupId}: ${e.message}`))), { discard: true })

    return GroupCoordinator.of({
      joinGroup: (input) =>
        Effect.suspend(() => {
          const taken = consumer.classicJoinError(input.groupId)
          writeConsumerRecords()
          if (taken !== ErrorCode.NONE) {
            return Effect.succeed<JoinGroupResult>({
              errorCode: taken,
              generationId: -1,
              protocolType: null,
              protocolName: null,
              leader: "",
              skipAssignment: false,
              memberId: input.memberId,
              members: []
            })
          }
          return awaitPending(core.join(input))
        }),
      syncGroup: (input) =>
        Effect.suspend(() => awaitPending(core.sync(input))).pipe(
          // The generation is answered once its record is in the log; if it could not be
          // written, the members get the error and the group rebalances (as Kafka does).
          Effect.flatMap((result) =>
            result.errorCode !== ErrorCode.NONE ? Effect.succeed(result) : Effect.map(awaitGroupWritten(input.groupId), (code) => {
              if (code === ErrorCode.NONE) return result
              core.generationNotWritten(input.groupId, input.generationId)
              return { errorCode: code, protocolType: null, protocolName: null, assignment: new Uint8Array(0) }
            })
          )
        ),
      heartbeat: (input) => Effect.sync(() => core.heartbeat(input)),
      leaveGroup: (groupId, members) => Effect.sync(() => core.leave(groupId, members)),
      commitOffsets,
      commitTransactionalOffsets,
      fetchOffsets,
      deleteGroups,
      deleteOffsets,
      expireOffsets,
      onTopicsDeleted,
      listGroups: (filter) => Effect.sync(() => [...core.listGroups(filter), ...consumerListed(consumer, filter)]),
      describeGroups: (groupIds) => Effect.sync(() => groupIds.map((id) => core.describeGroup(id))),
      // Answered once the member's changes are in `__consumer_offsets`, as Kafka answers a write operation.
      consumerGroupHeartbeat: (input, topics) =>
        Effect.suspend(() => {
          const result = consumer.heartbeat(input, topics)
          writeConsumerRecords()
          return Effect.map(awaitGroupWritten(input.groupId), (code): ConsumerHeartbeatResult =>
            code === ErrorCode.NONE || result.errorCode !== ErrorCode.NONE
              ? result
              : { errorCode: code, errorMessage: null, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null })
        }),
      consumerGroupDescribe: (groupIds) => Effect.sync(() => groupIds.map((id) => consumer.describe(id))),
      onTransactionCompleted: (producerId, offsetsPartitions, commit) => store.completeTransaction(producerId, offsetsPartitions, commit)
    })
  })

export class GroupCoordinator extends Context.Service<GroupCoordinator, GroupCoordinatorShape>()("kafka-broker/groups/GroupCoordinator") {
  /** The coordinator over a given OffsetStore and GroupLog. */
  static readonly layer = (options: GroupCoordinatorOptions = {}): Layer.Layer<GroupCoordinator, never, OffsetStore | GroupLog> =>
    Layer.effect(GroupCoordinator, make(options))

  /** The coordinator with its state in an in-memory GroupLog. */
  static readonly layerInMemory = (options: GroupCoordinatorOptions = {}): Layer.Layer<GroupCoordinator> =>
    GroupCoordinator.layerOver(GroupLog.layerMemory(), options)

  /** The coordinator and its OffsetStore over the given GroupLog. */
  static readonly layerOver = <E, R>(log: Layer.Layer<GroupLog, E, R>, options: GroupCoordinatorOptions = {}): Layer.Layer<GroupCoordinator, E, R> =>
    GroupCoordinator.layer(options).pipe(Layer.provide(OffsetStore.layer), Layer.provide(log))

  /**
   * The broker's coordinator (group.* and offsets.* properties) over the broker's GroupLog,
   * which other group coordinators (KIP-848) share.
   */
  static readonly layerFromConfig: Layer.Layer<GroupCoordinator, never, Config | GroupLog> = Layer.unwrap(
    Config.useSync((config) =>
      GroupCoordinator.layer({
        initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
        minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
        maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
        maxSize: config.groupMaxSize,
        offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
        offsetsRetentionCheckIntervalMs: config.offsetsRetentionCheckIntervalMs,
        consumerSessionTimeoutMs: config.groupConsumerSessionTimeoutMs,
        consumerHeartbeatIntervalMs: config.groupConsumerHeartbeatIntervalMs,
        consumerMaxSize: config.groupConsumerMaxSize,
        consumerAssignors: consumerAssignorsFromConfig(config.groupConsumerAssignors)
      }).pipe(Layer.provide(OffsetStore.layer)))
  )
}
