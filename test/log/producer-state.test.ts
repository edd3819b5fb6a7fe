import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { encodeTxnMarkerBatch } from "../../src/log/control-records.ts"
import { defaultLogConfig, type LogConfig, PartitionLog } from "../../src/log/partition-log.ts"
import {
  decodeProducerSnapshot,
  encodeProducerSnapshot,
  ProducerStateEntry,
  ProducerStateError,
  ProducerStateManager,
  snapshotFileName
} from "../../src/log/producer-state.ts"
import { buildRecordBatch, readBatchHeader } from "../../src/log/record-batch.ts"
import { ABORTED_TXN_ENTRY_SIZE, decodeAbortedTxns } from "../../src/log/transaction-index.ts"
import { type FileIoShape, nodeFileIo } from "../../src/storage/FileIo.ts"
import { batchOf, makeTempDir, referenceCrc32c, removeTempDirs } from "./helpers.ts"

afterEach(removeTempDirs)

const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"
const config = (over: Partial<LogConfig> = {}): LogConfig => ({ ...defaultLogConfig, ...over })
const newLog = (over: Partial<LogConfig> = {}, producerIdExpirationMs?: number): PartitionLog =>
  PartitionLog.create(makeTempDir(), "orders", 0, TOPIC_ID, config(over), 0, producerIdExpirationMs)

/** Reopens after close() (clean) or without it (a crash: nothing closed, no shutdown snapshot). */
const reopen = (log: PartitionLog, clean: boolean, now = 0): PartitionLog =>
  PartitionLog.open(log.dir, log.config, { now, cleanShutdown: clean, ...(clean ? {} : { recoveryPoint: 0 }) })

const idempotent = (producerId: number, epoch: number, seq: number, count = 1, isTransactional = false, timestamp = 1000) =>
  buildRecordBatch({
    records: Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `p${producerId}-${seq + i}`, timestamp: timestamp + i })),
    producerId,
    producerEpoch: epoch,
    baseSequence: seq,
    isTransactional
  })

const marker = (producerId: number, epoch: number, commit: boolean, coordinatorEpoch = 0) =>
  encodeTxnMarkerBatch({ producerId, producerEpoch: epoch, coordinatorEpoch, commit }, 2000)

const rejection = (f: () => unknown): string => {
  try {
    f()
  } catch (e) {
    if (e instanceof ProducerStateError) return e.errorName
    throw e
  }
  return "accepted"
}

/** Batch base offsets and producer ids of everything readable up to `maxOffset`. */
const batchesIn = (log: PartitionLog, maxOffset?: number): Array<[number, number]> => {
  const data = log.read(log.logStartOffset, 1 << 20, true, maxOffset).records
  const out: Array<[number, number]> = []
  for (let pos = 0; pos < data.length;) {
    const h = readBatchHeader(data, pos)
    out.push([h.baseOffset, h.producerId])
    pos += h.sizeInBytes
  }
  return out
}

describe("producer snapshot files", () => {
  it("match Kafka's ProducerSnapshot v1 layout, built independently", () => {
    // version int16 = 1, crc uint32 (CRC-32C of the rest), entries int32 count, then per
    // entry: producerId int64, epoch int16, lastSequence int32, lastOffset int64,
    // offsetDelta int32, timestamp int64, coordinatorEpoch int32, currentTxnFirstOffset int64.
    const body = Buffer.alloc(4 + 2 * 46)
    body.writeInt32BE(2, 0)
    let p = 4
    for (const [pid, epoch, lastSeq, lastOffset, delta, ts, coordEpoch, txnFirst] of [
      [1000, 3, 41, 99, 4, 1_700_000_000_123, -1, -1],
      [2001, 0, -1, -1, 0, 1_700_000_000_456, 5, 120]
    ] as const) {
      body.writeBigInt64BE(BigInt(pid), p)
      body.writeInt16BE(epoch, p + 8)
      body.writeInt32BE(lastSeq, p + 10)
      body.writeBigInt64BE(BigInt(lastOffset), p + 14)
      body.writeInt32BE(delta, p + 22)
      body.writeBigInt64BE(BigInt(ts), p + 26)
      body.writeInt32BE(coordEpoch, p + 34)
      body.writeBigInt64BE(BigInt(txnFirst), p + 38)
      p += 46
    }
    const header = Buffer.alloc(6)
    header.writeInt16BE(1, 0)
    header.writeUInt32BE(referenceCrc32c(body), 2)
    const kafkaBytes = Uint8Array.from(Buffer.concat([header, body]))

    const entries = decodeProducerSnapshot(kafkaBytes)
    expect(entries.map((e) => [e.producerId, e.producerEpoch, e.lastSeq, e.lastDataOffset, e.lastOffsetDelta, e.lastTimestamp, e.coordinatorEpoch, e.currentTxnFirstOffset])).toEqual([
      [1000, 3, 41, 99, 4, 1_700_000_000_123, -1, -1],
      [2001, 0, -1, -1, 0, 1_700_000_000_456, 5, 120]
    ])
    expect(entries[0]!.firstSeq).toBe(37)
    // Our encoder writes exactly those bytes.
    expect(encodeProducerSnapshot(entries)).toEqual(kafkaBytes)

    const corrupt = Uint8Array.from(kafkaBytes)
    corrupt[20] = corrupt[20]! ^ 1
    expect(() => decodeProducerSnapshot(corrupt)).toThrow(/CRC/)
    const wrongVersion = Uint8Array.from(kafkaBytes)
    wrongVersion[1] = 2
    expect(() => decodeProducerSnapshot(wrongVersion)).toThrow(/version/)
  })

  it("round-trip an entry keeping only its last batch, as Kafka does", () => {
    const entry = new ProducerStateEntry(7, 2, 1, 50, -1)
    entry.addBatch(2, 9, 19, 9, 40)
    entry.addBatch(2, 14, 24, 4, 50)
    const [back] = decodeProducerSnapshot(encodeProducerSnapshot([entry]))
    expect([back!.producerId, back!.producerEpoch, back!.firstSeq, back!.lastSeq, back!.lastDataOffset, back!.lastTimestamp]).toEqual([7, 2, 10, 14, 24, 50])
  })
})

