/**
 * Dynamic broker configs as KRaft stores them: ConfigRecords of resource type BROKER, named
 * by a node id (per-broker) or "" (the cluster-wide default). Which keys may change while the
 * broker runs, how a change is checked (Kafka's DynamicBrokerConfig.validateConfigs), and the
 * broker's effective config with the dynamic layers on top of the static one. Pure.
 *
 * Precedence, highest first, as in Kafka: DYNAMIC_BROKER_CONFIG (this node's id),
 * DYNAMIC_DEFAULT_BROKER_CONFIG (""), STATIC_BROKER_CONFIG (file, environment, overrides),
 * DEFAULT_CONFIG.
 */
import type { BrokerConfig, ConfigSource } from "./broker-config.ts"
import { CONFIG_KEYS, CONFIG_KEYS_BY_NAME, parseConfigValue, renderConfigValue } from "./keys.ts"

type ConfigMap = ReadonlyMap<string, string>

/**
 * Keys this broker applies at runtime: the broker-level defaults of topic configs (Kafka's
 * DynamicLogConfig.ReconfigurableConfigs, i.e. the first synonym of each topic config, minus
 * message.format.version). Every other key Kafka defines is read-only here; keys Kafka does not
 * define are custom configs, stored and reported but not acted on, as Kafka does.
 */
export const DYNAMIC_BROKER_KEYS: ReadonlySet<string> = new Set(
  CONFIG_KEYS.filter((k) => k.topicConfig !== undefined && k.name !== "log.message.format.version").map((k) => k.name)
)

/** The broker's configs with the dynamic layers applied; the shape topicConfigDefaults reads. */
export interface BrokerConfigView {
  readonly static: BrokerConfig
  /** Dynamic cluster-wide defaults (resource ""), as stored. */
  readonly clusterDefaults: ConfigMap
  /** Dynamic configs of this node (resource = node id), as stored. */
  readonly perBroker: ConfigMap
  /** Effective value of every known key that has one, in Kafka's rendering. */
  readonly raw: ReadonlyMap<string, string>
  readonly sources: ReadonlyMap<string, ConfigSource>
}

const EMPTY: ConfigMap = new Map()

const rendered = (name: string, value: string): string | undefined => {
  const key = CONFIG_KEYS_BY_NAME.get(name)
  if (key === undefined) return undefined
  try {
    return renderConfigValue(key, parseConfigValue(key, value))
  } catch {
    // A value another broker version accepted and we do not: ignored, the lower layer stays.
    return undefined
  }
}

export const brokerConfigView = (config: BrokerConfig, clusterDefaults: ConfigMap = EMPTY, perBroker: ConfigMap = EMPTY): BrokerConfigView => {
  if (clusterDefaults.size === 0 && perBroker.size === 0) {
    return { static: config, clusterDefaults, perBroker, raw: config.raw, sources: config.sources }
  }
  const raw = new Map(config.raw)
  const sources = new Map(config.sources)
  const overlay = (layer: ConfigMap, source: ConfigSource) => {
    for (const [name, value] of layer) {
      if (!DYNAMIC_BROKER_KEYS.has(name)) continue
      const v = rendered(name, value)
      if (v === undefined) continue
      raw.set(name, v)
      sources.set(name, source)
    }
  }
  overlay(clusterDefaults, "DYNAMIC_DEFAULT_BROKER_CONFIG")
  overlay(perBroker, "DYNAMIC_BROKER_CONFIG")
  return { static: config, clusterDefaults, perBroker, raw, sources }
}

/** Scala's rendering of a Set, which Kafka's messages show. */
const scalaSet = (names: ReadonlyArray<string>): string => `Set(${names.join(", ")})`

/**
 * Why Kafka refuses these broker config changes (null value = delete), or undefined. Kafka
 * answers these with INVALID_REQUEST (KAFKA-13609), carrying this message.
 */
export const brokerConfigChangeError = (changes: ReadonlyMap<string, string | null>): string | undefined => {
  const readOnly = [...changes.keys()].filter((name) => CONFIG_KEYS_BY_NAME.has(name) && !DYNAMIC_BROKER_KEYS.has(name))
  if (readOnly.length > 0) return `Cannot update these configs dynamically: ${scalaSet(readOnly)}`
  for (const [name, value] of changes) {
    if (value === null) continue
    const key = CONFIG_KEYS_BY_NAME.get(name)
    if (key === undefined) continue
    try {
      parseConfigValue(key, value)
    } catch (e) {
      return (e as Error).message
    }
    if ((name === "log.retention.ms") && BigInt(value.trim()) === 0n) {
      return `Invalid value ${value} for configuration ${name}: log.retention.ms must be unlimited (-1) or, greater than or equal to 1`
    }
    if (name === "log.roll.ms" && BigInt(value.trim()) < 1n) {
      return `Invalid value ${value} for configuration ${name}: Value must be at least 1`
    }
  }
  return undefined
}

/** Whether a broker key holds a list (APPEND / SUBTRACT apply to lists only). */
export const isListBrokerKey = (name: string): boolean => CONFIG_KEYS_BY_NAME.get(name)?.type === "LIST"
