import * as zlib from "node:zlib"
import { describe, expect, it } from "vitest"
import {
  assignOffsets,
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  buildRecordBatch,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  readBatchHeader,
  readRecords,
  setInt64,
  validateBatches,
  viewOf,
  writeBatchCrc
} from "../../src/log/record-batch.ts"
import { batchOf, concat, hex, referenceCrc32c } from "./helpers.ts"

/**
 * One record, key "k", value "v", timestamp 1000, no producer, written out field by field
 * from the v2 layout in Kafka's protocol documentation. The CRC was computed with a
 * separate bitwise CRC-32C over the bytes from the attributes field to the end.
 */
const GOLDEN = hex(
  [
    "0000000000000000", // baseOffset
    "0000003a", // batchLength = 58
    "ffffffff", // partitionLeaderEpoch = -1
    "02", // magic
    "716a6189", // crc
    "0000", // attributes
    "00000000", // lastOffsetDelta
    "00000000000003e8", // baseTimestamp = 1000
    "00000000000003e8", // maxTimestamp = 1000
    "ffffffffffffffff", // producerId = -1
    "ffff", // producerEpoch = -1
    "ffffffff", // baseSequence = -1
    "00000001", // recordsCount
    "10", // record length 8 (zigzag varint)
    "00", // record attributes
    "00", // timestampDelta 0
    "00", // offsetDelta 0
    "026b", // key length 1, "k"
    "0276", // value length 1, "v"
    "00" // no headers
  ].join("")
)

const fixCrc = (bytes: Uint8Array, pos = 0): Uint8Array => {
  writeBatchCrc(bytes, pos)
  return bytes
}

describe("CRC-32C", () => {
  it("the reference implementation matches the standard check value", () => {
    expect(referenceCrc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283)
  })

  it("built batches carry the CRC-32C of attributes..end", () => {
    const batch = buildRecordBatch({
      records: [
        { key: "a", value: "hello", timestamp: 5, headers: [{ key: "h", value: "x" }] },
        { key: null, value: null, timestamp: 3 }
      ]
    })
    const stored = viewOf(batch).getUint32(CRC_OFFSET)
    expect(stored).toBe(referenceCrc32c(batch.subarray(ATTRIBUTES_OFFSET)))
  })
})

describe("golden batch", () => {
  it("is parsed by hand-checked layout", () => {
    expect(GOLDEN.length).toBe(70)
    expect(referenceCrc32c(GOLDEN.subarray(ATTRIBUTES_OFFSET))).toBe(0x716a6189)
  })

  it("decodes field by field", () => {
    const h = readBatchHeader(GOLDEN)
    expect(h).toMatchObject({
      baseOffset: 0,
      batchLength: 58,
      sizeInBytes: 70,
      partitionLeaderEpoch: -1,
      magic: 2,
      crc: 0x716a6189,
      compression: 0,
      timestampType: "CreateTime",
      lastOffsetDelta: 0,
      baseTimestamp: 1000,
      maxTimestamp: 1000,
      producerId: -1,
      producerEpoch: -1,
      baseSequence: -1,
      recordsCount: 1
    })
    const records = [...readRecords(GOLDEN)]
    expect(records).toHaveLength(1)
    expect(records[0]!.offset).toBe(0)
    expect(records[0]!.timestamp).toBe(1000)
    expect(Buffer.from(records[0]!.key!).toString()).toBe("k")
    expect(Buffer.from(records[0]!.value!).toString()).toBe("v")
    expect(records[0]!.headers).toEqual([])
    const v = validateBatches(GOLDEN)
    expect(v.ok).toBe(true)
  })

  it("is exactly what buildRecordBatch writes", () => {
    const built = buildRecordBatch({ records: [{ key: "k", value: "v", timestamp: 1000 }] })
    expect(Buffer.from(built).toString("hex")).toBe(Buffer.from(GOLDEN).toString("hex"))
  })
})

