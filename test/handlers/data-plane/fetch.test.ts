import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { FetchSessions } from "../../../src/fetch/FetchSessions.ts"
import { fetch as fetchProgram, FetchHandler, PARTITION_READ_MAX_BYTES } from "../../../src/handlers/Fetch.ts"
import { LogStore } from "../../../src/log/LogStore.ts"
import { Fetch } from "../../../src/protocol/generated/apis.ts"
import type { FetchRequest } from "../../../src/protocol/generated/message/FetchRequest.ts"
import { Topics } from "../../../src/topics/Topics.ts"
import { ProduceHandler } from "../../../src/handlers/Produce.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import {
  batch,
  batchesOf,
  call,
  dataPlaneLayer,
  decodedRequest,
  roundTripResponse,
  fetchRequest,
  type FetchOptions,
  type FetchPartitionSpec,
  produceRequest,
  recordsOf,
  removeTempDirs,
  requestContext,
  topicIdOf
} from "./helpers.ts"

afterEach(removeTempDirs)

const produce = (topic: string, partition: number, records: Uint8Array) =>
  Effect.map(call(ProduceHandler, 11, produceRequest([[topic, [[partition, records]]]])), (r) => {
    const p = r.responses[0].partitionResponses[0]
    if (p.errorCode !== 0) throw new Error(`produce failed with ${p.errorCode}`)
    return Number(p.baseOffset)
  })

const fetch = (version: number, partitions: ReadonlyArray<FetchPartitionSpec>, options?: FetchOptions) =>
  call(FetchHandler, version, fetchRequest(partitions, options))

/** Every partition of a response, flattened, with its topic. */
// oxlint-disable-next-line no-explicit-any
const partitionsOf = (response: any): Array<any> =>
  // oxlint-disable-next-line no-explicit-any
  response.responses.flatMap((t: any) => t.partitions.map((p: any) => ({ ...p, topic: t.topic, topicId: t.topicId })))

/** Yields until the fiber is done, a bounded number of times; returns whether it finished. */
const settles = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && fiber.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
    return fiber.pollUnsafe() !== undefined
  })

