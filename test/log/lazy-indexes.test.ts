/**
 * Sealed segments' index entries on demand (src/log/index-residency.ts): a log opens the
 * segments below its recovery point reading only their index files' last entries, as Kafka
 * does since KAFKA-7283; a lookup reads the entries it needs; beyond the budget the least
 * recently used leave memory; what a load finds wrong is rebuilt from the log and reported;
 * and a segment whose entries left memory before they were forced is forced at close.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { readIndexFileEnd } from "../../src/log/index-file.ts"
import { IndexResidency } from "../../src/log/index-residency.ts"
import { OFFSET_INDEX_ENTRY_SIZE } from "../../src/log/offset-index.ts"
import { TIME_INDEX_ENTRY_SIZE } from "../../src/log/time-index.ts"
import { defaultLogConfig, type LogConfig, PartitionLog } from "../../src/log/partition-log.ts"
import { baseOffsetAt } from "../../src/log/record-batch.ts"
import { type FileIoShape, nodeFileIo } from "../../src/storage/FileIo.ts"
import { batchOf, makeTempDir, removeTempDirs, trackingPaths } from "./helpers.ts"

afterEach(removeTempDirs)

const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"
/** Small segments indexed at every batch but each one's first: several entries per sealed segment. */
const CONFIG: LogConfig = { ...defaultLogConfig, segmentBytes: 1024, indexIntervalBytes: 0 }
const BATCHES = 40
const RECORDS_PER_BATCH = 3
const LOG_END = BATCHES * RECORDS_PER_BATCH
/** Batch i holds offsets 3i..3i+2 with timestamps 1000+10i.. */
const timestampOf = (batch: number): number => 1000 + 10 * batch

/** A closed log of BATCHES batches over several segments; returns its directory. */
const writtenLog = (): string => {
  const log = PartitionLog.create(makeTempDir(), "orders", 0, TOPIC_ID, CONFIG, 0)
  for (let i = 0; i < BATCHES; i++) log.append(batchOf(RECORDS_PER_BATCH, timestampOf(i)), { now: 0 })
  expect(log.segmentList().length).toBeGreaterThan(4)
  log.close()
  return log.dir
}

/** node:fs recording which files are opened, how many bytes are read of each, and which are forced. */
const watchingIo = () => {
  const bytesRead = new Map<string, number>()
  const { io: tracked, opened, pathOf } = trackingPaths()
  const forced: Array<string> = []
  const io: FileIoShape = {
    ...tracked,
    readFileSync: ((file: fs.PathOrFileDescriptor, options?: unknown) => {
      const content = nodeFileIo.readFileSync(file, options as undefined)
      bytesRead.set(String(file), (bytesRead.get(String(file)) ?? 0) + content.length)
      return content
    }) as FileIoShape["readFileSync"],
    readSync: ((fd: number, buffer: NodeJS.ArrayBufferView, offset: number, length: number, position: fs.ReadPosition | null) => {
      const n = nodeFileIo.readSync(fd, buffer, offset, length, position)
      const file = pathOf(fd)
      bytesRead.set(file, (bytesRead.get(file) ?? 0) + n)
      return n
    }) as FileIoShape["readSync"],
    fsyncSync: (fd) => {
      forced.push(pathOf(fd))
      nodeFileIo.fsyncSync(fd)
    }
  }
  return { io, bytesRead, opened, forced }
}

/** Every offset reads back from the batch holding it; some timestamps find their offsets. */
const expectReadsRight = (log: PartitionLog, offsets: ReadonlyArray<number>): void => {
  for (const offset of offsets) {
    const { records } = log.read(offset, 1 << 20, true)
    const view = new DataView(records.buffer, records.byteOffset, records.byteLength)
    expect(baseOffsetAt(view, 0)).toBe(offset - (offset % RECORDS_PER_BATCH))
    const batch = Math.floor(offset / RECORDS_PER_BATCH)
    expect(log.offsetForTimestamp(timestampOf(batch))).toEqual({ offset: batch * RECORDS_PER_BATCH, timestamp: timestampOf(batch) })
  }
}

const allOffsets = Array.from({ length: LOG_END }, (_, i) => i)