describe("validateBatches", () => {
  const expectFailure = (bytes: Uint8Array, code: string, reason: string, options?: Parameters<typeof validateBatches>[1]) => {
    const r = validateBatches(bytes, options)
    if (r.ok) throw new Error("expected a validation failure")
    expect({ code: r.code, reason: r.reason }).toEqual({ code, reason })
    return r
  }

  it("describes several batches", () => {
    const a = buildRecordBatch({ records: [{ value: "a", timestamp: 10 }, { value: "b", timestamp: 30 }] })
    const b = buildRecordBatch({
      records: [{ value: "c", timestamp: 20 }],
      producerId: 7,
      producerEpoch: 2,
      baseSequence: 5,
      isTransactional: true
    })
    const r = validateBatches(concat(a, b))
    if (!r.ok) throw new Error(r.message)
    expect(r.count).toBe(2)
    expect(r.positions).toEqual([0, a.length])
    expect(r.recordCount).toBe(3)
    expect(r.offsetCount).toBe(3)
    expect(r.maxTimestamp).toBe(30)
    expect(r.batches[0]).toMatchObject({ recordCount: 2, maxTimestamp: 30, minTimestamp: 10, isTransactional: false, producerId: -1 })
    expect(r.batches[1]).toMatchObject({ recordCount: 1, producerId: 7, producerEpoch: 2, baseSequence: 5, isTransactional: true, isControl: false })
  })

  it("rejects a CRC mismatch as CORRUPT_MESSAGE", () => {
    const bytes = batchOf(3, 100)
    bytes[bytes.length - 1]! ^= 0xff
    expectFailure(bytes, "CORRUPT_MESSAGE", "crc")
  })

  it("rejects a truncated batch and trailing garbage as CORRUPT_MESSAGE", () => {
    const bytes = batchOf(3, 100)
    expectFailure(bytes.subarray(0, bytes.length - 1), "CORRUPT_MESSAGE", "truncated")
    expectFailure(concat(bytes, new Uint8Array(5)), "CORRUPT_MESSAGE", "truncated")
    const r = expectFailure(concat(bytes, bytes.subarray(0, 40)), "CORRUPT_MESSAGE", "truncated")
    expect(r.batchIndex).toBe(1)
    expect(r.position).toBe(bytes.length)
  })

  it("rejects a batch length below the v2 header", () => {
    const bytes = batchOf(1, 100)
    viewOf(bytes).setInt32(BATCH_LENGTH_OFFSET, 20)
    expectFailure(bytes, "CORRUPT_MESSAGE", "bad-length")
    viewOf(bytes).setInt32(BATCH_LENGTH_OFFSET, -5)
    expectFailure(bytes, "CORRUPT_MESSAGE", "bad-length")
  })

  it("distinguishes legacy magic (INVALID_RECORD) from garbage magic (CORRUPT_MESSAGE)", () => {
    const bytes = batchOf(1, 100)
    bytes[MAGIC_OFFSET] = 1
    expectFailure(bytes, "INVALID_RECORD", "legacy-magic")
    bytes[MAGIC_OFFSET] = 0
    expectFailure(bytes, "INVALID_RECORD", "legacy-magic")
    bytes[MAGIC_OFFSET] = 3
    expectFailure(bytes, "CORRUPT_MESSAGE", "invalid-magic")
  })

  it("rejects an empty payload", () => {
    expectFailure(new Uint8Array(0), "INVALID_RECORD", "empty")
  })

  it("rejects lastOffsetDelta inconsistent with recordsCount", () => {
    const bytes = batchOf(3, 100)
    viewOf(bytes).setInt32(LAST_OFFSET_DELTA_OFFSET, 5)
    expectFailure(fixCrc(bytes), "INVALID_RECORD", "offset-range")
  })

  it("rejects record offset deltas that are not 0..n-1", () => {
    const bytes = buildRecordBatch({ records: [{ value: "a", timestamp: 1 }, { value: "b", timestamp: 1 }] })
    // second record: length varint, attributes, timestampDelta(0), offsetDelta at +3
    const firstLen = bytes[RECORD_BATCH_OVERHEAD]! >> 1
    const second = RECORD_BATCH_OVERHEAD + 1 + firstLen
    expect(bytes[second + 3]).toBe(2) // zigzag(1)
    bytes[second + 3] = 0 // offsetDelta 0 again
    expectFailure(fixCrc(bytes), "INVALID_RECORD", "record")
  })

  it("rejects records that do not fill the batch or overrun it", () => {
    const bytes = batchOf(2, 100)
    viewOf(bytes).setInt32(RECORDS_COUNT_OFFSET, 1)
    viewOf(bytes).setInt32(LAST_OFFSET_DELTA_OFFSET, 0)
    expectFailure(fixCrc(bytes), "INVALID_RECORD", "record")
    const three = batchOf(2, 100)
    viewOf(three).setInt32(RECORDS_COUNT_OFFSET, 3)
    viewOf(three).setInt32(LAST_OFFSET_DELTA_OFFSET, 2)
    expectFailure(fixCrc(three), "INVALID_RECORD", "record")
  })

  it("rejects a record whose length disagrees with its fields", () => {
    const bytes = buildRecordBatch({ records: [{ value: "abc", timestamp: 1 }] })
    const len = bytes[RECORD_BATCH_OVERHEAD]! >> 1
    bytes[RECORD_BATCH_OVERHEAD] = (len - 1) << 1
    expectFailure(fixCrc(bytes), "INVALID_RECORD", "record")
  })

  it("applies client-only rules", () => {
    const control = buildRecordBatch({ records: [{ key: "x", value: "y", timestamp: 1 }], isControl: true })
    expectFailure(control, "INVALID_RECORD", "control")
    expect(validateBatches(control, { fromClient: false }).ok).toBe(true)

    const nonZeroBase = buildRecordBatch({ baseOffset: 42, records: [{ value: "a", timestamp: 1 }] })
    expectFailure(nonZeroBase, "INVALID_RECORD", "base-offset")
    expect(validateBatches(nonZeroBase, { fromClient: false }).ok).toBe(true)

    const noSequence = buildRecordBatch({ producerId: 3, producerEpoch: 0, records: [{ value: "a", timestamp: 1 }] })
    expectFailure(noSequence, "INVALID_RECORD", "sequence")

    const empty = buildRecordBatch({ records: [] })
    expectFailure(empty, "INVALID_RECORD", "count")
    expect(validateBatches(empty, { fromClient: false }).ok).toBe(true)
  })

  it("enforces max.message.bytes as MESSAGE_TOO_LARGE", () => {
    const bytes = batchOf(10, 0, 100)
    expectFailure(bytes, "MESSAGE_TOO_LARGE", "too-large", { maxBatchBytes: bytes.length - 1 })
    expect(validateBatches(bytes, { maxBatchBytes: bytes.length }).ok).toBe(true)
  })

  it("rejects an unknown compression codec", () => {
    const bytes = batchOf(1, 0)
    viewOf(bytes).setInt16(ATTRIBUTES_OFFSET, 5)
    expectFailure(fixCrc(bytes), "CORRUPT_MESSAGE", "unknown-compression")
  })

  it("accepts compressed batches without decompressing them", () => {
    const plain = batchOf(4, 500)
    const compressed = zlib.gzipSync(plain.subarray(RECORD_BATCH_OVERHEAD))
    const bytes = concat(plain.subarray(0, RECORD_BATCH_OVERHEAD), compressed)
    const view = viewOf(bytes)
    view.setInt32(BATCH_LENGTH_OFFSET, bytes.length - 12)
    view.setInt16(ATTRIBUTES_OFFSET, 1)
    fixCrc(bytes)
    const r = validateBatches(bytes)
    if (!r.ok) throw new Error(r.message)
    expect(r.batches[0]).toMatchObject({ compression: 1, recordCount: 4, maxTimestamp: 503 })
    expect(() => [...readRecords(bytes)]).toThrow(/compressed/)
  })

  it("notices a header maxTimestamp that disagrees with the records", () => {
    const bytes = batchOf(3, 100)
    setInt64(viewOf(bytes), MAX_TIMESTAMP_OFFSET, 50)
    const r = validateBatches(fixCrc(bytes))
    if (!r.ok) throw new Error(r.message)
    expect(r.batches[0]!.maxTimestamp).toBe(102)
    expect(r.batches[0]!.headerMaxTimestampStale).toBe(true)
  })
})

