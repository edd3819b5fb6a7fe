/**
 * The MetadataLog service: the broker's KRaft `__cluster_metadata` log and the image replayed
 * from it.
 *
 * At start-up it reads (or writes) meta.properties in every log dir, opens
 * `<metadata log dir>/__cluster_metadata-0`, loads the latest snapshot and replays the log,
 * takes the next raft epoch, and on a fresh directory writes the bootstrap FeatureLevelRecord.
 * Every change (create/delete topic, add partitions, configs) is appended as the records
 * Kafka's controller writes, in one batch, fsync'd, before the image changes and before the
 * call returns; a single writer lock keeps concurrent changes from interleaving.
 *
 * Reading is lock-free: `current()` returns the image, an immutable value swapped on each
 * change, cheap enough for every request.
 */
import { FatalFault } from "../lifecycle/FatalFault.ts"
import { FileIo } from "../storage/FileIo.ts"
import * as path from "node:path"
import { Context, Effect, Layer, PubSub, Semaphore, type Scope, Stream } from "effect"
import { DirLockError, lockDir } from "../log/dir-lock.ts"
import { readBatchHeader, readRecords } from "../log/record-batch.ts"
import type { MetadataRecord, MetadataRecordInit } from "../protocol/generated/metadata-records.ts"
import { ZERO_UUID } from "../protocol/primitives.ts"
import { randomUuid } from "../random-bytes.ts"
import { ClusterMetadataLog, METADATA_PARTITION_DIR } from "./cluster-metadata-log.ts"
import {
  InvalidPartitions,
  InvalidReplicationFactor,
  InvalidTopic,
  LogDirUnavailable,
  MetadataIoError,
  MetadataLogCorrupted,
  MetaPropertiesError,
  type MetadataStartupError,
  TopicAlreadyExists,
  UnknownTopic
} from "./errors.ts"
import {
  ConfigResourceType,
  diffImages,
  type ImageDelta,
  type MetadataImage,
  MetadataImageBuilder,
  type QuotaEntityComponent,
  metadataVersionOf,
  METADATA_VERSION_FEATURE,
  type TopicImage
} from "./image.ts"
import { imageToRecords } from "./image-records.ts"
import { ensureMetaProperties } from "./meta-properties.ts"
import { readBootstrapCheckpoint } from "./bootstrap-checkpoint.ts"
import { decodeMetadataRecord } from "./record-serde.ts"

/**
 * metadata.version written when formatting a fresh directory: 3.9-IV0 (feature level 21),
 * the newest MetadataVersion of a released Kafka whose records the bundled JSON specs
 * (4.0.0-SNAPSHOT, October 2024) fully describe; 4.0-IV0/IV1 were still unstable there.
 * Kafka 3.9 and every 4.x can open such a log. The records we write are the same at 3.7-IV2
 * (17) and later, so an older level can be chosen with `bootstrapMetadataVersion` for a 3.7
 * or 3.8 node.
 */
export const DEFAULT_BOOTSTRAP_METADATA_VERSION = 21

/** 3.7-IV2: PartitionRecord v1 carries Directories (KIP-858). */
const MV_DIRECTORY_ASSIGNMENT = 17

/** Kafka's DirectoryId.UNASSIGNED: the broker decides which log dir hosts the replica. */
export const UNASSIGNED_DIRECTORY_ID = ZERO_UUID

const MAX_TOPIC_NAME_LENGTH = 249

export interface MetadataLogOptions {
  /** log.dirs, in configuration order. */
  readonly logDirs: ReadonlyArray<string>
  /** node.id (this node is broker and sole controller). */
  readonly nodeId: number
  /** metadata.log.dir; defaults to the first of `logDirs`, as in Kafka. */
  readonly metadataLogDir?: string
  /** cluster.id for formatting an unformatted node (ignored once meta.properties exists). */
  readonly clusterId?: string
  /** metadata.version level for a fresh log; DEFAULT_BOOTSTRAP_METADATA_VERSION if absent. */
  readonly bootstrapMetadataVersion?: number
  /** Wall clock for batch timestamps (milliseconds). */
  readonly now?: () => number
  /** metadata.log.segment.bytes. */
  readonly segmentBytes?: number
  /** metadata.log.segment.ms. */
  readonly segmentMs?: number
  /** metadata.log.max.record.bytes.between.snapshots (default 20 MiB). */
  readonly maxRecordBytesBetweenSnapshots?: number
  /** metadata.log.max.snapshot.interval.ms (default 1 hour; 0 disables time-based snapshots). */
  readonly maxSnapshotIntervalMs?: number
  /** metadata.max.retention.bytes (default 100 MiB; -1 = unlimited). */
  readonly maxRetentionBytes?: number
  /** metadata.max.retention.ms (default 7 days; -1 = unlimited). */
  readonly maxRetentionMs?: number
  /** Test hook: called when a snapshot's `.part` file is written, before it is renamed. */
  readonly onSnapshotPartWritten?: (partFile: string) => void
}

