/**
 * The broker properties we know, described the way Kafka's ConfigDef describes them (type,
 * default as a string, validator, topic-level counterpart). It is data, not code, so that
 * DescribeConfigs can report types and defaults and CreateTopics can validate topic configs
 * and derive topic defaults from the same table.
 */
import { invalidValue } from "./errors.ts"
import { splitList } from "./listeners.ts"

export type ConfigType = "BOOLEAN" | "STRING" | "INT" | "SHORT" | "LONG" | "DOUBLE" | "LIST" | "CLASS" | "PASSWORD"

export type Validator =
  | { readonly _tag: "AtLeast"; readonly min: number }
  | { readonly _tag: "Between"; readonly min: number; readonly max: number }
  /** Exact, case-sensitive match of the whole (trimmed) string, like ConfigDef.ValidString. */
  | { readonly _tag: "ValidString"; readonly values: ReadonlyArray<string> }
  /** Every list element must be one of `values`, like ConfigDef.ValidList. */
  | { readonly _tag: "ValidList"; readonly values: ReadonlyArray<string> }

export interface ConfigKey {
  readonly name: string
  readonly type: ConfigType
  /** Kafka's string form of the default; null when Kafka has no default (the key is simply unset). */
  readonly default: string | null
  readonly validator?: Validator
  /** Name of the topic-level config this broker key provides the default for. */
  readonly topicConfig?: string
  /**
   * Lower-precedence keys consulted when this one is unset, in order (Kafka's "synonyms" in
   * DescribeConfigs). Unit conversion between them is done in broker-config.
   */
  readonly synonyms?: ReadonlyArray<string>
  readonly doc: string
}

const LONG_MAX = "9223372036854775807"
const atLeast = (min: number): Validator => ({ _tag: "AtLeast", min })
const between = (min: number, max: number): Validator => ({ _tag: "Between", min, max })
const validString = (...values: Array<string>): Validator => ({ _tag: "ValidString", values })
const validList = (...values: Array<string>): Validator => ({ _tag: "ValidList", values })

export const TIMESTAMP_TYPES = ["CreateTime", "LogAppendTime"] as const
export const CLEANUP_POLICIES = ["compact", "delete"] as const
export const COMPRESSION_TYPES = ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"] as const
export const PROCESS_ROLES = ["broker", "controller"] as const

/**
 * Defaults are Kafka's (3.x ConfigDef) except where marked OURS: this broker must start with no
 * configuration at all, which Kafka's KRaft defaults (node.id=-1, empty process.roles) do not allow.
 */
