/**
 * Topic-level configs: which names Kafka accepts, how values are validated, how a topic's
 * effective config is derived (topic override, else the broker's value for the matching
 * broker key, dynamic or static, else the default), how DescribeConfigs reports topic and
 * broker configs, and what the log store needs from them. Pure functions.
 */
import { BROKER_KEY_FOR_TOPIC_CONFIG, CONFIG_KEYS_BY_NAME, CONFIG_SOURCE_ID, type ConfigKey, parseConfigValue, topicConfigDefaults } from "../config/broker-config.ts"
import { type BrokerConfigView, DYNAMIC_BROKER_KEYS } from "../config/dynamic-broker.ts"
import type { ConfigType } from "../config/keys.ts"
import type { CleanupPolicy, LogConfig } from "../log/partition-log.ts"
import type { DescribedConfig } from "./Topics.ts"

/**
 * Every topic config Kafka defines (TopicConfig). Names outside the broker key table are
 * accepted and stored, as Kafka does, though this broker does not act on all of them.
 */
export const KAFKA_TOPIC_CONFIGS: ReadonlySet<string> = new Set([
  "cleanup.policy",
  "compression.type",
  "compression.gzip.level",
  "compression.lz4.level",
  "compression.zstd.level",
  "delete.retention.ms",
  "file.delete.delay.ms",
  "flush.messages",
  "flush.ms",
  "follower.replication.throttled.replicas",
  "index.interval.bytes",
  "leader.replication.throttled.replicas",
  "local.retention.bytes",
  "local.retention.ms",
  "max.compaction.lag.ms",
  "max.message.bytes",
  "message.downconversion.enable",
  "message.format.version",
  "message.timestamp.after.max.ms",
  "message.timestamp.before.max.ms",
  "message.timestamp.difference.max.ms",
  "message.timestamp.type",
  "min.cleanable.dirty.ratio",
  "min.compaction.lag.ms",
  "min.insync.replicas",
  "preallocate",
  "remote.log.copy.disable",
  "remote.log.delete.on.disable",
  "remote.storage.enable",
  "retention.bytes",
  "retention.ms",
  "segment.bytes",
  "segment.index.bytes",
  "segment.jitter.ms",
  "segment.ms",
  "unclean.leader.election.enable"
])

/** Kafka's ConfigType ids for DescribeConfigs v3+. */
const CONFIG_TYPE_ID: Readonly<Record<ConfigType, number>> = {
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9
}


/**
 * Topic configs with no broker-level counterpart (Kafka's LogConfig.CONFIGS_WITH_NO_SERVER_DEFAULTS):
 * their type, default and meaning.
 */
const TOPIC_ONLY_CONFIGS: ReadonlyMap<string, { readonly type: ConfigType; readonly default: string; readonly doc: string }> = new Map([
  ["remote.storage.enable", { type: "BOOLEAN", default: "false", doc: "Whether the topic's segments are copied to tiered storage (not supported by this broker)." }],
  ["remote.log.copy.disable", { type: "BOOLEAN", default: "false", doc: "With tiered storage: stop copying new segments to remote storage, keep reading the copied ones." }],
  ["remote.log.delete.on.disable", { type: "BOOLEAN", default: "false", doc: "With tiered storage: allow turning it off for the topic, deleting its remote segments." }],
  ["leader.replication.throttled.replicas", { type: "LIST", default: "", doc: "Replicas whose replication is throttled on the leader side, as partition:broker pairs or *." }],
  ["follower.replication.throttled.replicas", { type: "LIST", default: "", doc: "Replicas whose replication is throttled on the follower side, as partition:broker pairs or *." }]
] as const)

