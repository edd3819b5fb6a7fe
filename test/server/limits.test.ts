/**
 * Issue 12 requirement 7: every request field that sizes an allocation or a loop is bounded
 * before use, so a request within socket.request.max.bytes never makes the broker use
 * memory beyond a fixed multiple of it.
 *
 * - Decoders: a 100-byte frame claiming 2^31 (or 2^32) elements or tagged fields fails as a
 *   typed decode error; on the wire the connection is closed and the broker keeps serving.
 * - Decompression bombs (gzip, zstd, lz4, snappy raw and xerial): refused before or while
 *   inflating, at the bound.
 * - On a broker process with a 1 MiB frame limit: bombs produced to a compacted topic get
 *   CORRUPT_MESSAGE; CreateTopics with 10^9 partitions gets Kafka's POLICY_VIOLATION,
 *   CreatePartitions to 10^9 UNKNOWN_SERVER_ERROR; Fetch with max_bytes 2^31-1 answers at
 *   most fetch.max.bytes; and a property test sends random hostile requests and checks that
 *   no single one raises the broker's RSS at its peak (VmHWM, reset before each request) by
 *   more than 8 frame limits.
 */
import * as fs from "node:fs"
import * as zlib from "node:zlib"
import * as fc from "fast-check"
import * as lz4 from "lz4js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { compressRecords, DecompressedSizeError, decompressRecords } from "../../src/log/compression.ts"
import { buildRecordBatch, computeBatchCrc } from "../../src/log/record-batch.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { ApiVersions } from "../../src/protocol/generated/apis/ApiVersions.ts"
import { CreatePartitions } from "../../src/protocol/generated/apis/CreatePartitions.ts"
import { CreateTopics } from "../../src/protocol/generated/apis/CreateTopics.ts"
import { Fetch } from "../../src/protocol/generated/apis/Fetch.ts"
import { Metadata } from "../../src/protocol/generated/apis/Metadata.ts"
import { Produce } from "../../src/protocol/generated/apis/Produce.ts"
import { encodeRequestHeader } from "../../src/protocol/generated/message/RequestHeader.ts"
import { requestHeaderVersion } from "../../src/protocol/header.ts"
import { ProtocolDecodeError, Reader, Writer } from "../../src/protocol/primitives.ts"
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.ts"
import { compressedBatch } from "../log/cleaner/helpers.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

const MiB = 1024 * 1024
const FRAME_LIMIT = MiB
const FETCH_MAX_BYTES = 64 * 1024
/** The property's bound: one request raises the broker's RSS by at most this many frame limits. */
const PEAK_BOUND_FRAMES = 8
const CODECS = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const

// ------------------------------------------------------------------------------------------
// Bombs: small compressed streams that claim far more than the bound.
// ------------------------------------------------------------------------------------------

const repeat = (part: Uint8Array, times: number): Uint8Array => Buffer.concat(Array.from({ length: times }, () => part))

/** gzip members concatenated: 16 × 8 MiB of zeros in about 130 KB. */
const gzipBomb = (): Uint8Array => repeat(zlib.gzipSync(Buffer.alloc(8 * MiB)), 16)
/** zstd frames concatenated: 32 × 32 MiB = 1 GiB of zeros in a few KB. */
const zstdBomb = (): Uint8Array => repeat(zlib.zstdCompressSync(Buffer.alloc(32 * MiB)), 32)
/** One LZ4 frame of 8 MiB of zeros. */
const lz4Bomb = (): Uint8Array => Uint8Array.from(lz4.compress(Buffer.alloc(8 * MiB)))
/** A raw snappy block whose preamble claims 2^32 - 1 bytes, with a few bytes after it. */
const snappyPreambleBomb = (): Uint8Array => Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x41, 0x00])
/** xerial-framed snappy of 4 MiB zeros (about 200 KB): each 32 KiB block is small, their sum is not. */
const xerialBomb = (): Uint8Array => compressRecords(CODECS.snappy, Buffer.alloc(4 * MiB))

