import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { TestClock } from "effect/testing"
import {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  LogStore,
  type LogStoreOptions,
  MAX_TIMESTAMP,
  READ_COMMITTED
} from "../../src/log/LogStore.ts"
import { backgroundRemovalsSettled } from "../../src/log/background-removal.ts"
import { LogMaintenance } from "../../src/log/maintenance.ts"
import { encodeTxnMarkerBatch } from "../../src/log/control-records.ts"
import { buildRecordBatch, readBatchHeader, readRecords } from "../../src/log/record-batch.ts"
import { FileIo, type FileIoShape, nodeFileIo } from "../../src/storage/FileIo.ts"
import { batchOf, makeTempDir, removeTempDirs } from "./helpers.ts"

afterEach(removeTempDirs)

const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"

const withStore = <A, E>(options: LogStoreOptions, body: (store: LogStore["Service"]) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const store = yield* LogStore
    return yield* body(store)
  }).pipe(Effect.provide(LogStore.layer(options)))

/**
 * "orders-0" with four segments of three records, timestamped 0, 1000, 2000 and 3000, of which
 * retention at 2500 (retention.ms 1000) deletes the first two.
 */
const fourSegmentsTwoPastRetention = (store: LogStore["Service"]) =>
  Effect.gen(function*() {
    yield* store.createPartition("orders", 0, TOPIC_ID)
    for (let i = 0; i < 4; i++) yield* store.append("orders", 0, batchOf(3, i * 1000))
    const log = yield* store.getPartition("orders", 0)
    assert.deepStrictEqual(log.segmentBaseOffsets(), [0, 3, 6, 9])
    assert.strictEqual(yield* store.enforceRetention(2500), 2)
    return log
  })

const failureTag = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.match(effect, { onFailure: (e) => e._tag, onSuccess: () => "success" })

/** A FileIo that records which partition directories of `logDir` are listed (opening a log lists its directory). */
const watchPartitionReads = (logDir: string) => {
  const opened: Array<string> = []
  const watching = Layer.succeed(FileIo, {
    ...nodeFileIo,
    readdirSync: ((dir: fs.PathLike, options?: unknown) => {
      if (path.dirname(String(dir)) === logDir) opened.push(path.basename(String(dir)))
      return (nodeFileIo.readdirSync as (d: fs.PathLike, o?: unknown) => unknown)(dir, options)
    }) as FileIoShape["readdirSync"]
  })
  return { opened, watching }
}