export const CONFIG_KEYS: ReadonlyArray<ConfigKey> = [
  // --- identity & roles
  { name: "node.id", type: "INT", default: "1", validator: atLeast(0), doc: "OURS: Kafka defaults to -1 (required in KRaft)." },
  { name: "process.roles", type: "LIST", default: "broker,controller", validator: validList(...PROCESS_ROLES), doc: "OURS: Kafka defaults to empty (required in KRaft)." },
  { name: "controller.listener.names", type: "STRING", default: "", doc: "OURS: Kafka has no default. Listeners named here are accepted but not served." },

  // --- network
  { name: "listeners", type: "STRING", default: "PLAINTEXT://127.0.0.1:9092", doc: "OURS: Kafka binds PLAINTEXT://:9092 (all interfaces); we stay local unless told otherwise." },
  { name: "advertised.listeners", type: "STRING", default: null, doc: "Per listener name, falls back to the entry in listeners." },
  {
    name: "listener.security.protocol.map",
    type: "STRING",
    default: "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
    doc: "As in Kafka's shipped KRaft server.properties (the ConfigDef default lacks CONTROLLER)."
  },
  { name: "socket.request.max.bytes", type: "INT", default: "104857600", validator: atLeast(1), doc: "Largest request accepted on a socket." },
  { name: "connections.max.idle.ms", type: "LONG", default: "600000", doc: "Close a connection after this long without a complete request or a response written (also bounds a request trickled byte by byte, and a client that does not read its responses)." },
  { name: "max.connections", type: "INT", default: "2147483647", validator: atLeast(0), doc: "Most connections the broker keeps open; more are closed as they arrive." },
  { name: "max.connections.per.ip", type: "INT", default: "2147483647", validator: atLeast(0), doc: "Most connections from one IP address." },
  { name: "max.connections.per.ip.overrides", type: "STRING", default: "", doc: "Per-IP or per-host exceptions to max.connections.per.ip: host:count,host:count." },
  { name: "queued.max.requests", type: "INT", default: "500", validator: atLeast(1), doc: "Requests read from one connection and not yet answered before the broker stops reading from it." },
  { name: "quota.window.num", type: "INT", default: "11", validator: atLeast(1), doc: "The number of samples to retain in memory for client quotas" },
  { name: "quota.window.size.seconds", type: "INT", default: "1", validator: atLeast(1), doc: "The time span of each sample for client quotas" },

  // --- observability (OURS: Kafka has JMX instead; Redpanda has an admin HTTP port)
  { name: "http.listener", type: "STRING", default: "http://127.0.0.1:9644", doc: "OURS: the HTTP listener for /metrics, /health and the web console; empty turns it off, port 0 picks a free port." },
  { name: "http.console.read.only", type: "BOOLEAN", default: "true", doc: "OURS: the console's create, delete, reset and produce endpoints are refused unless this is false." },
  { name: "request.log.slow.ms", type: "LONG", default: "-1", doc: "OURS: requests slower than this (ms) are logged at info level with their timings; -1 turns the slow-request log off." },
  { name: "request.log.debug", type: "BOOLEAN", default: "false", doc: "OURS: log every request at debug level (api, client, correlation id, time); switchable at runtime from the console's API." },

  // --- topics & messages
  { name: "num.partitions", type: "INT", default: "1", validator: atLeast(1), doc: "Partitions of auto-created / default topics." },
  { name: "default.replication.factor", type: "INT", default: "1", doc: "Replication factor of auto-created / default topics (Kafka has no validator)." },
  { name: "auto.create.topics.enable", type: "BOOLEAN", default: "true", doc: "Create topics on first metadata/produce request." },
  { name: "delete.topic.enable", type: "BOOLEAN", default: "true", doc: "Whether DeleteTopics is honoured." },
  { name: "message.max.bytes", type: "INT", default: "1048588", validator: atLeast(0), topicConfig: "max.message.bytes", doc: "Largest record batch accepted." },
  { name: "min.insync.replicas", type: "INT", default: "1", validator: atLeast(1), topicConfig: "min.insync.replicas", doc: "Replicas that must ack acks=all writes." },
  {
    name: "compression.type",
    type: "STRING",
    default: "producer",
    validator: validString(...COMPRESSION_TYPES),
    topicConfig: "compression.type",
    doc: "Final compression of stored batches; producer keeps the producer's codec."
  },
  { name: "unclean.leader.election.enable", type: "BOOLEAN", default: "false", topicConfig: "unclean.leader.election.enable", doc: "Meaningless on one node; kept for topic defaults." },
  {
    name: "log.message.timestamp.type",
    type: "STRING",
    default: "CreateTime",
    validator: validString(...TIMESTAMP_TYPES),
    topicConfig: "message.timestamp.type",
    synonyms: ["message.timestamp.type"],
    doc: "Kafka's broker name for the topic's message.timestamp.type."
  },
  {
    name: "message.timestamp.type",
    type: "STRING",
    default: null,
    validator: validString(...TIMESTAMP_TYPES),
    doc: "OURS: accepted as an alias of log.message.timestamp.type (which wins); Kafka ignores this name at broker level."
  },
  {
    name: "log.message.timestamp.difference.max.ms",
    type: "LONG",
    default: LONG_MAX,
    validator: atLeast(0),
    topicConfig: "message.timestamp.difference.max.ms",
    doc: "Deprecated predecessor of the before/after bounds: the largest difference allowed between a CreateTime and the broker's clock."
  },
  { name: "log.message.format.version", type: "STRING", default: "3.0-IV1", topicConfig: "message.format.version", doc: "Deprecated: message format version; ignored, batches are always stored as v2." },
  { name: "log.message.downconversion.enable", type: "BOOLEAN", default: "true", topicConfig: "message.downconversion.enable", doc: "Whether old fetch versions may get down-converted batches (this broker serves v2 only)." },
  { name: "compression.gzip.level", type: "INT", default: "-1", validator: between(-1, 9), topicConfig: "compression.gzip.level", doc: "Level used when the broker recompresses with gzip." },
  { name: "compression.lz4.level", type: "INT", default: "9", validator: between(1, 17), topicConfig: "compression.lz4.level", doc: "Level used when the broker recompresses with lz4." },
  { name: "compression.zstd.level", type: "INT", default: "3", validator: between(-131072, 22), topicConfig: "compression.zstd.level", doc: "Level used when the broker recompresses with zstd." },
  { name: "log.message.timestamp.before.max.ms", type: "LONG", default: LONG_MAX, validator: atLeast(0), topicConfig: "message.timestamp.before.max.ms", doc: "How far in the past a CreateTime may be." },
  { name: "log.message.timestamp.after.max.ms", type: "LONG", default: LONG_MAX, validator: atLeast(0), topicConfig: "message.timestamp.after.max.ms", doc: "How far in the future a CreateTime may be." },

  // --- log storage
  {
    name: "log.dirs",
    type: "STRING",
    default: null,
    synonyms: ["log.dir"],
    doc: "Comma-separated data directories; when unset, log.dir is used."
  },
  {
    name: "log.dir",
    type: "STRING",
    default: "./data",
    doc: "OURS: Kafka uses /tmp/kafka-logs. Relative paths resolve against the working directory, so a bare start keeps data next to where it was launched."
  },
  { name: "log.segment.bytes", type: "INT", default: "1073741824", validator: atLeast(14), topicConfig: "segment.bytes", doc: "Segment size; min is LegacyRecord.RECORD_OVERHEAD_V0 as in Kafka 3.x." },
  { name: "log.roll.ms", type: "LONG", default: null, topicConfig: "segment.ms", synonyms: ["log.roll.hours"], doc: "Max segment age before rolling." },
  { name: "log.roll.jitter.ms", type: "LONG", default: null, topicConfig: "segment.jitter.ms", synonyms: ["log.roll.jitter.hours"], doc: "Largest random jitter subtracted from the roll time, so segments do not all roll at once." },
  { name: "log.roll.jitter.hours", type: "INT", default: "0", validator: atLeast(0), doc: "Secondary to log.roll.jitter.ms." },
  { name: "log.local.retention.ms", type: "LONG", default: "-2", validator: atLeast(-2), topicConfig: "local.retention.ms", doc: "Tiered storage: how long local segments are kept (-2: as retention.ms)." },
  { name: "log.local.retention.bytes", type: "LONG", default: "-2", validator: atLeast(-2), topicConfig: "local.retention.bytes", doc: "Tiered storage: how many local bytes are kept (-2: as retention.bytes)." },
  { name: "log.roll.hours", type: "INT", default: "168", validator: atLeast(1), doc: "Secondary to log.roll.ms." },
  {
    name: "log.retention.ms",
    type: "LONG",
    default: null,
    topicConfig: "retention.ms",
    synonyms: ["log.retention.minutes", "log.retention.hours"],
    doc: "Time-based retention; any negative value means unlimited (-1)."
  },
  { name: "log.retention.minutes", type: "INT", default: null, doc: "Secondary to log.retention.ms." },
  { name: "log.retention.hours", type: "INT", default: "168", doc: "Tertiary to log.retention.ms." },
  { name: "log.retention.bytes", type: "LONG", default: "-1", topicConfig: "retention.bytes", doc: "Size-based retention per partition; -1 = unlimited." },
  { name: "log.retention.check.interval.ms", type: "LONG", default: "300000", validator: atLeast(1), doc: "How often retention is enforced." },
  { name: "producer.id.expiration.ms", type: "INT", default: "86400000", validator: atLeast(1), doc: "How long a partition remembers an idle producer id (its sequence numbers) before forgetting it." },
  { name: "producer.id.expiration.check.interval.ms", type: "INT", default: "600000", validator: atLeast(1), doc: "How often idle producer ids are looked for." },
  { name: "log.cleanup.policy", type: "LIST", default: "delete", validator: validList(...CLEANUP_POLICIES), topicConfig: "cleanup.policy", doc: "delete and/or compact." },
  { name: "log.flush.interval.messages", type: "LONG", default: LONG_MAX, validator: atLeast(1), topicConfig: "flush.messages", doc: "fsync after this many messages." },
  {
    name: "log.flush.interval.ms",
    type: "LONG",
    default: null,
    topicConfig: "flush.ms",
    synonyms: ["log.flush.scheduler.interval.ms"],
    doc: "fsync after this long; when unset, log.flush.scheduler.interval.ms is used."
  },
  { name: "log.flush.scheduler.interval.ms", type: "LONG", default: LONG_MAX, doc: "How often the flusher checks logs." },
  { name: "log.index.size.max.bytes", type: "INT", default: "10485760", validator: atLeast(4), topicConfig: "segment.index.bytes", doc: "Max offset index size." },
  { name: "log.index.interval.bytes", type: "INT", default: "4096", validator: atLeast(0), topicConfig: "index.interval.bytes", doc: "Bytes between offset index entries." },
  { name: "log.segment.delete.delay.ms", type: "LONG", default: "60000", validator: atLeast(0), topicConfig: "file.delete.delay.ms", doc: "Delay before deleting a removed segment's files." },
  { name: "log.preallocate", type: "BOOLEAN", default: "false", topicConfig: "preallocate", doc: "Preallocate segment files." },
  { name: "log.cleaner.delete.retention.ms", type: "LONG", default: "86400000", validator: atLeast(0), topicConfig: "delete.retention.ms", doc: "Tombstone retention for compacted topics." },
  { name: "log.cleaner.min.compaction.lag.ms", type: "LONG", default: "0", validator: atLeast(0), topicConfig: "min.compaction.lag.ms", doc: "Min age before a record may be compacted." },
  { name: "log.cleaner.max.compaction.lag.ms", type: "LONG", default: LONG_MAX, validator: atLeast(1), topicConfig: "max.compaction.lag.ms", doc: "Max age before a record must be compacted." },
  {
    name: "log.cleaner.min.cleanable.ratio",
    type: "DOUBLE",
    default: "0.5",
    validator: between(0, 1),
    topicConfig: "min.cleanable.dirty.ratio",
    doc: "Dirty ratio that triggers compaction."
  },
  { name: "log.cleaner.enable", type: "BOOLEAN", default: "true", doc: "Run the log cleaner (compaction of cleanup.policy=compact topics)." },
  { name: "log.cleaner.threads", type: "INT", default: "1", validator: atLeast(0), doc: "Cleaner fibers." },
  { name: "log.cleaner.backoff.ms", type: "LONG", default: "15000", validator: atLeast(0), doc: "Sleep when no log needs cleaning." },
  { name: "log.cleaner.dedupe.buffer.size", type: "LONG", default: "134217728", doc: "Memory for the cleaners' key maps, over all cleaner threads." },
  { name: "log.cleaner.io.buffer.load.factor", type: "DOUBLE", default: "0.9", doc: "How full a cleaner's key map may get." },
  { name: "log.cleaner.io.buffer.size", type: "INT", default: "524288", validator: atLeast(0), doc: "Cleaner I/O buffer size (this broker: bytes processed between yields)." },
  {
    name: "log.cleaner.io.max.bytes.per.second",
    type: "DOUBLE",
    default: "1.7976931348623157E308",
    doc: "Cleaner I/O throttle: bytes read plus written per second."
  },

  // --- transactions (Kafka's TransactionStateManagerConfig / TransactionLogConfig)
  { name: "transaction.max.timeout.ms", type: "INT", default: "900000", validator: atLeast(1), doc: "Largest transaction timeout a producer may ask for." },
  { name: "transactional.id.expiration.ms", type: "INT", default: "604800000", validator: atLeast(1), doc: "Idle time after which a transactional id is removed." },
  {
    name: "transaction.abort.timed.out.transaction.cleanup.interval.ms",
    type: "INT",
    default: "10000",
    validator: atLeast(1),
    doc: "How often timed-out transactions are looked for and aborted."
  },
  {
    name: "transaction.remove.expired.transaction.cleanup.interval.ms",
    type: "INT",
    default: "3600000",
    validator: atLeast(1),
    doc: "How often expired transactional ids are looked for and removed."
  },
  { name: "transaction.state.log.num.partitions", type: "INT", default: "50", validator: atLeast(1), doc: "Partitions of __transaction_state." },
  { name: "transaction.state.log.segment.bytes", type: "INT", default: "104857600", validator: atLeast(1), doc: "Segment size of __transaction_state." },
  { name: "transaction.state.log.replication.factor", type: "SHORT", default: "3", validator: atLeast(1), doc: "Replication factor of __transaction_state (capped at the live brokers: 1)." },
  { name: "transaction.state.log.min.isr", type: "INT", default: "2", validator: atLeast(1), doc: "min.insync.replicas of __transaction_state." },
  {
    name: "transaction.partition.verification.enable",
    type: "BOOLEAN",
    default: "true",
    doc: "Reject a transactional produce to a partition that was not added to the transaction (KIP-890)."
  },

  // --- KRaft metadata log
  { name: "metadata.log.dir", type: "STRING", default: null, doc: "Where the __cluster_metadata log lives; the first of log.dirs when unset." },
  { name: "metadata.log.segment.bytes", type: "INT", default: "1073741824", validator: atLeast(12), doc: "Size of a metadata log segment; at least metadata.log.segment.min.bytes." },
  { name: "metadata.log.segment.ms", type: "LONG", default: "604800000", doc: "Max age of the active metadata log segment before it is rolled." },
  { name: "metadata.log.segment.min.bytes", type: "INT", default: "8388608", validator: atLeast(12), doc: "Internal in Kafka: the smallest metadata.log.segment.bytes allowed (for tests)." },
  {
    name: "metadata.log.max.record.bytes.between.snapshots",
    type: "LONG",
    default: "20971520",
    validator: atLeast(1),
    doc: "Log bytes after the latest snapshot that trigger a new metadata snapshot."
  },
  { name: "metadata.log.max.snapshot.interval.ms", type: "LONG", default: "3600000", validator: atLeast(0), doc: "Max time between metadata snapshots when records arrive; 0 disables." },
  { name: "metadata.max.retention.bytes", type: "LONG", default: "104857600", doc: "Max size of metadata log plus snapshots before old ones are deleted; -1 = unlimited." },
  { name: "metadata.max.retention.ms", type: "LONG", default: "604800000", doc: "Max age of a metadata snapshot (and the log it covers) before deletion; -1 = unlimited." },

  // --- fetch & groups
  { name: "max.incremental.fetch.session.cache.slots", type: "INT", default: "1000", validator: atLeast(0), doc: "Incremental fetch sessions kept." },
  { name: "fetch.max.bytes", type: "INT", default: "57671680", validator: atLeast(1024), doc: "Max bytes returned by one fetch." },
  { name: "offsets.topic.num.partitions", type: "INT", default: "50", validator: atLeast(1), doc: "Partitions of __consumer_offsets." },
  { name: "offsets.topic.segment.bytes", type: "INT", default: "104857600", validator: atLeast(1), doc: "segment.bytes of __consumer_offsets." },
  { name: "offsets.retention.minutes", type: "INT", default: "10080", validator: atLeast(1), doc: "How long committed offsets of an empty group (or a simple consumer) are kept." },
  { name: "offsets.retention.check.interval.ms", type: "LONG", default: "600000", validator: atLeast(1), doc: "How often offsets are checked for expiry." },
  { name: "group.initial.rebalance.delay.ms", type: "INT", default: "3000", doc: "Wait for more members before the first rebalance of an empty group." },
  { name: "group.min.session.timeout.ms", type: "INT", default: "6000", doc: "Smallest session timeout a member may ask for." },
  { name: "group.max.session.timeout.ms", type: "INT", default: "1800000", doc: "Largest session timeout a member may ask for." },
  { name: "group.max.size", type: "INT", default: "2147483647", validator: atLeast(1), doc: "The maximum number of consumers that a single consumer group can accommodate." },
  { name: "group.consumer.session.timeout.ms", type: "INT", default: "45000", validator: atLeast(1), doc: "KIP-848 consumer group members' session timeout." },
  { name: "group.consumer.heartbeat.interval.ms", type: "INT", default: "5000", validator: atLeast(1), doc: "Heartbeat interval given to KIP-848 consumer group members." },
  { name: "group.consumer.max.size", type: "INT", default: "2147483647", validator: atLeast(1), doc: "Most members a KIP-848 consumer group may have." },
  { name: "group.consumer.assignors", type: "LIST", default: "uniform,range", doc: "Server-side assignors of KIP-848 consumer groups (names or Kafka class names); the first is the default." }
]

