/**
 * Turns layers of Kafka-named string properties into the validated, typed `BrokerConfig`.
 * Pure: the Effect service (Config.ts) decides where the layers come from.
 */
import { fail } from "./errors.ts"
import { parseHttpListener } from "./observability.ts"
import {
  CLEANUP_POLICIES,
  COMPRESSION_TYPES,
  CONFIG_KEYS,
  CONFIG_KEYS_BY_NAME,
  type ParsedValue,
  PROCESS_ROLES,
  parseConfigValue,
  renderConfigValue,
  TIMESTAMP_TYPES
} from "./keys.ts"
import {
  formatListener,
  type Listener,
  parseListeners,
  parseSecurityProtocolMap,
  type SecurityProtocol,
  servedListeners,
  splitList
} from "./listeners.ts"

export {
  BROKER_KEY_FOR_TOPIC_CONFIG,
  CONFIG_KEYS,
  CONFIG_KEYS_BY_NAME,
  type ConfigKey,
  type ConfigType,
  parseConfigValue,
  type Validator
} from "./keys.ts"

export type TimestampType = (typeof TIMESTAMP_TYPES)[number]
export type CleanupPolicy = (typeof CLEANUP_POLICIES)[number]
export type CompressionType = (typeof COMPRESSION_TYPES)[number]
export type ProcessRole = (typeof PROCESS_ROLES)[number]

/** Kafka's DescribeConfigs config sources that can apply to a broker key. */
export type ConfigSource = "DEFAULT_CONFIG" | "STATIC_BROKER_CONFIG" | "DYNAMIC_BROKER_CONFIG" | "DYNAMIC_DEFAULT_BROKER_CONFIG"

/** Wire ids of the sources (DescribeConfigsResponse.ConfigSource). */
export const CONFIG_SOURCE_ID: Readonly<Record<ConfigSource, number>> = {
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5
}

/**
 * Kafka's LONG configs use Long.MAX_VALUE (9223372036854775807) to mean "never". A JS number
 * cannot hold it, and Infinity would poison timer arithmetic (setTimeout treats it as 0), so
 * typed fields clamp to Number.MAX_SAFE_INTEGER: ~285,000 years in ms, or 9e15 messages, which
 * is "never" for all practical purposes. `raw` keeps the exact string for DescribeConfigs.
 */
export const LONG_NEVER = Number.MAX_SAFE_INTEGER

