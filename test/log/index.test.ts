import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import {
  CheckpointFormatError,
  LeaderEpochCache,
  readOffsetCheckpoint,
  readPartitionMetadata,
  writeOffsetCheckpoint
} from "../../src/log/checkpoint.ts"
import { OffsetIndex } from "../../src/log/offset-index.ts"
import { parsePartitionDirName } from "../../src/log/partition-log.ts"
import { TimeIndex } from "../../src/log/time-index.ts"
import { hex, makeTempDir, removeTempDirs } from "./helpers.ts"

afterEach(removeTempDirs)

describe("OffsetIndex", () => {
  it("finds the greatest entry at or below the target and writes big-endian entries", () => {
    const file = path.join(makeTempDir(), "00000000000000001000.index")
    const index = OffsetIndex.empty(file, 1000, 1024)
    index.append(1010, 100)
    index.append(1020, 250)
    expect(() => index.append(1020, 300)).toThrow(RangeError)
    expect(() => index.append(1030, 250)).toThrow(RangeError)
    expect([1005, 1010, 1015, 1020, 1099].map((o) => index.lookup(o))).toEqual([0, 100, 100, 250, 250])
    expect(index.floorEntry(999)).toBe(-1)
    index.flush(false)
    expect(fs.readFileSync(file)).toEqual(Buffer.from(hex("0000000a 00000064 00000014 000000fa")))
    index.truncateToPosition(250)
    index.flush(false)
    expect(fs.readFileSync(file)).toEqual(Buffer.from(hex("0000000a 00000064")))
  })

  it("ignores trailing zero entries and trims them on flush", () => {
    const file = path.join(makeTempDir(), "00000000000000000000.index")
    const bytes = new Uint8Array(8 * 100)
    bytes.set(hex("00000005 00001000 00000009 00002000"))
    fs.writeFileSync(file, bytes)
    const { index, problem } = OffsetIndex.load(file, 0, 8 * 100)
    expect(problem).toBeNull()
    expect(index.entries).toBe(2)
    expect(index.lastOffset()).toBe(9)
    index.flush(false)
    expect(fs.statSync(file).size).toBe(16)
  })

  it("loads files larger than its read chunk, with Kafka's preallocated zeros running over several chunks", () => {
    const file = path.join(makeTempDir(), "00000000000000000000.index")
    const live = 30_000
    const bytes = Buffer.alloc(8 * (live + 100_000))
    for (let i = 0; i < live; i++) {
      bytes.writeInt32BE(2 * i + 1, 8 * i)
      bytes.writeInt32BE(100 * (i + 1), 8 * i + 4)
    }
    fs.writeFileSync(file, bytes)
    const { index, problem } = OffsetIndex.load(file, 0, bytes.length)
    expect(problem).toBeNull()
    expect(index.entries).toBe(live)
    expect([index.offsetAt(0), index.positionAt(12_345), index.lastOffset()]).toEqual([1, 1_234_600, 2 * live - 1])
    expect(index.memoryBytes).toBe(8 * live)
    index.flush(false)
    expect(fs.readFileSync(file)).toEqual(bytes.subarray(0, 8 * live))
  })

  it("reports files it cannot trust", () => {
    const dir = makeTempDir()
    const file = path.join(dir, "a.index")
    expect(OffsetIndex.load(file, 0, 1024).problem).toBe("missing")
    fs.writeFileSync(file, hex("00000009 00002000 00000005 00003000"))
    expect(OffsetIndex.load(file, 0, 1024).problem).toMatch(/out of order/)
    fs.writeFileSync(file, hex("00000005 00001000 0000"))
    expect(OffsetIndex.load(file, 0, 1024).problem).toMatch(/not a multiple/)
  })

  it("is full at segment.index.bytes / 8 entries", () => {
    const index = OffsetIndex.empty(path.join(makeTempDir(), "x.index"), 0, 20)
    index.append(1, 10)
    expect(index.isFull()).toBe(false)
    index.append(2, 20)
    expect(index.isFull()).toBe(true)
    expect(() => index.append(3, 30)).toThrow(/full/)
  })
})

