/**
 * Produce-side rule of compacted topics (Kafka's LogValidator.validateKey): every record
 * needs a key, since the cleaner keeps records by key. Compressed batches are looked into.
 */
import { DecompressedSizeError, DEFAULT_MAX_DECOMPRESSED_BYTES, decompressRecords } from "./compression.ts"
import { COMPRESSION_NONE, readBatchHeader, RECORD_BATCH_OVERHEAD, visitRecordKeys } from "./record-batch.ts"

/**
 * How many bytes the batches of one request may still inflate to, shared by its partitions:
 * the inflated copies of one request never add up to more than one frame limit, whether or
 * not the garbage of the previous partition has been collected.
 */
export interface InflateBudget {
  /** The request's whole budget, for the error message. */
  readonly limit: number
  remaining: number
}

/** Indexes (within the batch) of the records that have no key. */
export const keylessRecordIndexes = (
  batch: Uint8Array,
  position = 0,
  budget: InflateBudget = { limit: DEFAULT_MAX_DECOMPRESSED_BYTES, remaining: DEFAULT_MAX_DECOMPRESSED_BYTES }
): Array<number> => {
  const header = readBatchHeader(batch, position)
  let records: Uint8Array
  try {
    records = decompressRecords(header.compression, batch.subarray(position + RECORD_BATCH_OVERHEAD, position + header.sizeInBytes), budget.remaining)
  } catch (e) {
    if (!(e instanceof DecompressedSizeError)) throw e
    budget.remaining = 0
    throw new DecompressedSizeError(budget.limit)
  }
  if (header.compression !== COMPRESSION_NONE) budget.remaining -= records.length
  const out: Array<number> = []
  visitRecordKeys(records, header.recordsCount, (i, hasKey) => {
    if (!hasKey) out.push(i)
  })
  return out
}

/** Kafka's RecordError message for a keyless record on a compacted topic. */
export const keylessRecordMessage = (topic: string, partition: number): string =>
  `Compacted topic cannot accept message without key in topic partition ${topic}-${partition}`

/** Kafka's summary message of a rejected batch (LogValidator.processRecordErrors). */
export const recordErrorsSummary = (errors: ReadonlyArray<{ readonly batchIndex: number; readonly message: string }>): string =>
  `One or more records have been rejected due to ${errors.length} record errors in total, and only showing the first three errors at most: [${
    errors.slice(0, 3).map((e) => `RecordError(batchIndex=${e.batchIndex}, message='${e.message}')`).join(", ")
  }]`