export interface BrokerConfig {
  readonly nodeId: number
  readonly processRoles: ReadonlyArray<ProcessRole>
  /** Everything in `listeners`, controller listeners included. See `servedListeners`. */
  readonly listeners: ReadonlyArray<Listener>
  /**
   * What clients are told, one per served listener: the same-named `advertised.listeners`
   * entry, else the listener itself. Host "" / port 0 are for the server to fill in (the
   * host the client connected to / the port actually bound).
   */
  readonly advertisedListeners: ReadonlyArray<Listener>
  readonly controllerListenerNames: ReadonlyArray<string>
  readonly listenerSecurityProtocolMap: ReadonlyMap<string, SecurityProtocol>
  /** From `log.dirs`, else `log.dir`; relative paths are relative to the working directory. */
  readonly logDirs: ReadonlyArray<string>
  readonly numPartitions: number
  readonly defaultReplicationFactor: number
  readonly autoCreateTopicsEnable: boolean
  readonly deleteTopicEnable: boolean
  readonly messageMaxBytes: number
  readonly minInsyncReplicas: number
  readonly compressionType: CompressionType
  readonly logSegmentBytes: number
  /** log.index.memory.max.bytes (ours). */
  readonly logIndexMemoryMaxBytes: number
  /** metadata.log.dir; undefined = the first of logDirs. */
  readonly metadataLogDir: string | undefined
  readonly metadataLogSegmentBytes: number
  readonly metadataLogSegmentMs: number
  readonly metadataLogMaxRecordBytesBetweenSnapshots: number
  readonly metadataLogMaxSnapshotIntervalMs: number
  readonly metadataMaxRetentionBytes: number
  readonly metadataMaxRetentionMs: number
  /** From log.roll.ms, else log.roll.hours. */
  readonly logRollMs: number
  /** From log.retention.ms, else .minutes, else .hours; -1 = unlimited. */
  readonly logRetentionMs: number
  /** -1 = unlimited. */
  readonly logRetentionBytes: number
  readonly logRetentionCheckIntervalMs: number
  readonly producerIdExpirationMs: number
  readonly producerIdExpirationCheckIntervalMs: number
  readonly logCleanupPolicy: ReadonlyArray<CleanupPolicy>
  readonly logCleanerEnable: boolean
  readonly logCleanerThreads: number
  readonly logCleanerBackoffMs: number
  readonly logCleanerDedupeBufferSize: number
  readonly logCleanerIoBufferLoadFactor: number
  readonly logCleanerIoBufferSize: number
  readonly logCleanerIoMaxBytesPerSecond: number
  /** LONG_NEVER by default. */
  readonly logFlushIntervalMessages: number
  /** From log.flush.interval.ms, else log.flush.scheduler.interval.ms; LONG_NEVER by default. */
  readonly logFlushIntervalMs: number
  readonly socketRequestMaxBytes: number
  readonly connectionsMaxIdleMs: number
  readonly maxConnections: number
  readonly maxConnectionsPerIp: number
  /** socket.listen.backlog.size: connections that may wait for a slot at max.connections. */
  readonly socketListenBacklogSize: number
  /** max.connections.per.ip.overrides, by host name or IP address. */
  readonly maxConnectionsPerIpOverrides: ReadonlyMap<string, number>
  readonly queuedMaxRequests: number
  /** quota.window.num and quota.window.size.seconds: the samples client quotas are measured over. */
  readonly quotaWindowNum: number
  readonly quotaWindowSizeSeconds: number
  readonly messageTimestampType: TimestampType
  readonly transactionMaxTimeoutMs: number
  readonly transactionalIdExpirationMs: number
  readonly transactionAbortTimedOutTransactionCleanupIntervalMs: number
  readonly transactionRemoveExpiredTransactionCleanupIntervalMs: number
  readonly transactionStateLogNumPartitions: number
  readonly transactionStateLogSegmentBytes: number
  readonly transactionStateLogMinIsr: number
  readonly transactionPartitionVerificationEnable: boolean
  readonly maxIncrementalFetchSessionCacheSlots: number
  readonly fetchMaxBytes: number
  readonly offsetsTopicNumPartitions: number
  readonly offsetsTopicSegmentBytes: number
  readonly offsetsRetentionMinutes: number
  readonly offsetsRetentionCheckIntervalMs: number
  readonly groupInitialRebalanceDelayMs: number
  readonly groupMinSessionTimeoutMs: number
  readonly groupMaxSessionTimeoutMs: number
  readonly groupMaxSize: number
  readonly groupConsumerSessionTimeoutMs: number
  readonly groupConsumerHeartbeatIntervalMs: number
  readonly groupConsumerMaxSize: number
  readonly groupConsumerAssignors: ReadonlyArray<string>
  /** Effective value of every known key that has one, in Kafka's string rendering. */
  readonly raw: ReadonlyMap<string, string>
  /** Where each known key's value came from; keys without a value report DEFAULT_CONFIG. */
  readonly sources: ReadonlyMap<string, ConfigSource>
  /** Keys given but not known to us. Kafka tolerates these; the caller logs them. */
  readonly unknownKeys: ReadonlyArray<string>
}

/** `host:count,host:count`, as Kafka's max.connections.per.ip.overrides (counts are non-negative ints). */
const parseConnectionOverrides = (value: string): ReadonlyMap<string, number> => {
  const out = new Map<string, number>()
  for (const entry of splitList(value)) {
    const at = entry.lastIndexOf(":")
    const count = at < 0 ? Number.NaN : Number(entry.slice(at + 1))
    if (at <= 0 || !Number.isInteger(count) || count < 0 || count > 2147483647) {
      fail("max.connections.per.ip.overrides", value, `"${entry}" is not host:count`)
    }
    out.set(entry.slice(0, at), count)
  }
  return out
}