export const CONFIG_KEYS_BY_NAME: ReadonlyMap<string, ConfigKey> = new Map(CONFIG_KEYS.map((k) => [k.name, k]))

/** Topic config name → the broker key that supplies its default. */
export const BROKER_KEY_FOR_TOPIC_CONFIG: ReadonlyMap<string, string> = new Map(
  CONFIG_KEYS.flatMap((k) => (k.topicConfig === undefined ? [] : [[k.topicConfig, k.name] as const]))
)

/** A value after type conversion. LONGs are bigint here so Long.MAX_VALUE survives exactly. */
export type ParsedValue = boolean | number | bigint | string | ReadonlyArray<string>

const INT_RANGE = { INT: [-(2 ** 31), 2 ** 31 - 1], SHORT: [-(2 ** 15), 2 ** 15 - 1] } as const
const LONG_MIN_BIG = -(2n ** 63n)
const LONG_MAX_BIG = 2n ** 63n - 1n
// Java's Integer/Long.parseXxx grammar: optional sign, decimal digits, nothing else.
const INTEGER = /^[+-]?[0-9]+$/
// Double.parseDouble minus hex floats, NaN and Infinity, none of which make sense in a broker config.
const DOUBLE = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[dDfF]?$/

const convert = (key: ConfigKey, value: string): ParsedValue => {
  const trimmed = value.trim()
  switch (key.type) {
    case "BOOLEAN": {
      const lower = trimmed.toLowerCase()
      if (lower === "true") return true
      if (lower === "false") return false
      return invalidValue(key.name, value, "Expected value to be either true or false")
    }
    case "INT":
    case "SHORT": {
      const [min, max] = INT_RANGE[key.type]
      const n = INTEGER.test(trimmed) ? Number(trimmed) : NaN
      if (!Number.isInteger(n) || n < min || n > max) return invalidValue(key.name, value, `Not a number of type ${key.type}`)
      return n
    }
    case "LONG": {
      const n = INTEGER.test(trimmed) ? BigInt(trimmed) : undefined
      if (n === undefined || n < LONG_MIN_BIG || n > LONG_MAX_BIG) return invalidValue(key.name, value, "Not a number of type LONG")
      return n
    }
    case "DOUBLE": {
      const n = DOUBLE.test(trimmed) ? Number(trimmed.replace(/[dDfF]$/, "")) : NaN
      if (Number.isNaN(n)) return invalidValue(key.name, value, "Not a number of type DOUBLE")
      return n
    }
    case "LIST":
      return splitList(trimmed)
    case "STRING":
    case "CLASS":
    case "PASSWORD":
      return trimmed
  }
}