describe("TimeIndex", () => {
  it("only grows with the timestamp, and finds the last entry below a target", () => {
    const file = path.join(makeTempDir(), "00000000000000000100.timeindex")
    const index = TimeIndex.empty(file, 100, 1200)
    index.maybeAppend(1_000, 105)
    index.maybeAppend(1_000, 107) // same timestamp: ignored
    index.maybeAppend(900, 108) // older: ignored
    index.maybeAppend(2_000, 110)
    expect(index.entries).toBe(2)
    expect([999, 1_000, 1_001, 5_000].map((t) => index.lastEntryBelow(t))).toEqual([-1, -1, 0, 1])
    index.flush(false)
    expect(fs.readFileSync(file)).toEqual(Buffer.from(hex("00000000000003e8 00000005 00000000000007d0 0000000a")))
  })

  it("loads zero-padded files and flags disorder", () => {
    const dir = makeTempDir()
    const file = path.join(dir, "t.timeindex")
    const padded = new Uint8Array(12 * 50)
    padded.set(hex("00000000000003e8 00000005"))
    fs.writeFileSync(file, padded)
    const loaded = TimeIndex.load(file, 0, 12 * 50)
    expect(loaded.problem).toBeNull()
    expect(loaded.index.entries).toBe(1)
    expect(loaded.index.lastTimestamp()).toBe(1000)
    fs.writeFileSync(file, hex("00000000000007d0 00000005 00000000000003e8 00000006"))
    expect(TimeIndex.load(file, 0, 1200).problem).toMatch(/out of order/)
  })
})

describe("checkpoint files", () => {
  it("round-trips offset checkpoints with dashed topic names", () => {
    const file = path.join(makeTempDir(), "recovery-point-offset-checkpoint")
    writeOffsetCheckpoint(file, [{ topic: "a-b-c", partition: 7, offset: 42 }, { topic: "x", partition: 0, offset: 0 }])
    expect(fs.readFileSync(file, "utf8")).toBe("0\n2\na-b-c 7 42\nx 0 0\n")
    expect([...readOffsetCheckpoint(file)]).toEqual([["a-b-c-7", 42], ["x-0", 0]])
    expect(parsePartitionDirName("a-b-c-7")).toEqual({ topic: "a-b-c", partition: 7 })
    expect(parsePartitionDirName("a-b-c-7.0123-delete")).toBeNull()
    fs.writeFileSync(file, "0\n3\na 0 1\n")
    expect(() => readOffsetCheckpoint(file)).toThrow(CheckpointFormatError)
    fs.writeFileSync(file, "1\n0\n")
    expect(() => readOffsetCheckpoint(file)).toThrow(CheckpointFormatError)
  })

  it("reads partition.metadata as Kafka writes it", () => {
    const dir = makeTempDir()
    fs.writeFileSync(path.join(dir, "partition.metadata"), "version: 0\ntopic_id: q1w2e3r4t5y6u7i8o9p0aA\n")
    expect(readPartitionMetadata(dir)).toEqual({ version: 0, topicId: "q1w2e3r4t5y6u7i8o9p0aA" })
    fs.writeFileSync(path.join(dir, "partition.metadata"), "version: 1\n")
    expect(() => readPartitionMetadata(dir)).toThrow(CheckpointFormatError)
    // What a power loss can leave of a file written without fsync: as if it had not been written.
    fs.writeFileSync(path.join(dir, "partition.metadata"), "")
    expect(readPartitionMetadata(dir)).toBeNull()
  })

  it("keeps leader epochs the way Kafka's LeaderEpochFileCache does", () => {
    const dir = makeTempDir()
    const cache = LeaderEpochCache.load(dir)
    cache.assign(1, 0)
    cache.assign(1, 10) // same epoch: ignored
    cache.assign(3, 20)
    cache.assign(2, 30) // older epoch: ignored
    cache.assign(5, 40)
    expect(cache.all()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 20 }, { epoch: 5, startOffset: 40 }])
    expect(cache.endOffsetFor(5, 99)).toEqual({ epoch: 5, endOffset: 99 })
    expect(cache.endOffsetFor(3, 99)).toEqual({ epoch: 3, endOffset: 40 })
    expect(cache.endOffsetFor(2, 99)).toEqual({ epoch: 1, endOffset: 20 })
    expect(cache.endOffsetFor(0, 99)).toEqual({ epoch: 0, endOffset: 0 })
    expect(cache.endOffsetFor(6, 99)).toEqual({ epoch: -1, endOffset: -1 })
    cache.truncateFromStart(25)
    expect(cache.all()).toEqual([{ epoch: 3, startOffset: 25 }, { epoch: 5, startOffset: 40 }])
    cache.truncateFromEnd(40)
    expect(cache.all()).toEqual([{ epoch: 3, startOffset: 25 }])
    expect(fs.readFileSync(path.join(dir, "leader-epoch-checkpoint"), "utf8")).toBe("0\n1\n3 25\n")
    expect(LeaderEpochCache.load(dir).all()).toEqual([{ epoch: 3, startOffset: 25 }])
    // a newer epoch starting below existing entries replaces them
    cache.assign(7, 10)
    expect(cache.all()).toEqual([{ epoch: 7, startOffset: 10 }])
  })
})
