/**
 * The composition root: which services make a broker and how they are wired. `main.ts`
 * runs it as a process; `startBroker` embeds it in another program (tests use that).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Clock, Duration, Effect, Layer, ManagedRuntime, References } from "effect"
import type { LogLevel } from "effect/LogLevel"
import { Config } from "./config/Config.ts"
import { servedListeners } from "./config/listeners.ts"
import type { AnyHandler } from "./handlers/handler.ts"
import { makeRegistry } from "./handlers/registry.ts"
import { BrokerServer, type ListenerBindError } from "./server/BrokerServer.ts"
import { BrokerLifecycle } from "./lifecycle/Lifecycle.ts"
import { Listeners } from "./server/Listeners.ts"
import { LogStore } from "./log/LogStore.ts"
import { FatalFault, type FatalFaultShape } from "./lifecycle/FatalFault.ts"
import { FileIo, type FileIoShape } from "./storage/FileIo.ts"
import type { LogIoError } from "./log/errors.ts"
import { LogMaintenance } from "./log/maintenance.ts"
import { type CleanResult, LogCleaner } from "./log/cleaner/LogCleaner.ts"
import type { MetadataStartupError } from "./metadata/errors.ts"
import { MetadataLog, type MetadataLogOptions } from "./metadata/MetadataLog.ts"
import type { BrokerConfig } from "./config/broker-config.ts"
import { TopicsLayer } from "./topics/layer.ts"
import { FetchSessions } from "./fetch/FetchSessions.ts"
import { ClientQuotas } from "./quotas/ClientQuotas.ts"
import { withRequestQuota } from "./quotas/request-quota.ts"
import { AlterClientQuotasHandler } from "./handlers/AlterClientQuotas.ts"
import { AlterConfigsHandler } from "./handlers/AlterConfigs.ts"
import { DescribeClientQuotasHandler } from "./handlers/DescribeClientQuotas.ts"
import { UpdateFeaturesHandler } from "./handlers/UpdateFeatures.ts"
import { AlterPartitionReassignmentsHandler } from "./handlers/AlterPartitionReassignments.ts"
import { DeleteRecordsHandler } from "./handlers/DeleteRecords.ts"
import { DescribeClusterHandler } from "./handlers/DescribeCluster.ts"
import { DescribeLogDirsHandler } from "./handlers/DescribeLogDirs.ts"
import { ElectLeadersHandler } from "./handlers/ElectLeaders.ts"
import { GetTelemetrySubscriptionsHandler } from "./handlers/GetTelemetrySubscriptions.ts"
import { ListPartitionReassignmentsHandler } from "./handlers/ListPartitionReassignments.ts"
import { OffsetForLeaderEpochHandler } from "./handlers/OffsetForLeaderEpoch.ts"
import { IncrementalAlterConfigsHandler } from "./handlers/IncrementalAlterConfigs.ts"
import { GroupCoordinator, GroupLog } from "./groups/index.ts"
import { ConsumerGroupDescribeHandler } from "./handlers/ConsumerGroupDescribe.ts"
import { ConsumerGroupHeartbeatHandler } from "./handlers/ConsumerGroupHeartbeat.ts"
import { DeleteGroupsHandler } from "./handlers/DeleteGroups.ts"
import { DescribeGroupsHandler } from "./handlers/DescribeGroups.ts"
import { FindCoordinatorHandler } from "./handlers/FindCoordinator.ts"
import { HeartbeatHandler } from "./handlers/Heartbeat.ts"
import { JoinGroupHandler } from "./handlers/JoinGroup.ts"
import { LeaveGroupHandler } from "./handlers/LeaveGroup.ts"
import { ListGroupsHandler } from "./handlers/ListGroups.ts"
import { OffsetCommitHandler } from "./handlers/OffsetCommit.ts"
import { OffsetDeleteHandler } from "./handlers/OffsetDelete.ts"
import { OffsetFetchHandler } from "./handlers/OffsetFetch.ts"
import { SyncGroupHandler } from "./handlers/SyncGroup.ts"
import { TxnOffsetCommitHandler } from "./handlers/TxnOffsetCommit.ts"
import { GroupTopicDeletions } from "./groups/topic-deletions.ts"
import { CreatePartitionsHandler } from "./handlers/CreatePartitions.ts"
import { CreateTopicsHandler } from "./handlers/CreateTopics.ts"
import { DeleteTopicsHandler } from "./handlers/DeleteTopics.ts"
import { DescribeConfigsHandler } from "./handlers/DescribeConfigs.ts"
import { DescribeTopicPartitionsHandler } from "./handlers/DescribeTopicPartitions.ts"
import { FetchHandler } from "./handlers/Fetch.ts"
import { ListOffsetsHandler } from "./handlers/ListOffsets.ts"
import { MetadataHandler } from "./handlers/Metadata.ts"
import { ProduceHandler } from "./handlers/Produce.ts"
import type { Topics } from "./topics/Topics.ts"
import { AddOffsetsToTxnHandler } from "./handlers/AddOffsetsToTxn.ts"
import { AddPartitionsToTxnHandler } from "./handlers/AddPartitionsToTxn.ts"
import { DescribeProducersHandler } from "./handlers/DescribeProducers.ts"
import { DescribeTransactionsHandler } from "./handlers/DescribeTransactions.ts"
import { EndTxnHandler } from "./handlers/EndTxn.ts"
import { InitProducerIdHandler } from "./handlers/InitProducerId.ts"
import { ListTransactionsHandler } from "./handlers/ListTransactions.ts"
import { ProducerIdManager } from "./txn/ProducerIdManager.ts"
import { TransactionCoordinator } from "./txn/TransactionCoordinator.ts"
import { TransactionLog } from "./txn/TransactionLog.ts"
import type { ConfigError } from "./config/errors.ts"
import { HealthRoutes } from "./http/health.ts"
import { HttpListener } from "./http/HttpListener.ts"
import { MetricsRoutes } from "./http/metrics.ts"
import { ApiRoutes } from "./http/api.ts"
import { ConsoleRoutes } from "./http/console.ts"
import { Throughput } from "./http/throughput.ts"
import { BrokerMetrics } from "./metrics/BrokerMetrics.ts"
import { ProcessSamplers } from "./metrics/gauges.ts"
import { RequestLog } from "./logging/RequestLog.ts"
import { combineObservers, noObserver } from "./server/observer.ts"

/** How long shutdown lets in-flight requests finish before closing connections anyway. */
const DRAIN_TIMEOUT = "10 seconds"

