/**
 * Issue 8 proof, dynamic configuration: KafkaJS (AlterConfigs, DescribeConfigs) and
 * @platformatic/kafka (IncrementalAlterConfigs, DescribeConfigs with synonyms and
 * documentation) change a live topic's max.message.bytes, segment.bytes and retention.ms on a
 * real broker process; the next produce, the next segment roll and the next retention pass
 * obey them without a restart, and after a restart the values are still there with source
 * DYNAMIC_TOPIC_CONFIG. Dynamic broker configs (cluster default and per broker) reach topics
 * without overrides. Invalid changes get Kafka's error codes.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes } from "@platformatic/kafka"
import { ConfigResourceTypes as KafkaJsResourceTypes, Kafka, logLevel } from "kafkajs"
import { afterEach, describe, expect, it } from "vitest"
import { DescribeConfigs, IncrementalAlterConfigs } from "../../src/protocol/generated/apis.ts"
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

const TOPIC = "tuned"
const SOURCE = { DYNAMIC_TOPIC_CONFIG: 1, DYNAMIC_BROKER_CONFIG: 2, DYNAMIC_DEFAULT_BROKER_CONFIG: 3, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 }

const kafkaFor = (port: number) =>
  new Kafka({ clientId: "dynamic-configs-test", brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 50 } })

const segmentFiles = (logDir: string): Array<string> => fs.readdirSync(path.join(logDir, `${TOPIC}-0`)).filter((f) => f.endsWith(".log"))

/** Broker processes of the running test, killed if an assertion fails before they are stopped. */
const started: Array<BrokerProcess> = []
afterEach(() => {
  for (const b of started.splice(0)) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill("SIGKILL")
})

const stop = async (broker: BrokerProcess) => {
  broker.child.kill("SIGTERM")
  expect((await broker.exited).code).toBe(0)
}

/** The Kafka error name and server message inside a @platformatic/kafka admin failure. */
const protocolError = async (promise: Promise<unknown>): Promise<{ apiId: string; serverErrorMessage: string }> => {
  try {
    await promise
  } catch (e) {
    const inner = (e as AggregateError).errors[0] as AggregateError
    const { apiId, serverErrorMessage } = inner.errors[0] as { apiId: string; serverErrorMessage: string }
    return { apiId, serverErrorMessage }
  }
  throw new Error("expected the admin call to fail")
}

/** One describe of the topic's configs through KafkaJS, by name. */
const describeTopic = async (kafka: Kafka) => {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const res = await admin.describeConfigs({ includeSynonyms: true, resources: [{ type: KafkaJsResourceTypes.TOPIC, name: TOPIC }] })
    return new Map(res.resources[0]!.configEntries.map((e) => [e.configName, e]))
  } finally {
    await admin.disconnect()
  }
}