const bombs: ReadonlyArray<readonly [string, number, () => Uint8Array]> = [
  ["gzip", CODECS.gzip, gzipBomb],
  ["zstd", CODECS.zstd, zstdBomb],
  ["lz4", CODECS.lz4, lz4Bomb],
  ["snappy (raw preamble)", CODECS.snappy, snappyPreambleBomb],
  ["snappy (xerial)", CODECS.snappy, xerialBomb]
]

/** A v2 batch whose records section is `records`, compressed with `codec` (CRC valid). */
const batchWithRecordsSection = (codec: number, records: Uint8Array): Uint8Array => {
  const plain = buildRecordBatch({ baseOffset: 0, records: [{ key: new Uint8Array([1]), value: new Uint8Array([2]) }] })
  const out = new Uint8Array(61 + records.length)
  out.set(plain.subarray(0, 61))
  out.set(records, 61)
  const view = new DataView(out.buffer)
  view.setInt32(8, out.length - 12)
  view.setInt16(21, view.getInt16(21) | codec)
  view.setUint32(17, computeBatchCrc(out, 0, out.length))
  return out
}

describe("decompression bounds", () => {
  for (const [name, codec, make] of bombs) {
    it(`a ${name} bomb is refused at the bound`, () => {
      const bomb = make()
      expect(bomb.length).toBeLessThan(FRAME_LIMIT)
      expect(() => decompressRecords(codec, bomb, FRAME_LIMIT)).toThrow(DecompressedSizeError)
    })
  }

  it("a stream within the bound still inflates", () => {
    const data = Buffer.alloc(FRAME_LIMIT, 7)
    for (const codec of Object.values(CODECS)) {
      expect(Buffer.from(decompressRecords(codec, compressRecords(codec, data), FRAME_LIMIT)).equals(data)).toBe(true)
    }
  })
})

// ------------------------------------------------------------------------------------------
// Decoders: length claims far beyond the frame.
// ------------------------------------------------------------------------------------------

/** A request frame of exactly `size` bytes: header, then `body`, then zero padding. */
const paddedFrame = (apiKey: number, version: number, body: Uint8Array, size = 100): Uint8Array => {
  const w = new Writer(size)
  w.reserveInt32()
  const api = apiKey === Metadata.apiKey ? Metadata : ApiVersions
  encodeRequestHeader(w, requestHeaderVersion(api, version), { requestApiKey: apiKey, requestApiVersion: version, correlationId: 9, clientId: "x" })
  const headerEnd = w.pos
  const out = new Uint8Array(size)
  out.set(w.toBytes().subarray(0, headerEnd))
  out.set(body, headerEnd)
  new DataView(out.buffer).setInt32(0, size - 4)
  return out
}

const claims: ReadonlyArray<readonly [string, number, number, Uint8Array]> = [
  // Metadata v4: topics is an int32-counted array.
  ["an int32 array count of 2^31 - 1", Metadata.apiKey, 4, Uint8Array.from([0x7f, 0xff, 0xff, 0xff])],
  // Metadata v12: topics is a compact array (uvarint N+1): 2^32 - 1.
  ["a compact array count of 2^32 - 2", Metadata.apiKey, 12, Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])],
  // ApiVersions v3: two compact strings, then a tagged-field count of 2^32 - 1.
  ["a tagged-field count of 2^32 - 1", ApiVersions.apiKey, 3, Uint8Array.from([0x02, 0x61, 0x02, 0x31, 0xff, 0xff, 0xff, 0xff, 0x0f])],
  // ApiVersions v3: a compact string claiming 2^31 bytes.
  ["a compact string of 2^31 bytes", ApiVersions.apiKey, 3, Uint8Array.from([0x81, 0x80, 0x80, 0x80, 0x08])]
]