/** One source of properties (file, environment, overrides, ...). */
export type ConfigLayer = Iterable<readonly [string, string]>

const clampLong = (n: bigint): number =>
  n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : n < BigInt(Number.MIN_SAFE_INTEGER) ? Number.MIN_SAFE_INTEGER : Number(n)

/**
 * The first of `key`, then `fallbacks` (each with its unit in ms) that has a value, as exact
 * milliseconds. Mirrors KafkaConfig's logRetentionTimeMillis / logRollTimeMillis / logFlush...
 */
const millisWithFallback = (
  raw: ReadonlyMap<string, string>,
  key: string,
  fallbacks: ReadonlyArray<readonly [string, bigint]>
): { readonly from: string; readonly ms: bigint } => {
  const direct = raw.get(key)
  if (direct !== undefined) return { from: key, ms: BigInt(direct) }
  for (const [fallback, unit] of fallbacks) {
    const value = raw.get(fallback)
    if (value !== undefined) return { from: fallback, ms: BigInt(value) * unit }
  }
  throw new Error(`bug: no value for ${key} or its fallbacks`)
}

const MINUTE = 60_000n
const HOUR = 3_600_000n

const retentionMs = (raw: ReadonlyMap<string, string>) => {
  const r = millisWithFallback(raw, "log.retention.ms", [["log.retention.minutes", MINUTE], ["log.retention.hours", HOUR]])
  // Kafka folds every negative retention into -1 ("unlimited").
  return r.ms < 0n ? { from: r.from, ms: -1n } : r
}
const rollMs = (raw: ReadonlyMap<string, string>) => millisWithFallback(raw, "log.roll.ms", [["log.roll.hours", HOUR]])
const flushMs = (raw: ReadonlyMap<string, string>) =>
  millisWithFallback(raw, "log.flush.interval.ms", [["log.flush.scheduler.interval.ms", 1n]])

const timestampType = (raw: ReadonlyMap<string, string>, sources: ReadonlyMap<string, ConfigSource>): TimestampType => {
  const canonical = "log.message.timestamp.type"
  const value = sources.get(canonical) !== "DEFAULT_CONFIG" ? raw.get(canonical) : (raw.get("message.timestamp.type") ?? raw.get(canonical))
  return value as TimestampType
}

/** Typed reads of already-validated values; a wrong type here is a bug in the key table. */
const reader = (parsed: ReadonlyMap<string, ParsedValue>) => {
  const get = (key: string, type: string): ParsedValue => {
    const v = parsed.get(key)
    if (typeof v !== type && !(type === "list" && typeof v === "object")) throw new Error(`bug: ${key} is not a ${type}`)
    return v as ParsedValue
  }
  return {
    int: (key: string) => get(key, "number") as number,
    long: (key: string) => clampLong(get(key, "bigint") as bigint),
    bool: (key: string) => get(key, "boolean") as boolean,
    double: (key: string) => get(key, "number") as number,
    string: (key: string) => get(key, "string") as string,
    list: (key: string) => get(key, "list") as ReadonlyArray<string>
  }
}

const resolveLogDirs = (raw: ReadonlyMap<string, string>): Array<string> => {
  const key = raw.has("log.dirs") ? "log.dirs" : "log.dir"
  const value = raw.get(key) ?? ""
  const dirs = splitList(value)
  if (dirs.length === 0) return fail(key, value, "At least one log directory must be defined via log.dirs or log.dir.")
  if (dirs.includes("")) return fail(key, value, `Empty directory name in ${key}`)
  const dup = dirs.find((d, i) => dirs.indexOf(d) !== i)
  if (dup !== undefined) return fail(key, value, `Duplicate log directory ${dup} in ${key}`)
  return dirs
}