/** The group APIs: they need GroupCoordinator, and Topics for this node's id and which partitions exist. */
export const groupHandlers: ReadonlyArray<AnyHandler<GroupCoordinator | Topics>> = [
  FindCoordinatorHandler,
  JoinGroupHandler,
  SyncGroupHandler,
  HeartbeatHandler,
  LeaveGroupHandler,
  OffsetCommitHandler,
  OffsetFetchHandler,
  ListGroupsHandler,
  DescribeGroupsHandler,
  ConsumerGroupHeartbeatHandler,
  ConsumerGroupDescribeHandler,
  DeleteGroupsHandler,
  OffsetDeleteHandler,
  TxnOffsetCommitHandler
]

/** Every API the broker serves. ApiVersions is added by the registry itself. */
export const handlers: ReadonlyArray<AnyHandler<BrokerServices>> = [
  ProduceHandler,
  FetchHandler,
  ListOffsetsHandler,
  MetadataHandler,
  DescribeTopicPartitionsHandler,
  CreateTopicsHandler,
  DeleteTopicsHandler,
  CreatePartitionsHandler,
  DescribeConfigsHandler,
  AlterConfigsHandler,
  IncrementalAlterConfigsHandler,
  DeleteRecordsHandler,
  OffsetForLeaderEpochHandler,
  DescribeClusterHandler,
  DescribeLogDirsHandler,
  ElectLeadersHandler,
  AlterPartitionReassignmentsHandler,
  ListPartitionReassignmentsHandler,
  GetTelemetrySubscriptionsHandler,
  UpdateFeaturesHandler,
  DescribeClientQuotasHandler,
  AlterClientQuotasHandler,
  ...groupHandlers,
  InitProducerIdHandler,
  AddPartitionsToTxnHandler,
  AddOffsetsToTxnHandler,
  EndTxnHandler,
  DescribeTransactionsHandler,
  ListTransactionsHandler,
  DescribeProducersHandler
]

/** What the handlers may depend on. */
export type BrokerServices =
  | Topics
  | LogStore
  | MetadataLog
  | FetchSessions
  | GroupCoordinator
  | GroupLog
  | BrokerLifecycle
  | ProducerIdManager
  | TransactionCoordinator

/** What the storage side provides beyond the handlers' services. */
export type StorageServices = BrokerServices | LogCleaner | ClientQuotas

/** The metadata log's settings from the broker config. */
export const metadataLogOptions = (config: BrokerConfig): MetadataLogOptions => ({
  logDirs: config.logDirs,
  nodeId: config.nodeId,
  ...(config.metadataLogDir === undefined ? {} : { metadataLogDir: config.metadataLogDir }),
  segmentBytes: config.metadataLogSegmentBytes,
  segmentMs: config.metadataLogSegmentMs,
  maxRecordBytesBetweenSnapshots: config.metadataLogMaxRecordBytesBetweenSnapshots,
  maxSnapshotIntervalMs: config.metadataLogMaxSnapshotIntervalMs,
  maxRetentionBytes: config.metadataMaxRetentionBytes,
  maxRetentionMs: config.metadataMaxRetentionMs
})

