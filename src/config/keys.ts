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
const ACTED_ON_KEYS: ReadonlyArray<ConfigKey> = [
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
  { name: "max.connections", type: "INT", default: "2147483647", validator: atLeast(0), doc: "Most connections the broker keeps open; more wait (unread, in arrival order) until one closes, as Kafka's acceptor waits." },
  { name: "socket.listen.backlog.size", type: "INT", default: "50", validator: atLeast(1), doc: "How many new connections may wait for a slot at max.connections; more are closed (the kernel would drop them)." },
  { name: "max.connections.per.ip", type: "INT", default: "2147483647", validator: atLeast(0), doc: "Most connections from one IP address." },
  { name: "max.connections.per.ip.overrides", type: "STRING", default: "", doc: "Per-IP or per-host exceptions to max.connections.per.ip: host:count,host:count." },
  { name: "queued.max.requests", type: "INT", default: "500", validator: atLeast(1), doc: "Requests read from one connection and not yet answered before the broker stops reading from it." },
  { name: "quota.window.num", type: "INT", default: "11", validator: atLeast(1), doc: "Samples kept per client quota; the rate is computed over all of them." },
  { name: "quota.window.size.seconds", type: "INT", default: "1", validator: atLeast(1), doc: "Length of one client quota sample, in seconds." },

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
  {
    name: "log.index.memory.max.bytes",
    type: "LONG",
    default: "33554432",
    validator: atLeast(0),
    doc: "OURS: memory the offset and time index entries of sealed segments may hold; beyond it the least recently used leave memory and are read from their files on next use (Kafka memory-maps index files and leaves this to the page cache). Active segments' entries are not counted."
  },
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
  { name: "group.consumer.assignors", type: "LIST", default: "org.apache.kafka.coordinator.group.assignor.UniformAssignor,org.apache.kafka.coordinator.group.assignor.RangeAssignor", doc: "Server-side assignors of KIP-848 consumer groups (names or Kafka class names); the first is the default." }
]

/**
 * Kafka's other broker configs (Kafka 4.0's AbstractKafkaConfig.CONFIG_DEF, ZooKeeper's gone):
 * name, type, Kafka's default and what it is for. This broker accepts them in its config and
 * reports them in DescribeConfigs, but nothing here acts on them (no TLS, SASL, replication,
 * tiered storage, share groups or quorum of controllers). Read-only at runtime.
 */
