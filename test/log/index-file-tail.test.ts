/**
 * IndexFileTail, the file bookkeeping both indexes share (src/log/index-file.ts): what a
 * flush writes, cuts and forces, synchronously and through a SyncBatch, for the offset and
 * the time index alike. Durability is judged on FaultyFileIo's power-loss model; the calls
 * made are counted to show what a flush with nothing new skips.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { OffsetIndex } from "../../src/log/offset-index.ts"
import { SyncBatch } from "../../src/log/sync-batch.ts"
import { TimeIndex } from "../../src/log/time-index.ts"
import type { FileIoShape } from "../../src/storage/FileIo.ts"
import { FaultyFileIo } from "../support/faulty-file-io.ts"
import { hex } from "./helpers.ts"

let root = ""
afterEach(() => fs.rmSync(root, { recursive: true, force: true }))

/** Counts the writes (and bytes written) and fsyncs, synchronous and thread-pool, made through `io`. */
const counting = (io: FileIoShape) => {
  const calls = { writes: 0, bytes: 0, fsyncs: 0 }
  const counted: FileIoShape = {
    ...io,
    writeSync: ((...args: Parameters<typeof io.writeSync>) => {
      calls.writes++
      calls.bytes += (args as Array<unknown>)[3] as number
      return (io.writeSync as (...a: Array<unknown>) => number)(...args)
    }) as typeof io.writeSync,
    fsyncSync: (fd) => {
      calls.fsyncs++
      io.fsyncSync(fd)
    },
    write: ((...args: Array<unknown>) => {
      calls.writes++
      calls.bytes += args[3] as number
      return (io.write as (...a: Array<unknown>) => void)(...args)
    }) as typeof io.write,
    fsync: ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
      calls.fsyncs++
      io.fsync(fd, cb)
    }) as typeof io.fsync
  }
  return { io: counted, calls }
}

interface Kind {
  readonly name: string
  readonly entrySize: number
  readonly file: string
  readonly open: (file: string, io: FileIoShape) => OffsetIndex | TimeIndex
  /** Adds the i-th entry (i ≥ 1). */
  readonly add: (index: OffsetIndex | TimeIndex, i: number) => void
  /** Keeps the first `keep` entries. */
  readonly truncate: (index: OffsetIndex | TimeIndex, keep: number) => void
  /** Files a load must not trust, with the problem it reports. */
  readonly untrusted: ReadonlyArray<readonly [string, string]>
}

const kinds: ReadonlyArray<Kind> = [
  {
    name: "OffsetIndex",
    entrySize: 8,
    file: "00000000000000000000.index",
    open: (file, io) => OffsetIndex.load(file, 0, 1024, io).index,
    add: (index, i) => (index as OffsetIndex).append(10 * i, 100 * i),
    truncate: (index, keep) => (index as OffsetIndex).truncateToPosition(100 * (keep + 1)),
    untrusted: [
      ["00000000 ffffffff", "entry 0 (0, -1) is out of order"],
      ["ffffffff 00000010", "entry 0 (-1, 16) is out of order"],
      ["00000005 00000010 00000005 00000020 00000004 00000030", "entry 1 (5, 32) is out of order"],
      ["00000005 00000010 00000006 00000010", "entry 1 (6, 16) is out of order"],
      ["00000005 00000010 00000004 00000020 00", "size 17 is not a multiple of 8"]
    ]
  },
  {
    name: "TimeIndex",
    entrySize: 12,
    file: "00000000000000000000.timeindex",
    open: (file, io) => TimeIndex.load(file, 0, 1024, io).index,
    add: (index, i) => (index as TimeIndex).maybeAppend(1000 + i, 10 * i),
    truncate: (index, keep) => (index as TimeIndex).truncateToOffset(10 * (keep + 1)),
    untrusted: [
      ["00000000000003e8 ffffffff", "entry 0 (1000, -1) is out of order"],
      ["00000000000003e8 00000005 00000000000003e8 00000006", "entry 1 (1000, 6) is out of order"],
      ["00000000000003e8 00000005 00000000000003e9 00000004", "entry 1 (1001, 4) is out of order"],
      ["00000000000003e8 00000005 00000000000003e9 00000005 00000000000003e7 00000006", "entry 2 (999, 6) is out of order"],
      ["00000000000003e8 00000005 00000000000003e7 00000006 00", "size 25 is not a multiple of 12"]
    ]
  }
]

/** A log dir holding an index file with `entries` durable entries (written by a first index). */
const setUp = (kind: Kind, entries: number) => {
  root = fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "index-tail-"))
  const file = path.join(root, kind.file)
  const first = kind.open(file, fs)
  for (let i = 1; i <= entries; i++) kind.add(first, i)
  first.flush(false)
  const faulty = new FaultyFileIo(root)
  return { file, faulty }
}

const bytesOf = (kind: Kind, entries: number): Buffer => {
  const other = path.join(root, "expected")
  const index = kind.open(other, fs)
  for (let i = 1; i <= entries; i++) kind.add(index, i)
  index.flush(false)
  const bytes = fs.readFileSync(other)
  fs.rmSync(other)
  return bytes
}

