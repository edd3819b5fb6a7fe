/**
 * Topic-level configs: which names Kafka accepts, how values are validated, how a topic's
 * effective config is derived (topic override, else the broker's value for the matching
 * broker key, else the default), and what the log store needs from them. Pure functions.
 */
import type { BrokerConfig } from "../config/broker-config.ts"
import { BROKER_KEY_FOR_TOPIC_CONFIG, CONFIG_KEYS_BY_NAME, CONFIG_SOURCE_ID, parseConfigValue, topicConfigDefaults } from "../config/broker-config.ts"
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

const DYNAMIC_TOPIC_CONFIG = 1

/** Why a topic config is refused: the message Kafka would give with INVALID_CONFIG. */
export const topicConfigError = (name: string, value: string | null): string | undefined => {
  if (!KAFKA_TOPIC_CONFIGS.has(name)) return `Unknown topic config name: ${name}`
  if (value === null) return `Null value not supported for topic configs: ${name}`
  const brokerKey = BROKER_KEY_FOR_TOPIC_CONFIG.get(name)
  const key = brokerKey === undefined ? undefined : CONFIG_KEYS_BY_NAME.get(brokerKey)
  if (key === undefined) return undefined
  try {
    parseConfigValue(key, value)
    return undefined
  } catch (e) {
    return (e as Error).message.replace(brokerKey!, name)
  }
}

/** A topic's effective configs: its own overrides on top of the broker's defaults. */
export const effectiveTopicConfig = (config: BrokerConfig, overrides: ReadonlyMap<string, string> | undefined): Map<string, string> => {
  const effective = topicConfigDefaults(config)
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
  set("retentionMs", num(effective, "retention.ms"))
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

const brokerSource = (config: BrokerConfig, brokerKey: string): number =>
  CONFIG_SOURCE_ID[config.sources.get(brokerKey) ?? "DEFAULT_CONFIG"]

/** DescribeConfigs entries for a topic (all topic configs when `keys` is null). */
export const describeTopic = (
  config: BrokerConfig,
  overrides: ReadonlyMap<string, string> | undefined,
  keys: ReadonlyArray<string> | null
): Array<DescribedConfig> => {
  const defaults = topicConfigDefaults(config)
  const names = keys ?? [...new Set([...defaults.keys(), ...(overrides?.keys() ?? [])])].sort()
  const out: Array<DescribedConfig> = []
  for (const name of names) {
    const override = overrides?.get(name)
    const brokerKey = BROKER_KEY_FOR_TOPIC_CONFIG.get(name)
    const key = brokerKey === undefined ? undefined : CONFIG_KEYS_BY_NAME.get(brokerKey)
    if (override === undefined && !defaults.has(name)) continue
    const synonyms: Array<DescribedConfig["synonyms"][number]> = []
    if (override !== undefined) synonyms.push({ name, value: override, source: DYNAMIC_TOPIC_CONFIG })
    if (brokerKey !== undefined && defaults.has(name)) {
      synonyms.push({ name: brokerKey, value: defaults.get(name)!, source: brokerSource(config, brokerKey) })
    }
    out.push({
      name,
      value: override ?? defaults.get(name) ?? null,
      readOnly: false,
      source: override !== undefined ? DYNAMIC_TOPIC_CONFIG : brokerKey !== undefined ? brokerSource(config, brokerKey) : 5,
      isSensitive: false,
      configType: key === undefined ? CONFIG_TYPE_ID.STRING : CONFIG_TYPE_ID[key.type],
      documentation: key?.doc ?? null,
      synonyms
    })
  }
  return out
}

/** DescribeConfigs entries for the broker (all known keys when `keys` is null). */
export const describeBroker = (config: BrokerConfig, keys: ReadonlyArray<string> | null): Array<DescribedConfig> => {
  const names = keys ?? [...CONFIG_KEYS_BY_NAME.keys()].sort()
  const out: Array<DescribedConfig> = []
  for (const name of names) {
    const key = CONFIG_KEYS_BY_NAME.get(name)
    if (key === undefined) continue
    const value = config.raw.get(name) ?? null
    const source = brokerSource(config, name)
    out.push({
      name,
      value,
      readOnly: true,
      source,
      isSensitive: key.type === "PASSWORD",
      configType: CONFIG_TYPE_ID[key.type],
      documentation: key.doc,
      synonyms: [{ name, value, source }]
    })
  }
  return out
}
