/**
 * The GroupCoordinator service: this broker is the coordinator of every consumer group (a
 * single node owns every `__consumer_offsets` partition). It runs the classic group protocol
 * (classic-coordinator.ts) and keeps committed offsets in an OffsetStore.
 *
 * Time is Effect's Clock and timers are fibers sleeping on it, forked into the layer's
 * scope: session timeouts, rebalance timeouts and group.initial.rebalance.delay.ms all
 * follow TestClock in tests, and stop when the layer is released.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { Clock, Context, Deferred, Effect, FiberSet, Layer } from "effect"
import { Config } from "../config/Config.ts"
import { shutdownSignal } from "../server/Lifecycle.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { ClassicGroupCoordinator, type CoordinatorEnv, type Pending } from "./classic-coordinator.ts"
import { type CommittedOffset, OffsetStore, type TopicPartitionOffset } from "./OffsetStore.ts"
import { assignorByConfigName, type ConsumerGroupAssignor, RangeAssignor, UniformAssignor } from "./consumer/assignors.ts"
import { ConsumerGroupCoordinator } from "./consumer/consumer-coordinator.ts"
import type {
  ConsumerHeartbeatInput,
  ConsumerHeartbeatResult,
  ConsumerOffsetsMember,
  DescribedConsumerGroup,
  TopicLookup
} from "./consumer/types.ts"
import type {
  CommitOffsetsInput,
  CommitOffsetsResult,
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
  SyncGroupResult
} from "./types.ts"

export interface GroupCoordinatorOptions {
  /** group.initial.rebalance.delay.ms (Kafka's default 3000). */
  readonly initialRebalanceDelayMs?: number
  /** group.min.session.timeout.ms (6000). */
  readonly minSessionTimeoutMs?: number
  /** group.max.session.timeout.ms (1800000). */
  readonly maxSessionTimeoutMs?: number
  /** offset.metadata.max.bytes (4096). */
  readonly offsetMetadataMaxBytes?: number
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
  offsetMetadataMaxBytes: 4096,
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
  /**
   * `topics` null = every committed offset of the group. `member` (OffsetFetch v9+) is checked
   * against a consumer group (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID).
   */
  readonly fetchOffsets: (
    groupId: string,
    topics: ReadonlyArray<FetchOffsetsTopic> | null,
    member?: ConsumerOffsetsMember
  ) => Effect.Effect<FetchOffsetsResult>
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
    const clock = yield* Clock.Clock
    const runFork = yield* FiberSet.makeRuntime<never, void, never>()
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
      newMemberId: options.newMemberId ?? ((prefix) => `${prefix}-${randomUUID()}`)
    }
    const core = new ClassicGroupCoordinator(env, {
      initialRebalanceDelayMs: options.initialRebalanceDelayMs ?? GROUP_COORDINATOR_DEFAULTS.initialRebalanceDelayMs,
      minSessionTimeoutMs: options.minSessionTimeoutMs ?? GROUP_COORDINATOR_DEFAULTS.minSessionTimeoutMs,
      maxSessionTimeoutMs: options.maxSessionTimeoutMs ?? GROUP_COORDINATOR_DEFAULTS.maxSessionTimeoutMs,
      offsetMetadataMaxBytes: options.offsetMetadataMaxBytes ?? GROUP_COORDINATOR_DEFAULTS.offsetMetadataMaxBytes
    })
    const consumer = new ConsumerGroupCoordinator(
      { now: env.now, schedule: env.schedule, newMemberUuid: options.newConsumerMemberId ?? (() => randomBytes(16).toString("base64url")) },
      {
        sessionTimeoutMs: options.consumerSessionTimeoutMs ?? GROUP_COORDINATOR_DEFAULTS.consumerSessionTimeoutMs,
        heartbeatIntervalMs: options.consumerHeartbeatIntervalMs ?? GROUP_COORDINATOR_DEFAULTS.consumerHeartbeatIntervalMs,
        maxSize: options.consumerMaxSize ?? GROUP_COORDINATOR_DEFAULTS.consumerMaxSize,
        assignors: options.consumerAssignors ?? [UniformAssignor, RangeAssignor]
      },
      { has: (groupId) => core.hasGroup(groupId), deleteIfEmpty: (groupId) => core.deleteIfEmpty(groupId) }
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => core.shutdown()))
    yield* Effect.addFinalizer(() => Effect.sync(() => consumer.shutdown()))
    // Waiting joins and syncs are answered as soon as the broker begins to shut down.
    yield* Effect.forkScoped(Effect.andThen(yield* shutdownSignal, Effect.sync(() => core.shutdown())))

    const commitOffsets = (input: CommitOffsetsInput): Effect.Effect<CommitOffsetsResult> =>
      Effect.suspend(() => {
        const groupError = consumer.has(input.groupId)
          ? consumer.validateCommit(input.groupId, input.memberId, input.generationId, input.apiVersion)
          : core.validateCommit(input)
        if (groupError !== ErrorCode.NONE) {
          core.releaseGroup(input.groupId)
          return Effect.succeed(input.offsets.map(() => groupError))
        }
        const now = env.now()
        const codes = input.offsets.map((o) => core.offsetError(o.metadata))
        const accepted: Array<TopicPartitionOffset> = []
        input.offsets.forEach((o, i) => {
          if (codes[i] !== ErrorCode.NONE) return
          const committed: CommittedOffset = {
            offset: o.offset,
            leaderEpoch: o.leaderEpoch,
            metadata: o.metadata ?? "",
            commitTimestampMs: o.commitTimestampMs >= 0 ? o.commitTimestampMs : now
          }
          accepted.push({ topic: o.topic, partition: o.partition, committed })
        })
        if (accepted.length === 0) {
          core.releaseGroup(input.groupId)
          return Effect.succeed(codes)
        }
        core.markOffsets(input.groupId)
        return store.put(input.groupId, accepted).pipe(
          Effect.as(codes),
          Effect.catchTag("OffsetStoreError", (e) => Effect.succeed(codes.map((c) => (c === ErrorCode.NONE ? e.errorCode : c))))
        )
      })

    const fetchOffsets = (
      groupId: string,
      topics: ReadonlyArray<FetchOffsetsTopic> | null,
      member?: ConsumerOffsetsMember
    ): Effect.Effect<FetchOffsetsResult> => {
      const memberError = member === undefined ? ErrorCode.NONE : consumer.validateFetch(groupId, member)
      if (memberError !== ErrorCode.NONE) return Effect.succeed({ errorCode: memberError, topics: [] })
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
              partitions.push({ partition, offset: committed.offset, leaderEpoch: committed.leaderEpoch, metadata: committed.metadata, errorCode: ErrorCode.NONE })
            }
            return { errorCode: ErrorCode.NONE, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) }
          }),
          Effect.catchTag("OffsetStoreError", (e) => Effect.succeed({ errorCode: e.errorCode, topics: [] }))
        )
      }
      return Effect.forEach(topics, (t) =>
        Effect.forEach(t.partitions, (partition) =>
          store.get(groupId, t.topic, partition).pipe(
            Effect.map((c): FetchedOffset =>
              c === undefined
                ? { partition, ...NO_OFFSET }
                : { partition, offset: c.offset, leaderEpoch: c.leaderEpoch, metadata: c.metadata, errorCode: ErrorCode.NONE }
            ),
            Effect.catchTag("OffsetStoreError", (e) => Effect.succeed({ partition, ...NO_OFFSET, errorCode: e.errorCode }))
          )).pipe(Effect.map((partitions) => ({ topic: t.topic, partitions })))).pipe(
          Effect.map((result): FetchOffsetsResult => ({ errorCode: ErrorCode.NONE, topics: result }))
        )
    }

    return GroupCoordinator.of({
      joinGroup: (input) =>
        Effect.suspend(() => {
          const taken = consumer.classicJoinError(input.groupId)
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
      syncGroup: (input) => Effect.suspend(() => awaitPending(core.sync(input))),
      heartbeat: (input) => Effect.sync(() => core.heartbeat(input)),
      leaveGroup: (groupId, members) => Effect.sync(() => core.leave(groupId, members)),
      commitOffsets,
      fetchOffsets,
      listGroups: (filter) => Effect.sync(() => [...core.listGroups(filter), ...consumerListed(consumer, filter)]),
      describeGroups: (groupIds) => Effect.sync(() => groupIds.map((id) => core.describeGroup(id))),
      consumerGroupHeartbeat: (input, topics) => Effect.sync(() => consumer.heartbeat(input, topics)),
      consumerGroupDescribe: (groupIds) => Effect.sync(() => groupIds.map((id) => consumer.describe(id))),
      // No transactional offsets are kept yet (TxnOffsetCommit is not served).
      onTransactionCompleted: () => Effect.void
    })
  })