/** What each topic config does, as DescribeConfigs documents it (v3+). */
const TOPIC_DOCS: Readonly<Record<string, string>> = {
  "cleanup.policy": "How old log segments are discarded: delete (by time or size), compact (keep the latest record per key), or both.",
  "compression.type": "Final compression of the topic's batches: a codec, uncompressed, or producer (keep what the producer sent).",
  "compression.gzip.level": "Compression level when the topic recompresses with gzip.",
  "compression.lz4.level": "Compression level when the topic recompresses with lz4.",
  "compression.zstd.level": "Compression level when the topic recompresses with zstd.",
  "delete.retention.ms": "How long delete tombstones stay readable in a compacted topic.",
  "file.delete.delay.ms": "How long a deleted segment's files linger before removal.",
  "flush.messages": "Force an fsync after this many appended messages.",
  "flush.ms": "Force an fsync when this much time has passed since the last one.",
  "index.interval.bytes": "Bytes appended between two offset index entries.",
  "local.retention.bytes": "With tiered storage: bytes kept locally per partition (-2: retention.bytes).",
  "local.retention.ms": "With tiered storage: how long segments are kept locally (-2: retention.ms).",
  "max.compaction.lag.ms": "Longest time a record may stay uncompacted.",
  "max.message.bytes": "Largest record batch the topic accepts, after compression.",
  "message.downconversion.enable": "Whether fetches of old versions may get down-converted batches.",
  "message.format.version": "Deprecated message format version; batches are stored as v2 regardless.",
  "message.timestamp.after.max.ms": "How far in the future a CreateTime timestamp may be.",
  "message.timestamp.before.max.ms": "How far in the past a CreateTime timestamp may be.",
  "message.timestamp.difference.max.ms": "Deprecated: largest difference allowed between a CreateTime timestamp and the broker's clock.",
  "message.timestamp.type": "Whether record timestamps are the producer's (CreateTime) or the broker's append time (LogAppendTime).",
  "min.cleanable.dirty.ratio": "Share of the log that must be uncompacted before the cleaner compacts it.",
  "min.compaction.lag.ms": "Shortest time a record stays uncompacted.",
  "min.insync.replicas": "Replicas that must acknowledge an acks=all write.",
  "preallocate": "Whether segment files are preallocated.",
  "retention.bytes": "Largest size a partition may grow to before old segments are deleted (-1: unlimited).",
  "retention.ms": "How long records are kept before their segment is deleted (-1: forever).",
  "segment.bytes": "Size of one segment file.",
  "segment.index.bytes": "Size of a segment's offset index.",
  "segment.jitter.ms": "Largest random jitter subtracted from segment.ms.",
  "segment.ms": "Time after which a segment is rolled even if not full.",
  "unclean.leader.election.enable": "Whether a replica outside the ISR may become leader, at the risk of data loss."
}

/** Kafka's ConfigSource id of DYNAMIC_TOPIC_CONFIG. */
const DYNAMIC_TOPIC_CONFIG = 1

type Synonym = DescribedConfig["synonyms"][number]

const typeOfTopicConfig = (name: string): ConfigType => {
  const brokerKey = BROKER_KEY_FOR_TOPIC_CONFIG.get(name)
  const key = brokerKey === undefined ? undefined : CONFIG_KEYS_BY_NAME.get(brokerKey)
  return key?.type ?? TOPIC_ONLY_CONFIGS.get(name)?.type ?? "STRING"
}

/** Whether a topic config holds a list (APPEND / SUBTRACT apply to lists only). */
export const isListTopicConfig = (name: string): boolean => typeOfTopicConfig(name) === "LIST"

/** Why a topic config is refused: the message Kafka gives with INVALID_CONFIG. */
export const topicConfigError = (name: string, value: string | null): string | undefined => {
  if (!KAFKA_TOPIC_CONFIGS.has(name)) return `Unknown topic config name: ${name}`
  if (value === null) return `Null value not supported for topic configs: ${name}`
  const brokerKey = BROKER_KEY_FOR_TOPIC_CONFIG.get(name)
  const key: ConfigKey | undefined = brokerKey === undefined
    ? (TOPIC_ONLY_CONFIGS.has(name) ? { name, type: TOPIC_ONLY_CONFIGS.get(name)!.type, default: null, doc: "" } : undefined)
    : CONFIG_KEYS_BY_NAME.get(brokerKey)
  if (key === undefined) return undefined
  try {
    parseConfigValue(key, value)
  } catch (e) {
    return (e as Error).message.replace(key.name, name)
  }
  // Kafka's topic-level validators that differ from the broker keys'.
  const n = /^[+-]?\d+$/.test(value.trim()) ? BigInt(value.trim()) : undefined
  if (n !== undefined) {
    if (name === "retention.ms" && n < -1n) return `Invalid value ${value} for configuration ${name}: Value must be at least -1`
    if (name === "segment.ms" && n < 1n) return `Invalid value ${value} for configuration ${name}: Value must be at least 1`
    if (name === "flush.ms" && n < 0n) return `Invalid value ${value} for configuration ${name}: Value must be at least 0`
  }
  return undefined
}