describe("assignOffsets", () => {
  it("rewrites base offsets without touching the CRC for CreateTime", () => {
    const a = batchOf(3, 100)
    const b = batchOf(2, 200)
    const bytes = concat(a, b)
    const crcs = [viewOf(bytes).getUint32(CRC_OFFSET), viewOf(bytes).getUint32(a.length + CRC_OFFSET)]
    const r = assignOffsets(bytes, [0, a.length], 1000, null, 7)
    expect(r).toEqual({ firstOffset: 1000, lastOffset: 1004, maxTimestamp: 201, offsetOfMaxTimestamp: 1004 })
    expect(readBatchHeader(bytes, 0)).toMatchObject({ baseOffset: 1000, lastOffset: 1002, partitionLeaderEpoch: 7 })
    expect(readBatchHeader(bytes, a.length)).toMatchObject({ baseOffset: 1003, lastOffset: 1004, partitionLeaderEpoch: 7 })
    expect([viewOf(bytes).getUint32(CRC_OFFSET), viewOf(bytes).getUint32(a.length + CRC_OFFSET)]).toEqual(crcs)
    expect(validateBatches(bytes, { fromClient: false }).ok).toBe(true)
    expect([...readRecords(bytes.subarray(a.length))].map((r) => r.offset)).toEqual([1003, 1004])
  })

  it("stamps LogAppendTime and recomputes the CRC", () => {
    const bytes = batchOf(3, 100)
    const before = viewOf(bytes).getUint32(CRC_OFFSET)
    const r = assignOffsets(bytes, [0], 5, 99_999, undefined)
    expect(r.maxTimestamp).toBe(99_999)
    const h = readBatchHeader(bytes)
    expect(h).toMatchObject({ baseOffset: 5, maxTimestamp: 99_999, timestampType: "LogAppendTime", partitionLeaderEpoch: -1 })
    expect(h.crc).not.toBe(before)
    expect(h.crc).toBe(referenceCrc32c(bytes.subarray(ATTRIBUTES_OFFSET)))
    expect([...readRecords(bytes)].map((r) => r.timestamp)).toEqual([99_999, 99_999, 99_999])
  })
})

