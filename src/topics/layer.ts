/**
 * The Topics service over the metadata log and the log store. Every change goes to the
 * metadata log first (the record of truth, fsync'd before it is acknowledged), then the
 * partition logs follow it. At start-up the partition logs are reconciled with the replayed
 * image: missing logs are created, logs of topics the image no longer has are removed (a
 * crash between the two steps of a delete leaves exactly that).
 */
import { Effect, Layer } from "effect"
import { Config } from "../config/Config.ts"
import type { TopicImage } from "../metadata/image.ts"
import { MetadataLog } from "../metadata/MetadataLog.ts"
import { LogStore } from "../log/LogStore.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { randomUuid } from "../random-bytes.ts"
import { brokerConfigChangeError, brokerConfigView, type BrokerConfigView } from "../config/dynamic-broker.ts"
import type { ConfigMap, MetadataImage } from "../metadata/image.ts"
import { describeBroker, describeTopic, effectiveTopicConfig, logConfigOf, topicConfigError } from "./topic-configs.ts"
import { type CreateTopicRequest, TopicAdminError, Topics, topicNameError } from "./Topics.ts"

const adminError = (errorCode: number, message: string) => new TopicAdminError({ errorCode, message })

/** Metadata and log errors reduced to the code a topic admin response carries. */
const asAdminError = (e: unknown): TopicAdminError => {
  if (e instanceof TopicAdminError) return e
  const tagged = e as { _tag?: string; message?: string }
  const message = tagged.message ?? String(e)
  switch (tagged._tag) {
    case "TopicAlreadyExists":
      return adminError(ErrorCode.TOPIC_ALREADY_EXISTS, message)
    case "UnknownTopic":
      return adminError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message)
    case "InvalidPartitions":
      return adminError(ErrorCode.INVALID_PARTITIONS, message)
    case "InvalidReplicationFactor":
      return adminError(ErrorCode.INVALID_REPLICATION_FACTOR, message)
    case "InvalidTopic":
      return adminError(ErrorCode.INVALID_TOPIC_EXCEPTION, message)
    default:
      return adminError(ErrorCode.KAFKA_STORAGE_ERROR, message)
  }
}

