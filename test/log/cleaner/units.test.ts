import { describe, expect, it } from "vitest"
import { emptyBatchOf, filterBatch, uncompressedView } from "../../../src/log/cleaner/batch-filter.ts"
import { OffsetMap } from "../../../src/log/cleaner/offset-map.ts"
import { Throttler } from "../../../src/log/cleaner/throttler.ts"
import { compressRecords, decompressRecords } from "../../../src/log/compression.ts"
import {
  buildRecordBatch,
  COMPRESSION_GZIP,
  COMPRESSION_LZ4,
  COMPRESSION_SNAPPY,
  COMPRESSION_ZSTD,
  isBatchCrcValid,
  readBatchHeader,
  readRecords,
  validateBatches,
  viewOf
} from "../../../src/log/record-batch.ts"
import { compressedBatch } from "./helpers.ts"

const key = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString())

describe("OffsetMap", () => {
  it("keeps the latest offset per key and the largest offset seen", () => {
    const map = new OffsetMap(24 * 100)
    expect(map.slots).toBe(100)
    expect(map.maxEntries).toBe(90)
    map.put(key("a"), 5)
    map.put(key("b"), 7)
    map.put(key("a"), 9)
    expect([map.get(key("a")), map.get(key("b")), map.get(key("c"))]).toEqual([9, 7, -1])
    expect(map.size).toBe(2)
    expect(map.latestOffset).toBe(9)
    map.updateLatestOffset(20)
    map.updateLatestOffset(3)
    expect(map.latestOffset).toBe(20)
    // binary keys are distinct by every byte
    map.put(Uint8Array.from([0xff, 0]), 1)
    map.put(Uint8Array.from([0xff]), 2)
    expect(map.get(Uint8Array.from([0xff, 0]))).toBe(1)
    map.clear()
    expect([map.size, map.latestOffset, map.get(key("a"))]).toEqual([0, -1, -1])
  })

  it("counts and finds thousands of keys however they are held (a key inside a larger buffer is the same key)", () => {
    const map = new OffsetMap(24 * 20_000)
    for (let round = 0; round < 2; round++) for (let i = 0; i < 10_000; i++) map.put(key(`key-${i}`), round * 10_000 + i)
    expect(map.size).toBe(10_000)
    const backing = Buffer.from("xxkey-4242yy", "latin1")
    expect(map.get(backing.subarray(2, 10))).toBe(14_242)
    expect(map.canPut(backing.subarray(2, 10))).toBe(true)
    for (let i = 0; i < 10_000; i += 997) expect(map.get(key(`key-${i}`))).toBe(10_000 + i)
  })

  it("is bounded by the dedupe buffer: full at slots × load factor, but an existing key may still be updated", () => {
    const map = new OffsetMap(24 * 4, 0.75)
    for (let i = 0; i < 3; i++) map.put(key(`k${i}`), i)
    expect(map.isFull).toBe(true)
    expect(map.canPut(key("new"))).toBe(false)
    expect(map.canPut(key("k1"))).toBe(true)
    expect(() => new OffsetMap(24, 0.5)).toThrow(/too small/)
  })
})

describe("codecs", () => {
  it("round-trip every Kafka codec, and read raw (unframed) snappy", () => {
    const data = new TextEncoder().encode("records ".repeat(20_000))
    for (const codec of [COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4, COMPRESSION_ZSTD]) {
      const c = compressRecords(codec, data)
      expect(c.length).toBeLessThan(data.length / 4)
      expect(Buffer.from(decompressRecords(codec, c)).equals(Buffer.from(data))).toBe(true)
    }
    // xerial framing: magic header, then length-prefixed blocks of at most 32 KiB
    const framed = compressRecords(COMPRESSION_SNAPPY, data)
    expect(Buffer.from(framed.subarray(0, 8)).toString("latin1")).toBe("\x82SNAPPY\0")
  })
})

