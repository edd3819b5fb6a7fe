import { afterEach, describe, expect, it } from "vitest"
import { afterQueuedAppends, queueAppend } from "../../src/log/group-commit.ts"
import { defaultLogConfig, PartitionLog } from "../../src/log/partition-log.ts"
import { WRITE_SLICE_BYTES } from "../../src/log/segment.ts"
import { nodeFileIo } from "../../src/storage/FileIo.ts"
import { batchOf, makeTempDir, removeTempDirs } from "./helpers.ts"

afterEach(removeTempDirs)

const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"

/** A log whose file writes are counted, with the most bytes one of them was given. */
const countingLog = (partition: number) => {
  const counts = { writes: 0, largest: 0 }
  const io = {
    ...nodeFileIo,
    writeSync: ((...args: Parameters<typeof nodeFileIo.writeSync>) => (counts.writes++, nodeFileIo.writeSync(...args))) as typeof nodeFileIo.writeSync,
    writevSync: ((fd: number, buffers: ReadonlyArray<NodeJS.ArrayBufferView>, position?: number | null) => {
      counts.writes++
      counts.largest = Math.max(counts.largest, buffers.reduce((n, b) => n + b.byteLength, 0))
      return nodeFileIo.writevSync(fd, buffers, position ?? undefined)
    }) as typeof nodeFileIo.writevSync
  }
  const log = PartitionLog.create(makeTempDir(), "orders", partition, TOPIC_ID, defaultLogConfig, 0, undefined, io)
  return { log, counts }
}

const turnEnd = () => new Promise<void>((resolve) => afterQueuedAppends(resolve))

describe("group commit", () => {
  it("writes a turn's appends to a partition in one call, in the order they were queued, before anyone is resumed", async () => {
    const a = countingLog(0)
    const b = countingLog(1)
    const outcomes: Array<string> = []
    const done = (name: string) => (outcome: unknown) => outcomes.push(`${name}:${(outcome as { baseOffset: number }).baseOffset}`)
    // Two connections' requests in one turn: 3 batches to partition 0, 1 to partition 1.
    queueAppend(a.log, { bytes: batchOf(2, 0, 10), options: { now: 0 }, done: done("a1") })
    queueAppend(b.log, { bytes: batchOf(5, 0, 10), options: { now: 0 }, done: done("b1") })
    queueAppend(a.log, { bytes: batchOf(3, 0, 10), options: { now: 0 }, done: done("a2") })
    const resumed = turnEnd().then(() => [...outcomes])
    queueAppend(a.log, { bytes: batchOf(1, 0, 10), options: { now: 0 }, done: done("a3") })
    // Nothing is appended before the turn ends.
    expect(a.log.logEndOffset).toBe(0)
    expect(outcomes).toEqual([])
    expect(await resumed).toEqual(["a1:0", "a2:2", "a3:5", "b1:0"])
    expect(a.counts.writes).toBe(1)
    expect(b.counts.writes).toBe(1)
    expect(a.log.logEndOffset).toBe(6)
    expect(b.log.logEndOffset).toBe(5)
    a.log.close()
    b.log.close()
  })

  it("writes a turn larger than a write slice in slices of at most WRITE_SLICE_BYTES, every batch once and in order", async () => {
    const a = countingLog(0)
    const batches = Array.from({ length: 40 }, (_, i) => batchOf(8, i, 8 * 1024))
    const total = batches.reduce((n, b) => n + b.length, 0)
    expect(total).toBeGreaterThan(2 * WRITE_SLICE_BYTES)
    const offsets: Array<number> = []
    for (const bytes of batches) queueAppend(a.log, { bytes, options: { now: 0 }, done: (o) => offsets.push((o as { baseOffset: number }).baseOffset) })
    await turnEnd()
    expect(offsets).toEqual(batches.map((_, i) => i * 8))
    expect(a.counts.writes).toBe(Math.ceil(total / (WRITE_SLICE_BYTES - (WRITE_SLICE_BYTES % batches[0]!.length))))
    expect(a.counts.largest).toBeLessThanOrEqual(WRITE_SLICE_BYTES)
    const read = a.log.read(0, total, true).records
    expect(read.length).toBe(total)
    expect(Buffer.from(read.subarray(0, 12)).readBigInt64BE(0)).toBe(0n)
    expect(a.log.logEndOffset).toBe(320)
    a.log.close()
  })

  it("answers an append whose log closed before the turn ended with its error", async () => {
    const a = countingLog(0)
    // (closing writes the log's index files: its write count says nothing here)
    let outcome: unknown
    queueAppend(a.log, { bytes: batchOf(2, 0, 10), options: { now: 0 }, done: (o) => (outcome = o) })
    a.log.close()
    await turnEnd()
    expect(outcome).toBeInstanceOf(Error)
  })

  it("resumes a caller that queued nothing at the turn's end", async () => {
    let resumed = false
    const waited = turnEnd().then(() => (resumed = true))
    expect(resumed).toBe(false)
    await waited
    expect(resumed).toBe(true)
  })
})
