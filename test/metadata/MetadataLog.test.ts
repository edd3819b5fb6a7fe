import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, PubSub } from "effect"
import { FileIo, type FileIoShape, nodeFileIo } from "../../src/storage/FileIo.ts"
import { backgroundRemovalsSettled } from "../../src/log/background-removal.ts"
import type { MetadataImage } from "../../src/metadata/image.ts"
import type { MetadataChange } from "../../src/metadata/MetadataLog.ts"
import { ZERO_UUID } from "../../src/protocol/primitives.ts"
import { type CapturedLog, removeTempDirs, tempDir, withMetadataLog } from "./helpers.ts"
import {
  buildBatch,
  configRecord,
  controlKey,
  data,
  featureLevelRecord,
  futureRecord,
  kraftVersionControl,
  leaderChangeControl,
  parseBatches,
  partitionChangeRecord,
  partitionRecord,
  randomKafkaUuid,
  removeTopicRecord,
  topicRecord,
  writeKraftLogDir
} from "./kraft-fixture.ts"

afterAll(removeTempDirs)

const PARTITION_DIR = "__cluster_metadata-0"
const LOG_FILE = "00000000000000000000.log"
const METADATA_TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"

const readLog = (logDir: string, file = LOG_FILE) => parseBatches(fs.readFileSync(path.join(logDir, PARTITION_DIR, file)))

/** The parts of an image that must survive a restart, as plain data. */
const summary = (image: MetadataImage) => ({
  topics: [...image.topicsByName.values()]
    .map((t) => ({
      name: t.name,
      topicId: t.topicId,
      partitions: [...t.partitions.values()].sort((a, b) => a.partition - b.partition)
    }))
    .sort((a, b) => a.name.localeCompare(b.name)),
  topicConfigs: Object.fromEntries([...image.topicConfigs].map(([k, v]) => [k, Object.fromEntries(v)])),
  brokerConfigs: Object.fromEntries([...image.brokerConfigs].map(([k, v]) => [k, Object.fromEntries(v)])),
  features: Object.fromEntries(image.features)
})

