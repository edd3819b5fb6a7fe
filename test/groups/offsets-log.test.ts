/**
 * The GroupLog over the real storage (metadata log, LogStore): `__consumer_offsets` is created
 * on first use with Kafka's configs, records land in the group's partition in Kafka's
 * format (transactional offsets as a transactional batch of their producer), and a restart
 * replays them, resolving transactional offsets by the markers the transaction coordinator
 * wrote into the log.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, ManagedRuntime, References } from "effect"
import { describe, expect, it } from "vitest"
import { StorageLayer } from "../../src/broker.ts"
import { Config } from "../../src/config/Config.ts"
import { CONSUMER_OFFSETS_TOPIC, coordinatorPartitionFor } from "../../src/coordinator/internal-topics.ts"
import { decodeGroupRecord } from "../../src/groups/coordinator-records.ts"
import { GroupCoordinator } from "../../src/groups/GroupCoordinator.ts"
import { replayBatches, type ReplayedEntry } from "../../src/groups/GroupLog.ts"
import { encodeTxnMarkerBatch } from "../../src/log/control-records.ts"
import { LogStore } from "../../src/log/LogStore.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { Topics } from "../../src/topics/Topics.ts"

const open = (logDir: string) =>
  ManagedRuntime.make(
    StorageLayer.pipe(
      Layer.provide(Config.layerFromValues({ "log.dirs": logDir, "offsets.topic.num.partitions": "4", "group.initial.rebalance.delay.ms": "0" })),
      Layer.provide(Layer.succeed(References.MinimumLogLevel, "None")),
      Layer.orDie
    )
  )

const services = Effect.gen(function*() {
  return { gc: yield* GroupCoordinator, logs: yield* LogStore, topics: yield* Topics }
})

const offset = (partition: number, value: bigint) => ({ topic: "t", partition, offset: value, leaderEpoch: 2, metadata: "md", commitTimestampMs: -1 })
const txn = (producerId: number, partition: number, value: bigint) => ({
  groupId: "g", generationId: -1, memberId: "", groupInstanceId: null, apiVersion: 3,
  offsets: [offset(partition, value)], transactionalId: `tx-${producerId}`, producerId, producerEpoch: 0
})

describe("__consumer_offsets on disk", () => {
  it("is created on first use, holds Kafka's records, and replays them (transactional offsets resolved by markers)", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "offsets-log-"))
    const p = coordinatorPartitionFor("g", 4)
    const first = open(logDir)
    try {
      const { gc, logs, topics } = await first.runPromise(services)
      expect(topics.image().topicsByName.has(CONSUMER_OFFSETS_TOPIC)).toBe(false)
      expect(await first.runPromise(gc.commitOffsets({ groupId: "g", generationId: -1, memberId: "", groupInstanceId: null, apiVersion: 8, offsets: [offset(0, 10n)] })))
        .toEqual([ErrorCode.NONE])
      const topic = topics.image().topicsByName.get(CONSUMER_OFFSETS_TOPIC)!
      expect(topic.partitions.size).toBe(4)
      const config = topics.topicConfig(CONSUMER_OFFSETS_TOPIC)
      expect([config.get("cleanup.policy"), config.get("compression.type"), config.get("segment.bytes")]).toEqual(["compact", "producer", "104857600"])
      // Compact-only: time and size retention (which LogStore applies to "delete" logs only) never delete its segments.
      const partitionLog = logs.findPartition(CONSUMER_OFFSETS_TOPIC, p)!
      expect([partitionLog.config.segmentBytes, partitionLog.config.cleanupPolicy]).toEqual([104857600, ["compact"]])

      expect(await first.runPromise(gc.commitTransactionalOffsets(txn(5, 1, 51n)))).toEqual([ErrorCode.NONE])
      expect(await first.runPromise(gc.commitTransactionalOffsets(txn(6, 2, 62n)))).toEqual([ErrorCode.NONE])
      // The transaction coordinator commits producer 5's transaction: its marker goes into the group's partition.
      await first.runPromise(logs.append(CONSUMER_OFFSETS_TOPIC, p, encodeTxnMarkerBatch({ producerId: 5, producerEpoch: 0, coordinatorEpoch: 0, commit: true }, Date.now()), { origin: "coordinator" }))

      // What is on disk: plain and transactional OffsetCommit batches, and the marker.
      const data = await first.runPromise(logs.read(CONSUMER_OFFSETS_TOPIC, p, 0, 1 << 20, true))
      const entries: Array<ReplayedEntry> = []
      replayBatches(data.records, p, 0, (e) => entries.push(e), () => {})
      expect(entries.map((e) => (e._tag === "Marker" ? ["marker", e.producerId, e.commit] : [decodeGroupRecord(e.record)._tag, e.producerId])))
        .toEqual([["OffsetCommit", -1], ["OffsetCommit", 5], ["OffsetCommit", 6], ["marker", 5, true]])
    } finally {
      await first.dispose()
    }

    const second = open(logDir)
    try {
      const { gc } = await second.runPromise(services)
      const fetched = await second.runPromise(gc.fetchOffsets("g", [{ topic: "t", partitions: [0, 1, 2] }], true))
      expect(fetched.topics[0]!.partitions.map((x) => [x.partition, x.offset, x.errorCode])).toEqual([
        [0, 10n, ErrorCode.NONE],
        [1, 51n, ErrorCode.NONE],
        [2, -1n, ErrorCode.UNSTABLE_OFFSET_COMMIT]
      ])
      await second.runPromise(gc.onTransactionCompleted(6, [p], false))
      const after = await second.runPromise(gc.fetchOffsets("g", [{ topic: "t", partitions: [2] }], true))
      expect(after.topics[0]!.partitions[0]).toMatchObject({ offset: -1n, errorCode: ErrorCode.NONE })
    } finally {
      await second.dispose()
    }
  })

  it("a deleted topic takes its committed offsets with it (tombstones, also after a restart)", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "offsets-deleted-topic-"))
    const runtime = open(logDir)
    const commit = (topic: string) => ({ groupId: "g", generationId: -1, memberId: "", groupInstanceId: null, apiVersion: 8, offsets: [{ ...offset(0, 7n), topic }] })
    try {
      const { gc, topics } = await runtime.runPromise(services)
      for (const name of ["kept", "gone"]) {
        await runtime.runPromise(topics.create({ name, numPartitions: 1, replicationFactor: -1, configs: [], validateOnly: false }))
        expect(await runtime.runPromise(gc.commitOffsets(commit(name)))).toEqual([ErrorCode.NONE])
      }
      await runtime.runPromise(topics.delete("gone"))
      const committedTopics = async () => (await runtime.runPromise(gc.fetchOffsets("g", null))).topics.map((t) => t.topic)
      for (let i = 0; i < 1000 && (await committedTopics()).includes("gone"); i++) await new Promise((resolve) => setImmediate(resolve))
      expect(await committedTopics()).toEqual(["kept"])
    } finally {
      await runtime.dispose()
    }
    const again = open(logDir)
    try {
      const { gc } = await again.runPromise(services)
      expect((await again.runPromise(gc.fetchOffsets("g", null))).topics.map((t) => t.topic)).toEqual(["kept"])
    } finally {
      await again.dispose()
    }
  })
})
