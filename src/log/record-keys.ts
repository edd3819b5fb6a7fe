/**
 * Produce-side rule of compacted topics (Kafka's LogValidator.validateKey): every record
 * needs a key, since the cleaner keeps records by key. Compressed batches are looked into.
 */
import { uncompressedView } from "./cleaner/batch-filter.ts"
import { readBatchHeader, readRecords } from "./record-batch.ts"

/** Indexes (within the batch) of the records that have no key. */
export const keylessRecordIndexes = (batch: Uint8Array, position = 0): Array<number> => {
  const header = readBatchHeader(batch, position)
  const bytes = batch.subarray(position, position + header.sizeInBytes)
  const out: Array<number> = []
  let i = 0
  for (const record of readRecords(uncompressedView(bytes, header))) {
    if (record.key === null) out.push(i)
    i++
  }
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