describe("MetadataLog on a directory written by Kafka (hand-built bytes)", () => {
  it.effect("replays topics, ids, partitions, leaders, configs, features and brokers", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const removedId = randomKafkaUuid()
      const fx = writeKraftLogDir(dir, {
        nodeId: 1,
        leaderEpoch: 3,
        topics: [
          { name: "orders", partitions: 3, configs: { "cleanup.policy": "compact", "retention.ms": "60000" } },
          { name: "payments", partitions: 1 }
        ],
        extraBatches: [
          { records: data(topicRecord("old", removedId), partitionRecord({ partitionId: 0, topicId: removedId, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0, directories: [ZERO_UUID] }, 1)) },
          { records: data(removeTopicRecord(removedId)) },
          { records: data(configRecord(2, "orders", "retention.ms", null), futureRecord()) }
        ]
      })
      const orders = fx.topics[0]!
      const payments = fx.topics[1]!

      const result = yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) =>
        Effect.succeed({ image: m.current(), clusterId: m.clusterId, epoch: m.leaderEpoch(), dirs: m.logDirs }))
      const { image } = result

      expect(result.clusterId).toBe(fx.clusterId)
      expect(result.dirs).toEqual([{ logDir: dir, directoryId: fx.directoryId }])
      expect([...image.topicsByName.keys()].sort()).toEqual(["orders", "payments"])
      const o = image.topicsByName.get("orders")!
      expect(o.topicId).toBe(orders.topicId)
      expect(image.topicsById.get(orders.topicId)).toBe(o)
      expect(image.topicsById.get(payments.topicId)?.name).toBe("payments")
      expect(image.topicsById.has(removedId)).toBe(false)
      expect([...o.partitions.keys()]).toEqual([0, 1, 2])
      for (const p of o.partitions.values()) {
        expect(p).toMatchObject({ leader: 1, replicas: [1], isr: [1], leaderEpoch: 0, partitionEpoch: 0, directories: [fx.directoryId] })
      }
      expect(image.topicsByName.get("payments")!.partitions.size).toBe(1)
      expect(Object.fromEntries(image.topicConfigs.get("orders")!)).toEqual({ "cleanup.policy": "compact" })
      expect(image.features.get("metadata.version")).toBe(19)
      const broker = image.brokers.get(1)!
      expect(broker).toMatchObject({ id: 1, epoch: fx.brokerEpoch, fenced: false, logDirs: [fx.directoryId], rack: null })
      expect(broker.endpoints).toEqual([{ name: "PLAINTEXT", host: "localhost", port: 9092, securityProtocol: 0 }])
      expect(image.ignoredRecords.get("apiKey 99")).toBe(1)
      expect(image.ignoredRecords.get("ZkMigrationStateRecord")).toBe(1)

      // Taking over as the only voter moves to the next epoch, as a restarted Kafka does.
      expect(result.epoch).toBe(4)
      const quorum = JSON.parse(fs.readFileSync(path.join(dir, PARTITION_DIR, "quorum-state"), "utf8"))
      expect(quorum).toMatchObject({ leaderId: 1, leaderEpoch: 4, votedId: -1, currentVoters: [{ voterId: 1 }], data_version: 0 })
      expect(fs.readFileSync(path.join(dir, PARTITION_DIR, "leader-epoch-checkpoint"), "utf8")).toBe(`0\n2\n3 0\n4 ${fx.endOffset}\n`)
      const batches = readLog(dir)
      const last = batches.at(-1)!
      expect(last.baseOffset).toBe(fx.endOffset)
      expect(last.partitionLeaderEpoch).toBe(4)
      expect(last.attributes & 0x20).toBe(0x20)
      expect(Array.from(last.records[0]!.key!)).toEqual(Array.from(controlKey(2)))
      expect(image.offset).toBe(fx.endOffset)
    }))

  it.effect("applies PartitionChangeRecord: new leader bumps the leader epoch, every change the partition epoch", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const topicId = randomKafkaUuid()
      writeKraftLogDir(dir, {
        nodeId: 1,
        topics: [{ name: "t", topicId, partitions: 2 }],
        extraBatches: [
          { records: data(partitionChangeRecord(topicId, 1, { isr: [1, 2] })) },
          { records: data(partitionChangeRecord(topicId, 1, { leader: 2 })) }
        ]
      })
      const image = yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) => m.image)
      const p1 = image.topicsById.get(topicId)!.partitions.get(1)!
      expect(p1).toMatchObject({ leader: 2, isr: [1, 2], replicas: [1], leaderEpoch: 1, partitionEpoch: 2 })
      expect(image.topicsById.get(topicId)!.partitions.get(0)).toMatchObject({ leader: 1, leaderEpoch: 0, partitionEpoch: 0 })
    }))

  it.effect("opens a 3.6-era log (metadata.version 14, PartitionRecord v0 without directories) and keeps writing v0", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const fx = writeKraftLogDir(dir, { nodeId: 2, metadataVersion: 14, topics: [{ name: "legacy", partitions: 2 }] })
      const image = yield* withMetadataLog({ logDirs: [dir], nodeId: 2 }, (m) =>
        Effect.gen(function*() {
          const t = yield* m.createTopic({ name: "fresh", numPartitions: 1, replicationFactor: 1 })
          expect(t.partitions.get(0)!.directories).toEqual([])
          return m.current()
        }))
      expect(image.topicsByName.get("legacy")!.partitions.get(0)!.directories).toEqual([])
      expect(image.topicsByName.get("legacy")!.topicId).toBe(fx.topics[0]!.topicId)
      const freshId = image.topicsByName.get("fresh")!.topicId
      const written = readLog(dir).flatMap((b) => b.records).map((r) => r.value).filter((v) => v !== null && v[1] === 3)
      expect(Array.from(written.at(-1)!)).toEqual(Array.from(partitionRecord({ partitionId: 0, topicId: freshId, replicas: [2], isr: [2], leader: 2, leaderEpoch: 0, partitionEpoch: 0 }, 0)))
    }))
})

