import * as fs from "node:fs"
import { afterEach, describe, expect, it } from "vitest"
import {
  cleanableOffsets,
  cleanRound,
  cleanRoundSync,
  LogCleaningAbortedError,
  type CleanStats,
  filthiest,
  groupSegmentsBySize,
  logToClean
} from "../../../src/log/cleaner/cleaner.ts"
import { backgroundRemovalsSettled } from "../../../src/log/background-removal.ts"
import { OffsetMap } from "../../../src/log/cleaner/offset-map.ts"
import { encodeTxnMarkerBatch } from "../../../src/log/control-records.ts"
import { PartitionLog } from "../../../src/log/partition-log.ts"
import { type FileIoShape, nodeFileIo } from "../../../src/storage/FileIo.ts"
import {
  buildRecordBatch,
  COMPRESSION_GZIP,
  COMPRESSION_LZ4,
  COMPRESSION_SNAPPY,
  COMPRESSION_ZSTD
} from "../../../src/log/record-batch.ts"
import { makeTempDir, removeTempDirs, trackingPaths } from "../helpers.ts"
import { compactedConfig, compressedBatch, latestByKey, newLog, readAll, TOPIC_ID, writeUpdates } from "./helpers.ts"

afterEach(removeTempDirs)

/** One round from the given checkpoint, as the LogCleaner service runs it. */
const round = (log: PartitionLog, now: number, checkpoint?: number, map = new OffsetMap(1 << 20)): CleanStats => {
  const ltc = logToClean(log, checkpoint, now)
  return cleanRoundSync(log, { now, map, firstDirtyOffset: ltc.firstDirtyOffset, firstUncleanableOffset: ltc.firstUncleanableOffset })
}

/** Rounds until the dirty section is empty; returns the final checkpoint. */
const cleanFully = (log: PartitionLog, now: number, checkpoint?: number, map?: OffsetMap): number => {
  let cp = checkpoint
  for (let i = 0; i < 100; i++) {
    const ltc = logToClean(log, cp, now)
    if (ltc.cleanableBytes === 0) return cp ?? log.logStartOffset
    cp = round(log, now, cp, map).endOffset
  }
  throw new Error("cleaning did not converge")
}