/** Kafka's defaults of the snapshot and retention settings (KRaftConfigs, MetadataLogConfig). */
export const METADATA_SNAPSHOT_DEFAULTS = {
  maxRecordBytesBetweenSnapshots: 20 * 1024 * 1024,
  maxSnapshotIntervalMs: 60 * 60 * 1000,
  maxRetentionBytes: 100 * 1024 * 1024,
  maxRetentionMs: 7 * 24 * 60 * 60 * 1000
} as const

export interface CreateTopicRequest {
  readonly name: string
  readonly numPartitions: number
  /** Must be 1 (or -1, the default, which is 1 on a single broker). */
  readonly replicationFactor: number
  /** Dynamic topic configs, written as ConfigRecords with the topic. */
  readonly configs?: Readonly<Record<string, string>>
}

/** One committed change: the batch's records and the images around it. */
export interface MetadataChange extends ImageDelta {
  readonly baseOffset: number
  readonly lastOffset: number
  readonly records: ReadonlyArray<MetadataRecord>
  readonly previous: MetadataImage
  readonly image: MetadataImage
}

export type MetadataChangeListener = (change: MetadataChange) => void

export interface LogDirIdentity {
  readonly logDir: string
  readonly directoryId: string
}

export interface MetadataLogShape {
  readonly clusterId: string
  readonly nodeId: number
  /** Every log dir with its meta.properties directory.id. */
  readonly logDirs: ReadonlyArray<LogDirIdentity>
  /** The `__cluster_metadata-0` directory. */
  readonly partitionDir: string
  /** The current image; synchronous and allocation-free, for request handlers. */
  readonly current: () => MetadataImage
  readonly image: Effect.Effect<MetadataImage>
  /** The raft epoch this node leads in. */
  readonly leaderEpoch: () => number
  /** Sizes of `__cluster_metadata-0`: log segments and snapshots, in bytes; the snapshots kept. */
  readonly storageStats: () => { readonly logBytes: number; readonly snapshotBytes: number; readonly snapshots: number; readonly logStartOffset: number }
  readonly createTopic: (
    request: CreateTopicRequest
  ) => Effect.Effect<TopicImage, TopicAlreadyExists | InvalidTopic | InvalidPartitions | InvalidReplicationFactor | MetadataIoError>
  readonly deleteTopic: (name: string) => Effect.Effect<TopicImage, UnknownTopic | MetadataIoError>
  /** Adds partitions up to `totalCount` partitions in all. */
  readonly createPartitions: (name: string, totalCount: number) => Effect.Effect<TopicImage, UnknownTopic | InvalidPartitions | MetadataIoError>
  /** Sets (string) or deletes (null) dynamic topic configs. */
  readonly setTopicConfigs: (
    name: string,
    configs: Readonly<Record<string, string | null>>
  ) => Effect.Effect<void, UnknownTopic | MetadataIoError>
  /**
   * Makes this node the leader of the given partitions (PartitionChangeRecords), which starts
   * a new leader epoch for each, as Kafka's controller does when a broker's replicas come back
   * online or a leader election is asked for.
   */
  readonly electLeaders: (partitions: ReadonlyArray<{ readonly topicId: string; readonly partition: number }>) => Effect.Effect<void, MetadataIoError>
  /** Finalizes a feature at `level` (FeatureLevelRecord; 0 removes it). */
  readonly setFeatureLevel: (name: string, level: number) => Effect.Effect<void, MetadataIoError>
  /** Sets (a number) or removes (null) client quotas of entities, as ClientQuotaRecords in one batch. */
  readonly alterClientQuotas: (
    changes: ReadonlyArray<{ readonly entity: ReadonlyArray<QuotaEntityComponent>; readonly key: string; readonly value: number | null }>
  ) => Effect.Effect<void, MetadataIoError>
  /** Sets or deletes dynamic broker configs; `resource` is a node id or "" for the cluster default. */
  readonly setBrokerConfigs: (resource: string, configs: Readonly<Record<string, string | null>>) => Effect.Effect<void, MetadataIoError>
  /**
   * Reserves the next `blockSize` producer ids as Kafka's controller does: a ProducerIdsRecord
   * moving the image's `nextProducerId` past the block, durable before this returns. Returns
   * the first id of the block.
   */
  readonly reserveProducerIdBlock: (blockSize: number) => Effect.Effect<bigint, MetadataIoError>
  /**
   * Calls `listener` synchronously after each committed change, before the changing call
   * returns (so e.g. partition logs exist when CreateTopics answers). Removed when the scope
   * closes. A throwing listener is logged, not propagated: the change is already durable.
   */
  readonly addListener: (listener: MetadataChangeListener) => Effect.Effect<void, never, Scope.Scope>
  /** Subscribes now (no change after this call is missed); read `current()` after subscribing. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<MetadataChange>, never, Scope.Scope>
  /** Committed changes from the moment the stream is run. */
  readonly changes: Stream.Stream<MetadataChange>
}

