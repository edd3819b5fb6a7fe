/**
 * The metadata image: what the broker knows about the cluster after replaying
 * `__cluster_metadata` (Kafka's MetadataImage, reduced to what a single-node broker serves).
 *
 * Images are immutable values. Handlers read one on every Metadata/Produce/Fetch request, so
 * the shape favours lookups (maps by topic name and by topic id) and a new image shares every
 * unchanged topic object with its predecessor. Building goes through `MetadataImageBuilder`,
 * which copies a map or a topic only on its first change, so replaying a long log is linear.
 */
import type { MetadataRecord } from "../protocol/generated/metadata-records.ts"
import type { PartitionChangeRecord } from "../protocol/generated/metadata/PartitionChangeRecord.ts"
import type { PartitionRecord } from "../protocol/generated/metadata/PartitionRecord.ts"
import type { RegisterBrokerRecord } from "../protocol/generated/metadata/RegisterBrokerRecord.ts"
import { encodeMetadataRecord } from "./record-serde.ts"

/** ConfigRecord resource types (Kafka's ConfigResource.Type ids). */
export const ConfigResourceType = {
  TOPIC: 2,
  BROKER: 4
} as const

export const METADATA_VERSION_FEATURE = "metadata.version"

/** PartitionChangeRecord sentinels. */
const NO_LEADER_CHANGE = -2
const NO_RECOVERY_STATE_CHANGE = -1

export interface PartitionImage {
  readonly partition: number
  /** Preferred order; the first is the preferred leader. */
  readonly replicas: ReadonlyArray<number>
  readonly isr: ReadonlyArray<number>
  readonly removingReplicas: ReadonlyArray<number>
  readonly addingReplicas: ReadonlyArray<number>
  /** -1 when the partition has no leader. */
  readonly leader: number
  /** 0 = recovered, 1 = recovering from an unclean leader election. */
  readonly leaderRecoveryState: number
  readonly leaderEpoch: number
  readonly partitionEpoch: number
  /** Log directory id of each replica, parallel to `replicas` (empty before MV 3.7-IV2). */
  readonly directories: ReadonlyArray<string>
  readonly eligibleLeaderReplicas: ReadonlyArray<number>
  readonly lastKnownElr: ReadonlyArray<number>
}

export interface TopicImage {
  readonly name: string
  /** Kafka's base64url topic id (22 characters); never the zero UUID. */
  readonly topicId: string
  /** By partition index. Dense (0..n-1) in every log Kafka or this broker writes. */
  readonly partitions: ReadonlyMap<number, PartitionImage>
}

export interface BrokerEndpoint {
  readonly name: string
  readonly host: string
  readonly port: number
  readonly securityProtocol: number
}

export interface BrokerRegistration {
  readonly id: number
  readonly epoch: bigint
  readonly incarnationId: string
  readonly endpoints: ReadonlyArray<BrokerEndpoint>
  readonly rack: string | null
  readonly fenced: boolean
  readonly inControlledShutdown: boolean
  readonly logDirs: ReadonlyArray<string>
  /** Supported feature ranges, by feature name. */
  readonly features: ReadonlyMap<string, { readonly min: number; readonly max: number }>
}

export type ConfigMap = ReadonlyMap<string, string>

export interface MetadataImage {
  /** Offset of the last record applied, -1 for the empty image. */
  readonly offset: number
  readonly topicsByName: ReadonlyMap<string, TopicImage>
  readonly topicsById: ReadonlyMap<string, TopicImage>
  /** Dynamic topic configs (ConfigRecord resource type 2), by topic name. */
  readonly topicConfigs: ReadonlyMap<string, ConfigMap>
  /** Dynamic broker configs (resource type 4), by resource name ("" = cluster-wide default). */
  readonly brokerConfigs: ReadonlyMap<string, ConfigMap>
  /** Finalized feature levels (FeatureLevelRecord), e.g. "metadata.version" → 21. */
  readonly features: ReadonlyMap<string, number>
  readonly brokers: ReadonlyMap<number, BrokerRegistration>
  /** Start of the next producer id block (ProducerIdsRecord), 0n if none was allocated. */
  readonly nextProducerId: bigint
  /**
   * Records skipped because this broker does not interpret them, by record type name (or
   * "apiKey N" for types added by a later Kafka). Diagnostic only.
   */
  readonly ignoredRecords: ReadonlyMap<string, number>
  /**
   * Records this broker does not model but a Kafka reading the directory would (ACLs, client
   * quotas, SCRAM credentials, delegation tokens, controller registrations, configs of other
   * resource types, record types of a later Kafka...), as their framed values in log order.
   * A snapshot writes them back verbatim, so it drops nothing Kafka would have kept.
   */
  readonly retainedRecords: ReadonlyArray<Uint8Array>
}

