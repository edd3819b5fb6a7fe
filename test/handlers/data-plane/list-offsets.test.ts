import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ListOffsetsHandler } from "../../../src/handlers/ListOffsets.ts"
import { ProduceHandler } from "../../../src/handlers/Produce.ts"
import { LogStore } from "../../../src/log/LogStore.ts"
import { buildRecordBatch } from "../../../src/log/record-batch.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { call, dataPlaneLayer, listOffsetsRequest, produceRequest, removeTempDirs } from "./helpers.ts"

afterEach(removeTempDirs)

const withTimestamps = (...timestamps: ReadonlyArray<number>) =>
  buildRecordBatch({ records: timestamps.map((timestamp, i) => ({ value: `r${i}`, timestamp })) })

const produce = (topic: string, partition: number, records: Uint8Array) =>
  Effect.asVoid(call(ProduceHandler, 11, produceRequest([[topic, [[partition, records]]]])))

type Answer = [errorCode: number, offset: bigint, timestamp: bigint, leaderEpoch: number]

const listOffsets = (version: number, topics: Parameters<typeof listOffsetsRequest>[0], isolationLevel = 0) =>
  Effect.map(call(ListOffsetsHandler, version, listOffsetsRequest(topics, isolationLevel)), (r): Array<Array<Answer>> =>
    // oxlint-disable-next-line no-explicit-any
    r.topics.map((t: any) => t.partitions.map((p: any): Answer => [p.errorCode, p.offset, p.timestamp, p.leaderEpoch])))

describe("ListOffsets", () => {
  it.effect("answers latest, earliest, max timestamp and by-time lookups", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, withTimestamps(100, 300, 200))
      yield* produce("t", 0, withTimestamps(250))
      const one = (timestamp: number) => Effect.map(listOffsets(10, [["t", [[0, timestamp]]]]), (a) => a[0]![0]!)
      assert.deepStrictEqual(yield* one(-1), [0, 4n, -1n, 5])
      assert.deepStrictEqual(yield* one(-2), [0, 0n, -1n, 5])
      assert.deepStrictEqual(yield* one(-4), [0, 0n, -1n, 5])
      assert.deepStrictEqual(yield* one(-3), [0, 1n, 300n, 5])
      // First offset whose timestamp is at or after the target (not the closest timestamp).
      assert.deepStrictEqual(yield* one(150), [0, 1n, 300n, 5])
      assert.deepStrictEqual(yield* one(210), [0, 1n, 300n, 5])
      assert.deepStrictEqual(yield* one(301), [0, -1n, -1n, -1])
      assert.deepStrictEqual(yield* one(0), [0, 0n, 100n, 5])
      // Without tiered storage there is no tiered offset.
      assert.deepStrictEqual(yield* one(-5), [0, -1n, -1n, -1])
      // read_committed answers the last stable offset, the high watermark here.
      assert.deepStrictEqual((yield* listOffsets(10, [["t", [[0, -1]]]], 1))[0]![0], [0, 4n, -1n, 5])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1, leaderEpoch: 5 }]))))

  it.effect("answers every partition: unknown topic or partition, duplicates (INVALID_REQUEST), and the valid ones", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, withTimestamps(10, 20))
      const answers = yield* listOffsets(7, [
        ["t", [[0, -1], [1, -2], [9, -1], [1, -1]]],
        ["missing", [[0, -1]]],
        ["t", [[2, -3]]]
      ])
      assert.deepStrictEqual(answers, [
        [[0, 2n, -1n, 0], [ErrorCode.INVALID_REQUEST, -1n, -1n, -1], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n, -1n, -1], [ErrorCode.INVALID_REQUEST, -1n, -1n, -1]],
        [[ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n, -1n, -1]],
        [[0, -1n, -1n, -1]]
      ])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 3 }]))))

  it.effect("moves the earliest offset with the log start offset", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, withTimestamps(10, 20, 30))
      yield* Effect.orDie((yield* LogStore).deleteRecords("t", 0, 2))
      const answers = yield* listOffsets(10, [["t", [[0, -2]]]])
      assert.deepStrictEqual(answers, [[[0, 2n, -1n, 0]]])
      // Timestamps before the log start offset are not found any more.
      assert.deepStrictEqual((yield* listOffsets(10, [["t", [[0, 5]]]]))[0]![0], [0, 2n, 30n, 0])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("checks the current leader epoch (v4+)", () =>
    Effect.gen(function*() {
      const answers = yield* listOffsets(4, [["t", [[0, -1, 1]]], ["t", [[1, -1, 3]]], ["t", [[2, -1, 2]]]])
      assert.deepStrictEqual(answers.map((t) => t[0]![0]), [ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH, 0])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 3, leaderEpoch: 2 }]))))

  it.effect("serves versions 1 to 10 (leader epoch from v4)", () =>
    Effect.gen(function*() {
      yield* produce("t", 0, withTimestamps(10))
      for (let v = 1; v <= 10; v++) {
        const [[answer]] = (yield* listOffsets(v, [["t", [[0, -1]]]])) as [[Answer]]
        assert.deepStrictEqual(answer, [0, 1n, -1n, v >= 4 ? 3 : -1], `v${v}`)
      }
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1, leaderEpoch: 3 }]))))
})