describe("filterBatch", () => {
  const records = [
    { key: "a", value: "a1", timestamp: 100 },
    { key: "b", value: "b1", timestamp: 101 },
    { key: "a", value: null, timestamp: 102 },
    { key: "c", value: "c1", timestamp: 103 }
  ]
  const original = buildRecordBatch({ baseOffset: 40, records, producerId: 3, producerEpoch: 1, baseSequence: 10, partitionLeaderEpoch: 2 })

  it("keeps retained records at their offsets, the batch's offset span and producer fields", () => {
    const out = filterBatch(original, { retain: (offset) => offset !== 40 && offset !== 43 }, "delete", 5_000)
    expect([out.recordsRead, out.recordsRetained]).toEqual([4, 2])
    const h = readBatchHeader(out.bytes!)
    expect([h.baseOffset, h.lastOffset, h.recordsCount, h.producerId, h.producerEpoch, h.baseSequence, h.partitionLeaderEpoch]).toEqual([40, 43, 2, 3, 1, 10, 2])
    expect(isBatchCrcValid(out.bytes!, viewOf(out.bytes!), 0, h.sizeInBytes)).toBe(true)
    // a retained tombstone stamps the delete horizon; record timestamps are unchanged
    expect(h.hasDeleteHorizonMs).toBe(true)
    expect(h.baseTimestamp).toBe(5_000)
    const got = [...readRecords(out.bytes!)].map((r) => [r.offset, text(r.key), text(r.value), r.timestamp])
    expect(got).toEqual([[41, "b", "b1", 101], [42, "a", null, 102]])
    expect(validateBatches(out.bytes!, { fromClient: false }).ok).toBe(true)
  })

  it("returns the original bytes when everything is kept and there is no new tombstone", () => {
    const plain = buildRecordBatch({ records: records.filter((r) => r.value !== null) })
    const out = filterBatch(plain, { retain: () => true }, "delete", 0)
    expect(out.bytes).toEqual(plain)
  })

  it("drops an emptied batch, or keeps its header when asked (a producer's last sequence)", () => {
    expect(filterBatch(original, { retain: () => false }, "delete", 0).bytes).toBeNull()
    const empty = filterBatch(original, { retain: () => false }, "retain-empty", 0).bytes!
    const h = readBatchHeader(empty)
    expect([h.baseOffset, h.lastOffset, h.recordsCount, h.producerId, h.baseSequence, h.sizeInBytes, h.compression]).toEqual([40, 43, 0, 3, 10, 61, 0])
    expect(h.baseTimestamp).toBe(h.maxTimestamp)
    expect(empty).toEqual(emptyBatchOf(original))
    expect(validateBatches(empty, { fromClient: false }).ok).toBe(true)
  })

  it("recompresses a compressed batch with its codec", () => {
    for (const codec of [COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4, COMPRESSION_ZSTD]) {
      const batch = compressedBatch(codec, { baseOffset: 100, records: records.filter((r) => r.value !== null) })
      const out = filterBatch(batch, { retain: (offset) => offset !== 101 }, "delete", 0).bytes!
      const h = readBatchHeader(out)
      expect(h.compression).toBe(codec)
      expect(isBatchCrcValid(out, viewOf(out), 0, h.sizeInBytes)).toBe(true)
      expect([...readRecords(uncompressedView(out, h))].map((r) => [r.offset, text(r.value)])).toEqual([[100, "a1"], [102, "c1"]])
    }
  })
})

describe("Throttler", () => {
  it("sleeps just long enough to bring the rate down to the limit, checking every 300 ms", () => {
    const t = new Throttler(1_000) // bytes per second
    expect(t.observe(500, 0)).toBe(0)
    expect(t.observe(500, 100)).toBe(0) // within the check interval
    // 1 500 bytes in 400 ms is 3 750 B/s: sleep until 1.5 s have passed
    expect(t.observe(500, 400)).toBe(1_100)
    // below the limit: no sleep
    expect(t.observe(100, 2_000)).toBe(0)
    expect(new Throttler(Number.MAX_VALUE).observe(1e12, 1)).toBe(0)
  })
})