/** Kafka's topic name rules (Topic.validate). */
export const topicNameProblem = (name: string): string | undefined => {
  if (name.length === 0) return "Topic name is illegal, it can't be empty"
  if (name === "." || name === "..") return "Topic name cannot be \".\" or \"..\""
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    return `Topic name is illegal, it can't be longer than ${MAX_TOPIC_NAME_LENGTH} characters, topic name: ${name}`
  }
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`
  }
  return undefined
}

/** Kafka refuses names that differ from an existing one only by '.' versus '_' (metric names would clash). */
const unifyCollisionChars = (name: string): string => name.replaceAll(".", "_")

const readBatchTimestamp = (batch: Uint8Array): number => readBatchHeader(batch, 0).maxTimestamp

/** Keeps our typed start-up errors; anything else thrown is a bug and stays a defect. */
const toError = (e: unknown): MetadataStartupError => {
  if (e instanceof MetadataLogCorrupted || e instanceof MetadataIoError || e instanceof MetaPropertiesError) return e
  throw e
}

export class MetadataLog extends Context.Service<MetadataLog, MetadataLogShape>()("kafka-broker/metadata/MetadataLog") {
  static readonly layer = (options: MetadataLogOptions): Layer.Layer<MetadataLog, MetadataStartupError> =>
    Layer.effect(MetadataLog, make(options))
}

export const make = Effect.fnUntraced(function*(options: MetadataLogOptions) {
  const now = options.now ?? Date.now
  const io = yield* FileIo.current
  const fatal = yield* FatalFault.current
  const metadataLogDir = options.metadataLogDir ?? options.logDirs[0]
  const allDirs = metadataLogDir === undefined || options.logDirs.includes(metadataLogDir)
    ? options.logDirs
    : [...options.logDirs, metadataLogDir]
  if (metadataLogDir === undefined) {
    return yield* new MetaPropertiesError({ path: "", message: "no log directory is configured (log.dirs)" })
  }

  // Every directory is created and locked before anything in it is read or written.
  for (const dir of allDirs) {
    yield* Effect.try({
      try: () => io.mkdirSync(dir, { recursive: true }),
      catch: (e) => new LogDirUnavailable({ path: dir, message: `cannot create log directory ${dir}: ${(e as Error).message}` })
    })
    const held = yield* Effect.try({
      try: () => lockDir(dir),
      catch: (e) =>
        new LogDirUnavailable({ path: dir, message: e instanceof DirLockError ? e.message : `cannot lock ${dir}: ${String(e)}` })
    })
    yield* Effect.addFinalizer(() => Effect.sync(held.release))
  }

  const identity = yield* Effect.try({
    try: () => ensureMetaProperties(allDirs, options.nodeId, options.clusterId, io),
    catch: toError
  })
  for (const dir of identity.written) yield* Effect.logInfo(`wrote ${path.join(dir, "meta.properties")} (cluster.id ${identity.clusterId})`)
  const logDirs: Array<LogDirIdentity> = allDirs.map((logDir, i) => ({ logDir, directoryId: identity.directoryIds[i]! }))
  const servingDirs = logDirs.filter((d) => options.logDirs.includes(d.logDir))

  const opened = yield* Effect.try({
    try: () => ClusterMetadataLog.open({
        logDir: metadataLogDir,
        nodeId: options.nodeId,
        now,
        io,
        ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }),
        ...(options.segmentMs === undefined ? {} : { segmentMs: options.segmentMs })
      }),
    catch: toError
  })
  const log = opened.log
  yield* Effect.addFinalizer(() =>
    Effect.try({ try: () => log.close(), catch: (e) => e }).pipe(
      Effect.catch((e) => Effect.logError(`closing the metadata log failed: ${String((e as Error).message ?? e)}`))
    )
  )
  for (const w of opened.warnings) yield* Effect.logWarning(w)

  let image = opened.image
  let failed: MetadataIoError | null = null
  const snapshotConfig = {
    maxRecordBytesBetweenSnapshots: options.maxRecordBytesBetweenSnapshots ?? METADATA_SNAPSHOT_DEFAULTS.maxRecordBytesBetweenSnapshots,
    maxSnapshotIntervalMs: options.maxSnapshotIntervalMs ?? METADATA_SNAPSHOT_DEFAULTS.maxSnapshotIntervalMs,
    maxRetentionBytes: options.maxRetentionBytes ?? METADATA_SNAPSHOT_DEFAULTS.maxRetentionBytes,
    maxRetentionMs: options.maxRetentionMs ?? METADATA_SNAPSHOT_DEFAULTS.maxRetentionMs
  }
  // Bytes appended since the latest snapshot (all of the log after it, at start-up).
  let bytesSinceSnapshot = 0
  let lastSnapshotAt = now()
  const lock = yield* Semaphore.make(1)
  const pubsub = yield* PubSub.unbounded<MetadataChange>()
  const listeners = new Set<MetadataChangeListener>()

  /** Replays a batch we just wrote: the image is built from exactly the bytes on disk. */
  const applyBatch = (batch: Uint8Array): { image: MetadataImage; records: Array<MetadataRecord> } => {
    const builder = new MetadataImageBuilder(image)
    const records: Array<MetadataRecord> = []
    for (const r of readRecords(batch)) {
      builder.advanceTo(r.offset)
      if (r.value === null || r.key !== null) continue
      const decoded = decodeMetadataRecord(r.value)
      if (decoded.known) {
        builder.apply(decoded.record, r.offset)
        records.push(decoded.record)
      }
    }
    return { image: builder.build(), records }
  }

  /** A failed append or force: the log goes offline, and the broker halts. */
  const appendFailed = (e: unknown): MetadataIoError => {
    const error = e instanceof MetadataIoError
      ? e
      : new MetadataIoError({ path: log.dir, message: `metadata log append failed: ${(e as Error).message ?? String(e)}` })
    failed = new MetadataIoError({ path: log.dir, message: `the metadata log is offline after an earlier failure: ${error.message}` })
    return error
  }

  /**
   * Appends one batch and forces it (the fsync on the thread pool: the event loop keeps
   * serving while the disk takes its time), then swaps the image and tells listeners.
   * Caller holds the lock, so nothing is appended while a force is in flight.
   */
  const commit = (records: ReadonlyArray<MetadataRecordInit>): Effect.Effect<MetadataChange, MetadataIoError> =>
    Effect.gen(function*() {
      if (failed !== null) return yield* failed
      const appended = yield* Effect.gen(function*() {
        const appended = yield* Effect.try({ try: () => log.appendRecords(records), catch: appendFailed })
        yield* Effect.callback<void, MetadataIoError>((resume) => {
          log.forceAppended((e) => resume(e === null ? Effect.void : Effect.fail(appendFailed(e))))
        })
        return appended
      }).pipe(
        // KRaft cannot run on a metadata log that failed a write: Kafka's fatal fault handler halts.
        Effect.tapError((error) => {
          const reason = `Shutdown broker because the metadata log in ${log.dir} failed: ${error.message}`
          return Effect.andThen(Effect.logError(reason), Effect.sync(() => fatal.halt(reason)))
        })
      )
      const previous = image
      const applied = applyBatch(appended.batch)
      image = applied.image
      bytesSinceSnapshot += appended.batch.length
      yield* maybeSnapshot(appended.batch)
      const change: MetadataChange = {
        baseOffset: appended.baseOffset,
        lastOffset: appended.lastOffset,
        records: applied.records,
        previous,
        image,
        ...diffImages(previous, image)
      }
      for (const listener of listeners) {
        try {
          listener(change)
        } catch (e) {
          yield* Effect.logError(`metadata change listener failed: ${String((e as Error).stack ?? e)}`)
        }
      }
      yield* PubSub.publish(pubsub, change)
      return change
    })

  /**
   * Kafka's SnapshotGenerator: a new snapshot once the log holds
   * metadata.log.max.record.bytes.between.snapshots bytes past the last one, or once
   * metadata.log.max.snapshot.interval.ms has passed with new records; then the retention
   * rules delete what the snapshot covers. Runs under the writer lock, right after a commit,
   * so the image is exactly the log up to its offset. A failure is logged and retried on a
   * later commit: the log alone still holds everything.
   */
  const maybeSnapshot = (batch: Uint8Array): Effect.Effect<void> =>
    Effect.suspend(() => {
      const t = now()
      const dueBytes = bytesSinceSnapshot >= snapshotConfig.maxRecordBytesBetweenSnapshots
      const dueTime = snapshotConfig.maxSnapshotIntervalMs > 0 && t - lastSnapshotAt >= snapshotConfig.maxSnapshotIntervalMs
      if (!dueBytes && !dueTime) return Effect.void
      return Effect.try({
        try: () => {
          const lastTimestamp = readBatchTimestamp(batch)
          const id = log.writeSnapshot(image.offset + 1, imageToRecords(image), lastTimestamp, {
            ...(options.onSnapshotPartWritten === undefined ? {} : { onPartWritten: options.onSnapshotPartWritten })
          })
          bytesSinceSnapshot = 0
          lastSnapshotAt = t
          const cleaned = log.maybeClean(t, { maxBytes: snapshotConfig.maxRetentionBytes, maxMs: snapshotConfig.maxRetentionMs })
          return { id, cleaned }
        },
        catch: (e) => e
      }).pipe(
        Effect.flatMap(({ id, cleaned }) =>
          Effect.logInfo(
            `wrote metadata snapshot ${id === null ? "(already present)" : `${id.offset}-${id.epoch}`}` +
              (cleaned ? `; log now starts at ${log.logStartOffset}` : "")
          )
        ),
        Effect.catch((e) => Effect.logError(`writing a metadata snapshot failed: ${String((e as Error).message ?? e)}`))
      )
    })

  const serialized = <Eff extends Effect.Effect<any, any>>(
    f: () => Eff
  ): Effect.Effect<Effect.Success<Eff>, Effect.Error<Eff>> => lock.withPermit(Effect.suspend(f))

  // Take the epoch as the only voter, then settle what the replay left open.
  const elected = yield* Effect.try({ try: () => log.becomeLeader(), catch: toError })
  const afterElection = new MetadataImageBuilder(image)
  afterElection.advanceTo(elected.lastOffset)
  image = afterElection.build()
  if (opened.stats.openTransaction) {
    // Kafka's controller aborts a metadata transaction left open by a crash when it activates.
    yield* commit([{ type: "AbortTransactionRecord", version: 0, data: { reason: "Controller failover" } }])
    yield* Effect.logWarning("aborted a metadata transaction left open in the log")
  }
  if (opened.stats.empty) {
    // The bootstrap metadata `--format` (or kafka-storage.sh format) left, else the default.
    const bootstrap = yield* Effect.try({ try: () => readBootstrapCheckpoint(metadataLogDir, io), catch: toError })
    if (bootstrap !== null) {
      yield* commit(bootstrap.records)
      yield* Effect.logInfo(`bootstrapped ${log.dir} from ${bootstrap.file} (${bootstrap.records.length} record(s))`)
    } else {
      const level = options.bootstrapMetadataVersion ?? DEFAULT_BOOTSTRAP_METADATA_VERSION
      yield* commit([{ type: "FeatureLevelRecord", version: 0, data: { name: METADATA_VERSION_FEATURE, featureLevel: level } }])
      yield* Effect.logInfo(`formatted ${log.dir} with ${METADATA_VERSION_FEATURE} level ${level}`)
    }
  } else {
    const s = opened.stats
    const ignored = [...image.ignoredRecords].map(([k, n]) => `${k}: ${n}`).join(", ")
    yield* Effect.logInfo(
      `replayed ${log.dir}${s.snapshot === null ? "" : ` from snapshot at offset ${s.snapshot.offset}`}: ` +
        `${s.records} record(s) in ${s.dataBatches} batch(es), ${image.topicsByName.size} topic(s), ` +
        `${METADATA_VERSION_FEATURE} ${metadataVersionOf(image)}, epoch ${log.epoch}` +
        (ignored === "" ? "" : `; skipped records (${ignored})`)
    )
  }

  const partitionRecords = (topicId: string, from: number, to: number): Array<MetadataRecordInit> => {
    const version = metadataVersionOf(image) >= MV_DIRECTORY_ASSIGNMENT ? 1 : 0
    // Kafka's controller names the directory when the broker has exactly one, and leaves it
    // UNASSIGNED otherwise for the broker to choose.
    const directory = servingDirs.length === 1 ? servingDirs[0]!.directoryId : UNASSIGNED_DIRECTORY_ID
    const out: Array<MetadataRecordInit> = []
    for (let p = from; p < to; p++) {
      out.push({
        type: "PartitionRecord",
        version,
        data: {
          partitionId: p,
          topicId,
          replicas: [options.nodeId],
          isr: [options.nodeId],
          removingReplicas: [],
          addingReplicas: [],
          leader: options.nodeId,
          leaderRecoveryState: 0,
          leaderEpoch: 0,
          partitionEpoch: 0,
          ...(version >= 1 ? { directories: [directory] } : {})
        }
      })
    }
    return out
  }

  const configRecords = (
    resourceType: number,
    resourceName: string,
    configs: Readonly<Record<string, string | null>>
  ): Array<MetadataRecordInit> =>
    Object.entries(configs).map(([name, value]) => ({
      type: "ConfigRecord",
      version: 0,
      data: { resourceType, resourceName, name, value }
    }))

  const newTopicId = (): string => {
    for (;;) {
      const id = randomUuid()
      // randomUuid already avoids the zero UUID; METADATA_TOPIC_ID (…01) and clashes are excluded here.
      if (id !== "AAAAAAAAAAAAAAAAAAAAAQ" && !image.topicsById.has(id)) return id
    }
  }

  const createTopic = (request: CreateTopicRequest) =>
    serialized(() => {
      const { name } = request
      const problem = topicNameProblem(name)
      if (problem !== undefined) return Effect.fail(new InvalidTopic({ topic: name, message: problem }))
      if (image.topicsByName.has(name)) {
        return Effect.fail(new TopicAlreadyExists({ topic: name, message: `Topic '${name}' already exists.` }))
      }
      const unified = unifyCollisionChars(name)
      for (const existing of image.topicsByName.keys()) {
        if (unifyCollisionChars(existing) === unified) {
          return Effect.fail(new InvalidTopic({ topic: name, message: `Topic '${name}' collides with existing topic: ${existing}` }))
        }
      }
      if (!Number.isInteger(request.numPartitions) || request.numPartitions <= 0) {
        return Effect.fail(new InvalidPartitions({ topic: name, message: "Number of partitions was set to an invalid non-positive value." }))
      }
      const rf = request.replicationFactor
      if (rf !== 1 && rf !== -1) {
        return Effect.fail(new InvalidReplicationFactor({
          topic: name,
          message: rf <= 0
            ? "Replication factor must be larger than 0, or -1 to use the default value."
            : `Unable to replicate the partition ${rf} time(s): The target replication factor of ${rf} cannot be reached because only 1 broker(s) are registered.`
        }))
      }
      const topicId = newTopicId()
      // Kafka's order: TopicRecord, then its ConfigRecords, then the PartitionRecords.
      return commit([
        { type: "TopicRecord", version: 0, data: { name, topicId } },
        ...configRecords(ConfigResourceType.TOPIC, name, request.configs ?? {}),
        ...partitionRecords(topicId, 0, request.numPartitions)
      ]).pipe(Effect.map((change) => change.image.topicsById.get(topicId)!))
    })

  const unknownTopic = (name: string) =>
    new UnknownTopic({ topic: name, message: `Topic '${name}' does not exist.` })

  const deleteTopic = (name: string) =>
    serialized(() => {
      const topic = image.topicsByName.get(name)
      if (topic === undefined) return Effect.fail(unknownTopic(name))
      return commit([{ type: "RemoveTopicRecord", version: 0, data: { topicId: topic.topicId } }]).pipe(Effect.as(topic))
    })

  const createPartitions = (name: string, totalCount: number) =>
    serialized(() => {
      const topic = image.topicsByName.get(name)
      if (topic === undefined) return Effect.fail(unknownTopic(name))
      const current = topic.partitions.size
      if (!Number.isInteger(totalCount) || totalCount <= current) {
        return Effect.fail(new InvalidPartitions({
          topic: name,
          message: totalCount === current
            ? `Topic already has ${current} partitions.`
            : `Topic currently has ${current} partitions, which is higher than the requested ${totalCount}.`
        }))
      }
      return commit(partitionRecords(topic.topicId, current, totalCount)).pipe(
        Effect.map((change) => change.image.topicsById.get(topic.topicId)!)
      )
    })

  const setTopicConfigs = (name: string, configs: Readonly<Record<string, string | null>>) =>
    serialized(() => {
      if (!image.topicsByName.has(name)) return Effect.fail(unknownTopic(name))
      const records = configRecords(ConfigResourceType.TOPIC, name, configs)
      return records.length === 0 ? Effect.void : Effect.asVoid(commit(records))
    })

  const setBrokerConfigs = (resource: string, configs: Readonly<Record<string, string | null>>) =>
    serialized(() => {
      const records = configRecords(ConfigResourceType.BROKER, resource, configs)
      return records.length === 0 ? Effect.void : Effect.asVoid(commit(records))
    })

  const electLeaders = (partitions: ReadonlyArray<{ readonly topicId: string; readonly partition: number }>) =>
    serialized(() => {
      const records: Array<MetadataRecordInit> = partitions
        .filter((p) => image.topicsById.get(p.topicId)?.partitions.has(p.partition) === true)
        .map((p) => ({ type: "PartitionChangeRecord", version: 0, data: { topicId: p.topicId, partitionId: p.partition, leader: options.nodeId } }))
      return records.length === 0 ? Effect.void : Effect.asVoid(commit(records))
    })

  const setFeatureLevel = (name: string, level: number) =>
    serialized(() => Effect.asVoid(commit([{ type: "FeatureLevelRecord", version: 0, data: { name, featureLevel: level } }])))

  const alterClientQuotas = (
    changes: ReadonlyArray<{ readonly entity: ReadonlyArray<QuotaEntityComponent>; readonly key: string; readonly value: number | null }>
  ) =>
    serialized(() => {
      const records: Array<MetadataRecordInit> = changes.map((c) => ({
        type: "ClientQuotaRecord",
        version: 0,
        data: { entity: c.entity, key: c.key, value: c.value ?? 0, remove: c.value === null }
      }))
      return records.length === 0 ? Effect.void : Effect.asVoid(commit(records))
    })

  const reserveProducerIdBlock = (blockSize: number) =>
    serialized(() => {
      const first = image.nextProducerId
      return commit([{
        type: "ProducerIdsRecord",
        version: 0,
        data: { brokerId: options.nodeId, brokerEpoch: -1n, nextProducerId: first + BigInt(blockSize) }
      }]).pipe(Effect.as(first))
    })

  return MetadataLog.of({
    clusterId: identity.clusterId,
    nodeId: options.nodeId,
    logDirs,
    partitionDir: path.join(metadataLogDir, METADATA_PARTITION_DIR),
    current: () => image,
    image: Effect.sync(() => image),
    leaderEpoch: () => log.epoch,
    storageStats: () => ({
      logBytes: log.logSizeBytes,
      snapshotBytes: log.snapshotSizeBytes,
      snapshots: log.snapshotIds.length,
      logStartOffset: log.logStartOffset
    }),
    createTopic,
    deleteTopic,
    createPartitions,
    setTopicConfigs,
    setBrokerConfigs,
    electLeaders,
    setFeatureLevel,
    alterClientQuotas,
    reserveProducerIdBlock,
    addListener: (listener) =>
      Effect.acquireRelease(
        Effect.sync(() => listeners.add(listener)),
        () => Effect.sync(() => listeners.delete(listener))
      ).pipe(Effect.asVoid),
    subscribe: PubSub.subscribe(pubsub),
    changes: Stream.fromPubSub(pubsub)
  })
})