describe("MetadataLog writes Kafka's format", () => {
  it.effect("formats a fresh directory like kafka-storage format + first election", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const info = yield* withMetadataLog({ logDirs: [dir], nodeId: 7, clusterId: "MkU3OEVBNTcwNTJENDM2Qk" }, (m) =>
        Effect.succeed({ clusterId: m.clusterId, image: m.current(), epoch: m.leaderEpoch() }))
      expect(info.clusterId).toBe("MkU3OEVBNTcwNTJENDM2Qk")
      expect(info.epoch).toBe(1)
      expect(info.image.features.get("metadata.version")).toBe(21)

      const pdir = path.join(dir, PARTITION_DIR)
      expect(fs.readdirSync(pdir).sort()).toEqual(
        ["00000000000000000000.index", LOG_FILE, "00000000000000000000.timeindex", "leader-epoch-checkpoint", "partition.metadata", "quorum-state"]
      )
      expect(fs.readFileSync(path.join(pdir, "partition.metadata"), "utf8")).toBe(`version: 0\ntopic_id: ${METADATA_TOPIC_ID}\n`)
      expect(fs.readFileSync(path.join(pdir, "leader-epoch-checkpoint"), "utf8")).toBe("0\n1\n1 0\n")
      const batches = readLog(dir)
      expect(batches).toHaveLength(2)
      for (const b of batches) {
        expect(b).toMatchObject({ magic: 2, crcValid: true, partitionLeaderEpoch: 1, producerId: -1n })
      }
      expect(batches[0]!.attributes & 0x20).toBe(0x20)
      expect(Array.from(batches[0]!.records[0]!.value!)).toEqual(Array.from(leaderChangeControl(7, [7]).value!))
      expect(batches[1]!.baseOffset).toBe(1)
      expect(batches[1]!.attributes).toBe(0)
      expect(batches[1]!.records[0]!.key).toBeNull()
      expect(Array.from(batches[1]!.records[0]!.value!)).toEqual(Array.from(featureLevelRecord("metadata.version", 21)))
    }))

  it.effect("bootstraps metadata.version when the log holds only control batches (crash right after an election)", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const pdir = path.join(dir, PARTITION_DIR)
      fs.mkdirSync(pdir, { recursive: true })
      fs.writeFileSync(path.join(pdir, LOG_FILE), buildBatch({ baseOffset: 0, leaderEpoch: 1, records: [leaderChangeControl(1, [1])], control: true }))
      const image = yield* withMetadataLog({ logDirs: [dir], nodeId: 1, bootstrapMetadataVersion: 19 }, (m) => m.image)
      expect(image.features.get("metadata.version")).toBe(19)
      const batches = readLog(dir)
      expect(batches.map((b) => [b.baseOffset, b.partitionLeaderEpoch, b.attributes & 0x20])).toEqual([[0, 1, 0x20], [1, 2, 0x20], [2, 2, 0]])
    }))

  it.effect("a topic's records are byte-identical to the hand-encoded Kafka records, all in one batch", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const { topic, directoryId } = yield* withMetadataLog({ logDirs: [dir], nodeId: 3 }, (m) =>
        Effect.gen(function*() {
          const topic = yield* m.createTopic({ name: "events", numPartitions: 2, replicationFactor: 1, configs: { "retention.ms": "1000" } })
          return { topic, directoryId: m.logDirs[0]!.directoryId }
        }))
      const batch = readLog(dir).at(-1)!
      expect(batch.crcValid).toBe(true)
      const expected = [
        topicRecord("events", topic.topicId),
        configRecord(2, "events", "retention.ms", "1000"),
        ...[0, 1].map((p) => partitionRecord({ partitionId: p, topicId: topic.topicId, replicas: [3], isr: [3], leader: 3, leaderEpoch: 0, partitionEpoch: 0, directories: [directoryId] }, 1))
      ]
      expect(batch.records.map((r) => Array.from(r.value!))).toEqual(expected.map((v) => Array.from(v)))
      expect(batch.records.every((r) => r.key === null)).toBe(true)
    }))
})

