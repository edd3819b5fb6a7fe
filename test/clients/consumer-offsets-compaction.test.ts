/**
 * Issue proof: `__consumer_offsets` is compacted like any compacted topic, so a long run of
 * offset commits keeps it bounded; after cleaning, the group's committed offsets are the
 * last ones committed, in this broker and in a broker restarted on the cleaned directory.
 * Commits are a simple consumer's OffsetCommit v8 over the wire (KafkaJS's setOffsets joins
 * the group for every call); KafkaJS's admin reads the offsets back.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import { describe, expect, it } from "vitest"
import { startBroker } from "../../src/broker.ts"
import { OffsetCommit } from "../../src/protocol/generated/apis.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

const SEGMENT_BYTES = 8 * 1024
const PHASES = 6
const COMMITS_PER_PHASE = 200

const properties = (logDir: string) => ({
  "log.dirs": logDir,
  "offsets.topic.num.partitions": "1",
  "offsets.topic.segment.bytes": String(SEGMENT_BYTES),
  // The test cleans through the broker after each phase rather than waiting for the background fiber.
  "log.cleaner.backoff.ms": "3600000"
})

const offsetsTopicBytes = (logDir: string): number => {
  const dir = path.join(logDir, "__consumer_offsets-0")
  return fs.readdirSync(dir).filter((f) => f.endsWith(".log")).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
}

describe("__consumer_offsets under a long run of commits", () => {
  it("stays bounded once cleaned and keeps each partition's last committed offset", { timeout: 180_000 }, async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-offsets-compaction-"))
    const broker = await startBroker({ properties: properties(logDir) })
    const kafka = new Kafka({ clientId: "offsets-compaction", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: "t", numPartitions: 3 }] })
    const sizes: Array<number> = []
    let last = 0
    const wire = await WireClient.connect(broker.port)
    try {
      for (let phase = 0; phase < PHASES; phase++) {
        for (let i = 0; i < COMMITS_PER_PHASE; i++) {
          last = phase * COMMITS_PER_PHASE + i
          wire.write(encodeRequest(OffsetCommit, 8, last, {
            groupId: "g",
            generationIdOrMemberEpoch: -1,
            memberId: "",
            groupInstanceId: null,
            topics: [{ name: "t", partitions: [0, 1, 2].map((partitionIndex) => ({ partitionIndex, committedOffset: BigInt(last + partitionIndex), committedLeaderEpoch: -1, committedMetadata: "" })) }]
          }))
          const body = decodeResponse(OffsetCommit, 8, await wire.read()).body
          expect(body.topics[0].partitions.map((p: { errorCode: number }) => p.errorCode)).toEqual([0, 0, 0])
        }
        await broker.cleanLogs()
        sizes.push(offsetsTopicBytes(logDir))
      }
      // Without cleaning it grows by a phase's worth each time; cleaned, the retained bytes stop growing.
      const written = PHASES * COMMITS_PER_PHASE * 3
      console.log(`__consumer_offsets-0 after each cleaned phase: ${sizes.join(", ")} bytes (${written} offset records written)`)
      expect(Math.max(...sizes.slice(1))).toBeLessThan(4 * SEGMENT_BYTES)
      expect(sizes[sizes.length - 1]!).toBeLessThanOrEqual(sizes[1]! + SEGMENT_BYTES)
      const fetched = await admin.fetchOffsets({ groupId: "g", topics: ["t"] })
      expect(fetched[0]!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([[0, String(last)], [1, String(last + 1)], [2, String(last + 2)]])
    } finally {
      wire.close()
      await admin.disconnect()
      await broker.stop()
    }

    // The cleaned log replays to the same offsets.
    const restarted = await startBroker({ properties: properties(logDir) })
    const admin2 = new Kafka({ clientId: "offsets-compaction-2", brokers: [restarted.bootstrap], logLevel: logLevel.NOTHING }).admin()
    try {
      await admin2.connect()
      const fetched = await admin2.fetchOffsets({ groupId: "g", topics: ["t"] })
      expect(fetched[0]!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([[0, String(last)], [1, String(last + 1)], [2, String(last + 2)]])
    } finally {
      await admin2.disconnect()
      await restarted.stop()
      fs.rmSync(logDir, { recursive: true, force: true })
    }
  })
})
