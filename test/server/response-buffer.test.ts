import { describe, expect, it } from "vitest"
import { Fetch } from "../../src/protocol/generated/apis.ts"
import { encodeResponseFrame, writeResponseFrame } from "../../src/server/dispatch.ts"
import { ResponseBuffer, SPLICE_MIN_BYTES } from "../../src/server/response-buffer.ts"
import { concat } from "../log/helpers.ts"

const fetchBody = (records: Uint8Array) => ({
  throttleTimeMs: 0,
  errorCode: 0,
  sessionId: 0,
  responses: [{
    topic: "t",
    topicId: "AAAAAAAAAAAAAAAAAAAAAA",
    partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 1n, lastStableOffset: 1n, logStartOffset: 0n, abortedTransactions: null, preferredReadReplica: -1, records }]
  }]
})

describe("ResponseBuffer", () => {
  it("keeps large byte strings by reference and writes the same frames a plain writer does", () => {
    const big = new Uint8Array(SPLICE_MIN_BYTES + 5).map((_, i) => i & 0xff)
    const small = new Uint8Array(10).fill(7)
    const w = new ResponseBuffer(64)
    writeResponseFrame(Fetch, 12, 1, fetchBody(big), w)
    writeResponseFrame(Fetch, 12, 2, fetchBody(small), w)
    const chunks = w.chunks()
    expect(chunks).toContain(big)
    expect(w.byteLength).toBe(w.pos + big.length)
    expect(concat(...chunks)).toEqual(concat(encodeResponseFrame(Fetch, 12, 1, fetchBody(big)), encodeResponseFrame(Fetch, 12, 2, fetchBody(small))))
  })

  it("rewinds a response that failed halfway, spliced bytes included", () => {
    const w = new ResponseBuffer(64)
    writeResponseFrame(Fetch, 12, 1, fetchBody(new Uint8Array(3)), w)
    const before = concat(...w.chunks(true))
    const mark = w.mark()
    w.int32(5)
    w.raw(new Uint8Array(SPLICE_MIN_BYTES))
    w.rewind(mark)
    expect(concat(...w.chunks())).toEqual(before)
    expect(w.byteLength).toBe(before.length)
  })
})