describe("decoder bounds", () => {
  for (const [name, apiKey, version, body] of claims) {
    it(`a 100-byte frame with ${name} fails as a typed decode error`, () => {
      const frame = paddedFrame(apiKey, version, body)
      const api = apiKey === Metadata.apiKey ? Metadata : ApiVersions
      const r = new Reader(frame, 4)
      r.int16(), r.int16(), r.int32(), r.nullableString()
      if (requestHeaderVersion(api, version) >= 2) r.skipTaggedFields()
      expect(() => api.decodeRequest(r, version)).toThrow(ProtocolDecodeError)
    })
  }
})

// ------------------------------------------------------------------------------------------
// A broker process with a 1 MiB frame limit.
// ------------------------------------------------------------------------------------------

const peakRssKiB = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1])
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1])
/** Resets the process's peak RSS to its current RSS (Linux clear_refs 5), so the next peak is one request's. */
const resetPeak = (pid: number): void => fs.writeFileSync(`/proc/${pid}/clear_refs`, "5")
const hasProc = fs.existsSync("/proc/self/status")

let broker: BrokerProcess
let client: WireClient
let correlation = 100

const call = async (api: Parameters<typeof encodeRequest>[0], version: number, body: unknown) => {
  const id = ++correlation
  client.write(encodeRequest(api, version, id, body))
  const response = decodeResponse(api, version, await client.read())
  expect(response.correlationId).toBe(id)
  return response.body
}

const produce = (topic: string, records: Uint8Array) =>
  call(Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] })

const stillServes = async () => {
  const fresh = await WireClient.connect(broker.port)
  fresh.write(encodeRequest(ApiVersions, 3, 1, { clientSoftwareName: "good", clientSoftwareVersion: "1" }))
  expect(decodeResponse(ApiVersions, 3, await fresh.read()).body.errorCode).toBe(0)
  fresh.close()
}

