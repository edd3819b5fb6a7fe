import { describe, expect, it } from "vitest"
import { DescribeConfigsHandler, RESOURCE_TYPE_BROKER, RESOURCE_TYPE_TOPIC } from "../../../src/handlers/DescribeConfigs.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { DescribeConfigs } from "../../../src/protocol/generated/apis.ts"
import type { DescribeConfigsRequestInit } from "../../../src/protocol/generated/message/DescribeConfigsRequest.ts"
import { call, type FakeTopics, makeFakeTopics, NODE_ID, SOURCE, versions } from "./helpers.ts"

const describeConfigs = (fake: FakeTopics, version: number, request: DescribeConfigsRequestInit) =>
  call(DescribeConfigs, DescribeConfigsHandler, fake, version, request)

const BROKER_LOGGER = 8
const CLIENT_METRICS = 16

const withOrders = () => {
  const fake = makeFakeTopics()
  fake.addTopic("orders", 1, { configs: { "retention.ms": "1000" } })
  return fake
}

describe("DescribeConfigs", () => {
  it("serves versions 0-4", () => {
    expect([DescribeConfigsHandler.minVersion, DescribeConfigsHandler.maxVersion]).toEqual([0, 4])
  })

  it("describes every config of a topic (null keys) with value, source, type; no synonyms or documentation unless asked", async () => {
    const res = await describeConfigs(withOrders(), 4, { resources: [{ resourceType: RESOURCE_TYPE_TOPIC, resourceName: "orders", configurationKeys: null }] })
    expect(res.results).toHaveLength(1)
    const r = res.results[0]!
    expect(r).toMatchObject({ errorCode: ErrorCode.NONE, errorMessage: null, resourceType: RESOURCE_TYPE_TOPIC, resourceName: "orders" })
    expect(r.configs.map((c) => [c.name, c.value, c.configSource])).toEqual([
      ["cleanup.policy", "delete", SOURCE.DEFAULT_CONFIG],
      ["max.message.bytes", "1048588", SOURCE.DEFAULT_CONFIG],
      ["retention.ms", "1000", SOURCE.DYNAMIC_TOPIC_CONFIG]
    ])
    expect(r.configs[2]).toMatchObject({ readOnly: false, isSensitive: false, configType: 5, synonyms: [], documentation: null, isDefault: false })
  })

  it("honours include_synonyms (v1+) and include_documentation (v3+)", async () => {
    const res = await describeConfigs(withOrders(), 3, {
      resources: [{ resourceType: RESOURCE_TYPE_TOPIC, resourceName: "orders", configurationKeys: ["retention.ms"] }],
      includeSynonyms: true,
      includeDocumentation: true
    })
    expect(res.results[0]!.configs).toEqual([
      expect.objectContaining({
        name: "retention.ms",
        value: "1000",
        documentation: "Documentation of retention.ms.",
        synonyms: [
          { name: "retention.ms", value: "1000", source: SOURCE.DYNAMIC_TOPIC_CONFIG },
          { name: "log.retention.ms", value: "604800000", source: SOURCE.DEFAULT_CONFIG }
        ]
      })
    ])
    const v1 = await describeConfigs(withOrders(), 1, {
      resources: [{ resourceType: RESOURCE_TYPE_TOPIC, resourceName: "orders", configurationKeys: ["retention.ms"] }],
      includeSynonyms: true
    })
    expect(v1.results[0]!.configs[0]!.synonyms).toHaveLength(2)
    expect(v1.results[0]!.configs[0]!.configType).toBe(0)
  })

  it("describes only the requested keys; an empty key list means all, as Kafka reads it", async () => {
    const fake = withOrders()
    const some = await describeConfigs(fake, 4, { resources: [{ resourceType: RESOURCE_TYPE_TOPIC, resourceName: "orders", configurationKeys: ["cleanup.policy", "no.such.key"] }] })
    expect(some.results[0]!.configs.map((c) => c.name)).toEqual(["cleanup.policy"])
    const empty = await describeConfigs(fake, 4, { resources: [{ resourceType: RESOURCE_TYPE_TOPIC, resourceName: "orders", configurationKeys: [] }] })
    expect(empty.results[0]!.configs).toHaveLength(3)
  })

  it("answers an unknown topic with UNKNOWN_TOPIC_OR_PARTITION and an illegal name with INVALID_TOPIC_EXCEPTION", async () => {
    const res = await describeConfigs(withOrders(), 4, {
      resources: [
        { resourceType: RESOURCE_TYPE_TOPIC, resourceName: "missing", configurationKeys: null },
        { resourceType: RESOURCE_TYPE_TOPIC, resourceName: "bad name", configurationKeys: null }
      ]
    })
    expect(res.results.map((r) => [r.resourceName, r.errorCode, r.configs.length])).toEqual([
      ["missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0],
      ["bad name", ErrorCode.INVALID_TOPIC_EXCEPTION, 0]
    ])
    expect(res.results[0]!.errorMessage).toBe("This server does not host this topic-partition.")
  })

  it("describes this broker by its id or by the empty name, never sending sensitive values", async () => {
    const fake = withOrders()
    for (const name of [String(NODE_ID), ""]) {
      const res = await describeConfigs(fake, 4, { resources: [{ resourceType: RESOURCE_TYPE_BROKER, resourceName: name, configurationKeys: null }], includeSynonyms: true })
      const r = res.results[0]!
      expect(r).toMatchObject({ errorCode: ErrorCode.NONE, resourceType: RESOURCE_TYPE_BROKER, resourceName: name })
      expect(r.configs.map((c) => c.name)).toEqual(["auto.create.topics.enable", "log.retention.ms", "num.partitions", "ssl.keystore.password"])
      const password = r.configs.find((c) => c.name === "ssl.keystore.password")!
      expect(password).toMatchObject({ value: null, isSensitive: true, readOnly: true, configType: 9 })
      expect(password.synonyms).toEqual([{ name: "ssl.keystore.password", value: null, source: SOURCE.STATIC_BROKER_CONFIG }])
      expect(r.configs.find((c) => c.name === "log.retention.ms")).toMatchObject({ value: "604800000", configSource: SOURCE.STATIC_BROKER_CONFIG })
    }
    const oneKey = await describeConfigs(fake, 2, { resources: [{ resourceType: RESOURCE_TYPE_BROKER, resourceName: String(NODE_ID), configurationKeys: ["num.partitions"] }] })
    expect(oneKey.results[0]!.configs.map((c) => [c.name, c.value])).toEqual([["num.partitions", "1"]])
  })

  it("refuses another broker's id, a non-numeric broker name and unsupported resource types with INVALID_REQUEST", async () => {
    const res = await describeConfigs(withOrders(), 4, {
      resources: [
        { resourceType: RESOURCE_TYPE_BROKER, resourceName: String(NODE_ID + 1), configurationKeys: null },
        { resourceType: RESOURCE_TYPE_BROKER, resourceName: "broker-one", configurationKeys: null },
        { resourceType: BROKER_LOGGER, resourceName: String(NODE_ID), configurationKeys: null },
        { resourceType: CLIENT_METRICS, resourceName: "m", configurationKeys: null }
      ]
    })
    expect(res.results.map((r) => [r.resourceType, r.resourceName, r.errorCode, r.configs.length])).toEqual([
      [RESOURCE_TYPE_BROKER, String(NODE_ID + 1), ErrorCode.INVALID_REQUEST, 0],
      [RESOURCE_TYPE_BROKER, "broker-one", ErrorCode.INVALID_REQUEST, 0],
      [BROKER_LOGGER, String(NODE_ID), ErrorCode.INVALID_REQUEST, 0],
      [CLIENT_METRICS, "m", ErrorCode.INVALID_REQUEST, 0]
    ])
    expect(res.results[0]!.errorMessage).toBe(`Unexpected broker id, expected ${NODE_ID} or empty string, but received ${NODE_ID + 1}`)
  })

  it("v0 reports is_default instead of config_source", async () => {
    const res = await describeConfigs(withOrders(), 0, { resources: [{ resourceType: RESOURCE_TYPE_TOPIC, resourceName: "orders", configurationKeys: null }] })
    const configs = res.results[0]!.configs
    expect(configs.map((c) => [c.name, c.isDefault])).toEqual([["cleanup.policy", true], ["max.message.bytes", true], ["retention.ms", false]])
    expect(configs.every((c) => c.configSource === -1 && c.synonyms.length === 0)).toBe(true)
  })

  it("answers resources in request order, each on its own", async () => {
    const res = await describeConfigs(withOrders(), 4, {
      resources: [
        { resourceType: RESOURCE_TYPE_BROKER, resourceName: String(NODE_ID), configurationKeys: ["num.partitions"] },
        { resourceType: RESOURCE_TYPE_TOPIC, resourceName: "missing", configurationKeys: null },
        { resourceType: RESOURCE_TYPE_TOPIC, resourceName: "orders", configurationKeys: ["retention.ms"] }
      ]
    })
    expect(res.results.map((r) => [r.resourceName, r.errorCode, r.configs.map((c) => c.name)])).toEqual([
      [String(NODE_ID), 0, ["num.partitions"]],
      ["missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, []],
      ["orders", 0, ["retention.ms"]]
    ])
  })

  it("encodes at every version it serves", async () => {
    for (const v of versions(0, 4)) {
      const res = await describeConfigs(withOrders(), v, {
        resources: [
          { resourceType: RESOURCE_TYPE_TOPIC, resourceName: "orders", configurationKeys: null },
          { resourceType: RESOURCE_TYPE_TOPIC, resourceName: "missing", configurationKeys: null },
          { resourceType: RESOURCE_TYPE_BROKER, resourceName: "", configurationKeys: null },
          { resourceType: BROKER_LOGGER, resourceName: "1", configurationKeys: null }
        ],
        ...(v >= 1 ? { includeSynonyms: true } : {}),
        ...(v >= 3 ? { includeDocumentation: true } : {})
      })
      expect(res.results.map((r) => r.errorCode)).toEqual([0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0, ErrorCode.INVALID_REQUEST])
      expect(res.results[0]!.configs).toHaveLength(3)
      expect(res.results[0]!.configs[0]!.documentation).toBe(v >= 3 ? "Documentation of cleanup.policy." : "")
      expect(res.results[0]!.configs[2]!.synonyms).toHaveLength(v >= 1 ? 2 : 0)
    }
  })
})
