/**
 * Our config key table (src/config/keys.ts, src/topics/topic-configs.ts) against Apache Kafka's
 * own ConfigDefs, read from Kafka's source tree: every broker and topic config Kafka defines
 * is known here with Kafka's type and default (except the defaults this broker changes on
 * purpose, listed below), every topic config has Kafka's broker synonyms in Kafka's order, and
 * DescribeConfigs reports all of them with sensitivity, read-only flags and documentation.
 */
import { describe, expect, it } from "vitest"
import { parseBrokerConfig } from "../../src/config/broker-config.ts"
import { brokerConfigView } from "../../src/config/dynamic-broker.ts"
import { BROKER_KEY_FOR_TOPIC_CONFIG, CONFIG_KEYS_BY_NAME } from "../../src/config/keys.ts"
import { describeBroker, describeTopic, KAFKA_TOPIC_CONFIGS } from "../../src/topics/topic-configs.ts"
import { kafkaBrokerConfigDefs, kafkaSourceAvailable, kafkaTopicConfigDefs, topicConfigSynonyms } from "../support/kafka-config-defs.ts"

/** Defaults this broker changes so that it starts with no configuration at all (keys.ts says why for each). */
const OUR_DEFAULTS = new Set(["node.id", "process.roles", "controller.listener.names", "listeners", "log.dir", "listener.security.protocol.map"])
/** Keys that are ours, or internal in Kafka (defineInternal) and exposed here. */
const OUR_KEYS = new Set(["http.listener", "http.console.read.only", "request.log.slow.ms", "request.log.debug", "message.timestamp.type", "producer.id.expiration.check.interval.ms", "metadata.log.segment.min.bytes", "log.index.memory.max.bytes"])

const CONFIG_TYPE_ID: Record<string, number> = { BOOLEAN: 1, STRING: 2, INT: 3, SHORT: 4, LONG: 5, DOUBLE: 6, LIST: 7, CLASS: 8, PASSWORD: 9 }

const available = kafkaSourceAvailable()
if (!available) console.warn("skipped: Apache Kafka's source tree is missing (/work/.mirror/apache+kafka/repo)")

describe.skipIf(!available)("config keys against Kafka's ConfigDefs", () => {
  const kafkaBroker = available ? [...kafkaBrokerConfigDefs().values()].filter((d) => !d.name.startsWith("zookeeper.")) : []
  const kafkaTopic = available ? [...kafkaTopicConfigDefs().values()] : []

  it("knows every Kafka broker config, with Kafka's type and default", () => {
    expect(kafkaBroker.length).toBeGreaterThan(250)
    const missing = kafkaBroker.filter((d) => !CONFIG_KEYS_BY_NAME.has(d.name)).map((d) => d.name)
    expect(missing).toEqual([])
    const differences = kafkaBroker.flatMap((d) => {
      const ours = CONFIG_KEYS_BY_NAME.get(d.name)!
      const out: Array<string> = []
      if (ours.type !== d.type) out.push(`${d.name}: type ${ours.type}, Kafka ${d.type}`)
      if (d.default !== undefined && ours.default !== d.default && !OUR_DEFAULTS.has(d.name)) out.push(`${d.name}: default ${ours.default}, Kafka ${d.default}`)
      return out
    })
    expect(differences).toEqual([])
    // How many defaults the comparison could check (the rest are computed at Kafka's run time).
    expect(kafkaBroker.filter((d) => d.default !== undefined).length).toBeGreaterThan(kafkaBroker.length - 15)
    const kafkaNames = new Set(kafkaBroker.map((d) => d.name))
    expect([...CONFIG_KEYS_BY_NAME.keys()].filter((k) => !kafkaNames.has(k) && !OUR_KEYS.has(k))).toEqual([])
  })

  it("knows every Kafka topic config, with Kafka's default from a default broker", () => {
    expect([...KAFKA_TOPIC_CONFIGS].sort()).toEqual(kafkaTopic.map((d) => d.name).sort())
    const described = new Map(describeTopic(brokerConfigView(parseBrokerConfig([])), undefined, null).map((c) => [c.name, c]))
    const differences = kafkaTopic.flatMap((d) => {
      const ours = described.get(d.name)
      if (ours === undefined) return [`${d.name}: not described`]
      const out: Array<string> = []
      if (ours.configType !== CONFIG_TYPE_ID[d.type]) out.push(`${d.name}: type ${ours.configType}, Kafka ${d.type}`)
      if (d.default !== undefined && ours.value !== d.default) out.push(`${d.name}: default ${ours.value}, Kafka ${d.default}`)
      return out
    })
    expect(differences).toEqual([])
  })

  it("gives each topic config Kafka's broker synonyms, in Kafka's order", () => {
    const kafka = topicConfigSynonyms()
    expect(kafka.get("retention.ms")).toEqual(["log.retention.ms", "log.retention.minutes", "log.retention.hours"])
    const ours = new Map([...KAFKA_TOPIC_CONFIGS].flatMap((t) => {
      const brokerKey = BROKER_KEY_FOR_TOPIC_CONFIG.get(t)
      return brokerKey === undefined ? [] : [[t, [brokerKey, ...(CONFIG_KEYS_BY_NAME.get(brokerKey)!.synonyms ?? []).filter((k) => !OUR_KEYS.has(k))]] as const]
    }))
    expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(kafka))
  })

  it("DescribeConfigs for the broker reports every key: passwords hidden and sensitive, static keys read-only, each documented", () => {
    const described = describeBroker(brokerConfigView(parseBrokerConfig([[["ssl.keystore.password", "secret"]]])), null)
    const byName = new Map(described.map((c) => [c.name, c]))
    for (const d of kafkaBroker) expect(byName.has(d.name), d.name).toBe(true)
    const password = byName.get("ssl.keystore.password")!
    expect(password).toMatchObject({ isSensitive: true, configType: CONFIG_TYPE_ID["PASSWORD"], source: 4 })
    expect(password.synonyms.every((s) => s.name === "ssl.keystore.password")).toBe(true)
    expect(byName.get("num.io.threads")).toMatchObject({ value: "8", readOnly: true, isSensitive: false, source: 5, configType: CONFIG_TYPE_ID["INT"] })
    expect(byName.get("log.retention.ms")).toMatchObject({ readOnly: false })
    expect(byName.get("log.retention.ms")!.synonyms.map((s) => s.name)).toEqual(["log.retention.hours"])
    expect(described.filter((c) => c.documentation === null || c.documentation === "").map((c) => c.name)).toEqual([])
  })
})
