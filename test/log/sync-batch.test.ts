/**
 * SyncBatch, the shutdown's gathered writes and fsyncs, on the power-loss model of
 * FaultyFileIo: what it reports done is durable (contents, then renames, then directory
 * entries), the serial and parallel runs leave the same files, and a failure stops only
 * its owner's later steps.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { SyncBatch } from "../../src/log/sync-batch.ts"
import { FaultyFileIo } from "../support/faulty-file-io.ts"

let root = ""
afterEach(() => fs.rmSync(root, { recursive: true, force: true }))

const setup = (): FaultyFileIo => {
  root = fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "sync-batch-"))
  for (const p of ["p0", "p1"]) {
    fs.mkdirSync(path.join(root, p))
    fs.writeFileSync(path.join(root, p, "checkpoint"), "old")
    fs.writeFileSync(path.join(root, p, "index"), "0123456789")
  }
  return new FaultyFileIo(root)
}

/** Per partition: an appended segment, an index tail rewritten, a checkpoint replaced through a temporary. */
const fill = (f: FaultyFileIo, batch: SyncBatch): void => {
  for (const p of ["p0", "p1"]) {
    const dir = path.join(root, p)
    const fd = f.io.openSync(path.join(dir, "segment"), "w")
    f.io.writeSync(fd, Buffer.from(`records of ${p}`))
    f.io.closeSync(fd)
    batch.file(path.join(dir, "segment"), p)
    batch.write(path.join(dir, "index"), { content: Buffer.from("ab"), position: 4, truncateTo: 4 }, p)
    batch.write(path.join(dir, "checkpoint.tmp"), { content: Buffer.from(`new ${p}`), position: 0, truncateTo: 0 }, p)
    batch.rename(path.join(dir, "checkpoint.tmp"), path.join(dir, "checkpoint"), p)
    batch.directory(dir, p)
    batch.directory(root, p)
  }
}

const contents = (p: string) =>
  Object.fromEntries(fs.readdirSync(path.join(root, p)).sort().map((n) => [n, fs.readFileSync(path.join(root, p, n), "utf8")]))

describe("SyncBatch", () => {
  it.each(["serial", "parallel"] as const)("%s: everything it wrote survives a power loss right after it", async (how) => {
    const f = setup()
    const batch = new SyncBatch()
    fill(f, batch)
    if (how === "serial") batch.runSync(f.io)
    else expect(await batch.run(f.io, 3)).toEqual(new Map())
    f.powerLoss()
    for (const p of ["p0", "p1"]) {
      expect(contents(p)).toEqual({ checkpoint: `new ${p}`, index: "0123ab", segment: `records of ${p}` })
    }
  })

  it("a failed fsync stops that owner's rename and leaves the other owner's steps done", async () => {
    const f = setup()
    const batch = new SyncBatch()
    fill(f, batch)
    f.fail({ code: "EIO", ops: ["fsync"], path: /p1\/checkpoint\.tmp$/ })
    const failed = await batch.run(f.io)
    expect([...failed.keys()]).toEqual(["p1"])
    expect(failed.get("p1")?.message).toMatch(/EIO/)
    f.heal()
    f.powerLoss()
    expect(contents("p0")).toEqual({ checkpoint: "new p0", index: "0123ab", segment: "records of p0" })
    // p1's checkpoint was never replaced: the old one is what a restart finds.
    expect(contents("p1").checkpoint).toBe("old")
  })

  it("renames on the thread pool: a failed one stops that owner's later renames, the other owner's are all done", async () => {
    const f = setup()
    const batch = new SyncBatch()
    fill(f, batch)
    for (const p of ["p0", "p1"]) {
      const dir = path.join(root, p)
      batch.write(path.join(dir, "snapshot.tmp"), { content: Buffer.from(`snapshot ${p}`), position: 0, truncateTo: 0 }, p)
      batch.rename(path.join(dir, "snapshot.tmp"), path.join(dir, "snapshot"), p)
    }
    f.fail({ code: "EIO", ops: ["rename"], path: /p1\/checkpoint\.tmp$/ })
    const failed = await batch.run(f.io)
    expect([...failed.keys()]).toEqual(["p1"])
    expect(failed.get("p1")?.message).toMatch(/EIO: i\/o error, rename/)
    f.heal()
    f.powerLoss()
    expect(contents("p0")).toEqual({ checkpoint: "new p0", index: "0123ab", segment: "records of p0", snapshot: "snapshot p0" })
    // p1: contents forced, but no rename after the failed one, and its directory never forced.
    expect(contents("p1")).toEqual({ checkpoint: "old", index: "0123ab" })
  })
})