/** The topic-level defaults this broker gives: broker-derived ones and the topic-only ones. */
const topicDefaults = (view: Pick<BrokerConfigView, "raw" | "sources">): Map<string, string> => {
  const defaults = topicConfigDefaults(view)
  for (const [name, c] of TOPIC_ONLY_CONFIGS) defaults.set(name, c.default)
  return defaults
}

/** A topic's effective configs: its own overrides on top of the broker's (dynamic) defaults. */
export const effectiveTopicConfig = (view: Pick<BrokerConfigView, "raw" | "sources">, overrides: ReadonlyMap<string, string> | undefined): Map<string, string> => {
  const effective = topicDefaults(view)
  if (overrides !== undefined) for (const [k, v] of overrides) effective.set(k, v)
  return effective
}

const num = (m: ReadonlyMap<string, string>, key: string): number | undefined => {
  const v = m.get(key)
  if (v === undefined) return undefined
  const n = Number(v)
  // Long.MAX_VALUE ("never") does not fit a double exactly; it means unbounded either way.
  return Number.isFinite(n) ? Math.min(n, Number.MAX_SAFE_INTEGER) : undefined
}

/** The partition-log settings a topic's effective config implies. */
export const logConfigOf = (effective: ReadonlyMap<string, string>): Partial<LogConfig> => {
  const out: { -readonly [K in keyof LogConfig]?: LogConfig[K] } = {}
  const set = <K extends keyof LogConfig>(k: K, v: LogConfig[K] | undefined) => {
    if (v !== undefined) out[k] = v
  }
  set("segmentBytes", num(effective, "segment.bytes"))
  set("segmentIndexBytes", num(effective, "segment.index.bytes"))
  set("indexIntervalBytes", num(effective, "index.interval.bytes"))
  set("rollMs", num(effective, "segment.ms"))
  const retentionMs = num(effective, "retention.ms")
  // Any negative retention means "forever" to the log.
  set("retentionMs", retentionMs !== undefined && retentionMs < 0 ? -1 : retentionMs)
  set("retentionBytes", num(effective, "retention.bytes"))
  set("flushIntervalMessages", num(effective, "flush.messages"))
  set("flushIntervalMs", num(effective, "flush.ms"))
  set("deleteRetentionMs", num(effective, "delete.retention.ms"))
  set("minCompactionLagMs", num(effective, "min.compaction.lag.ms"))
  set("maxCompactionLagMs", num(effective, "max.compaction.lag.ms"))
  set("minCleanableDirtyRatio", num(effective, "min.cleanable.dirty.ratio"))
  // Time and size retention belong to the "delete" policy: LogStore applies them to a log only
  // when its policy includes it, so a compact-only log (__consumer_offsets) keeps its segments
  // until the cleaner rewrites them, as in Kafka.
  const policy = effective.get("cleanup.policy")
  if (policy !== undefined) {
    out.cleanupPolicy = policy.split(",").map((p) => p.trim().toLowerCase()).filter((p): p is CleanupPolicy => p === "compact" || p === "delete")
  }
  const ts = effective.get("message.timestamp.type")
  if (ts === "CreateTime" || ts === "LogAppendTime") out.messageTimestampType = ts
  return out
}

/**
 * One broker key's values across the layers that set it, highest precedence first (Kafka's
 * synonyms): this node's dynamic value, the cluster default, the static value, the default.
 */
const brokerKeySynonyms = (view: BrokerConfigView, name: string): Array<Synonym> => {
  const out: Array<Synonym> = []
  const perBroker = view.perBroker.get(name)
  if (perBroker !== undefined) out.push({ name, value: perBroker, source: CONFIG_SOURCE_ID.DYNAMIC_BROKER_CONFIG })
  const clusterDefault = view.clusterDefaults.get(name)
  if (clusterDefault !== undefined) out.push({ name, value: clusterDefault, source: CONFIG_SOURCE_ID.DYNAMIC_DEFAULT_BROKER_CONFIG })
  const staticValue = view.static.raw.get(name)
  if (staticValue !== undefined) {
    const source = view.static.sources.get(name) ?? "DEFAULT_CONFIG"
    out.push({ name, value: staticValue, source: CONFIG_SOURCE_ID[source] })
  }
  return out
}