describe("sealed segments' index entries on demand", () => {
  it("opens the segments below the recovery point without reading their index files, and reads one on first lookup", () => {
    const dir = writtenLog()
    const { io, bytesRead } = watchingIo()
    const residency = new IndexResidency(Number.POSITIVE_INFINITY)
    const log = PartitionLog.open(dir, CONFIG, { now: 0, cleanShutdown: true, io, indexResidency: residency })
    const segments = log.segmentList()
    const sealed = segments.slice(0, -1)
    // Of each sealed segment's index files, the last entry alone.
    for (const s of sealed) {
      expect(fs.statSync(s.offsetIndexPath).size).toBeGreaterThan(2 * OFFSET_INDEX_ENTRY_SIZE)
      expect(bytesRead.get(s.offsetIndexPath)).toBe(OFFSET_INDEX_ENTRY_SIZE)
      expect(bytesRead.get(s.timeIndexPath)).toBe(TIME_INDEX_ENTRY_SIZE)
    }
    expect(sealed.map((s) => s.indexesLoaded)).toEqual(sealed.map(() => false))
    // The cleaner sizes its groups by entry counts, which need no load either.
    expect(sealed.map((s) => s.offsetIndexEntries)).toEqual(sealed.map((s) => fs.statSync(s.offsetIndexPath).size / OFFSET_INDEX_ENTRY_SIZE))
    expect(sealed.map((s) => s.timeIndexEntries)).toEqual(sealed.map((s) => fs.statSync(s.timeIndexPath).size / TIME_INDEX_ENTRY_SIZE))
    expect(sealed.map((s) => s.indexesLoaded)).toEqual(sealed.map(() => false))
    expect(residency.segments).toBe(0)
    expect(log.logEndOffset).toBe(LOG_END)

    expectReadsRight(log, [1])
    expect(segments.map((s) => s.indexesLoaded).filter(Boolean).length).toBe(2) // the first segment's and the active one
    expect(bytesRead.get(segments[0]!.offsetIndexPath)).toBeGreaterThanOrEqual(fs.statSync(segments[0]!.offsetIndexPath).size)
    expect(residency.segments).toBe(1)
    expectReadsRight(log, allOffsets)
    expect(residency.segments).toBe(segments.length - 1)
    log.close()
    expect(residency.segments).toBe(0)
  })

  it("keeps the sealed segments' entries within the budget, the least recently used leaving first, and reads them again", () => {
    const dir = writtenLog()
    const probe = PartitionLog.open(dir, CONFIG, { now: 0, cleanShutdown: true, indexResidency: new IndexResidency(Number.POSITIVE_INFINITY) })
    const segments = probe.segmentList()
    const sizes = segments.slice(0, 3).map((s) => s.offsetIndex.memoryBytes + s.timeIndex.memoryBytes)
    probe.close()
    // Room for the two larger of the first three segments' entries, not for all three.
    const sorted = [...sizes].sort((a, b) => a - b)
    const residency = new IndexResidency(sorted[1]! + sorted[2]!)
    const log = PartitionLog.open(dir, CONFIG, { now: 0, cleanShutdown: true, indexResidency: residency })
    const [s0, s1, s2] = log.segmentList()
    const firstOffsetOf = (s: typeof s0) => s!.baseOffset + 1
    const loaded = () => [s0!.indexesLoaded, s1!.indexesLoaded, s2!.indexesLoaded]

    expectReadsRight(log, [firstOffsetOf(s0), firstOffsetOf(s1)])
    expect(loaded()).toEqual([true, true, false])
    expectReadsRight(log, [firstOffsetOf(s0)]) // s0 is now the most recently used
    const s1Entries = [s1!.offsetIndexEntries, s1!.timeIndexEntries]
    expectReadsRight(log, [firstOffsetOf(s2)])
    expect(loaded()).toEqual([true, false, true])
    expect([s1!.offsetIndexEntries, s1!.timeIndexEntries]).toEqual(s1Entries)
    expect(residency.bytes).toBeLessThanOrEqual(residency.budgetBytes)

    // A budget of nothing keeps only the segment in use; every lookup is still right.
    const tight = new IndexResidency(0)
    const again = PartitionLog.open(dir, CONFIG, { now: 0, cleanShutdown: true, indexResidency: tight })
    expectReadsRight(again, [...allOffsets].reverse())
    expect(tight.segments).toBeLessThanOrEqual(1)
    again.close()
    log.close()
  })

  it("rebuilds a sealed segment's index that a load finds out of order, says so, and leaves Kafka's file", () => {
    const dir = writtenLog()
    const first = path.join(dir, "00000000000000000000.index")
    const original = fs.readFileSync(first)
    expect(original.length / OFFSET_INDEX_ENTRY_SIZE).toBeGreaterThanOrEqual(3)
    // Swap the first two entries: the last one, all an open reads, stays right.
    const corrupt = Buffer.from(original)
    original.copy(corrupt, 0, OFFSET_INDEX_ENTRY_SIZE, 2 * OFFSET_INDEX_ENTRY_SIZE)
    original.copy(corrupt, OFFSET_INDEX_ENTRY_SIZE, 0, OFFSET_INDEX_ENTRY_SIZE)
    fs.writeFileSync(first, corrupt)

    const warnings: Array<string> = []
    const log = PartitionLog.open(dir, CONFIG, { now: 0, cleanShutdown: true, indexResidency: new IndexResidency(undefined, (w) => warnings.push(w)) })
    expect(log.openWarnings).toEqual([])
    expect(warnings).toEqual([])
    expectReadsRight(log, allOffsets)
    expect(warnings).toEqual([`${path.join(dir, "00000000000000000000.log")}: rebuilding indexes (offset index: entry 1 (${corrupt.readInt32BE(8)}, ${corrupt.readInt32BE(12)}) is out of order)`])
    log.close()
    expect(fs.readFileSync(first)).toEqual(original)
  })

  it("closes cleanly without reading, writing or forcing a sealed segment's index file, looked up or not", () => {
    const dir = writtenLog()
    const { io, opened, forced } = watchingIo()
    const log = PartitionLog.open(dir, CONFIG, { now: 0, cleanShutdown: true, io, indexResidency: new IndexResidency(Number.POSITIVE_INFINITY) })
    const sealed = log.segmentList().slice(0, -1)
    expectReadsRight(log, [1])
    const openedBefore = opened.length
    log.close()
    const ofSealed = (f: string) => sealed.some((s) => f === s.offsetIndexPath || f === s.timeIndexPath)
    expect(opened.slice(openedBefore).filter(ofSealed)).toEqual([])
    expect(forced).toEqual([])
  })

  it("forces at close the index files of a rolled segment whose entries left memory before they were forced", () => {
    const { io, forced } = watchingIo()
    const log = PartitionLog.create(makeTempDir(), "orders", 0, TOPIC_ID, CONFIG, 0, undefined, io, undefined, new IndexResidency(0))
    for (let i = 0; i < BATCHES; i++) log.append(batchOf(RECORDS_PER_BATCH, timestampOf(i)), { now: 0 })
    const rolled = log.segmentList()[0]!
    expect(rolled.indexesLoaded).toBe(false)
    expect(forced).not.toContain(rolled.offsetIndexPath)
    log.close()
    expect(forced).toContain(rolled.offsetIndexPath)
    expect(forced).toContain(rolled.timeIndexPath)
    const reopened = PartitionLog.open(log.dir, CONFIG, { now: 0, cleanShutdown: true })
    expectReadsRight(reopened, allOffsets)
    reopened.close()
  })

  it("after an unclean shutdown, recovers the segments from the recovery point on and opens those below it on demand", () => {
    const dir = writtenLog()
    const bases = fs.readdirSync(dir).filter((f) => f.endsWith(".log")).map((f) => Number(f.slice(0, 20))).sort((a, b) => a - b)
    const log = PartitionLog.open(dir, CONFIG, { now: 0, cleanShutdown: false, recoveryPoint: bases[2]! + 1, indexResidency: new IndexResidency(Number.POSITIVE_INFINITY) })
    expect(log.segmentList().map((s) => s.indexesLoaded)).toEqual(bases.map((_, i) => i >= 2))
    expectReadsRight(log, allOffsets)
    log.close()
  })
})

describe("readIndexFileEnd", () => {
  it("reads the size and last entry alone; none for a missing, cut or zero-padded file", () => {
    const dir = makeTempDir()
    const file = path.join(dir, "x.index")
    expect(readIndexFileEnd(file, 8)).toBeNull()
    fs.writeFileSync(file, Buffer.from([0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 20]))
    const end = readIndexFileEnd(file, 8)!
    expect(end.fileBytes).toBe(16)
    expect([end.last!.getInt32(0), end.last!.getInt32(4)]).toEqual([2, 20])
    fs.writeFileSync(file, Buffer.from([0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]))
    expect(readIndexFileEnd(file, 8)).toEqual({ fileBytes: 16, last: null })
    fs.writeFileSync(file, Buffer.from([0, 0, 0, 1, 0, 0, 0, 9, 0]))
    expect(readIndexFileEnd(file, 8)).toEqual({ fileBytes: 9, last: null })
    fs.writeFileSync(file, Buffer.alloc(0))
    expect(readIndexFileEnd(file, 8)).toEqual({ fileBytes: 0, last: null })
  })
})
