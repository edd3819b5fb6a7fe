/**
 * The group coordinator's records in `__consumer_offsets`, in Kafka's format: a record key is
 * `int16 record type` (the key's version, which names the record) followed by the key
 * message; a value is `int16 version` followed by the value message, or null for a
 * tombstone (CoordinatorRecordSerde). The versions written are the ones Kafka writes:
 * OffsetCommit key 1 / value 3 (value 1 when the commit carried a retention time),
 * GroupMetadata key 2 / value 3 (the highest non-flexible
 * versions, MetadataVersion.offsetCommitValueVersion / groupMetadataValueVersion).
 * Pure functions over the generated codecs; no I/O.
 */
import { Reader, Writer } from "../protocol/primitives.ts"
import { decodeGroupMetadataKey, encodeGroupMetadataKey } from "../protocol/generated/coordinator/GroupMetadataKey.ts"
import {
  decodeGroupMetadataValue,
  encodeGroupMetadataValue,
  type GroupMetadataValue,
  type GroupMetadataValueInit
} from "../protocol/generated/coordinator/GroupMetadataValue.ts"
import { decodeOffsetCommitKey, encodeOffsetCommitKey } from "../protocol/generated/coordinator/OffsetCommitKey.ts"
import {
  decodeOffsetCommitValue,
  encodeOffsetCommitValue,
  type OffsetCommitValue,
  type OffsetCommitValueInit
} from "../protocol/generated/coordinator/OffsetCommitValue.ts"

/** One coordinator record as it sits in a batch: version-prefixed key and value (null = tombstone). */
export interface CoordinatorRecord {
  readonly key: Uint8Array
  readonly value: Uint8Array | null
}

/** Record types (key versions) of the classic group coordinator. 0 is the pre-0.9 OffsetCommit key, read but not written. */
export const OFFSET_COMMIT_RECORD_TYPES: ReadonlySet<number> = new Set([0, 1])
export const OFFSET_COMMIT_KEY_VERSION = 1
export const OFFSET_COMMIT_VALUE_VERSION = 3
export const OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY = 1
export const GROUP_METADATA_RECORD_TYPE = 2
export const GROUP_METADATA_VALUE_VERSION = 3

const prefixed = (version: number, write: (w: Writer) => void): Uint8Array => {
  const w = new Writer(64)
  w.int16(version)
  write(w)
  return w.toBytes()
}

export const offsetCommitRecord = (
  group: string,
  topic: string,
  partition: number,
  value: OffsetCommitValueInit | null
): CoordinatorRecord => ({
  key: prefixed(OFFSET_COMMIT_KEY_VERSION, (w) => encodeOffsetCommitKey(w, OFFSET_COMMIT_KEY_VERSION, { group, topic, partition })),
  value: value === null ? null : offsetCommitValue(value)
})

/** Value v1 carries an explicit expire timestamp (MetadataVersion.offsetCommitValueVersion); otherwise v3. */
const offsetCommitValue = (value: OffsetCommitValueInit): Uint8Array => {
  const version = value.expireTimestamp !== undefined && value.expireTimestamp >= 0n ? OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY : OFFSET_COMMIT_VALUE_VERSION
  return prefixed(version, (w) => encodeOffsetCommitValue(w, version, value))
}

export const groupMetadataRecord = (group: string, value: GroupMetadataValueInit | null): CoordinatorRecord => ({
  key: prefixed(GROUP_METADATA_RECORD_TYPE, (w) => encodeGroupMetadataKey(w, GROUP_METADATA_RECORD_TYPE, { group })),
  value: value === null ? null : prefixed(GROUP_METADATA_VALUE_VERSION, (w) => encodeGroupMetadataValue(w, GROUP_METADATA_VALUE_VERSION, value))
})

/** The record type of a coordinator record key (its leading int16), or -1 when too short. */
export const recordTypeOf = (key: Uint8Array): number =>
  key.length < 2 ? -1 : new DataView(key.buffer, key.byteOffset, key.byteLength).getInt16(0)

export type DecodedGroupRecord =
  | { readonly _tag: "OffsetCommit"; readonly group: string; readonly topic: string; readonly partition: number; readonly value: OffsetCommitValue | null }
  | { readonly _tag: "GroupMetadata"; readonly group: string; readonly value: GroupMetadataValue | null }
  /** A record of another coordinator (KIP-848, share groups): left to whoever replays it. */
  | { readonly _tag: "Other"; readonly recordType: number }

/** Decodes a classic-group record; throws RangeError on malformed bytes. */
export const decodeGroupRecord = (record: CoordinatorRecord): DecodedGroupRecord => {
  const recordType = recordTypeOf(record.key)
  const key = new Reader(record.key, 2)
  const valueReader = (): { readonly r: Reader; readonly version: number } | null => {
    if (record.value === null) return null
    const r = new Reader(record.value)
    return { r, version: r.int16() }
  }
  if (OFFSET_COMMIT_RECORD_TYPES.has(recordType)) {
    const k = decodeOffsetCommitKey(key, recordType)
    const v = valueReader()
    return { _tag: "OffsetCommit", group: k.group, topic: k.topic, partition: k.partition, value: v === null ? null : decodeOffsetCommitValue(v.r, v.version) }
  }
  if (recordType === GROUP_METADATA_RECORD_TYPE) {
    const k = decodeGroupMetadataKey(key, recordType)
    const v = valueReader()
    return { _tag: "GroupMetadata", group: k.group, value: v === null ? null : decodeGroupMetadataValue(v.r, v.version) }
  }
  return { _tag: "Other", recordType }
}
