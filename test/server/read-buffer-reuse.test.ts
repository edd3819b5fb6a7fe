/**
 * Segment read buffers are reused once the socket write carrying them is done
 * (src/log/read-buffers.ts). A client that stops reading while its fetch responses pile up
 * in the broker, then reads them all, must get every batch's own bytes: a buffer given back
 * before its write finished would show up as another batch's records.
 */
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startBroker, type EmbeddedBroker } from "../../src/broker.ts"
import { readBufferCounts } from "../../src/log/read-buffers.ts"
import { Fetch, Produce } from "../../src/protocol/generated/apis.ts"
import { AdminClient, FETCH_VERSION, fetchRequest, partsPayload, PRODUCE_VERSION, produceParts } from "../../bench/lib/kafka.ts"
import { batch, recordsOf } from "../handlers/data-plane/helpers.ts"
import { decodeResponse } from "../support/wire-client.ts"

const BATCHES = 48
const RECORDS = 16
/** About 32 KiB per batch: pooled reads (>= 16 KiB). */
const VALUE_BYTES = 2000

let broker: EmbeddedBroker
beforeAll(async () => {
  broker = await startBroker({ logLevel: "None" })
})
afterAll(() => broker.stop())

/** Reads `count` response frames from `socket` (resumed), with a bound on the bytes it waits for. */
const readFrames = (socket: net.Socket, count: number): Promise<Array<Buffer>> =>
  new Promise((resolve, reject) => {
    const frames: Array<Buffer> = []
    let pending = Buffer.alloc(0)
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        frames.push(pending.subarray(4, 4 + pending.readInt32BE(0)))
        pending = pending.subarray(4 + pending.readInt32BE(0))
      }
      if (frames.length === count) resolve(frames)
    })
    socket.once("error", reject)
    socket.once("close", () => reject(new Error(`connection closed after ${frames.length} of ${count} responses`)))
    socket.resume()
  })

