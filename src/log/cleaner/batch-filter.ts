/**
 * Rewriting one record batch for compaction (Kafka's MemoryRecords.filterTo with the
 * cleaner's RecordFilter): records are kept or dropped one by one; the surviving records
 * keep their offsets (offset deltas against the unchanged base offset) and the batch keeps
 * its last offset delta, producer id, epoch, base sequence, leader epoch and flags, so
 * offsets and producer sequences stay valid. Compressed batches are decompressed to be
 * filtered and recompressed with their own codec.
 */
import { compressRecords, decompressRecords } from "../compression.ts"
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  type BatchHeader,
  buildRecordBatch,
  COMPRESSION_CODEC_MASK,
  COMPRESSION_NONE,
  CRC_OFFSET,
  computeBatchCrc,
  DELETE_HORIZON_FLAG_MASK,
  LOG_OVERHEAD,
  readBatchHeader,
  readRecords,
  RECORD_BATCH_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  type RecordInput,
  setInt64,
  viewOf
} from "../record-batch.ts"

/** What becomes of a batch none of whose records survive (Kafka's BatchRetention). */
export type EmptyBatchRetention = "delete" | "retain-empty"

export interface RecordDecision {
  /** Whether the record at `offset` with this key and value-nullness survives. */
  readonly retain: (offset: number, key: Uint8Array | null, isTombstone: boolean, header: BatchHeader) => boolean
}

export interface FilterOutcome {
  /** The batch to write: the original bytes (untouched), a rewritten batch, or null (dropped). */
  readonly bytes: Uint8Array | null
  readonly recordsRead: number
  readonly recordsRetained: number
}

/**
 * Kafka's writeEmptyHeader: the header alone, no records, no compression; the base and max
 * timestamps both carry the original max timestamp, the offsets span stays the same.
 */
export const emptyBatchOf = (batch: Uint8Array): Uint8Array => {
  const out = Uint8Array.from(batch.subarray(0, RECORD_BATCH_OVERHEAD))
  const view = viewOf(out)
  const header = readBatchHeader(batch, 0)
  view.setInt32(BATCH_LENGTH_OFFSET, RECORD_BATCH_OVERHEAD - LOG_OVERHEAD)
  view.setInt16(ATTRIBUTES_OFFSET, header.attributes & ~(COMPRESSION_CODEC_MASK | DELETE_HORIZON_FLAG_MASK))
  setInt64(view, BASE_TIMESTAMP_OFFSET, header.maxTimestamp)
  view.setInt32(RECORDS_COUNT_OFFSET, 0)
  view.setUint32(CRC_OFFSET, computeBatchCrc(out, 0, RECORD_BATCH_OVERHEAD))
  return out
}

/** The batch's records section, uncompressed, behind an uncompressed copy of its header. */
export const uncompressedView = (batch: Uint8Array, header: BatchHeader): Uint8Array => {
  if (header.compression === COMPRESSION_NONE) return batch.subarray(0, header.sizeInBytes)
  const records = decompressRecords(header.compression, batch.subarray(RECORD_BATCH_OVERHEAD, header.sizeInBytes))
  const out = new Uint8Array(RECORD_BATCH_OVERHEAD + records.length)
  out.set(batch.subarray(0, RECORD_BATCH_OVERHEAD), 0)
  out.set(records, RECORD_BATCH_OVERHEAD)
  const view = viewOf(out)
  view.setInt16(ATTRIBUTES_OFFSET, header.attributes & ~COMPRESSION_CODEC_MASK)
  view.setInt32(BATCH_LENGTH_OFFSET, out.length - LOG_OVERHEAD)
  return out
}

