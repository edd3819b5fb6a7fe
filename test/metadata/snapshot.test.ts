/**
 * KRaft snapshots: the image written as records (image-records.ts) replays to the same image;
 * the metadata log writes `<offset>-<epoch>.checkpoint` files in Kafka's layout on its cadence,
 * deletes what a newer snapshot covers, and a restart from snapshot + log gives the image the
 * broker had.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { imageToRecords } from "../../src/metadata/image-records.ts"
import { applyRecords, EMPTY_IMAGE, type MetadataImage } from "../../src/metadata/image.ts"
import { decodeMetadataRecord, encodeMetadataRecord } from "../../src/metadata/record-serde.ts"
import type { MetadataRecord, MetadataRecordInit } from "../../src/protocol/generated/metadata-records.ts"
import { memoryTempDir, removeTempDirs, tempDir, withMetadataLog } from "./helpers.ts"
import { data, futureRecord, parseBatches, randomKafkaUuid, writeKraftLogDir } from "./kraft-fixture.ts"

afterAll(removeTempDirs)

const PARTITION_DIR = "__cluster_metadata-0"

/** Everything an image holds except diagnostics, as plain comparable data. */
const normalize = (image: MetadataImage) => ({
  topics: [...image.topicsById.values()]
    .map((t) => ({ name: t.name, topicId: t.topicId, partitions: [...t.partitions.values()].sort((a, b) => a.partition - b.partition) }))
    .sort((a, b) => a.topicId.localeCompare(b.topicId)),
  byName: [...image.topicsByName].map(([n, t]) => [n, t.topicId]).sort(),
  topicConfigs: [...image.topicConfigs].map(([k, v]) => [k, [...v].sort()]).sort(),
  brokerConfigs: [...image.brokerConfigs].map(([k, v]) => [k, [...v].sort()]).sort(),
  features: [...image.features].sort(),
  brokers: [...image.brokers.values()].map((b) => ({ ...b, features: [...b.features].sort() })).sort((a, b) => a.id - b.id),
  nextProducerId: image.nextProducerId,
  retained: image.retainedRecords.map((r) => Buffer.from(r).toString("hex"))
})

/** Through the wire format and back, as a snapshot file carries them. */
const roundTrip = (records: ReadonlyArray<MetadataRecordInit | Uint8Array>): Array<MetadataRecord> =>
  records.map((r) => {
    const decoded = decodeMetadataRecord(r instanceof Uint8Array ? r : encodeMetadataRecord(r))
    if (!decoded.known) throw new Error(`not decodable: ${decoded.reason}`)
    return decoded.record
  })

/**
 * Random but valid metadata histories: each step is interpreted against the image so far
 * (create / delete topics, add partitions, move leaders and ISRs, topic and broker configs,
 * brokers registering and fencing, feature levels, producer id blocks).
 */
