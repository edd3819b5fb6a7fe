/**
 * Crash safety of the cleaner's segment swap: a crash is simulated after every step of a
 * cleaning round (and inside the rename steps) by copying the partition directory as it
 * is at that moment; each copy must open — recovery finishing or rolling back the swap —
 * and read as a valid log: every key's latest value, every record at its original offset,
 * offsets increasing, no leftover temporary files.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { cleanRoundSync, logToClean } from "../../../src/log/cleaner/cleaner.ts"
import { OffsetMap } from "../../../src/log/cleaner/offset-map.ts"
import type { SwapStep } from "../../../src/log/cleaner/swap.ts"
import { PartitionLog } from "../../../src/log/partition-log.ts"
import { makeTempDir, removeTempDirs } from "../helpers.ts"
import { compactedConfig, latestByKey, newLog, readAll, type ReadRecord, writeUpdates } from "./helpers.ts"

afterEach(removeTempDirs)

const TEMP_SUFFIXES = [".cleaned", ".swap", ".deleted"]

interface Snapshot {
  readonly name: string
  readonly dir: string
}

const snapshot = (root: string, name: string, from: string): Snapshot => {
  const dir = path.join(root, name, path.basename(from))
  fs.cpSync(from, dir, { recursive: true })
  return { name, dir }
}

const filesOf = (dir: string) => fs.readdirSync(dir).sort()

/** Variants of a snapshot in the middle of a rename step (the hook only sees whole steps). */
const partialVariants = (root: string, snap: Snapshot, step: SwapStep): Array<Snapshot> => {
  const out: Array<Snapshot> = []
  const files = filesOf(snap.dir)
  const variant = (suffix: string, mutate: (dir: string) => void) => {
    const v = snapshot(root, `${snap.name}-${suffix}`, snap.dir)
    mutate(v.dir)
    out.push(v)
  }
  if (step === "cleaned") {
    // crash while the .cleaned log was being written: a torn file
    const cleanedLog = files.find((f) => f.endsWith(".log.cleaned"))!
    variant("torn-cleaned", (dir) => {
      const file = path.join(dir, cleanedLog)
      fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2))
    })
    // crash in step 2 after the index files were renamed, before the log file
    variant("indexes-swapped", (dir) => {
      for (const f of filesOf(dir)) {
        if (f.endsWith(".cleaned") && !f.endsWith(".log.cleaned")) fs.renameSync(path.join(dir, f), path.join(dir, f.replace(/\.cleaned$/, ".swap")))
      }
    })
  }
  if (step === "swap") {
    // crash in step 3: the first replaced segment's index files renamed, its log not yet
    const logs = files.filter((f) => f.endsWith(".log"))
    const first = logs[0]!.slice(0, 20)
    variant("old-indexes-deleted", (dir) => {
      for (const s of [".index", ".timeindex"]) {
        const f = path.join(dir, first + s)
        if (fs.existsSync(f)) fs.renameSync(f, f + ".deleted")
      }
    })
    variant("first-old-deleted", (dir) => {
      for (const s of [".index", ".timeindex", ".log"]) {
        const f = path.join(dir, first + s)
        if (fs.existsSync(f)) fs.renameSync(f, f + ".deleted")
      }
    })
  }
  if (step === "deleted") {
    // crash in step 4 after the index swaps lost their suffix, before the log swap
    variant("indexes-renamed", (dir) => {
      for (const f of filesOf(dir)) {
        if (f.endsWith(".swap") && !f.endsWith(".log.swap")) fs.renameSync(path.join(dir, f), path.join(dir, f.replace(/\.swap$/, "")))
      }
    })
  }
  return out
}

const expectValidLog = (records: ReadonlyArray<ReadRecord>, before: ReadonlyArray<ReadRecord>, after: ReadonlyArray<ReadRecord>) => {
  const valueAt = new Map(before.map((r) => [r.offset, r.value]))
  for (const r of records) expect(valueAt.get(r.offset), `offset ${r.offset}`).toBe(r.value)
  for (let i = 1; i < records.length; i++) expect(records[i]!.offset).toBeGreaterThan(records[i - 1]!.offset)
  expect(latestByKey(records)).toEqual(latestByKey(before))
  // nothing the completed round keeps is missing
  const offsets = new Set(records.map((r) => r.offset))
  for (const r of after) expect(offsets.has(r.offset), `offset ${r.offset} kept by the clean`).toBe(true)
}

describe("segment swap crash safety", () => {
  it("a crash at every step of a cleaning round leaves a log that opens and reads correctly", () => {
    const root = makeTempDir()
    const config = compactedConfig({ segmentBytes: 1_500 })
    const log = newLog({ segmentBytes: 1_500 })
    writeUpdates(log, 6, 80)
    const before = readAll(log).records
    const snapshots: Array<Snapshot> = []
    const counter = new Map<SwapStep, number>()
    const ltc = logToClean(log, undefined, 10_000)
    cleanRoundSync(log, {
      now: 10_000,
      map: new OffsetMap(1 << 20),
      firstDirtyOffset: ltc.firstDirtyOffset,
      firstUncleanableOffset: ltc.firstUncleanableOffset,
      hook: (step) => {
        const n = (counter.get(step) ?? 0) + 1
        counter.set(step, n)
        const snap = snapshot(root, `${step}-${n}`, log.dir)
        snapshots.push(snap)
        // the first group's intermediate states, also in the middle of each step
        if (n === 1) snapshots.push(...partialVariants(root, snap, step))
      }
    })
    const after = readAll(log).records
    expect(after.length).toBeLessThan(before.length)
    const groups = counter.get("removed") ?? 0
    expect(groups).toBeGreaterThan(1)
    for (const step of ["cleaned", "swap", "deleted", "renamed", "removed"] as const) expect(counter.get(step)).toBe(groups)
    expect(snapshots.length).toBe(groups * 5 + 5)

    for (const snap of snapshots) {
      const reopened = PartitionLog.open(snap.dir, config, { now: 20_000, cleanShutdown: false })
      const records = readAll(reopened).records
      expectValidLog(records, before, after)
      expect(filesOf(snap.dir).filter((f) => TEMP_SUFFIXES.some((s) => f.endsWith(s))), snap.name).toEqual([])
      reopened.close()
      // and it opens the same way a second time (recovery left a settled directory)
      const again = PartitionLog.open(snap.dir, config, { now: 30_000, cleanShutdown: false })
      expect(readAll(again).records, snap.name).toEqual(records)
      expect(again.openWarnings.filter((w) => w.includes("swap") || w.includes("clean")), snap.name).toEqual([])
      again.close()
    }
    // a crash before the swap commit rolls back; after it, the swap completes
    const rolledBack = PartitionLog.open(snapshots.find((s) => s.name === "cleaned-1")!.dir, config, { now: 1, cleanShutdown: false })
    expect(readAll(rolledBack).records.length).toBe(before.length)
    rolledBack.close()
    const completed = PartitionLog.open(snapshots.find((s) => s.name === "swap-1")!.dir, config, { now: 1, cleanShutdown: false })
    expect(readAll(completed).records.length).toBeLessThan(before.length)
    completed.close()
  })
})
