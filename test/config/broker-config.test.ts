import { describe, expect, it } from "vitest"
import {
  BROKER_KEY_FOR_TOPIC_CONFIG,
  CONFIG_KEYS,
  CONFIG_KEYS_BY_NAME,
  CONFIG_SOURCE_ID,
  LONG_NEVER,
  parseBrokerConfig,
  topicConfigDefaults
} from "../../src/config/broker-config.ts"
import { servedListeners } from "../../src/config/listeners.ts"
import { configErrorOf } from "./helpers.ts"

const config = (values: Record<string, string> = {}) => parseBrokerConfig([Object.entries(values)])
const errorFor = (values: Record<string, string>) => configErrorOf(() => config(values))

describe("defaults", () => {
  it("starts with no configuration, using Kafka's defaults and ours", () => {
    const c = config()
    expect(c.nodeId).toBe(1)
    expect(c.processRoles).toEqual(["broker", "controller"])
    expect(c.listeners).toEqual([{ name: "PLAINTEXT", host: "127.0.0.1", port: 9092 }])
    expect(c.advertisedListeners).toEqual(c.listeners)
    expect(c.controllerListenerNames).toEqual([])
    expect(c.logDirs).toEqual(["./data"])
    expect(c.numPartitions).toBe(1)
    expect(c.defaultReplicationFactor).toBe(1)
    expect(c.autoCreateTopicsEnable).toBe(true)
    expect(c.messageMaxBytes).toBe(1048588)
    expect(c.logSegmentBytes).toBe(1073741824)
    expect(c.logRollMs).toBe(168 * 3_600_000)
    expect(c.logRetentionMs).toBe(168 * 3_600_000)
    expect(c.logRetentionBytes).toBe(-1)
    expect(c.logRetentionCheckIntervalMs).toBe(300_000)
    expect(c.logFlushIntervalMessages).toBe(LONG_NEVER)
    expect(c.logFlushIntervalMs).toBe(LONG_NEVER)
    expect(c.socketRequestMaxBytes).toBe(104857600)
    expect(c.messageTimestampType).toBe("CreateTime")
    expect(c.maxIncrementalFetchSessionCacheSlots).toBe(1000)
    expect(c.offsetsTopicNumPartitions).toBe(50)
    expect(c.groupInitialRebalanceDelayMs).toBe(3000)
    expect(c.logCleanupPolicy).toEqual(["delete"])
    expect(c.compressionType).toBe("producer")
    expect(c.unknownKeys).toEqual([])
  })

  it("clamps Long.MAX in typed fields but keeps the exact string in raw", () => {
    const c = config()
    expect(LONG_NEVER).toBe(Number.MAX_SAFE_INTEGER)
    expect(c.raw.get("log.flush.interval.messages")).toBe("9223372036854775807")
    expect(c.raw.get("log.flush.scheduler.interval.ms")).toBe("9223372036854775807")
  })

  it("has the default security protocol map including CONTROLLER", () => {
    expect([...config().listenerSecurityProtocolMap]).toEqual([
      ["CONTROLLER", "PLAINTEXT"],
      ["PLAINTEXT", "PLAINTEXT"],
      ["SSL", "SSL"],
      ["SASL_PLAINTEXT", "SASL_PLAINTEXT"],
      ["SASL_SSL", "SASL_SSL"]
    ])
  })
})

describe("raw values and sources", () => {
  it("reports DEFAULT_CONFIG for untouched keys and STATIC_BROKER_CONFIG for given ones", () => {
    const c = config({ "num.partitions": "4" })
    expect(c.sources.get("num.partitions")).toBe("STATIC_BROKER_CONFIG")
    expect(c.sources.get("message.max.bytes")).toBe("DEFAULT_CONFIG")
    expect(c.sources.get("log.retention.ms")).toBe("DEFAULT_CONFIG")
    expect(c.raw.get("num.partitions")).toBe("4")
    expect(c.raw.has("log.retention.ms")).toBe(false)
    expect(CONFIG_SOURCE_ID.STATIC_BROKER_CONFIG).toBe(4)
    expect(CONFIG_SOURCE_ID.DEFAULT_CONFIG).toBe(5)
  })

  it("stores Kafka's rendering of parsed values", () => {
    const c = config({ "auto.create.topics.enable": " TRUE ", "log.cleanup.policy": " compact , delete ", "num.partitions": "+3", "log.cleaner.min.cleanable.ratio": "1" })
    expect(c.raw.get("auto.create.topics.enable")).toBe("true")
    expect(c.raw.get("log.cleanup.policy")).toBe("compact,delete")
    expect(c.raw.get("num.partitions")).toBe("3")
    expect(c.raw.get("log.cleaner.min.cleanable.ratio")).toBe("1.0")
    expect(c.logCleanupPolicy).toEqual(["compact", "delete"])
  })

  it("applies layers in order, later ones winning", () => {
    const c = parseBrokerConfig([
      [["num.partitions", "2"], ["message.max.bytes", "100"]],
      [["num.partitions", "3"]],
      [["num.partitions", "4"]]
    ])
    expect(c.numPartitions).toBe(4)
    expect(c.messageMaxBytes).toBe(100)
  })

  it("tolerates and collects unknown keys", () => {
    const c = config({ "cluster.id": "abc", "some.plugin.setting": "x", "num.partitions": "2" })
    expect(c.unknownKeys).toEqual(["cluster.id", "some.plugin.setting"])
    expect(c.raw.has("cluster.id")).toBe(false)
    expect(c.numPartitions).toBe(2)
  })
})

