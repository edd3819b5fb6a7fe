/**
 * Control records: the one-record batches a transaction coordinator writes into every
 * partition of a transaction when it ends (KIP-98 transaction markers). Their layout is not
 * in Kafka's JSON specs (Kafka hand-codes ControlRecordType and EndTransactionMarker), so it
 * lives here, for the data log's markers and the metadata log's control records alike: the key
 * is `version int16 (0), type int16` and an end-transaction marker's value is
 * `version int16 (0), coordinator_epoch int32`.
 *
 * A marker batch has the transactional and control attribute bits set and carries the
 * producer id and epoch of the transaction it ends; its base sequence is -1.
 */
import { buildRecordBatch, readBatchHeader, readRecords } from "./record-batch.ts"

/** Kafka's ControlRecordType ids. */
export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6
} as const

export const CONTROL_RECORD_KEY_VERSION = 0

const END_TXN_MARKER_VERSION = 0

export const encodeControlRecordKey = (type: number): Uint8Array => {
  const key = new Uint8Array(4)
  const view = new DataView(key.buffer)
  view.setInt16(0, CONTROL_RECORD_KEY_VERSION)
  view.setInt16(2, type)
  return key
}

/** The type of a control record, or -1 if the key is not a control record key. */
export const controlRecordType = (key: Uint8Array | null): number => {
  if (key === null || key.length < 4) return -1
  return new DataView(key.buffer, key.byteOffset, key.byteLength).getInt16(2)
}

export interface TxnMarker {
  readonly producerId: number
  readonly producerEpoch: number
  readonly coordinatorEpoch: number
  /** true for COMMIT, false for ABORT. */
  readonly commit: boolean
}

/** Encodes a marker as a whole v2 control batch (base offset 0; the log assigns the real one). */
export const encodeTxnMarkerBatch = (marker: TxnMarker, timestamp: number, partitionLeaderEpoch = -1): Uint8Array => {
  const key = encodeControlRecordKey(marker.commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT)
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

/**
 * Reads the end-transaction marker of one control batch (starting at byte 0 of `batchBytes`),
 * or undefined when the batch is not a control batch holding a COMMIT/ABORT marker.
 */
export const readTxnMarker = (batchBytes: Uint8Array): TxnMarker | undefined => {
  const header = readBatchHeader(batchBytes, 0)
  if (!header.isControl) return undefined
  for (const record of readRecords(batchBytes)) {
    const type = controlRecordType(record.key)
    if (type !== ControlRecordType.ABORT && type !== ControlRecordType.COMMIT) return undefined
    const value = record.value
    const coordinatorEpoch = value !== null && value.length >= 6
      ? new DataView(value.buffer, value.byteOffset, value.byteLength).getInt32(2)
      : -1
    return { producerId: header.producerId, producerEpoch: header.producerEpoch, coordinatorEpoch, commit: type === ControlRecordType.COMMIT }
  }
  return undefined
}
