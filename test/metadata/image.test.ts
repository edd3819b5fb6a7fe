import { describe, expect, it } from "vitest"
import { applyRecords, diffImages, EMPTY_IMAGE, MetadataImageBuilder } from "../../src/metadata/image.ts"
import type { MetadataRecord } from "../../src/protocol/generated/metadata-records.ts"
import { decodeMetadataRecord } from "../../src/metadata/record-serde.ts"
import { configRecord, featureLevelRecord, partitionChangeRecord, partitionRecord, randomKafkaUuid, removeTopicRecord, topicRecord } from "./kraft-fixture.ts"

/** Records from hand-encoded bytes, so these tests do not depend on our encoder. */
const rec = (bytes: Uint8Array): MetadataRecord => {
  const d = decodeMetadataRecord(bytes)
  if (!d.known) throw new Error("unknown record")
  return d.record
}
const beginTxn: MetadataRecord = { type: "BeginTransactionRecord", version: 0, data: { name: null } }
const endTxn: MetadataRecord = { type: "EndTransactionRecord", version: 0, data: {} }
const abortTxn: MetadataRecord = { type: "AbortTransactionRecord", version: 0, data: { reason: null } }

const part = (topicId: string, partitionId: number) =>
  rec(partitionRecord({ partitionId, topicId, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }, 0))

describe("MetadataImage", () => {
  it("indexes topics by name and id, and RemoveTopicRecord drops the topic with its configs", () => {
    const a = randomKafkaUuid()
    const b = randomKafkaUuid()
    const image = applyRecords(EMPTY_IMAGE, [
      rec(topicRecord("a", a)),
      rec(configRecord(2, "a", "retention.ms", "1")),
      part(a, 0),
      part(a, 1),
      rec(topicRecord("b", b)),
      rec(configRecord(2, "b", "retention.ms", "2")),
      part(b, 0),
      rec(removeTopicRecord(b))
    ])
    expect([...image.topicsByName.keys()]).toEqual(["a"])
    expect([...image.topicsById.keys()]).toEqual([a])
    expect(image.topicsByName.get("a")!.partitions.size).toBe(2)
    expect([...image.topicConfigs.keys()]).toEqual(["a"])
  })

  it("ConfigRecord with a null value deletes the key; an emptied resource disappears", () => {
    const image = applyRecords(EMPTY_IMAGE, [
      rec(configRecord(4, "", "log.retention.ms", "5")),
      rec(configRecord(2, "t", "x", "1")),
      rec(configRecord(2, "t", "y", "2")),
      rec(configRecord(2, "t", "x", null)),
      rec(configRecord(4, "", "log.retention.ms", null)),
      rec(configRecord(16, "metrics", "interval.ms", "1"))
    ])
    expect(Object.fromEntries(image.topicConfigs.get("t")!)).toEqual({ y: "2" })
    expect(image.brokerConfigs.size).toBe(0)
    expect(image.ignoredRecords.get("ConfigRecord for resource type 16")).toBe(1)
  })

  it("PartitionChangeRecord: unchanged fields stay, leader change bumps leader epoch, partition epoch always", () => {
    const t = randomKafkaUuid()
    const image = applyRecords(EMPTY_IMAGE, [
      rec(topicRecord("t", t)),
      part(t, 0),
      rec(partitionChangeRecord(t, 0, { isr: [1, 2] })),
      rec(partitionChangeRecord(t, 0, { leader: -1 })),
      rec(partitionChangeRecord(t, 9, { leader: 3 }))
    ])
    expect(image.topicsById.get(t)!.partitions.get(0)).toMatchObject({ isr: [1, 2], leader: -1, replicas: [1], leaderEpoch: 1, partitionEpoch: 2 })
    expect(image.ignoredRecords.get("PartitionChangeRecord for an unknown partition")).toBe(1)
  })

  it("FeatureLevelRecord sets features; level 0 removes one", () => {
    const image = applyRecords(EMPTY_IMAGE, [
      rec(featureLevelRecord("metadata.version", 19)),
      rec(featureLevelRecord("group.version", 1)),
      rec(featureLevelRecord("group.version", 0))
    ])
    expect(Object.fromEntries(image.features)).toEqual({ "metadata.version": 19 })
  })

  it("holds records of a metadata transaction until it ends and drops them on abort or when still open", () => {
    const [x, y, z] = [randomKafkaUuid(), randomKafkaUuid(), randomKafkaUuid()]
    const builder = new MetadataImageBuilder(EMPTY_IMAGE)
    for (const r of [beginTxn, rec(topicRecord("x", x)), endTxn, beginTxn, rec(topicRecord("y", y)), abortTxn, beginTxn, rec(topicRecord("z", z))]) {
      builder.apply(r)
    }
    expect(builder.inTransaction).toBe(true)
    const image = builder.build()
    expect([...image.topicsByName.keys()]).toEqual(["x"])
  })

  it("shares unchanged topics between images and never changes an image already built", () => {
    const a = randomKafkaUuid()
    const b = randomKafkaUuid()
    const first = applyRecords(EMPTY_IMAGE, [rec(topicRecord("a", a)), part(a, 0), rec(topicRecord("b", b)), part(b, 0)])
    const topicA = first.topicsById.get(a)!
    const second = applyRecords(first, [part(b, 1), rec(configRecord(2, "b", "k", "v"))])
    expect(second.topicsById.get(a)).toBe(topicA)
    expect(first.topicsById.get(b)!.partitions.size).toBe(1)
    expect(second.topicsById.get(b)!.partitions.size).toBe(2)
    expect(first.topicConfigs.size).toBe(0)
    const delta = diffImages(first, second)
    expect(delta.changedTopics.map((t) => t.name)).toEqual(["b"])
    expect(delta.createdTopics).toEqual([])
    expect(delta.changedTopicConfigs).toEqual(["b"])

    // A builder reused after build() must not write into the image it returned.
    const builder = new MetadataImageBuilder(EMPTY_IMAGE)
    builder.apply(rec(topicRecord("a", a)))
    builder.apply(rec(configRecord(2, "a", "k", "1")))
    const built = builder.build()
    builder.apply(part(a, 0))
    builder.apply(rec(configRecord(2, "a", "k", "2")))
    const next = builder.build()
    expect(built.topicsById.get(a)!.partitions.size).toBe(0)
    expect(built.topicConfigs.get("a")!.get("k")).toBe("1")
    expect(next.topicsById.get(a)!.partitions.size).toBe(1)
    expect(next.topicConfigs.get("a")!.get("k")).toBe("2")
  })

  it("counts record types it does not interpret", () => {
    const image = applyRecords(EMPTY_IMAGE, [
      { type: "ZkMigrationStateRecord", version: 0, data: { zkMigrationState: 0 } },
      { type: "ZkMigrationStateRecord", version: 0, data: { zkMigrationState: 0 } },
      { type: "NoOpRecord", version: 0, data: {} }
    ])
    expect(Object.fromEntries(image.ignoredRecords)).toEqual({ ZkMigrationStateRecord: 2 })
  })
})
