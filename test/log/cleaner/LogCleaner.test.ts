import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { CLEANER_OFFSET_CHECKPOINT_FILE, LogCleaner, type LogCleanerOptions } from "../../../src/log/cleaner/LogCleaner.ts"
import { LogStore } from "../../../src/log/LogStore.ts"
import type { LogConfig } from "../../../src/log/partition-log.ts"
import { buildRecordBatch } from "../../../src/log/record-batch.ts"
import { makeTempDir, removeTempDirs } from "../helpers.ts"
import { latestByKey, readAll, TOPIC_ID } from "./helpers.ts"

afterEach(removeTempDirs)

const COMPACT: Partial<LogConfig> = { cleanupPolicy: ["compact"], segmentBytes: 4096, minCleanableDirtyRatio: 0.1 }

const layer = (logDir: string, options: Partial<LogCleanerOptions>) =>
  LogCleaner.layer(options).pipe(Layer.provideMerge(Layer.orDie(LogStore.layer({ logDirs: [logDir] }))))

const writeUpdates = (topic: string, keys: number, updates: number) =>
  Effect.gen(function*() {
    const store = yield* LogStore
    for (let i = 0; i < updates; i++) {
      const key = `key-${i % keys}`
      yield* store.append(topic, 0, buildRecordBatch({ records: [{ key, value: `${key}@${i}-${"x".repeat(30)}`, timestamp: i }] }))
    }
  })

/** Lets other fibers run until `done` holds (bounded). */
const until = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000 && !done(); i++) yield* Effect.yieldNow
    assert.isTrue(done())
  })

