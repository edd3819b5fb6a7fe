/**
 * `node bench/cleaner-stall-probe.ts [--mib=M] [--rounds=R]`: how long a log cleaning round
 * holds the event loop, on the real disk under os.tmpdir(). Each round fills a compacted
 * partition with M MiB of unique keys (64 KiB batches of 1 KiB records; segment.bytes is M/2
 * MiB, so a round cleans one group of about M/2 MiB into one segment, all of it retained),
 * writes it back (`sync`), and cleans it with the round driven as the LogCleaner service
 * drives it: a macrotask turn between steps, and either waiting for the cleaned log's force on
 * the thread pool ("thread pool", what the service does) or not waiting, so that the
 * cleaned segment's `finish` forces it on the event loop ("event loop", what every round did
 * before). The two alternate, each on a fresh partition. A 1 ms timer records the longest gap
 * of the event loop during the round; the two longest steps of the round and the parts of each
 * swap (through the round's swap hook) are printed too.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cleanRound, logToClean } from "../src/log/cleaner/cleaner.ts"
import { OffsetMap } from "../src/log/cleaner/offset-map.ts"
import { defaultLogConfig, PartitionLog } from "../src/log/partition-log.ts"
import { buildRecordBatch } from "../src/log/record-batch.ts"

const arg = (name: string, fallback: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
const mib = Number(arg("mib", "256"))
const rounds = Number(arg("rounds", "4"))
const root = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-cleaner-stall-"))

const value = "v".repeat(1000)
const fill = (dir: string): PartitionLog => {
  const log = PartitionLog.create(dir, "compacted", 0, "AAAAAAAAAAAAAAAAAAAAAQ", {
    ...defaultLogConfig,
    cleanupPolicy: ["compact"],
    minCleanableDirtyRatio: 0.01,
    segmentBytes: (mib / 2) * 1024 * 1024
  }, 0)
  let key = 0
  for (let written = 0; written < mib * 1024 * 1024;) {
    const records = Array.from({ length: 64 }, () => ({ key: `key-${key++}`, value, timestamp: 1_000 }))
    const batch = buildRecordBatch({ records })
    log.append(batch, { now: 1_000 })
    written += batch.length
  }
  log.roll(1_000)
  return log
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

const clean = async (log: PartitionLog, waitForForce: boolean): Promise<{ maxGapMs: number; ms: number; longestSteps: string; swapParts: string }> => {
  const ltc = logToClean(log, undefined, 10_000)
  // The swap's parts, timed from the force's return: finish (indexes forced), each rename step with its directory fsync, the new segment opened.
  const swapParts: Array<string> = []
  let mark = 0
  const hook = (step: string) => {
    const now = performance.now()
    swapParts.push(`${step} +${(now - mark).toFixed(1)}`)
    mark = now
  }
  const steps = cleanRound(log, { now: 10_000, map: new OffsetMap(64 << 20), firstDirtyOffset: 0, firstUncleanableOffset: ltc.firstUncleanableOffset, hook })
  let last = performance.now()
  let maxGapMs = 0
  const timer = setInterval(() => {
    const now = performance.now()
    maxGapMs = Math.max(maxGapMs, now - last)
    last = now
  }, 1)
  const start = performance.now()
  const stepMs: Array<[number, string]> = []
  // The step after a force finishes and swaps in that group (the round's last step, its last group).
  let afterForce = false
  try {
    for (;;) {
      const before = performance.now()
      mark = before
      const step = steps.next()
      stepMs.push([performance.now() - before, `${afterForce ? "a group's finish and swap" : "cleaning"}, step ${stepMs.length} of the round`])
      if (step.done === true) break
      afterForce = typeof step.value !== "number"
      if (typeof step.value !== "number" && waitForForce) await step.value
      await turn()
    }
  } finally {
    clearInterval(timer)
  }
  maxGapMs = Math.max(maxGapMs, performance.now() - last)
  const longestSteps = stepMs.sort((a, b) => b[0] - a[0]).slice(0, 2).map(([ms, what]) => `${ms.toFixed(1)} ms (${what})`).join(", ")
  return { maxGapMs, ms: performance.now() - start, longestSteps, swapParts: swapParts.join(", ") }
}

try {
  for (let r = 0; r < rounds; r++) {
    for (const waitForForce of r % 2 === 0 ? [true, false] : [false, true]) {
      const dir = fs.mkdtempSync(path.join(root, "dir-"))
      const log = fill(dir)
      execFileSync("sync")
      const { maxGapMs, ms, longestSteps, swapParts } = await clean(log, waitForForce)
      console.log(`round ${r + 1} ${waitForForce ? "thread pool" : "event loop "}: longest event-loop gap ${maxGapMs.toFixed(1)} ms, round ${ms.toFixed(0)} ms; longest steps ${longestSteps}`)
      console.log(`  swap steps, ms since the last: ${swapParts}`)
      log.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