export class GroupCoordinator extends Context.Service<GroupCoordinator, GroupCoordinatorShape>()("kafka-broker/groups/GroupCoordinator") {
  /** The coordinator over a given OffsetStore. */
  static readonly layer = (options: GroupCoordinatorOptions = {}): Layer.Layer<GroupCoordinator, never, OffsetStore> =>
    Layer.effect(GroupCoordinator, make(options))

  /** The coordinator with committed offsets kept in memory. */
  static readonly layerInMemory = (options: GroupCoordinatorOptions = {}): Layer.Layer<GroupCoordinator> =>
    GroupCoordinator.layer(options).pipe(Layer.provide(OffsetStore.layerMemory))

  /** The coordinator configured by the broker's group.* properties, over a given OffsetStore. */
  static readonly layerFromConfig: Layer.Layer<GroupCoordinator, never, Config | OffsetStore> = Layer.unwrap(
    Config.useSync((config) =>
      GroupCoordinator.layer({
        initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
        minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
        maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
        consumerSessionTimeoutMs: config.groupConsumerSessionTimeoutMs,
        consumerHeartbeatIntervalMs: config.groupConsumerHeartbeatIntervalMs,
        consumerMaxSize: config.groupConsumerMaxSize,
        consumerAssignors: consumerAssignorsFromConfig(config.groupConsumerAssignors)
      }))
  )
}