describe("producer state in the partition log", () => {
  it("answers a retry of any of the last five batches with its offsets and writes nothing", () => {
    const log = newLog()
    log.append(batchOf(2, 0), { now: 0 })
    const offsets: Array<number> = []
    for (let seq = 0; seq < 12; seq += 2) offsets.push(log.append(idempotent(5, 0, seq, 2), { now: 0 }).baseOffset)
    expect(offsets).toEqual([2, 4, 6, 8, 10, 12])
    const end = log.logEndOffset
    // The last five (seq 2..11) are remembered; the oldest (seq 0-1) is not any more.
    for (const [seq, offset] of [[2, 4], [6, 8], [10, 12]] as const) {
      const again = log.append(idempotent(5, 0, seq, 2), { now: 0 })
      expect([again.baseOffset, again.duplicate, again.recordCount]).toEqual([offset, true, 0])
    }
    expect(log.logEndOffset).toBe(end)
    expect(rejection(() => log.append(idempotent(5, 0, 0, 2), { now: 0 }))).toBe("OUT_OF_ORDER_SEQUENCE_NUMBER")
    expect(log.logEndOffset).toBe(end)
    log.close()
  })

  it("checks epochs and sequences as Kafka's ProducerAppendInfo", () => {
    const log = newLog()
    log.append(idempotent(1, 3, 0, 3), { now: 0 })
    expect(rejection(() => log.append(idempotent(1, 3, 4), { now: 0 }))).toBe("OUT_OF_ORDER_SEQUENCE_NUMBER")
    expect(rejection(() => log.append(idempotent(1, 2, 3), { now: 0 }))).toBe("INVALID_PRODUCER_EPOCH")
    expect(rejection(() => log.append(idempotent(1, 4, 1), { now: 0 }))).toBe("OUT_OF_ORDER_SEQUENCE_NUMBER")
    expect(rejection(() => log.append(idempotent(1, 4, 0), { now: 0 }))).toBe("accepted")
    // Sequences wrap from Integer.MAX_VALUE to 0.
    expect(rejection(() => log.append(idempotent(2, 0, 0x7ffffffe, 2), { now: 0 }))).toBe("accepted")
    expect(rejection(() => log.append(idempotent(2, 0, 0), { now: 0 }))).toBe("accepted")
    // Coordinator writes are not sequence-checked, only epoch-checked.
    expect(rejection(() => log.append(idempotent(1, 4, 77), { now: 0, origin: "coordinator" }))).toBe("accepted")
    expect(rejection(() => log.append(idempotent(1, 3, 78), { now: 0, origin: "coordinator" }))).toBe("INVALID_PRODUCER_EPOCH")
    // A marker from an older coordinator epoch is fenced.
    log.append(marker(1, 4, true, 3), { now: 0, origin: "coordinator" })
    expect(rejection(() => log.append(marker(1, 4, true, 2), { now: 0, origin: "coordinator" }))).toBe("TRANSACTION_COORDINATOR_FENCED")
    log.close()
  })

  it("survives a clean restart and a crash: retries after either are still deduplicated", () => {
    const log = newLog({ segmentBytes: 400 })
    let seq = 0
    const written: Array<number> = []
    for (let i = 0; i < 8; i++) {
      written.push(log.append(idempotent(11, 0, seq, 3), { now: 0 }).baseOffset)
      seq += 3
    }
    expect(log.numberOfSegments).toBeGreaterThan(2)
    // A snapshot at each roll, named after the new segment's base offset.
    const snapshots = () => fs.readdirSync(log.dir).filter((n) => n.endsWith(".snapshot")).sort()
    expect(snapshots()).toEqual(log.segmentBaseOffsets().slice(1).map(snapshotFileName))
    log.close()
    expect(snapshots().at(-1)).toBe(snapshotFileName(24))

    const clean = reopen(log, true)
    expect(clean.append(idempotent(11, 0, 21, 3), { now: 0 }).baseOffset).toBe(written[7])
    clean.append(idempotent(11, 0, 24, 3), { now: 0 })
    // Crash: no close, so no snapshot at the end; the tail after the last one is replayed.
    const crashed = reopen(clean, false)
    expect(crashed.append(idempotent(11, 0, 24, 3), { now: 0 })).toMatchObject({ baseOffset: 24, duplicate: true })
    expect(rejection(() => crashed.append(idempotent(11, 0, 28), { now: 0 }))).toBe("OUT_OF_ORDER_SEQUENCE_NUMBER")
    expect(crashed.append(idempotent(11, 0, 27), { now: 0 }).baseOffset).toBe(27)

    // A corrupt latest snapshot is dropped and the one before it used.
    crashed.close()
    const latest = path.join(crashed.dir, snapshots().at(-1)!)
    fs.writeFileSync(latest, "garbage")
    const again = reopen(crashed, true)
    expect(again.openWarnings.some((w) => w.includes("snapshot"))).toBe(true)
    expect(again.append(idempotent(11, 0, 27), { now: 0 })).toMatchObject({ baseOffset: 27, duplicate: true })
    again.close()
  })

  describe("stray snapshots (Kafka's removeStraySnapshots)", () => {
    const snapshotOffsetsIn = (dir: string) =>
      fs.readdirSync(dir).filter((n) => n.endsWith(".snapshot")).map((n) => Number(n.slice(0, 20))).sort((a, b) => a - b)
    const withSnapshots = (offsets: ReadonlyArray<number>) => {
      const dir = makeTempDir()
      for (const o of offsets) fs.writeFileSync(path.join(dir, snapshotFileName(o)), "")
      return new ProducerStateManager(dir, "orders-0")
    }

    it("keeps the latest stray snapshot when it lies past the last segment's base offset (a clean shutdown's)", () => {
      const state = withSnapshots([5, 2, 42])
      state.removeStraySnapshots([5])
      expect(snapshotOffsetsIn(state.dir)).toEqual([5, 42])
      expect(state.snapshotOffsets()).toEqual([5, 42])
    })

    it("removes every stray snapshot below the last segment's base offset", () => {
      const state = withSnapshots([5, 2, 42])
      state.removeStraySnapshots([42])
      expect(snapshotOffsetsIn(state.dir)).toEqual([42])
      expect(state.latestSnapshotOffset).toBe(42)
    })

    it("keeps a partition's rolls' snapshots and its last shutdown's, not one more per clean restart", () => {
      let log = newLog({ segmentBytes: 400 })
      let seq = 0
      for (let restart = 0; restart < 6; restart++) {
        log.append(idempotent(11, 0, seq, 3), { now: 0 })
        seq += 3
        log.close()
        log = reopen(log, true)
      }
      const rolls = log.segmentBaseOffsets().slice(1)
      expect(rolls.length).toBeGreaterThan(0)
      expect(snapshotOffsetsIn(log.dir)).toEqual([...rolls, log.logEndOffset])
      // The state the kept snapshots hold is the producer's: its next batch follows on.
      expect(log.append(idempotent(11, 0, seq - 3, 3), { now: 0 })).toMatchObject({ duplicate: true })
      expect(log.append(idempotent(11, 0, seq, 3), { now: 0 }).baseOffset).toBe(log.logEndOffset - 3)
      log.close()
    })
  })

  it("expires idle producers after producer.id.expiration.ms, never one with an open transaction", () => {
    const log = newLog({}, 1000)
    log.append(idempotent(1, 0, 0, 1, false, 5000), { now: 0 })
    log.append(idempotent(2, 0, 0, 1, true, 5000), { now: 0 })
    expect(log.removeExpiredProducers(5999)).toBe(0)
    expect(log.removeExpiredProducers(6000)).toBe(1)
    expect(log.activeProducers().map((p) => [p.producerId, p.currentTxnStartOffset])).toEqual([[2, 1]])
    // Forgotten: its next batch may carry any sequence.
    expect(rejection(() => log.append(idempotent(1, 0, 9), { now: 0 }))).toBe("accepted")
    log.close()
  })
})

