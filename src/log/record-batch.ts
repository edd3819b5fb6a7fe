/**
 * Kafka record batches, message format v2 (magic 2): validation of produce payloads,
 * in-place offset assignment, a builder for uncompressed batches and a record reader.
 *
 * Everything here is a plain function over Uint8Array: it runs once per batch on the
 * produce path and during log recovery, so it avoids BigInt and per-record objects.
 * Offsets and timestamps are JavaScript numbers (exact up to 2^53, far beyond what a
 * partition or a millisecond clock reaches).
 */
import { crc32c } from "./crc32c.ts"

// ---------------------------------------------------------------------------------------
// Layout of the v2 batch header (byte offsets from the start of the batch)
// ---------------------------------------------------------------------------------------

export const BASE_OFFSET_OFFSET = 0
export const BATCH_LENGTH_OFFSET = 8
export const PARTITION_LEADER_EPOCH_OFFSET = 12
export const MAGIC_OFFSET = 16
export const CRC_OFFSET = 17
export const ATTRIBUTES_OFFSET = 21
export const LAST_OFFSET_DELTA_OFFSET = 23
export const BASE_TIMESTAMP_OFFSET = 27
export const MAX_TIMESTAMP_OFFSET = 35
export const PRODUCER_ID_OFFSET = 43
export const PRODUCER_EPOCH_OFFSET = 51
export const BASE_SEQUENCE_OFFSET = 53
export const RECORDS_COUNT_OFFSET = 57
/** Size of the fixed v2 header; records follow. */
export const RECORD_BATCH_OVERHEAD = 61
/** baseOffset + batchLength: the part of every batch that is not counted by batchLength. */
export const LOG_OVERHEAD = 12
/** Bytes needed to read baseOffset, batchLength, partitionLeaderEpoch and magic. */
export const HEADER_SIZE_UP_TO_MAGIC = 17

export const MAGIC_V2 = 2
export const NO_TIMESTAMP = -1
export const NO_PRODUCER_ID = -1
export const NO_PRODUCER_EPOCH = -1
export const NO_SEQUENCE = -1
export const NO_PARTITION_LEADER_EPOCH = -1

export const COMPRESSION_CODEC_MASK = 0x07
export const TIMESTAMP_TYPE_MASK = 0x08
export const TRANSACTIONAL_FLAG_MASK = 0x10
export const CONTROL_FLAG_MASK = 0x20
export const DELETE_HORIZON_FLAG_MASK = 0x40

export const COMPRESSION_NONE = 0
export const COMPRESSION_GZIP = 1
export const COMPRESSION_SNAPPY = 2
export const COMPRESSION_LZ4 = 3
export const COMPRESSION_ZSTD = 4

export type TimestampType = "CreateTime" | "LogAppendTime"

// ---------------------------------------------------------------------------------------
// int64 as number, without BigInt
// ---------------------------------------------------------------------------------------

const TWO_POW_32 = 4294967296

export const getInt64 = (view: DataView, pos: number): number =>
  view.getInt32(pos) * TWO_POW_32 + view.getUint32(pos + 4)

export const setInt64 = (view: DataView, pos: number, value: number): void => {
  const hi = Math.floor(value / TWO_POW_32)
  view.setInt32(pos, hi)
  view.setUint32(pos + 4, value - hi * TWO_POW_32)
}

export const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

// ---------------------------------------------------------------------------------------
// Header accessors (positions are absolute within `view`)
// ---------------------------------------------------------------------------------------

