/**
 * Issue 8 proof, admin and client APIs through real clients where they have the call
 * (KafkaJS: deleteTopicRecords, alter/listPartitionReassignments, fetchTopicOffsetsByTimestamp;
 * @platformatic/kafka: deleteRecords, describeLogDirs) and the wire codecs where they do not
 * (DescribeCluster, ElectLeaders, OffsetForLeaderEpoch, GetTelemetrySubscriptions), at every
 * version, against one embedded broker.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as os from "node:os"
import { Admin, ClientQuotaMatchTypes } from "@platformatic/kafka"
import { Kafka, logLevel } from "kafkajs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import type { AnyApi } from "../../src/protocol/api.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import {
  AlterClientQuotas,
  ApiVersions,
  DescribeCluster,
  ElectLeaders,
  GetTelemetrySubscriptions,
  OffsetForLeaderEpoch,
  UpdateFeatures
} from "../../src/protocol/generated/apis.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

let broker: EmbeddedBroker
let kafka: Kafka
let wire: WireClient
let correlation = 0

// oxlint-disable-next-line no-explicit-any
const roundTrip = async (api: AnyApi, version: number, body: unknown): Promise<any> => {
  wire.write(encodeRequest(api, version, ++correlation, body))
  const { correlationId, body: response } = decodeResponse(api, version, await wire.read())
  expect(correlationId).toBe(correlation)
  return response
}

const produce = async (topic: string, partition: number, count: number, size = 100) => {
  const producer = kafka.producer()
  await producer.connect()
  for (let i = 0; i < count; i += 10) {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: Math.min(10, count - i) }, (_, j) => ({ partition, key: `k${i + j}`, value: "v".repeat(size) })) })
  }
  await producer.disconnect()
}

beforeAll(async () => {
  broker = await startBroker()
  kafka = new Kafka({ clientId: "admin-apis-test", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 50 } })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({
    topics: [
      { topic: "trim", numPartitions: 2, configEntries: [{ name: "segment.bytes", value: "4096" }] },
      { topic: "sized", numPartitions: 2 },
      { topic: "compacted", numPartitions: 1, configEntries: [{ name: "cleanup.policy", value: "compact" }] }
    ]
  })
  await admin.disconnect()
  wire = await WireClient.connect(broker.port, broker.host)
})

afterAll(async () => {
  wire?.close()
  await broker?.stop()
})

describe("DeleteRecords", () => {
  it("KafkaJS deleteTopicRecords advances the log start offset, drops whole segments, and consumers from the beginning start there", async () => {
    await produce("trim", 0, 100)
    await produce("trim", 1, 20)
    const dir = path.join(broker.logDir, "trim-0")
    const segmentsBefore = fs.readdirSync(dir).filter((f) => f.endsWith(".log")).length
    expect(segmentsBefore).toBeGreaterThan(2)

    const admin = kafka.admin()
    await admin.connect()
    // KafkaJS looks up partition leaders in its metadata cache without loading it first.
    await admin.fetchTopicMetadata({ topics: ["trim"] })
    await admin.deleteTopicRecords({ topic: "trim", partitions: [{ partition: 0, offset: "60" }, { partition: 1, offset: "-1" }] })
    const offsets = await admin.fetchTopicOffsets("trim")
    expect(offsets.find((o) => o.partition === 0)).toMatchObject({ low: "60", high: "100" })
    expect(offsets.find((o) => o.partition === 1)).toMatchObject({ low: "20", high: "20" })
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".log")).length).toBeLessThan(segmentsBefore)
    // ListOffsets by timestamp (KafkaJS fetchTopicOffsetsByTimestamp) starts at the new log start offset too.
    const byTime = await admin.fetchTopicOffsetsByTimestamp("trim", 0)
    expect(byTime.find((o) => o.partition === 0)!.offset).toBe("60")
    await admin.disconnect()

    const consumer = kafka.consumer({ groupId: "trim-readers", maxWaitTimeInMs: 50 })
    await consumer.connect()
    await consumer.subscribe({ topic: "trim", fromBeginning: true })
    const firstOffsets = new Map<number, number>()
    await new Promise<void>((resolve, reject) => {
      consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (!firstOffsets.has(partition)) firstOffsets.set(partition, Number(message.offset))
          if (partition === 0 && Number(message.offset) === 99) resolve()
        }
      }).catch(reject)
    })
    await consumer.disconnect()
    expect(firstOffsets.get(0)).toBe(60)
    expect(firstOffsets.has(1)).toBe(false)
  })

  it("@platformatic/kafka deleteRecords: out of range, unknown partitions and compacted topics are refused per partition", async () => {
    const admin = new Admin({ clientId: "admin-apis-platformatic", bootstrapBrokers: [broker.bootstrap] })
    try {
      const [ok] = await admin.deleteRecords({ topics: [{ name: "trim", partitions: [{ partition: 0, offset: 70n }] }] })
      expect(ok!.partitions).toEqual([{ partition: 0, lowWatermark: 70n }])
      // Never backwards: an older offset leaves the low watermark where it is.
      const [same] = await admin.deleteRecords({ topics: [{ name: "trim", partitions: [{ partition: 0, offset: 10n }] }] })
      expect(same!.partitions).toEqual([{ partition: 0, lowWatermark: 70n }])
      const apiIdOf = async (topic: string, partition: number, offset: bigint) => {
        try {
          await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition, offset }] }] })
          return "NONE"
        } catch (e) {
          const inner = (e as AggregateError).errors[0] as AggregateError
          return (inner.errors?.[0] as { apiId?: string } | undefined)?.apiId ?? String(e)
        }
      }
      expect(await apiIdOf("trim", 0, 1000n)).toBe("OFFSET_OUT_OF_RANGE")
      expect(await apiIdOf("compacted", 0, 0n)).toBe("POLICY_VIOLATION")
    } finally {
      await admin.close()
    }
  })
})

describe("DescribeLogDirs", () => {
  it("@platformatic/kafka describeLogDirs reports the data directory and each partition's size in bytes", async () => {
    await produce("sized", 1, 30, 200)
    const admin = new Admin({ clientId: "admin-apis-logdirs", bootstrapBrokers: [broker.bootstrap] })
    try {
      const [described] = await admin.describeLogDirs({ topics: [{ name: "sized", partitions: [0, 1, 7] }] })
      expect(described!.broker).toBe(1)
      expect(described!.results).toHaveLength(1)
      const dir = described!.results[0]!
      expect(dir.logDir).toBe(path.resolve(broker.logDir))
      expect(dir.totalBytes).toBeGreaterThan(0n)
      expect(dir.topics.map((t) => t.name)).toEqual(["sized"])
      const onDisk = (p: number) =>
        fs.readdirSync(path.join(broker.logDir, `sized-${p}`)).filter((f) => f.endsWith(".log"))
          .reduce((sum, f) => sum + fs.statSync(path.join(broker.logDir, `sized-${p}`, f)).size, 0)
      expect(dir.topics[0]!.partitions.map((p) => [p.partitionIndex, Number(p.partitionSize)])).toEqual([[0, 0], [1, onDisk(1)]])
      expect(onDisk(1)).toBeGreaterThan(30 * 200)
    } finally {
      await admin.close()
    }
  })
})

describe("partition reassignments", () => {
  it("KafkaJS alter/listPartitionReassignments: the current replica is accepted, other brokers refused, nothing is ever in progress", async () => {
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.alterPartitionReassignments({ topics: [{ topic: "sized", partitionAssignment: [{ partition: 0, replicas: [1] }] }] })
      await expect(admin.alterPartitionReassignments({ topics: [{ topic: "sized", partitionAssignment: [{ partition: 1, replicas: [2] }] }] }))
        .rejects.toThrow()
      expect(await admin.listPartitionReassignments({})).toEqual({ topics: [] })
    } finally {
      await admin.disconnect()
    }
  })
})

describe("wire-level APIs", () => {
  it("DescribeCluster v0-1: this broker, its advertised address, the cluster id; endpoint types as Kafka checks them", async () => {
    for (const version of [0, 1]) {
      const res = await roundTrip(DescribeCluster, version, { includeClusterAuthorizedOperations: false, endpointType: 1 })
      expect(res).toMatchObject({ errorCode: 0, controllerId: 1, brokers: [{ brokerId: 1, host: broker.host, port: broker.port, rack: null }], clusterAuthorizedOperations: -2147483648 })
      expect(res.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/)
    }
    expect((await roundTrip(DescribeCluster, 1, { endpointType: 2 })).errorCode).toBe(ErrorCode.MISMATCHED_ENDPOINT_TYPE)
    expect((await roundTrip(DescribeCluster, 1, { endpointType: 7 })).errorCode).toBe(ErrorCode.UNSUPPORTED_ENDPOINT_TYPE)
    expect((await roundTrip(DescribeCluster, 1, { endpointType: 1, includeClusterAuthorizedOperations: true })).clusterAuthorizedOperations).toBeGreaterThan(0)
  })

  it("ElectLeaders v0-2: ELECTION_NOT_NEEDED for partitions led by their preferred leader; null asks about all and lists none", async () => {
    for (const version of [0, 1, 2]) {
      const res = await roundTrip(ElectLeaders, version, { electionType: 0, topicPartitions: [{ topic: "sized", partitions: [0, 1] }, { topic: "nope", partitions: [0] }], timeoutMs: 1000 })
      expect(res.replicaElectionResults.map((r: { topic: string; partitionResult: Array<{ partitionId: number; errorCode: number }> }) =>
        [r.topic, r.partitionResult.map((p) => [p.partitionId, p.errorCode])])).toEqual([
        ["sized", [[0, ErrorCode.ELECTION_NOT_NEEDED], [1, ErrorCode.ELECTION_NOT_NEEDED]]],
        ["nope", [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]
      ])
    }
    const all = await roundTrip(ElectLeaders, 2, { electionType: 1, topicPartitions: null, timeoutMs: 1000 })
    expect(all.errorCode).toBe(0)
    expect(all.replicaElectionResults.every((r: { partitionResult: Array<unknown> }) => r.partitionResult.length === 0)).toBe(true)
    expect((await roundTrip(ElectLeaders, 1, { electionType: 5, topicPartitions: null, timeoutMs: 1000 })).errorCode).toBe(ErrorCode.INVALID_REQUEST)
  })

  it("OffsetForLeaderEpoch v0-4: the end offset of an epoch from the leader-epoch cache; fenced and unknown epochs; unknown partitions", async () => {
    await produce("sized", 0, 5)
    for (const version of [0, 1, 2, 3, 4]) {
      const res = await roundTrip(OffsetForLeaderEpoch, version, {
        replicaId: -1,
        topics: [{ topic: "sized", partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }, { partition: 9, currentLeaderEpoch: -1, leaderEpoch: 0 }] }]
      })
      const [known, unknown] = res.topics[0].partitions
      expect(known).toMatchObject({ errorCode: 0, partition: 0, endOffset: 5n })
      if (version >= 1) expect(known.leaderEpoch).toBe(0)
      expect(unknown).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, endOffset: -1n })
    }
    const epochs = await roundTrip(OffsetForLeaderEpoch, 4, {
      replicaId: -1,
      topics: [{ topic: "sized", partitions: [
        { partition: 0, currentLeaderEpoch: 5, leaderEpoch: 0 },
        { partition: 1, currentLeaderEpoch: 0, leaderEpoch: 3 }
      ] }]
    })
    expect(epochs.topics[0].partitions.map((p: { errorCode: number; leaderEpoch: number; endOffset: bigint }) => [p.errorCode, p.leaderEpoch, p.endOffset])).toEqual([
      [ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1n],
      [0, -1, -1n]
    ])
  })

  it("GetTelemetrySubscriptions: not advertised (no telemetry receiver, as Kafka), answered with an empty subscription", async () => {
    const versions = await roundTrip(ApiVersions, 3, { clientSoftwareName: "wire-test", clientSoftwareVersion: "1.0" })
    const keys = versions.apiKeys.map((k: { apiKey: number }) => k.apiKey)
    expect(keys).not.toContain(GetTelemetrySubscriptions.apiKey)
    for (const key of [21, 23, 33, 35, 43, 44, 45, 46, 60]) expect(keys).toContain(key)
    const res = await roundTrip(GetTelemetrySubscriptions, 0, { clientInstanceId: "AAAAAAAAAAAAAAAAAAAAAA" })
    expect(res).toMatchObject({ errorCode: 0, requestedMetrics: [], deltaTemporality: true })
    expect(res.clientInstanceId).not.toBe("AAAAAAAAAAAAAAAAAAAAAA")
  })
})

describe("client quotas", () => {
  it("@platformatic/kafka alter/describeClientQuotas: stored as ClientQuotaRecords, filtered as Kafka filters, kept across a restart", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-quotas-"))
    const first = await startBroker({ properties: { "log.dirs": logDir } })
    const admin = new Admin({ clientId: "admin-apis-quotas", bootstrapBrokers: [first.bootstrap] })
    try {
      const altered = await admin.alterClientQuotas({
        entries: [
          { entities: [{ entityType: "user", entityName: "alice" }], ops: [{ key: "producer_byte_rate", value: 1048576, remove: false }, { key: "request_percentage", value: 12.5, remove: false }] },
          { entities: [{ entityType: "user", entityName: null }], ops: [{ key: "consumer_byte_rate", value: 2048, remove: false }] },
          { entities: [{ entityType: "user", entityName: "bob" }, { entityType: "client-id", entityName: "app" }], ops: [{ key: "producer_byte_rate", value: 100, remove: false }] }
        ]
      })
      expect(altered.map((e) => e.errorCode)).toEqual([0, 0, 0])
      const alice = await admin.describeClientQuotas({ components: [{ entityType: "user", matchType: ClientQuotaMatchTypes.EXACT, match: "alice" }] })
      expect(alice).toEqual([{ entity: [{ entityType: "user", entityName: "alice" }], values: [{ key: "producer_byte_rate", value: 1048576 }, { key: "request_percentage", value: 12.5 }] }])
      const defaults = await admin.describeClientQuotas({ components: [{ entityType: "user", matchType: ClientQuotaMatchTypes.DEFAULT }] })
      expect(defaults.map((e) => e.entity)).toEqual([[{ entityType: "user", entityName: null }]])
      const anyUser = await admin.describeClientQuotas({ components: [{ entityType: "user", matchType: ClientQuotaMatchTypes.ANY }] })
      expect(anyUser).toHaveLength(3)
      const strict = await admin.describeClientQuotas({ components: [{ entityType: "user", matchType: ClientQuotaMatchTypes.ANY }], strict: true })
      expect(strict).toHaveLength(2)
      await admin.alterClientQuotas({ entries: [{ entities: [{ entityType: "user", entityName: "alice" }], ops: [{ key: "request_percentage", remove: true }] }] })
    } finally {
      await admin.close()
      await first.stop()
    }

    const second = await startBroker({ properties: { "log.dirs": logDir } })
    const again = new Admin({ clientId: "admin-apis-quotas-2", bootstrapBrokers: [second.bootstrap] })
    const raw = await WireClient.connect(second.port, second.host)
    try {
      const alice = await again.describeClientQuotas({ components: [{ entityType: "user", matchType: ClientQuotaMatchTypes.EXACT, match: "alice" }] })
      expect(alice[0]!.values).toEqual([{ key: "producer_byte_rate", value: 1048576 }])
      // Kafka's refusals, per entry: an unknown key, a fractional byte rate, ip mixed with user.
      raw.write(encodeRequest(AlterClientQuotas, 1, 1, {
        entries: [
          { entity: [{ entityType: "user", entityName: "carol" }], ops: [{ key: "bytes_per_fortnight", value: 1, remove: false }] },
          { entity: [{ entityType: "client-id", entityName: "x" }], ops: [{ key: "consumer_byte_rate", value: 1.5, remove: false }] },
          { entity: [{ entityType: "ip", entityName: "127.0.0.1" }, { entityType: "user", entityName: "u" }], ops: [] }
        ],
        validateOnly: false
      }))
      const res = decodeResponse(AlterClientQuotas, 1, await raw.read()).body
      expect(res.entries.map((e: { errorCode: number; errorMessage: string }) => [e.errorCode, e.errorMessage])).toEqual([
        [ErrorCode.INVALID_REQUEST, "Invalid configuration key bytes_per_fortnight"],
        [ErrorCode.INVALID_REQUEST, "consumer_byte_rate cannot be a fractional value."],
        [ErrorCode.INVALID_REQUEST, "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId"]
      ])
    } finally {
      raw.close()
      await again.close()
      await second.stop()
    }
  })
})

describe("features", () => {
  it("ApiVersions reports the finalized metadata.version; UpdateFeatures checks levels and types as Kafka's controller", async () => {
    const versions = await roundTrip(ApiVersions, 3, { clientSoftwareName: "wire-test", clientSoftwareVersion: "1.0" })
    expect(versions.finalizedFeatures).toEqual([expect.objectContaining({ name: "metadata.version", minVersionLevel: 21, maxVersionLevel: 21 })])
    expect(versions.finalizedFeaturesEpoch).toBeGreaterThanOrEqual(0n)
    const update = async (version: number, feature: string, level: number, upgradeType: number, validateOnly = false) => {
      const featureUpdate = version === 0 ? { feature, maxVersionLevel: level, allowDowngrade: upgradeType !== 1 } : { feature, maxVersionLevel: level, upgradeType }
      const res = await roundTrip(UpdateFeatures, version, { timeoutMs: 1000, featureUpdates: [featureUpdate], ...(version >= 1 ? { validateOnly } : {}) })
      return [res.errorCode, res.errorMessage]
    }
    expect(await update(1, "metadata.version", 21, 1)).toEqual([0, null])
    expect(await update(2, "metadata.version", 21, 1, true)).toEqual([0, null])
    expect(await update(1, "metadata.version", 22, 1)).toEqual([ErrorCode.INVALID_UPDATE_VERSION, "Invalid update version 22 for feature metadata.version. Local controller 1 only supports versions 1-21"])
    expect(await update(1, "metadata.version", 17, 1)).toEqual([ErrorCode.INVALID_UPDATE_VERSION,
      "Invalid update version 17 for feature metadata.version. Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade."])
    expect((await update(0, "metadata.version", 17, 2))[0]).toBe(ErrorCode.INVALID_UPDATE_VERSION)
    expect(await update(1, "group.version", 1, 1)).toEqual([ErrorCode.INVALID_UPDATE_VERSION, "Invalid update version 1 for feature group.version. Local controller 1 does not support this feature."])
  })
})