describe("MetadataLog changes", () => {
  it.effect("create / delete / add partitions / configs survive a restart", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const opts = { logDirs: [dir], nodeId: 1 }
      const before = yield* withMetadataLog(opts, (m) =>
        Effect.gen(function*() {
          yield* m.createTopic({ name: "a", numPartitions: 3, replicationFactor: 1, configs: { "retention.ms": "1000", "cleanup.policy": "delete" } })
          yield* m.createTopic({ name: "b", numPartitions: 1, replicationFactor: -1 })
          const grown = yield* m.createPartitions("a", 5)
          expect([...grown.partitions.keys()]).toEqual([0, 1, 2, 3, 4])
          yield* m.setTopicConfigs("a", { "retention.ms": "2000", "cleanup.policy": null })
          yield* m.setTopicConfigs("b", { "segment.ms": "100" })
          const deleted = yield* m.deleteTopic("b")
          expect(deleted.name).toBe("b")
          yield* m.setBrokerConfigs("", { "log.retention.ms": "5000" })
          return m.current()
        }))
      expect(summary(before).topics.map((t) => t.name)).toEqual(["a"])
      expect(summary(before).topicConfigs).toEqual({ a: { "retention.ms": "2000" } })
      expect(summary(before).brokerConfigs).toEqual({ "": { "log.retention.ms": "5000" } })

      const after = yield* withMetadataLog(opts, (m) => m.image)
      expect(summary(after)).toEqual(summary(before))
      expect(after.topicsByName.get("a")!.partitions.size).toBe(5)
      expect(after.topicsByName.has("b")).toBe(false)
      // b's configs went with it
      expect(after.topicConfigs.has("b")).toBe(false)
    }))

  it.effect("rejects invalid changes with typed errors and writes nothing for them", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) =>
        Effect.gen(function*() {
          yield* m.createTopic({ name: "a.b", numPartitions: 1, replicationFactor: 1 })
          const size = fs.statSync(path.join(dir, PARTITION_DIR, LOG_FILE)).size
          const fail = <E>(e: Effect.Effect<unknown, E>) => Effect.flip(e)
          expect((yield* fail(m.createTopic({ name: "a.b", numPartitions: 1, replicationFactor: 1 })))._tag).toBe("TopicAlreadyExists")
          expect((yield* fail(m.createTopic({ name: "a_b", numPartitions: 1, replicationFactor: 1 })))._tag).toBe("InvalidTopic")
          expect((yield* fail(m.createTopic({ name: "bad name", numPartitions: 1, replicationFactor: 1 })))._tag).toBe("InvalidTopic")
          expect((yield* fail(m.createTopic({ name: "x".repeat(250), numPartitions: 1, replicationFactor: 1 })))._tag).toBe("InvalidTopic")
          expect((yield* fail(m.createTopic({ name: "c", numPartitions: 0, replicationFactor: 1 })))._tag).toBe("InvalidPartitions")
          const rf = yield* fail(m.createTopic({ name: "c", numPartitions: 1, replicationFactor: 3 }))
          expect(rf._tag).toBe("InvalidReplicationFactor")
          expect(rf.message).toContain("only 1 broker(s)")
          expect((yield* fail(m.deleteTopic("missing")))._tag).toBe("UnknownTopic")
          expect((yield* fail(m.createPartitions("missing", 3)))._tag).toBe("UnknownTopic")
          expect((yield* fail(m.createPartitions("a.b", 1)))._tag).toBe("InvalidPartitions")
          expect((yield* fail(m.setTopicConfigs("missing", { a: "b" })))._tag).toBe("UnknownTopic")
          expect(fs.statSync(path.join(dir, PARTITION_DIR, LOG_FILE)).size).toBe(size)
        }))
    }))

  it.effect("topic ids are stable across restarts, unique, and never the zero or metadata UUID", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const opts = { logDirs: [dir], nodeId: 1 }
      const created = yield* withMetadataLog(opts, (m) =>
        Effect.forEach(["t1", "t2", "t3", "t4"], (name) => m.createTopic({ name, numPartitions: 1, replicationFactor: 1 })))
      const ids = created.map((t) => t.topicId)
      expect(new Set(ids).size).toBe(4)
      for (const id of ids) {
        expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/)
        expect(id).not.toBe(ZERO_UUID)
        expect(id).not.toBe(METADATA_TOPIC_ID)
      }
      for (let run = 0; run < 3; run++) {
        const image = yield* withMetadataLog(opts, (m) => m.image)
        expect(["t1", "t2", "t3", "t4"].map((n) => image.topicsByName.get(n)!.topicId)).toEqual(ids)
        for (const id of ids) expect(image.topicsById.get(id)).toBeDefined()
      }
    }))

  it.effect("serializes concurrent changes: one batch per topic, one winner per name", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const outcome = yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) =>
        Effect.gen(function*() {
          const distinct = yield* Effect.forEach(
            Array.from({ length: 20 }, (_, i) => `topic-${i}`),
            (name) => m.createTopic({ name, numPartitions: 4, replicationFactor: 1 }),
            { concurrency: "unbounded" }
          )
          const same = yield* Effect.forEach(
            Array.from({ length: 8 }, () => "contended"),
            (name) => Effect.exit(m.createTopic({ name, numPartitions: 2, replicationFactor: 1 })),
            { concurrency: "unbounded" }
          )
          return { distinct, same }
        }))
      expect(outcome.distinct).toHaveLength(20)
      expect(outcome.same.filter(Exit.isSuccess)).toHaveLength(1)
      const topicBatches = readLog(dir).filter((b) => b.records.some((r) => r.value !== null && r.value[1] === 2))
      expect(topicBatches).toHaveLength(21)
      for (const b of topicBatches) {
        const types = b.records.map((r) => r.value![1])
        expect(types[0]).toBe(2)
        expect(types.slice(1).every((t) => t === 3)).toBe(true)
      }
    }))

  it.effect("forces each change on the thread pool and commits it only once the force returns", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      // Once started, holds every asynchronous fsync until the test lets it go; counts the synchronous ones.
      let holding = false
      const held: Array<() => void> = []
      let syncForces = 0
      const io: FileIoShape = {
        ...nodeFileIo,
        fsync: ((fd: number, callback: (e: NodeJS.ErrnoException | null) => void) => {
          if (holding) held.push(() => fs.fsync(fd, callback))
          else fs.fsync(fd, callback)
        }) as typeof fs.fsync,
        fsyncSync: (fd: number) => {
          syncForces++
          fs.fsyncSync(fd)
        }
      }
      yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) =>
        Effect.gen(function*() {
          const forcesAtStart = syncForces
          holding = true
          const create = yield* Effect.forkChild(m.createTopic({ name: "forced", numPartitions: 1, replicationFactor: 1 }))
          for (let i = 0; i < 100 && held.length === 0; i++) yield* Effect.yieldNow
          // Written, being forced: not committed, and nothing forced on the event loop.
          expect(held).toHaveLength(1)
          expect(readLog(dir).some((b) => b.records.some((r) => r.value !== null && r.value[1] === 2))).toBe(true)
          expect(m.current().topicsByName.has("forced")).toBe(false)
          expect(create.pollUnsafe()).toBeUndefined()
          expect(syncForces).toBe(forcesAtStart)
          held.shift()!()
          const topic = yield* Fiber.join(create)
          expect(m.current().topicsByName.get("forced")?.topicId).toBe(topic.topicId)
        })).pipe(Effect.provideService(FileIo, io))
    }))

  it.effect("removes a deleted segment's file that a crash left, and opens as before", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const t = yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) => m.createTopic({ name: "kept", numPartitions: 1, replicationFactor: 1 }))
      const leftover = path.join(dir, PARTITION_DIR, "00000000000000000000.log.deleted")
      fs.writeFileSync(leftover, "not a batch")
      yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) =>
        Effect.gen(function*() {
          expect(m.current().topicsByName.get("kept")?.topicId).toBe(t.topicId)
          yield* Effect.promise(backgroundRemovalsSettled)
          expect(fs.existsSync(leftover)).toBe(false)
        }))
    }))

  it.effect("tells listeners and subscribers about committed changes before the call returns", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) =>
        Effect.scoped(Effect.gen(function*() {
          const seen: Array<MetadataChange> = []
          yield* m.addListener((c) => seen.push(c))
          const sub = yield* m.subscribe
          const t = yield* m.createTopic({ name: "l", numPartitions: 2, replicationFactor: 1 })
          expect(seen).toHaveLength(1)
          expect(seen[0]!.createdTopics.map((x) => x.topicId)).toEqual([t.topicId])
          expect(seen[0]!.image).toBe(m.current())
          yield* m.createPartitions("l", 3)
          expect(seen[1]!.changedTopics.map((x) => x.name)).toEqual(["l"])
          yield* m.setTopicConfigs("l", { "retention.ms": "1" })
          expect(seen[2]!.changedTopicConfigs).toEqual(["l"])
          yield* m.deleteTopic("l")
          expect(seen[3]!.deletedTopics.map((x) => x.topicId)).toEqual([t.topicId])
          const first = yield* PubSub.take(sub)
          expect(first.createdTopics[0]!.name).toBe("l")
          expect(first.records.map((r) => r.type)).toEqual(["TopicRecord", "PartitionRecord", "PartitionRecord"])
        })))
    }))
})