const resolveProcessRoles = (roles: ReadonlyArray<string>, value: string): Array<ProcessRole> => {
  const dup = roles.find((r, i) => roles.indexOf(r) !== i)
  if (dup !== undefined) return fail("process.roles", value, `Duplicate role names found in process.roles: ${dup}`)
  // There is no controller-only mode here: every process serves clients.
  if (!roles.includes("broker")) return fail("process.roles", value, "process.roles must include broker: this server always acts as a broker")
  return roles as Array<ProcessRole>
}

const resolveSecurityProtocolMap = (
  raw: ReadonlyMap<string, string>,
  sources: ReadonlyMap<string, ConfigSource>,
  controllerListenerNames: ReadonlyArray<string>
): Map<string, SecurityProtocol> => {
  const key = "listener.security.protocol.map"
  const map = parseSecurityProtocolMap(raw.get(key) ?? "", key)
  // Like Kafka in KRaft mode: with the default map, controller listeners are PLAINTEXT unless mapped.
  if (sources.get(key) === "DEFAULT_CONFIG") {
    for (const name of controllerListenerNames) if (!map.has(name)) map.set(name, "PLAINTEXT")
  }
  return map
}

const requireProtocols = (key: string, value: string, listeners: ReadonlyArray<Listener>, map: ReadonlyMap<string, SecurityProtocol>): void => {
  for (const l of listeners) {
    if (!map.has(l.name)) fail(key, value, `No security protocol defined for listener ${l.name} (add it to listener.security.protocol.map)`)
  }
}

const resolveAdvertised = (
  raw: ReadonlyMap<string, string>,
  served: ReadonlyArray<Listener>,
  all: ReadonlyArray<Listener>,
  map: ReadonlyMap<string, SecurityProtocol>
): Array<Listener> => {
  const key = "advertised.listeners"
  const value = raw.get(key)
  if (value === undefined) return [...served]
  const advertised = parseListeners(value, key)
  requireProtocols(key, value, advertised, map)
  const names = new Set(all.map((l) => l.name))
  for (const a of advertised) {
    if (!names.has(a.name)) {
      fail(key, value, `advertised.listeners listener names must be equal to or a subset of the ones defined in listeners; ${a.name} is not in listeners`)
    }
    if (a.host === "0.0.0.0" || a.host === "::") {
      fail(key, value, `advertised.listeners cannot use the nonroutable meta-address ${a.host} (${formatListener(a)}). Use a routable IP address.`)
    }
  }
  return served.map((l) => advertised.find((a) => a.name === l.name) ?? l)
}

/**
 * Builds the broker config from `layers`, lowest precedence first (e.g. file, environment,
 * overrides); every layer counts as STATIC_BROKER_CONFIG. Throws ConfigError naming the key and
 * value of the first invalid setting.
 */