describe("LogCleaner service", () => {
  it.effect("the cleaner fiber cleans the dirtiest compacted log after log.cleaner.backoff.ms and records the checkpoint", () => {
    const logDir = makeTempDir()
    return Effect.gen(function*() {
      const store = yield* LogStore
      const cleaner = yield* LogCleaner
      yield* store.createPartition("compacted", 0, TOPIC_ID, COMPACT)
      yield* store.createPartition("plain", 0, "AAAAAAAAAAAAAAAAAAAAAg", { segmentBytes: 4096 })
      yield* writeUpdates("compacted", 5, 300)
      yield* writeUpdates("plain", 5, 300)
      const log = yield* store.getPartition("compacted", 0)
      const plain = yield* store.getPartition("plain", 0)
      const before = readAll(log).records
      const plainSize = plain.size()
      const sizeBefore = log.size()
      yield* TestClock.adjust(1_000)
      yield* until(() => cleaner.checkpointOf("compacted", 0) !== undefined)
      assert.strictEqual(cleaner.checkpointOf("compacted", 0), log.activeSegment.baseOffset)
      assert.isBelow(log.size(), sizeBefore / 2)
      assert.deepStrictEqual(latestByKey(readAll(log).records), latestByKey(before))
      // the delete-policy topic is not the cleaner's
      assert.strictEqual(plain.size(), plainSize)
      assert.strictEqual(cleaner.checkpointOf("plain", 0), undefined)
      const file = fs.readFileSync(path.join(logDir, CLEANER_OFFSET_CHECKPOINT_FILE), "utf8")
      assert.strictEqual(file, `0\n1\ncompacted 0 ${log.activeSegment.baseOffset}\n`)
      // nothing is dirty any more
      assert.isNull(yield* cleaner.cleanFilthiest)
    }).pipe(Effect.provide(layer(logDir, { backoffMs: 1_000 })))
  })

  it.effect("with log.cleaner.enable=false nothing runs by itself; the checkpoint survives a restart", () => {
    const logDir = makeTempDir()
    return Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const store = yield* LogStore
        const cleaner = yield* LogCleaner
        yield* store.createPartition("compacted", 0, TOPIC_ID, COMPACT)
        yield* writeUpdates("compacted", 5, 300)
        yield* TestClock.adjust(60_000)
        for (let i = 0; i < 100; i++) yield* Effect.yieldNow
        assert.strictEqual(cleaner.checkpointOf("compacted", 0), undefined)
        const rounds = yield* cleaner.cleanUntilClean()
        assert.strictEqual(rounds.length, 1)
        assert.isBelow(rounds[0]!.sizeAfter, rounds[0]!.sizeBefore)
      }).pipe(Effect.provide(layer(logDir, { enable: false })))
      // restarted: the checkpoint is read back, so a clean log is not cleaned again
      yield* Effect.gen(function*() {
        const store = yield* LogStore
        const cleaner = yield* LogCleaner
        yield* store.createPartition("compacted", 0, TOPIC_ID, COMPACT)
        assert.isNull(yield* cleaner.cleanFilthiest)
        assert.isNumber(cleaner.checkpointOf("compacted", 0))
      }).pipe(Effect.provide(layer(logDir, { enable: false })))
    })
  })

  it.effect("tombstones disappear after delete.retention.ms on the TestClock, not before", () => {
    const logDir = makeTempDir()
    return Effect.gen(function*() {
      const store = yield* LogStore
      const cleaner = yield* LogCleaner
      yield* store.createPartition("compacted", 0, TOPIC_ID, { ...COMPACT, deleteRetentionMs: 60_000 })
      const log = yield* store.getPartition("compacted", 0)
      yield* writeUpdates("compacted", 5, 100)
      yield* store.append("compacted", 0, buildRecordBatch({ records: [{ key: "key-2", value: null, timestamp: 100 }] }))
      const tombstone = log.logEndOffset - 1
      log.roll(0)
      const hasTombstone = () => readAll(log).records.some((r) => r.offset === tombstone && r.value === null)
      // Dirty data for each later round: other keys, then a roll so it is cleanable.
      const moreDirtyData = Effect.gen(function*() {
        for (let i = 0; i < 100; i++) {
          yield* store.append("compacted", 0, buildRecordBatch({ records: [{ key: `other-${i % 3}`, value: `o${i}-${"y".repeat(30)}`, timestamp: 200 }] }))
        }
        log.roll(0)
      })
      yield* TestClock.setTime(1_000)
      yield* cleaner.cleanUntilClean()
      assert.isTrue(hasTombstone())
      assert.isFalse(readAll(log).records.some((r) => r.key === "key-2" && r.value !== null))
      yield* TestClock.setTime(1_000 + 59_999)
      yield* moreDirtyData
      assert.isAbove((yield* cleaner.cleanUntilClean()).length, 0)
      assert.isTrue(hasTombstone())
      yield* TestClock.setTime(1_000 + 60_000)
      yield* moreDirtyData
      assert.isAbove((yield* cleaner.cleanUntilClean()).length, 0)
      assert.isFalse(hasTombstone())
      assert.isFalse(readAll(log).records.some((r) => r.key === "key-2"))
    }).pipe(Effect.provide(layer(logDir, { enable: false })))
  })

  it.effect("a deleted partition's checkpoint does not apply to a new partition of the same name", () => {
    const logDir = makeTempDir()
    return Effect.gen(function*() {
      const store = yield* LogStore
      const cleaner = yield* LogCleaner
      yield* store.createPartition("compacted", 0, TOPIC_ID, COMPACT)
      yield* writeUpdates("compacted", 5, 300)
      yield* cleaner.cleanUntilClean()
      const first = cleaner.checkpointOf("compacted", 0)!
      assert.isAbove(first, 0)
      yield* store.deletePartition("compacted", 0)
      yield* store.createPartition("compacted", 0, "AAAAAAAAAAAAAAAAAAAAAw", COMPACT)
      yield* writeUpdates("compacted", 5, 300)
      const log = yield* store.getPartition("compacted", 0)
      const before = readAll(log).records
      const rounds = yield* cleaner.cleanUntilClean()
      assert.strictEqual(rounds.length, 1)
      // cleaned from its start: below the active segment, one record per key
      const cleaned = readAll(log).records.filter((r) => r.offset < log.activeSegment.baseOffset)
      assert.strictEqual(new Set(cleaned.map((r) => r.key)).size, cleaned.length)
      assert.deepStrictEqual(latestByKey(readAll(log).records), latestByKey(before))
    }).pipe(Effect.provide(layer(logDir, { enable: false })))
  })

  it.effect("retention leaves compact-only logs to the cleaner and applies to compact,delete logs", () => {
    const logDir = makeTempDir()
    return Effect.gen(function*() {
      const store = yield* LogStore
      yield* store.createPartition("compact-only", 0, TOPIC_ID, { ...COMPACT, retentionMs: 1_000 })
      yield* store.createPartition("compact-delete", 0, "AAAAAAAAAAAAAAAAAAAAAg", { ...COMPACT, cleanupPolicy: ["compact", "delete"], retentionMs: 1_000 })
      yield* writeUpdates("compact-only", 5, 300)
      yield* writeUpdates("compact-delete", 5, 300)
      const a = yield* store.getPartition("compact-only", 0)
      const b = yield* store.getPartition("compact-delete", 0)
      const segments = a.numberOfSegments
      yield* store.enforceRetention(1_000_000)
      assert.strictEqual(a.numberOfSegments, segments)
      assert.strictEqual(b.numberOfSegments, 1)
    }).pipe(Effect.provide(layer(logDir, { enable: false })))
  })
})
