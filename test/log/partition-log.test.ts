import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { LEADER_EPOCH_CHECKPOINT_FILE, PARTITION_METADATA_FILE } from "../../src/log/checkpoint.ts"
import { OFFSET_INDEX_ENTRY_SIZE, parseOffsetIndex } from "../../src/log/offset-index.ts"
import {
  defaultLogConfig,
  InconsistentTopicIdError,
  type LogConfig,
  OffsetOutOfRangeError,
  PartitionLog,
  RecordBatchTooLargeError,
  ROLLED_SEGMENT_FLUSH_DELAY_MS
} from "../../src/log/partition-log.ts"
import {
  ATTRIBUTES_OFFSET,
  buildRecordBatch,
  LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  readBatchHeader,
  readRecords,
  setInt64,
  validateBatches,
  viewOf,
  writeBatchCrc
} from "../../src/log/record-batch.ts"
import { parseTimeIndex, TIME_INDEX_ENTRY_SIZE } from "../../src/log/time-index.ts"
import { nodeFileIo } from "../../src/storage/FileIo.ts"
import { batchOf, makeTempDir, referenceCrc32c, removeTempDirs } from "./helpers.ts"

afterEach(removeTempDirs)

const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"

const config = (over: Partial<LogConfig> = {}): LogConfig => ({ ...defaultLogConfig, ...over })

const newLog = (over: Partial<LogConfig> = {}, now = 0): PartitionLog =>
  PartitionLog.create(makeTempDir(), "orders", 0, TOPIC_ID, config(over), now)

const reopen = (log: PartitionLog, options: { clean: boolean; now?: number; recoveryPoint?: number; logStartOffset?: number; over?: Partial<LogConfig> }) =>
  PartitionLog.open(log.dir, { ...log.config, ...options.over }, {
    now: options.now ?? 0,
    cleanShutdown: options.clean,
    ...(options.recoveryPoint !== undefined ? { recoveryPoint: options.recoveryPoint } : {}),
    ...(options.logStartOffset !== undefined ? { logStartOffset: options.logStartOffset } : {})
  })

/** Every record from `from` on, following batches the way a consumer does. */
const readAll = (log: PartitionLog, from = log.logStartOffset): Array<{ offset: number; value: string; timestamp: number }> => {
  const out: Array<{ offset: number; value: string; timestamp: number }> = []
  let next = from
  while (next < log.logEndOffset) {
    const { records } = log.read(next, 1 << 20, true)
    const before = next
    let pos = 0
    while (pos + 61 <= records.length) {
      const h = readBatchHeader(records, pos)
      if (pos + h.sizeInBytes > records.length) break
      for (const r of readRecords(records.subarray(pos, pos + h.sizeInBytes))) {
        if (r.offset >= next) out.push({ offset: r.offset, value: Buffer.from(r.value!).toString(), timestamp: r.timestamp })
      }
      next = h.lastOffset + 1
      pos += h.sizeInBytes
    }
    if (next === before) throw new Error(`no progress at ${next}`)
  }
  return out
}

const batchesIn = (bytes: Uint8Array) => {
  const out: Array<{ baseOffset: number; lastOffset: number; size: number }> = []
  let pos = 0
  while (pos + 61 <= bytes.length) {
    const h = readBatchHeader(bytes, pos)
    out.push({ baseOffset: h.baseOffset, lastOffset: h.lastOffset, size: h.sizeInBytes })
    pos += h.sizeInBytes
  }
  return out
}

const segmentFile = (log: PartitionLog, base: number, suffix: string) => path.join(log.dir, String(base).padStart(20, "0") + suffix)