/**
 * The storage side, given a Config: the metadata log (opened first: it owns meta.properties
 * and the cluster id), the partition logs, their maintenance, and the Topics service that
 * keeps the two in agreement.
 */
export const StorageLayer: Layer.Layer<StorageServices, MetadataStartupError | LogIoError, Config> = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* Config
    const metadata = MetadataLog.layer(metadataLogOptions(config))
    const logs = LogStore.layer({
      logDirs: config.logDirs,
      segmentBytes: config.logSegmentBytes,
      indexMemoryMaxBytes: config.logIndexMemoryMaxBytes,
      rollMs: config.logRollMs,
      retentionMs: config.logRetentionMs,
      retentionBytes: config.logRetentionBytes,
      flushIntervalMessages: config.logFlushIntervalMessages,
      flushIntervalMs: config.logFlushIntervalMs,
      messageTimestampType: config.messageTimestampType,
      producerIdExpirationMs: config.producerIdExpirationMs,
      metadataLogDir: config.metadataLogDir ?? config.logDirs[0]
    })
    const maintenance = LogMaintenance({
      retentionCheckIntervalMs: config.logRetentionCheckIntervalMs,
      producerIdExpirationCheckIntervalMs: config.producerIdExpirationCheckIntervalMs
    })
    const cleaner = LogCleaner.layer({
      enable: config.logCleanerEnable,
      threads: config.logCleanerThreads,
      backoffMs: config.logCleanerBackoffMs,
      dedupeBufferSize: config.logCleanerDedupeBufferSize,
      ioBufferLoadFactor: config.logCleanerIoBufferLoadFactor,
      ioBufferSize: config.logCleanerIoBufferSize,
      ioMaxBytesPerSecond: config.logCleanerIoMaxBytesPerSecond
    })
    const producerIds = ProducerIdManager.layerMetadataLog
    // The transaction coordinator replays __transaction_state once the topics, logs and groups are open.
    const transactions = TransactionCoordinator.layerFromConfig.pipe(Layer.provide(TransactionLog.layer))
    return transactions.pipe(
      Layer.provideMerge(GroupTopicDeletions),
      Layer.provideMerge(GroupCoordinator.layerFromConfig),
      Layer.provideMerge(GroupLog.layerFromConfig),
      Layer.provideMerge(Layer.mergeAll(TopicsLayer, producerIds)),
      Layer.merge(maintenance),
      Layer.merge(cleaner),
      Layer.provideMerge(logs),
      Layer.merge(ClientQuotas.layer),
      Layer.provideMerge(metadata),
      Layer.merge(FetchSessions.layer),
      Layer.provideMerge(BrokerLifecycle.layer)
    )
  })
)

/** The network side, given the services the handlers need. */
export const ServerLayer: Layer.Layer<BrokerServer, ListenerBindError, Config | BrokerServices | ClientQuotas | BrokerMetrics | RequestLog> = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* Config
    const metrics = yield* BrokerMetrics
    const requestLog = yield* RequestLog
    const metadata = yield* MetadataLog
    const quotas = yield* ClientQuotas
    const clock = yield* Clock.Clock
    const registry = makeRegistry(handlers.map((h) => withRequestQuota(h, quotas, clock)), () => {
      const image = metadata.current()
      return { source: image.features, epoch: BigInt(image.offset), features: image.features }
    })
    const advertised = new Map(config.advertisedListeners.map((l) => [l.name, l]))
    const listeners = servedListeners(config).map((l) => ({
      name: l.name,
      host: l.host,
      port: l.port,
      advertisedHost: advertised.get(l.name)?.host ?? l.host,
      advertisedPort: advertised.get(l.name)?.port ?? l.port
    }))
    return BrokerServer.layer(registry, {
      listeners,
      maxRequestSize: config.socketRequestMaxBytes,
      drainTimeout: DRAIN_TIMEOUT,
      idleTimeoutMs: config.connectionsMaxIdleMs,
      maxQueuedRequests: config.queuedMaxRequests,
      connectionLimits: {
        maxConnections: config.maxConnections,
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        perIpOverrides: config.maxConnectionsPerIpOverrides,
        listenBacklog: config.socketListenBacklogSize
      },
      // Metrics off (the benchmark's baseline) leaves requests unobserved altogether.
      observer: metrics.observer.enabled ? combineObservers([metrics.observer, requestLog.observer]) : noObserver
    })
  })
).pipe(Layer.provide(Listeners.node))

/** Every typed way the broker can fail to start; each carries a message naming what and why. */
export type BrokerStartupError = MetadataStartupError | LogIoError | ListenerBindError | ConfigError

