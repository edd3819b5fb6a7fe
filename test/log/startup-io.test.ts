/**
 * What opening and closing a partition costs in file-system calls, counted through the FileIo
 * seam: an untouched partition is opened with one directory listing and closed without fsync
 * (Kafka flushes only past the recovery point at shutdown), and a new leader epoch is
 * written when the log is flushed past the epoch's first records, not at start-up nor on
 * the append (recovery after a crash assigns it again from the batches).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { LEADER_EPOCH_CHECKPOINT_FILE, readLeaderEpochCheckpoint } from "../../src/log/checkpoint.ts"
import { defaultLogConfig, PartitionLog } from "../../src/log/partition-log.ts"
import { PARTITION_LEADER_EPOCH_OFFSET } from "../../src/log/record-batch.ts"
import { type FileIoShape, nodeFileIo } from "../../src/storage/FileIo.ts"
import { FaultyFileIo } from "../support/faulty-file-io.ts"
import { batchOf, makeTempDir, removeTempDirs, trackingPaths } from "./helpers.ts"

afterEach(removeTempDirs)

const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"

/** node:fs with a count of the calls these tests watch. */
const countingIo = () => {
  const calls = { fsync: 0, readdir: 0, rename: 0 }
  const io: FileIoShape = {
    ...nodeFileIo,
    fsyncSync: (fd) => {
      calls.fsync++
      nodeFileIo.fsyncSync(fd)
    },
    readdirSync: ((dir: fs.PathLike) => {
      calls.readdir++
      return nodeFileIo.readdirSync(dir)
    }) as FileIoShape["readdirSync"],
    renameSync: (from, to) => {
      calls.rename++
      nodeFileIo.renameSync(from, to)
    }
  }
  return { io, calls }
}

const withEpoch = (batch: Uint8Array, epoch: number): Uint8Array => {
  new DataView(batch.buffer, batch.byteOffset, batch.byteLength).setInt32(PARTITION_LEADER_EPOCH_OFFSET, epoch)
  return batch
}

const written = () => {
  const log = PartitionLog.create(makeTempDir(), "orders", 0, TOPIC_ID, defaultLogConfig, 0)
  log.append(withEpoch(batchOf(3, 0), 0), { now: 0 })
  log.close()
  return log.dir
}