export const TopicsLayer: Layer.Layer<Topics, never, Config | MetadataLog | LogStore> = Layer.effect(
  Topics,
  Effect.gen(function*() {
    const config = yield* Config
    const metadata = yield* MetadataLog
    const logs = yield* LogStore

    const overridesOf = (topic: string) => metadata.current().topicConfigs.get(topic)
    const clusterResource = ""
    const nodeResource = String(metadata.nodeId)

    // Produce and Fetch ask for a topic's config on every request. The answer changes only when
    // the dynamic broker configs or the topic's override map change (the image swaps those maps
    // on change), so it is memoised by them.
    interface Effective {
      readonly brokerConfigs: MetadataImage["brokerConfigs"]
      readonly view: BrokerConfigView
      readonly defaults: ReadonlyMap<string, string>
      readonly byOverrides: WeakMap<ConfigMap, ReadonlyMap<string, string>>
    }
    let effective: Effective | undefined
    const effectiveFor = (image: MetadataImage): Effective => {
      if (effective === undefined || effective.brokerConfigs !== image.brokerConfigs) {
        const view = brokerConfigView(config, image.brokerConfigs.get(clusterResource), image.brokerConfigs.get(nodeResource))
        effective = { brokerConfigs: image.brokerConfigs, view, defaults: effectiveTopicConfig(view, undefined), byOverrides: new WeakMap() }
      }
      return effective
    }
    const topicConfig = (topic: string): ReadonlyMap<string, string> => {
      const image = metadata.current()
      const e = effectiveFor(image)
      const overrides = image.topicConfigs.get(topic)
      if (overrides === undefined) return e.defaults
      let result = e.byOverrides.get(overrides)
      if (result === undefined) e.byOverrides.set(overrides, (result = effectiveTopicConfig(e.view, overrides)))
      return result
    }

    // As Kafka's Partition.makeLeader: the leader's epoch starts at its log end offset in the
    // leader-epoch cache, so OffsetForLeaderEpoch for an older epoch ends there even before
    // anything is written in the new one.
    // A log not opened yet gets its epoch when it opens: its end offset is the same then.
    const startLeaderEpochs = (topic: TopicImage) => {
      for (const p of topic.partitions.values()) {
        if (p.leader !== metadata.nodeId) continue
        const epoch = p.leaderEpoch
        logs.whenOpen(topic.name, p.partition, (log) => {
          if (!log.isClosed) log.leaderEpochCache.assign(epoch, log.logEndOffset, "deferred")
        })
      }
    }

    // Opens (or creates) the partition logs with the topic's settings. At start-up a log found
    // on disk is adopted instead: checked against the topic id and given the topic's settings
    // when it is first used, not opened now.
    const openLogs = (topic: TopicImage, from = 0, atStartUp = false) => {
      const overrides = logConfigOf(topicConfig(topic.name))
      return Effect.forEach(
        [...topic.partitions.keys()].filter((p) => p >= from),
        (p) => atStartUp ? logs.adoptPartition(topic.name, p, topic.topicId, overrides) : logs.createPartition(topic.name, p, topic.topicId, overrides),
        { discard: true }
      ).pipe(Effect.mapError(asAdminError))
    }

    // Start-up reconciliation between the replayed image and the partition logs on disk.
    const image = metadata.current()
    for (const topic of image.topicsByName.values()) {
      yield* openLogs(topic, 0, true).pipe(
        Effect.catch((e) => Effect.logError(`cannot open the logs of topic ${topic.name}: ${e.message}`))
      )
    }
    for (const log of logs.hosted()) {
      const topic = image.topicsByName.get(log.topic)
      if (topic === undefined || !topic.partitions.has(log.partition)) {
        yield* Effect.logWarning(`removing log ${log.topic}-${log.partition}: its topic or partition is not in the metadata log`)
        yield* Effect.ignore(logs.deletePartition(log.topic, log.partition))
      }
    }

    // A (re)starting broker begins a new leader epoch for every partition it hosts, as Kafka's
    // controller does when the broker comes back: clients see the epoch change and check their
    // positions with OffsetForLeaderEpoch (a crash may have cut a torn tail off the log).
    const hosted = [...image.topicsByName.values()].flatMap((topic) =>
      [...topic.partitions.values()]
        .filter((p) => p.replicas.includes(metadata.nodeId))
        .map((p) => ({ topicId: topic.topicId, partition: p.partition }))
    )
    yield* metadata.electLeaders(hosted).pipe(
      Effect.catch((e) => Effect.logError(`cannot start new leader epochs: ${e.message}`))
    )
    for (const topic of metadata.current().topicsByName.values()) startLeaderEpochs(topic)

    const validateCreate = (request: CreateTopicRequest) =>
      Effect.suspend(() => {
        const nameError = topicNameError(request.name)
        if (nameError !== undefined) return Effect.fail(adminError(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError))
        if (metadata.current().topicsByName.has(request.name)) {
          return Effect.fail(adminError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${request.name}' already exists.`))
        }
        const assignments = request.assignments ?? []
        if (assignments.length > 0 && (request.numPartitions !== -1 || request.replicationFactor !== -1)) {
          return Effect.fail(adminError(ErrorCode.INVALID_REQUEST, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."))
        }
        for (const a of assignments) {
          if (a.brokerIds.length !== 1 || a.brokerIds[0] !== metadata.nodeId) {
            return Effect.fail(adminError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Partition ${a.partitionIndex}: replicas ${JSON.stringify(a.brokerIds)} are not this single broker (node ${metadata.nodeId}).`))
          }
        }
        const numPartitions = assignments.length > 0 ? assignments.length : request.numPartitions === -1 ? config.numPartitions : request.numPartitions
        const replicationFactor = assignments.length > 0 ? 1 : request.replicationFactor === -1 ? config.defaultReplicationFactor : request.replicationFactor
        if (numPartitions <= 0) return Effect.fail(adminError(ErrorCode.INVALID_PARTITIONS, "Number of partitions was set to an invalid non-positive value."))
        if (replicationFactor <= 0) return Effect.fail(adminError(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0, or -1 to use the default value."))
        if (replicationFactor > 1) {
          return Effect.fail(adminError(ErrorCode.INVALID_REPLICATION_FACTOR, `Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only 1 broker(s) are registered.`))
        }
        const configs: Record<string, string> = {}
        for (const c of request.configs) {
          const error = topicConfigError(c.name, c.value)
          if (error !== undefined) return Effect.fail(adminError(ErrorCode.INVALID_CONFIG, error))
          configs[c.name] = c.value!
        }
        return Effect.succeed({ numPartitions, replicationFactor, configs })
      })

    const create = (request: CreateTopicRequest) =>
      Effect.gen(function*() {
        const { numPartitions, replicationFactor, configs } = yield* validateCreate(request)
        if (request.validateOnly) {
          // What the topic would look like; nothing is written.
          const partitions = new Map(Array.from({ length: numPartitions }, (_, p) => [p, {
            partition: p, replicas: [metadata.nodeId], isr: [metadata.nodeId], removingReplicas: [], addingReplicas: [],
            leader: metadata.nodeId, leaderRecoveryState: 0, leaderEpoch: 0, partitionEpoch: 0, directories: [],
            eligibleLeaderReplicas: [], lastKnownElr: []
          }]))
          return { name: request.name, topicId: randomUuid(), partitions } satisfies TopicImage
        }
        const topic = yield* metadata.createTopic({ name: request.name, numPartitions, replicationFactor, configs }).pipe(Effect.mapError(asAdminError))
        yield* openLogs(topic)
        startLeaderEpochs(topic)
        yield* Effect.logInfo(`created topic ${topic.name} (${numPartitions} partition(s), id ${topic.topicId})`)
        return topic
      })

    const deleteTopic = (name: string) =>
      Effect.gen(function*() {
        const topic = metadata.current().topicsByName.get(name)
        if (topic === undefined) return yield* adminError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition.")
        if (!config.deleteTopicEnable) return yield* adminError(ErrorCode.TOPIC_DELETION_DISABLED, "Topic deletion is disabled.")
        yield* metadata.deleteTopic(name).pipe(Effect.mapError(asAdminError))
        // Together: their checkpoint writes on the thread pool are shared (LogStore.checkpointSoon).
        yield* Effect.forEach(topic.partitions.keys(), (p) => logs.deletePartition(name, p), { discard: true, concurrency: "unbounded" })
          .pipe(Effect.mapError(asAdminError))
        yield* Effect.logInfo(`deleted topic ${name}`)
      })

    const createPartitions = (name: string, totalCount: number, validateOnly: boolean) =>
      Effect.gen(function*() {
        const topic = metadata.current().topicsByName.get(name)
        if (topic === undefined) return yield* adminError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition.")
        const current = topic.partitions.size
        if (totalCount < current) {
          return yield* adminError(ErrorCode.INVALID_PARTITIONS, `The topic ${name} currently has ${current} partition(s); ${totalCount} would not be an increase.`)
        }
        if (totalCount === current) return yield* adminError(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partition(s).`)
        if (validateOnly) return
        const updated = yield* metadata.createPartitions(name, totalCount).pipe(Effect.mapError(asAdminError))
        yield* openLogs(updated, current)
        startLeaderEpochs(updated)
      })

    const autoCreate = (name: string) =>
      Effect.gen(function*() {
        const existing = metadata.current().topicsByName.get(name)
        if (existing !== undefined) return existing
        if (!config.autoCreateTopicsEnable) return undefined
        return yield* create({ name, numPartitions: -1, replicationFactor: -1, configs: [], validateOnly: false }).pipe(
          // Two clients auto-creating the same topic at once: the loser gets the winner's topic.
          Effect.catchIf(
            (e) => e.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS,
            (e) => {
              const topic = metadata.current().topicsByName.get(name)
              return topic === undefined ? Effect.fail(e) : Effect.succeed(topic)
            }
          )
        )
      })

    /** Applies a topic's current effective config to its partition logs. */
    const reconfigureTopic = (name: string) =>
      Effect.gen(function*() {
        const topic = metadata.current().topicsByName.get(name)
        if (topic === undefined) return
        const settings = logConfigOf(topicConfig(name))
        for (const p of topic.partitions.keys()) yield* Effect.ignore(logs.reconfigure(name, p, settings))
      })

    const alterTopicConfigs = (name: string, changes: ReadonlyMap<string, string | null>, validateOnly: boolean) =>
      Effect.gen(function*() {
        if (name === "") return yield* adminError(ErrorCode.INVALID_REQUEST, "Default topic resources are not allowed.")
        const nameError = topicNameError(name)
        if (nameError !== undefined) return yield* adminError(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError)
        for (const [key, value] of changes) {
          if (value === null) continue
          const error = topicConfigError(key, value)
          if (error !== undefined) return yield* adminError(ErrorCode.INVALID_CONFIG, error)
        }
        if (!metadata.current().topicsByName.has(name)) {
          return yield* adminError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`)
        }
        // Kafka's controller writes a topic ConfigRecord only for a value that changes.
        const current = overridesOf(name)
        const records: Record<string, string | null> = {}
        for (const [key, value] of changes) if ((current?.get(key) ?? null) !== value) records[key] = value
        if (validateOnly || Object.keys(records).length === 0) return
        yield* metadata.setTopicConfigs(name, records).pipe(Effect.mapError(asAdminError))
        yield* reconfigureTopic(name)
        yield* Effect.logInfo(`topic ${name}: configs ${Object.entries(records).map(([k, v]) => `${k}=${v ?? "(deleted)"}`).join(", ")}`)
      })

    const alterBrokerConfigs = (resource: string, changes: ReadonlyMap<string, string | null>, validateOnly: boolean) =>
      Effect.gen(function*() {
        const error = brokerConfigChangeError(changes)
        if (error !== undefined) return yield* adminError(ErrorCode.INVALID_REQUEST, error)
        if (validateOnly || changes.size === 0) return
        // Kafka writes broker ConfigRecords even for unchanged values (KAFKA-14136): they are reload triggers.
        yield* metadata.setBrokerConfigs(resource, Object.fromEntries(changes)).pipe(Effect.mapError(asAdminError))
        for (const name of metadata.current().topicsByName.keys()) yield* reconfigureTopic(name)
        yield* Effect.logInfo(`broker ${resource === "" ? "cluster default" : resource}: configs ${[...changes].map(([k, v]) => `${k}=${v ?? "(deleted)"}`).join(", ")}`)
      })

    return Topics.of({
      image: () => metadata.current(),
      clusterId: metadata.clusterId,
      nodeId: metadata.nodeId,
      topicConfig,
      create,
      delete: deleteTopic,
      createPartitions,
      autoCreate,
      describeTopicConfigs: (name, keys) =>
        metadata.current().topicsByName.has(name)
          ? Effect.succeed(describeTopic(effectiveFor(metadata.current()).view, overridesOf(name), keys))
          : Effect.fail(adminError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition.")),
      describeBrokerConfigs: (keys, clusterDefault = false) => describeBroker(effectiveFor(metadata.current()).view, keys, clusterDefault),
      dynamicConfigs: (resource, name) =>
        (resource === "topic" ? metadata.current().topicConfigs.get(name) : metadata.current().brokerConfigs.get(name)) ?? new Map(),
      alterTopicConfigs,
      alterBrokerConfigs
    })
  })
)
