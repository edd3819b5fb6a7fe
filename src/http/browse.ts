/**
 * Records for the console's message browser: reads a partition from an offset through the
 * LogStore and decodes its batches into records (compressed ones through the log's own
 * decompressRecords), with key, value and headers rendered for display (UTF-8 text when the
 * bytes are valid UTF-8, JSON when they parse, and hex).
 */
import { Effect } from "effect"
import { decompressRecords } from "../log/compression.ts"
import type { LogStoreShape } from "../log/LogStore.ts"
import {
  BATCH_LENGTH_OFFSET,
  COMPRESSION_NONE,
  LOG_OVERHEAD,
  RECORD_BATCH_OVERHEAD,
  readBatchHeader,
  readRecords,
  ATTRIBUTES_OFFSET
} from "../log/record-batch.ts"

export interface RenderedBytes {
  /** The bytes as text, when they are valid UTF-8. */
  readonly text: string | null
  /** Pretty-printed, when the text parses as a JSON object or array. */
  readonly json: string | null
  readonly hex: string
  readonly size: number
}

export interface BrowsedRecord {
  readonly offset: number
  readonly timestamp: number
  readonly key: RenderedBytes | null
  readonly value: RenderedBytes | null
  readonly headers: ReadonlyArray<{ readonly key: string; readonly value: RenderedBytes | null }>
}

export interface BrowsedBatch {
  readonly records: Array<BrowsedRecord>
  /** Batches whose records could not be shown (codec not supported here), by base offset. */
  readonly skipped: Array<{ readonly baseOffset: number; readonly reason: string }>
  /** The offset to continue from. */
  nextOffset: number
}

const utf8 = new TextDecoder("utf-8", { fatal: true })
const MAX_HEX_BYTES = 4096

export const renderBytes = (bytes: Uint8Array | null): RenderedBytes | null => {
  if (bytes === null) return null
  let text: string | null = null
  try {
    text = utf8.decode(bytes)
  } catch {
    text = null
  }
  let json: string | null = null
  if (text !== null && /^\s*[[{]/.test(text)) {
    try {
      json = JSON.stringify(JSON.parse(text), null, 2)
    } catch {
      json = null
    }
  }
  const shown = bytes.subarray(0, MAX_HEX_BYTES)
  const hex = Buffer.from(shown.buffer, shown.byteOffset, shown.byteLength).toString("hex").replace(/(..)(?!$)/g, "$1 ") +
    (bytes.length > MAX_HEX_BYTES ? " …" : "")
  return { text, json, hex, size: bytes.length }
}

/** The batch with its records section decompressed and the codec bits cleared, or a reason it cannot be. */
const plainBatch = (batch: Uint8Array, compression: number): Uint8Array | string => {
  if (compression === COMPRESSION_NONE) return batch
  let records: Uint8Array
  try {
    records = decompressRecords(compression, batch.subarray(RECORD_BATCH_OVERHEAD))
  } catch (e) {
    return `records could not be decompressed (codec ${compression}): ${(e as Error).message}`
  }
  const plain = new Uint8Array(RECORD_BATCH_OVERHEAD + records.length)
  plain.set(batch.subarray(0, RECORD_BATCH_OVERHEAD))
  plain.set(records, RECORD_BATCH_OVERHEAD)
  const view = new DataView(plain.buffer)
  view.setInt32(BATCH_LENGTH_OFFSET, plain.length - LOG_OVERHEAD)
  view.setInt16(ATTRIBUTES_OFFSET, view.getInt16(ATTRIBUTES_OFFSET) & ~0x07)
  return plain
}

/** Up to `limit` records of a partition from `fromOffset` (the log start when below it). */
export const browse = (logs: LogStoreShape, topic: string, partition: number, fromOffset: number, limit: number) =>
  Effect.gen(function*() {
    const log = logs.findPartition(topic, partition)
    const result: BrowsedBatch = { records: [], skipped: [], nextOffset: fromOffset }
    if (log === undefined) return result
    let offset = Math.max(fromOffset, log.logStartOffset)
    result.nextOffset = offset
    // Each read returns whole batches of one segment; bounded so a huge log is never read whole.
    for (let reads = 0; reads < 64 && result.records.length < limit && offset < log.highWatermark; reads++) {
      const data = yield* logs.read(topic, partition, offset, 1024 * 1024, true)
      if (data.records.length === 0) break
      let pos = 0
      let progressed = false
      while (pos + RECORD_BATCH_OVERHEAD <= data.records.length && result.records.length < limit) {
        const header = readBatchHeader(data.records, pos)
        if (pos + header.sizeInBytes > data.records.length) break
        const batch = data.records.subarray(pos, pos + header.sizeInBytes)
        pos += header.sizeInBytes
        const lastOffset = header.baseOffset + header.lastOffsetDelta
        if (lastOffset < offset) continue
        progressed = true
        if (header.isControl) {
          offset = lastOffset + 1
          continue
        }
        const plain = plainBatch(batch, header.compression)
        if (typeof plain === "string") {
          result.skipped.push({ baseOffset: header.baseOffset, reason: plain })
          offset = lastOffset + 1
          continue
        }
        for (const r of readRecords(plain)) {
          if (r.offset < offset) continue
          if (result.records.length >= limit) break
          result.records.push({
            offset: r.offset,
            timestamp: r.timestamp,
            key: renderBytes(r.key),
            value: renderBytes(r.value),
            headers: r.headers.map((h) => ({ key: h.key, value: renderBytes(h.value) }))
          })
          offset = r.offset + 1
        }
        if (result.records.length < limit) offset = Math.max(offset, lastOffset + 1)
      }
      if (!progressed) break
    }
    result.nextOffset = offset
    return result
  })