describe("Fetch reads", () => {
  it.effect("returns the whole batch containing a fetch offset in its middle", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(5))
      yield* produce("t", 0, batch(2, { prefix: "second" }))
      const [p] = partitionsOf(yield* fetch(12, [{ topic: "t", partition: 0, offset: 3 }]))
      assert.deepStrictEqual(recordsOf(p.records).map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6])
      const [later] = partitionsOf(yield* fetch(12, [{ topic: "t", partition: 0, offset: 6 }]))
      assert.deepStrictEqual(batchesOf(later.records).batches.map((b) => b.baseOffset), [5])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("returns the first batch whole even when it exceeds max_bytes and partition_max_bytes (KIP-74)", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(4, { valueSize: 100 }))
      yield* produce("t", 0, batch(1))
      const [p] = partitionsOf(yield* fetch(12, [{ topic: "t", partition: 0, partitionMaxBytes: 10 }], { maxBytes: 10 }))
      const { batches, partialBytes } = batchesOf(p.records)
      assert.strictEqual(batches.length, 1)
      assert.isAbove(batches[0]!.size, 400)
      assert.strictEqual(partialBytes, 0)
      assert.strictEqual(p.records.length, batches[0]!.size)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("limits each partition to partition_max_bytes, cutting the trailing batch short", () =>
    Effect.gen(function*() {
      const first = batch(3, { valueSize: 50 })
      yield* produce("t", 0, first)
      yield* produce("t", 0, batch(3, { valueSize: 50 }))
      const [p] = partitionsOf(yield* fetch(12, [{ topic: "t", partition: 0, partitionMaxBytes: first.length + 20 }]))
      const { batches, partialBytes } = batchesOf(p.records)
      assert.deepStrictEqual(batches.map((b) => b.baseOffset), [0])
      assert.strictEqual(partialBytes, 20)
      assert.strictEqual(p.records.length, first.length + 20)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("reads at most PARTITION_READ_MAX_BYTES of a partition at once, whatever its partition_max_bytes, and the rest on the next fetches", () =>
    Effect.gen(function*() {
      // 96 batches of ~100 KiB: 9.4 MiB on the partition.
      const BATCHES = 96
      const sizes: Array<number> = []
      for (let i = 0; i < BATCHES; i++) {
        const b = batch(1, { valueSize: 100 * 1024, prefix: `b${i}-` })
        sizes.push(b.length)
        yield* produce("t", 0, b)
      }
      const total = sizes.reduce((a, b) => a + b, 0)
      assert.isAbove(total, 2 * PARTITION_READ_MAX_BYTES)
      const sixteenMiB = 16 * 1024 * 1024
      // A consumer asking for 16 MiB gets the first PARTITION_READ_MAX_BYTES, the last batch cut
      // short, and the rest on the fetches after, from where each ended.
      let offset = 0
      let fetched = 0
      const seen: Array<number> = []
      for (let i = 0; i < 10 && offset < BATCHES; i++) {
        const [p] = partitionsOf(yield* fetch(12, [{ topic: "t", partition: 0, offset, partitionMaxBytes: sixteenMiB }], { maxBytes: 64 * 1024 * 1024 }))
        assert.isAtMost(p.records.length, PARTITION_READ_MAX_BYTES)
        const { batches } = batchesOf(p.records)
        assert.isAbove(batches.length, 0)
        for (const b of batches) seen.push(b.baseOffset)
        fetched += batches.reduce((n, b) => n + b.size, 0)
        offset = batches[batches.length - 1]!.baseOffset + 1
      }
      assert.deepStrictEqual(seen, Array.from({ length: BATCHES }, (_, i) => i))
      assert.strictEqual(fetched, total)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("shares max_bytes across partitions: later partitions get what is left, nothing if their first batch does not fit", () =>
    Effect.gen(function*() {
      const b0 = batch(2, { valueSize: 40 })
      const b1 = batch(2, { valueSize: 40 })
      yield* produce("t", 0, b0)
      yield* produce("t", 1, b1)
      yield* produce("t", 1, batch(2, { valueSize: 40 }))
      yield* produce("t", 2, batch(1))
      // p0 takes b0, p1 takes b1 and 15 bytes of its second batch; p2 gets nothing.
      const response = yield* fetch(12, [{ topic: "t", partition: 0 }, { topic: "t", partition: 1 }, { topic: "t", partition: 2 }], { maxBytes: b0.length + b1.length + 15 })
      const [p0, p1, p2] = partitionsOf(response)
      assert.strictEqual(p0.records.length, b0.length)
      assert.strictEqual(batchesOf(p1.records).partialBytes, 15)
      assert.strictEqual(batchesOf(p1.records).batches.length, 1)
      assert.strictEqual(p2.records.length, 0)
      assert.strictEqual(p2.errorCode, 0)
      assert.strictEqual(p2.highWatermark, 1n)

      // With less than p1's first batch left, p1 gets nothing at all (no partial first batch).
      const tight = partitionsOf(yield* fetch(12, [{ topic: "t", partition: 0 }, { topic: "t", partition: 1 }], { maxBytes: b0.length + 10 }))
      assert.strictEqual(tight[0].records.length, b0.length)
      assert.strictEqual(tight[1].records.length, 0)

      // The first non-empty partition gets its first batch whole, wherever it is in the request.
      const late = partitionsOf(yield* fetch(12, [{ topic: "t", partition: 0, offset: 2 }, { topic: "t", partition: 1 }], { maxBytes: 1 }))
      assert.strictEqual(late[0].records.length, 0)
      assert.strictEqual(late[1].records.length, b1.length)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 3 }]))))

  it.effect("answers OFFSET_OUT_OF_RANGE with the high watermark and log start offset, other partitions unaffected", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(3))
      yield* produce("t", 1, batch(2))
      const response = yield* fetch(12, [{ topic: "t", partition: 0, offset: 10 }, { topic: "t", partition: 1 }, { topic: "t", partition: 0, offset: -1 }], { maxWaitMs: 10_000, minBytes: 1 << 20 })
      const [beyond, ok, negative] = partitionsOf(response)
      assert.deepStrictEqual([beyond.errorCode, beyond.highWatermark, beyond.logStartOffset, beyond.records.length], [ErrorCode.OFFSET_OUT_OF_RANGE, 3n, 0n, 0])
      assert.strictEqual(negative.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
      assert.strictEqual(ok.errorCode, 0)
      assert.strictEqual(recordsOf(ok.records).length, 2)
      // Fetching at the log end is in range and empty.
      const [atEnd] = partitionsOf(yield* fetch(12, [{ topic: "t", partition: 0, offset: 3 }]))
      assert.deepStrictEqual([atEnd.errorCode, atEnd.records.length, atEnd.highWatermark], [0, 0, 3n])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 2 }]))))

  it.effect("answers unknown topics and partitions by name (v12) with UNKNOWN_TOPIC_OR_PARTITION", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(1))
      const response = yield* fetch(12, [{ topic: "nope", partition: 0 }, { topic: "t", partition: 5 }, { topic: "t", partition: 0 }])
      const [unknownTopic, unknownPartition, ok] = partitionsOf(response)
      assert.deepStrictEqual([unknownTopic.topic, unknownTopic.errorCode, unknownTopic.highWatermark], ["nope", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n])
      assert.deepStrictEqual([unknownPartition.partitionIndex, unknownPartition.errorCode], [5, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
      assert.deepStrictEqual([ok.errorCode, recordsOf(ok.records).length], [0, 1])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("names topics by id from v13: records by id, UNKNOWN_TOPIC_ID for an unknown id, ids echoed", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(2))
      const id = topicIdOf(1)
      const stranger = topicIdOf(99)
      const response = yield* fetch(17, [{ topicId: id, partition: 0 }, { topicId: stranger, partition: 0 }, { topicId: id, partition: 3 }])
      assert.deepStrictEqual(response.responses.map((t: { topicId: string }) => t.topicId), [id, stranger, id])
      const [ok, unknownId, unknownPartition] = partitionsOf(response)
      assert.deepStrictEqual(recordsOf(ok.records).map((r) => r.value), ["v0", "v1"])
      assert.strictEqual(unknownId.errorCode, ErrorCode.UNKNOWN_TOPIC_ID)
      assert.strictEqual(unknownPartition.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1, topicId: topicIdOf(1) }]))))

  it.effect("reports LSO = high watermark, aborted transactions null (read_uncommitted) or [] (read_committed), no preferred replica", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(2))
      const [uncommitted] = partitionsOf(yield* fetch(11, [{ topic: "t", partition: 0 }], { isolationLevel: 0 }))
      const [committed] = partitionsOf(yield* fetch(11, [{ topic: "t", partition: 0 }], { isolationLevel: 1 }))
      assert.strictEqual(uncommitted.abortedTransactions, null)
      assert.deepStrictEqual(committed.abortedTransactions, [])
      for (const p of [uncommitted, committed]) {
        assert.deepStrictEqual([p.highWatermark, p.lastStableOffset, p.logStartOffset, p.preferredReadReplica], [2n, 2n, 0n, -1])
        assert.strictEqual(recordsOf(p.records).length, 2)
      }
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("checks the current leader epoch: FENCED_LEADER_EPOCH when older, UNKNOWN_LEADER_EPOCH when newer", () =>
    Effect.gen(function*() {
      const [older, newer, same, none] = partitionsOf(yield* fetch(12, [
        { topic: "t", partition: 0, currentLeaderEpoch: 2 },
        { topic: "t", partition: 0, currentLeaderEpoch: 4 },
        { topic: "t", partition: 0, currentLeaderEpoch: 3 },
        { topic: "t", partition: 0, currentLeaderEpoch: -1 }
      ]))
      assert.deepStrictEqual([older.errorCode, newer.errorCode, same.errorCode, none.errorCode], [ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH, 0, 0])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1, leaderEpoch: 3 }]))))

  it.effect("answers a storage failure with KAFKA_STORAGE_ERROR at once, other partitions unaffected", () =>
    Effect.gen(function*() {
      yield* produce("t", 1, batch(1))
      const broken = yield* Effect.orDie((yield* LogStore).getPartition("t", 0))
      Object.assign(broken, { read: () => { throw Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" }) } })
      const fiber = yield* Effect.forkChild(fetch(12, [{ topic: "t", partition: 0 }, { topic: "t", partition: 1 }], { maxWaitMs: 30_000, minBytes: 1 << 20 }))
      assert.isTrue(yield* settles(fiber), "an error answers at once")
      const [p0, p1] = partitionsOf(yield* Fiber.join(fiber))
      assert.deepStrictEqual([p0.errorCode, p0.highWatermark, p0.records.length], [ErrorCode.KAFKA_STORAGE_ERROR, -1n, 0])
      assert.deepStrictEqual([p1.errorCode, recordsOf(p1.records).length], [0, 1])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 2 }]))))

  it.effect("serves every version from 4 to 17 (v4-v6 without sessions)", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(2))
      for (let v = 4; v <= 17; v++) {
        const spec = v >= 13 ? { topicId: topicIdOf(1), partition: 0 } : { topic: "t", partition: 0 }
        const response = yield* fetch(v, [spec], { sessionEpoch: v >= 7 ? -1 : undefined })
        const [p] = partitionsOf(response)
        assert.strictEqual(p.errorCode, 0, `v${v}`)
        assert.strictEqual(recordsOf(p.records).length, 2, `v${v}`)
        if (v >= 7) assert.strictEqual(response.sessionId, 0)
      }
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1, topicId: topicIdOf(1) }]))))
})

