import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect, Exit, References } from "effect"
import { Produce } from "../../../src/protocol/generated/apis/Produce.ts"
import type { Topics } from "../../../src/topics/Topics.ts"
import { TestClock } from "effect/testing"
import { FetchHandler } from "../../../src/handlers/Fetch.ts"
import { NO_RESPONSE } from "../../../src/handlers/handler.ts"
import { ProduceHandler } from "../../../src/handlers/Produce.ts"
import { LogStore } from "../../../src/log/LogStore.ts"
import { MAGIC_OFFSET, readBatchHeader, readRecords, writeBatchCrc } from "../../../src/log/record-batch.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import {
  batch,
  batchesOf,
  call,
  compressedBatch,
  concat,
  dataPlaneLayer,
  decodedRequest,
  fetchRequest,
  produceRequest,
  recordsOf,
  removeTempDirs,
  requestContext
} from "./helpers.ts"

afterEach(removeTempDirs)

const fetchAll = (topic: string, partition: number, offset = 0) =>
  Effect.map(call(FetchHandler, 12, fetchRequest([{ topic, partition, offset }])), (r) => r.responses[0].partitions[0])

describe("Produce", () => {
  it.effect("appends a batch and the records come back through Fetch", () =>
    Effect.gen(function*() {
      const response = yield* call(ProduceHandler, 11, produceRequest([["orders", [[0, batch(3, { prefix: "a" })]]]]))
      assert.strictEqual(response.responses.length, 1)
      assert.strictEqual(response.responses[0].name, "orders")
      const p = response.responses[0].partitionResponses[0]
      assert.deepStrictEqual(
        [p.index, p.errorCode, p.baseOffset, p.logAppendTimeMs, p.logStartOffset, p.recordErrors, p.errorMessage],
        [0, 0, 0n, -1n, 0n, [], null]
      )
      const fetched = yield* fetchAll("orders", 0)
      assert.strictEqual(fetched.errorCode, 0)
      assert.strictEqual(fetched.highWatermark, 3n)
      assert.strictEqual(fetched.lastStableOffset, 3n)
      assert.strictEqual(fetched.logStartOffset, 0n)
      assert.deepStrictEqual(recordsOf(fetched.records), [
        { offset: 0, value: "a0", timestamp: 1000 },
        { offset: 1, value: "a1", timestamp: 1001 },
        { offset: 2, value: "a2", timestamp: 1002 }
      ])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "orders", partitions: 1 }]))))

  it.effect("continues offsets across requests, per partition", () =>
    Effect.gen(function*() {
      const first = yield* call(ProduceHandler, 9, produceRequest([["t", [[0, batch(2)], [1, batch(4)]]]]))
      const second = yield* call(ProduceHandler, 9, produceRequest([["t", [[0, batch(3)], [1, batch(1)]]]]))
      assert.deepStrictEqual(first.responses[0].partitionResponses.map((p: { baseOffset: bigint }) => p.baseOffset), [0n, 0n])
      assert.deepStrictEqual(second.responses[0].partitionResponses.map((p: { baseOffset: bigint }) => p.baseOffset), [2n, 4n])
      const p0 = yield* fetchAll("t", 0)
      assert.deepStrictEqual(recordsOf(p0.records).map((r) => r.offset), [0, 1, 2, 3, 4])
      assert.strictEqual(p0.highWatermark, 5n)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 2 }]))))

  it.effect("answers each bad partition with its own error while the others are appended", () =>
    Effect.gen(function*() {
      // An acknowledged batch that must survive everything below.
      yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(2, { prefix: "kept" })]]]]))

      const badCrc = batch(2)
      badCrc[badCrc.length - 1]! ^= 0xff
      const truncated = batch(3).subarray(0, 50)
      const legacyMagic = batch(1)
      legacyMagic[MAGIC_OFFSET] = 1
      const futureMagic = batch(1)
      futureMagic[MAGIC_OFFSET] = 3
      const twoBatches = concat(batch(1), batch(1))
      const response = yield* call(ProduceHandler, 11, produceRequest([
        ["t", [[0, badCrc], [1, truncated], [2, legacyMagic], [3, futureMagic], [4, twoBatches], [5, batch(2, { prefix: "ok" })], [6, batch(1)]]],
        ["missing", [[0, batch(1)]]],
        ["t", [[7, null]]]
      ]))
      const codes = response.responses.map((t: { partitionResponses: Array<{ index: number; errorCode: number }> }) =>
        t.partitionResponses.map((p) => [p.index, p.errorCode])
      )
      assert.deepStrictEqual(codes, [
        [
          [0, ErrorCode.CORRUPT_MESSAGE],
          [1, ErrorCode.CORRUPT_MESSAGE],
          [2, ErrorCode.INVALID_RECORD],
          [3, ErrorCode.CORRUPT_MESSAGE],
          [4, ErrorCode.INVALID_RECORD],
          [5, ErrorCode.NONE],
          [6, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
        ],
        [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
        [[7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]
      ])
      const failedPartition = response.responses[0].partitionResponses[0]
      assert.strictEqual(failedPartition.baseOffset, -1n)
      assert.match(failedPartition.errorMessage, /CRC/)
      assert.match(response.responses[0].partitionResponses[4].errorMessage, /exactly one record batch/)

      // Nothing of the rejected batches was stored; the acknowledged records are intact.
      const p0 = yield* fetchAll("t", 0)
      assert.strictEqual(p0.highWatermark, 2n)
      assert.deepStrictEqual(recordsOf(p0.records).map((r) => r.value), ["kept0", "kept1"])
      for (const p of [1, 2, 3, 4]) assert.strictEqual((yield* fetchAll("t", p)).highWatermark, 0n)
      assert.deepStrictEqual(recordsOf((yield* fetchAll("t", 5)).records).map((r) => r.value), ["ok0", "ok1"])

      // The partition that failed still takes the next good batch.
      const again = yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(1)]]]]))
      assert.strictEqual(again.responses[0].partitionResponses[0].baseOffset, 2n)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 6 }]))))

  it.effect("rejects a batch over the topic's max.message.bytes with MESSAGE_TOO_LARGE, other topics unaffected", () =>
    Effect.gen(function*() {
      const big = batch(5, { valueSize: 60 })
      assert.isAbove(big.length, 300)
      const response = yield* call(ProduceHandler, 11, produceRequest([["small", [[0, big], [1, batch(1)]]], ["default", [[0, big]]]]))
      const small = response.responses[0].partitionResponses
      assert.strictEqual(small[0].errorCode, ErrorCode.MESSAGE_TOO_LARGE)
      assert.strictEqual(small[1].errorCode, ErrorCode.NONE)
      assert.strictEqual(response.responses[1].partitionResponses[0].errorCode, ErrorCode.NONE)
      assert.strictEqual((yield* fetchAll("small", 0)).highWatermark, 0n)
    }).pipe(Effect.provide(dataPlaneLayer([
      { name: "small", partitions: 2, configs: { "max.message.bytes": "300" } },
      { name: "default", partitions: 1, configs: { "max.message.bytes": "1048588" } }
    ]))))

  it.effect("answers INVALID_REQUIRED_ACKS for every partition and appends nothing", () =>
    Effect.gen(function*() {
      const response = yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(1)], [1, batch(1)]]], ["missing", [[0, batch(1)]]]], { acks: 2 }))
      const codes = response.responses.flatMap((t: { partitionResponses: Array<{ errorCode: number }> }) => t.partitionResponses.map((p) => p.errorCode))
      assert.deepStrictEqual(codes, [ErrorCode.INVALID_REQUIRED_ACKS, ErrorCode.INVALID_REQUIRED_ACKS, ErrorCode.INVALID_REQUIRED_ACKS])
      assert.strictEqual((yield* fetchAll("t", 0)).highWatermark, 0n)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 2 }]))))

  it.effect("acks=0 appends and sends no response; acks=1 and acks=-1 respond after the append", () =>
    Effect.gen(function*() {
      const none = yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(2)]]]], { acks: 0 }))
      assert.strictEqual(none, NO_RESPONSE)
      const one = yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(1)]]]], { acks: 1 }))
      assert.strictEqual(one.responses[0].partitionResponses[0].baseOffset, 2n)
      const all = yield* call(ProduceHandler, 3, produceRequest([["t", [[0, batch(1)]]]], { acks: -1 }))
      assert.strictEqual(all.responses[0].partitionResponses[0].baseOffset, 3n)
      assert.strictEqual((yield* fetchAll("t", 0)).highWatermark, 4n)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("stamps LogAppendTime from the clock for LogAppendTime topics and keeps CreateTime otherwise", () =>
    Effect.gen(function*() {
      const now = 1_700_000_000_000
      yield* TestClock.setTime(now)
      const response = yield* call(ProduceHandler, 11, produceRequest([["appended", [[0, batch(2, { timestamp: 5 })]]], ["created", [[0, batch(2, { timestamp: 5 })]]]]))
      assert.strictEqual(response.responses[0].partitionResponses[0].logAppendTimeMs, BigInt(now))
      assert.strictEqual(response.responses[1].partitionResponses[0].logAppendTimeMs, -1n)

      const appended = yield* fetchAll("appended", 0)
      const header = readBatchHeader(appended.records)
      assert.strictEqual(header.timestampType, "LogAppendTime")
      assert.strictEqual(header.maxTimestamp, now)
      assert.deepStrictEqual(recordsOf(appended.records).map((r) => r.timestamp), [now, now])
      const created = yield* fetchAll("created", 0)
      assert.strictEqual(readBatchHeader(created.records).timestampType, "CreateTime")
      assert.deepStrictEqual(recordsOf(created.records).map((r) => r.timestamp), [5, 6])
    }).pipe(Effect.provide(dataPlaneLayer([
      { name: "appended", partitions: 1, configs: { "message.timestamp.type": "LogAppendTime" } },
      { name: "created", partitions: 1, configs: { "message.timestamp.type": "CreateTime" } }
    ]))))

  it.effect("rejects CreateTime timestamps outside message.timestamp.after.max.ms with INVALID_TIMESTAMP", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      const response = yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(1, { timestamp: 1_000_000 + 5_000 })], [1, batch(1, { timestamp: 1_000_000 + 500 })]]]]))
      assert.deepStrictEqual(response.responses[0].partitionResponses.map((p: { errorCode: number }) => p.errorCode), [ErrorCode.INVALID_TIMESTAMP, ErrorCode.NONE])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 2, configs: { "message.timestamp.after.max.ms": "1000" } }]))))

  it.effect("stores compressed batches exactly as sent (offsets and leader epoch aside)", () =>
    Effect.gen(function*() {
      yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(2)]]]]))
      const gzip = compressedBatch(batch(3, { prefix: "gz" }), 1)
      const sent = Uint8Array.from(gzip)
      const response = yield* call(ProduceHandler, 11, produceRequest([["t", [[0, gzip]]]]))
      assert.strictEqual(response.responses[0].partitionResponses[0].baseOffset, 2n)
      const { batches } = batchesOf((yield* fetchAll("t", 0, 2)).records)
      assert.strictEqual(batches.length, 1)
      const stored = batches[0]!
      assert.strictEqual(stored.baseOffset, 2)
      assert.strictEqual(readBatchHeader(stored.bytes).compression, 1)
      assert.strictEqual(readBatchHeader(stored.bytes).partitionLeaderEpoch, 4)
      // Everything from magic on (CRC, attributes, compressed records) is byte-identical.
      assert.deepStrictEqual(stored.bytes.subarray(MAGIC_OFFSET), sent.subarray(MAGIC_OFFSET))
      assert.strictEqual(stored.bytes.length, sent.length)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1, leaderEpoch: 4 }]))))

  it.effect("refuses zstd before Produce v7 (UNSUPPORTED_COMPRESSION_TYPE) and takes it from v7", () =>
    Effect.gen(function*() {
      const zstd = () => compressedBatch(batch(2), 4)
      const v6 = yield* call(ProduceHandler, 6, produceRequest([["t", [[0, zstd()]]]]))
      assert.strictEqual(v6.responses[0].partitionResponses[0].errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
      const v7 = yield* call(ProduceHandler, 7, produceRequest([["t", [[0, zstd()]]]]))
      assert.strictEqual(v7.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE)
      assert.strictEqual(v7.responses[0].partitionResponses[0].baseOffset, 0n)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("takes transactional batches with a transactional id; without one: TRANSACTIONAL_ID_AUTHORIZATION_FAILED", () =>
    Effect.gen(function*() {
      const txBatch = () => batch(1, { producerId: 7, producerEpoch: 0, baseSequence: 0, isTransactional: true })
      const withId = yield* call(ProduceHandler, 11, produceRequest([["t", [[0, txBatch()], [1, batch(1)]]]], { transactionalId: "tx-1" }))
      assert.deepStrictEqual(withId.responses[0].partitionResponses.map((p: { errorCode: number }) => p.errorCode), [ErrorCode.NONE, ErrorCode.NONE])
      // The open transaction holds the last stable offset at its first offset.
      const p0 = yield* fetchAll("t", 0)
      assert.deepStrictEqual([p0.highWatermark, p0.lastStableOffset], [1n, 0n])
      // Transactional batches without a transactional id: Kafka's TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
      const withoutId = yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(1)], [1, txBatch()]]]]))
      assert.deepStrictEqual(withoutId.responses[0].partitionResponses.map((p: { errorCode: number }) => p.errorCode), [
        ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
      ])
      assert.strictEqual((yield* fetchAll("t", 0)).highWatermark, 1n)
      assert.strictEqual((yield* fetchAll("t", 1)).highWatermark, 1n)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 2 }]))))

  it.effect("appends idempotent batches as sent", () =>
    Effect.gen(function*() {
      const response = yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(2, { producerId: 42, producerEpoch: 1, baseSequence: 0 })]]]]))
      assert.strictEqual(response.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE)
      const header = readBatchHeader((yield* fetchAll("t", 0)).records)
      assert.deepStrictEqual([header.producerId, header.producerEpoch, header.baseSequence], [42, 1, 0])
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("idempotence: a retry gets the original offsets, a gap OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch INVALID_PRODUCER_EPOCH", () =>
    Effect.gen(function*() {
      const produce = (count: number, epoch: number, seq: number, transactionalId: string | null = null, isTransactional = false) =>
        Effect.map(
          call(ProduceHandler, 11, produceRequest([["t", [[0, batch(count, { producerId: 9, producerEpoch: epoch, baseSequence: seq, isTransactional })]]]], { transactionalId })),
          (r) => r.responses[0].partitionResponses[0] as { errorCode: number; baseOffset: bigint }
        )
      yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(3)]]]]))
      const first = yield* produce(2, 0, 0)
      const second = yield* produce(3, 0, 2)
      assert.deepStrictEqual([first.errorCode, first.baseOffset, second.baseOffset], [0, 3n, 5n])
      // Retries of either of the last batches: original offsets, nothing written.
      assert.deepStrictEqual([(yield* produce(2, 0, 0)).baseOffset, (yield* produce(3, 0, 2)).baseOffset], [3n, 5n])
      assert.strictEqual((yield* fetchAll("t", 0)).highWatermark, 8n)
      // A gap, and a range overlapping a written batch without matching it.
      assert.strictEqual((yield* produce(1, 0, 7)).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
      assert.strictEqual((yield* produce(2, 0, 1)).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
      // A new epoch starts at sequence 0; anything else is out of order.
      assert.strictEqual((yield* produce(1, 1, 5)).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
      assert.strictEqual((yield* produce(1, 1, 0)).baseOffset, 8n)
      // The old epoch is fenced now.
      assert.strictEqual((yield* produce(1, 0, 5)).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH)
      // An unknown producer may start at any sequence (Kafka since KIP-360).
      const other = yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(1, { producerId: 10, producerEpoch: 0, baseSequence: 17 })]]]]))
      assert.strictEqual(other.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE)
      // Inside an open transaction a plain batch is INVALID_TXN_STATE.
      assert.strictEqual((yield* produce(1, 1, 1, "tx", true)).errorCode, ErrorCode.NONE)
      assert.strictEqual((yield* produce(1, 1, 2)).errorCode, ErrorCode.INVALID_TXN_STATE)
      assert.strictEqual((yield* fetchAll("t", 0)).highWatermark, 11n)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("stamps the partition's leader epoch on appended batches", () =>
    Effect.gen(function*() {
      yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(1, { partitionLeaderEpoch: -1 })]]]]))
      const log = yield* Effect.orDie((yield* LogStore).getPartition("t", 0))
      assert.deepStrictEqual(log.leaderEpochCache.all(), [{ epoch: 7, startOffset: 0 }])
      const stored = (yield* fetchAll("t", 0)).records
      assert.strictEqual(readBatchHeader(stored).partitionLeaderEpoch, 7)
      // The CRC does not cover the leader epoch: the stored batch still verifies.
      const copy = Uint8Array.from(stored)
      writeBatchCrc(copy, 0)
      assert.deepStrictEqual(copy, Uint8Array.from(stored))
      assert.strictEqual([...readRecords(stored)].length, 1)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1, leaderEpoch: 7 }]))))

  it.effect("refuses client writes to internal topics with INVALID_TOPIC_EXCEPTION", () =>
    Effect.gen(function*() {
      const response = yield* call(ProduceHandler, 11, produceRequest([["__consumer_offsets", [[0, batch(1)]]], ["t", [[0, batch(1)]]]]))
      assert.deepStrictEqual(
        response.responses.map((t: { partitionResponses: Array<{ errorCode: number }> }) => t.partitionResponses[0]!.errorCode),
        [ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.NONE]
      )
      assert.strictEqual((yield* fetchAll("__consumer_offsets", 0)).highWatermark, 0n)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "__consumer_offsets", partitions: 1 }, { name: "t", partitions: 1 }]))))

  it.effect("answers a storage failure with KAFKA_STORAGE_ERROR and a bug with UNKNOWN_SERVER_ERROR, never failing the request", () =>
    Effect.gen(function*() {
      const store = yield* LogStore
      const broken = yield* Effect.orDie(store.getPartition("t", 0))
      const buggy = yield* Effect.orDie(store.getPartition("t", 1))
      Object.assign(broken, { append: () => { throw Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" }) } })
      Object.assign(buggy, { append: () => { throw new TypeError("cannot read properties of undefined") } })
      const response = yield* call(ProduceHandler, 11, produceRequest([["t", [[0, batch(1)], [1, batch(1)], [2, batch(1)]]]]))
      const partitions = response.responses[0].partitionResponses
      assert.deepStrictEqual(partitions.map((p: { errorCode: number }) => p.errorCode), [ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.UNKNOWN_SERVER_ERROR, ErrorCode.NONE])
      assert.match(partitions[0].errorMessage, /EIO/)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 3 }])), Effect.provideService(References.MinimumLogLevel, "None")))

  // Two producers' requests handled in one turn, as two connections' reads delivered together.
  const handledTogether = Effect.gen(function*() {
    const services = yield* Effect.context<LogStore | Topics>()
    const handle = (n: number) => ProduceHandler.handleWith!(decodedRequest(Produce, 9, produceRequest([["t", [[0, batch(n)]]]])), requestContext(Produce, 9), services)
    const first = handle(2)
    const second = handle(3)
    const endBeforeAnswers = (yield* LogStore).findPartition("t", 0)!.logEndOffset
    const answers = [yield* first, yield* second].map((r) => (r as { responses: Array<{ partitionResponses: Array<{ baseOffset: bigint }> }> }).responses[0]!.partitionResponses[0]!.baseOffset)
    return { exits: [Exit.isExit(first), Exit.isExit(second)], endBeforeAnswers, answers }
  })

  it.effect("appends and answers at once on a log with the default flush policy", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* handledTogether, { exits: [true, true], endBeforeAnswers: 5, answers: [0n, 2n] })
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }]))))

  it.effect("commits a turn's appends together on a log that forces each append (flush.messages=1), answering after", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* handledTogether, { exits: [false, false], endBeforeAnswers: 0, answers: [0n, 2n] })
      assert.strictEqual((yield* LogStore).findPartition("t", 0)!.logEndOffset, 5)
    }).pipe(Effect.provide(dataPlaneLayer([{ name: "t", partitions: 1 }], { log: { flushIntervalMessages: 1 } }))))
})
