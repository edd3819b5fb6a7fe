/**
 * The value framing of records in `__cluster_metadata` (Kafka's MetadataRecordSerde, built on
 * AbstractApiMessageSerde):
 *
 *   frame version (uvarint) | record type = apiKey (uvarint) | record version (uvarint) | body
 *
 * with the body in that version of the record's schema (all metadata records are flexible,
 * so it ends in a tagged-field section). The Kafka record key is null.
 *
 * Frame version: Kafka writes 1 (DEFAULT_FRAME_VERSION) and its reader accepts only 1; frame
 * version 0 was the KRaft preview of Kafka 2.8 and is explicitly rejected ("upgrades from the
 * preview release of KRaft in 2.8 ... are not supported"). We do the same, so a log we write
 * is one Kafka reads and vice versa.
 *
 * KRaft control records (control batches) have a different key/value layout: key = int16
 * version (0) + int16 type, value = the control message body with no version prefix.
 */
import {
  METADATA_RECORD_TYPES,
  METADATA_RECORD_TYPE_BY_NAME,
  type MetadataRecord,
  type MetadataRecordInit
} from "../protocol/generated/metadata-records.ts"
import { ProtocolDecodeError, Reader, Writer } from "../protocol/primitives.ts"

export const METADATA_FRAME_VERSION = 1

/** Thrown when a record value cannot be a metadata record at all (bad frame, garbage). */
export class MetadataRecordFormatError extends Error {
  override readonly name = "MetadataRecordFormatError"
}

export type DecodedMetadataRecord =
  | { readonly known: true; readonly record: MetadataRecord }
  /**
   * A record this broker cannot interpret: a record type added by a later Kafka, or a
   * version beyond what the generated codecs know. Replay skips and counts it.
   */
  | { readonly known: false; readonly apiKey: number; readonly version: number; readonly reason: string }

/** Encodes one record value: frame version, apiKey, version, body. */
export const encodeMetadataRecord = (record: MetadataRecordInit): Uint8Array => {
  const type = METADATA_RECORD_TYPE_BY_NAME.get(record.type)
  if (type === undefined) throw new RangeError(`unknown metadata record type ${record.type}`)
  if (record.version < type.minVersion || record.version > type.maxVersion) {
    throw new RangeError(`${record.type} has no version ${record.version} (supported ${type.minVersion}-${type.maxVersion})`)
  }
  const w = new Writer(64)
  w.uvarint(METADATA_FRAME_VERSION)
  w.uvarint(type.apiKey)
  w.uvarint(record.version)
  type.encode(w, record.version, record.data as never)
  return w.toBytes()
}

const readShortUvarint = (r: Reader, what: string): number => {
  let v: number
  try {
    v = r.uvarint()
  } catch (e) {
    throw new MetadataRecordFormatError(`cannot read the ${what} of a metadata record: ${(e as Error).message}`)
  }
  // Kafka reads these as Java shorts and rejects larger values.
  if (v > 0x7fff) throw new MetadataRecordFormatError(`metadata record ${what} ${v} is too large`)
  return v
}

/** Decodes one record value. Throws MetadataRecordFormatError when it is not a valid record. */
export const decodeMetadataRecord = (value: Uint8Array): DecodedMetadataRecord => {
  const r = new Reader(value)
  const frameVersion = readShortUvarint(r, "frame version")
  if (frameVersion !== METADATA_FRAME_VERSION) {
    throw new MetadataRecordFormatError(
      frameVersion === 0
        ? "metadata record with frame version 0 (the Kafka 2.8 KRaft preview) is not supported"
        : `unknown metadata record frame version ${frameVersion} (only ${METADATA_FRAME_VERSION} is supported)`
    )
  }
  const apiKey = readShortUvarint(r, "type")
  const version = readShortUvarint(r, "version")
  const type = METADATA_RECORD_TYPES.get(apiKey)
  if (type === undefined) return { known: false, apiKey, version, reason: `unknown record type ${apiKey}` }
  if (version < type.minVersion || version > type.maxVersion) {
    return { known: false, apiKey, version, reason: `${type.name} version ${version} is not supported` }
  }
  let data: unknown
  try {
    data = type.decode(r, version)
  } catch (e) {
    if (e instanceof ProtocolDecodeError) {
      throw new MetadataRecordFormatError(`cannot decode ${type.name} v${version}: ${e.message}`)
    }
    throw e
  }
  if (r.remaining > 0) {
    throw new MetadataRecordFormatError(`${r.remaining} byte(s) of garbage after ${type.name} v${version}`)
  }
  return { known: true, record: { type: type.name, version, data } as MetadataRecord }
}

// Control records (their key layout is shared with the data log's transaction markers)
export { CONTROL_RECORD_KEY_VERSION, ControlRecordType, controlRecordType, encodeControlRecordKey } from "../log/control-records.ts"