describe("transactions in the log", () => {
  it("hold the last stable offset at the oldest open transaction; aborts go to the .txnindex", () => {
    const log = newLog()
    log.append(batchOf(1, 0), { now: 0 }) // 0
    log.append(idempotent(100, 0, 0, 2, true), { now: 0 }) // 1-2, txn A opens at 1
    expect([log.lastStableOffset, log.highWatermark]).toEqual([1, 3])
    log.append(idempotent(200, 0, 0, 1, true), { now: 0 }) // 3, txn B opens at 3
    log.append(batchOf(1, 0), { now: 0 }) // 4
    log.append(idempotent(100, 0, 2, 1, true), { now: 0 }) // 5
    // A client may not write markers.
    expect(() => log.append(marker(100, 0, false), { now: 0 })).toThrow(/control/)
    log.append(marker(100, 0, false), { now: 0, origin: "coordinator" }) // 6 aborts A
    expect(log.lastStableOffset).toBe(3)
    log.append(marker(200, 0, true), { now: 0, origin: "coordinator" }) // 7 commits B
    expect(log.lastStableOffset).toBe(8)
    expect(log.activeProducers().map((p) => p.currentTxnStartOffset)).toEqual([-1, -1])

    // Only A's abort is indexed: its last stable offset was B's first offset.
    const file = path.join(log.dir, "00000000000000000000.txnindex")
    const bytes = fs.readFileSync(file)
    expect(bytes.length).toBe(ABORTED_TXN_ENTRY_SIZE)
    expect(decodeAbortedTxns(bytes)).toEqual([{ producerId: 100, firstOffset: 1, lastOffset: 6, lastStableOffset: 3 }])
    expect(log.collectAbortedTransactions(0, 8)).toEqual([{ producerId: 100, firstOffset: 1, lastOffset: 6, lastStableOffset: 3 }])
    expect(log.collectAbortedTransactions(7, 8)).toEqual([])
    log.close()
  })

  it("read_committed reads stop at the last stable offset", () => {
    const log = newLog()
    log.append(batchOf(2, 0), { now: 0 }) // 0-1
    log.append(idempotent(300, 0, 0, 2, true), { now: 0 }) // 2-3 open
    log.append(batchOf(1, 0), { now: 0 }) // 4
    expect(batchesIn(log, log.lastStableOffset)).toEqual([[0, -1]])
    expect(batchesIn(log)).toEqual([[0, -1], [2, 300], [4, -1]])
    log.append(marker(300, 0, true), { now: 0, origin: "coordinator" }) // 5
    expect(batchesIn(log, log.lastStableOffset)).toEqual([[0, -1], [2, 300], [4, -1], [5, 300]])
    log.close()
  })

  it("rebuild open transactions and the .txnindex at recovery", () => {
    const log = newLog({ segmentBytes: 300 })
    log.append(idempotent(400, 0, 0, 2, true), { now: 0 }) // 0-1 txn opens
    log.append(marker(400, 0, false), { now: 0, origin: "coordinator" }) // abort
    log.append(idempotent(400, 0, 2, 1, true), { now: 0 }) // next txn opens
    const lso = log.lastStableOffset
    const aborted = log.collectAbortedTransactions(0, log.logEndOffset)
    expect(aborted).toHaveLength(1)
    const dir = log.dir
    // Crash, and the txnindex files are lost too.
    for (const name of fs.readdirSync(dir)) if (name.endsWith(".txnindex") || name.endsWith(".snapshot")) fs.rmSync(path.join(dir, name))
    const recovered = reopen(log, false)
    expect(recovered.lastStableOffset).toBe(lso)
    expect(recovered.collectAbortedTransactions(0, recovered.logEndOffset)).toEqual(aborted)
    expect(fs.readdirSync(dir).filter((n) => n.endsWith(".txnindex"))).toHaveLength(1)
    recovered.close()
  })
})