describe("fetch read buffers", () => {
  it("every response carries its own batch when the client reads late and buffers are reused", async () => {
    const admin = await AdminClient.connect(broker.port)
    await admin.createTopics([{ name: "reuse", partitions: 1 }])
    for (let i = 0; i < BATCHES; i++) {
      await admin.produceChecked(partsPayload(produceParts("reuse", 0, Buffer.from(batch(RECORDS, { prefix: `b${i}-`, valueSize: VALUE_BYTES })), 1)))
    }
    admin.close()

    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port: broker.port, host: "127.0.0.1" }, () => resolve(s))
      s.once("error", reject)
    })
    socket.pause()
    // Three passes over the log, so that reads after the first responses' writes reuse their buffers.
    const expected: Array<number> = []
    for (let pass = 0; pass < 3; pass++) {
      for (let i = 0; i < BATCHES; i++) {
        const request = fetchRequest({ topic: "reuse", partition: 0, offset: i * RECORDS, partitionMaxBytes: 1 })
        request.writeInt32BE(expected.length, 8)
        expected.push(i)
        socket.write(request)
      }
    }
    const before = readBufferCounts()
    const frames = await readFrames(socket, expected.length)
    socket.destroy()
    // The broker runs in this process: its reads did take buffers given back after earlier writes.
    const after = readBufferCounts()
    expect(after.reused).toBeGreaterThan(before.reused)
    frames.forEach((frame, n) => {
      const { correlationId, body } = decodeResponse(Fetch, FETCH_VERSION, frame)
      expect(correlationId).toBe(n)
      const i = expected[n]!
      const records = recordsOf(body.responses[0].partitions[0].records)
      expect(records.map((r) => r.offset)).toEqual(Array.from({ length: RECORDS }, (_, k) => i * RECORDS + k))
      expect(records.map((r) => r.value)).toEqual(Array.from({ length: RECORDS }, (_, k) => `b${i}-${k}`.padEnd(VALUE_BYTES, ".")))
    })
  }, 60_000)

  it("produce requests larger than a socket read are read in place once the connection's requests count as large, their slabs are reused, and every batch keeps its own bytes", async () => {
    const admin = await AdminClient.connect(broker.port)
    await admin.createTopics([{ name: "frames", partitions: 1 }])
    const before = readBufferCounts()
    // About 96 KiB per request: more than one of Node's 64 KiB socket reads.
    const PRODUCES = 24
    const PRODUCE_RECORDS = 48
    for (let i = 0; i < PRODUCES; i++) {
      await admin.produceChecked(partsPayload(produceParts("frames", 0, Buffer.from(batch(PRODUCE_RECORDS, { prefix: `p${i}-`, valueSize: VALUE_BYTES })), 1)))
    }
    const after = readBufferCounts()
    const slabs = after.sharedAllocated + after.sharedReused - before.sharedAllocated - before.sharedReused
    // Copied into a lent buffer: the first request (read before the connection's requests
    // counted as large), the ones that straddle two of its 1 MiB read slabs (2.3 MB in all),
    // and one after a read that found little (the client between requests), which depends on
    // how the kernel hands the bytes over: a few, where every request was copied before.
    const copies = after.allocated + after.reused - before.allocated - before.reused - slabs
    expect(copies).toBeLessThanOrEqual(PRODUCES / 4)
    // One request at a time: a slab is given back once its requests are done, and read into again.
    expect(after.sharedReused - before.sharedReused).toBeGreaterThanOrEqual(1)
    for (let i = 0; i < PRODUCES; i++) {
      const records = recordsOf(await admin.fetchRecords(fetchRequest({ topic: "frames", partition: 0, offset: i * PRODUCE_RECORDS, partitionMaxBytes: 1 })))
      expect(records.map((r) => r.offset)).toEqual(Array.from({ length: PRODUCE_RECORDS }, (_, k) => i * PRODUCE_RECORDS + k))
      expect(records.map((r) => r.value)).toEqual(Array.from({ length: PRODUCE_RECORDS }, (_, k) => `p${i}-${k}`.padEnd(VALUE_BYTES, ".")))
    }
    admin.close()
  }, 60_000)

  it("pipelined produce requests read into reused slabs each keep their own bytes", async () => {
    const admin = await AdminClient.connect(broker.port)
    await admin.createTopics([{ name: "pipelined", partitions: 1 }])
    admin.close()
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port: broker.port, host: "127.0.0.1" }, () => resolve(s))
      s.once("error", reject)
    })
    // 64 requests of about 66 KB written at once: the broker reads them into slabs it reuses
    // as their requests finish, while later requests are still being read.
    const REQUESTS = 64
    const RECORDS_EACH = 32
    const before = readBufferCounts()
    for (let i = 0; i < REQUESTS; i++) {
      const request = Buffer.concat(partsPayload(produceParts("pipelined", 0, Buffer.from(batch(RECORDS_EACH, { prefix: `q${i}-`, valueSize: VALUE_BYTES })), 1)))
      request.writeInt32BE(i, 8)
      socket.write(request)
    }
    const responses = await readFrames(socket, REQUESTS)
    socket.destroy()
    const after = readBufferCounts()
    expect(after.sharedReused - before.sharedReused).toBeGreaterThanOrEqual(1)
    responses.forEach((frame, n) => {
      const { correlationId, body } = decodeResponse(Produce, PRODUCE_VERSION, frame)
      expect(correlationId).toBe(n)
      expect(body.responses[0].partitionResponses[0].errorCode).toBe(0)
    })
    const reader = await AdminClient.connect(broker.port)
    for (let i = 0; i < REQUESTS; i++) {
      const records = recordsOf(await reader.fetchRecords(fetchRequest({ topic: "pipelined", partition: 0, offset: i * RECORDS_EACH, partitionMaxBytes: 1 })))
      expect(records.map((r) => r.value)).toEqual(Array.from({ length: RECORDS_EACH }, (_, k) => `q${i}-${k}`.padEnd(VALUE_BYTES, ".")))
    }
    reader.close()
  }, 60_000)

  it("a produce request larger than a read slab arrives whole", async () => {
    const admin = await AdminClient.connect(broker.port)
    await admin.createTopics([{ name: "large-requests", partitions: 1, configs: { "max.message.bytes": String(8 * 1024 * 1024) } }])
    // About 2.9 MB each: every one spans three or four 1 MiB slabs and is copied out of them.
    const RECORDS_EACH = 1400
    for (let i = 0; i < 3; i++) {
      await admin.produceChecked(partsPayload(produceParts("large-requests", 0, Buffer.from(batch(RECORDS_EACH, { prefix: `L${i}-`, valueSize: VALUE_BYTES })), 1)))
    }
    for (let i = 0; i < 3; i++) {
      const records = recordsOf(await admin.fetchRecords(fetchRequest({ topic: "large-requests", partition: 0, offset: i * RECORDS_EACH, partitionMaxBytes: 1 })))
      expect(records.map((r) => r.value)).toEqual(Array.from({ length: RECORDS_EACH }, (_, k) => `L${i}-${k}`.padEnd(VALUE_BYTES, ".")))
    }
    admin.close()
  }, 60_000)
})