describe("typed values", () => {
  it("parses booleans as Kafka does: true/false, case-insensitive, trimmed", () => {
    expect(config({ "auto.create.topics.enable": "  FALSE " }).autoCreateTopicsEnable).toBe(false)
    expect(config({ "auto.create.topics.enable": "True" }).autoCreateTopicsEnable).toBe(true)
  })

  it("accepts the inclusive validator bounds", () => {
    const c = config({ "log.segment.bytes": "14", "message.max.bytes": "0", "socket.request.max.bytes": "1", "node.id": "0" })
    expect([c.logSegmentBytes, c.messageMaxBytes, c.socketRequestMaxBytes, c.nodeId]).toEqual([14, 0, 1, 0])
  })

  it.each([
    ["num.partitions", "abc", "Not a number of type INT"],
    ["num.partitions", "0", "Value must be at least 1"],
    ["num.partitions", "1.5", "Not a number of type INT"],
    ["num.partitions", "2147483648", "Not a number of type INT"],
    ["node.id", "-1", "Value must be at least 0"],
    ["auto.create.topics.enable", "maybe", "Expected value to be either true or false"],
    ["auto.create.topics.enable", "yes", "Expected value to be either true or false"],
    ["log.message.timestamp.type", "Foo", "String must be one of: CreateTime, LogAppendTime"],
    ["message.timestamp.type", "Foo", "String must be one of: CreateTime, LogAppendTime"],
    ["message.timestamp.type", "createtime", "String must be one of"],
    ["log.segment.bytes", "13", "Value must be at least 14"],
    ["message.max.bytes", "-1", "Value must be at least 0"],
    ["socket.request.max.bytes", "0", "Value must be at least 1"],
    ["log.retention.bytes", "9223372036854775808", "Not a number of type LONG"],
    ["log.flush.interval.messages", "0", "Value must be at least 1"],
    ["log.cleanup.policy", "delete,shred", "shred is not one of: compact, delete"],
    ["log.cleaner.min.cleanable.ratio", "1.5", "no less than 0 and no more than 1"],
    ["compression.type", "brotli", "String must be one of"],
    ["process.roles", "broker,witness", "witness is not one of"],
    ["listeners", "PLAINTEXT//:9092", "expected NAME://host:port"]
  ])("rejects %s=%s naming key and value", (key, value, reason) => {
    const error = errorFor({ [key]: value })
    expect(error._tag).toBe("ConfigError")
    expect(error.key).toBe(key)
    expect(error.value).toBe(value)
    expect(error.message).toContain(reason)
    expect(error.message).toContain(key)
  })

  it("keeps large longs exact in raw and clamps the typed field", () => {
    const c = config({ "log.retention.bytes": "9223372036854775807", "log.retention.check.interval.ms": "1000" })
    expect(c.raw.get("log.retention.bytes")).toBe("9223372036854775807")
    expect(c.logRetentionBytes).toBe(Number.MAX_SAFE_INTEGER)
    expect(c.logRetentionCheckIntervalMs).toBe(1000)
  })
})

