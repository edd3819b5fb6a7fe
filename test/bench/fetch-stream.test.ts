/**
 * The end-to-end consumer's streaming Fetch parser (bench/lib/fetch-stream.ts) against
 * responses encoded by the generated codec: whatever the chunking, it finds every complete
 * batch with its offsets, leaves out a batch the response cuts short, and reports errors.
 */
import { describe, expect, it } from "vitest"
import { type FetchedBatches, FetchResponseStream } from "../../bench/lib/fetch-stream.ts"
import { buildRecordBatch } from "../../src/log/record-batch.ts"
import { Fetch } from "../../src/protocol/generated/apis.ts"
import { encodeResponseHeader } from "../../src/protocol/generated/message/ResponseHeader.ts"
import { responseHeaderVersion } from "../../src/protocol/header.ts"
import { Writer } from "../../src/protocol/primitives.ts"

const VERSION = 12

const batchAt = (baseOffset: number, records: number): Uint8Array => {
  const b = Buffer.from(buildRecordBatch({ records: Array.from({ length: records }, (_, i) => ({ key: null, value: new Uint8Array(10 + i), timestamp: 1 })) }))
  b.writeBigInt64BE(BigInt(baseOffset), 0)
  return b
}

const response = (correlationId: number, records: Uint8Array | null, errorCode = 0): Buffer => {
  const w = new Writer(256)
  const sizeAt = w.reserveInt32()
  encodeResponseHeader(w, responseHeaderVersion(Fetch, VERSION), { correlationId })
  Fetch.encodeResponse(w, VERSION, {
    throttleTimeMs: 0, errorCode: 0, sessionId: 0,
    responses: [{
      topic: "t",
      partitions: [{ partitionIndex: 0, errorCode, highWatermark: 100n, lastStableOffset: 100n, logStartOffset: 0n, abortedTransactions: null, preferredReadReplica: -1, records }]
    }]
  })
  w.setInt32At(sizeAt, w.pos - 4)
  return Buffer.from(w.toBytes())
}

const collect = () => {
  const seen: Array<{ correlationId: number; batches: Array<[number, number]> }> = []
  const errors: Array<string> = []
  const stream = new FetchResponseStream(
    (r: FetchedBatches) => seen.push({ correlationId: r.correlationId, batches: r.baseOffsets.map((b, i) => [b, r.nextOffsets[i]!]) }),
    (e) => errors.push(e.message)
  )
  return { seen, errors, stream }
}

describe("FetchResponseStream", () => {
  const a = batchAt(0, 3)
  const b = batchAt(3, 5)
  const c = batchAt(8, 2)
  const whole = Buffer.concat([a, b, c])
  // Two responses back to back: three batches, then the last one cut short, then an empty one.
  const stream = Buffer.concat([response(1, whole), response(2, Buffer.concat([a, c.subarray(0, c.length - 7)])), response(3, null)])
  const expected = [
    { correlationId: 1, batches: [[0, 3], [3, 8], [8, 10]] },
    { correlationId: 2, batches: [[0, 3]] },
    { correlationId: 3, batches: [] }
  ]

  it("finds every complete batch whatever the chunk size", () => {
    for (const chunk of [1, 2, 3, 7, 26, 27, 28, 64, 1000, stream.length]) {
      const { seen, errors, stream: s } = collect()
      for (let at = 0; at < stream.length; at += chunk) s.feed(stream, at, Math.min(stream.length, at + chunk))
      expect(errors, `chunk ${chunk}`).toEqual([])
      expect(seen, `chunk ${chunk}`).toEqual(expected)
    }
  })

  it("reports a partition error instead of batches", () => {
    const { seen, errors, stream: s } = collect()
    const r = response(9, null, 1)
    s.feed(r, 0, r.length)
    expect(seen).toEqual([])
    expect(errors).toEqual(["Fetch partition: error 1"])
  })
})