const history = (steps: ReadonlyArray<readonly [number, number, number]>, mv: number): Array<MetadataRecord> => {
  const out: Array<MetadataRecord> = []
  let image = applyRecords(EMPTY_IMAGE, roundTrip([{ type: "FeatureLevelRecord", version: 0, data: { name: "metadata.version", featureLevel: mv } }]))
  out.push(...roundTrip([{ type: "FeatureLevelRecord", version: 0, data: { name: "metadata.version", featureLevel: mv } }]))
  const names = ["a", "b", "c", "d.e", "f_g"]
  for (const [op, x, y] of steps) {
    const topics = [...image.topicsById.values()]
    const topic = topics.length === 0 ? undefined : topics[x % topics.length]!
    const batch: Array<MetadataRecordInit> = []
    switch (op % 9) {
      case 0: {
        const name = names[x % names.length]!
        if (image.topicsByName.has(name)) break
        const topicId = randomKafkaUuid()
        batch.push({ type: "TopicRecord", version: 0, data: { name, topicId } })
        if (y % 2 === 0) batch.push({ type: "ConfigRecord", version: 0, data: { resourceType: 2, resourceName: name, name: "retention.ms", value: String(y) } })
        for (let p = 0; p < 1 + (y % 3); p++) {
          batch.push({
            type: "PartitionRecord",
            version: mv >= 17 ? 1 : 0,
            data: { partitionId: p, topicId, replicas: [1, 2], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0, ...(mv >= 17 ? { directories: [randomKafkaUuid(), randomKafkaUuid()] } : {}) }
          })
        }
        break
      }
      case 1:
        if (topic !== undefined) batch.push({ type: "RemoveTopicRecord", version: 0, data: { topicId: topic.topicId } })
        break
      case 2:
        if (topic !== undefined) {
          batch.push({
            type: "PartitionRecord",
            version: 0,
            data: { partitionId: topic.partitions.size, topicId: topic.topicId, replicas: [2], isr: [2], leader: 2, leaderEpoch: 0, partitionEpoch: 0 }
          })
        }
        break
      case 3:
        if (topic !== undefined) {
          batch.push({
            type: "PartitionChangeRecord",
            version: 0,
            data: { partitionId: 0, topicId: topic.topicId, leader: y % 2 === 0 ? 2 : -2, isr: y % 3 === 0 ? [1, 2] : null }
          })
        }
        break
      case 4:
        if (topic !== undefined) {
          batch.push({ type: "ConfigRecord", version: 0, data: { resourceType: 2, resourceName: topic.name, name: `k${y % 3}`, value: y % 4 === 0 ? null : `v${y}` } })
        }
        break
      case 5:
        batch.push({ type: "ConfigRecord", version: 0, data: { resourceType: 4, resourceName: y % 2 === 0 ? "" : "1", name: `b${x % 3}`, value: y % 5 === 0 ? null : `v${y}` } })
        // Records Kafka keeps but this broker does not model: written back verbatim.
        if (y % 7 === 0) batch.push({ type: "ConfigRecord", version: 0, data: { resourceType: 16, resourceName: "metrics", name: "interval.ms", value: String(y) } })
        if (y % 7 === 1) {
          batch.push({
            type: "AccessControlEntryRecord",
            version: 0,
            data: { id: randomKafkaUuid(), resourceType: 2, resourceName: "t", patternType: 3, principal: "User:alice", host: "*", operation: 3, permissionType: 3 }
          })
        }
        break
      case 6:
        batch.push({
          type: "RegisterBrokerRecord",
          version: mv >= 17 ? 3 : 2,
          data: {
            brokerId: 1 + (x % 3),
            incarnationId: randomKafkaUuid(),
            brokerEpoch: BigInt(y),
            endPoints: [{ name: "PLAINTEXT", host: "h", port: 9000 + (x % 3), securityProtocol: 0 }],
            features: [{ name: "metadata.version", minSupportedVersion: 1, maxSupportedVersion: mv }],
            rack: y % 2 === 0 ? null : "r1",
            fenced: y % 3 === 0,
            inControlledShutdown: false,
            ...(mv >= 17 ? { logDirs: [randomKafkaUuid()] } : {})
          }
        })
        break
      case 7: {
        const broker = [...image.brokers.values()][x % Math.max(1, image.brokers.size)]
        if (broker !== undefined) {
          batch.push({ type: y % 2 === 0 ? "FenceBrokerRecord" : "UnfenceBrokerRecord", version: 0, data: { id: broker.id, epoch: broker.epoch } })
        }
        break
      }
      case 8:
        if (y % 2 === 0) batch.push({ type: "ProducerIdsRecord", version: 0, data: { brokerId: 1, brokerEpoch: 1n, nextProducerId: BigInt(1000 * (y + 1)) } })
        else batch.push({ type: "FeatureLevelRecord", version: 0, data: { name: "kraft.version", featureLevel: y % 3 } })
        break
    }
    const records = roundTrip(batch)
    image = applyRecords(image, records)
    out.push(...records)
  }
  return out
}

describe("snapshot records (image -> records -> image)", () => {
  it("replaying snapshot + the log after it gives the image of the full log (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(50), fc.nat(50), fc.nat(50)), { maxLength: 80 }),
        fc.nat(100),
        fc.constantFrom(14, 19, 21),
        (steps, cutAt, mv) => {
          const records = history(steps, mv)
          const cut = cutAt % (records.length + 1)
          const full = applyRecords(EMPTY_IMAGE, records)
          const atCut = applyRecords(EMPTY_IMAGE, records.slice(0, cut))
          const fromSnapshot = applyRecords(applyRecords(EMPTY_IMAGE, roundTrip(imageToRecords(atCut))), records.slice(cut))
          expect(normalize(fromSnapshot)).toEqual(normalize(full))
        }
      ),
      { numRuns: 200 }
    )
  })

  it("writes metadata.version first and record versions the image's metadata.version can read", () => {
    const old = history([[0, 0, 0], [6, 0, 1]], 14)
    const image = applyRecords(EMPTY_IMAGE, old)
    const records = imageToRecords(image).filter((r): r is MetadataRecordInit => !(r instanceof Uint8Array))
    expect(records[0]).toEqual({ type: "FeatureLevelRecord", version: 0, data: { name: "metadata.version", featureLevel: 14 } })
    expect(records.find((r) => r.type === "PartitionRecord")!.version).toBe(0)
    expect(records.find((r) => r.type === "RegisterBrokerRecord")!.version).toBe(2)
  })
})