describe("Fetch long polling", () => {
  it.effect("waits for min_bytes and is answered when another fiber appends", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(fetch(12, [{ topic: "t", partition: 0 }, { topic: "t", partition: 1 }], { maxWaitMs: 30_000, minBytes: 1 }))
      assert.isFalse(yield* settles(fiber), "nothing to read: the fetch waits")
      yield* produce("t", 1, batch(2, { prefix: "late" }))
      // No clock advance: only the append can have woken it.
      assert.isTrue(yield* settles(fiber), "the append wakes the fetch")
      const [p0, p1] = partitionsOf(yield* Fiber.join(fiber))
      assert.strictEqual(p0.records.length, 0)
      assert.deepStrictEqual(recordsOf(p1.records).map((r) => r.value), ["late0", "late1"])
      assert.strictEqual(p1.highWatermark, 2n)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 2 }]))))

  it.effect("does not miss an append made between its read and its wait", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clockWith((c) => Effect.succeed(c))
      // `fetch` reads when called and returns the waiting Effect; the append lands in between.
      const waiting = fetchProgram(
        yield* LogStore,
        yield* Topics,
        yield* FetchSessions,
        clock,
        decodedRequest<FetchRequest>(Fetch, 12, fetchRequest([{ topic: "t", partition: 0 }], { maxWaitMs: 30_000, minBytes: 1 })),
        12
      )
      yield* produce("t", 0, batch(1))
      const fiber = yield* Effect.forkChild(waiting)
      assert.isTrue(yield* settles(fiber))
      const [p] = partitionsOf(roundTripResponse(Fetch, 12, yield* Fiber.join(fiber)))
      assert.strictEqual(recordsOf(p.records).length, 1)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("keeps waiting while the appended bytes are still below min_bytes", () =>
    Effect.gen(function*() {
      const small = batch(1)
      const fiber = yield* Effect.forkChild(fetch(12, [{ topic: "t", partition: 0 }], { maxWaitMs: 30_000, minBytes: small.length * 2 }))
      assert.isFalse(yield* settles(fiber))
      yield* produce("t", 0, small)
      assert.isFalse(yield* settles(fiber), "one batch is not min_bytes yet")
      yield* produce("t", 0, batch(1))
      assert.isTrue(yield* settles(fiber))
      const [p] = partitionsOf(yield* Fiber.join(fiber))
      assert.strictEqual(recordsOf(p.records).length, 2)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("reads the log again only once the bytes appended can make min_bytes, not after every append", () =>
    Effect.gen(function*() {
      const small = batch(1)
      const log = (yield* LogStore).findPartition("t", 0)!
      let reads = 0
      const read = log.read.bind(log)
      log.read = (...args) => {
        reads++
        return read(...args)
      }
      const fiber = yield* Effect.forkChild(fetch(12, [{ topic: "t", partition: 0 }], { maxWaitMs: 30_000, minBytes: small.length * 4 }))
      assert.isFalse(yield* settles(fiber))
      for (let i = 0; i < 3; i++) yield* produce("t", 0, batch(1))
      assert.isFalse(yield* settles(fiber), "three batches are not min_bytes yet")
      assert.strictEqual(reads, 1, "no read while the appended bytes cannot make min_bytes")
      yield* produce("t", 0, batch(1))
      assert.isTrue(yield* settles(fiber))
      assert.strictEqual(reads, 2)
      const [p] = partitionsOf(yield* Fiber.join(fiber))
      assert.strictEqual(recordsOf(p.records).length, 4)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("answers at max_wait_ms with whatever there is", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(1))
      const fiber = yield* Effect.forkChild(fetch(12, [{ topic: "t", partition: 0 }], { maxWaitMs: 500, minBytes: 1 << 20 }))
      assert.isFalse(yield* settles(fiber))
      yield* TestClock.adjust("499 millis")
      assert.isFalse(yield* settles(fiber), "not before the deadline")
      yield* TestClock.adjust("1 millis")
      assert.isTrue(yield* settles(fiber))
      const response = yield* Fiber.join(fiber)
      const [p] = partitionsOf(response)
      assert.strictEqual(response.errorCode, 0)
      assert.strictEqual(p.errorCode, 0)
      assert.strictEqual(recordsOf(p.records).length, 1)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("answers an empty partition empty at the deadline", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(fetch(12, [{ topic: "t", partition: 0 }], { maxWaitMs: 500, minBytes: 1 }))
      assert.isFalse(yield* settles(fiber))
      yield* TestClock.adjust("500 millis")
      assert.isTrue(yield* settles(fiber))
      const [p] = partitionsOf(yield* Fiber.join(fiber))
      assert.deepStrictEqual([p.errorCode, p.records.length, p.highWatermark], [0, 0, 0n])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("does not wait when a partition has an error, when max_wait_ms is 0 or when min_bytes is met", () =>
    Effect.gen(function*() {
      const withError = yield* Effect.forkChild(fetch(12, [{ topic: "t", partition: 0 }, { topic: "nope", partition: 0 }], { maxWaitMs: 30_000 }))
      assert.isTrue(yield* settles(withError))
      const noWait = yield* Effect.forkChild(fetch(12, [{ topic: "t", partition: 0 }], { maxWaitMs: 0 }))
      assert.isTrue(yield* settles(noWait))
      yield* produce("t", 0, batch(1))
      const met = yield* Effect.forkChild(fetch(12, [{ topic: "t", partition: 0 }], { maxWaitMs: 30_000, minBytes: 1 }))
      assert.isTrue(yield* settles(met))
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))
})

describe("Fetch sessions (KIP-227)", () => {
  it.effect("creates a session at epoch 0 and answers incremental fetches with only the changed partitions", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(1))
      const full = yield* fetch(12, [{ topic: "t", partition: 0 }, { topic: "t", partition: 1 }], { sessionId: 0, sessionEpoch: 0 })
      assert.notStrictEqual(full.sessionId, 0)
      assert.deepStrictEqual(partitionsOf(full).map((p) => p.partitionIndex), [0, 1])
      const sessionId = full.sessionId
      assert.deepStrictEqual(partitionsOf(full).map((p) => recordsOf(p.records).length), [1, 0])

      // The client consumed p0 and names it with its new offset. Nothing is new there (no
      // records past offset 1, same high watermark), so, as in Kafka, the answer is empty.
      const moved = yield* fetch(12, [{ topic: "t", partition: 0, offset: 1 }], { sessionId, sessionEpoch: 1 })
      assert.strictEqual(moved.sessionId, sessionId)
      assert.deepStrictEqual(partitionsOf(moved), [])

      // Nothing changed and nothing named: an empty incremental response.
      const quiet = yield* fetch(12, [], { sessionId, sessionEpoch: 2 })
      assert.strictEqual(quiet.errorCode, 0)
      assert.strictEqual(quiet.sessionId, sessionId)
      assert.deepStrictEqual(partitionsOf(quiet), [])

      // An append to p1 only: the response has p1 only, read from the session's fetch offset.
      yield* produce("t", 1, batch(2, { prefix: "p1-" }))
      const changed = yield* fetch(12, [], { sessionId, sessionEpoch: 3 })
      assert.deepStrictEqual(partitionsOf(changed).map((p) => p.partitionIndex), [1])
      assert.deepStrictEqual(recordsOf(partitionsOf(changed)[0].records).map((r) => r.value), ["p1-0", "p1-1"])
      assert.strictEqual(partitionsOf(changed)[0].highWatermark, 2n)

      // p1 is consumed (named at its end); an append to p0 brings p0 back, with its new high watermark.
      yield* fetch(12, [{ topic: "t", partition: 1, offset: 2 }], { sessionId, sessionEpoch: 4 })
      yield* produce("t", 0, batch(1))
      const hw = yield* fetch(12, [], { sessionId, sessionEpoch: 5 })
      assert.deepStrictEqual(partitionsOf(hw).map((p) => [p.partitionIndex, p.highWatermark]), [[0, 2n]])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 2 }]))))

  it.effect("adds partitions and forgets them by name (< v13)", () =>
    Effect.gen(function*() {
      const full = yield* fetch(12, [{ topic: "t", partition: 0 }], { sessionEpoch: 0 })
      const sessionId = full.sessionId
      // Add p1 in an incremental fetch.
      const added = yield* fetch(12, [{ topic: "t", partition: 1 }], { sessionId, sessionEpoch: 1 })
      assert.deepStrictEqual(partitionsOf(added).map((p) => p.partitionIndex), [1])
      // Forget p0; then appends to both show only p1.
      yield* fetch(12, [], { sessionId, sessionEpoch: 2, forgotten: [{ topic: "t", partitions: [0] }] })
      yield* produce("t", 0, batch(1))
      yield* produce("t", 1, batch(1))
      const after = yield* fetch(12, [], { sessionId, sessionEpoch: 3 })
      assert.deepStrictEqual(partitionsOf(after).map((p) => p.partitionIndex), [1])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 2 }]))))

  it.effect("forgets partitions by topic id (v13+) and answers with topic ids", () =>
    Effect.gen(function*() {
      const id = topicIdOf(1)
      const full = yield* fetch(13, [{ topicId: id, partition: 0 }, { topicId: id, partition: 1 }], { sessionEpoch: 0 })
      const sessionId = full.sessionId
      assert.notStrictEqual(sessionId, 0)
      yield* fetch(13, [], { sessionId, sessionEpoch: 1, forgotten: [{ topicId: id, partitions: [1] }] })
      yield* produce("t", 0, batch(1))
      yield* produce("t", 1, batch(1))
      const after = yield* fetch(13, [], { sessionId, sessionEpoch: 2 })
      assert.deepStrictEqual(partitionsOf(after).map((p) => [p.topicId, p.partitionIndex]), [[id, 0]])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 2, topicId: topicIdOf(1) }]))))

  it.effect("answers a wrong epoch with INVALID_FETCH_SESSION_EPOCH and an unknown id with FETCH_SESSION_ID_NOT_FOUND", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(1))
      const full = yield* fetch(12, [{ topic: "t", partition: 0 }], { sessionEpoch: 0 })
      const badEpoch = yield* fetch(12, [{ topic: "t", partition: 0 }], { sessionId: full.sessionId, sessionEpoch: 5 })
      assert.deepStrictEqual([badEpoch.errorCode, badEpoch.sessionId, badEpoch.responses], [ErrorCode.INVALID_FETCH_SESSION_EPOCH, 0, []])
      const unknown = yield* fetch(12, [{ topic: "t", partition: 0 }], { sessionId: full.sessionId + 1, sessionEpoch: 1 })
      assert.deepStrictEqual([unknown.errorCode, unknown.sessionId, unknown.responses], [ErrorCode.FETCH_SESSION_ID_NOT_FOUND, 0, []])
      // The session itself is still usable at its expected epoch.
      const ok = yield* fetch(12, [], { sessionId: full.sessionId, sessionEpoch: 1 })
      assert.strictEqual(ok.errorCode, 0)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("fetches in full without a session at epoch -1, and closes a named session", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(1))
      const full = yield* fetch(12, [{ topic: "t", partition: 0 }], { sessionEpoch: 0 })
      const closing = yield* fetch(12, [{ topic: "t", partition: 0 }], { sessionId: full.sessionId, sessionEpoch: -1 })
      assert.strictEqual(closing.sessionId, 0)
      assert.strictEqual(recordsOf(partitionsOf(closing)[0].records).length, 1)
      const gone = yield* fetch(12, [], { sessionId: full.sessionId, sessionEpoch: 1 })
      assert.strictEqual(gone.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("does not open sessions when the cache has no slots", () =>
    Effect.gen(function*() {
      const full = yield* fetch(12, [{ topic: "t", partition: 0 }], { sessionEpoch: 0 })
      assert.strictEqual(full.sessionId, 0)
      assert.strictEqual(partitionsOf(full).length, 1)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }], { sessions: { slots: 0 } }))))

  it.effect("caps the response at fetch.max.bytes", () =>
    Effect.gen(function*() {
      const b = batch(2, { valueSize: 30 })
      yield* produce("t", 0, b)
      yield* produce("t", 0, batch(2, { valueSize: 30 }))
      const [p] = partitionsOf(yield* fetch(12, [{ topic: "t", partition: 0 }], { maxBytes: 1 << 20 }))
      assert.strictEqual(p.records.length, b.length + 10)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }], { sessions: { fetchMaxBytes: batch(2, { valueSize: 30 }).length + 10 } }))))
})