export const EMPTY_IMAGE: MetadataImage = {
  offset: -1,
  topicsByName: new Map(),
  topicsById: new Map(),
  topicConfigs: new Map(),
  brokerConfigs: new Map(),
  features: new Map(),
  brokers: new Map(),
  nextProducerId: 0n,
  ignoredRecords: new Map(),
  retainedRecords: []
}

/** The finalized metadata.version feature level, 0 if the log never set one. */
export const metadataVersionOf = (image: MetadataImage): number => image.features.get(METADATA_VERSION_FEATURE) ?? 0

/** Partition count of a topic (partitions are dense). */
export const partitionCount = (topic: TopicImage): number => topic.partitions.size

/** Partitions ordered by index, for responses that list them. */
export const sortedPartitions = (topic: TopicImage): Array<PartitionImage> =>
  [...topic.partitions.values()].sort((a, b) => a.partition - b.partition)

const EMPTY_INTS: ReadonlyArray<number> = Object.freeze([])

const partitionFromRecord = (r: PartitionRecord): PartitionImage => ({
  partition: r.partitionId,
  replicas: r.replicas,
  isr: r.isr,
  removingReplicas: r.removingReplicas,
  addingReplicas: r.addingReplicas,
  leader: r.leader,
  leaderRecoveryState: r.leaderRecoveryState,
  leaderEpoch: r.leaderEpoch,
  partitionEpoch: r.partitionEpoch,
  directories: r.directories,
  eligibleLeaderReplicas: r.eligibleLeaderReplicas ?? EMPTY_INTS,
  lastKnownElr: r.lastKnownElr ?? EMPTY_INTS
})

/**
 * Kafka's PartitionRegistration.merge: null / sentinel fields mean "unchanged", a leader
 * change bumps the leader epoch, and every change bumps the partition epoch.
 */
const mergePartitionChange = (p: PartitionImage, c: PartitionChangeRecord): PartitionImage => {
  const leaderChanged = c.leader !== NO_LEADER_CHANGE
  return {
    partition: p.partition,
    replicas: c.replicas ?? p.replicas,
    isr: c.isr ?? p.isr,
    removingReplicas: c.removingReplicas ?? p.removingReplicas,
    addingReplicas: c.addingReplicas ?? p.addingReplicas,
    leader: leaderChanged ? c.leader : p.leader,
    leaderRecoveryState: c.leaderRecoveryState === NO_RECOVERY_STATE_CHANGE ? p.leaderRecoveryState : c.leaderRecoveryState,
    leaderEpoch: leaderChanged ? p.leaderEpoch + 1 : p.leaderEpoch,
    partitionEpoch: p.partitionEpoch + 1,
    directories: c.directories ?? p.directories,
    eligibleLeaderReplicas: c.eligibleLeaderReplicas ?? p.eligibleLeaderReplicas,
    lastKnownElr: c.lastKnownElr ?? p.lastKnownElr
  }
}

const brokerFromRecord = (r: RegisterBrokerRecord): BrokerRegistration => ({
  id: r.brokerId,
  epoch: r.brokerEpoch,
  incarnationId: r.incarnationId,
  endpoints: r.endPoints.map((e) => ({ name: e.name, host: e.host, port: e.port, securityProtocol: e.securityProtocol })),
  rack: r.rack,
  fenced: r.fenced,
  inControlledShutdown: r.inControlledShutdown,
  logDirs: r.logDirs,
  features: new Map(r.features.map((f) => [f.name, { min: f.minSupportedVersion, max: f.maxSupportedVersion }]))
})