describe("buildRecordBatch / readRecords", () => {
  it("round-trips keys, values, headers, nulls and timestamps", () => {
    const bytes = buildRecordBatch({
      baseOffset: 10,
      partitionLeaderEpoch: 3,
      producerId: 12345678901,
      producerEpoch: 4,
      baseSequence: 9,
      records: [
        { key: "a", value: new Uint8Array([1, 2, 3]), timestamp: 1_700_000_000_000, headers: [{ key: "h1", value: "x" }, { key: "h2", value: null }] },
        { key: null, value: null, timestamp: 1_699_999_999_000 },
        { value: "z".repeat(300), timestamp: 1_700_000_000_500 }
      ]
    })
    const h = readBatchHeader(bytes)
    expect(h).toMatchObject({ baseOffset: 10, lastOffset: 12, recordsCount: 3, producerId: 12345678901, maxTimestamp: 1_700_000_000_500 })
    expect(viewOf(bytes).getBigInt64(PRODUCER_ID_OFFSET)).toBe(12345678901n)
    const records = [...readRecords(bytes)]
    expect(records.map((r) => r.offset)).toEqual([10, 11, 12])
    expect(records.map((r) => r.timestamp)).toEqual([1_700_000_000_000, 1_699_999_999_000, 1_700_000_000_500])
    expect(records[0]!.headers.map((x) => [x.key, x.value && Buffer.from(x.value).toString()])).toEqual([["h1", "x"], ["h2", null]])
    expect([...records[0]!.value!]).toEqual([1, 2, 3])
    expect(records[1]!.key).toBeNull()
    expect(records[1]!.value).toBeNull()
    expect(Buffer.from(records[2]!.value!).toString()).toBe("z".repeat(300))
    expect(validateBatches(bytes, { fromClient: false }).ok).toBe(true)
  })
})
