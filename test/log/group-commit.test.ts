import { afterEach, describe, expect, it } from "vitest"
import { afterQueuedAppends, queueAppend } from "../../src/log/group-commit.ts"
import { defaultLogConfig, PartitionLog } from "../../src/log/partition-log.ts"
import { nodeFileIo } from "../../src/storage/FileIo.ts"
import { batchOf, makeTempDir, removeTempDirs } from "./helpers.ts"

afterEach(removeTempDirs)

const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"

/** A log whose file writes are counted. */
const countingLog = (partition: number) => {
  const counts = { writes: 0 }
  const io = {
    ...nodeFileIo,
    writeSync: ((...args: Parameters<typeof nodeFileIo.writeSync>) => (counts.writes++, nodeFileIo.writeSync(...args))) as typeof nodeFileIo.writeSync,
    writevSync: ((...args: Parameters<typeof nodeFileIo.writevSync>) => (counts.writes++, nodeFileIo.writevSync(...args))) as typeof nodeFileIo.writevSync
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