describe("PartitionLog append/read", () => {
  it("assigns consecutive offsets and reads every record back across segments", () => {
    const log = newLog({ segmentBytes: 1000, indexIntervalBytes: 100 })
    const results = []
    for (let i = 0; i < 30; i++) results.push(log.append(batchOf(3, 1000 + i * 3), { now: 0 }))
    expect(results.map((r) => r.baseOffset)).toEqual(Array.from({ length: 30 }, (_, i) => i * 3))
    expect(results[29]).toMatchObject({ lastOffset: 89, logAppendTime: -1, recordCount: 3, logStartOffset: 0 })
    expect(log.logEndOffset).toBe(90)
    expect(log.highWatermark).toBe(90)
    expect(log.numberOfSegments).toBeGreaterThan(3)
    const records = readAll(log)
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 90 }, (_, i) => i))
    expect(records[4]!.value).toBe("v1".padEnd(10, "x"))
    // segment files use Kafka's names
    for (const base of log.segmentBaseOffsets()) {
      for (const suffix of [".log", ".index", ".timeindex"]) expect(fs.existsSync(segmentFile(log, base, suffix))).toBe(true)
    }
    expect(fs.existsSync(path.join(log.dir, "00000000000000000000.log"))).toBe(true)
    // every offset finds the batch containing it
    for (let o = 0; o < 90; o++) {
      const first = batchesIn(log.read(o, 1, true).records)[0]!
      expect(first.baseOffset <= o && o <= first.lastOffset).toBe(true)
    }
    log.close()
  })

  it("returns the whole batch for a fetch from its middle", () => {
    const log = newLog()
    log.append(batchOf(5, 0), { now: 0 })
    const second = batchOf(5, 10)
    const size = second.length
    log.append(second, { now: 0 })
    const { records } = log.read(7, 1 << 20, true)
    expect(records.length).toBe(size)
    expect(readBatchHeader(records)).toMatchObject({ baseOffset: 5, lastOffset: 9 })
    expect([...readRecords(records)].map((r) => r.offset)).toEqual([5, 6, 7, 8, 9])
    log.close()
  })

  it("honours maxBytes: first batch whole with minOneBatch, trailing batch cut at maxBytes", () => {
    const log = newLog()
    const sizes = [batchOf(4, 0), batchOf(4, 10), batchOf(4, 20)].map((b) => {
      log.append(b, { now: 0 })
      return b.length
    })
    const s = sizes[0]!
    expect(log.read(0, s + 10, true).records.length).toBe(s + 10)
    expect(log.read(0, 10, true).records.length).toBe(s)
    expect(log.read(0, 10, false).records.length).toBe(0)
    expect(log.read(0, 0, false).records.length).toBe(0)
    expect(log.read(0, s, false).records.length).toBe(s)
    expect(log.read(0, 1 << 20, false).records.length).toBe(sizes[0]! + sizes[1]! + sizes[2]!)
    const partial = log.read(0, s + 10, true).records
    expect(batchesIn(partial.subarray(0, s))).toEqual([{ baseOffset: 0, lastOffset: 3, size: s }])
    log.close()
  })

  it("reads on from where the last read ended as a fresh read would, in one positioned read", () => {
    let reads = 0
    const io = { ...nodeFileIo, readSync: ((...args: Parameters<typeof nodeFileIo.readSync>) => (reads++, nodeFileIo.readSync(...args))) as typeof nodeFileIo.readSync }
    const log = PartitionLog.create(makeTempDir(), "orders", 0, TOPIC_ID, config({ indexIntervalBytes: 100 }), 0, undefined, io)
    for (let i = 0; i < 24; i++) log.append(batchOf(1 + (i % 4), i * 10, 20 + 7 * i), { now: 0 })
    const all = log.read(0, 1 << 30, true).records
    const batches = batchesIn(all)
    const positionOf = (offset: number) => {
      let p = 0
      for (const b of batches) {
        if (b.lastOffset >= offset) return p
        p += b.size
      }
      return p
    }
    const expected = (offset: number, maxBytes: number, minOneBatch: boolean, maxOffset = log.logEndOffset) => {
      const first = batches.find((b) => b.lastOffset >= offset)!
      if (first.lastOffset >= maxOffset || (!minOneBatch && first.size > maxBytes)) return all.subarray(0, 0)
      const stop = batches.find((b) => b.lastOffset >= maxOffset)
      const at = positionOf(offset)
      const end = stop === undefined ? all.length : positionOf(stop.baseOffset)
      return all.subarray(at, at + Math.min(end - at, minOneBatch ? Math.max(maxBytes, first.size) : maxBytes))
    }
    /** The offset a consumer asks for after reading `length` bytes from `offset`'s batch: after the last whole batch. */
    const nextAfter = (offset: number, length: number) => {
      const at = positionOf(offset)
      let next = offset
      for (const b of batches) {
        const p = positionOf(b.baseOffset)
        if (p >= at && p + b.size <= at + length) next = b.lastOffset + 1
      }
      return next
    }
    for (const maxBytes of [1, 150, 333, 1000, 1 << 20]) {
      let next = 0
      while (next < log.logEndOffset) {
        reads = 0
        const got = log.read(next, maxBytes, true).records
        expect(Buffer.from(got).equals(Buffer.from(expected(next, maxBytes, true)))).toBe(true)
        // Reading on from a whole batch needs no index lookup nor header scan.
        // A first batch larger than maxBytes is read whole in a second read, or not at all.
        if (next > 0) expect(reads).toBe(got.length > maxBytes ? 2 : 1)
        expect(Buffer.from(log.read(next, maxBytes, false).records).equals(Buffer.from(expected(next, maxBytes, false)))).toBe(true)
        next = nextAfter(next, got.length)
      }
    }
    // Below a read limit inside the segment (read_committed, the high watermark) the batches are looked up as before.
    const lso = batches[10]!.baseOffset
    const onward = batches[5]!.baseOffset
    log.read(batches[4]!.baseOffset, batches[4]!.size, true)
    expect(Buffer.from(log.read(onward, 1 << 20, true, lso).records).equals(Buffer.from(expected(onward, 1 << 20, true, lso)))).toBe(true)
    // A read that ended at the log end reads on once more is appended.
    log.read(batches[20]!.baseOffset, 1 << 20, true)
    const appended = log.append(batchOf(3, 999), { now: 0 })
    reads = 0
    expect(batchesIn(log.read(appended.baseOffset, 1 << 20, true).records).map((b) => b.baseOffset)).toEqual([appended.baseOffset])
    expect(reads).toBe(1)
    log.close()
  })

  it("stops at maxOffset and rejects offsets outside the log", () => {
    const log = newLog()
    log.append(batchOf(5, 0), { now: 0 })
    log.append(batchOf(5, 0), { now: 0 })
    expect(batchesIn(log.read(0, 1 << 20, true, 5).records).map((b) => b.baseOffset)).toEqual([0])
    expect(log.read(5, 1 << 20, true, 5).records.length).toBe(0)
    expect(log.read(3, 1 << 20, true, 4).records.length).toBe(0) // the batch reaches past maxOffset
    expect(log.read(10, 100, true)).toMatchObject({ highWatermark: 10, logEndOffset: 10, logStartOffset: 0 })
    expect(log.read(10, 100, true).records.length).toBe(0)
    expect(() => log.read(11, 100, true)).toThrow(OffsetOutOfRangeError)
    expect(() => log.read(-1, 100, true)).toThrow(OffsetOutOfRangeError)
    log.close()
  })

  it("rejects an append larger than a segment", () => {
    const log = newLog({ segmentBytes: 100 })
    expect(() => log.append(batchOf(5, 0), { now: 0 })).toThrow(RecordBatchTooLargeError)
    expect(log.logEndOffset).toBe(0)
    log.close()
  })

  it("stamps LogAppendTime with the injected clock", () => {
    const log = newLog({ messageTimestampType: "LogAppendTime" })
    const result = log.append(batchOf(3, 5), { now: 12_345 })
    expect(result.logAppendTime).toBe(12_345)
    const { records } = log.read(0, 1 << 20, true)
    const h = readBatchHeader(records)
    expect(h).toMatchObject({ maxTimestamp: 12_345, timestampType: "LogAppendTime" })
    expect(h.crc).toBe(referenceCrc32c(records.subarray(ATTRIBUTES_OFFSET, h.sizeInBytes)))
    log.close()
  })

  it("repairs a stale CreateTime maxTimestamp in the header", () => {
    const log = newLog()
    const bytes = batchOf(3, 100)
    setInt64(viewOf(bytes), MAX_TIMESTAMP_OFFSET, 7)
    writeBatchCrc(bytes, 0)
    log.append(bytes, { now: 0 })
    const { records } = log.read(0, 1 << 20, true)
    expect(readBatchHeader(records).maxTimestamp).toBe(102)
    expect(validateBatches(records, { fromClient: false }).ok).toBe(true)
    log.close()
  })
})

