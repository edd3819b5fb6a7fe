import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { FetchHandler } from "../../../src/handlers/Fetch.ts"
import { ListOffsetsHandler } from "../../../src/handlers/ListOffsets.ts"
import { encodeTxnMarkerBatch } from "../../../src/log/control-records.ts"
import { LogStore } from "../../../src/log/LogStore.ts"
import { readBatchHeader } from "../../../src/log/record-batch.ts"
import { batch, call, dataPlaneLayer, fetchRequest, removeTempDirs } from "./helpers.ts"

afterEach(removeTempDirs)

const txn = (producerId: number, seq: number, count: number) =>
  batch(count, { producerId, producerEpoch: 0, baseSequence: seq, isTransactional: true })
const marker = (producerId: number, commit: boolean) =>
  encodeTxnMarkerBatch({ producerId, producerEpoch: 0, coordinatorEpoch: 0, commit }, 5000)

const fetchAt = (isolationLevel: number, offset = 0) =>
  Effect.map(call(FetchHandler, 12, fetchRequest([{ topic: "t", partition: 0, offset }], { isolationLevel })), (r) => r.responses[0].partitions[0])

const baseOffsets = (records: Uint8Array): Array<number> => {
  const out: Array<number> = []
  for (let pos = 0; pos + 61 <= records.length;) {
    const h = readBatchHeader(records, pos)
    out.push(h.baseOffset)
    pos += h.sizeInBytes
  }
  return out
}

const aborted = (list: ReadonlyArray<{ producerId: bigint; firstOffset: bigint }> | null) =>
  list === null ? null : list.map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }))

const latest = (isolationLevel: number) =>
  Effect.map(
    call(ListOffsetsHandler, 7, { replicaId: -1, isolationLevel, topics: [{ name: "t", partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] }),
    (r) => r.topics[0].partitions[0].offset
  )

describe("read_committed", () => {
  it.effect("Fetch stops at the last stable offset and lists the aborted transactions; ListOffsets LATEST is the LSO", () =>
    Effect.gen(function*() {
      const logs = yield* LogStore
      yield* logs.append("t", 0, txn(1, 0, 2)) // 0-1 producer 1, will abort
      yield* logs.append("t", 0, batch(1)) // 2
      yield* logs.append("t", 0, txn(2, 0, 1)) // 3 producer 2, stays open
      yield* logs.append("t", 0, marker(1, false), { origin: "coordinator" }) // 4 abort 1

      const committed = yield* fetchAt(1)
      assert.deepStrictEqual([committed.highWatermark, committed.lastStableOffset], [5n, 3n])
      assert.deepStrictEqual(baseOffsets(committed.records), [0, 2])
      assert.deepStrictEqual(aborted(committed.abortedTransactions), [{ producerId: 1n, firstOffset: 0n }])
      const uncommitted = yield* fetchAt(0)
      assert.deepStrictEqual(baseOffsets(uncommitted.records), [0, 2, 3, 4])
      assert.strictEqual(uncommitted.abortedTransactions, null)
      assert.strictEqual(uncommitted.lastStableOffset, 3n)
      assert.deepStrictEqual([yield* latest(1), yield* latest(0)], [3n, 5n])

      yield* logs.append("t", 0, marker(2, true), { origin: "coordinator" }) // 5 commit 2
      const after = yield* fetchAt(1, 3)
      assert.deepStrictEqual([after.lastStableOffset, after.highWatermark], [6n, 6n])
      assert.deepStrictEqual(baseOffsets(after.records), [3, 4, 5])
      // Producer 1's abort marker (offset 4) overlaps the returned range, so it is listed.
      assert.deepStrictEqual(aborted(after.abortedTransactions), [{ producerId: 1n, firstOffset: 0n }])
      const past = yield* fetchAt(1, 5)
      assert.deepStrictEqual(aborted(past.abortedTransactions), [])
      assert.strictEqual(yield* latest(1), 6n)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("a long-polling read_committed fetch is answered when a commit marker makes the bytes it waits for readable", () =>
    Effect.gen(function*() {
      const logs = yield* LogStore
      const open = txn(1, 0, 20)
      const fiber = yield* Effect.forkChild(
        call(FetchHandler, 12, fetchRequest([{ topic: "t", partition: 0 }], { isolationLevel: 1, maxWaitMs: 30_000, minBytes: open.length }))
      )
      yield* logs.append("t", 0, open)
      for (let i = 0; i < 200 && fiber.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
      assert.isUndefined(fiber.pollUnsafe(), "an open transaction is not readable: the fetch waits")
      // The commit marker is far smaller than min_bytes, but it makes the whole transaction readable.
      yield* logs.append("t", 0, marker(1, true), { origin: "coordinator" })
      // No clock advance: only the marker's append can answer it.
      for (let i = 0; i < 200 && fiber.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
      assert.isDefined(fiber.pollUnsafe(), "answered without waiting for max_wait_ms")
      const p = (yield* Fiber.join(fiber)).responses[0].partitions[0]
      assert.deepStrictEqual(baseOffsets(p.records), [0, 20])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))
})