describe.skipIf(!hasProc)("limits on a broker process", () => {
  beforeAll(async () => {
    broker = await startBrokerProcess({
      args: ["--override", `socket.request.max.bytes=${FRAME_LIMIT}`, "--override", `fetch.max.bytes=${FETCH_MAX_BYTES}`]
    })
    client = await WireClient.connect(broker.port)
    const created = await call(CreateTopics, 5, {
      topics: [
        { name: "compacted", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: "cleanup.policy", value: "compact" }] },
        { name: "plain", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }
      ],
      timeoutMs: 5000,
      validateOnly: false
    })
    expect(created.topics.map((t: { errorCode: number }) => t.errorCode)).toEqual([0, 0])
  }, 60_000)
  afterAll(async () => {
    if (process.env.LIMITS_DEBUG) fs.writeFileSync(process.env.LIMITS_DEBUG, broker?.output() ?? "")
    client?.close()
    broker?.child.kill("SIGKILL")
    await broker?.exited
  })

  for (const [name, codec, make] of bombs) {
    it(`a ${name} bomb produced to a compacted topic gets CORRUPT_MESSAGE`, async () => {
      const body = await produce("compacted", batchWithRecordsSection(codec, make()))
      const p = body.responses[0].partitionResponses[0]
      expect(p.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
      expect(p.errorMessage).toMatch(/inflate to more than 1048576 bytes|Invalid Snappy|too big/)
    })
  }

  it("a snappy block whose literal length reads negative in 32 bits gets CORRUPT_MESSAGE (it used to hang the broker)", async () => {
    // Found by the decompressors fuzz target: snappyjs moved its cursor backwards forever.
    const block = Uint8Array.from(Buffer.from("a271fcc3471c82534e41505059000000000100000001000000070510cb65f12b5e", "hex"))
    const body = await produce("compacted", batchWithRecordsSection(CODECS.snappy, block))
    expect(body.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    await stillServes()
  })

  it("a keyed compressed batch within the bound is still accepted on the compacted topic", async () => {
    const batch = compressedBatch(CODECS.zstd, { baseOffset: 0, records: [{ key: new Uint8Array([1]), value: Buffer.alloc(100_000) }] })
    const body = await produce("compacted", batch)
    expect(body.responses[0].partitionResponses[0].errorCode).toBe(0)
  })

  it("CreateTopics with 10^9 partitions gets POLICY_VIOLATION and creates nothing, as Kafka's controller answers", async () => {
    const body = await call(CreateTopics, 7, {
      topics: [
        { name: "huge", numPartitions: 1_000_000_000, replicationFactor: 1, assignments: [], configs: [] },
        { name: "small", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }
      ],
      timeoutMs: 5000,
      validateOnly: false
    })
    expect(body.topics.map((t: { name: string; errorCode: number; errorMessage: string }) => [t.name, t.errorCode, t.errorMessage])).toEqual([
      ["huge", ErrorCode.POLICY_VIOLATION, "Unable to perform excessively large batch operation."],
      ["small", ErrorCode.POLICY_VIOLATION, "Unable to perform excessively large batch operation."]
    ])
    const metadata = await call(Metadata, 12, { topics: [{ topicId: "AAAAAAAAAAAAAAAAAAAAAA", name: "huge" }, { topicId: "AAAAAAAAAAAAAAAAAAAAAA", name: "small" }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    expect(metadata.topics.map((t: { errorCode: number }) => t.errorCode)).toEqual([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
  })

  it("CreateTopics of exactly 9 999 partitions is within Kafka's 10 000-record bound (validate_only)", async () => {
    const body = await call(CreateTopics, 7, {
      topics: [{ name: "edge", numPartitions: 9_999, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: true
    })
    expect(body.topics[0].errorCode).toBe(0)
    expect(body.topics[0].numPartitions).toBe(9_999)
  })

  it("CreatePartitions to 10^9 gets UNKNOWN_SERVER_ERROR for that topic; the others are answered on their own", async () => {
    const body = await call(CreatePartitions, 3, {
      topics: [{ name: "plain", count: 1_000_000_000, assignments: null }, { name: "missing", count: 3, assignments: null }],
      timeoutMs: 5000,
      validateOnly: false
    })
    expect(body.results.map((r: { errorCode: number }) => r.errorCode)).toEqual([ErrorCode.UNKNOWN_SERVER_ERROR, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
  })

  it("Fetch with max_bytes and partition_max_bytes of 2^31 - 1 answers at most the broker's fetch.max.bytes", async () => {
    for (let i = 0; i < 12; i++) {
      const batch = buildRecordBatch({ baseOffset: 0, records: [{ key: null, value: Buffer.alloc(16 * 1024, i) }] })
      expect((await produce("plain", batch)).responses[0].partitionResponses[0].errorCode).toBe(0)
    }
    const body = await call(Fetch, 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 0x7fffffff, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: "plain", partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 0x7fffffff }] }],
      forgottenTopicsData: [], rackId: ""
    })
    const records: Uint8Array = body.responses[0].partitions[0].records
    expect(records.length).toBeGreaterThan(0)
    expect(records.length).toBeLessThanOrEqual(FETCH_MAX_BYTES)
  })

  for (const [name, apiKey, version, body] of claims) {
    it(`a 100-byte frame with ${name} closes that connection; the broker keeps serving`, async () => {
      const hostile = await WireClient.connect(broker.port)
      hostile.write(paddedFrame(apiKey, version, body))
      expect((await hostile.closedByBroker()).unreadFrames).toBe(0)
      await stillServes()
    })
  }

  it(`property: no request within the frame limit raises the broker's RSS by more than ${PEAK_BOUND_FRAMES} frame limits at its peak`, async () => {
    const pid = broker.child.pid!
    const worst: Record<string, number> = {}
    // Counterexamples name the bomb; its bytes would flood the report.
    const bombBatches = {
      zstd: batchWithRecordsSection(CODECS.zstd, zstdBomb()),
      gzip: batchWithRecordsSection(CODECS.gzip, gzipBomb()),
      lz4: batchWithRecordsSection(CODECS.lz4, lz4Bomb()),
      xerial: batchWithRecordsSection(CODECS.snappy, xerialBomb())
    }
    const hostileRequest = fc.oneof(
      fc.record({ kind: fc.constant("bomb" as const), which: fc.constantFrom("zstd", "gzip", "lz4", "xerial"), copies: fc.integer({ min: 1, max: 30 }) }),
      fc.record({ kind: fc.constant("partitions" as const), count: fc.integer({ min: 10_001, max: 0x7fffffff }), topics: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ kind: fc.constant("claim" as const), index: fc.nat(claims.length - 1), pad: fc.integer({ min: 100, max: 4096 }) }),
      fc.record({ kind: fc.constant("fetch" as const), maxBytes: fc.integer({ min: -1, max: 0x7fffffff }), partitions: fc.integer({ min: 1, max: 2000 }) })
    )
    await fc.assert(
      fc.asyncProperty(hostileRequest, async (req) => {
        const before = rssKiB(pid)
        resetPeak(pid)
        switch (req.kind) {
          case "bomb": {
            // As many bomb batches in one produce request as the frame holds (one per partition entry).
            const batch = bombBatches[req.which]
            const copies = Math.min(req.copies, Math.floor((FRAME_LIMIT - 4096) / batch.length))
            const body = await call(Produce, 9, {
              transactionalId: null, acks: -1, timeoutMs: 5000,
              topicData: [{ name: "compacted", partitionData: Array.from({ length: copies }, () => ({ index: 0, records: batch })) }]
            })
            expect(body.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
            break
          }
          case "partitions": {
            const body = await call(CreateTopics, 7, {
              topics: Array.from({ length: req.topics }, (_, i) => ({ name: `t${i}-${req.count}`, numPartitions: req.count, replicationFactor: 1, assignments: [], configs: [] })),
              timeoutMs: 5000, validateOnly: false
            })
            expect(new Set(body.topics.map((t: { errorCode: number }) => t.errorCode))).toEqual(new Set([ErrorCode.POLICY_VIOLATION]))
            break
          }
          case "claim": {
            const [, apiKey, version, body] = claims[req.index]!
            const hostile = await WireClient.connect(broker.port)
            hostile.write(paddedFrame(apiKey, version, body, req.pad))
            await hostile.closedByBroker()
            break
          }
          case "fetch": {
            const body = await call(Fetch, 12, {
              replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: req.maxBytes, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
              topics: [{ topic: "plain", partitions: Array.from({ length: req.partitions }, (_, i) => ({ partition: i === 0 ? 0 : 1000 + i, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: req.maxBytes })) }],
              forgottenTopicsData: [], rackId: ""
            })
            const total = body.responses.flatMap((t: { partitions: Array<{ records: Uint8Array | null }> }) => t.partitions).reduce((n: number, p: { records: Uint8Array | null }) => n + (p.records?.length ?? 0), 0)
            // One batch (16 KiB) may exceed a smaller max_bytes (KIP-74); never fetch.max.bytes.
            expect(total).toBeLessThanOrEqual(FETCH_MAX_BYTES)
            break
          }
        }
        const peakKiB = peakRssKiB(pid) - before
        worst[req.kind] = Math.max(worst[req.kind] ?? 0, peakKiB)
        expect(peakKiB).toBeLessThanOrEqual((PEAK_BOUND_FRAMES * FRAME_LIMIT) / 1024)
      }),
      { numRuns: 60, seed: 1207 }
    )
    console.log(`limits property: largest RSS rise during one request, KiB by kind (frame limit ${FRAME_LIMIT / 1024} KiB): ${JSON.stringify(worst)}`)
    await stillServes()
  }, 120_000)
})