interface TopicDraft {
  readonly name: string
  readonly topicId: string
  readonly partitions: Map<number, PartitionImage>
}

/**
 * Applies records to a base image. Metadata transactions
 * (Begin/End/AbortTransactionRecord, KIP-868) are honoured: records inside a transaction are
 * held back until its EndTransactionRecord and dropped on AbortTransactionRecord; a
 * transaction still open at `build()` is left out, as Kafka's loader does.
 */
export class MetadataImageBuilder {
  private base: MetadataImage
  private offset: number
  private topicsByName: Map<string, TopicImage> | undefined
  private topicsById: Map<string, TopicImage> | undefined
  /** Topics copied for change in this builder, by id; frozen into the maps at build(). */
  private readonly drafts = new Map<string, TopicDraft>()
  private topicConfigs: Map<string, ConfigMap> | undefined
  private brokerConfigs: Map<string, ConfigMap> | undefined
  private readonly ownedConfigMaps = new Set<ConfigMap>()
  private features: Map<string, number> | undefined
  private brokers: Map<number, BrokerRegistration> | undefined
  private nextProducerId: bigint
  private ignored: Map<string, number> | undefined
  private retained: Array<Uint8Array> | undefined
  private transaction: Array<MetadataRecord> | null = null

  constructor(base: MetadataImage) {
    this.base = base
    this.offset = base.offset
    this.nextProducerId = base.nextProducerId
  }

  /** Whether a metadata transaction is open (begun, not yet ended or aborted). */
  get inTransaction(): boolean {
    return this.transaction !== null
  }

  /** Records that `offset` has been replayed, including control records and skipped ones. */
  advanceTo(offset: number): void {
    if (offset > this.offset) this.offset = offset
  }

  /** Counts a record that is skipped (unknown type or version, unhandled type). */
  ignore(key: string): void {
    const m = (this.ignored ??= new Map(this.base.ignoredRecords))
    m.set(key, (m.get(key) ?? 0) + 1)
  }

  /** Counts a record this broker does not model and keeps its framed value for snapshots. */
  retain(key: string, value: Uint8Array): void {
    this.ignore(key)
    ;(this.retained ??= [...this.base.retainedRecords]).push(value)
  }

  apply(record: MetadataRecord, offset?: number): void {
    if (offset !== undefined) this.advanceTo(offset)
    switch (record.type) {
      case "BeginTransactionRecord":
        // A Begin inside an open transaction cannot come from Kafka; keep the older records.
        if (this.transaction === null) this.transaction = []
        return
      case "EndTransactionRecord": {
        const held = this.transaction
        this.transaction = null
        if (held !== null) for (const r of held) this.applyNow(r)
        return
      }
      case "AbortTransactionRecord":
        this.transaction = null
        return
    }
    if (this.transaction !== null) this.transaction.push(record)
    else this.applyNow(record)
  }