export const parseBrokerConfig = (layers: ReadonlyArray<ConfigLayer>): BrokerConfig => {
  const given = new Map<string, string>()
  for (const layer of layers) for (const [key, value] of layer) given.set(key, value)

  const parsed = new Map<string, ParsedValue>()
  const raw = new Map<string, string>()
  const sources = new Map<string, ConfigSource>()
  for (const key of CONFIG_KEYS) {
    const value = given.get(key.name)
    const text = value ?? key.default
    sources.set(key.name, value === undefined ? "DEFAULT_CONFIG" : "STATIC_BROKER_CONFIG")
    if (text === null) continue
    const v = parseConfigValue(key, text)
    parsed.set(key.name, v)
    raw.set(key.name, renderConfigValue(key, v))
  }
  const unknownKeys = [...given.keys()].filter((k) => !CONFIG_KEYS_BY_NAME.has(k))
  const read = reader(parsed)

  const retention = retentionMs(raw)
  if (retention.ms === 0n) {
    fail(retention.from, raw.get(retention.from) ?? "", `${retention.from} must be unlimited (-1) or, greater than or equal to 1`)
  }
  const roll = rollMs(raw)
  if (roll.ms < 1n) fail(roll.from, raw.get(roll.from) ?? "", `${roll.from} must be greater than or equal to 1`)

  const controllerListenerNames = splitList(read.string("controller.listener.names")).map((n) => n.toUpperCase())
  const listenersValue = read.string("listeners")
  const listeners = parseListeners(listenersValue, "listeners")
  const securityMap = resolveSecurityProtocolMap(raw, sources, controllerListenerNames)
  requireProtocols("listeners", listenersValue, listeners, securityMap)
  const served = servedListeners({ listeners, controllerListenerNames })
  if (served.length === 0) {
    fail("listeners", listenersValue, "No listener left to serve clients: every listener is named in controller.listener.names")
  }
  parseHttpListener(raw.get("http.listener") ?? "")

  const metadataSegmentBytes = read.int("metadata.log.segment.bytes")
  const metadataSegmentMin = read.int("metadata.log.segment.min.bytes")
  if (metadataSegmentBytes < metadataSegmentMin) {
    fail(
      "metadata.log.segment.bytes",
      String(metadataSegmentBytes),
      `Cannot set metadata.log.segment.bytes below metadata.log.segment.min.bytes (${metadataSegmentMin}): ${metadataSegmentBytes}`
    )
  }
  const metadataLogDirValue = raw.get("metadata.log.dir")?.trim()

  return {
    nodeId: read.int("node.id"),
    processRoles: resolveProcessRoles(read.list("process.roles"), raw.get("process.roles") ?? ""),
    listeners,
    advertisedListeners: resolveAdvertised(raw, served, listeners, securityMap),
    controllerListenerNames,
    listenerSecurityProtocolMap: securityMap,
    logDirs: resolveLogDirs(raw),
    numPartitions: read.int("num.partitions"),
    defaultReplicationFactor: read.int("default.replication.factor"),
    autoCreateTopicsEnable: read.bool("auto.create.topics.enable"),
    deleteTopicEnable: read.bool("delete.topic.enable"),
    messageMaxBytes: read.int("message.max.bytes"),
    minInsyncReplicas: read.int("min.insync.replicas"),
    compressionType: read.string("compression.type") as CompressionType,
    logSegmentBytes: read.int("log.segment.bytes"),
    logIndexMemoryMaxBytes: read.long("log.index.memory.max.bytes"),
    metadataLogDir: metadataLogDirValue === undefined || metadataLogDirValue === "" ? undefined : metadataLogDirValue,
    metadataLogSegmentBytes: metadataSegmentBytes,
    metadataLogSegmentMs: read.long("metadata.log.segment.ms"),
    metadataLogMaxRecordBytesBetweenSnapshots: read.long("metadata.log.max.record.bytes.between.snapshots"),
    metadataLogMaxSnapshotIntervalMs: read.long("metadata.log.max.snapshot.interval.ms"),
    metadataMaxRetentionBytes: read.long("metadata.max.retention.bytes"),
    metadataMaxRetentionMs: read.long("metadata.max.retention.ms"),
    logRollMs: clampLong(roll.ms),
    logRetentionMs: clampLong(retention.ms),
    logRetentionBytes: read.long("log.retention.bytes"),
    logRetentionCheckIntervalMs: read.long("log.retention.check.interval.ms"),
    producerIdExpirationMs: read.int("producer.id.expiration.ms"),
    producerIdExpirationCheckIntervalMs: read.int("producer.id.expiration.check.interval.ms"),
    logCleanupPolicy: read.list("log.cleanup.policy") as ReadonlyArray<CleanupPolicy>,
    logCleanerEnable: read.bool("log.cleaner.enable"),
    logCleanerThreads: read.int("log.cleaner.threads"),
    logCleanerBackoffMs: read.long("log.cleaner.backoff.ms"),
    logCleanerDedupeBufferSize: read.long("log.cleaner.dedupe.buffer.size"),
    logCleanerIoBufferLoadFactor: read.double("log.cleaner.io.buffer.load.factor"),
    logCleanerIoBufferSize: read.int("log.cleaner.io.buffer.size"),
    logCleanerIoMaxBytesPerSecond: read.double("log.cleaner.io.max.bytes.per.second"),
    logFlushIntervalMessages: read.long("log.flush.interval.messages"),
    logFlushIntervalMs: clampLong(flushMs(raw).ms),
    socketRequestMaxBytes: read.int("socket.request.max.bytes"),
    connectionsMaxIdleMs: read.long("connections.max.idle.ms"),
    maxConnections: read.int("max.connections"),
    maxConnectionsPerIp: read.int("max.connections.per.ip"),
    socketListenBacklogSize: read.int("socket.listen.backlog.size"),
    maxConnectionsPerIpOverrides: parseConnectionOverrides(read.string("max.connections.per.ip.overrides")),
    queuedMaxRequests: read.int("queued.max.requests"),
    quotaWindowNum: read.int("quota.window.num"),
    quotaWindowSizeSeconds: read.int("quota.window.size.seconds"),
    messageTimestampType: timestampType(raw, sources),
    transactionMaxTimeoutMs: read.int("transaction.max.timeout.ms"),
    transactionalIdExpirationMs: read.int("transactional.id.expiration.ms"),
    transactionAbortTimedOutTransactionCleanupIntervalMs: read.int("transaction.abort.timed.out.transaction.cleanup.interval.ms"),
    transactionRemoveExpiredTransactionCleanupIntervalMs: read.int("transaction.remove.expired.transaction.cleanup.interval.ms"),
    transactionStateLogNumPartitions: read.int("transaction.state.log.num.partitions"),
    transactionStateLogSegmentBytes: read.int("transaction.state.log.segment.bytes"),
    transactionStateLogMinIsr: read.int("transaction.state.log.min.isr"),
    transactionPartitionVerificationEnable: read.bool("transaction.partition.verification.enable"),
    maxIncrementalFetchSessionCacheSlots: read.int("max.incremental.fetch.session.cache.slots"),
    fetchMaxBytes: read.int("fetch.max.bytes"),
    offsetsTopicNumPartitions: read.int("offsets.topic.num.partitions"),
    offsetsTopicSegmentBytes: read.int("offsets.topic.segment.bytes"),
    offsetsRetentionMinutes: read.int("offsets.retention.minutes"),
    offsetsRetentionCheckIntervalMs: read.long("offsets.retention.check.interval.ms"),
    groupInitialRebalanceDelayMs: read.int("group.initial.rebalance.delay.ms"),
    groupMinSessionTimeoutMs: read.int("group.min.session.timeout.ms"),
    groupMaxSessionTimeoutMs: read.int("group.max.session.timeout.ms"),
    groupMaxSize: read.int("group.max.size"),
    groupConsumerSessionTimeoutMs: read.int("group.consumer.session.timeout.ms"),
    groupConsumerHeartbeatIntervalMs: read.int("group.consumer.heartbeat.interval.ms"),
    groupConsumerMaxSize: read.int("group.consumer.max.size"),
    groupConsumerAssignors: read.list("group.consumer.assignors"),
    raw,
    sources,
    unknownKeys
  }
}

/**
 * Topic config name → the default a new topic gets from this broker (what Kafka's LogConfig
 * computes from the broker's synonyms). Values are exact strings: Long.MAX stays
 * "9223372036854775807" rather than the clamped typed field.
 */
export const topicConfigDefaults = (config: Pick<BrokerConfig, "raw" | "sources">): Map<string, string> => {
  const derived: Readonly<Record<string, () => string>> = {
    "log.retention.ms": () => String(retentionMs(config.raw).ms),
    "log.roll.ms": () => String(rollMs(config.raw).ms),
    "log.flush.interval.ms": () => String(flushMs(config.raw).ms),
    "log.roll.jitter.ms": () => String(millisWithFallback(config.raw, "log.roll.jitter.ms", [["log.roll.jitter.hours", HOUR]]).ms),
    "log.message.timestamp.type": () => timestampType(config.raw, config.sources)
  }
  const defaults = new Map<string, string>()
  for (const key of CONFIG_KEYS) {
    if (key.topicConfig === undefined) continue
    const value = derived[key.name]?.() ?? config.raw.get(key.name)
    if (value !== undefined) defaults.set(key.topicConfig, value)
  }
  return defaults
}