describe("log cleaner round", () => {
  it("keeps exactly the latest record per key at its original offset, never touching the active segment", () => {
    const log = newLog()
    writeUpdates(log, 10, 600)
    const before = readAll(log)
    const originalValueAt = new Map(before.records.map((r) => [r.offset, r.value]))
    const activeBase = log.activeSegment.baseOffset
    const activeBefore = before.records.filter((r) => r.offset >= activeBase)
    const segmentsBefore = log.numberOfSegments

    const checkpoint = cleanFully(log, 10_000)
    expect(checkpoint).toBe(activeBase)
    const after = readAll(log)
    // offsets unchanged and strictly increasing
    for (const r of after.records) expect(r.value).toBe(originalValueAt.get(r.offset))
    for (let i = 1; i < after.records.length; i++) expect(after.records[i]!.offset).toBeGreaterThan(after.records[i - 1]!.offset)
    expect(latestByKey(after.records)).toEqual(latestByKey(before.records))
    // below the active segment: one record per key; the active segment as it was
    const cleaned = after.records.filter((r) => r.offset < activeBase)
    expect(new Set(cleaned.map((r) => r.key)).size).toBe(cleaned.length)
    expect(after.records.filter((r) => r.offset >= activeBase)).toEqual(activeBefore)
    expect(log.logEndOffset).toBe(600)
    expect(log.numberOfSegments).toBe(segmentsBefore)
    // the next round merges the small cleaned segments (groups up to segment.bytes)
    writeUpdates(log, 10, 300, 20_000)
    const segmentsBeforeSecond = log.numberOfSegments
    cleanFully(log, 30_000, checkpoint)
    expect(log.numberOfSegments).toBeLessThan(segmentsBeforeSecond)
    const again = readAll(log)
    expect(latestByKey(again.records).size).toBe(10)
    expect(again.records.filter((r) => r.offset < log.activeSegment.baseOffset).length).toBeLessThanOrEqual(10)
  })

  it("the result survives a reopen: indexes and offsets are valid on disk", () => {
    const log = newLog()
    writeUpdates(log, 7, 400)
    cleanFully(log, 10_000)
    const expected = readAll(log)
    log.close()
    const reopened = PartitionLog.open(log.dir, compactedConfig(), { now: 20_000, cleanShutdown: false })
    expect(reopened.openWarnings.filter((w) => !w.includes("rebuilding"))).toEqual([])
    expect(readAll(reopened)).toEqual(expected)
    // random reads land on the right batch through the rebuilt-or-kept offset index
    for (const r of expected.records) {
      const data = reopened.read(r.offset, 1, true)
      expect(data.records.length).toBeGreaterThan(0)
    }
    reopened.close()
  })

  it("removes tombstones only after delete.retention.ms, counted from the round that first kept them", () => {
    const log = newLog({ deleteRetentionMs: 5_000 })
    writeUpdates(log, 5, 200)
    log.append(buildRecordBatch({ records: [{ key: "key-3", value: null, timestamp: 2_000 }] }), { now: 2_000 })
    writeUpdates(log, 4, 120, 3_000) // key-0..3 again? only 0..3 — key-3 gets a value back below
    const latest = latestByKey(readAll(log).records)
    log.roll(5_000)
    // A tombstone for key-4, after which key-4 is never written again.
    log.append(buildRecordBatch({ records: [{ key: "key-4", value: null, timestamp: 5_000 }] }), { now: 5_000 })
    log.roll(5_000)
    const tombstoneOffset = log.logEndOffset - 1

    let cp = cleanFully(log, 10_000)
    let state = readAll(log)
    const tomb = state.records.find((r) => r.key === "key-4")
    expect(tomb).toEqual(expect.objectContaining({ offset: tombstoneOffset, value: null }))
    const horizonBatch = state.batches.find((b) => b.baseOffset <= tombstoneOffset && b.lastOffset >= tombstoneOffset)!
    expect(horizonBatch.hasDeleteHorizon).toBe(true)
    // older key-4 values are gone already
    expect(state.records.filter((r) => r.key === "key-4")).toHaveLength(1)
    expect(latestByKey(state.records).get("key-3")).toBe(latest.get("key-3"))

    // Before the horizon (10 000 + 5 000) the tombstone stays; at it, the next round drops it.
    writeUpdates(log, 2, 50, 11_000)
    log.roll(12_000)
    cp = cleanFully(log, 14_999, cp)
    state = readAll(log)
    expect(state.records.some((r) => r.key === "key-4")).toBe(true)
    writeUpdates(log, 2, 50, 15_000)
    log.roll(16_000)
    cleanFully(log, 15_000, cp)
    state = readAll(log)
    expect(state.records.some((r) => r.key === "key-4")).toBe(false)
    // the tombstone's offset is still covered by the batch boundaries: offsets never reused
    expect(log.logEndOffset).toBeGreaterThan(tombstoneOffset)
  })

  it("rewrites compressed batches with their own codec", () => {
    for (const codec of [COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4, COMPRESSION_ZSTD]) {
      const log = newLog({ segmentBytes: 4096 })
      for (let b = 0; b < 40; b++) {
        const records = Array.from({ length: 5 }, (_, i) => ({ key: `k${(b * 5 + i) % 8}`, value: `v${b * 5 + i}-${"z".repeat(40)}`, timestamp: 1_000 + b }))
        log.append(compressedBatch(codec, { records }), { now: 1_000 + b })
      }
      log.roll(2_000)
      const before = readAll(log)
      cleanFully(log, 10_000)
      const after = readAll(log)
      expect(latestByKey(after.records)).toEqual(latestByKey(before.records))
      expect(after.records).toHaveLength(8)
      const kept = after.batches.filter((b) => b.count > 0)
      expect(kept.length).toBeGreaterThan(0)
      for (const b of kept) expect(b.compression).toBe(codec)
      const valueAt = new Map(before.records.map((r) => [r.offset, r.value]))
      for (const r of after.records) expect(r.value).toBe(valueAt.get(r.offset))
      log.close()
    }
  })

  it("drops records without a key, and keeps a producer's last batch empty", () => {
    const log = newLog()
    log.append(buildRecordBatch({ records: [{ key: null, value: "no-key", timestamp: 1 }] }), { now: 1 })
    // idempotent producer 7: two batches, both overwritten later
    log.append(buildRecordBatch({ records: [{ key: "a", value: "a1", timestamp: 2 }], producerId: 7, producerEpoch: 0, baseSequence: 0 }), { now: 2 })
    log.append(buildRecordBatch({ records: [{ key: "b", value: "b1", timestamp: 3 }], producerId: 7, producerEpoch: 0, baseSequence: 1 }), { now: 3 })
    log.append(buildRecordBatch({ records: [{ key: "a", value: "a2", timestamp: 5 }, { key: "b", value: "b2", timestamp: 5 }] }), { now: 5 })
    log.append(buildRecordBatch({ records: [{ key: "c", value: "c1", timestamp: 6 }] }), { now: 6 })
    log.roll(10)
    log.append(buildRecordBatch({ records: [{ key: "z", value: "active", timestamp: 11 }] }), { now: 11 })
    cleanFully(log, 100)
    const { records, batches } = readAll(log)
    expect(records.map((r) => r.value)).toEqual(["a2", "b2", "c1", "active"])
    expect(records.some((r) => r.key === null)).toBe(false)
    // producer 7's last batch (offset 2) survives without records
    const p7 = batches.filter((b) => b.producerId === 7)
    expect(p7).toEqual([expect.objectContaining({ baseOffset: 2, lastOffset: 2, count: 0 })])
  })

  it("transactions: aborted data goes, committed transactional data is compacted, markers go a delete.retention.ms after their transaction emptied", () => {
    const log = newLog({ deleteRetentionMs: 5_000 })
    const txn = (producerId: number, seq: number, records: Array<[string, string]>, now: number) =>
      log.append(buildRecordBatch({ records: records.map(([key, value]) => ({ key, value, timestamp: now })), producerId, producerEpoch: 0, baseSequence: seq, isTransactional: true }), { now })
    const end = (producerId: number, commit: boolean, now: number) =>
      log.append(encodeTxnMarkerBatch({ producerId, producerEpoch: 0, coordinatorEpoch: 0, commit }, now), { now, origin: "coordinator" })
    log.append(buildRecordBatch({ records: [{ key: "a", value: "a1", timestamp: 1 }] }), { now: 1 }) // 0
    txn(9, 0, [["a", "a-aborted"], ["x", "x-aborted"]], 2) // 1-2
    end(9, false, 3) // 3: ABORT
    txn(10, 0, [["b", "b-committed"]], 4) // 4
    end(10, true, 5) // 5: COMMIT
    txn(9, 2, [["c", "c-committed"]], 6) // 6: producer 9's next transaction
    end(9, true, 7) // 7: COMMIT
    log.append(buildRecordBatch({ records: [{ key: "b", value: "b2", timestamp: 8 }] }), { now: 8 }) // 8
    txn(10, 1, [["d", "d1"]], 9) // 9
    end(10, true, 10) // 10: COMMIT
    log.roll(20)
    log.append(buildRecordBatch({ records: [{ key: "z", value: "active", timestamp: 21 }] }), { now: 21 })
    expect(log.collectAbortedTransactions(0, 11).map((t) => [t.producerId, t.firstOffset, t.lastOffset])).toEqual([[9, 1, 3]])
    const markers = () => readAll(log).batches.filter((b) => b.isControl).map((b) => [b.baseOffset, b.hasDeleteHorizon])

    // Round 1: the aborted records never hide a1 and are gone; b-committed is compacted away.
    round(log, 100)
    expect(readAll(log).records.map((r) => [r.offset, r.value])).toEqual([[0, "a1"], [6, "c-committed"], [8, "b2"], [9, "d1"], [11, "active"]])
    // Every marker stays: each transaction still had a batch in this round (the index keeps the abort).
    expect(markers()).toEqual([[3, false], [5, false], [7, false], [10, false]])
    expect(log.collectAbortedTransactions(0, 11).map((t) => [t.producerId, t.firstOffset])).toEqual([[9, 1]])

    // Round 2: the aborted transaction and p10's first one have no batch left: their markers get a horizon, the abort leaves the index.
    round(log, 200)
    expect(markers()).toEqual([[3, true], [5, true], [7, false], [10, false]])
    expect(log.collectAbortedTransactions(0, 11)).toEqual([])
    round(log, 5_199)
    expect(markers().map(([o]) => o)).toEqual([3, 5, 7, 10])
    // At the horizon (200 + delete.retention.ms) they go; offsets stay as they were.
    round(log, 5_200)
    expect(markers()).toEqual([[7, false], [10, false]])
    expect(readAll(log).records.map((r) => [r.offset, r.value])).toEqual([[0, "a1"], [6, "c-committed"], [8, "b2"], [9, "d1"], [11, "active"]])
    expect(log.logEndOffset).toBe(12)

    // A log with an open transaction is cleaned only below it (the last stable offset).
    txn(11, 0, [["a", "a-open"]], 30) // 12
    log.roll(40)
    log.append(buildRecordBatch({ records: [{ key: "a", value: "a3", timestamp: 41 }] }), { now: 41 })
    log.roll(50)
    expect(log.lastStableOffset).toBe(12)
    expect(logToClean(log, undefined, 6_000).firstUncleanableOffset).toBeLessThanOrEqual(12)
    round(log, 6_000)
    expect(readAll(log).records.filter((r) => r.key === "a").map((r) => r.value)).toEqual(["a1", "a-open", "a3"])
    log.close()
  })

  it("stops where the offset map is full and continues from there in the next round", () => {
    const log = newLog()
    writeUpdates(log, 50, 150)
    log.roll(5_000)
    const before = readAll(log)
    const tiny = new OffsetMap(24 * 40, 1) // 40 keys per round
    const first = round(log, 10_000, undefined, tiny)
    expect(first.mapEntries).toBe(40)
    expect(first.endOffset).toBeLessThan(log.activeSegment.baseOffset)
    cleanFully(log, 10_000, first.endOffset, tiny)
    const after = readAll(log)
    expect(latestByKey(after.records)).toEqual(latestByKey(before.records))
  })
})