describe("MetadataLog recovery", () => {
  const lastTopicBatch = (dir: string) => {
    const batches = readLog(dir)
    const withTopic = batches.filter((b) => b.records.some((r) => r.value !== null && r.value[1] === 2))
    return withTopic.at(-1)!
  }

  const tornCases: ReadonlyArray<readonly [string, (file: string, pos: number) => void]> = [
    ["a batch cut short", (file, pos) => fs.truncateSync(file, pos + 30)],
    ["a CRC mismatch", (file, pos) => {
      const bytes = fs.readFileSync(file)
      bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff
      fs.writeFileSync(file, bytes)
      void pos
    }],
    ["garbage after the last batch", (file) => fs.appendFileSync(file, Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0]))]
  ]

  for (const [what, damage] of tornCases) {
    it.effect(`truncates a torn tail (${what}) with a warning`, () =>
      Effect.gen(function*() {
        const dir = tempDir()
        const opts = { logDirs: [dir], nodeId: 1 }
        yield* withMetadataLog(opts, (m) =>
          Effect.gen(function*() {
            yield* m.createTopic({ name: "kept", numPartitions: 1, replicationFactor: 1 })
            yield* m.createTopic({ name: "torn", numPartitions: 2, replicationFactor: 1 })
          }))
        const file = path.join(dir, PARTITION_DIR, LOG_FILE)
        const last = lastTopicBatch(dir)
        const garbageOnly = what.startsWith("garbage")
        damage(file, last.position)

        const logs: Array<CapturedLog> = []
        const image = yield* withMetadataLog(opts, (m) =>
          Effect.gen(function*() {
            yield* m.createTopic({ name: "after", numPartitions: 1, replicationFactor: 1 })
            return m.current()
          }), logs)
        expect(image.topicsByName.has("kept")).toBe(true)
        expect(image.topicsByName.has("torn")).toBe(garbageOnly)
        expect(image.topicsByName.has("after")).toBe(true)
        expect(logs.some((l) => l.level === "Warn" && l.message.includes("torn metadata log tail"))).toBe(true)
        const batches = readLog(dir)
        expect(batches.every((b) => b.crcValid)).toBe(true)
        expect(batches.at(-1)!.position + batches.at(-1)!.size).toBe(fs.statSync(file).size)
        for (let i = 1; i < batches.length; i++) {
          expect(batches[i]!.baseOffset).toBe(batches[i - 1]!.baseOffset + batches[i - 1]!.records.length)
        }

        const again = yield* withMetadataLog(opts, (m) => m.image)
        expect(summary(again)).toEqual(summary(image))
      }))
  }

  it.effect("fails with MetadataLogCorrupted on a CRC-valid batch whose record cannot be decoded", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      writeKraftLogDir(dir, {
        nodeId: 1,
        topics: [],
        // frame version 0: the Kafka 2.8 preview format, which Kafka refuses too
        extraBatches: [{ records: data(Uint8Array.from([0, 2, 0, 1, 0])) }]
      })
      const error = yield* Effect.flip(withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) => m.image))
      expect(error._tag).toBe("MetadataLogCorrupted")
      expect(error.message).toContain("frame version 0")
    }))
})