export const batchSizeAt = (view: DataView, pos: number): number => view.getInt32(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD
export const baseOffsetAt = (view: DataView, pos: number): number => getInt64(view, pos + BASE_OFFSET_OFFSET)
export const lastOffsetDeltaAt = (view: DataView, pos: number): number => view.getInt32(pos + LAST_OFFSET_DELTA_OFFSET)
export const lastOffsetAt = (view: DataView, pos: number): number => baseOffsetAt(view, pos) + lastOffsetDeltaAt(view, pos)
export const maxTimestampAt = (view: DataView, pos: number): number => getInt64(view, pos + MAX_TIMESTAMP_OFFSET)
export const baseTimestampAt = (view: DataView, pos: number): number => getInt64(view, pos + BASE_TIMESTAMP_OFFSET)
export const attributesAt = (view: DataView, pos: number): number => view.getInt16(pos + ATTRIBUTES_OFFSET)

/** CRC-32C of a batch as Kafka defines it: from the attributes field to the end of the batch. */
export const computeBatchCrc = (bytes: Uint8Array, pos: number, size: number): number =>
  crc32c(bytes.subarray(pos + ATTRIBUTES_OFFSET, pos + size)) >>> 0

export const isBatchCrcValid = (bytes: Uint8Array, view: DataView, pos: number, size: number): boolean =>
  view.getUint32(pos + CRC_OFFSET) === computeBatchCrc(bytes, pos, size)

export const writeBatchCrc = (bytes: Uint8Array, pos: number): void => {
  const view = viewOf(bytes)
  view.setUint32(pos + CRC_OFFSET, computeBatchCrc(bytes, pos, batchSizeAt(view, pos)))
}

export interface BatchHeader {
  readonly baseOffset: number
  readonly batchLength: number
  readonly sizeInBytes: number
  readonly partitionLeaderEpoch: number
  readonly magic: number
  readonly crc: number
  readonly attributes: number
  readonly compression: number
  readonly timestampType: TimestampType
  readonly isTransactional: boolean
  readonly isControl: boolean
  readonly hasDeleteHorizonMs: boolean
  readonly lastOffsetDelta: number
  readonly lastOffset: number
  readonly baseTimestamp: number
  readonly maxTimestamp: number
  readonly producerId: number
  readonly producerEpoch: number
  readonly baseSequence: number
  readonly recordsCount: number
}

/** Decodes the fixed header of the v2 batch at `pos`. Does not check the CRC or the length. */
export const readBatchHeader = (bytes: Uint8Array, pos = 0): BatchHeader => {
  if (pos + RECORD_BATCH_OVERHEAD > bytes.length) throw new RangeError(`record batch header truncated at ${pos}`)
  const view = viewOf(bytes)
  const attributes = view.getInt16(pos + ATTRIBUTES_OFFSET)
  const baseOffset = baseOffsetAt(view, pos)
  const lastOffsetDelta = view.getInt32(pos + LAST_OFFSET_DELTA_OFFSET)
  const batchLength = view.getInt32(pos + BATCH_LENGTH_OFFSET)
  return {
    baseOffset,
    batchLength,
    sizeInBytes: batchLength + LOG_OVERHEAD,
    partitionLeaderEpoch: view.getInt32(pos + PARTITION_LEADER_EPOCH_OFFSET),
    magic: view.getInt8(pos + MAGIC_OFFSET),
    crc: view.getUint32(pos + CRC_OFFSET),
    attributes,
    compression: attributes & COMPRESSION_CODEC_MASK,
    timestampType: (attributes & TIMESTAMP_TYPE_MASK) !== 0 ? "LogAppendTime" : "CreateTime",
    isTransactional: (attributes & TRANSACTIONAL_FLAG_MASK) !== 0,
    isControl: (attributes & CONTROL_FLAG_MASK) !== 0,
    hasDeleteHorizonMs: (attributes & DELETE_HORIZON_FLAG_MASK) !== 0,
    lastOffsetDelta,
    lastOffset: baseOffset + lastOffsetDelta,
    baseTimestamp: getInt64(view, pos + BASE_TIMESTAMP_OFFSET),
    maxTimestamp: getInt64(view, pos + MAX_TIMESTAMP_OFFSET),
    producerId: getInt64(view, pos + PRODUCER_ID_OFFSET),
    producerEpoch: view.getInt16(pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: view.getInt32(pos + BASE_SEQUENCE_OFFSET),
    recordsCount: view.getInt32(pos + RECORDS_COUNT_OFFSET)
  }
}

// ---------------------------------------------------------------------------------------
// Varint decoding for record bodies. A module-level cursor keeps the per-record loop free
// of allocations; it is only valid within one synchronous call.
// ---------------------------------------------------------------------------------------

class RecordFormatError extends Error {}

let cursor = 0

const readVarint = (buf: Uint8Array, end: number): number => {
  let result = 0
  for (let shift = 0; shift < 35; shift += 7) {
    if (cursor >= end) throw new RecordFormatError("record truncated inside a varint")
    const b = buf[cursor++]!
    result |= (b & 0x7f) << shift
    if ((b & 0x80) === 0) {
      const u = result >>> 0
      return (u >>> 1) ^ -(u & 1)
    }
  }
  throw new RecordFormatError("varint longer than 5 bytes")
}

const readVarlong = (buf: Uint8Array, end: number): number => {
  // A float accumulator avoids BigInt per record; it is exact up to 2^53, far beyond any
  // real timestamp delta.
  let result = 0
  let multiplier = 1
  for (let i = 0; i < 10; i++) {
    if (cursor >= end) throw new RecordFormatError("record truncated inside a varlong")
    const b = buf[cursor++]!
    result += (b & 0x7f) * multiplier
    if ((b & 0x80) === 0) {
      // zigzag: even -> n/2, odd -> -(n+1)/2
      return result % 2 === 0 ? result / 2 : -(result + 1) / 2
    }
    multiplier *= 128
  }
  throw new RecordFormatError("varlong longer than 10 bytes")
}

const skipBytes = (n: number, end: number): void => {
  if (n > end - cursor) throw new RecordFormatError("record field extends past the record")
  cursor += n
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

/**
 * Error codes use Kafka's names so the produce handler can map them one to one:
 *
 * - CORRUPT_MESSAGE (2): the batch framing cannot be trusted — batchLength below the v2
 *   header size, a batch running past the end of the payload, an unknown magic (> 2 or
 *   negative), an unknown compression codec, or a CRC mismatch. Kafka raises
 *   CorruptRecordException for all of these. (Kafka silently drops a truncated trailing
 *   batch of a produce request; we reject it, since acknowledging bytes we did not store
 *   would be worse.) Kafka answers an unknown codec with UNKNOWN_SERVER_ERROR; a corrupt
 *   batch is the more useful answer.
 * - INVALID_RECORD (87): the framing is fine but the contents break the rules — legacy
 *   magic 0/1 (Kafka's ProduceRequest.validateRecords demands magic 2 for produce v3+ and
 *   throws InvalidRecordException; message formats v0/v1 are gone in Kafka 4), an empty
 *   payload, records that do not parse, offset deltas that disagree with lastOffsetDelta
 *   and recordsCount, a client-written control batch, a non-zero client baseOffset, a
 *   producer id without a base sequence.
 * - MESSAGE_TOO_LARGE (10): a batch larger than `maxBatchBytes` (max.message.bytes).
 *
 * UNSUPPORTED_FOR_MESSAGE_FORMAT is deliberately absent: Kafka only uses it when the
 * target message format of a topic is older than v2, which this broker never has.
 * `reason` is a stable machine-readable detail for logs and tests.
 */
export type BatchErrorCode = "CORRUPT_MESSAGE" | "INVALID_RECORD" | "MESSAGE_TOO_LARGE"

export interface BatchValidationFailure {
  readonly ok: false
  readonly code: BatchErrorCode
  readonly reason: string
  readonly message: string
  /** Index of the offending batch in the payload, and its byte position. */
  readonly batchIndex: number
  readonly position: number
}

export interface BatchInfo {
  readonly position: number
  readonly sizeInBytes: number
  /** The baseOffset as sent; replaced by the log on append. */
  readonly baseOffset: number
  readonly lastOffsetDelta: number
  readonly recordCount: number
  readonly partitionLeaderEpoch: number
  readonly attributes: number
  readonly compression: number
  readonly timestampType: TimestampType
  readonly isTransactional: boolean
  readonly isControl: boolean
  readonly baseTimestamp: number
  /** Header maxTimestamp, or for uncompressed batches the maximum over the records. */
  readonly maxTimestamp: number
  /** Whether `maxTimestamp` differs from the header (uncompressed batches only). */
  readonly headerMaxTimestampStale: boolean
  /** Smallest record timestamp (uncompressed), else baseTimestamp — for timestamp range checks. */
  readonly minTimestamp: number
  readonly producerId: number
  readonly producerEpoch: number
  readonly baseSequence: number
}

export interface ValidatedBatches {
  readonly ok: true
  readonly count: number
  readonly batches: ReadonlyArray<BatchInfo>
  readonly positions: ReadonlyArray<number>
  readonly totalBytes: number
  /** Sum of recordsCount over the batches. */
  readonly recordCount: number
  /** Sum of lastOffsetDelta + 1 over the batches: how many offsets the append consumes. */
  readonly offsetCount: number
  readonly maxTimestamp: number
}

export type ValidationResult = ValidatedBatches | BatchValidationFailure

export interface ValidateOptions {
  /**
   * Apply the checks Kafka applies to client produce requests (default true). Internal
   * writers (coordinators, log recovery) pass false: they may write control batches and
   * compacted batches whose offsets have gaps.
   */
  readonly fromClient?: boolean
  /** max.message.bytes: largest accepted batch (default: unlimited). */
  readonly maxBatchBytes?: number
}

const fail = (
  code: BatchErrorCode,
  reason: string,
  message: string,
  batchIndex: number,
  position: number
): BatchValidationFailure => ({ ok: false, code, reason, message, batchIndex, position })

/**
 * Validates a produce payload: a concatenation of v2 record batches. Does not modify
 * `bytes`. For uncompressed batches every record is parsed; compressed batches are
 * checked at the header level only (they are stored as sent).
 */
export const validateBatches = (bytes: Uint8Array, options?: ValidateOptions): ValidationResult => {
  const fromClient = options?.fromClient ?? true
  const maxBatchBytes = options?.maxBatchBytes ?? Number.POSITIVE_INFINITY
  const view = viewOf(bytes)
  const end = bytes.length
  const batches: Array<BatchInfo> = []
  const positions: Array<number> = []
  let recordCount = 0
  let offsetCount = 0
  let maxTimestamp = NO_TIMESTAMP
  let pos = 0
  let index = 0

  if (end === 0) return fail("INVALID_RECORD", "empty", "produce payload contains no record batch", 0, 0)

  while (pos < end) {
    const remaining = end - pos
    if (remaining < HEADER_SIZE_UP_TO_MAGIC) {
      return fail("CORRUPT_MESSAGE", "truncated", `${remaining} trailing bytes are too few for a batch header`, index, pos)
    }
    const batchLength = view.getInt32(pos + BATCH_LENGTH_OFFSET)
    const magic = view.getInt8(pos + MAGIC_OFFSET)
    if (magic < 0 || magic > MAGIC_V2) {
      return fail("CORRUPT_MESSAGE", "invalid-magic", `invalid magic ${magic}`, index, pos)
    }
    if (magic < MAGIC_V2) {
      return fail("INVALID_RECORD", "legacy-magic", `message format v${magic} is not accepted; use record batches (magic 2)`, index, pos)
    }
    const size = batchLength + LOG_OVERHEAD
    if (batchLength < 0 || size < RECORD_BATCH_OVERHEAD) {
      return fail("CORRUPT_MESSAGE", "bad-length", `batch length ${batchLength} is smaller than the v2 header`, index, pos)
    }
    if (size > remaining) {
      return fail("CORRUPT_MESSAGE", "truncated", `batch of ${size} bytes runs past the end of the payload (${remaining} left)`, index, pos)
    }
    if (size > maxBatchBytes) {
      return fail("MESSAGE_TOO_LARGE", "too-large", `batch of ${size} bytes exceeds the maximum of ${maxBatchBytes}`, index, pos)
    }
    if (!isBatchCrcValid(bytes, view, pos, size)) {
      return fail("CORRUPT_MESSAGE", "crc", `CRC mismatch: stored ${view.getUint32(pos + CRC_OFFSET)}, computed ${computeBatchCrc(bytes, pos, size)}`, index, pos)
    }
    const attributes = view.getInt16(pos + ATTRIBUTES_OFFSET)
    const compression = attributes & COMPRESSION_CODEC_MASK
    if (compression > COMPRESSION_ZSTD) {
      return fail("CORRUPT_MESSAGE", "unknown-compression", `unknown compression codec ${compression}`, index, pos)
    }
    const baseOffset = baseOffsetAt(view, pos)
    const lastOffsetDelta = view.getInt32(pos + LAST_OFFSET_DELTA_OFFSET)
    const count = view.getInt32(pos + RECORDS_COUNT_OFFSET)
    const isControl = (attributes & CONTROL_FLAG_MASK) !== 0
    const producerId = getInt64(view, pos + PRODUCER_ID_OFFSET)
    const baseSequence = view.getInt32(pos + BASE_SEQUENCE_OFFSET)

    if (lastOffsetDelta < 0) {
      return fail("INVALID_RECORD", "offset-range", `negative lastOffsetDelta ${lastOffsetDelta}`, index, pos)
    }
    if (count < 0) {
      return fail("INVALID_RECORD", "count", `negative recordsCount ${count}`, index, pos)
    }
    if (fromClient) {
      if (baseOffset !== 0) {
        return fail("INVALID_RECORD", "base-offset", `client batch baseOffset must be 0, got ${baseOffset}`, index, pos)
      }
      if (count === 0) return fail("INVALID_RECORD", "count", "client batch has no records", index, pos)
      if (lastOffsetDelta + 1 !== count) {
        return fail("INVALID_RECORD", "offset-range", `lastOffsetDelta ${lastOffsetDelta} is inconsistent with recordsCount ${count}`, index, pos)
      }
      if (isControl) return fail("INVALID_RECORD", "control", "clients may not write control batches", index, pos)
      if (producerId >= 0 && baseSequence < 0) {
        return fail("INVALID_RECORD", "sequence", `producer id ${producerId} with invalid base sequence ${baseSequence}`, index, pos)
      }
    } else if (count > lastOffsetDelta + 1) {
      return fail("INVALID_RECORD", "offset-range", `recordsCount ${count} exceeds the offset range ${lastOffsetDelta + 1}`, index, pos)
    }

    const baseTimestamp = getInt64(view, pos + BASE_TIMESTAMP_OFFSET)
    const headerMaxTimestamp = getInt64(view, pos + MAX_TIMESTAMP_OFFSET)
    let batchMax = headerMaxTimestamp
    let batchMin = baseTimestamp
    if (compression === COMPRESSION_NONE) {
      const scan = scanRecords(bytes, pos, size, baseTimestamp, count, lastOffsetDelta, fromClient)
      if (typeof scan === "string") return fail("INVALID_RECORD", "record", scan, index, pos)
      if (count > 0) {
        batchMax = scanMax
        batchMin = scanMin
      }
    }
    const timestampType: TimestampType = (attributes & TIMESTAMP_TYPE_MASK) !== 0 ? "LogAppendTime" : "CreateTime"
    batches.push({
      position: pos,
      sizeInBytes: size,
      baseOffset,
      lastOffsetDelta,
      recordCount: count,
      partitionLeaderEpoch: view.getInt32(pos + PARTITION_LEADER_EPOCH_OFFSET),
      attributes,
      compression,
      timestampType,
      isTransactional: (attributes & TRANSACTIONAL_FLAG_MASK) !== 0,
      isControl,
      baseTimestamp,
      maxTimestamp: batchMax,
      headerMaxTimestampStale: batchMax !== headerMaxTimestamp,
      minTimestamp: batchMin,
      producerId,
      producerEpoch: view.getInt16(pos + PRODUCER_EPOCH_OFFSET),
      baseSequence
    })
    positions.push(pos)
    recordCount += count
    offsetCount += lastOffsetDelta + 1
    if (batchMax > maxTimestamp) maxTimestamp = batchMax
    pos += size
    index++
  }
  return { ok: true, count: index, batches, positions, totalBytes: end, recordCount, offsetCount, maxTimestamp }
}

// Results of the last scanRecords call (module-level to avoid returning an object).
let scanMax = NO_TIMESTAMP
let scanMin = NO_TIMESTAMP

/**
 * Walks the records of an uncompressed batch. Returns an error message, or undefined when
 * the records are well formed (min/max record timestamps are left in scanMin/scanMax).
 * Client batches must number their records 0..n-1; internal batches (compacted data) only
 * need strictly increasing deltas within lastOffsetDelta.
 */
const scanRecords = (
  bytes: Uint8Array,
  batchPos: number,
  batchSize: number,
  baseTimestamp: number,
  count: number,
  lastOffsetDelta: number,
  strictDeltas: boolean
): string | undefined => {
  const end = batchPos + batchSize
  cursor = batchPos + RECORD_BATCH_OVERHEAD
  scanMax = NO_TIMESTAMP
  scanMin = Number.POSITIVE_INFINITY
  let previousDelta = -1
  try {
    for (let i = 0; i < count; i++) {
      const length = readVarint(bytes, end)
      if (length < 0) return `record ${i} has negative length ${length}`
      const recordEnd = cursor + length
      if (recordEnd > end) return `record ${i} runs past the end of the batch`
      skipBytes(1, recordEnd) // attributes: unused in v2
      const timestamp = baseTimestamp + readVarlong(bytes, recordEnd)
      const offsetDelta = readVarint(bytes, recordEnd)
      if (strictDeltas ? offsetDelta !== i : offsetDelta <= previousDelta || offsetDelta > lastOffsetDelta) {
        return `record ${i} has offset delta ${offsetDelta}, inconsistent with the batch`
      }
      previousDelta = offsetDelta
      const keyLength = readVarint(bytes, recordEnd)
      if (keyLength > 0) skipBytes(keyLength, recordEnd)
      const valueLength = readVarint(bytes, recordEnd)
      if (valueLength > 0) skipBytes(valueLength, recordEnd)
      const headerCount = readVarint(bytes, recordEnd)
      if (headerCount < 0) return `record ${i} has negative header count ${headerCount}`
      for (let h = 0; h < headerCount; h++) {
        const headerKeyLength = readVarint(bytes, recordEnd)
        if (headerKeyLength < 0) return `record ${i} has a header with negative key length`
        skipBytes(headerKeyLength, recordEnd)
        const headerValueLength = readVarint(bytes, recordEnd)
        if (headerValueLength > 0) skipBytes(headerValueLength, recordEnd)
      }
      if (cursor !== recordEnd) return `record ${i} declares ${length} bytes but its fields use ${length - (recordEnd - cursor)}`
      if (timestamp > scanMax) scanMax = timestamp
      if (timestamp < scanMin) scanMin = timestamp
    }
  } catch (e) {
    if (e instanceof RecordFormatError) return e.message
    throw e
  }
  if (cursor !== end) return `${end - cursor} bytes remain after the declared ${count} records`
  if (count === 0) scanMin = NO_TIMESTAMP
  return undefined
}

// ---------------------------------------------------------------------------------------
// Offset assignment
// ---------------------------------------------------------------------------------------

/**
 * Sets maxTimestamp and the timestampType bit of the batch at `pos`, then rewrites its CRC
 * (both fields are inside the CRC).
 */
export const setMaxTimestamp = (bytes: Uint8Array, pos: number, timestamp: number, type: TimestampType): void => {
  const view = viewOf(bytes)
  const attributes = view.getInt16(pos + ATTRIBUTES_OFFSET)
  view.setInt16(
    pos + ATTRIBUTES_OFFSET,
    type === "LogAppendTime" ? attributes | TIMESTAMP_TYPE_MASK : attributes & ~TIMESTAMP_TYPE_MASK
  )
  setInt64(view, pos + MAX_TIMESTAMP_OFFSET, timestamp)
  view.setUint32(pos + CRC_OFFSET, computeBatchCrc(bytes, pos, batchSizeAt(view, pos)))
}

export interface AssignedOffsets {
  /** First offset assigned (the first batch's new baseOffset). */
  readonly firstOffset: number
  readonly lastOffset: number
  /** Largest batch maxTimestamp after assignment, NO_TIMESTAMP if none. */
  readonly maxTimestamp: number
  /** Last offset of the first batch carrying `maxTimestamp` (Kafka's "shallow" offset). */
  readonly offsetOfMaxTimestamp: number
}

/**
 * Rewrites, in place, baseOffset of each batch at `positions` so that offsets continue
 * from `firstOffset`. With a `logAppendTime`, each batch's maxTimestamp becomes that time
 * and its timestampType bit is set, which changes CRC-covered bytes, so the CRC is
 * recomputed; baseOffset and partitionLeaderEpoch lie before the CRC-covered range, so a
 * CreateTime append costs no CRC work at all.
 */
export const assignOffsets = (
  bytes: Uint8Array,
  positions: ReadonlyArray<number>,
  firstOffset: number,
  logAppendTime: number | null,
  partitionLeaderEpoch?: number
): AssignedOffsets => {
  const view = viewOf(bytes)
  let next = firstOffset
  let maxTimestamp = NO_TIMESTAMP
  let offsetOfMaxTimestamp = -1
  for (let i = 0; i < positions.length; i++) {
    const pos = positions[i]!
    setInt64(view, pos + BASE_OFFSET_OFFSET, next)
    if (partitionLeaderEpoch !== undefined) view.setInt32(pos + PARTITION_LEADER_EPOCH_OFFSET, partitionLeaderEpoch)
    if (logAppendTime !== null) setMaxTimestamp(bytes, pos, logAppendTime, "LogAppendTime")
    const last = next + view.getInt32(pos + LAST_OFFSET_DELTA_OFFSET)
    const ts = getInt64(view, pos + MAX_TIMESTAMP_OFFSET)
    if (ts > maxTimestamp) {
      maxTimestamp = ts
      offsetOfMaxTimestamp = last
    }
    next = last + 1
  }
  return { firstOffset, lastOffset: next - 1, maxTimestamp, offsetOfMaxTimestamp }
}

// ---------------------------------------------------------------------------------------
// Building and reading uncompressed batches
// ---------------------------------------------------------------------------------------

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

export type BytesLike = Uint8Array | string

export interface RecordHeaderInput {
  readonly key: string
  readonly value: BytesLike | null
}

export interface RecordInput {
  readonly key?: BytesLike | null
  readonly value: BytesLike | null
  readonly headers?: ReadonlyArray<RecordHeaderInput>
  /** Defaults to the batch's `timestamp` option, else NO_TIMESTAMP. */
  readonly timestamp?: number
  /** Offset relative to the batch's base offset; defaults to the record's index (gaps only in compacted data). */
  readonly offsetDelta?: number
}

export interface BuildRecordBatchOptions {
  readonly baseOffset?: number
  readonly records: ReadonlyArray<RecordInput>
  readonly timestamp?: number
  readonly partitionLeaderEpoch?: number
  readonly producerId?: number
  readonly producerEpoch?: number
  readonly baseSequence?: number
  readonly isTransactional?: boolean
  readonly isControl?: boolean
  readonly timestampType?: TimestampType
  /** Kept from the original batch when compaction removed its last records. Default: records - 1. */
  readonly lastOffsetDelta?: number
  /**
   * Sets DELETE_HORIZON_FLAG: the base timestamp then holds the time after which the
   * cleaner may drop the batch's tombstones, and record timestamps are relative to it.
   */
  readonly deleteHorizonMs?: number
}

const toBytes = (v: BytesLike): Uint8Array => (typeof v === "string" ? textEncoder.encode(v) : v)

const varintSize = (v: number): number => {
  let u = ((v << 1) ^ (v >> 31)) >>> 0
  let n = 1
  while (u >= 0x80) {
    u >>>= 7
    n++
  }
  return n
}

const varlongSize = (v: number): number => {
  let u = v >= 0 ? v * 2 : -v * 2 - 1
  let n = 1
  while (u >= 128) {
    u = Math.floor(u / 128)
    n++
  }
  return n
}

const putVarint = (buf: Uint8Array, pos: number, v: number): number => {
  let u = ((v << 1) ^ (v >> 31)) >>> 0
  while (u >= 0x80) {
    buf[pos++] = (u & 0x7f) | 0x80
    u >>>= 7
  }
  buf[pos++] = u
  return pos
}

const putVarlong = (buf: Uint8Array, pos: number, v: number): number => {
  let u = v >= 0 ? v * 2 : -v * 2 - 1
  while (u >= 128) {
    buf[pos++] = (u % 128) | 0x80
    u = Math.floor(u / 128)
  }
  buf[pos++] = u
  return pos
}

/**
 * Encodes an uncompressed v2 batch with a valid CRC. `records` may be empty only for
 * internal use (Kafka never writes empty batches from clients).
 */
export const buildRecordBatch = (options: BuildRecordBatchOptions): Uint8Array => {
  const records = options.records
  const defaultTs = options.timestamp ?? NO_TIMESTAMP
  const timestamps = records.map((r) => r.timestamp ?? defaultTs)
  const baseTimestamp = options.deleteHorizonMs ?? (timestamps.length > 0 ? timestamps[0]! : defaultTs)
  let maxTimestamp = NO_TIMESTAMP
  for (const t of timestamps) if (t > maxTimestamp) maxTimestamp = t

  const encoded = records.map((r, i) => {
    const key = r.key === undefined || r.key === null ? null : toBytes(r.key)
    const value = r.value === null ? null : toBytes(r.value)
    const headers = (r.headers ?? []).map((h) => ({ key: textEncoder.encode(h.key), value: h.value === null ? null : toBytes(h.value) }))
    const tsDelta = timestamps[i]! - baseTimestamp
    const offsetDelta = r.offsetDelta ?? i
    let body = 1 + varlongSize(tsDelta) + varintSize(offsetDelta)
    body += key === null ? varintSize(-1) : varintSize(key.length) + key.length
    body += value === null ? varintSize(-1) : varintSize(value.length) + value.length
    body += varintSize(headers.length)
    for (const h of headers) {
      body += varintSize(h.key.length) + h.key.length
      body += h.value === null ? varintSize(-1) : varintSize(h.value.length) + h.value.length
    }
    return { key, value, headers, tsDelta, offsetDelta, body }
  })
  let size = RECORD_BATCH_OVERHEAD
  for (const r of encoded) size += varintSize(r.body) + r.body

  const buf = new Uint8Array(size)
  const view = viewOf(buf)
  let attributes = 0
  if (options.timestampType === "LogAppendTime") attributes |= TIMESTAMP_TYPE_MASK
  if (options.isTransactional) attributes |= TRANSACTIONAL_FLAG_MASK
  if (options.isControl) attributes |= CONTROL_FLAG_MASK
  if (options.deleteHorizonMs !== undefined) attributes |= DELETE_HORIZON_FLAG_MASK
  setInt64(view, BASE_OFFSET_OFFSET, options.baseOffset ?? 0)
  view.setInt32(BATCH_LENGTH_OFFSET, size - LOG_OVERHEAD)
  view.setInt32(PARTITION_LEADER_EPOCH_OFFSET, options.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH)
  view.setInt8(MAGIC_OFFSET, MAGIC_V2)
  view.setInt16(ATTRIBUTES_OFFSET, attributes)
  view.setInt32(LAST_OFFSET_DELTA_OFFSET, options.lastOffsetDelta ?? Math.max(records.length - 1, 0))
  setInt64(view, BASE_TIMESTAMP_OFFSET, baseTimestamp)
  setInt64(view, MAX_TIMESTAMP_OFFSET, maxTimestamp)
  setInt64(view, PRODUCER_ID_OFFSET, options.producerId ?? NO_PRODUCER_ID)
  view.setInt16(PRODUCER_EPOCH_OFFSET, options.producerEpoch ?? NO_PRODUCER_EPOCH)
  view.setInt32(BASE_SEQUENCE_OFFSET, options.baseSequence ?? NO_SEQUENCE)
  view.setInt32(RECORDS_COUNT_OFFSET, records.length)
  let pos = RECORD_BATCH_OVERHEAD
  encoded.forEach((r) => {
    pos = putVarint(buf, pos, r.body)
    buf[pos++] = 0
    pos = putVarlong(buf, pos, r.tsDelta)
    pos = putVarint(buf, pos, r.offsetDelta)
    if (r.key === null) pos = putVarint(buf, pos, -1)
    else {
      pos = putVarint(buf, pos, r.key.length)
      buf.set(r.key, pos)
      pos += r.key.length
    }
    if (r.value === null) pos = putVarint(buf, pos, -1)
    else {
      pos = putVarint(buf, pos, r.value.length)
      buf.set(r.value, pos)
      pos += r.value.length
    }
    pos = putVarint(buf, pos, r.headers.length)
    for (const h of r.headers) {
      pos = putVarint(buf, pos, h.key.length)
      buf.set(h.key, pos)
      pos += h.key.length
      if (h.value === null) pos = putVarint(buf, pos, -1)
      else {
        pos = putVarint(buf, pos, h.value.length)
        buf.set(h.value, pos)
        pos += h.value.length
      }
    }
  })
  view.setUint32(CRC_OFFSET, computeBatchCrc(buf, 0, size))
  return buf
}

export interface RecordHeader {
  readonly key: string
  readonly value: Uint8Array | null
}

export interface BatchRecord {
  readonly offset: number
  /** With LogAppendTime every record carries the batch's maxTimestamp, as in Kafka. */
  readonly timestamp: number
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: ReadonlyArray<RecordHeader>
}

/**
 * Iterates the records of one uncompressed v2 batch (the batch starts at byte 0 of
 * `batchBytes`). Key and value are views into `batchBytes`. Throws on compressed or
 * malformed batches; callers replaying their own logs treat that as corruption.
 */
export function* readRecords(batchBytes: Uint8Array): Generator<BatchRecord, void, undefined> {
  const header = readBatchHeader(batchBytes, 0)
  if (header.magic !== MAGIC_V2) throw new RangeError(`unsupported magic ${header.magic}`)
  if (header.compression !== COMPRESSION_NONE) throw new RangeError(`cannot read records of a compressed batch (codec ${header.compression})`)
  const end = Math.min(header.sizeInBytes, batchBytes.length)
  const logAppendTime = header.timestampType === "LogAppendTime"
  let pos = RECORD_BATCH_OVERHEAD
  for (let i = 0; i < header.recordsCount; i++) {
    // The generator may be suspended between records while other code uses the shared
    // cursor, so it is restored from a local before every read.
    cursor = pos
    const length = readVarint(batchBytes, end)
    const recordEnd = cursor + length
    if (length < 0 || recordEnd > end) throw new RangeError(`record ${i} has invalid length ${length}`)
    cursor += 1
    const tsDelta = readVarlong(batchBytes, recordEnd)
    const offsetDelta = readVarint(batchBytes, recordEnd)
    const keyLength = readVarint(batchBytes, recordEnd)
    let key: Uint8Array | null = null
    if (keyLength >= 0) {
      const start = cursor
      skipBytes(keyLength, recordEnd)
      key = batchBytes.subarray(start, cursor)
    }
    const valueLength = readVarint(batchBytes, recordEnd)
    let value: Uint8Array | null = null
    if (valueLength >= 0) {
      const start = cursor
      skipBytes(valueLength, recordEnd)
      value = batchBytes.subarray(start, cursor)
    }
    const headerCount = readVarint(batchBytes, recordEnd)
    if (headerCount < 0) throw new RangeError(`record ${i} has negative header count`)
    const headers: Array<RecordHeader> = []
    for (let h = 0; h < headerCount; h++) {
      const keyLen = readVarint(batchBytes, recordEnd)
      if (keyLen < 0) throw new RangeError(`record ${i} has a header with negative key length`)
      const keyStart = cursor
      skipBytes(keyLen, recordEnd)
      const headerKey = textDecoder.decode(batchBytes.subarray(keyStart, cursor))
      const valueLen = readVarint(batchBytes, recordEnd)
      let headerValue: Uint8Array | null = null
      if (valueLen >= 0) {
        const start = cursor
        skipBytes(valueLen, recordEnd)
        headerValue = batchBytes.subarray(start, cursor)
      }
      headers.push({ key: headerKey, value: headerValue })
    }
    pos = recordEnd
    yield {
      offset: header.baseOffset + offsetDelta,
      timestamp: logAppendTime ? header.maxTimestamp : header.baseTimestamp + tsDelta,
      key,
      value,
      headers
    }
  }
}

/**
 * Whether each record of an uncompressed records section (the bytes after a v2 batch
 * header, holding `count` records) has a key, without materialising records or headers:
 * `visit(index, hasKey)` per record. Throws RangeError on a malformed section. Memory stays
 * constant however many records the batch claims.
 */
export const visitRecordKeys = (records: Uint8Array, count: number, visit: (index: number, hasKey: boolean) => void): void => {
  const end = records.length
  let next = 0
  try {
    for (let i = 0; i < count; i++) {
      cursor = next
      const length = readVarint(records, end)
      const recordEnd = cursor + length
      if (length < 0 || recordEnd > end) throw new RangeError(`record ${i} has invalid length ${length}`)
      cursor += 1
      readVarlong(records, recordEnd)
      readVarint(records, recordEnd)
      visit(i, readVarint(records, recordEnd) >= 0)
      next = recordEnd
    }
  } catch (e) {
    if (e instanceof RecordFormatError) throw new RangeError(e.message)
    throw e
  }
}

/**
 * Record timestamps and offsets of an uncompressed batch without materialising records:
 * calls `visit(offset, timestamp)` until it returns true. Used by timestamp lookups.
 * Returns false if the batch could not be walked.
 */
export const visitRecordTimestamps = (
  batchBytes: Uint8Array,
  pos: number,
  visit: (offset: number, timestamp: number) => boolean
): boolean => {
  const view = viewOf(batchBytes)
  const size = batchSizeAt(view, pos)
  const end = pos + size
  if (end > batchBytes.length) return false
  const baseOffset = baseOffsetAt(view, pos)
  const baseTimestamp = baseTimestampAt(view, pos)
  const count = view.getInt32(pos + RECORDS_COUNT_OFFSET)
  let next = pos + RECORD_BATCH_OVERHEAD
  try {
    for (let i = 0; i < count; i++) {
      cursor = next
      const length = readVarint(batchBytes, end)
      const recordEnd = cursor + length
      if (length < 0 || recordEnd > end) return false
      cursor += 1
      const ts = baseTimestamp + readVarlong(batchBytes, recordEnd)
      const offsetDelta = readVarint(batchBytes, recordEnd)
      next = recordEnd
      if (visit(baseOffset + offsetDelta, ts)) return true
    }
  } catch (e) {
    if (e instanceof RecordFormatError) return false
    throw e
  }
  return true
}