  private applyNow(record: MetadataRecord): void {
    switch (record.type) {
      case "TopicRecord": {
        const { name, topicId } = record.data
        const byName = this.mutableTopicsByName()
        const byId = this.mutableTopicsById()
        const previous = byName.get(name)
        if (previous !== undefined && previous.topicId !== topicId) {
          byId.delete(previous.topicId)
          this.drafts.delete(previous.topicId)
        }
        const draft: TopicDraft = { name, topicId, partitions: new Map() }
        this.drafts.set(topicId, draft)
        byName.set(name, draft)
        byId.set(topicId, draft)
        return
      }
      case "PartitionRecord": {
        const draft = this.draft(record.data.topicId)
        if (draft === undefined) return this.ignore("PartitionRecord for an unknown topic id")
        draft.partitions.set(record.data.partitionId, partitionFromRecord(record.data))
        return
      }
      case "PartitionChangeRecord": {
        const draft = this.draft(record.data.topicId)
        const current = draft?.partitions.get(record.data.partitionId)
        if (draft === undefined || current === undefined) return this.ignore("PartitionChangeRecord for an unknown partition")
        draft.partitions.set(record.data.partitionId, mergePartitionChange(current, record.data))
        return
      }
      case "RemoveTopicRecord": {
        const byId = this.mutableTopicsById()
        const topic = byId.get(record.data.topicId)
        if (topic === undefined) return this.ignore("RemoveTopicRecord for an unknown topic id")
        byId.delete(topic.topicId)
        this.drafts.delete(topic.topicId)
        const byName = this.mutableTopicsByName()
        if (byName.get(topic.name)?.topicId === topic.topicId) byName.delete(topic.name)
        // Kafka drops the topic's dynamic configs together with the topic.
        if (this.currentTopicConfigs().has(topic.name)) this.mutableTopicConfigs().delete(topic.name)
        return
      }
      case "ConfigRecord": {
        const { resourceType, resourceName, name, value } = record.data
        let outer: Map<string, ConfigMap>
        if (resourceType === ConfigResourceType.TOPIC) outer = this.mutableTopicConfigs()
        else if (resourceType === ConfigResourceType.BROKER) outer = this.mutableBrokerConfigs()
        else return this.retain(`ConfigRecord for resource type ${resourceType}`, encodeMetadataRecord(record))
        const existing = outer.get(resourceName)
        let inner: Map<string, string>
        if (existing !== undefined && this.ownedConfigMaps.has(existing)) inner = existing as Map<string, string>
        else {
          inner = new Map(existing)
          this.ownedConfigMaps.add(inner)
        }
        if (value === null) inner.delete(name)
        else inner.set(name, value)
        if (inner.size === 0) outer.delete(resourceName)
        else outer.set(resourceName, inner)
        return
      }
      case "FeatureLevelRecord": {
        const features = (this.features ??= new Map(this.base.features))
        // Level 0 means the feature is no longer finalized.
        if (record.data.featureLevel === 0) features.delete(record.data.name)
        else features.set(record.data.name, record.data.featureLevel)
        return
      }
      case "RegisterBrokerRecord":
        this.mutableBrokers().set(record.data.brokerId, brokerFromRecord(record.data))
        return
      case "UnregisterBrokerRecord": {
        const b = this.currentBrokers().get(record.data.brokerId)
        if (b !== undefined && b.epoch === record.data.brokerEpoch) this.mutableBrokers().delete(b.id)
        return
      }
      case "FenceBrokerRecord":
      case "UnfenceBrokerRecord": {
        const b = this.currentBrokers().get(record.data.id)
        if (b !== undefined && b.epoch === record.data.epoch) {
          this.mutableBrokers().set(b.id, { ...b, fenced: record.type === "FenceBrokerRecord" })
        }
        return
      }
      case "BrokerRegistrationChangeRecord": {
        const c = record.data
        const b = this.currentBrokers().get(c.brokerId)
        if (b === undefined || b.epoch !== c.brokerEpoch) return
        this.mutableBrokers().set(b.id, {
          ...b,
          // -1 unfenced, 0 unchanged, 1 fenced
          fenced: c.fenced === 0 ? b.fenced : c.fenced > 0,
          inControlledShutdown: c.inControlledShutdown === 1 ? true : b.inControlledShutdown,
          logDirs: record.version >= 2 && c.logDirs.length > 0 ? c.logDirs : b.logDirs
        })
        return
      }
      case "ProducerIdsRecord":
        this.nextProducerId = record.data.nextProducerId
        return
      case "NoOpRecord":
        return
      default:
        this.retain(record.type, encodeMetadataRecord(record))
    }
  }

  /**
   * The image so far. The builder then starts over from it, so maps handed out in the
   * image are never changed afterwards.
   */
  build(): MetadataImage {
    const image: MetadataImage = {
      offset: this.offset,
      topicsByName: this.topicsByName ?? this.base.topicsByName,
      topicsById: this.topicsById ?? this.base.topicsById,
      topicConfigs: this.topicConfigs ?? this.base.topicConfigs,
      brokerConfigs: this.brokerConfigs ?? this.base.brokerConfigs,
      features: this.features ?? this.base.features,
      brokers: this.brokers ?? this.base.brokers,
      nextProducerId: this.nextProducerId,
      ignoredRecords: this.ignored ?? this.base.ignoredRecords,
      retainedRecords: this.retained ?? this.base.retainedRecords
    }
    this.base = image
    this.topicsByName = undefined
    this.topicsById = undefined
    this.drafts.clear()
    this.topicConfigs = undefined
    this.brokerConfigs = undefined
    this.ownedConfigMaps.clear()
    this.features = undefined
    this.brokers = undefined
    this.ignored = undefined
    this.retained = undefined
    return image
  }

