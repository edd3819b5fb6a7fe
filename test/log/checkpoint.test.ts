/**
 * Kafka's small per-directory files, read as leniently as Kafka reads them and written as
 * Kafka writes them.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import {
  CheckpointFormatError,
  CLEANER_OFFSET_CHECKPOINT_FILE,
  readLeaderEpochCheckpoint,
  readOffsetCheckpoint,
  readPartitionMetadata,
  writeLeaderEpochCheckpoint,
  writeOffsetCheckpoint,
  writePartitionMetadata
} from "../../src/log/checkpoint.ts"
import { lockDir, LOCK_FILE } from "../../src/log/dir-lock.ts"
import { uuidFromString } from "../../src/protocol/primitives.ts"

const dirs: Array<string> = []
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "checkpoint-"))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

describe("offset checkpoints (recovery-point, log-start-offset, replication-offset, cleaner-offset)", () => {
  it("writes Kafka's layout and reads it back", () => {
    const file = path.join(tmp(), CLEANER_OFFSET_CHECKPOINT_FILE)
    writeOffsetCheckpoint(file, [{ topic: "a.b-c", partition: 3, offset: 42 }, { topic: "x", partition: 0, offset: 0 }])
    expect(fs.readFileSync(file, "utf8")).toBe("0\n2\na.b-c 3 42\nx 0 0\n")
    expect([...readOffsetCheckpoint(file)]).toEqual([["a.b-c-3", 42], ["x-0", 0]])
  })

  it("reads an absent, empty or version-only file as no entries, and tolerates CRLF and padding", () => {
    const dir = tmp()
    expect(readOffsetCheckpoint(path.join(dir, "absent")).size).toBe(0)
    for (const text of ["", "0\n", "0\n0\n"]) {
      fs.writeFileSync(path.join(dir, "f"), text)
      expect(readOffsetCheckpoint(path.join(dir, "f")).size).toBe(0)
    }
    fs.writeFileSync(path.join(dir, "f"), "0\r\n1\r\n  t 0 5 \r\n\r\n")
    expect([...readOffsetCheckpoint(path.join(dir, "f"))]).toEqual([["t-0", 5]])
    // Fields apart by any run of whitespace, as Kafka's "\\s+" splits them.
    fs.writeFileSync(path.join(dir, "f"), "0\n2\nt \t 0\t\t5\nu\v1\f  7\n")
    expect([...readOffsetCheckpoint(path.join(dir, "f"))]).toEqual([["t-0", 5], ["u-1", 7]])
  })

  it("refuses a wrong version, a wrong count or a malformed line, naming the file", () => {
    const dir = tmp()
    const file = path.join(dir, "f")
    for (const [text, reason] of [["1\n0\n", /unsupported version/], ["0\n2\nt 0 1\n", /expected 2 entries, found 1/], ["0\n1\nt 0\n", /malformed line/], ["0\n1\nt 0 5 6\n", /malformed line/]] as const) {
      fs.writeFileSync(file, text)
      expect(() => readOffsetCheckpoint(file)).toThrow(CheckpointFormatError)
      expect(() => readOffsetCheckpoint(file)).toThrow(reason)
      expect(() => readOffsetCheckpoint(file)).toThrow(file)
    }
  })

  it("leader-epoch-checkpoint round trip", () => {
    const file = path.join(tmp(), "leader-epoch-checkpoint")
    writeLeaderEpochCheckpoint(file, [{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 120 }])
    expect(fs.readFileSync(file, "utf8")).toBe("0\n2\n0 0\n3 120\n")
    expect(readLeaderEpochCheckpoint(file)).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 120 }])
  })
})

describe("partition.metadata", () => {
  it("writes Kafka's two lines and reads padded or unpadded topic ids as Kafka's Uuid.fromString does", () => {
    const dir = tmp()
    writePartitionMetadata(dir, "EAAAAAAAQACAAAAAAAAAAQ")
    expect(fs.readFileSync(path.join(dir, "partition.metadata"), "utf8")).toBe("version: 0\ntopic_id: EAAAAAAAQACAAAAAAAAAAQ\n")
    fs.writeFileSync(path.join(dir, "partition.metadata"), "version: 0\ntopic_id: EAAAAAAAQACAAAAAAAAAAQ==\n")
    expect(readPartitionMetadata(dir)).toEqual({ version: 0, topicId: "EAAAAAAAQACAAAAAAAAAAQ" })
    fs.writeFileSync(path.join(dir, "partition.metadata"), "version: 0\ntopic_id: nope\n")
    expect(() => readPartitionMetadata(dir)).toThrow(/not a valid uuid/)
  })
})

describe("Kafka's Uuid.fromString", () => {
  it("accepts what Java's URL-safe base64 decoder accepts", () => {
    expect(uuidFromString("EAAAAAAAQACAAAAAAAAAAQ")).toBe("EAAAAAAAQACAAAAAAAAAAQ")
    expect(uuidFromString("EAAAAAAAQACAAAAAAAAAAQ==")).toBe("EAAAAAAAQACAAAAAAAAAAQ")
    // The 4 bits past the 16th byte are ignored, as Java's decoder does.
    expect(uuidFromString("EAAAAAAAQACAAAAAAAAAAR")).toBe("EAAAAAAAQACAAAAAAAAAAQ")
  })

  it("refuses what it refuses", () => {
    expect(() => uuidFromString("EAAAAAAAQACAAAAAAAAAAQ=")).toThrow(/not valid base64url/) // incomplete padding
    expect(() => uuidFromString("EAAAAAAAQACAAAAAAAAAAQ===")).toThrow(/too long/)
    expect(() => uuidFromString("EAAAAAAAQACAAAAAAAAAA+")).toThrow(/not valid base64url/) // not the URL alphabet
    expect(() => uuidFromString("EAAAAAAAQACAAAAAAAAA")).toThrow(/decoded as 15 bytes/)
    expect(() => uuidFromString("")).toThrow(/decoded as 0 bytes/)
  })
})

describe("the .lock of a log dir", () => {
  it("is held once per directory, emptied on release, and then taken again", () => {
    const dir = tmp()
    const lock = lockDir(dir)
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8")).toMatch(new RegExp(`^${process.pid}( \\d+)?\\n$`))
    expect(() => lockDir(dir)).toThrow(/in use by this process/)
    const alias = path.join(tmp(), "alias")
    fs.symlinkSync(dir, alias)
    expect(() => lockDir(alias)).toThrow(/in use by this process/)
    lock.release()
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8")).toBe("")
    lockDir(dir).release()
  })

  it("takes over the empty .lock Kafka leaves and one of a process that is gone", () => {
    const dir = tmp()
    fs.writeFileSync(path.join(dir, LOCK_FILE), "")
    lockDir(dir).release()
    // 2^22 + 1 is above the largest pid Linux hands out (pid_max is at most 2^22).
    fs.writeFileSync(path.join(dir, LOCK_FILE), "4194305 12345\n")
    const lock = lockDir(dir)
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8")).toMatch(new RegExp(`^${process.pid}`))
    lock.release()
  })

  it("refuses a lock held by a live process other than this one, naming the directory and the pid", () => {
    const dir = tmp()
    // pid 1 is always alive; no start time recorded, so it cannot be told apart from a reuse.
    fs.writeFileSync(path.join(dir, LOCK_FILE), "1\n")
    expect(() => lockDir(dir)).toThrow(new RegExp(`log directory ${dir} is in use by another process \\(pid 1\\)`))
    // A live pid whose start time differs from the recorded one is a reused pid: stale.
    fs.writeFileSync(path.join(dir, LOCK_FILE), "1 999999999999\n")
    if (fs.existsSync("/proc/1/stat")) lockDir(dir).release()
  })
})