describe("retention, roll and flush precedence", () => {
  it("uses hours, then minutes over hours, then ms over both", () => {
    expect(config({ "log.retention.hours": "2" }).logRetentionMs).toBe(7_200_000)
    expect(config({ "log.retention.hours": "2", "log.retention.minutes": "5" }).logRetentionMs).toBe(300_000)
    expect(config({ "log.retention.hours": "2", "log.retention.minutes": "5", "log.retention.ms": "1234" }).logRetentionMs).toBe(1234)
  })

  it("treats -1 (and any negative) as unlimited", () => {
    expect(config({ "log.retention.ms": "-1" }).logRetentionMs).toBe(-1)
    expect(config({ "log.retention.minutes": "-1" }).logRetentionMs).toBe(-1)
    expect(config({ "log.retention.hours": "-5" }).logRetentionMs).toBe(-1)
    expect(config({ "log.retention.ms": "-100", "log.retention.hours": "1" }).logRetentionMs).toBe(-1)
  })

  it("rejects a zero retention, naming the key that supplied it", () => {
    const fromMs = errorFor({ "log.retention.ms": "0" })
    expect(fromMs.key).toBe("log.retention.ms")
    expect(fromMs.message).toContain("must be unlimited (-1)")
    expect(errorFor({ "log.retention.hours": "0" }).key).toBe("log.retention.hours")
    expect(errorFor({ "log.retention.minutes": "0", "log.retention.hours": "3" }).key).toBe("log.retention.minutes")
  })

  it("uses log.roll.ms over log.roll.hours and rejects a roll below 1 ms", () => {
    expect(config({ "log.roll.hours": "1" }).logRollMs).toBe(3_600_000)
    expect(config({ "log.roll.hours": "1", "log.roll.ms": "500" }).logRollMs).toBe(500)
    expect(errorFor({ "log.roll.ms": "0" }).key).toBe("log.roll.ms")
    expect(errorFor({ "log.roll.hours": "0" }).key).toBe("log.roll.hours")
  })

  it("falls back from log.flush.interval.ms to log.flush.scheduler.interval.ms", () => {
    expect(config({ "log.flush.scheduler.interval.ms": "1000" }).logFlushIntervalMs).toBe(1000)
    expect(config({ "log.flush.scheduler.interval.ms": "1000", "log.flush.interval.ms": "50" }).logFlushIntervalMs).toBe(50)
  })
})

describe("log directories", () => {
  it("uses log.dir when log.dirs is unset, and log.dirs when both are set", () => {
    expect(config({ "log.dir": "/one" }).logDirs).toEqual(["/one"])
    expect(config({ "log.dir": "/one", "log.dirs": "/a, /b" }).logDirs).toEqual(["/a", "/b"])
  })

  it("rejects empty and duplicate directories", () => {
    expect(errorFor({ "log.dirs": " " }).message).toContain("At least one log directory")
    expect(errorFor({ "log.dirs": "/a,/a" }).message).toContain("Duplicate log directory /a")
    expect(errorFor({ "log.dir": "/a,,/b" }).key).toBe("log.dir")
  })
})

describe("roles and listeners", () => {
  it("accepts and leaves controller listeners unserved", () => {
    const c = config({ listeners: "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER" })
    expect(c.listeners.map((l) => l.name)).toEqual(["PLAINTEXT", "CONTROLLER"])
    expect(servedListeners(c)).toEqual([{ name: "PLAINTEXT", host: "", port: 9092 }])
    expect(c.advertisedListeners).toEqual([{ name: "PLAINTEXT", host: "", port: 9092 }])
  })

  it("requires at least one served listener", () => {
    const error = errorFor({ listeners: "CONTROLLER://:9093", "controller.listener.names": "CONTROLLER" })
    expect(error.key).toBe("listeners")
    expect(error.message).toContain("No listener left to serve clients")
  })

  it("maps unmapped controller listeners to PLAINTEXT only while the protocol map is the default", () => {
    const c = config({ listeners: "PLAINTEXT://:9092,CTRL://:9093", "controller.listener.names": "CTRL" })
    expect(c.listenerSecurityProtocolMap.get("CTRL")).toBe("PLAINTEXT")
    const error = errorFor({ listeners: "PLAINTEXT://:9092,CTRL://:9093", "controller.listener.names": "CTRL", "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT" })
    expect(error.key).toBe("listeners")
    expect(error.message).toContain("No security protocol defined for listener CTRL")
  })

  it("rejects a listener name without a security protocol", () => {
    expect(errorFor({ listeners: "FOO://:9092" }).message).toContain("No security protocol defined for listener FOO")
  })

  it("advertises per listener name, falling back to the listener itself", () => {
    const c = config({
      listeners: "PLAINTEXT://:9092,INTERNAL://127.0.0.1:9094",
      "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
      "advertised.listeners": "PLAINTEXT://broker.example.com:19092"
    })
    expect(c.advertisedListeners).toEqual([
      { name: "PLAINTEXT", host: "broker.example.com", port: 19092 },
      { name: "INTERNAL", host: "127.0.0.1", port: 9094 }
    ])
  })

  it("keeps an empty advertised host for the server to resolve", () => {
    expect(config({ "advertised.listeners": "PLAINTEXT://:9092" }).advertisedListeners).toEqual([{ name: "PLAINTEXT", host: "", port: 9092 }])
  })

  it("rejects advertised listeners missing from listeners, or on a meta-address", () => {
    const unknown = errorFor({ "advertised.listeners": "SSL://host:9093" })
    expect(unknown.key).toBe("advertised.listeners")
    expect(unknown.value).toBe("SSL://host:9093")
    expect(unknown.message).toContain("SSL is not in listeners")
    expect(errorFor({ "advertised.listeners": "PLAINTEXT://0.0.0.0:9092" }).message).toContain("nonroutable meta-address")
  })

  it("requires the broker role and unique roles", () => {
    expect(config({ "process.roles": "broker" }).processRoles).toEqual(["broker"])
    expect(errorFor({ "process.roles": "controller" }).message).toContain("must include broker")
    expect(errorFor({ "process.roles": "broker,broker" }).message).toContain("Duplicate role names")
  })
})