describe("forcing the cleaned segment", () => {
  /** The real disk, recording which files' fsyncs ran on the event loop and which on the thread pool. */
  const recordingIo = () => {
    const { io: tracked, pathOf } = trackingPaths()
    const synced: Array<string> = []
    const forcedLater: Array<string> = []
    const io: FileIoShape = {
      ...tracked,
      fsyncSync: (fd: number) => {
        synced.push(pathOf(fd))
        nodeFileIo.fsyncSync(fd)
      },
      fsync: ((fd: number, done: (e: NodeJS.ErrnoException | null) => void) => {
        forcedLater.push(pathOf(fd))
        nodeFileIo.fsync(fd, done)
      }) as FileIoShape["fsync"]
    }
    return { io, synced, forcedLater }
  }
  const cleanedLog = (files: ReadonlyArray<string>) => files.filter((f) => f.endsWith(".log.cleaned"))

  it("a round run as the LogCleaner runs it waits for the cleaned log's fsync on the thread pool, and forces none of it on the event loop", async () => {
    const { io, synced, forcedLater } = recordingIo()
    const log = PartitionLog.create(makeTempDir(), "compacted", 0, TOPIC_ID, compactedConfig(), 0, undefined, io)
    writeUpdates(log, 10, 600)
    const before = readAll(log)
    const ltc = logToClean(log, undefined, 10_000)
    const steps = cleanRound(log, { now: 10_000, map: new OffsetMap(1 << 20), firstDirtyOffset: 0, firstUncleanableOffset: ltc.firstUncleanableOffset })
    let waits = 0
    for (let i = 0; i < 100_000; i++) {
      const step = steps.next()
      if (step.done === true) break
      if (typeof step.value !== "number") {
        waits++
        await step.value
      }
    }
    expect(waits).toBeGreaterThan(0)
    expect(cleanedLog(forcedLater).length).toBe(waits)
    expect(cleanedLog(synced)).toEqual([])
    expect(latestByKey(readAll(log).records)).toEqual(latestByKey(before.records))
  })

  it("a round run without waiting (cleanRoundSync) still forces the cleaned log before the swap", () => {
    const { io, synced } = recordingIo()
    const log = PartitionLog.create(makeTempDir(), "compacted", 0, TOPIC_ID, compactedConfig(), 0, undefined, io)
    writeUpdates(log, 10, 600)
    const ltc = logToClean(log, undefined, 10_000)
    const stats = cleanRoundSync(log, { now: 10_000, map: new OffsetMap(1 << 20), firstDirtyOffset: 0, firstUncleanableOffset: ltc.firstUncleanableOffset })
    expect(stats.groups).toBeGreaterThan(0)
    expect(cleanedLog(synced).length).toBe(stats.groups)
  })
})

