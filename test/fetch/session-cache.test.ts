import { describe, expect, it } from "vitest"
import { FetchSessionCache, type FetchPartitionRequest, type PartitionOutcome } from "../../src/fetch/session-cache.ts"

const part = (topic: string, partition: number, fetchOffset = 0n): FetchPartitionRequest => ({
  key: `${topic}:${partition}`,
  topic,
  topicId: "AAAAAAAAAAAAAAAAAAAAAA",
  partition,
  fetchOffset,
  partitionMaxBytes: 1 << 20,
  currentLeaderEpoch: -1
})
const quiet: PartitionOutcome = { errorCode: 0, highWatermark: 10n, lastStableOffset: 10n, logStartOffset: 0n, hasRecords: false }

describe("fetch session cache (KIP-227)", () => {
  it("sessionless full fetches (epoch -1, id 0) create nothing and include every partition", () => {
    const cache = new FetchSessionCache(10)
    const ctx = cache.begin(0, -1, [part("a", 0), part("a", 1)], [], 0)
    if (typeof ctx === "string") throw new Error(ctx)
    expect(ctx.sessionId).toBe(0)
    expect(ctx.partitions.map((p) => p.key)).toEqual(["a:0", "a:1"])
    expect(ctx.include("a:0", quiet)).toBe(true)
    expect(cache.size).toBe(0)
  })

  it("opens a session at epoch 0, then answers incrementally only for changed partitions", () => {
    const cache = new FetchSessionCache(10)
    const full = cache.begin(0, 0, [part("a", 0), part("a", 1)], [], 0)
    if (typeof full === "string") throw new Error(full)
    expect(full.sessionId).not.toBe(0)
    full.include("a:0", quiet)
    full.include("a:1", quiet)

    // Epoch 1 names nothing: both partitions are read, only the one with news is answered.
    const inc = cache.begin(full.sessionId, 1, [], [], 1)
    if (typeof inc === "string") throw new Error(inc)
    expect(inc.partitions.map((p) => p.key)).toEqual(["a:0", "a:1"])
    expect(inc.include("a:0", { ...quiet, hasRecords: true })).toBe(true)
    expect(inc.include("a:1", quiet)).toBe(false)
    // A high watermark move is news too.
    const inc2 = cache.begin(full.sessionId, 2, [part("a", 0, 5n)], [], 2)
    if (typeof inc2 === "string") throw new Error(inc2)
    expect(inc2.partitions.find((p) => p.key === "a:0")!.fetchOffset).toBe(5n)
    expect(inc2.include("a:1", { ...quiet, highWatermark: 11n })).toBe(true)
    expect(inc2.include("a:0", quiet)).toBe(false) // named with a new offset, but nothing new: not answered, as in Kafka
  })

  it("adds and forgets partitions in incremental fetches", () => {
    const cache = new FetchSessionCache(10)
    const full = cache.begin(0, 0, [part("a", 0)], [], 0)
    if (typeof full === "string") throw new Error(full)
    const inc = cache.begin(full.sessionId, 1, [part("b", 0)], ["a:0"], 0)
    if (typeof inc === "string") throw new Error(inc)
    expect(inc.partitions.map((p) => p.key)).toEqual(["b:0"])
    // A partition new to the session is answered the first time, whatever it holds.
    expect(inc.include("b:0", quiet)).toBe(true)
  })

  it("rejects unknown sessions and wrong epochs", () => {
    const cache = new FetchSessionCache(10)
    expect(cache.begin(12345, 1, [], [], 0)).toBe("FETCH_SESSION_ID_NOT_FOUND")
    const full = cache.begin(0, 0, [part("a", 0)], [], 0)
    if (typeof full === "string") throw new Error(full)
    expect(cache.begin(full.sessionId, 2, [], [], 0)).toBe("INVALID_FETCH_SESSION_EPOCH")
    expect(typeof cache.begin(full.sessionId, 1, [], [], 0)).toBe("object")
    // Epoch -1 with the id closes the session.
    cache.begin(full.sessionId, -1, [], [], 0)
    expect(cache.begin(full.sessionId, 2, [], [], 0)).toBe("FETCH_SESSION_ID_NOT_FOUND")
  })

  it("is bounded: a full cache evicts an idle session, or declines to open one", () => {
    const cache = new FetchSessionCache(1, 1000)
    const first = cache.begin(0, 0, [part("a", 0), part("a", 1)], [], 0)
    if (typeof first === "string") throw new Error(first)
    // Not idle long enough, and not smaller than the newcomer: no session for the newcomer.
    const declined = cache.begin(0, 0, [part("b", 0)], [], 500)
    if (typeof declined === "string") throw new Error(declined)
    expect(declined.sessionId).toBe(0)
    expect(cache.size).toBe(1)
    // Idle past the eviction time: evicted.
    const second = cache.begin(0, 0, [part("b", 0)], [], 1500)
    if (typeof second === "string") throw new Error(second)
    expect(second.sessionId).not.toBe(0)
    expect(cache.begin(first.sessionId, 1, [], [], 1500)).toBe("FETCH_SESSION_ID_NOT_FOUND")
    // A zero-slot cache never opens sessions.
    const none = new FetchSessionCache(0).begin(0, 0, [part("a", 0)], [], 0)
    expect(typeof none !== "string" && none.sessionId).toBe(0)
  })
})