describe("appendMany (a connection's requests appended together)", () => {
  /** node:fs with the write calls counted, and a write failure to switch on. */
  const countingIo = () => {
    const calls = { write: 0, writev: 0, fsync: 0 }
    let failWrites = false
    const eio = () => Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" })
    const io: FileIoShape = {
      ...nodeFileIo,
      writeSync: ((...args: Parameters<typeof fs.writeSync>) => {
        calls.write++
        if (failWrites) throw eio()
        return (fs.writeSync as (...a: Parameters<typeof fs.writeSync>) => number)(...args)
      }) as typeof fs.writeSync,
      writevSync: ((...args: Parameters<typeof fs.writevSync>) => {
        calls.writev++
        if (failWrites) throw eio()
        return fs.writevSync(...args)
      }) as typeof fs.writevSync,
      fsyncSync: (fd) => {
        calls.fsync++
        fs.fsyncSync(fd)
      }
    }
    return { io, calls, failWrites: () => (failWrites = true) }
  }
  const logWith = (io: FileIoShape, over: Partial<LogConfig> = {}) =>
    PartitionLog.create(makeTempDir(), "orders", 0, TOPIC_ID, config(over), 0, undefined, io)
  const entry = (bytes: Uint8Array) => ({ bytes, options: { now: 0 } })

  it("answers each batch as appends one after the other would, and writes them in one call", () => {
    const { io, calls } = countingIo()
    const log = logWith(io)
    log.append(idempotent(7, 0, 0, 2), { now: 0 })
    const before = { ...calls }
    const results = log.appendMany([
      entry(idempotent(7, 0, 2, 3)),
      entry(idempotent(7, 0, 0, 2)), // a retry of the batch already written: its first offsets, nothing written
      entry(idempotent(7, 0, 9, 1)), // a gap: refused, the others stand
      entry(idempotent(7, 0, 5, 1)),
      entry(batchOf(2, 1000))
    ])
    expect(results[0]).toMatchObject({ baseOffset: 2, lastOffset: 4 })
    expect(results[1]).toMatchObject({ baseOffset: 0, duplicate: true })
    expect((results[2] as ProducerStateError).errorName).toBe("OUT_OF_ORDER_SEQUENCE_NUMBER")
    expect(results[3]).toMatchObject({ baseOffset: 5, lastOffset: 5 })
    expect(results[4]).toMatchObject({ baseOffset: 6, lastOffset: 7 })
    expect(calls.writev - before.writev + calls.write - before.write).toBe(1)
    expect(log.logEndOffset).toBe(8)
    // On disk exactly what sequential appends leave: a crash-reopen finds every batch.
    const reopened = reopen(log, false)
    expect(reopened.logEndOffset).toBe(8)
    expect(reopened.append(idempotent(7, 0, 2, 3), { now: 0 })).toMatchObject({ baseOffset: 2, duplicate: true })
    reopened.close()
  })

  it("keeps every batch when the group rolls a segment midway", () => {
    const { io } = countingIo()
    const one = batchOf(1, 1000)
    const log = logWith(io, { segmentBytes: 3 * one.length })
    const results = log.appendMany(Array.from({ length: 7 }, (_, i) => entry(batchOf(1, 1000 + i))))
    expect(results.map((r) => (r as { baseOffset: number }).baseOffset)).toEqual([0, 1, 2, 3, 4, 5, 6])
    const reopened = reopen(log, false)
    expect(reopened.logEndOffset).toBe(7)
    for (let offset = 0; offset < 7; offset++) expect(reopened.read(offset, 1 << 20, true).records.length).toBeGreaterThan(0)
    reopened.close()
  })

  it("flushes once for the group under flush.messages=1, after the write", () => {
    const { io, calls } = countingIo()
    const log = logWith(io, { flushIntervalMessages: 1 })
    log.append(batchOf(1, 999), { now: 0 })
    const fsyncs = calls.fsync
    log.appendMany([entry(batchOf(1, 1000)), entry(batchOf(1, 1001)), entry(batchOf(1, 1002))])
    // The log file only: recovery rebuilds the active segment's indexes.
    expect(calls.fsync - fsyncs).toBe(1)
    expect(log.recoveryPoint).toBe(4)
    log.close()
  })

  it("fails every batch not yet written when the write fails, and takes the log offline", () => {
    const { io, failWrites } = countingIo()
    const log = logWith(io)
    log.append(batchOf(1, 1000), { now: 0 })
    failWrites()
    const results = log.appendMany([entry(batchOf(1, 1001)), entry(batchOf(2, 1002))])
    for (const r of results) expect((r as NodeJS.ErrnoException).code).toBe("EIO")
    expect(log.isOffline).toBe(true)
    expect(fs.statSync(path.join(log.dir, "00000000000000000000.log")).size).toBe(batchOf(1, 1000).length)
  })
})
