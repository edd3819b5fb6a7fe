import { uncompressedView } from "../../../src/log/cleaner/batch-filter.ts"
import { compressRecords } from "../../../src/log/compression.ts"
import { defaultLogConfig, type LogConfig, PartitionLog } from "../../../src/log/partition-log.ts"
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  buildRecordBatch,
  type BuildRecordBatchOptions,
  computeBatchCrc,
  CRC_OFFSET,
  LOG_OVERHEAD,
  readBatchHeader,
  readRecords,
  RECORD_BATCH_OVERHEAD,
  viewOf
} from "../../../src/log/record-batch.ts"
import { makeTempDir } from "../helpers.ts"

export const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"

export const compactedConfig = (overrides: Partial<LogConfig> = {}): LogConfig => ({
  ...defaultLogConfig,
  segmentBytes: 8192,
  indexIntervalBytes: 256,
  cleanupPolicy: ["compact"],
  minCleanableDirtyRatio: 0.01,
  ...overrides
})

export const newLog = (overrides: Partial<LogConfig> = {}, logDir = makeTempDir(), topic = "compacted"): PartitionLog =>
  PartitionLog.create(logDir, topic, 0, TOPIC_ID, compactedConfig(overrides), 0)

/** A batch built by buildRecordBatch, then compressed with `codec` (as a producer would). */
export const compressedBatch = (codec: number, options: BuildRecordBatchOptions): Uint8Array => {
  const plain = buildRecordBatch(options)
  if (codec === 0) return plain
  const body = compressRecords(codec, plain.subarray(RECORD_BATCH_OVERHEAD))
  const out = new Uint8Array(RECORD_BATCH_OVERHEAD + body.length)
  out.set(plain.subarray(0, RECORD_BATCH_OVERHEAD))
  out.set(body, RECORD_BATCH_OVERHEAD)
  const view = viewOf(out)
  view.setInt32(BATCH_LENGTH_OFFSET, out.length - LOG_OVERHEAD)
  view.setInt16(ATTRIBUTES_OFFSET, view.getInt16(ATTRIBUTES_OFFSET) | codec)
  view.setUint32(CRC_OFFSET, computeBatchCrc(out, 0, out.length))
  return out
}

export interface ReadRecord {
  readonly offset: number
  readonly key: string | null
  readonly value: string | null
  readonly timestamp: number
}

export interface ReadBatch {
  readonly baseOffset: number
  readonly lastOffset: number
  readonly count: number
  readonly compression: number
  readonly hasDeleteHorizon: boolean
  readonly producerId: number
  readonly isControl: boolean
}

/** Every batch and record of the log from its start, read through PartitionLog.read. */
export const readAll = (log: PartitionLog): { records: Array<ReadRecord>; batches: Array<ReadBatch> } => {
  const records: Array<ReadRecord> = []
  const batches: Array<ReadBatch> = []
  let offset = log.logStartOffset
  for (let guard = 0; guard < 1_000_000 && offset < log.highWatermark; guard++) {
    const data = log.read(offset, 1 << 20, true)
    if (data.records.length === 0) break
    let pos = 0
    while (pos + RECORD_BATCH_OVERHEAD <= data.records.length) {
      const header = readBatchHeader(data.records, pos)
      if (pos + header.sizeInBytes > data.records.length) break
      const batch = data.records.subarray(pos, pos + header.sizeInBytes)
      batches.push({
        baseOffset: header.baseOffset,
        lastOffset: header.lastOffset,
        count: header.recordsCount,
        compression: header.compression,
        hasDeleteHorizon: header.hasDeleteHorizonMs,
        producerId: header.producerId,
        isControl: header.isControl
      })
      // Transaction markers are batches here, not records.
      if (!header.isControl) for (const r of readRecords(uncompressedView(batch, header))) {
        if (r.offset < offset) continue
        records.push({
          offset: r.offset,
          key: r.key === null ? null : Buffer.from(r.key).toString(),
          value: r.value === null ? null : Buffer.from(r.value).toString(),
          timestamp: r.timestamp
        })
      }
      offset = header.lastOffset + 1
      pos += header.sizeInBytes
    }
  }
  return { records, batches }
}

/** key → latest value (null for a tombstone) over a list of records in offset order. */
export const latestByKey = (records: ReadonlyArray<ReadRecord>): Map<string, string | null> => {
  const out = new Map<string, string | null>()
  for (const r of records) if (r.key !== null) out.set(r.key, r.value)
  return out
}

/** Appends `rounds` updates of `keys` keys, one record per batch, values "<key>@<i>". */
export const writeUpdates = (log: PartitionLog, keys: number, updates: number, startTs = 1_000): void => {
  for (let i = 0; i < updates; i++) {
    const key = `key-${i % keys}`
    log.append(buildRecordBatch({ records: [{ key, value: `${key}@${i}`, timestamp: startTs + i }] }), { now: startTs + i })
  }
}