describe("segment roll", () => {
  it("rolls when the active segment would exceed segment.bytes", () => {
    const s = batchOf(3, 0).length
    const log = newLog({ segmentBytes: 3 * s })
    for (let i = 0; i < 3; i++) log.append(batchOf(3, 0), { now: 0 })
    expect(log.segmentBaseOffsets()).toEqual([0])
    log.append(batchOf(3, 0), { now: 0 })
    expect(log.segmentBaseOffsets()).toEqual([0, 9])
    expect(fs.statSync(segmentFile(log, 0, ".log")).size).toBe(3 * s)
    log.close()
  })

  it("rolls after segment.ms measured in record time from the first batch", () => {
    const log = newLog({ rollMs: 1000 })
    log.append(batchOf(1, 0), { now: 0 })
    log.append(batchOf(1, 1000), { now: 5_000_000 })
    expect(log.segmentBaseOffsets()).toEqual([0])
    log.append(batchOf(1, 1001), { now: 0 })
    expect(log.segmentBaseOffsets()).toEqual([0, 2])
    log.close()
  })

  it("rolls after segment.ms of clock time when batches carry no timestamp", () => {
    const log = newLog({ rollMs: 1000 }, 100)
    const noTs = () => buildRecordBatch({ records: [{ value: "x" }] })
    log.append(noTs(), { now: 100 })
    log.append(noTs(), { now: 1100 })
    expect(log.numberOfSegments).toBe(1)
    log.append(noTs(), { now: 1101 })
    expect(log.segmentBaseOffsets()).toEqual([0, 2])
    log.close()
  })

  it("rolls when the relative offset would overflow int32", () => {
    const log = newLog()
    log.append(batchOf(1, 0), { now: 0 })
    // A compacted-style batch: one record, but covering 2^31 - 1 offsets.
    const wide = buildRecordBatch({ records: [{ value: "w", timestamp: 1 }] })
    viewOf(wide).setInt32(LAST_OFFSET_DELTA_OFFSET, 0x7fffffff - 1)
    writeBatchCrc(wide, 0)
    const r = log.append(wide, { now: 0 })
    expect(r).toMatchObject({ baseOffset: 1, lastOffset: 0x7fffffff })
    expect(log.numberOfSegments).toBe(1)
    log.append(batchOf(1, 2), { now: 0 })
    expect(log.segmentBaseOffsets()).toEqual([0, 0x80000000])
    expect(fs.existsSync(segmentFile(log, 0x80000000, ".log"))).toBe(true)
    expect(readAll(log).map((x) => x.offset)).toEqual([0, 1, 0x80000000])
    log.close()
  })

  it("rolls when an index is full", () => {
    // 16 index bytes: two offset entries but only one 12-byte time entry.
    const log = newLog({ segmentIndexBytes: 16, indexIntervalBytes: 0 })
    log.append(batchOf(1, 0), { now: 0 })
    log.append(batchOf(1, 1), { now: 0 }) // indexed: time index now full
    expect(log.numberOfSegments).toBe(1)
    log.append(batchOf(1, 2), { now: 0 })
    expect(log.segmentBaseOffsets()).toEqual([0, 2])
    log.close()
  })
})