describe("MetadataLog control batches and snapshots", () => {
  it.effect("skips KRaft control batches anywhere in the log, even with values it cannot read", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const fx = writeKraftLogDir(dir, {
        nodeId: 1,
        topics: [{ name: "first", partitions: 1 }],
        extraBatches: [
          { records: [kraftVersionControl(0), leaderChangeControl(1, [1])], control: true },
          { records: [{ key: controlKey(6), value: Uint8Array.from([0xff, 0xff, 0xff]) }], control: true },
          { records: data(topicRecord("second", "Sm9obm55QmVHb29kQmFzZQ"), partitionRecord({ partitionId: 0, topicId: "Sm9obm55QmVHb29kQmFzZQ", replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0, directories: [ZERO_UUID] }, 1)) }
        ]
      })
      const image = yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) => m.image)
      expect([...image.topicsByName.keys()].sort()).toEqual(["first", "second"])
      expect(image.topicsByName.get("first")!.topicId).toBe(fx.topics[0]!.topicId)
      expect(image.topicsByName.get("second")!.topicId).toBe("Sm9obm55QmVHb29kQmFzZQ")
      expect([...image.ignoredRecords.keys()]).toEqual(["ZkMigrationStateRecord"])
    }))

  it.effect("loads the latest snapshot, then the log after its end offset", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const fx = writeKraftLogDir(dir, {
        nodeId: 1,
        leaderEpoch: 2,
        snapshotTopics: [{ name: "from-snapshot", partitions: 2, configs: { "retention.ms": "42" } }],
        topics: [{ name: "from-log", partitions: 1 }]
      })
      // An older snapshot must lose against the newer one.
      fs.writeFileSync(path.join(fx.partitionDir, "00000000000000000010-0000000001.checkpoint"), Uint8Array.from([1, 2, 3]))
      const opts = { logDirs: [dir], nodeId: 1 }
      const image = yield* withMetadataLog(opts, (m) =>
        Effect.gen(function*() {
          yield* m.createTopic({ name: "new", numPartitions: 1, replicationFactor: 1 })
          return m.current()
        }))
      expect([...image.topicsByName.keys()].sort()).toEqual(["from-log", "from-snapshot", "new"])
      expect(image.topicsByName.get("from-snapshot")!.topicId).toBe(fx.snapshotTopics[0]!.topicId)
      expect(image.topicsByName.get("from-snapshot")!.partitions.size).toBe(2)
      expect(Object.fromEntries(image.topicConfigs.get("from-snapshot")!)).toEqual({ "retention.ms": "42" })
      expect(image.features.get("metadata.version")).toBe(19)
      expect(image.brokers.get(1)?.fenced).toBe(true) // registered in the snapshot, never unfenced
      const batches = readLog(dir, "00000000000000000100.log")
      expect(batches[0]!.baseOffset).toBe(100)
      expect(batches.at(-1)!.baseOffset).toBeGreaterThan(fx.endOffset)
      expect(image.offset).toBe(batches.at(-1)!.baseOffset + batches.at(-1)!.records.length - 1)

      const again = yield* withMetadataLog(opts, (m) => m.image)
      expect(summary(again)).toEqual(summary(image))
    }))

  it.effect("rejects a snapshot without its footer", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const fx = writeKraftLogDir(dir, { nodeId: 1, snapshotTopics: [{ name: "s", partitions: 1 }], topics: [] })
      const file = fx.snapshotFile!
      const batches = parseBatches(fs.readFileSync(file))
      fs.truncateSync(file, batches.at(-1)!.position)
      const error = yield* Effect.flip(withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) => m.image))
      expect(error._tag).toBe("MetadataLogCorrupted")
      expect(error.message).toContain("SnapshotFooterRecord")
    }))

  it.effect("starts the log at the snapshot's end offset when the segments are gone", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const fx = writeKraftLogDir(dir, { nodeId: 1, snapshotTopics: [{ name: "s", partitions: 1 }], topics: [] })
      for (const f of fs.readdirSync(fx.partitionDir)) if (/^\d{20}\.(log|index|timeindex)$/.test(f)) fs.rmSync(path.join(fx.partitionDir, f))
      const image = yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) => m.image)
      expect(image.topicsByName.has("s")).toBe(true)
      expect(readLog(dir, "00000000000000000100.log")[0]!.baseOffset).toBe(100)
    }))

  it.effect("refuses a log that starts after the end of every snapshot", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const pdir = path.join(dir, PARTITION_DIR)
      fs.mkdirSync(pdir, { recursive: true })
      fs.writeFileSync(path.join(pdir, "00000000000000000050.log"), buildBatch({ baseOffset: 50, leaderEpoch: 1, records: data(featureLevelRecord("metadata.version", 19)) }))
      const error = yield* Effect.flip(withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) => m.image))
      expect(error._tag).toBe("MetadataLogCorrupted")
    }))
})