describe("opening and closing a partition at start-up and shutdown", () => {
  it("an untouched partition: one directory listing to open, no fsync and no rename to open and close", () => {
    const dir = written()
    const { io, calls } = countingIo()
    const log = PartitionLog.open(dir, defaultLogConfig, { now: 0, cleanShutdown: true, io })
    expect(calls.readdir).toBe(1)
    log.close()
    expect(calls).toEqual({ fsync: 0, readdir: 1, rename: 0 })
    // ...and it still opens with its records.
    const again = PartitionLog.open(dir, defaultLogConfig, { now: 0, cleanShutdown: true })
    expect(again.logEndOffset).toBe(3)
    again.close()
  })

  it("a partition appended to since it was opened is forced to disk at close", () => {
    const dir = written()
    const { io, calls } = countingIo()
    const log = PartitionLog.open(dir, defaultLogConfig, { now: 0, cleanShutdown: true, io })
    log.append(withEpoch(batchOf(2, 0), 0), { now: 0 })
    log.close()
    expect(calls.fsync).toBeGreaterThan(0)
  })

  it("a deferred leader epoch reaches the checkpoint when the epoch's first records are flushed, not before", () => {
    const dir = written()
    const file = path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE)
    const { io, calls } = countingIo()
    const log = PartitionLog.open(dir, defaultLogConfig, { now: 0, cleanShutdown: true, io })
    log.leaderEpochCache.assign(1, log.logEndOffset, "deferred")
    expect(log.leaderEpochCache.latestEpoch()).toBe(1)
    expect(readLeaderEpochCheckpoint(file)).toEqual([{ epoch: 0, startOffset: 0 }])
    // The first append of the epoch writes no file and forces nothing to disk.
    log.append(withEpoch(batchOf(2, 0), 1), { now: 0 })
    expect(calls).toEqual({ fsync: 0, readdir: 1, rename: 0 })
    expect(readLeaderEpochCheckpoint(file)).toEqual([{ epoch: 0, startOffset: 0 }])
    log.flush(0)
    expect(readLeaderEpochCheckpoint(file)).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 1, startOffset: 3 }])
    log.close()
  })

  it("a close after appends fsyncs the partition directory once, for the epoch checkpoint, the producer snapshot and a new segment together", () => {
    const dir = written()
    const dirOpens: Array<string> = []
    const io: FileIoShape = {
      ...nodeFileIo,
      openSync: ((p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => {
        if (path.resolve(String(p)) === path.resolve(dir)) dirOpens.push(String(p))
        return nodeFileIo.openSync(p, flags, mode)
      }) as FileIoShape["openSync"]
    }
    const log = PartitionLog.open(dir, defaultLogConfig, { now: 0, cleanShutdown: true, io })
    log.append(withEpoch(batchOf(2, 0), 0), { now: 0 })
    log.roll(0)
    dirOpens.length = 0
    log.append(withEpoch(batchOf(2, 0), 3), { now: 0 })
    log.close()
    expect(dirOpens.length).toBe(1)
    const file = path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE)
    expect(readLeaderEpochCheckpoint(file)).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 5 }])
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".snapshot")).sort().at(-1)).toBe("00000000000000000007.snapshot")
  })

  it("a flush writes the epochs its records belong to and leaves a newer epoch without records waiting, so the next open rewrites no checkpoint", () => {
    const dir = written()
    const file = path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE)
    const log = PartitionLog.open(dir, defaultLogConfig, { now: 0, cleanShutdown: true })
    log.append(withEpoch(batchOf(2, 0), 2), { now: 0 })
    // The next leader epoch, elected before this log's next append: no records yet.
    log.leaderEpochCache.assign(3, log.logEndOffset, "deferred")
    log.close()
    expect(readLeaderEpochCheckpoint(file)).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 3 }])
    const { io, calls } = countingIo()
    const again = PartitionLog.open(dir, defaultLogConfig, { now: 0, cleanShutdown: true, io })
    expect(again.leaderEpochCache.all()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 3 }])
    again.close()
    expect(calls).toEqual({ fsync: 0, readdir: 1, rename: 0 })
  })

  it("an epoch first met in appended records is written by the flush that moves the recovery point past them", () => {
    const dir = written()
    const file = path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE)
    const log = PartitionLog.open(dir, defaultLogConfig, { now: 0, cleanShutdown: true })
    log.append(withEpoch(batchOf(2, 0), 4), { now: 0 })
    expect(log.leaderEpochCache.all()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 4, startOffset: 3 }])
    expect(readLeaderEpochCheckpoint(file)).toEqual([{ epoch: 0, startOffset: 0 }])
    log.close()
    expect(readLeaderEpochCheckpoint(file)).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 4, startOffset: 3 }])
  })

  it("after a crash, recovery assigns the epochs of records past the recovery point again, and writes them when it forces those records", () => {
    const dir = written()
    const file = path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE)
    const log = PartitionLog.open(dir, defaultLogConfig, { now: 0, cleanShutdown: true })
    log.append(withEpoch(batchOf(2, 0), 2), { now: 0 })
    log.append(withEpoch(batchOf(1, 0), 5), { now: 0 })
    // A kill -9 now: the records are in the file, the new epochs only in memory.
    expect(readLeaderEpochCheckpoint(file)).toEqual([{ epoch: 0, startOffset: 0 }])
    const again = PartitionLog.open(dir, defaultLogConfig, { now: 0, cleanShutdown: false, recoveryPoint: 3 })
    const expected = [{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 3 }, { epoch: 5, startOffset: 5 }]
    expect(again.logEndOffset).toBe(6)
    expect(again.leaderEpochCache.all()).toEqual(expected)
    expect(again.leaderEpochCache.endOffsetFor(2, again.logEndOffset)).toEqual({ epoch: 2, endOffset: 5 })
    // Recovery forced nothing (as Kafka's): the recovery point and the file wait for the flush.
    expect(again.recoveryPoint).toBe(3)
    expect(readLeaderEpochCheckpoint(file)).toEqual([{ epoch: 0, startOffset: 0 }])
    again.flush(0)
    expect(again.recoveryPoint).toBe(6)
    expect(readLeaderEpochCheckpoint(file)).toEqual(expected)
    again.close()
    log.markOffline()
  })

  it("after a crash, recovery forces nothing and keeps the recovery point; the flush check forces the recovered sealed segments, and what lies below the point it then reports survives a power loss", async () => {
    const root = makeTempDir()
    const faulty = new FaultyFileIo(root)
    const config = { ...defaultLogConfig, segmentBytes: 1024 }
    const log = PartitionLog.create(root, "orders", 0, TOPIC_ID, config, 0, undefined, faulty.io)
    for (let i = 0; i < 10; i++) log.append(withEpoch(batchOf(3, 0), 0), { now: 0 })
    log.flush(0)
    expect(log.recoveryPoint).toBe(30)
    // Then appends the kernel holds but no fsync forced, and a kill -9.
    for (let i = 0; i < 20; i++) log.append(withEpoch(batchOf(3, 0), 0), { now: 0 })
    log.markOffline()

    let fsyncs = 0
    const counting: FileIoShape = { ...faulty.io, fsyncSync: (fd) => (fsyncs++, faulty.io.fsyncSync(fd)), fsync: ((fd: number, done: fs.NoParamCallback) => (fsyncs++, faulty.io.fsync(fd, done))) as FileIoShape["fsync"] }
    const reopen = (recoveryPoint: number) => PartitionLog.open(log.dir, config, { now: 0, cleanShutdown: false, recoveryPoint, io: counting })
    const recovered = reopen(30)
    expect(fsyncs).toBe(0)
    expect([recovered.logEndOffset, recovered.recoveryPoint]).toEqual([90, 30])
    expect(recovered.segmentList().length).toBeGreaterThan(3)

    // The flush check forces the recovered sealed segments on the thread pool, then moves the recovery point.
    recovered.maybeFlush(0)
    await recovered.rolledFlushInFlight
    const active = recovered.activeSegment
    expect(fsyncs).toBeGreaterThan(0)
    expect(recovered.recoveryPoint).toBe(active.baseOffset)
    const reported = recovered.recoveryPoint
    recovered.markOffline()
    faulty.powerLoss()
    const afterPowerLoss = reopen(reported)
    expect(afterPowerLoss.logEndOffset).toBeGreaterThanOrEqual(reported)
    for (let offset = 0; offset < reported; offset += 3) expect(afterPowerLoss.read(offset, 1 << 20, true).records.length).toBeGreaterThan(0)
    afterPowerLoss.close()
  })

  it("after a crash, recovery leaves index files that hold the rebuilt entries untouched, and cuts none to zero to write it again", () => {
    const config = { ...defaultLogConfig, segmentBytes: 1024, indexIntervalBytes: 0 }
    const log = PartitionLog.create(makeTempDir(), "orders", 0, TOPIC_ID, config, 0)
    for (let i = 0; i < 30; i++) log.append(withEpoch(batchOf(3, 10 * i), 0), { now: 0 })
    const sealed = log.segmentList().slice(0, -1).map((s) => path.basename(s.offsetIndexPath))
    expect(sealed.length).toBeGreaterThan(2)
    // A kill -9: the rolled segments' index files were written at their roll, the active one's not yet.
    log.markOffline()

    const tracking = trackingPaths()
    const nameOf = (fd: number) => path.basename(tracking.pathOf(fd))
    const cuts: Array<string> = []
    const writes: Array<string> = []
    const io: FileIoShape = {
      ...tracking.io,
      ftruncateSync: (fd, len) => {
        cuts.push(nameOf(fd))
        nodeFileIo.ftruncateSync(fd, len)
      },
      writeSync: ((fd: number, ...rest: Array<unknown>) => {
        writes.push(nameOf(fd))
        return (nodeFileIo.writeSync as (fd: number, ...r: Array<unknown>) => number)(fd, ...rest)
      }) as FileIoShape["writeSync"]
    }
    const recovered = PartitionLog.open(log.dir, config, { now: 0, cleanShutdown: false, recoveryPoint: 0, io })
    expect(recovered.logEndOffset).toBe(90)
    const isIndex = (name: string) => name.endsWith(".index") || name.endsWith(".timeindex")
    expect(cuts.filter(isIndex)).toEqual([])
    expect(writes.filter((name) => sealed.includes(name))).toEqual([])
    expect(writes.filter(isIndex).length).toBeGreaterThan(0) // the active segment's, which its roll had not written
    recovered.close()
    const reopened = PartitionLog.open(log.dir, config, { now: 0, cleanShutdown: true })
    for (let i = 0; i < 30; i += 7) expect(reopened.offsetForTimestamp(10 * i)).toEqual({ offset: 3 * i, timestamp: 10 * i })
    reopened.close()
  })

  it("creating a partition waits for no fsync; its first flush makes partition.metadata and both directories durable", () => {
    const logDir = makeTempDir()
    const { io, calls } = countingIo()
    const synced: Array<string> = []
    const tracking = trackingPaths(io)
    const watching: FileIoShape = {
      ...tracking.io,
      fsyncSync: (fd) => {
        synced.push(path.relative(logDir, tracking.pathOf(fd)))
        io.fsyncSync(fd)
      }
    }
    const log = PartitionLog.create(logDir, "orders", 0, TOPIC_ID, defaultLogConfig, 0, undefined, watching)
    expect(calls.fsync).toBe(0)
    expect(fs.readFileSync(path.join(log.dir, "partition.metadata"), "utf8")).toBe(`version: 0\ntopic_id: ${TOPIC_ID}\n`)
    log.append(batchOf(2, 0), { now: 0 })
    log.flush(0)
    expect(synced).toEqual(expect.arrayContaining(["orders-0/00000000000000000000.log", "orders-0/partition.metadata", "orders-0", ""]))
    // ...once: later flushes force the segment only.
    synced.length = 0
    log.append(batchOf(1, 0), { now: 0 })
    log.flush(0)
    expect(synced).not.toContain("orders-0/partition.metadata")
    expect(synced).not.toContain("")
    log.close()
  })

  it("a deferred epoch with no records is not written at close (the next open would drop an entry at the log end)", () => {
    const dir = written()
    const file = path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE)
    const log = PartitionLog.open(dir, defaultLogConfig, { now: 0, cleanShutdown: true })
    log.leaderEpochCache.assign(1, log.logEndOffset, "deferred")
    log.close()
    expect(readLeaderEpochCheckpoint(file)).toEqual([{ epoch: 0, startOffset: 0 }])
  })
})