/** A broker key and its lower-precedence synonyms (log.retention.ms, .minutes, .hours). */
const synonymsOfBrokerKey = (view: BrokerConfigView, name: string): Array<Synonym> => {
  const key = CONFIG_KEYS_BY_NAME.get(name)
  return [name, ...(key?.synonyms ?? [])].flatMap((n) => brokerKeySynonyms(view, n))
}

/** DescribeConfigs entries for a topic (all topic configs when `keys` is null). */
export const describeTopic = (
  view: BrokerConfigView,
  overrides: ReadonlyMap<string, string> | undefined,
  keys: ReadonlyArray<string> | null
): Array<DescribedConfig> => {
  const defaults = topicDefaults(view)
  const names = keys ?? [...new Set([...KAFKA_TOPIC_CONFIGS, ...defaults.keys(), ...(overrides?.keys() ?? [])])].sort()
  const out: Array<DescribedConfig> = []
  for (const name of names) {
    const override = overrides?.get(name)
    if (override === undefined && !defaults.has(name)) continue
    const brokerKey = BROKER_KEY_FOR_TOPIC_CONFIG.get(name)
    const synonyms: Array<Synonym> = []
    if (override !== undefined) synonyms.push({ name, value: override, source: DYNAMIC_TOPIC_CONFIG })
    if (brokerKey !== undefined) synonyms.push(...synonymsOfBrokerKey(view, brokerKey))
    out.push({
      name,
      value: override ?? defaults.get(name) ?? null,
      readOnly: false,
      source: synonyms[0]?.source ?? CONFIG_SOURCE_ID.DEFAULT_CONFIG,
      isSensitive: false,
      configType: CONFIG_TYPE_ID[typeOfTopicConfig(name)],
      documentation: TOPIC_DOCS[name] ?? TOPIC_ONLY_CONFIGS.get(name)?.doc ?? null,
      synonyms
    })
  }
  return out
}

/**
 * DescribeConfigs entries for the broker (all known keys when `keys` is null). For this node
 * (`clusterDefault` false): every key with its effective value and where it came from. For the
 * cluster default resource "": only the dynamic cluster-wide defaults, as Kafka answers.
 */
export const describeBroker = (view: BrokerConfigView, keys: ReadonlyArray<string> | null, clusterDefault = false): Array<DescribedConfig> => {
  if (clusterDefault) {
    const names = keys ?? [...view.clusterDefaults.keys()].sort()
    return names.flatMap((name) => {
      const value = view.clusterDefaults.get(name)
      if (value === undefined) return []
      const key = CONFIG_KEYS_BY_NAME.get(name)
      const source = CONFIG_SOURCE_ID.DYNAMIC_DEFAULT_BROKER_CONFIG
      const isSensitive = key?.type === "PASSWORD"
      return [{
        name,
        value,
        readOnly: !DYNAMIC_BROKER_KEYS.has(name),
        source,
        isSensitive,
        configType: CONFIG_TYPE_ID[key?.type ?? "STRING"],
        documentation: key?.doc ?? null,
        synonyms: [{ name, value, source }]
      }]
    })
  }
  const custom = [...view.perBroker.keys()].filter((k) => !CONFIG_KEYS_BY_NAME.has(k))
  const names = keys ?? [...CONFIG_KEYS_BY_NAME.keys(), ...custom].sort()
  const out: Array<DescribedConfig> = []
  for (const name of names) {
    const key = CONFIG_KEYS_BY_NAME.get(name)
    if (key === undefined) {
      // A custom key set on this broker: reported with its stored value, as Kafka does.
      const value = view.perBroker.get(name)
      if (value === undefined) continue
      const source = CONFIG_SOURCE_ID.DYNAMIC_BROKER_CONFIG
      out.push({ name, value, readOnly: false, source, isSensitive: false, configType: CONFIG_TYPE_ID.STRING, documentation: null, synonyms: [{ name, value, source }] })
      continue
    }
    const value = view.raw.get(name) ?? null
    const source = CONFIG_SOURCE_ID[view.sources.get(name) ?? "DEFAULT_CONFIG"]
    out.push({
      name,
      value,
      readOnly: !DYNAMIC_BROKER_KEYS.has(name),
      source,
      isSensitive: key.type === "PASSWORD",
      configType: CONFIG_TYPE_ID[key.type],
      documentation: key.doc,
      synonyms: synonymsOfBrokerKey(view, name)
    })
  }
  return out
}
