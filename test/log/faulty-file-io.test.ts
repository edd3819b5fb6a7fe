/**
 * The fault injector the disk-fault tests rely on: its power-loss model is POSIX-strict
 * (bytes durable at their file's fsync, names at their directory's fsync), its rules fail
 * the calls they name, and a torn write leaves a prefix and a dead machine.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { FaultyFileIo } from "../support/faulty-file-io.ts"

let root = ""
afterEach(() => fs.rmSync(root, { recursive: true, force: true }))

const setup = (): FaultyFileIo => {
  root = fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "faulty-io-"))
  fs.writeFileSync(path.join(root, "old"), "durable at start")
  return new FaultyFileIo(root)
}

const fsyncDir = (f: FaultyFileIo, dir: string): void => {
  const fd = f.io.openSync(dir, "r")
  f.io.fsyncSync(fd)
  f.io.closeSync(fd)
}

describe("FaultyFileIo", () => {
  it("power loss keeps fsynced bytes under fsynced names, and nothing else", () => {
    const f = setup()
    const io = f.io
    const fd = io.openSync(path.join(root, "a"), "w")
    io.writeSync(fd, Buffer.from("one"))
    io.fsyncSync(fd)
    io.writeSync(fd, Buffer.from("two"))
    io.closeSync(fd)
    // "a" is fsynced but its name is not: gone. After the directory fsync it stays, with "one".
    f.powerLoss()
    expect(fs.readdirSync(root)).toEqual(["old"])

    const fd2 = io.openSync(path.join(root, "a"), "w")
    io.writeSync(fd2, Buffer.from("one"))
    io.fsyncSync(fd2)
    fsyncDir(f, root)
    io.writeSync(fd2, Buffer.from("two"))
    io.closeSync(fd2)
    io.mkdirSync(path.join(root, "sub"))
    io.writeFileSync(path.join(root, "b"), "never synced")
    f.powerLoss()
    expect(fs.readdirSync(root).sort()).toEqual(["a", "old"])
    expect(fs.readFileSync(path.join(root, "a"), "utf8")).toBe("one")
    expect(fs.readFileSync(path.join(root, "old"), "utf8")).toBe("durable at start")
  })

  it("a rename is durable once the directory is fsynced, and keeps the file's durable bytes", () => {
    const f = setup()
    const io = f.io
    const fd = io.openSync(path.join(root, "x.tmp"), "w")
    io.writeSync(fd, Buffer.from("content"))
    io.fsyncSync(fd)
    io.closeSync(fd)
    io.renameSync(path.join(root, "x.tmp"), path.join(root, "x"))
    fsyncDir(f, root)
    f.powerLoss()
    expect(fs.readFileSync(path.join(root, "x"), "utf8")).toBe("content")
    expect(fs.existsSync(path.join(root, "x.tmp"))).toBe(false)
  })

  it("fails the calls a rule names, after a byte budget with a short write first", () => {
    const f = setup()
    const io = f.io
    const remove = f.fail({ code: "ENOSPC", ops: ["write"], path: /\.log$/, afterBytes: 5 })
    const fd = io.openSync(path.join(root, "s.log"), "w")
    expect(io.writeSync(fd, Buffer.from("12345678"))).toBe(5)
    expect(() => io.writeSync(fd, Buffer.from("678"))).toThrow(expect.objectContaining({ code: "ENOSPC" }))
    // Other paths and other calls are untouched.
    io.fsyncSync(fd)
    io.writeFileSync(path.join(root, "other"), "fine")
    remove()
    expect(io.writeSync(fd, Buffer.from("678"), 0, 3, 5)).toBe(3)
    io.closeSync(fd)
    expect(fs.readFileSync(path.join(root, "s.log"), "utf8")).toBe("12345678")
    f.fail({ code: "EIO", ops: ["fsync"], times: 1 })
    const fd3 = io.openSync(path.join(root, "s.log"), "r+")
    expect(() => io.fsyncSync(fd3)).toThrow(expect.objectContaining({ code: "EIO" }))
    io.fsyncSync(fd3)
    io.closeSync(fd3)
    expect(f.injected.map((i) => `${i.op}:${i.code}`)).toEqual(["write:ENOSPC", "fsync:EIO"])
  })

  it("a torn write stores a prefix, then every call fails until power comes back", () => {
    const f = setup()
    const io = f.io
    f.tearNextWrite("t.log", 42)
    const fd = io.openSync(path.join(root, "t.log"), "w")
    const bytes = Buffer.alloc(100, 7)
    expect(() => io.writeSync(fd, bytes, 0, 100, 0)).toThrow(expect.objectContaining({ code: "EIO" }))
    const stored = fs.readFileSync(path.join(root, "t.log")).length
    expect(stored).toBeLessThan(100)
    expect(f.isDead).toBe(true)
    expect(() => io.writeFileSync(path.join(root, "u"), "x")).toThrow(expect.objectContaining({ code: "EIO" }))
    io.closeSync(fd)
    f.powerLoss()
    expect(f.isDead).toBe(false)
    io.writeFileSync(path.join(root, "u"), "x")
  })
})