const REPORTED_ONLY_KEYS: ReadonlyArray<readonly [name: string, type: ConfigType, defaultValue: string | null, doc: string]> = [
  ["remote.log.storage.system.enable", "BOOLEAN", "false", "Turns tiered storage on for the broker (not supported here)."],
  ["remote.log.storage.manager.impl.prefix", "STRING", "rsm.config.", "Prefix of the properties passed to the remote storage manager."],
  ["remote.log.metadata.manager.impl.prefix", "STRING", "rlmm.config.", "Prefix of the properties passed to the remote log metadata manager."],
  ["remote.log.storage.manager.class.name", "STRING", null, "Class implementing RemoteStorageManager for tiered storage."],
  ["remote.log.storage.manager.class.path", "STRING", null, "Class path the remote storage manager is loaded from."],
  ["remote.log.metadata.manager.class.name", "STRING", "org.apache.kafka.server.log.remote.metadata.storage.TopicBasedRemoteLogMetadataManager", "Class implementing RemoteLogMetadataManager for tiered storage."],
  ["remote.log.metadata.manager.class.path", "STRING", null, "Class path the remote log metadata manager is loaded from."],
  ["remote.log.metadata.manager.listener.name", "STRING", null, "Listener the remote log metadata manager's clients connect to."],
  ["remote.log.metadata.custom.metadata.max.bytes", "INT", "128", "Largest custom metadata a remote storage manager may attach to a segment."],
  ["remote.log.index.file.cache.total.size.bytes", "LONG", "1073741824", "Disk space for cached indexes of remote segments."],
  ["remote.log.manager.thread.pool.size", "INT", "10", "Threads of the remote log manager's task pool."],
  ["remote.log.manager.copier.thread.pool.size", "INT", "-1", "Threads copying segments to remote storage (-1: the general pool size)."],
  ["remote.log.manager.expiration.thread.pool.size", "INT", "-1", "Threads expiring remote segments (-1: the general pool size)."],
  ["remote.log.manager.task.interval.ms", "LONG", "30000", "Interval between the remote log manager's copy and expiry passes."],
  ["remote.log.reader.threads", "INT", "10", "Threads serving fetches from remote storage."],
  ["remote.log.reader.max.pending.tasks", "INT", "100", "Remote fetches that may wait for a reader thread."],
  ["remote.log.manager.copy.max.bytes.per.second", "LONG", "9223372036854775807", "Bandwidth cap for copying segments to remote storage."],
  ["remote.log.manager.copy.quota.window.num", "INT", "11", "Samples kept for the remote copy quota."],
  ["remote.log.manager.copy.quota.window.size.seconds", "INT", "1", "Length of one remote copy quota sample."],
  ["remote.log.manager.fetch.max.bytes.per.second", "LONG", "9223372036854775807", "Bandwidth cap for reads from remote storage."],
  ["remote.log.manager.fetch.quota.window.num", "INT", "11", "Samples kept for the remote fetch quota."],
  ["remote.log.manager.fetch.quota.window.size.seconds", "INT", "1", "Length of one remote fetch quota sample."],
  ["remote.fetch.max.wait.ms", "INT", "500", "Longest a fetch waits for data coming from remote storage."],
  ["remote.list.offsets.request.timeout.ms", "LONG", "30000", "Timeout of ListOffsets lookups that need remote storage."],
  ["broker.id.generation.enable", "BOOLEAN", "true", "ZooKeeper-era automatic broker ids; unused in KRaft."],
  ["reserved.broker.max.id", "INT", "1000", "Highest broker id that may be configured by hand (ZooKeeper era)."],
  ["broker.id", "INT", "-1", "Broker id; in KRaft the same as node.id."],
  ["num.io.threads", "INT", "8", "Request handler threads (one event loop here)."],
  ["num.replica.alter.log.dirs.threads", "INT", null, "Threads moving replicas between log directories."],
  ["background.threads", "INT", "10", "Threads for background work such as segment deletion."],
  ["request.timeout.ms", "INT", "30000", "How long the broker's own client requests wait for an answer."],
  ["socket.connection.setup.timeout.ms", "LONG", "10000", "First timeout for the broker's outgoing connection attempts."],
  ["socket.connection.setup.timeout.max.ms", "LONG", "30000", "Largest timeout for the broker's outgoing connection attempts after backoff."],
  ["authorizer.class.name", "STRING", "", "Authorizer class; empty means no authorization."],
  ["early.start.listeners", "STRING", null, "Listeners started before the broker has caught up with metadata."],
  ["broker.rack", "STRING", null, "Rack of the broker, used for rack-aware replica placement."],
  ["controlled.shutdown.max.retries", "INT", "3", "Attempts at a controlled shutdown before an unclean one (ZooKeeper era)."],
  ["controlled.shutdown.retry.backoff.ms", "LONG", "5000", "Pause between controlled shutdown attempts (ZooKeeper era)."],
  ["controlled.shutdown.enable", "BOOLEAN", "true", "Whether the broker hands over leadership before shutting down."],
  ["max.request.partition.size.limit", "INT", "2000", "Most partitions one request may name in some admin APIs."],
  ["initial.broker.registration.timeout.ms", "INT", "60000", "How long a new broker waits to register with the controller."],
  ["broker.heartbeat.interval.ms", "INT", "2000", "Interval of the broker's heartbeats to the controller."],
  ["broker.session.timeout.ms", "INT", "9000", "Time without heartbeats after which the controller fences a broker."],
  ["sasl.mechanism.controller.protocol", "STRING", "GSSAPI", "SASL mechanism used to reach the controllers."],
  ["metadata.max.idle.interval.ms", "INT", "500", "Interval at which an idle controller appends a no-op record to the metadata log."],
  ["eligible.leader.replicas.enable", "BOOLEAN", "false", "Enables eligible leader replicas (KIP-966)."],
  ["control.plane.listener.name", "STRING", null, "Separate listener for controller traffic (ZooKeeper era)."],
  ["socket.send.buffer.bytes", "INT", "102400", "SO_SNDBUF of client sockets; -1 keeps the OS default."],
  ["socket.receive.buffer.bytes", "INT", "102400", "SO_RCVBUF of client sockets; -1 keeps the OS default."],
  ["max.connection.creation.rate", "INT", "2147483647", "New connections accepted per second, per listener."],
  ["connection.failed.authentication.delay.ms", "INT", "100", "Delay before closing a connection that failed authentication."],
  ["queued.max.request.bytes", "LONG", "-1", "Bytes of queued requests before reading stops; -1 means no limit."],
  ["num.network.threads", "INT", "3", "Network threads per listener (one event loop here)."],
  ["controller.socket.timeout.ms", "INT", "30000", "Socket timeout of connections to the controller."],
  ["replica.lag.time.max.ms", "LONG", "30000", "How long a follower may lag before it leaves the ISR."],
  ["replica.socket.timeout.ms", "INT", "30000", "Socket timeout of follower fetch connections."],
  ["replica.socket.receive.buffer.bytes", "INT", "65536", "SO_RCVBUF of follower fetch connections."],
  ["replica.fetch.max.bytes", "INT", "1048576", "Bytes a follower asks for per partition."],
  ["replica.fetch.wait.max.ms", "INT", "500", "Longest a follower fetch waits on the leader."],
  ["replica.fetch.backoff.ms", "INT", "1000", "Pause after a failed follower fetch."],
  ["replica.fetch.min.bytes", "INT", "1", "Bytes a follower fetch waits for."],
  ["replica.fetch.response.max.bytes", "INT", "10485760", "Bytes a follower asks for per fetch response."],
  ["num.replica.fetchers", "INT", "1", "Follower fetcher threads per source broker."],
  ["replica.high.watermark.checkpoint.interval.ms", "LONG", "5000", "Interval at which high watermarks are written to disk."],
  ["fetch.purgatory.purge.interval.requests", "INT", "1000", "Fetch purgatory entries between purges of completed requests."],
  ["producer.purgatory.purge.interval.requests", "INT", "1000", "Produce purgatory entries between purges of completed requests."],
  ["delete.records.purgatory.purge.interval.requests", "INT", "1", "DeleteRecords purgatory entries between purges."],
  ["auto.leader.rebalance.enable", "BOOLEAN", "true", "Whether leadership is moved back to preferred replicas."],
  ["leader.imbalance.per.broker.percentage", "INT", "10", "Share of non-preferred leaders tolerated per broker before a rebalance."],
  ["leader.imbalance.check.interval.seconds", "LONG", "300", "Interval of the leader imbalance check."],
  ["security.inter.broker.protocol", "STRING", "PLAINTEXT", "Security protocol between brokers."],
  ["inter.broker.protocol.version", "STRING", "3.9-IV0", "Inter-broker protocol version; this broker reports the version of its metadata.version (3.9-IV0)."],
  ["inter.broker.listener.name", "STRING", null, "Listener brokers use to talk to each other."],
  ["replica.selector.class", "STRING", null, "Class choosing the replica a consumer should fetch from (KIP-392)."],
  ["group.coordinator.rebalance.protocols", "LIST", "classic,consumer", "Group protocols the coordinator serves (classic, consumer, share)."],
  ["group.coordinator.threads", "INT", "1", "Threads of the group coordinator."],
  ["group.coordinator.append.linger.ms", "INT", "10", "Time the group coordinator waits to batch its writes."],
  ["offset.metadata.max.bytes", "INT", "4096", "Largest metadata string allowed with a committed offset."],
  ["offsets.load.buffer.size", "INT", "5242880", "Read size when loading __consumer_offsets at start-up."],
  ["offsets.topic.replication.factor", "SHORT", "3", "Replication factor of __consumer_offsets (capped at the live brokers)."],
  ["offsets.topic.compression.codec", "INT", "0", "Codec id for __consumer_offsets writes (0: none)."],
  ["offsets.commit.timeout.ms", "INT", "5000", "Longest an offset commit waits to be written."],
  ["group.consumer.min.session.timeout.ms", "INT", "45000", "Smallest session timeout of consumer group members (KIP-848)."],
  ["group.consumer.max.session.timeout.ms", "INT", "60000", "Largest session timeout of consumer group members (KIP-848)."],
  ["group.consumer.min.heartbeat.interval.ms", "INT", "5000", "Smallest heartbeat interval of consumer group members (KIP-848)."],
  ["group.consumer.max.heartbeat.interval.ms", "INT", "15000", "Largest heartbeat interval of consumer group members (KIP-848)."],
  ["group.share.session.timeout.ms", "INT", "45000", "Session timeout of share group members."],
  ["group.share.min.session.timeout.ms", "INT", "45000", "Smallest session timeout of share group members."],
  ["group.share.max.session.timeout.ms", "INT", "60000", "Largest session timeout of share group members."],
  ["group.share.heartbeat.interval.ms", "INT", "5000", "Heartbeat interval of share group members."],
  ["group.share.min.heartbeat.interval.ms", "INT", "5000", "Smallest heartbeat interval of share group members."],
  ["group.share.max.heartbeat.interval.ms", "INT", "15000", "Largest heartbeat interval of share group members."],
  ["group.share.max.size", "INT", "200", "Most members a share group may have."],
  ["group.share.delivery.count.limit", "INT", "5", "Deliveries of a record to a share group before it is archived."],
  ["group.share.record.lock.duration.ms", "INT", "30000", "How long a share consumer holds a delivered record."],
  ["group.share.min.record.lock.duration.ms", "INT", "15000", "Smallest record lock duration of share groups."],
  ["group.share.max.record.lock.duration.ms", "INT", "60000", "Largest record lock duration of share groups."],
  ["group.share.max.groups", "SHORT", "10", "Most share groups the broker serves."],
  ["group.share.partition.max.record.locks", "INT", "200", "Most in-flight records per share partition."],
  ["share.fetch.purgatory.purge.interval.requests", "INT", "1000", "Share fetch purgatory entries between purges."],
  ["share.coordinator.state.topic.num.partitions", "INT", "50", "Partitions of __share_group_state."],
  ["share.coordinator.state.topic.replication.factor", "SHORT", "3", "Replication factor of __share_group_state."],
  ["share.coordinator.state.topic.min.isr", "SHORT", "2", "min.insync.replicas of __share_group_state."],
  ["share.coordinator.state.topic.segment.bytes", "INT", "104857600", "Segment size of __share_group_state."],
  ["share.coordinator.threads", "INT", "1", "Threads of the share coordinator."],
  ["share.coordinator.snapshot.update.records.per.snapshot", "INT", "500", "Share state updates between snapshots."],
  ["share.coordinator.load.buffer.size", "INT", "5242880", "Read size when loading __share_group_state."],
  ["share.coordinator.state.topic.compression.codec", "INT", "0", "Codec id for __share_group_state writes (0: none)."],
  ["share.coordinator.append.linger.ms", "INT", "10", "Time the share coordinator waits to batch its writes."],
  ["share.coordinator.write.timeout.ms", "INT", "5000", "Longest a share state write waits to be replicated."],
  ["transaction.state.log.load.buffer.size", "INT", "5242880", "Read size when loading __transaction_state at start-up."],
  ["controller.quorum.voters", "LIST", "", "Static controller quorum as id@host:port entries."],
  ["controller.quorum.bootstrap.servers", "LIST", "", "Controller endpoints used to discover a dynamic quorum."],
  ["controller.quorum.election.timeout.ms", "INT", "1000", "Time without a leader before a controller starts an election."],
  ["controller.quorum.fetch.timeout.ms", "INT", "2000", "Time without fetches from the leader before a voter suspects it."],
  ["controller.quorum.election.backoff.max.ms", "INT", "1000", "Largest pause before a new election."],
  ["controller.quorum.append.linger.ms", "INT", "25", "Time the quorum leader waits to batch metadata writes."],
  ["controller.quorum.request.timeout.ms", "INT", "2000", "Timeout of requests between controllers."],
  ["controller.quorum.retry.backoff.ms", "INT", "20", "Pause before retrying a failed quorum request."],
  ["metrics.num.samples", "INT", "2", "Samples kept per metric window."],
  ["metrics.sample.window.ms", "LONG", "30000", "Length of one metrics sample."],
  ["metric.reporters", "LIST", "org.apache.kafka.common.metrics.JmxReporter", "Classes that receive metrics (Prometheus /metrics here)."],
  ["metrics.recording.level", "STRING", "INFO", "Detail level of recorded metrics."],
  ["kafka.metrics.reporters", "LIST", "", "Yammer metrics reporter classes."],
  ["kafka.metrics.polling.interval.secs", "INT", "10", "Polling interval of the Yammer metrics reporters."],
  ["telemetry.max.bytes", "INT", "1048576", "Largest client telemetry push accepted."],
  ["replication.quota.window.num", "INT", "11", "Samples kept for replication quotas."],
  ["alter.log.dirs.replication.quota.window.num", "INT", "11", "Samples kept for the log directory move quota."],
  ["controller.quota.window.num", "INT", "11", "Samples kept for controller mutation quotas."],
  ["replication.quota.window.size.seconds", "INT", "1", "Length of one replication quota sample."],
  ["alter.log.dirs.replication.quota.window.size.seconds", "INT", "1", "Length of one log directory move quota sample."],
  ["controller.quota.window.size.seconds", "INT", "1", "Length of one controller mutation quota sample."],
  ["client.quota.callback.class", "CLASS", null, "Class that computes client quotas instead of the stored ones."],
  ["leader.replication.throttled.rate", "LONG", "9223372036854775807", "Bandwidth cap for throttled replication on the leader."],
  ["follower.replication.throttled.rate", "LONG", "9223372036854775807", "Bandwidth cap for throttled replication on the follower."],
  ["replica.alter.log.dirs.io.max.bytes.per.second", "LONG", "9223372036854775807", "Bandwidth cap for moving replicas between log directories."],
  ["connections.max.reauth.ms", "LONG", "0", "Longest a SASL session lasts before re-authentication; 0 disables."],
  ["sasl.server.max.receive.size", "INT", "524288", "Largest SASL message accepted before authentication."],
  ["security.providers", "STRING", null, "Classes registering extra security algorithm providers."],
  ["principal.builder.class", "CLASS", "org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder", "Class that turns an authenticated connection into a principal."],
  ["ssl.client.auth", "STRING", "NONE", "Whether TLS listeners require client certificates: required, requested or none."],
  ["ssl.principal.mapping.rules", "STRING", "DEFAULT", "Rules mapping a certificate's distinguished name to a principal."],
  ["ssl.allow.dn.changes", "BOOLEAN", "false", "Whether a reloaded keystore may change the certificate's DN."],
  ["ssl.allow.san.changes", "BOOLEAN", "false", "Whether a reloaded keystore may change the certificate's SANs."],
  ["ssl.protocol", "STRING", "TLSv1.3", "TLS protocol used to build the SSL context."],
  ["ssl.provider", "STRING", null, "Security provider for TLS."],
  ["ssl.enabled.protocols", "LIST", "TLSv1.2,TLSv1.3", "TLS versions accepted."],
  ["ssl.keystore.type", "STRING", "JKS", "Format of the key store."],
  ["ssl.keystore.location", "STRING", null, "Path of the key store."],
  ["ssl.keystore.password", "PASSWORD", null, "Password of the key store."],
  ["ssl.key.password", "PASSWORD", null, "Password of the private key."],
  ["ssl.keystore.key", "PASSWORD", null, "Private key in PEM form."],
  ["ssl.keystore.certificate.chain", "PASSWORD", null, "Certificate chain in PEM form."],
  ["ssl.truststore.type", "STRING", "JKS", "Format of the trust store."],
  ["ssl.truststore.location", "STRING", null, "Path of the trust store."],
  ["ssl.truststore.password", "PASSWORD", null, "Password of the trust store."],
  ["ssl.truststore.certificates", "PASSWORD", null, "Trusted certificates in PEM form."],
  ["ssl.keymanager.algorithm", "STRING", "SunX509", "Key manager factory algorithm."],
  ["ssl.trustmanager.algorithm", "STRING", "PKIX", "Trust manager factory algorithm."],
  ["ssl.endpoint.identification.algorithm", "STRING", "https", "Host name check of the peer's certificate; https checks it."],
  ["ssl.secure.random.implementation", "STRING", null, "SecureRandom implementation for TLS."],
  ["ssl.cipher.suites", "LIST", "", "TLS cipher suites allowed; empty means the provider's defaults."],
  ["ssl.engine.factory.class", "CLASS", null, "Class creating TLS engines."],
  ["sasl.mechanism.inter.broker.protocol", "STRING", "GSSAPI", "SASL mechanism between brokers."],
  ["sasl.enabled.mechanisms", "LIST", "GSSAPI", "SASL mechanisms the broker offers."],
  ["sasl.server.callback.handler.class", "CLASS", null, "Server-side SASL callback handler class."],
  ["sasl.kerberos.principal.to.local.rules", "LIST", "DEFAULT", "Rules mapping Kerberos principals to short names."],
  ["sasl.jaas.config", "PASSWORD", null, "JAAS login configuration."],
  ["sasl.client.callback.handler.class", "CLASS", null, "Client-side SASL callback handler class."],
  ["sasl.login.class", "CLASS", null, "Login class for SASL."],
  ["sasl.login.callback.handler.class", "CLASS", null, "SASL login callback handler class."],
  ["sasl.kerberos.service.name", "STRING", null, "Kerberos service name of the broker."],
  ["sasl.kerberos.kinit.cmd", "STRING", "/usr/bin/kinit", "Path of the kinit command."],
  ["sasl.kerberos.ticket.renew.window.factor", "DOUBLE", "0.8", "Share of a Kerberos ticket's lifetime after which it is renewed."],
  ["sasl.kerberos.ticket.renew.jitter", "DOUBLE", "0.05", "Random jitter added to the Kerberos renewal time."],
  ["sasl.kerberos.min.time.before.relogin", "LONG", "60000", "Shortest pause between Kerberos relogins."],
  ["sasl.login.refresh.window.factor", "DOUBLE", "0.8", "Share of a login token's lifetime after which it is refreshed."],
  ["sasl.login.refresh.window.jitter", "DOUBLE", "0.05", "Random jitter added to the token refresh time."],
  ["sasl.login.refresh.min.period.seconds", "SHORT", "60", "Shortest pause between token refreshes."],
  ["sasl.login.refresh.buffer.seconds", "SHORT", "300", "Time before expiry at which a token is refreshed."],
  ["sasl.login.connect.timeout.ms", "INT", null, "Connect timeout of the OAuth login provider."],
  ["sasl.login.read.timeout.ms", "INT", null, "Read timeout of the OAuth login provider."],
  ["sasl.login.retry.backoff.max.ms", "LONG", "10000", "Largest pause between OAuth login retries."],
  ["sasl.login.retry.backoff.ms", "LONG", "100", "First pause between OAuth login retries."],
  ["sasl.oauthbearer.scope.claim.name", "STRING", "scope", "JWT claim holding the token's scope."],
  ["sasl.oauthbearer.sub.claim.name", "STRING", "sub", "JWT claim holding the token's subject."],
  ["sasl.oauthbearer.token.endpoint.url", "STRING", null, "OAuth token endpoint."],
  ["sasl.oauthbearer.jwks.endpoint.url", "STRING", null, "Where the keys that sign tokens are published."],
  ["sasl.oauthbearer.jwks.endpoint.refresh.ms", "LONG", "3600000", "Interval of key set refreshes."],
  ["sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", "LONG", "100", "First pause between key set fetch retries."],
  ["sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", "LONG", "10000", "Largest pause between key set fetch retries."],
  ["sasl.oauthbearer.clock.skew.seconds", "INT", "30", "Clock difference tolerated when checking token times."],
  ["sasl.oauthbearer.expected.audience", "LIST", null, "Audiences a token must name."],
  ["sasl.oauthbearer.expected.issuer", "STRING", null, "Issuer a token must name."],
  ["delegation.token.secret.key", "PASSWORD", null, "Secret that signs delegation tokens."],
  ["delegation.token.max.lifetime.ms", "LONG", "604800000", "Longest a delegation token can be renewed for."],
  ["delegation.token.expiry.time.ms", "LONG", "86400000", "Validity of a delegation token before it must be renewed."],
  ["delegation.token.expiry.check.interval.ms", "LONG", "3600000", "Interval at which expired delegation tokens are removed."],
  ["password.encoder.secret", "PASSWORD", null, "Secret that encrypts dynamically set passwords."],
  ["password.encoder.old.secret", "PASSWORD", null, "Previous password encoder secret, for rotation."],
  ["password.encoder.keyfactory.algorithm", "STRING", null, "Key factory algorithm of the password encoder."],
  ["password.encoder.cipher.algorithm", "STRING", "AES/CBC/PKCS5Padding", "Cipher of the password encoder."],
  ["password.encoder.key.length", "INT", "128", "Key length of the password encoder."],
  ["password.encoder.iterations", "INT", "4096", "Key derivation iterations of the password encoder."],
  ["log.flush.offset.checkpoint.interval.ms", "INT", "60000", "Interval at which recovery points are written to disk."],
  ["log.flush.start.offset.checkpoint.interval.ms", "INT", "60000", "Interval at which log start offsets are written to disk."],
  ["num.recovery.threads.per.data.dir", "INT", "1", "Threads per data directory for log recovery and shutdown."],
  ["create.topic.policy.class.name", "CLASS", null, "Class that validates CreateTopics requests."],
  ["alter.config.policy.class.name", "CLASS", null, "Class that validates config changes."],
  ["log.dir.failure.timeout.ms", "LONG", "30000", "How long a broker with a failed log directory waits before shutting down."],
]

/** Every broker key: those this broker acts on, then the ones it only reports. */
export const CONFIG_KEYS: ReadonlyArray<ConfigKey> = [
  ...ACTED_ON_KEYS,
  ...REPORTED_ONLY_KEYS.map(([name, type, defaultValue, doc]): ConfigKey => ({ name, type, default: defaultValue, doc }))
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