describe("index files", () => {
  it("write Kafka's entry format at index.interval.bytes, keyed by batch last offset", () => {
    const log = newLog({ indexIntervalBytes: 200 })
    const batches = Array.from({ length: 12 }, (_, i) => batchOf(2 + (i % 3), 1000 + i * 10))
    const positions: Array<number> = []
    let pos = 0
    for (const b of batches) {
      positions.push(pos)
      pos += b.length
      log.append(b, { now: 0 })
    }
    log.close()

    // Kafka's rule: index a batch when more than the interval was written since the last entry.
    const expectedOffsets: Array<{ offset: number; position: number }> = []
    const expectedTimes: Array<{ timestamp: number; offset: number }> = []
    let since = 0
    let next = 0
    let maxTs = -1
    let maxTsOffset = -1
    batches.forEach((b, i) => {
      const count = readBatchHeader(b).recordsCount
      const last = next + count - 1
      const ts = 1000 + i * 10 + count - 1
      if (ts > maxTs) {
        maxTs = ts
        maxTsOffset = last
      }
      if (since > 200) {
        expectedOffsets.push({ offset: last, position: positions[i]! })
        expectedTimes.push({ timestamp: maxTs, offset: maxTsOffset })
        since = 0
      }
      since += b.length
      next = last + 1
    })
    expectedTimes.push({ timestamp: maxTs, offset: maxTsOffset }) // sealed on close

    const indexBytes = fs.readFileSync(segmentFile(log, 0, ".index"))
    expect(indexBytes.length).toBe(expectedOffsets.length * OFFSET_INDEX_ENTRY_SIZE)
    expect(expectedOffsets.length).toBeGreaterThan(3)
    expect(parseOffsetIndex(indexBytes, 0)).toEqual(expectedOffsets)
    // raw bytes: big-endian relative offset then position
    const v = new DataView(indexBytes.buffer, indexBytes.byteOffset)
    expect([v.getInt32(0), v.getInt32(4)]).toEqual([expectedOffsets[0]!.offset, expectedOffsets[0]!.position])

    const timeBytes = fs.readFileSync(segmentFile(log, 0, ".timeindex"))
    expect(timeBytes.length).toBe(expectedTimes.length * TIME_INDEX_ENTRY_SIZE)
    expect(parseTimeIndex(timeBytes, 0)).toEqual(expectedTimes)
    const tv = new DataView(timeBytes.buffer, timeBytes.byteOffset)
    expect([Number(tv.getBigInt64(0)), tv.getInt32(8)]).toEqual([expectedTimes[0]!.timestamp, expectedTimes[0]!.offset])
  })

  it("stores offsets relative to the segment base offset", () => {
    const s = batchOf(3, 0).length
    const log = newLog({ segmentBytes: 4 * s, indexIntervalBytes: 0 })
    for (let i = 0; i < 8; i++) log.append(batchOf(3, i * 10), { now: 0 })
    log.close()
    expect(log.segmentBaseOffsets()).toEqual([0, 12])
    const entries = parseOffsetIndex(fs.readFileSync(segmentFile(log, 12, ".index")), 0)
    // raw relative offsets: batches 2..4 of the segment end at 5, 8, 11 relative to 12
    expect(entries).toEqual([{ offset: 5, position: s }, { offset: 8, position: 2 * s }, { offset: 11, position: 3 * s }])
  })
})