describe("Fetch in the connection's frame loop (handleWith)", () => {
  const withServices = (version: number, partitions: ReadonlyArray<FetchPartitionSpec>, options?: FetchOptions) =>
    Effect.map(Effect.context<LogStore | Topics | FetchSessions>(), (services) =>
      FetchHandler.handleWith!(decodedRequest<FetchRequest>(Fetch, version, fetchRequest(partitions, options)), requestContext(Fetch, version), services))

  it.effect("is an Exit (answered without a fiber) when its first read answers it, an Effect to run only when it must wait", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, batch(2))
      const enough = yield* withServices(12, [{ topic: "t", partition: 0 }], { maxWaitMs: 30_000, minBytes: 1 })
      assert.isTrue(Exit.isExit(enough))
      assert.strictEqual(recordsOf(partitionsOf(roundTripResponse(Fetch, 12, yield* enough))[0].records).length, 2)
      assert.isTrue(Exit.isExit(yield* withServices(12, [{ topic: "t", partition: 1 }], { maxWaitMs: 0, minBytes: 1 })))
      assert.isTrue(Exit.isExit(yield* withServices(12, [{ topic: "nope", partition: 0 }], { maxWaitMs: 30_000, minBytes: 1 })))
      assert.isTrue(Exit.isExit(yield* withServices(12, [], { sessionId: 12345, sessionEpoch: 1 })))
      const waiting = yield* withServices(12, [{ topic: "t", partition: 1 }], { maxWaitMs: 30_000, minBytes: 1 })
      assert.isFalse(Exit.isExit(waiting))
      // The waiting fetch is the long poll: answered once an append lands.
      const fiber = yield* Effect.forkChild(waiting)
      yield* produce("t", 1, batch(3))
      assert.isTrue(yield* settles(fiber))
      const response = roundTripResponse(Fetch, 12, yield* Fiber.join(fiber))
      assert.strictEqual(recordsOf(partitionsOf(response)[0].records).length, 3)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 2 }]))))
})
