/**
 * Control records: the one-record batches a transaction coordinator writes into every
 * partition of a transaction when it ends (KIP-98 transaction markers). Their layout is not
 * in Kafka's JSON specs (Kafka hand-codes ControlRecordType and EndTransactionMarker), so it
 * lives here: the key is `version int16 (0), type int16` and an end-transaction marker's
 * value is `version int16 (0), coordinator_epoch int32`.
 *
 * A marker batch has the transactional and control attribute bits set and carries the
 * producer id and epoch of the transaction it ends; its base sequence is -1.
 */
import { buildRecordBatch, readBatchHeader, readRecords } from "./record-batch.ts"

export const CONTROL_TYPE_ABORT = 0
export const CONTROL_TYPE_COMMIT = 1

const CONTROL_KEY_VERSION = 0
const END_TXN_MARKER_VERSION = 0

export interface TxnMarker {
  readonly producerId: number
  readonly producerEpoch: number
  readonly coordinatorEpoch: number
  /** true for COMMIT, false for ABORT. */
  readonly commit: boolean
}

/** Encodes a marker as a whole v2 control batch (base offset 0; the log assigns the real one). */
export const encodeTxnMarkerBatch = (marker: TxnMarker, timestamp: number, partitionLeaderEpoch = -1): Uint8Array => {
  const key = new Uint8Array(4)
  const keyView = new DataView(key.buffer)
  keyView.setInt16(0, CONTROL_KEY_VERSION)
  keyView.setInt16(2, marker.commit ? CONTROL_TYPE_COMMIT : CONTROL_TYPE_ABORT)
  const value = new Uint8Array(6)
  const valueView = new DataView(value.buffer)
  valueView.setInt16(0, END_TXN_MARKER_VERSION)
  valueView.setInt32(2, marker.coordinatorEpoch)
  return buildRecordBatch({
    records: [{ key, value, timestamp }],
    timestamp,
    partitionLeaderEpoch,
    producerId: marker.producerId,
    producerEpoch: marker.producerEpoch,
    isTransactional: true,
    isControl: true
  })
}

/** The control type of a control record's key (ABORT 0, COMMIT 1; others are not markers), or -1 if malformed. */
export const controlTypeOf = (key: Uint8Array | null): number => {
  if (key === null || key.length < 4) return -1
  return new DataView(key.buffer, key.byteOffset, key.byteLength).getInt16(2)
}

/**
 * Reads the end-transaction marker of one control batch (starting at byte 0 of `batchBytes`),
 * or undefined when the batch is not a control batch holding a COMMIT/ABORT marker.
 */
export const readTxnMarker = (batchBytes: Uint8Array): TxnMarker | undefined => {
  const header = readBatchHeader(batchBytes, 0)
  if (!header.isControl) return undefined
  for (const record of readRecords(batchBytes)) {
    const type = controlTypeOf(record.key)
    if (type !== CONTROL_TYPE_ABORT && type !== CONTROL_TYPE_COMMIT) return undefined
    const value = record.value
    const coordinatorEpoch = value !== null && value.length >= 6
      ? new DataView(value.buffer, value.byteOffset, value.byteLength).getInt32(2)
      : -1
    return { producerId: header.producerId, producerEpoch: header.producerEpoch, coordinatorEpoch, commit: type === CONTROL_TYPE_COMMIT }
  }
  return undefined
}