describe("retention", () => {
  const fiveSegments = (over: Partial<LogConfig> = {}) => {
    const s = batchOf(3, 0).length
    const log = newLog({ segmentBytes: s, ...over })
    for (let i = 0; i < 5; i++) log.append(batchOf(3, i * 1000), { now: 0 })
    expect(log.segmentBaseOffsets()).toEqual([0, 3, 6, 9, 12])
    return { log, s }
  }

  it("deletes segments whose newest record is older than retention.ms", () => {
    const { log } = fiveSegments()
    // newest timestamps: 2, 1002, 2002, 3002, 4002
    expect(log.deleteOldSegments(4002, 2000, -1)).toBe(2)
    expect(log.segmentBaseOffsets()).toEqual([6, 9, 12])
    expect(log.logStartOffset).toBe(6)
    expect(fs.existsSync(segmentFile(log, 0, ".log"))).toBe(false)
    expect(fs.existsSync(segmentFile(log, 3, ".index"))).toBe(false)
    expect(() => log.read(5, 100, true)).toThrow(OffsetOutOfRangeError)
    expect(readAll(log)[0]!.offset).toBe(6)
    expect(log.deleteOldSegments(1e12, 0, -1)).toBe(2)
    expect(log.segmentBaseOffsets()).toEqual([12]) // never the active segment
    log.close()
  })

  it("deletes the oldest segments beyond retention.bytes", () => {
    const { log, s } = fiveSegments()
    expect(log.deleteOldSegments(0, -1, Math.floor(2.5 * s))).toBe(2)
    expect(log.segmentBaseOffsets()).toEqual([6, 9, 12])
    expect(log.deleteOldSegments(0, -1, 3 * s)).toBe(0)
    // only whole segments that fit in the excess go
    expect(log.deleteOldSegments(0, -1, 3 * s - 1)).toBe(0)
    expect(log.deleteOldSegments(0, -1, 2 * s)).toBe(1)
    expect(log.logStartOffset).toBe(9)
    log.close()
  })

  it("uses the configured retention by default", () => {
    const { log } = fiveSegments({ retentionMs: 500 })
    expect(log.deleteOldSegments(1600)).toBe(2)
    log.close()
  })

  it("deleteRecords advances the log start offset and drops covered segments", () => {
    const { log } = fiveSegments()
    expect(log.deleteRecords(7)).toBe(7)
    expect(log.segmentBaseOffsets()).toEqual([6, 9, 12])
    expect(() => log.read(6, 100, true)).toThrow(OffsetOutOfRangeError)
    expect(batchesIn(log.read(7, 1, true).records)[0]).toMatchObject({ baseOffset: 6 })
    expect(readAll(log).map((r) => r.offset)[0]).toBe(7)
    expect(log.deleteRecords(3)).toBe(7) // never backwards
    expect(() => log.deleteRecords(16)).toThrow(OffsetOutOfRangeError)
    expect(log.deleteRecords(-1)).toBe(15)
    expect(log.segmentBaseOffsets()).toEqual([12])
    log.close()
    const reopened = reopen(log, { clean: true, logStartOffset: 15 })
    expect(reopened.logStartOffset).toBe(15)
    expect(reopened.logEndOffset).toBe(15)
    reopened.close()
  })
})