describe("dynamic configs through real clients", () => {
  it("alter and incremental alter apply at once, hold across a restart, and are validated like Kafka's", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-dynamic-configs-"))
    const args = ["--override", "log.retention.check.interval.ms=100"]
    const first = await startBrokerProcess({ logDir, args })
    started.push(first)
    const kafka = kafkaFor(first.port)
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] })

    // validate_only changes nothing.
    await admin.alterConfigs({ validateOnly: true, resources: [{ type: KafkaJsResourceTypes.TOPIC, name: TOPIC, configEntries: [{ name: "max.message.bytes", value: "2000" }] }] })
    expect((await describeTopic(kafka)).get("max.message.bytes")).toMatchObject({ configValue: "1048588", isDefault: true })

    // KafkaJS AlterConfigs (legacy, whole set): a small batch limit and small segments.
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: KafkaJsResourceTypes.TOPIC, name: TOPIC, configEntries: [{ name: "max.message.bytes", value: "2000" }, { name: "segment.bytes", value: "8192" }] }]
    })
    await admin.disconnect()
    const described = await describeTopic(kafka)
    expect(described.get("max.message.bytes")).toMatchObject({ configValue: "2000", configSource: SOURCE.DYNAMIC_TOPIC_CONFIG, isDefault: false })
    expect(described.get("max.message.bytes")!.configSynonyms[0]).toMatchObject({ configName: "max.message.bytes", configValue: "2000", configSource: SOURCE.DYNAMIC_TOPIC_CONFIG })
    expect(described.get("max.message.bytes")!.configSynonyms[1]).toMatchObject({ configName: "message.max.bytes", configSource: SOURCE.DEFAULT_CONFIG })
    expect(described.get("segment.bytes")).toMatchObject({ configValue: "8192", configSource: SOURCE.DYNAMIC_TOPIC_CONFIG })

    // The next produce obeys max.message.bytes; the log rolls at the new segment size.
    const producer = kafka.producer()
    await producer.connect()
    await expect(producer.send({ topic: TOPIC, acks: -1, messages: [{ value: "x".repeat(3000) }] })).rejects.toThrow(/larger than the max message size/)
    for (let i = 0; i < 30; i++) await producer.send({ topic: TOPIC, acks: -1, messages: [{ key: `k${i}`, value: "v".repeat(600) }] })
    expect(segmentFiles(logDir).length).toBeGreaterThan(2)

    // @platformatic/kafka IncrementalAlterConfigs: retention.ms SET; the next retention pass deletes the old segments.
    const pAdmin = new Admin({ clientId: "dynamic-configs-platformatic", bootstrapBrokers: [`127.0.0.1:${first.port}`] })
    await pAdmin.incrementalAlterConfigs({
      resources: [{
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName: TOPIC,
        configs: [
          { name: "retention.ms", configOperation: IncrementalAlterConfigOperationTypes.SET, value: "1" },
          { name: "cleanup.policy", configOperation: IncrementalAlterConfigOperationTypes.APPEND, value: "delete" }
        ]
      }]
    })
    const offsetsAdmin = kafka.admin()
    await offsetsAdmin.connect()
    let low = 0
    for (let attempt = 0; attempt < 20_000 && low === 0; attempt++) {
      low = Number((await offsetsAdmin.fetchTopicOffsets(TOPIC))[0]!.low)
    }
    expect(low).toBeGreaterThan(0)
    await offsetsAdmin.disconnect()

    // Refusals: bad value and unknown key (INVALID_CONFIG), read-only broker key (INVALID_REQUEST).
    expect(await protocolError(pAdmin.incrementalAlterConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: TOPIC, configs: [{ name: "retention.ms", configOperation: IncrementalAlterConfigOperationTypes.SET, value: "soon" }] }]
    }))).toMatchObject({ apiId: "INVALID_CONFIG", serverErrorMessage: expect.stringContaining("Invalid value soon for configuration retention.ms") })
    expect(await protocolError(pAdmin.incrementalAlterConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: TOPIC, configs: [{ name: "no.such.config", configOperation: IncrementalAlterConfigOperationTypes.SET, value: "1" }] }]
    }))).toMatchObject({ apiId: "INVALID_CONFIG", serverErrorMessage: expect.stringContaining("Unknown topic config name: no.such.config") })
    expect(await protocolError(pAdmin.incrementalAlterConfigs({
      resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: "1", configs: [{ name: "node.id", configOperation: IncrementalAlterConfigOperationTypes.SET, value: "7" }] }]
    }))).toMatchObject({ apiId: "INVALID_REQUEST", serverErrorMessage: expect.stringContaining("Cannot update these configs dynamically: Set(node.id)") })

    // Dynamic broker configs: the cluster default (resource "", which @platformatic/kafka
    // cannot address: it looks up broker Number("") = 0), then this broker's own value on top.
    const wire = await WireClient.connect(first.port)
    wire.write(encodeRequest(IncrementalAlterConfigs, 1, 1, {
      resources: [{ resourceType: 4, resourceName: "", configs: [{ name: "log.message.timestamp.type", configOperation: 0, value: "LogAppendTime" }] }],
      validateOnly: false
    }))
    expect(decodeResponse(IncrementalAlterConfigs, 1, await wire.read()).body.responses).toEqual([
      expect.objectContaining({ errorCode: 0, errorMessage: null, resourceType: 4, resourceName: "" })
    ])
    let timestampType = (await describeTopic(kafka)).get("message.timestamp.type")!
    expect(timestampType).toMatchObject({ configValue: "LogAppendTime", configSource: SOURCE.DYNAMIC_DEFAULT_BROKER_CONFIG })
    await pAdmin.incrementalAlterConfigs({
      resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: "1", configs: [{ name: "log.message.timestamp.type", configOperation: IncrementalAlterConfigOperationTypes.SET, value: "CreateTime" }] }]
    })
    timestampType = (await describeTopic(kafka)).get("message.timestamp.type")!
    expect(timestampType).toMatchObject({ configValue: "CreateTime", configSource: SOURCE.DYNAMIC_BROKER_CONFIG })
    expect(timestampType.configSynonyms.map((s) => s.configSource)).toEqual([SOURCE.DYNAMIC_BROKER_CONFIG, SOURCE.DYNAMIC_DEFAULT_BROKER_CONFIG, SOURCE.DEFAULT_CONFIG])

    // Broker describe (v4 with documentation) through @platformatic/kafka.
    const [brokerConfigs] = await pAdmin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: "1", configurationKeys: ["log.message.timestamp.type", "node.id"] }],
      includeSynonyms: true,
      includeDocumentation: true
    })
    const byName = new Map(brokerConfigs!.configs.map((c) => [c.name, c]))
    expect(byName.get("log.message.timestamp.type")).toMatchObject({ value: "CreateTime", readOnly: false, configSource: SOURCE.DYNAMIC_BROKER_CONFIG })
    expect(byName.get("node.id")).toMatchObject({ readOnly: true })
    expect(byName.get("node.id")!.documentation).toBeTruthy()
    wire.write(encodeRequest(DescribeConfigs, 4, 2, { resources: [{ resourceType: 4, resourceName: "", configurationKeys: null }] }))
    const clusterDefaults = decodeResponse(DescribeConfigs, 4, await wire.read()).body.results[0]
    expect(clusterDefaults.configs.map((c: { name: string; value: string; configSource: number }) => [c.name, c.value, c.configSource]))
      .toEqual([["log.message.timestamp.type", "LogAppendTime", SOURCE.DYNAMIC_DEFAULT_BROKER_CONFIG]])
    wire.close()
    await pAdmin.close()
    await producer.disconnect()
    await stop(first)

    // After a restart: the same values, the same sources, still enforced.
    const second = await startBrokerProcess({ logDir, args })
    started.push(second)
    try {
      const again = kafkaFor(second.port)
      const after = await describeTopic(again)
      expect(after.get("max.message.bytes")).toMatchObject({ configValue: "2000", configSource: SOURCE.DYNAMIC_TOPIC_CONFIG })
      expect(after.get("retention.ms")).toMatchObject({ configValue: "1", configSource: SOURCE.DYNAMIC_TOPIC_CONFIG })
      expect(after.get("message.timestamp.type")).toMatchObject({ configValue: "CreateTime", configSource: SOURCE.DYNAMIC_BROKER_CONFIG })
      const p2 = again.producer()
      await p2.connect()
      await expect(p2.send({ topic: TOPIC, acks: -1, messages: [{ value: "x".repeat(3000) }] })).rejects.toThrow(/larger than the max message size/)
      // 20 batches of ~650 bytes: with the default 1 GiB segments they would share one file.
      for (let i = 0; i < 20; i++) await p2.send({ topic: TOPIC, acks: -1, messages: [{ value: "w".repeat(600) }] })
      const sizes = segmentFiles(logDir).map((f) => fs.statSync(path.join(logDir, `${TOPIC}-0`, f)).size)
      expect(Math.max(...sizes)).toBeLessThanOrEqual(8192)
      await p2.disconnect()
    } finally {
      await stop(second)
    }
  }, 60_000)
})