/**
 * The operations HTTP listener and what it serves, given the broker; with `startAfter`, all of it
 * (listener, process samplers, throughput) starts that long after it would otherwise.
 */
export const makeHttpLayer = (options: { readonly startAfter?: Duration.Input | undefined } = {}) => {
  const layer = HttpListener.layer(Layer.mergeAll(HealthRoutes, MetricsRoutes, ApiRoutes, ConsoleRoutes)).pipe(
    Layer.provide(Layer.mergeAll(ProcessSamplers.layer, Throughput.layer))
  )
  return options.startAfter === undefined ? layer : Layer.unwrap(Effect.as(Effect.sleep(options.startAfter), layer))
}

export const HttpLayer = makeHttpLayer()

export interface BrokerLayerOptions {
  /** False leaves requests unobserved (no request metrics): the benchmark's baseline. */
  readonly requestMetrics?: boolean
  /**
   * How long after the Kafka listeners are up the HTTP listener starts (default: at once).
   * Its start (node:http, the router) takes the event loop for several ms, and a client that
   * connects as soon as the Kafka listener logs should not wait for it.
   */
  readonly httpListenerStartAfter?: Duration.Input
}

/** The whole broker, given a Config. */
export const makeBrokerLayer = (
  options: BrokerLayerOptions = {}
): Layer.Layer<BrokerServer | HttpListener | StorageServices, BrokerStartupError, Config> =>
  makeHttpLayer({ startAfter: options.httpListenerStartAfter }).pipe(
    Layer.provideMerge(ServerLayer),
    Layer.merge(BrokerMetrics.forgetDeletedTopics),
    Layer.provideMerge(RequestLog.layer),
    Layer.provideMerge(StorageLayer),
    Layer.provide(BrokerMetrics.layer({ enabled: options.requestMetrics ?? true }))
  )

export const BrokerLayer = makeBrokerLayer()

export interface EmbeddedBroker {
  /** host:port of the first listener, for a client's bootstrap servers. */
  readonly bootstrap: string
  readonly host: string
  readonly port: number
  readonly logDir: string
  /** The HTTP listener's `http://host:port` (a free port unless `http.listener` is given), undefined when turned off. */
  readonly httpUrl: string | undefined
  /** Runs the log cleaner until no compacted log needs cleaning (a deterministic trigger for tests). */
  readonly cleanLogs: () => Promise<ReadonlyArray<CleanResult>>
  readonly stop: () => Promise<void>
}

export interface EmbedOptions {
  /** Kafka properties on top of the defaults (e.g. "num.partitions": "3"). */
  readonly properties?: Readonly<Record<string, string>>
  readonly logLevel?: LogLevel
  /** False turns request metrics off (benchmark baseline). */
  readonly requestMetrics?: boolean
  /** The file system under the logs and the metadata log (tests swap in a faulty one). */
  readonly fileIo?: FileIoShape
  /** What a fatal fault does (default: log and halt the process). */
  readonly fatalFault?: FatalFaultShape
}

/**
 * Starts a broker inside this process on an ephemeral 127.0.0.1 port with a fresh data
 * directory (unless `listeners` / `log.dirs` are given), and returns its address.
 */
export const startBroker = async (options: EmbedOptions = {}): Promise<EmbeddedBroker> => {
  const properties: Record<string, string> = { ...options.properties }
  properties["listeners"] ??= "PLAINTEXT://127.0.0.1:0"
  properties["http.listener"] ??= "http://127.0.0.1:0"
  const ownDir = properties["log.dirs"] === undefined
  if (ownDir) properties["log.dirs"] = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-broker-"))
  const layer = makeBrokerLayer({ requestMetrics: options.requestMetrics ?? true }).pipe(
    Layer.provide(Config.layerFromValues(properties)),
    Layer.provide(Layer.succeed(References.MinimumLogLevel, options.logLevel ?? "Warn")),
    Layer.provide(options.fileIo === undefined ? FileIo.layer : Layer.succeed(FileIo, options.fileIo)),
    Layer.provide(options.fatalFault === undefined ? FatalFault.layer : Layer.succeed(FatalFault, options.fatalFault))
  )
  const runtime = ManagedRuntime.make(layer.pipe(Layer.orDie))
  const { server, http } = await runtime.runPromise(Effect.gen(function*() {
    return { server: yield* BrokerServer, http: yield* HttpListener }
  }))
  const first = server.addresses[0]!
  return {
    bootstrap: `${first.host}:${first.port}`,
    host: first.host,
    port: first.port,
    logDir: properties["log.dirs"]!,
    httpUrl: http.url,
    cleanLogs: () =>
      runtime.runPromise(Effect.gen(function*() {
        const cleaner = yield* LogCleaner
        return yield* cleaner.cleanUntilClean()
      })),
    stop: async () => {
      await runtime.dispose()
    }
  }
}