describe("recovery", () => {
  const populated = (over: Partial<LogConfig> = {}) => {
    const log = newLog({ indexIntervalBytes: 100, ...over })
    for (let i = 0; i < 10; i++) log.append(batchOf(3, i * 10), { now: 0 })
    return log
  }

  it("reopens after a clean close and continues offsets", () => {
    const log = populated()
    const before = readAll(log)
    log.close()
    const again = reopen(log, { clean: true })
    expect(again.openWarnings).toEqual([])
    expect(again.logEndOffset).toBe(30)
    expect(readAll(again)).toEqual(before)
    expect(again.append(batchOf(2, 500), { now: 0 }).baseOffset).toBe(30)
    expect(again.topicId).toBe(TOPIC_ID)
    again.close()
  })

  it("truncates a torn tail", () => {
    const log = populated()
    const expected = readAll(log)
    log.close()
    const logFile = segmentFile(log, 0, ".log")
    const goodSize = fs.statSync(logFile).size
    fs.appendFileSync(logFile, batchOf(3, 999).subarray(0, 40))
    const again = reopen(log, { clean: false })
    expect(again.openWarnings.some((w) => /truncated 40 bytes/.test(w))).toBe(true)
    expect(fs.statSync(logFile).size).toBe(goodSize)
    expect(again.logEndOffset).toBe(30)
    expect(readAll(again)).toEqual(expected)
    expect(again.append(batchOf(1, 0), { now: 0 }).baseOffset).toBe(30)
    again.close()
  })

  it("truncates at a batch with a bad CRC and keeps everything before it", () => {
    const log = populated()
    const expected = readAll(log).filter((r) => r.offset < 27)
    log.close()
    const logFile = segmentFile(log, 0, ".log")
    const bytes = fs.readFileSync(logFile)
    bytes[bytes.length - 3]! ^= 0x55
    fs.writeFileSync(logFile, bytes)
    const again = reopen(log, { clean: false })
    expect(again.openWarnings.some((w) => /CRC mismatch/.test(w))).toBe(true)
    expect(again.logEndOffset).toBe(27)
    expect(readAll(again)).toEqual(expected)
    again.close()
  })

  it("does not validate segments below the recovery point, and drops segments after a corrupt one", () => {
    const s = batchOf(3, 0).length
    const log = populated({ segmentBytes: 2 * s })
    expect(log.segmentBaseOffsets()).toEqual([0, 6, 12, 18, 24])
    log.close()
    const file = segmentFile(log, 6, ".log")
    const bytes = fs.readFileSync(file)
    bytes[s + 70]! ^= 0x01 // second batch of segment 6
    fs.writeFileSync(file, bytes)

    const trusting = reopen(log, { clean: false, recoveryPoint: 24 })
    expect(trusting.openWarnings).toEqual([])
    expect(trusting.logEndOffset).toBe(30)
    trusting.close()

    const recovering = reopen(log, { clean: false, recoveryPoint: 3 })
    expect(recovering.segmentBaseOffsets()).toEqual([0, 6])
    expect(recovering.logEndOffset).toBe(9)
    expect(fs.existsSync(segmentFile(log, 12, ".log"))).toBe(false)
    expect(recovering.openWarnings.filter((w) => /deleted/.test(w))).toHaveLength(3)
    expect(readAll(recovering).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
    recovering.close()
  })

  it("recovers the unflushed state of a crashed log (indexes never written)", () => {
    const log = populated()
    // crash: no close, so index entries were never flushed
    expect(fs.statSync(segmentFile(log, 0, ".index")).size).toBe(0)
    const crashed = reopen(log, { clean: false })
    expect(crashed.logEndOffset).toBe(30)
    expect(readAll(crashed).length).toBe(30)
    crashed.close()
    log.close()
    const idx = parseOffsetIndex(fs.readFileSync(segmentFile(log, 0, ".index")), 0)
    expect(idx.length).toBeGreaterThan(2)
  })

  it("rebuilds missing index files", () => {
    const s = batchOf(3, 0).length
    const log = populated({ segmentBytes: 4 * s })
    log.close()
    const files = [segmentFile(log, 0, ".index"), segmentFile(log, 0, ".timeindex")]
    const original = files.map((f) => fs.readFileSync(f))
    expect(original[0]!.length).toBeGreaterThan(0)
    for (const f of files) fs.rmSync(f)
    const again = reopen(log, { clean: true })
    expect(again.openWarnings.some((w) => /rebuilding indexes \(offset index: missing\)/.test(w))).toBe(true)
    expect(files.map((f) => fs.readFileSync(f))).toEqual(original)
    expect(readAll(again).length).toBe(30)
    again.close()
  })

  it("rebuilds an index that disagrees with the log", () => {
    const log = populated()
    log.close()
    const file = segmentFile(log, 0, ".index")
    const original = fs.readFileSync(file)
    const bad = Buffer.from(original)
    bad.writeInt32BE(bad.readInt32BE(bad.length - 4) + 1, bad.length - 4) // last entry's position off by one
    fs.writeFileSync(file, bad)
    const again = reopen(log, { clean: true })
    expect(again.openWarnings.some((w) => /rebuilding indexes/.test(w))).toBe(true)
    expect(fs.readFileSync(file)).toEqual(original)
    again.close()
  })

  it("opens Kafka-style preallocated, zero-padded index files and trims them on close", () => {
    const log = populated()
    log.close()
    const index = segmentFile(log, 0, ".index")
    const timeIndex = segmentFile(log, 0, ".timeindex")
    const original = [fs.readFileSync(index), fs.readFileSync(timeIndex)]
    fs.truncateSync(index, 10 * 1024 * 1024)
    fs.truncateSync(timeIndex, Math.floor((10 * 1024 * 1024) / 12) * 12)
    for (const clean of [true, false]) {
      const again = reopen(log, { clean })
      expect(again.openWarnings).toEqual([])
      expect(again.logEndOffset).toBe(30)
      for (let o = 0; o < 30; o += 7) {
        const b = batchesIn(again.read(o, 1, true).records)[0]!
        expect(b.baseOffset <= o && o <= b.lastOffset).toBe(true)
      }
      again.close()
      expect(fs.readFileSync(index)).toEqual(original[0])
      expect(fs.readFileSync(timeIndex)).toEqual(original[1])
      fs.truncateSync(index, 10 * 1024 * 1024)
    }
  })
})

describe("timestamps", () => {
  const build = (over: Partial<LogConfig> = {}) => {
    const log = newLog({ indexIntervalBytes: 0, ...over })
    log.append(buildRecordBatch({ records: [100, 101, 102].map((timestamp) => ({ value: "a", timestamp })) }), { now: 0 })
    log.append(buildRecordBatch({ records: [200, 201, 202].map((timestamp) => ({ value: "b", timestamp })) }), { now: 0 })
    log.append(buildRecordBatch({ records: [150, 300, 160].map((timestamp) => ({ value: "c", timestamp })) }), { now: 0 })
    log.append(buildRecordBatch({ records: [210, 220].map((timestamp) => ({ value: "d", timestamp })) }), { now: 0 })
    return log
  }

  it("finds the first offset at or after a timestamp", () => {
    for (const segmentBytes of [defaultLogConfig.segmentBytes, 100]) {
      const log = build({ segmentBytes })
      expect(log.offsetForTimestamp(0)).toEqual({ offset: 0, timestamp: 100 })
      expect(log.offsetForTimestamp(101)).toEqual({ offset: 1, timestamp: 101 })
      expect(log.offsetForTimestamp(103)).toEqual({ offset: 3, timestamp: 200 })
      expect(log.offsetForTimestamp(203)).toEqual({ offset: 7, timestamp: 300 })
      expect(log.offsetForTimestamp(250)).toEqual({ offset: 7, timestamp: 300 })
      expect(log.offsetForTimestamp(301)).toBeNull()
      expect(log.maxTimestampOffset()).toEqual({ offset: 7, timestamp: 300 })
      log.deleteRecords(4)
      expect(log.offsetForTimestamp(0)).toEqual({ offset: 4, timestamp: 201 })
      log.close()
    }
  })

  it("survives a reopen (max timestamp read back from the time index)", () => {
    const log = build({ segmentBytes: 100 })
    expect(log.numberOfSegments).toBeGreaterThan(1)
    log.close()
    const again = reopen(log, { clean: true })
    expect(again.offsetForTimestamp(203)).toEqual({ offset: 7, timestamp: 300 })
    expect(again.maxTimestampOffset()).toEqual({ offset: 7, timestamp: 300 })
    again.close()
  })

  it("uses the append time under LogAppendTime", () => {
    const log = newLog({ messageTimestampType: "LogAppendTime" })
    log.append(batchOf(3, 0), { now: 1000 })
    log.append(batchOf(3, 0), { now: 2000 })
    expect(log.offsetForTimestamp(1500)).toEqual({ offset: 3, timestamp: 2000 })
    expect(log.offsetForTimestamp(1000)).toEqual({ offset: 0, timestamp: 1000 })
    expect(log.maxTimestampOffset()).toEqual({ offset: 3, timestamp: 2000 })
    log.close()
  })
})

describe("flush policy", () => {
  it("flushes after flush.messages", () => {
    const log = newLog({ flushIntervalMessages: 5 })
    log.append(batchOf(3, 0), { now: 0 })
    expect(log.recoveryPoint).toBe(0)
    log.append(batchOf(3, 0), { now: 0 })
    expect(log.recoveryPoint).toBe(6)
    log.close()
  })

  it("flushes once flush.ms has passed since the last flush (on the thread pool)", async () => {
    const log = newLog({ flushIntervalMs: 1000 }, 0)
    log.append(batchOf(1, 0), { now: 500 })
    expect(log.recoveryPoint).toBe(0)
    expect(log.activeFlushInFlight).toBe(null)
    log.append(batchOf(1, 0), { now: 1000 })
    // The recovery point moves once the fsync has completed.
    expect(log.recoveryPoint).toBe(0)
    await log.activeFlushInFlight
    expect(log.recoveryPoint).toBe(2)
    log.append(batchOf(1, 0), { now: 1500 })
    log.maybeFlush(1500)
    expect(log.activeFlushInFlight).toBe(null)
    expect(log.recoveryPoint).toBe(2)
    log.maybeFlush(2000)
    await log.activeFlushInFlight
    expect(log.recoveryPoint).toBe(3)
    log.close()
  })
})

describe("rolled segments under the default flush policy", () => {
  it("are forced to disk after the kernel's writeback delay (on the thread pool), not at the roll, and at close", async () => {
    const one = batchOf(1, 1000)
    const log = newLog({ segmentBytes: 2 * one.length })
    for (let i = 0; i < 5; i++) log.append(batchOf(1, 1000 + i), { now: 0 })
    expect(log.segmentList().length).toBe(3)
    expect(log.recoveryPoint).toBe(0)
    log.maybeFlush(ROLLED_SEGMENT_FLUSH_DELAY_MS - 1)
    expect(log.rolledFlushInFlight).toBe(null)
    expect(log.recoveryPoint).toBe(0)
    log.maybeFlush(ROLLED_SEGMENT_FLUSH_DELAY_MS)
    // The recovery point moves only once the fsyncs have completed.
    expect(log.recoveryPoint).toBe(0)
    await log.rolledFlushInFlight
    expect(log.recoveryPoint).toBe(4)
    log.append(batchOf(1, 2000), { now: ROLLED_SEGMENT_FLUSH_DELAY_MS })
    log.append(batchOf(1, 2001), { now: ROLLED_SEGMENT_FLUSH_DELAY_MS })
    expect(log.recoveryPoint).toBe(4)
    log.close()
    expect(log.recoveryPoint).toBe(7)
  })

  it("are forced at the roll when flush.messages or flush.ms is set", () => {
    const one = batchOf(1, 1000)
    const log = newLog({ segmentBytes: 2 * one.length, flushIntervalMs: 60_000 })
    for (let i = 0; i < 3; i++) log.append(batchOf(1, 1000 + i), { now: 0 })
    expect(log.recoveryPoint).toBe(2)
    log.close()
  })
})

describe("partition files", () => {
  it("writes leader-epoch-checkpoint and partition.metadata in Kafka's format", () => {
    const log = newLog()
    log.append(batchOf(2, 0), { now: 0, leaderEpoch: 0 })
    log.append(batchOf(2, 0), { now: 0, leaderEpoch: 0 })
    log.append(batchOf(3, 0), { now: 0, leaderEpoch: 3 })
    expect(readBatchHeader(log.read(4, 1, true).records).partitionLeaderEpoch).toBe(3)
    log.flush(0)
    expect(fs.readFileSync(path.join(log.dir, LEADER_EPOCH_CHECKPOINT_FILE), "utf8")).toBe("0\n2\n0 0\n3 4\n")
    expect(fs.readFileSync(path.join(log.dir, PARTITION_METADATA_FILE), "utf8")).toBe(`version: 0\ntopic_id: ${TOPIC_ID}\n`)
    log.deleteRecords(5)
    expect(fs.readFileSync(path.join(log.dir, LEADER_EPOCH_CHECKPOINT_FILE), "utf8")).toBe("0\n1\n3 5\n")
    log.close()
    expect(() => PartitionLog.open(log.dir, log.config, { now: 0, topicId: "AAAAAAAAAAAAAAAAAAAAAg" })).toThrow(InconsistentTopicIdError)
  })

  it("drops epochs past the recovered end of the log", () => {
    const log = newLog()
    log.append(batchOf(2, 0), { now: 0, leaderEpoch: 1 })
    log.append(batchOf(2, 0), { now: 0, leaderEpoch: 2 })
    log.close()
    const file = segmentFile(log, 0, ".log")
    fs.truncateSync(file, fs.statSync(file).size - 5)
    const again = reopen(log, { clean: false })
    expect(again.logEndOffset).toBe(2)
    expect(again.leaderEpochCache.all()).toEqual([{ epoch: 1, startOffset: 0 }])
    expect(again.leaderEpochCache.endOffsetFor(1, again.logEndOffset)).toEqual({ epoch: 1, endOffset: 2 })
    again.close()
  })
})