describe("a log that changes under the cleaner", () => {
  it("aborts the round when retention or DeleteRecords removes a segment being cleaned, leaving no temporary file", async () => {
    const log = newLog({ segmentBytes: 2048 })
    writeUpdates(log, 10, 200)
    const ltc = logToClean(log, undefined, 10_000)
    const steps = cleanRound(log, { now: 10_000, map: new OffsetMap(1 << 20), firstDirtyOffset: 0, firstUncleanableOffset: ltc.firstUncleanableOffset, chunkBytes: 100 })
    // past the offset map, into the first group
    let cleaning = false
    for (let i = 0; i < 10_000 && !cleaning; i++) {
      steps.next()
      cleaning = fs.readdirSync(log.dir).some((f) => f.endsWith(".cleaned"))
    }
    expect(cleaning).toBe(true)
    log.deleteRecords(log.segmentList()[1]!.baseOffset)
    expect(() => {
      for (let i = 0; i < 10_000; i++) if (steps.next().done === true) break
    }).toThrow(LogCleaningAbortedError)
    await backgroundRemovalsSettled()
    expect(fs.readdirSync(log.dir).filter((f) => /\.(cleaned|swap|deleted)$/.test(f))).toEqual([])
    // the next round goes through
    const after = readAll(log)
    cleanFully(log, 10_000)
    expect(latestByKey(readAll(log).records)).toEqual(latestByKey(after.records))
  })
})