describe("MetadataLog and meta.properties", () => {
  it.effect("writes meta.properties on first start and reads it back on the next", () =>
    Effect.gen(function*() {
      const dirA = tempDir()
      const dirB = tempDir()
      const opts = { logDirs: [dirA, dirB], nodeId: 5 }
      const first = yield* withMetadataLog(opts, (m) =>
        Effect.gen(function*() {
          // With several log dirs the broker, not the controller, picks the directory (UNASSIGNED).
          const t = yield* m.createTopic({ name: "spread", numPartitions: 1, replicationFactor: 1 })
          expect(t.partitions.get(0)!.directories).toEqual([ZERO_UUID])
          return { clusterId: m.clusterId, dirs: m.logDirs }
        }))
      const textA = fs.readFileSync(path.join(dirA, "meta.properties"), "utf8")
      expect(textA.startsWith("#\n#")).toBe(true)
      expect(textA).toContain("version=1\n")
      expect(textA).toContain("node.id=5\n")
      expect(textA).toContain(`cluster.id=${first.clusterId}\n`)
      expect(first.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/)
      expect(first.dirs.map((d) => d.logDir)).toEqual([dirA, dirB])
      expect(textA).toContain(`directory.id=${first.dirs[0]!.directoryId}\n`)
      expect(fs.readFileSync(path.join(dirB, "meta.properties"), "utf8")).toContain(`directory.id=${first.dirs[1]!.directoryId}\n`)
      expect(first.dirs[0]!.directoryId).not.toBe(first.dirs[1]!.directoryId)
      // The metadata log lives in the first log dir only.
      expect(fs.existsSync(path.join(dirA, PARTITION_DIR))).toBe(true)
      expect(fs.existsSync(path.join(dirB, PARTITION_DIR))).toBe(false)

      const second = yield* withMetadataLog(opts, (m) => Effect.succeed({ clusterId: m.clusterId, dirs: m.logDirs }))
      expect(second).toEqual(first)
      expect(fs.readFileSync(path.join(dirA, "meta.properties"), "utf8")).toBe(textA)
    }))

  it.effect("refuses to start when node.id differs from the stored one", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) => m.image)
      const error = yield* Effect.flip(withMetadataLog({ logDirs: [dir], nodeId: 2 }, (m) => m.image))
      expect(error._tag).toBe("MetaPropertiesError")
      expect(error.message).toContain("Stored node id 1")
      expect(error.message).toContain("node.id 2")
    }))

  it.effect("refuses log dirs of two different clusters", () =>
    Effect.gen(function*() {
      const dirA = tempDir()
      const dirB = tempDir()
      writeKraftLogDir(dirA, { nodeId: 1, topics: [] })
      writeKraftLogDir(dirB, { nodeId: 1, topics: [] })
      const error = yield* Effect.flip(withMetadataLog({ logDirs: [dirA, dirB], nodeId: 1 }, (m) => m.image))
      expect(error._tag).toBe("MetaPropertiesError")
      expect(error.message).toContain("Invalid cluster.id")
    }))
})