describe.each(kinds)("IndexFileTail under $name", (kind) => {
  it("flush(true) writes only the new tail, forces it, and then skips a flush with nothing new", () => {
    const { file, faulty } = setUp(kind, 2)
    const { io, calls } = counting(faulty.io)
    const index = kind.open(file, io)
    expect(index.entries).toBe(2)
    kind.add(index, 3)
    index.flush(true)
    expect(calls).toEqual({ writes: 1, bytes: kind.entrySize, fsyncs: 1 })
    // Nothing written since: neither a write nor an fsync.
    index.flush(true)
    index.flush(false)
    expect(calls).toEqual({ writes: 1, bytes: kind.entrySize, fsyncs: 1 })
    faulty.powerLoss()
    expect(fs.readFileSync(file)).toEqual(bytesOf(kind, 3))
  })

  it("a load is not assumed durable: flush(true) forces it once without writing", () => {
    const { file, faulty } = setUp(kind, 2)
    const { io, calls } = counting(faulty.io)
    const index = kind.open(file, io)
    index.flush(false)
    expect(calls).toEqual({ writes: 0, bytes: 0, fsyncs: 0 })
    index.flush(true)
    index.flush(true)
    expect(calls).toEqual({ writes: 0, bytes: 0, fsyncs: 1 })
  })

  it("flush(false) leaves the tail unforced: a power loss drops it", () => {
    const { file, faulty } = setUp(kind, 2)
    const index = kind.open(file, faulty.io)
    kind.add(index, 3)
    index.flush(false)
    expect(fs.readFileSync(file)).toEqual(bytesOf(kind, 3))
    faulty.powerLoss()
    expect(fs.readFileSync(file)).toEqual(bytesOf(kind, 2))
  })

  it("flush(true) after flush(false) only forces what was written", () => {
    const { file, faulty } = setUp(kind, 2)
    const { io, calls } = counting(faulty.io)
    const index = kind.open(file, io)
    kind.add(index, 3)
    index.flush(false)
    expect(calls).toEqual({ writes: 1, bytes: kind.entrySize, fsyncs: 0 })
    index.flush(true)
    expect(calls, "only the fsync is left to do").toEqual({ writes: 1, bytes: kind.entrySize, fsyncs: 1 })
    faulty.powerLoss()
    expect(fs.readFileSync(file)).toEqual(bytesOf(kind, 3))
  })

  it("a truncation cuts the file back to the kept entries before the new ones", () => {
    const { file, faulty } = setUp(kind, 4)
    const index = kind.open(file, faulty.io)
    kind.truncate(index, 2)
    expect(index.entries).toBe(2)
    index.flush(true)
    expect(fs.readFileSync(file)).toEqual(bytesOf(kind, 2))
    kind.add(index, 3)
    index.flush(true)
    faulty.powerLoss()
    expect(fs.readFileSync(file)).toEqual(bytesOf(kind, 3))
  })

  it("flushLater leaves the same file to its batch: the cut and tail as one write, then only what is unforced", async () => {
    const { file, faulty } = setUp(kind, 4)
    const { io, calls } = counting(faulty.io)
    const index = kind.open(file, io)
    kind.truncate(index, 2)
    kind.add(index, 3)
    const first = new SyncBatch()
    index.flushLater({ batch: first, owner: "p" })
    expect(calls, "nothing done before the batch runs").toEqual({ writes: 0, bytes: 0, fsyncs: 0 })
    expect(await first.run(io)).toEqual(new Map())
    expect(calls, "the third entry only, after the cut").toEqual({ writes: 1, bytes: kind.entrySize, fsyncs: 1 })
    expect(fs.readFileSync(file)).toEqual(bytesOf(kind, 3))
    // Forced by the batch: a synchronous flush and a second batch have nothing to do.
    index.flush(true)
    const second = new SyncBatch()
    index.flushLater({ batch: second, owner: "p" })
    expect(second.describe()).toBe("0 files and 0 directories (0 renames)")
    // Written without a force: the next batch only forces it.
    kind.add(index, 4)
    index.flush(false)
    const third = new SyncBatch()
    index.flushLater({ batch: third, owner: "p" })
    expect(await third.run(io)).toEqual(new Map())
    expect(calls).toEqual({ writes: 2, bytes: 2 * kind.entrySize, fsyncs: 2 })
    faulty.powerLoss()
    expect(fs.readFileSync(file)).toEqual(bytesOf(kind, 4))
  })

  it("load reports what it cannot trust: a missing file, a misaligned size, the first entry out of order", () => {
    const { file } = setUp(kind, 0)
    fs.rmSync(file, { force: true })
    const load = (f: string) => kind.name === "OffsetIndex" ? OffsetIndex.load(f, 0, 1024, fs) : TimeIndex.load(f, 0, 1024, fs)
    expect(load(file).problem).toBe("missing")
    for (const [bytes, problem] of kind.untrusted) {
      fs.writeFileSync(file, hex(bytes))
      expect(load(file).problem, bytes).toBe(problem)
    }
    // Sane, with Kafka's zero padding after the live entries: trusted, and the padding cut on flush.
    const sane = bytesOf(kind, 2)
    fs.writeFileSync(file, Buffer.concat([sane, Buffer.alloc(4 * kind.entrySize)]))
    const loaded = load(file)
    expect(loaded.problem).toBeNull()
    expect(loaded.index.entries).toBe(2)
    loaded.index.flush(false)
    expect(fs.readFileSync(file)).toEqual(sane)
  })

  it("deleteFile forgets the file: the next flush creates it whole", () => {
    const { file, faulty } = setUp(kind, 2)
    const index = kind.open(file, faulty.io)
    index.deleteFile()
    expect(fs.existsSync(file)).toBe(false)
    index.flush(false)
    expect(fs.readFileSync(file)).toEqual(bytesOf(kind, 2))
  })
})