  private mutableTopicsByName(): Map<string, TopicImage> {
    return (this.topicsByName ??= new Map(this.base.topicsByName))
  }
  private mutableTopicsById(): Map<string, TopicImage> {
    return (this.topicsById ??= new Map(this.base.topicsById))
  }

  /** The topic with this id as a draft this builder may change, copying it on first use. */
  private draft(topicId: string): TopicDraft | undefined {
    const existing = this.drafts.get(topicId)
    if (existing !== undefined) return existing
    const topic = (this.topicsById ?? this.base.topicsById).get(topicId)
    if (topic === undefined) return undefined
    const draft: TopicDraft = { name: topic.name, topicId, partitions: new Map(topic.partitions) }
    this.drafts.set(topicId, draft)
    this.mutableTopicsById().set(topicId, draft)
    this.mutableTopicsByName().set(topic.name, draft)
    return draft
  }

  private currentTopicConfigs(): ReadonlyMap<string, ConfigMap> {
    return this.topicConfigs ?? this.base.topicConfigs
  }
  private mutableTopicConfigs(): Map<string, ConfigMap> {
    return (this.topicConfigs ??= new Map(this.base.topicConfigs))
  }
  private mutableBrokerConfigs(): Map<string, ConfigMap> {
    return (this.brokerConfigs ??= new Map(this.base.brokerConfigs))
  }
  private currentBrokers(): ReadonlyMap<number, BrokerRegistration> {
    return this.brokers ?? this.base.brokers
  }
  private mutableBrokers(): Map<number, BrokerRegistration> {
    return (this.brokers ??= new Map(this.base.brokers))
  }
}

/** Applies `records` (with their offsets, if known) to `image`. */
export const applyRecords = (
  image: MetadataImage,
  records: Iterable<MetadataRecord | { readonly record: MetadataRecord; readonly offset: number }>
): MetadataImage => {
  const builder = new MetadataImageBuilder(image)
  for (const r of records) {
    if ("record" in r) builder.apply(r.record, r.offset)
    else builder.apply(r)
  }
  return builder.build()
}

/** What one change to the image did to topics, for listeners (log store, fetch sessions). */
export interface ImageDelta {
  readonly createdTopics: ReadonlyArray<TopicImage>
  readonly deletedTopics: ReadonlyArray<TopicImage>
  /** Topics present before and after whose partitions changed (added or updated). */
  readonly changedTopics: ReadonlyArray<TopicImage>
  /** Names of topics whose dynamic configs changed. */
  readonly changedTopicConfigs: ReadonlyArray<string>
}

/**
 * Compares two images. Unchanged topics are the same objects in both (the builder shares
 * them), so this is a reference comparison per topic.
 */
export const diffImages = (previous: MetadataImage, next: MetadataImage): ImageDelta => {
  const createdTopics: Array<TopicImage> = []
  const deletedTopics: Array<TopicImage> = []
  const changedTopics: Array<TopicImage> = []
  const changedTopicConfigs: Array<string> = []
  if (previous.topicsById !== next.topicsById) {
    for (const [id, topic] of next.topicsById) {
      const before = previous.topicsById.get(id)
      if (before === undefined) createdTopics.push(topic)
      else if (before !== topic) changedTopics.push(topic)
    }
    for (const [id, topic] of previous.topicsById) if (!next.topicsById.has(id)) deletedTopics.push(topic)
  }
  if (previous.topicConfigs !== next.topicConfigs) {
    for (const [name, configs] of next.topicConfigs) if (previous.topicConfigs.get(name) !== configs) changedTopicConfigs.push(name)
    for (const name of previous.topicConfigs.keys()) if (!next.topicConfigs.has(name)) changedTopicConfigs.push(name)
  }
  return { createdTopics, deletedTopics, changedTopics, changedTopicConfigs }
}
