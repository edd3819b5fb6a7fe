import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ProduceHandler } from "../../../src/handlers/Produce.ts"
import { LogStore } from "../../../src/log/LogStore.ts"
import { buildRecordBatch } from "../../../src/log/record-batch.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { call, compressedBatch, dataPlaneLayer, produceRequest, removeTempDirs } from "./helpers.ts"

afterEach(removeTempDirs)

const withKeys = (keys: ReadonlyArray<string | null>) =>
  buildRecordBatch({ records: keys.map((key, i) => ({ key, value: `v${i}`, timestamp: 1_000 + i })) })

const MESSAGE = "Compacted topic cannot accept message without key in topic partition compacted-0"

describe("Produce to a compacted topic", () => {
  it.effect("rejects a batch with keyless records: INVALID_RECORD, per-record errors, nothing appended", () =>
    Effect.gen(function*() {
      const response = yield* call(ProduceHandler, 11, produceRequest([["compacted", [[0, withKeys(["a", null, "b", null])]]]]))
      const p = response.responses[0].partitionResponses[0]
      assert.strictEqual(p.errorCode, ErrorCode.INVALID_RECORD)
      assert.deepStrictEqual(p.recordErrors.map((e: { batchIndex: number; batchIndexErrorMessage: string | null }) => [e.batchIndex, e.batchIndexErrorMessage]), [
        [1, MESSAGE],
        [3, MESSAGE]
      ])
      assert.strictEqual(
        p.errorMessage,
        `One or more records have been rejected due to 2 record errors in total, and only showing the first three errors at most: [RecordError(batchIndex=1, message='${MESSAGE}'), RecordError(batchIndex=3, message='${MESSAGE}')]`
      )
      assert.strictEqual(p.baseOffset, -1n)
      // compressed batches are looked into as well
      const gz = yield* call(ProduceHandler, 11, produceRequest([["compacted", [[0, compressedBatch(withKeys([null]), 1)]]]]))
      assert.strictEqual(gz.responses[0].partitionResponses[0].errorCode, ErrorCode.INVALID_RECORD)
      const logs = yield* LogStore
      const log = yield* logs.getPartition("compacted", 0)
      assert.strictEqual(log.logEndOffset, 0)

      const ok = yield* call(ProduceHandler, 11, produceRequest([["compacted", [[0, compressedBatch(withKeys(["a", "b"]), 4)]]], ["plain", [[0, withKeys([null, null])]]]]))
      assert.deepStrictEqual(ok.responses.map((t: { partitionResponses: Array<{ errorCode: number }> }) => t.partitionResponses[0]!.errorCode), [0, 0])
      assert.strictEqual(log.logEndOffset, 2)
    }).pipe(Effect.provide(dataPlaneLayer([
      { name: "compacted", partitions: 1, logConfig: { cleanupPolicy: ["compact"] } },
      { name: "plain", partitions: 1 }
    ]))))
})
