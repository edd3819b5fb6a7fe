import { describe, expect, it } from "vitest"
import { coordinatorPartitionFor, javaStringHashCode } from "../src/coordinator/internal-topics.ts"
import { encodeTxnMarkerBatch, readTxnMarker } from "../src/log/control-records.ts"
import { readBatchHeader } from "../src/log/record-batch.ts"

describe("coordinator partitions", () => {
  it("hash as Java's String.hashCode", () => {
    // Values printed by java.lang.String.hashCode (jshell, JDK 17).
    expect(javaStringHashCode("")).toBe(0)
    expect(javaStringHashCode("a")).toBe(97)
    expect(javaStringHashCode("hello")).toBe(99162322)
    expect(javaStringHashCode("my-group-with-a-long-name")).toBe(1977297176)
    expect(javaStringHashCode("héllo€")).toBe(-1099022178)
  })
  it("map keys as Utils.abs(hashCode) % n", () => {
    expect(coordinatorPartitionFor("hello", 50)).toBe(99162322 % 50)
    expect(coordinatorPartitionFor("my-group-with-a-long-name", 50)).toBe(Math.abs(javaStringHashCode("my-group-with-a-long-name")) % 50)
    // "polygenelubricants" hashes to Integer.MIN_VALUE, which Utils.abs maps to 0.
    expect(javaStringHashCode("polygenelubricants")).toBe(-2147483648)
    expect(coordinatorPartitionFor("polygenelubricants", 50)).toBe(0)
  })
})

describe("transaction markers", () => {
  it("round-trip as a control batch", () => {
    const batch = encodeTxnMarkerBatch({ producerId: 4000, producerEpoch: 3, coordinatorEpoch: 7, commit: true }, 1_700_000_000_000)
    const header = readBatchHeader(batch, 0)
    expect(header.isControl).toBe(true)
    expect(header.isTransactional).toBe(true)
    expect(header.producerId).toBe(4000)
    expect(header.baseSequence).toBe(-1)
    expect(readTxnMarker(batch)).toEqual({ producerId: 4000, producerEpoch: 3, coordinatorEpoch: 7, commit: true })
    const abort = encodeTxnMarkerBatch({ producerId: 1, producerEpoch: 0, coordinatorEpoch: 0, commit: false }, 0)
    expect(readTxnMarker(abort)?.commit).toBe(false)
  })
})