const snapshotFiles = (logDir: string): Array<string> =>
  fs.readdirSync(path.join(logDir, PARTITION_DIR)).filter((f) => f.endsWith(".checkpoint")).sort()

const partitionDirBytes = (logDir: string): number => {
  let n = 0
  for (const f of fs.readdirSync(path.join(logDir, PARTITION_DIR))) n += fs.statSync(path.join(logDir, PARTITION_DIR, f)).size
  return n
}

describe("MetadataLog snapshots on disk", () => {
  it.effect("writes snapshots in Kafka's layout on the byte cadence, and a restart replays snapshot + log to the same image", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const opts = { logDirs: [dir], nodeId: 1, maxRecordBytesBetweenSnapshots: 2000, maxRetentionBytes: -1, maxRetentionMs: -1 }
      const before = yield* withMetadataLog(opts, (m) =>
        Effect.gen(function*() {
          for (let i = 0; i < 30; i++) {
            yield* m.createTopic({ name: `t${i}`, numPartitions: 2, replicationFactor: 1, configs: { "retention.ms": String(i) } })
            if (i % 3 === 0) yield* m.deleteTopic(`t${i}`)
          }
          yield* m.setBrokerConfigs("", { "log.retention.ms": "1234" })
          return m.current()
        }))
      const files = snapshotFiles(dir)
      expect(files.length).toBeGreaterThan(1)
      // The latest snapshot, read independently: header first, footer last, offsets from 0,
      // every batch in the snapshot's epoch, no producer id.
      const latest = files.at(-1)!
      const [, offsetText, epochText] = /^(\d{20})-(\d{10})\.checkpoint$/.exec(latest)!
      const batches = parseBatches(fs.readFileSync(path.join(dir, PARTITION_DIR, latest)))
      expect(batches.every((b) => b.crcValid && b.magic === 2 && b.producerId === -1n)).toBe(true)
      expect(batches.every((b) => b.partitionLeaderEpoch === Number(epochText))).toBe(true)
      expect(batches[0]!.baseOffset).toBe(0)
      expect(batches[0]!.attributes & 0x20).toBe(0x20)
      expect(Array.from(batches[0]!.records[0]!.key!)).toEqual([0, 0, 0, 3])
      expect(batches.at(-1)!.attributes & 0x20).toBe(0x20)
      expect(Array.from(batches.at(-1)!.records[0]!.key!)).toEqual([0, 0, 0, 4])
      let expected = 0
      for (const b of batches) {
        expect(b.baseOffset).toBe(expected)
        expected += b.records.length
      }
      expect(Number(offsetText)).toBeLessThanOrEqual(before.offset + 1)

      const after = yield* withMetadataLog(opts, (m) => m.image)
      expect(normalize(after)).toEqual(normalize(before))
      expect([...after.topicsByName.keys()].length).toBe(20)
    }))

  it.effect("a snapshot keeps the records Kafka keeps but this broker does not model, verbatim (ACLs, a later Kafka's record types)", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const acl = encodeMetadataRecord({
        type: "AccessControlEntryRecord",
        version: 0,
        data: { id: randomKafkaUuid(), resourceType: 2, resourceName: "t", patternType: 3, principal: "User:bob", host: "*", operation: 2, permissionType: 3 }
      })
      writeKraftLogDir(dir, { nodeId: 1, topics: [{ name: "t", partitions: 1 }], extraBatches: [{ records: data(futureRecord(), acl) }] })
      const opts = { logDirs: [dir], nodeId: 1, maxRecordBytesBetweenSnapshots: 1, maxRetentionBytes: 0, maxRetentionMs: -1, segmentBytes: 300 }
      const before = yield* withMetadataLog(opts, (m) =>
        Effect.gen(function*() {
          // Each commit snapshots (1 byte cadence) and retention 0 drops all but the newest.
          for (let i = 0; i < 5; i++) yield* m.createTopic({ name: `n${i}`, numPartitions: 1, replicationFactor: 1 })
          return m.current()
        }))
      expect(before.retainedRecords.map((r) => r[1])).toContain(99)
      expect(snapshotFiles(dir)).toHaveLength(1)
      expect(fs.readdirSync(path.join(dir, PARTITION_DIR)).filter((f) => f.endsWith(".log")).length).toBeLessThan(3)
      const after = yield* withMetadataLog(opts, (m) => m.image)
      expect(normalize(after)).toEqual(normalize(before))
      expect(after.ignoredRecords.get("apiKey 99")).toBe(1)
      // The snapshot holds the future record's bytes as read.
      const snap = parseBatches(fs.readFileSync(path.join(dir, PARTITION_DIR, snapshotFiles(dir)[0]!)))
      const values = snap.flatMap((b) => b.records.map((r) => Buffer.from(r.value ?? []).toString("hex")))
      expect(values).toContain(Buffer.from(futureRecord()).toString("hex"))
      expect(values).toContain(Buffer.from(acl).toString("hex"))
      expect(after.ignoredRecords.get("AccessControlEntryRecord")).toBe(1)
    }))

  it.effect("deletes a leftover .part snapshot at start-up and keeps the previous snapshot in force", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const fx = writeKraftLogDir(dir, { nodeId: 1, snapshotTopics: [{ name: "s", partitions: 1 }], topics: [{ name: "l", partitions: 1 }] })
      const part = path.join(fx.partitionDir, "00000000000000000500-0000000001-123.checkpoint.part")
      fs.writeFileSync(part, Uint8Array.from([0, 1, 2, 3]))
      const image = yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) => m.image)
      expect([...image.topicsByName.keys()].sort()).toEqual(["l", "s"])
      expect(fs.existsSync(part)).toBe(false)
      expect(snapshotFiles(dir)).toEqual([path.basename(fx.snapshotFile!)])
    }))

  it.effect("time-based snapshots (metadata.log.max.snapshot.interval.ms), rolls (metadata.log.segment.ms) and retention (metadata.max.retention.ms)", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      let clock = 1_700_000_000_000
      const opts = {
        logDirs: [dir],
        nodeId: 1,
        now: () => clock,
        maxSnapshotIntervalMs: 1000,
        maxRecordBytesBetweenSnapshots: 1 << 30,
        maxRetentionMs: 5000,
        maxRetentionBytes: -1,
        segmentMs: 1500
      }
      yield* withMetadataLog(opts, (m) =>
        Effect.gen(function*() {
          for (let i = 0; i < 10; i++) {
            clock += 400
            yield* m.createTopic({ name: `t${i}`, numPartitions: 1, replicationFactor: 1 })
          }
          // 4 s of appends: a snapshot about every second, none old enough to expire yet.
          expect(m.storageStats().snapshots).toBeGreaterThanOrEqual(3)
          expect(m.storageStats().logStartOffset).toBe(0)
          clock += 10_000
          yield* m.createTopic({ name: "late", numPartitions: 1, replicationFactor: 1 })
          // Every snapshot but the newest is now past retention; segments below it are gone.
          expect(m.storageStats().snapshots).toBe(1)
          expect(m.storageStats().logStartOffset).toBeGreaterThan(0)
        }))
      const segments = fs.readdirSync(path.join(dir, PARTITION_DIR)).filter((f) => f.endsWith(".log"))
      expect(segments.length).toBeGreaterThanOrEqual(1)
      expect(segments).not.toContain("00000000000000000000.log")
      const image = yield* withMetadataLog(opts, (m) => m.image)
      expect([...image.topicsByName.keys()].sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `t${i}`), "late"].sort())
      expect(snapshotFiles(dir).length).toBe(1)
    }))

  it.effect("10 000 create/delete topic cycles keep __cluster_metadata-0 under a fixed bound; a restart shows the right topics", () =>
    Effect.gen(function*() {
      const dir = memoryTempDir()
      // Small settings so the bound is reached quickly; the rules are Kafka's.
      const opts = {
        logDirs: [dir],
        nodeId: 1,
        segmentBytes: 64 * 1024,
        maxRecordBytesBetweenSnapshots: 32 * 1024,
        maxRetentionBytes: 128 * 1024,
        maxRetentionMs: -1
      }
      const BOUND = 256 * 1024
      let largest = 0
      yield* withMetadataLog(opts, (m) =>
        Effect.gen(function*() {
          yield* m.createTopic({ name: "keeper", numPartitions: 3, replicationFactor: 1 })
          for (let i = 0; i < 10_000; i++) {
            yield* m.createTopic({ name: "churn", numPartitions: 1, replicationFactor: 1 })
            yield* m.deleteTopic("churn")
            if (i % 500 === 0) largest = Math.max(largest, partitionDirBytes(dir))
          }
          yield* m.createTopic({ name: "last", numPartitions: 2, replicationFactor: 1 })
        }))
      largest = Math.max(largest, partitionDirBytes(dir))
      console.log(`10 000 topic cycles: __cluster_metadata-0 peaked at ${largest} bytes (bound ${BOUND}), ${snapshotFiles(dir).length} snapshot(s) at the end`)
      expect(largest).toBeLessThan(BOUND)
      const image = yield* withMetadataLog(opts, (m) => m.image)
      expect([...image.topicsByName.keys()].sort()).toEqual(["keeper", "last"])
      expect(image.topicsByName.get("keeper")!.partitions.size).toBe(3)
    }), { timeout: 60_000 })
})