/** Compresses the records section of an uncompressed batch with `codec`; fixes length, attributes and CRC. */
const recompress = (batch: Uint8Array, codec: number): Uint8Array => {
  if (codec === COMPRESSION_NONE) return batch
  const compressed = compressRecords(codec, batch.subarray(RECORD_BATCH_OVERHEAD))
  const out = new Uint8Array(RECORD_BATCH_OVERHEAD + compressed.length)
  out.set(batch.subarray(0, RECORD_BATCH_OVERHEAD), 0)
  out.set(compressed, RECORD_BATCH_OVERHEAD)
  const view = viewOf(out)
  view.setInt32(BATCH_LENGTH_OFFSET, out.length - LOG_OVERHEAD)
  view.setInt16(ATTRIBUTES_OFFSET, view.getInt16(ATTRIBUTES_OFFSET) | codec)
  view.setUint32(CRC_OFFSET, computeBatchCrc(out, 0, out.length))
  return out
}

/** Longest stretch of the cleaner's synchronous work between two yields. */
export const SLICE_MS = 4

/**
 * Tells a long loop when it has worked SLICE_MS since it last yielded: request handling on
 * the same thread then waits no longer than that for the cleaner.
 */
export class Slicer {
  private end = performance.now() + SLICE_MS
  due(): boolean {
    const now = performance.now()
    if (now < this.end) return false
    this.end = now + SLICE_MS
    return true
  }
}

/**
 * Filters the records of the batch at the start of `batch` (exactly one whole batch).
 * `deleteHorizonMs`: the horizon to stamp (DELETE_HORIZON_FLAG) on a batch that keeps a
 * tombstone, or is a removable transaction marker (`removableMarker`), and has none yet —
 * Kafka's currentTime + delete.retention.ms.
 */
export const filterBatch = (
  batch: Uint8Array,
  decision: RecordDecision,
  emptyRetention: EmptyBatchRetention,
  deleteHorizonMs: number,
  removableMarker = false
): FilterOutcome => {
  const steps = filterBatchSteps(batch, decision, emptyRetention, deleteHorizonMs, undefined, removableMarker)
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
  }
}

/** filterBatch as a generator that yields (0) whenever `slicer` says its slice is used up. */
export function* filterBatchSteps(
  batch: Uint8Array,
  decision: RecordDecision,
  emptyRetention: EmptyBatchRetention,
  deleteHorizonMs: number,
  slicer?: Slicer,
  removableMarker = false
): Generator<number, FilterOutcome> {
  const header = readBatchHeader(batch, 0)
  const plain = uncompressedView(batch, header)
  const retained: Array<RecordInput> = []
  let read = 0
  let tombstones = false
  for (const record of readRecords(plain)) {
    read++
    if (slicer !== undefined && (read & 63) === 0 && slicer.due()) yield 0
    const tombstone = record.value === null
    if (!decision.retain(record.offset, record.key, tombstone, header)) continue
    if (tombstone) tombstones = true
    retained.push({
      key: record.key,
      value: record.value,
      headers: record.headers,
      timestamp: record.timestamp,
      offsetDelta: record.offset - header.baseOffset
    })
  }
  if (retained.length === 0) {
    return { bytes: emptyRetention === "retain-empty" ? emptyBatchOf(batch) : null, recordsRead: read, recordsRetained: 0 }
  }
  const needHorizon = (tombstones || removableMarker) && !header.hasDeleteHorizonMs
  if (retained.length === read && !needHorizon) {
    return { bytes: batch.subarray(0, header.sizeInBytes), recordsRead: read, recordsRetained: read }
  }
  const rebuilt = buildRecordBatch({
    baseOffset: header.baseOffset,
    records: retained,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    isTransactional: header.isTransactional,
    isControl: header.isControl,
    timestampType: header.timestampType,
    lastOffsetDelta: header.lastOffsetDelta,
    ...(needHorizon ? { deleteHorizonMs } : header.hasDeleteHorizonMs ? { deleteHorizonMs: header.baseTimestamp } : {})
  })
  return { bytes: recompress(rebuilt, header.compression), recordsRead: read, recordsRetained: retained.length }
}