describe("LogStore", () => {
  it.effect("appends, reads and lists offsets", () => {
    const logDir = makeTempDir()
    return withStore({ logDirs: [logDir] }, (store) =>
      Effect.gen(function*() {
        yield* store.createPartition("orders", 0, TOPIC_ID)
        const first = yield* store.append("orders", 0, buildRecordBatch({ records: [10, 20, 30].map((timestamp) => ({ value: `t${timestamp}`, timestamp })) }))
        const second = yield* store.append("orders", 0, batchOf(2, 25))
        assert.deepStrictEqual([first.baseOffset, first.lastOffset, second.baseOffset, second.lastOffset], [0, 2, 3, 4])
        assert.strictEqual(first.logAppendTime, -1)

        const fetched = yield* store.read("orders", 0, 1, 1 << 20, true)
        assert.strictEqual(fetched.highWatermark, 5)
        const h = readBatchHeader(fetched.records)
        assert.strictEqual(h.baseOffset, 0)
        assert.deepStrictEqual([...readRecords(fetched.records.subarray(0, h.sizeInBytes))].map((r) => r.offset), [0, 1, 2])

        assert.deepStrictEqual(yield* store.listOffsets("orders", 0, LATEST_TIMESTAMP), { offset: 5, timestamp: -1 })
        assert.deepStrictEqual(yield* store.listOffsets("orders", 0, EARLIEST_TIMESTAMP), { offset: 0, timestamp: -1 })
        assert.deepStrictEqual(yield* store.listOffsets("orders", 0, MAX_TIMESTAMP), { offset: 2, timestamp: 30 })
        // first offset (not earliest time) whose timestamp qualifies
        assert.deepStrictEqual(yield* store.listOffsets("orders", 0, 21), { offset: 2, timestamp: 30 })
        assert.deepStrictEqual(yield* store.listOffsets("orders", 0, 15), { offset: 1, timestamp: 20 })
        assert.deepStrictEqual(yield* store.listOffsets("orders", 0, 31), { offset: -1, timestamp: -1 })

        assert.strictEqual(yield* store.deleteRecords("orders", 0, 3), 3)
        assert.deepStrictEqual(yield* store.listOffsets("orders", 0, EARLIEST_TIMESTAMP), { offset: 3, timestamp: -1 })
        // persisted immediately, not only at shutdown
        const checkpoint = fs.readFileSync(path.join(logDir, "log-start-offset-checkpoint"), "utf8")
        assert.strictEqual(checkpoint, "0\n1\norders 0 3\n")
      }))
  })

  it.effect("reports typed errors", () =>
    withStore({ logDirs: [makeTempDir()] }, (store) =>
      Effect.gen(function*() {
        yield* store.createPartition("orders", 0, TOPIC_ID)
        yield* store.append("orders", 0, batchOf(2, 0))
        assert.strictEqual(yield* failureTag(store.read("orders", 1, 0, 100, true)), "PartitionNotFound")
        assert.strictEqual(yield* failureTag(store.append("nope", 0, batchOf(1, 0))), "PartitionNotFound")
        assert.strictEqual(yield* failureTag(store.read("orders", 0, 3, 100, true)), "OffsetOutOfRange")
        assert.strictEqual(yield* failureTag(store.deleteRecords("orders", 0, 9)), "OffsetOutOfRange")
        assert.strictEqual(yield* failureTag(store.createPartition("orders", 0, "AAAAAAAAAAAAAAAAAAAAAg")), "InconsistentTopicId")

        const corrupt = batchOf(2, 0)
        corrupt[corrupt.length - 1]! ^= 1
        const exit = yield* Effect.exit(store.append("orders", 0, corrupt))
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(store.append("orders", 0, corrupt))
        assert.strictEqual(error._tag, "InvalidRecordBatch")
        if (error._tag === "InvalidRecordBatch") assert.strictEqual(error.code, "CORRUPT_MESSAGE")
        assert.strictEqual((yield* store.listOffsets("orders", 0, LATEST_TIMESTAMP)).offset, 2)
      })))

  it.effect("takes LogAppendTime from the Effect clock", () =>
    withStore({ logDirs: [makeTempDir()], messageTimestampType: "LogAppendTime" }, (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(5_000)
        yield* store.createPartition("clicks", 3, TOPIC_ID)
        const result = yield* store.append("clicks", 3, batchOf(2, 1))
        assert.strictEqual(result.logAppendTime, 5_000)
        const { records } = yield* store.read("clicks", 3, 0, 1 << 20, true)
        assert.strictEqual(readBatchHeader(records).maxTimestamp, 5_000)
      })))

  it.effect("notifies append listeners", () =>
    withStore({ logDirs: [makeTempDir()] }, (store) =>
      Effect.gen(function*() {
        const log = yield* store.createPartition("orders", 0, TOPIC_ID)
        const seen: Array<string> = []
        const offStore = store.onAppend((l) => seen.push(`store:${l.topic}-${l.partition}:${l.logEndOffset}`))
        const offLog = log.onAppend(() => seen.push(`log:${log.logEndOffset}`))
        const version = log.version
        yield* store.append("orders", 0, batchOf(2, 0))
        offStore()
        offLog()
        yield* store.append("orders", 0, batchOf(2, 0))
        assert.deepStrictEqual(seen.sort(), ["log:2", "store:orders-0:2"])
        assert.strictEqual(log.version, version + 2)
      })))

  it.effect("writes no empty checkpoint files when a fresh directory opens, and the three at the stop", () => {
    const logDir = makeTempDir()
    const checkpoints = ["recovery-point-offset-checkpoint", "log-start-offset-checkpoint", "replication-offset-checkpoint"]
    return Effect.gen(function*() {
      yield* withStore({ logDirs: [logDir] }, () =>
        Effect.sync(() => assert.deepStrictEqual(checkpoints.filter((f) => fs.existsSync(path.join(logDir, f))), [])))
      for (const f of checkpoints) assert.strictEqual(fs.readFileSync(path.join(logDir, f), "utf8"), "0\n0\n")
    })
  })

  it.effect("shuts down cleanly and loads everything back", () => {
    const logDir = makeTempDir()
    return Effect.gen(function*() {
      yield* withStore({ logDirs: [logDir] }, (store) =>
        Effect.gen(function*() {
          yield* store.createPartition("orders", 0, TOPIC_ID)
          yield* store.createPartition("my-topic-x", 12, TOPIC_ID)
          yield* store.append("orders", 0, batchOf(3, 0))
          yield* store.append("my-topic-x", 12, batchOf(4, 0))
          assert.isFalse(fs.existsSync(path.join(logDir, ".kafka_cleanshutdown")))
        }))
      assert.isTrue(fs.existsSync(path.join(logDir, ".kafka_cleanshutdown")))
      const rp = fs.readFileSync(path.join(logDir, "recovery-point-offset-checkpoint"), "utf8").split("\n")
      assert.deepStrictEqual(rp.slice(0, 2), ["0", "2"])
      assert.deepStrictEqual(rp.slice(2, 4).sort(), ["my-topic-x 12 4", "orders 0 3"])

      // directories the store must leave alone or clean up
      fs.mkdirSync(path.join(logDir, "__cluster_metadata-0"))
      fs.writeFileSync(path.join(logDir, "__cluster_metadata-0", "00000000000000000000.log"), "not a batch")
      fs.mkdirSync(path.join(logDir, "gone-0.0123456789abcdef0123456789abcdef-delete"))
      fs.mkdirSync(path.join(logDir, "not_a_partition"))

      yield* withStore({ logDirs: [logDir] }, (store) =>
        Effect.gen(function*() {
          assert.isFalse(fs.existsSync(path.join(logDir, ".kafka_cleanshutdown")))
          assert.deepStrictEqual(store.partitions().map((l) => `${l.topic}/${l.partition}`).sort(), ["my-topic-x/12", "orders/0"])
          assert.isUndefined(store.findPartition("__cluster_metadata", 0))
          yield* Effect.promise(backgroundRemovalsSettled)
          assert.isFalse(fs.existsSync(path.join(logDir, "gone-0.0123456789abcdef0123456789abcdef-delete")))
          assert.strictEqual((yield* store.append("orders", 0, batchOf(1, 0))).baseOffset, 3)
          const log = yield* store.getPartition("my-topic-x", 12)
          assert.strictEqual(log.topicId, TOPIC_ID)
          assert.strictEqual(log.logEndOffset, 4)
        }))
      assert.strictEqual(fs.readFileSync(path.join(logDir, "__cluster_metadata-0", "00000000000000000000.log"), "utf8"), "not a batch")
    })
  })

  it.effect("after a clean shutdown a log is opened on first use, with the topic's id and settings checked then", () => {
    const logDir = makeTempDir()
    const { opened, watching } = watchPartitionReads(logDir)
    return Effect.gen(function*() {
      yield* withStore({ logDirs: [logDir] }, (store) =>
        Effect.gen(function*() {
          for (let p = 0; p < 3; p++) {
            yield* store.createPartition("orders", p, TOPIC_ID)
            yield* store.append("orders", p, batchOf(p + 1, 0))
          }
          yield* store.createPartition("other", 0, TOPIC_ID)
        }))
      yield* Effect.gen(function*() {
        const store = yield* LogStore
        assert.deepStrictEqual(opened, [])
        assert.deepStrictEqual(store.hosted().map((p) => `${p.topic}/${p.partition}`).sort(), ["orders/0", "orders/1", "orders/2", "other/0"])
        yield* store.adoptPartition("orders", 1, TOPIC_ID, { segmentBytes: 4096 })
        yield* store.adoptPartition("other", 0, "AAAAAAAAAAAAAAAAAAAAAg")
        let epochAt = -1
        store.whenOpen("orders", 1, (log) => {
          epochAt = log.logEndOffset
        })
        assert.deepStrictEqual(opened, [])
        assert.strictEqual(epochAt, -1)
        // First use: the log opens with what it holds, its topic's settings and pending work.
        const log = store.findPartition("orders", 1)!
        assert.deepStrictEqual(opened, ["orders-1"])
        assert.strictEqual(log.logEndOffset, 2)
        assert.strictEqual(log.config.segmentBytes, 4096)
        assert.strictEqual(epochAt, 2)
        assert.strictEqual((yield* store.append("orders", 2, batchOf(1, 0))).baseOffset, 3)
        // A log that turns out to belong to another topic id is left offline, as at a start-up open.
        assert.isUndefined(store.findPartition("other", 0))
        assert.strictEqual(yield* failureTag(store.getPartition("other", 0)), "PartitionNotFound")
        // The rest are opened in the background once start-up is over.
        yield* TestClock.adjust("2 seconds")
        for (let i = 0; i < 100 && !opened.includes("orders-0"); i++) yield* Effect.promise(() => new Promise((r) => setImmediate(r)))
        assert.includeMembers(opened, ["orders-0"])
      }).pipe(Effect.provide(LogStore.layer({ logDirs: [logDir] }).pipe(Layer.provide(watching))))
      // Untouched logs keep their checkpoint entries; the failed one keeps the dir from being marked clean.
      const rp = fs.readFileSync(path.join(logDir, "recovery-point-offset-checkpoint"), "utf8")
      assert.include(rp, "orders 0 1")
      assert.include(rp, "orders 2 4")
      assert.isFalse(fs.existsSync(path.join(logDir, ".kafka_cleanshutdown")))
    })
  })

  it.effect("after an unclean shutdown every log is recovered at start-up", () => {
    const logDir = makeTempDir()
    const { opened, watching } = watchPartitionReads(logDir)
    return Effect.gen(function*() {
      yield* withStore({ logDirs: [logDir] }, (store) =>
        Effect.gen(function*() {
          for (let p = 0; p < 2; p++) yield* store.createPartition("orders", p, TOPIC_ID)
        }))
      fs.rmSync(path.join(logDir, ".kafka_cleanshutdown"))
      yield* Effect.gen(function*() {
        yield* LogStore
        assert.deepStrictEqual(opened.sort(), ["orders-0", "orders-1"])
      }).pipe(Effect.provide(LogStore.layer({ logDirs: [logDir] }).pipe(Layer.provide(watching))))
    })
  })

  it.effect("recovers after an unclean shutdown", () => {
    const logDir = makeTempDir()
    return Effect.gen(function*() {
      yield* withStore({ logDirs: [logDir] }, (store) =>
        Effect.gen(function*() {
          yield* store.createPartition("orders", 0, TOPIC_ID)
          for (let i = 0; i < 4; i++) yield* store.append("orders", 0, batchOf(2, i))
        }))
      // Simulate a crash: no marker, a torn batch at the end, stale checkpoint.
      fs.rmSync(path.join(logDir, ".kafka_cleanshutdown"))
      fs.writeFileSync(path.join(logDir, "recovery-point-offset-checkpoint"), "0\n1\norders 0 0\n")
      const logFile = path.join(logDir, "orders-0", "00000000000000000000.log")
      fs.appendFileSync(logFile, batchOf(2, 9).subarray(0, 30))
      yield* withStore({ logDirs: [logDir] }, (store) =>
        Effect.gen(function*() {
          const log = yield* store.getPartition("orders", 0)
          assert.strictEqual(log.logEndOffset, 8)
          assert.isTrue(log.openWarnings.some((w) => w.includes("truncated 30 bytes")))
          const { records } = yield* store.read("orders", 0, 6, 1 << 20, true)
          assert.strictEqual(readBatchHeader(records).lastOffset, 7)
        }))
    })
  })

  it.effect("renames what it deletes as Kafka does and removes it on the thread pool", () =>
    Effect.gen(function*() {
      const logDir = makeTempDir()
      // Removals wait for the test: what a deletion leaves until then is what a crash would leave.
      const held: Array<{ target: string; run: () => void }> = []
      const io: FileIoShape = {
        ...nodeFileIo,
        rm: ((target: fs.PathLike, options: fs.RmOptions, callback: fs.NoParamCallback) => {
          held.push({ target: String(target), run: () => fs.rm(target, options, callback) })
        }) as typeof fs.rm
      }
      yield* withStore({ logDirs: [logDir], segmentBytes: batchOf(3, 0).length, retentionMs: 1000 }, (store) =>
        Effect.gen(function*() {
          yield* fourSegmentsTwoPastRetention(store)
          const partitionDir = path.join(logDir, "orders-0")
          assert.deepStrictEqual(held.map((h) => path.relative(logDir, h.target)), [
            "orders-0/00000000000000000000.log.deleted",
            "orders-0/00000000000000000003.log.deleted"
          ])
          assert.isTrue(fs.existsSync(path.join(partitionDir, "00000000000000000000.log.deleted")))
          assert.isFalse(fs.existsSync(path.join(partitionDir, "00000000000000000000.log")))
          yield* store.deletePartition("orders", 0)
          assert.isFalse(fs.existsSync(partitionDir))
          const renamed = held[2]!.target
          assert.match(path.basename(renamed), /^orders-0\.[0-9a-f]{32}-delete$/)
          assert.isTrue(fs.existsSync(renamed))
          for (const h of held.splice(0)) h.run()
          yield* Effect.promise(backgroundRemovalsSettled)
          assert.deepStrictEqual(fs.readdirSync(logDir).filter((n) => n.startsWith("orders")), [])
        })).pipe(Effect.provideService(FileIo, io))
    }))

  it.effect("deletes partitions and enforces retention", () => {
    const logDir = makeTempDir()
    const s = batchOf(3, 0).length
    return withStore({ logDirs: [logDir], segmentBytes: s, retentionMs: 1000 }, (store) =>
      Effect.gen(function*() {
        const log = yield* fourSegmentsTwoPastRetention(store)
        assert.strictEqual(log.logStartOffset, 6)
        assert.strictEqual(fs.readFileSync(path.join(logDir, "log-start-offset-checkpoint"), "utf8"), "0\n1\norders 0 6\n")

        yield* store.deletePartition("orders", 0)
        assert.isFalse(fs.existsSync(path.join(logDir, "orders-0")))
        yield* Effect.promise(backgroundRemovalsSettled)
        assert.deepStrictEqual(fs.readdirSync(logDir).filter((n) => n.startsWith("orders")), [])
        assert.strictEqual(yield* failureTag(store.getPartition("orders", 0)), "PartitionNotFound")
        yield* store.deletePartition("orders", 0) // idempotent
      }))
  })

  it.effect("findPartition finds a partition created after a lookup missed, none once deleted, and the new log once recreated", () => {
    const logDir = makeTempDir()
    return withStore({ logDirs: [logDir] }, (store) =>
      Effect.gen(function*() {
        assert.isUndefined(store.findPartition("orders", 1))
        yield* store.createPartition("orders", 1, TOPIC_ID)
        const first = store.findPartition("orders", 1)
        assert.isDefined(first)
        assert.strictEqual(store.findPartition("orders", 1), first)
        assert.isUndefined(store.findPartition("orders", 0))
        assert.isUndefined(store.findPartition("orders", -1))
        assert.isUndefined(store.findPartition("orders", 2 ** 31 - 1))
        yield* store.append("orders", 1, batchOf(2, 0))
        yield* store.deletePartition("orders", 1)
        assert.isUndefined(store.findPartition("orders", 1))
        yield* store.createPartition("orders", 1, TOPIC_ID)
        const second = store.findPartition("orders", 1)
        assert.isDefined(second)
        assert.notStrictEqual(second, first)
        assert.strictEqual(second!.logEndOffset, 0)
        yield* Effect.promise(backgroundRemovalsSettled)
      }))
  })

  it.effect("spreads new partitions over the log dirs", () => {
    const dirs = [makeTempDir(), makeTempDir()]
    return withStore({ logDirs: dirs }, (store) =>
      Effect.gen(function*() {
        for (let p = 0; p < 4; p++) yield* store.createPartition("t", p, TOPIC_ID)
        const counts = dirs.map((d) => fs.readdirSync(d).filter((n) => n.startsWith("t-")).length)
        assert.deepStrictEqual(counts, [2, 2])
      }))
  })
})