describe("message timestamp type", () => {
  it("accepts message.timestamp.type as an alias, with log.message.timestamp.type winning", () => {
    expect(config({ "message.timestamp.type": "LogAppendTime" }).messageTimestampType).toBe("LogAppendTime")
    expect(config({ "log.message.timestamp.type": "LogAppendTime" }).messageTimestampType).toBe("LogAppendTime")
    expect(config({ "message.timestamp.type": "LogAppendTime", "log.message.timestamp.type": "CreateTime" }).messageTimestampType).toBe("CreateTime")
  })
})

describe("key table and topic defaults", () => {
  it("describes keys with Kafka types and topic-level names", () => {
    const key = (name: string) => CONFIG_KEYS_BY_NAME.get(name)
    expect(key("log.retention.ms")).toMatchObject({ type: "LONG", default: null, topicConfig: "retention.ms" })
    expect(key("log.segment.bytes")).toMatchObject({ type: "INT", default: "1073741824", topicConfig: "segment.bytes" })
    expect(key("auto.create.topics.enable")).toMatchObject({ type: "BOOLEAN", default: "true" })
    expect(key("auto.create.topics.enable")?.topicConfig).toBeUndefined()
    expect(key("process.roles")?.type).toBe("LIST")
    expect(BROKER_KEY_FOR_TOPIC_CONFIG.get("max.message.bytes")).toBe("message.max.bytes")
    expect(BROKER_KEY_FOR_TOPIC_CONFIG.get("segment.ms")).toBe("log.roll.ms")
    expect(BROKER_KEY_FOR_TOPIC_CONFIG.get("flush.messages")).toBe("log.flush.interval.messages")
    expect(BROKER_KEY_FOR_TOPIC_CONFIG.get("message.timestamp.type")).toBe("log.message.timestamp.type")
    expect(new Set(CONFIG_KEYS.map((k) => k.name)).size).toBe(CONFIG_KEYS.length)
  })

  it("does not invent cluster.id", () => {
    expect(CONFIG_KEYS_BY_NAME.has("cluster.id")).toBe(false)
  })

  it("computes topic defaults from the effective broker values", () => {
    const defaults = topicConfigDefaults(
      config({
        "log.retention.hours": "24",
        "log.roll.ms": "60000",
        "message.max.bytes": "2000000",
        "message.timestamp.type": "LogAppendTime",
        "log.cleanup.policy": "compact",
        "min.insync.replicas": "2"
      })
    )
    expect(defaults.get("retention.ms")).toBe("86400000")
    expect(defaults.get("segment.ms")).toBe("60000")
    expect(defaults.get("max.message.bytes")).toBe("2000000")
    expect(defaults.get("message.timestamp.type")).toBe("LogAppendTime")
    expect(defaults.get("cleanup.policy")).toBe("compact")
    expect(defaults.get("min.insync.replicas")).toBe("2")
    expect(defaults.get("flush.ms")).toBe("9223372036854775807")
    expect(defaults.get("segment.bytes")).toBe("1073741824")
    expect(defaults.get("retention.bytes")).toBe("-1")
    expect(defaults.has("num.partitions")).toBe(false)
  })

  it("reports unlimited retention as -1 in topic defaults", () => {
    expect(topicConfigDefaults(config({ "log.retention.ms": "-7" })).get("retention.ms")).toBe("-1")
  })
})