const validate = (key: ConfigKey, value: string, parsed: ParsedValue): void => {
  const v = key.validator
  if (v === undefined) return
  switch (v._tag) {
    case "AtLeast":
      if ((typeof parsed === "number" || typeof parsed === "bigint") && parsed < v.min) {
        invalidValue(key.name, value, `Value must be at least ${v.min}`)
      }
      return
    case "Between":
      if ((typeof parsed === "number" || typeof parsed === "bigint") && (parsed < v.min || parsed > v.max)) {
        invalidValue(key.name, value, `Value must be no less than ${v.min} and no more than ${v.max}`)
      }
      return
    case "ValidString":
      if (typeof parsed === "string" && !v.values.includes(parsed)) {
        invalidValue(key.name, value, `String must be one of: ${v.values.join(", ")}`)
      }
      return
    case "ValidList":
      if (typeof parsed === "object") {
        for (const item of parsed) {
          if (!v.values.includes(item)) invalidValue(key.name, value, `${item} is not one of: ${v.values.join(", ")}`)
        }
      }
      return
  }
}

/** Converts and validates a raw value as Kafka's ConfigDef.parse would. Throws ConfigError. */
export const parseConfigValue = (key: ConfigKey, value: string): ParsedValue => {
  const parsed = convert(key, value)
  validate(key, value, parsed)
  return parsed
}

/**
 * Kafka's string rendering of a parsed value (ConfigDef.convertToString), used for `raw` so that
 * DescribeConfigs shows "true" for " TRUE " and "a,b" for "a , b".
 */
export const renderConfigValue = (key: ConfigKey, value: ParsedValue): string => {
  if (typeof value === "object") return value.join(",")
  // Java prints doubles with a fractional part ("1.0"), and DescribeConfigs shows Java's rendering.
  if (key.type === "DOUBLE" && typeof value === "number" && Number.isInteger(value)) return value.toFixed(1)
  return String(value)
}