describe("LogStore effects", () => {
  it.effect("look partitions up when they run, not when they are built", () =>
    Effect.gen(function*() {
      const logs = yield* LogStore
      const reconfigure = logs.reconfigure("later", 0, { retentionMs: 1234 })
      yield* logs.createPartition("later", 0, "AAAAAAAAAAAAAAAAAAAAAQ")
      yield* reconfigure
      assert.strictEqual(logs.findPartition("later", 0)!.config.retentionMs, 1234)
    }).pipe(Effect.provide(LogStore.layer({ logDirs: [makeTempDir()] }))))
})

describe("LogStore producer state", () => {
  it.effect("markers from the coordinator, LSO-aware ListOffsets, active producers, expiry on the maintenance clock", () => {
    const logDir = makeTempDir()
    const txnBatch = (producerId: number, seq: number, isTransactional: boolean, timestamp: number) =>
      buildRecordBatch({ records: [{ value: `p${producerId}`, timestamp }], producerId, producerEpoch: 0, baseSequence: seq, isTransactional })
    return Effect.gen(function*() {
      const store = yield* LogStore
      yield* store.createPartition("orders", 0, TOPIC_ID)
      yield* store.append("orders", 0, batchOf(1, 0))
      yield* store.append("orders", 0, txnBatch(7, 0, true, 0))
      yield* store.append("orders", 0, txnBatch(8, 0, false, 0))
      assert.deepStrictEqual(yield* store.listOffsets("orders", 0, LATEST_TIMESTAMP, READ_COMMITTED), { offset: 1, timestamp: -1 })
      assert.deepStrictEqual(yield* store.listOffsets("orders", 0, LATEST_TIMESTAMP), { offset: 3, timestamp: -1 })
      // A client may not write the marker; the coordinator may.
      const marker = encodeTxnMarkerBatch({ producerId: 7, producerEpoch: 0, coordinatorEpoch: 0, commit: true }, 0)
      assert.strictEqual(yield* failureTag(store.append("orders", 0, Uint8Array.from(marker))), "InvalidRecordBatch")
      yield* store.append("orders", 0, marker, { origin: "coordinator" })
      assert.deepStrictEqual(yield* store.listOffsets("orders", 0, LATEST_TIMESTAMP, READ_COMMITTED), { offset: 4, timestamp: -1 })
      // An old epoch is refused with Kafka's code name.
      const stale = buildRecordBatch({ records: [{ value: "x", timestamp: 0 }], producerId: 8, producerEpoch: -1, baseSequence: 1 })
      const refused = yield* Effect.flip(store.append("orders", 0, stale))
      assert.strictEqual(refused._tag === "ProducerStateRejected" ? refused.code : refused._tag, "INVALID_PRODUCER_EPOCH")
      const producers = yield* store.activeProducers("orders", 0)
      assert.deepStrictEqual(producers.map((p) => [p.producerId, p.lastSequence, p.currentTxnStartOffset]).sort(), [[7, 0, -1], [8, 0, -1]])
      // Records were written at time 0; after producer.id.expiration.ms and a check, they are forgotten.
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* store.activeProducers("orders", 0)).length, 0)
    }).pipe(
      Effect.provide(LogMaintenance({ retentionCheckIntervalMs: 1_000_000, producerIdExpirationCheckIntervalMs: 500 }).pipe(
        Layer.provideMerge(LogStore.layer({ logDirs: [logDir], producerIdExpirationMs: 1000 }))
      ))
    )
  })
})