describe("choosing what to clean", () => {
  it("cleans the dirtiest log above min.cleanable.dirty.ratio, none below it", () => {
    const a = newLog({ minCleanableDirtyRatio: 0.5 })
    const b = newLog({ minCleanableDirtyRatio: 0.5 })
    writeUpdates(a, 5, 300)
    writeUpdates(b, 5, 300)
    const cpA = cleanFully(a, 10_000)
    // a: small dirty tail on top of a clean head; b: all dirty
    writeUpdates(a, 5, 30, 20_000)
    a.roll(21_000)
    const la = logToClean(a, cpA, 30_000)
    const lb = logToClean(b, undefined, 30_000)
    expect(lb.cleanableRatio).toBe(1)
    expect(la.cleanableRatio).toBeGreaterThan(0)
    expect(la.cleanableRatio).toBeLessThan(lb.cleanableRatio)
    expect(filthiest([la, lb])?.log).toBe(b)
    expect(filthiest([la])?.log).toBe(la.cleanableRatio > 0.5 ? a : undefined)
    const strict = newLog({ minCleanableDirtyRatio: 1 })
    writeUpdates(strict, 5, 300)
    expect(filthiest([logToClean(strict, undefined, 30_000)])).toBeNull()
  })

  it("honours min.compaction.lag.ms and max.compaction.lag.ms", () => {
    const log = newLog({ minCompactionLagMs: 1_000, minCleanableDirtyRatio: 0.99 })
    writeUpdates(log, 5, 200, 1_000) // timestamps 1 000 .. 1 199
    // at 1 500 every segment is younger than the lag: nothing cleanable
    expect(cleanableOffsets(log, undefined, 1_500).firstUncleanableOffset).toBe(0)
    // at 2 100 the segments whose newest record is before 1 100 are cleanable
    const mid = cleanableOffsets(log, undefined, 2_100).firstUncleanableOffset
    expect(mid).toBeGreaterThan(0)
    expect(mid).toBeLessThanOrEqual(101)
    expect(cleanableOffsets(log, undefined, 10_000).firstUncleanableOffset).toBe(log.activeSegment.baseOffset)

    // a clean head and a small dirty tail: below the 0.99 ratio, until max.compaction.lag.ms forces it
    const lagged = newLog({ maxCompactionLagMs: 5_000, minCleanableDirtyRatio: 0.99 })
    writeUpdates(lagged, 5, 300, 1_000)
    const cp = cleanFully(lagged, 2_000)
    writeUpdates(lagged, 5, 30, 3_000)
    lagged.roll(3_100)
    expect(filthiest([logToClean(lagged, cp, 4_000)])).toBeNull()
    expect(filthiest([logToClean(lagged, cp, 9_000)])?.needCompactionNow).toBe(true)
  })

  it("groups segments up to segment.bytes", () => {
    const log = newLog({ segmentBytes: 1_000 })
    writeUpdates(log, 3, 100)
    const segments = log.segmentList().slice(0, -1)
    const groups = groupSegmentsBySize(segments, 2_500, 1 << 20, log.activeSegment.baseOffset)
    expect(groups.flat()).toEqual(segments)
    for (const g of groups) expect(g.reduce((n, s) => n + s.size, 0)).toBeLessThanOrEqual(2_500)
    expect(groups.length).toBeLessThan(segments.length)
    expect(fs.existsSync(log.dir)).toBe(true)
  })
})
