/**
 * KRaft snapshot files, in Kafka's format (raft's RecordsSnapshotWriter over a
 * FileRawSnapshotWriter): v2 record batches back to back, offsets restarting at 0,
 * partitionLeaderEpoch = the snapshot's epoch, producer id -1, uncompressed:
 *
 *   control batch  SnapshotHeaderRecord (version 0, lastContainedLogTimestamp)
 *   data batches   the metadata records of the image
 *   control batch  SnapshotFooterRecord (version 0)
 *
 * (kraft.version 0, a static quorum: no KRaftVersion / Voters control records.) The same
 * layout is `bootstrap.checkpoint`, the bootstrap metadata `kafka-storage.sh format` writes.
 *
 * A snapshot is written to `<offset>-<epoch>-<random>.checkpoint.part`, fsync'd, then renamed
 * to `<offset>-<epoch>.checkpoint` ("frozen"), so a crash leaves either no new snapshot or a
 * complete one; leftover `.part` files are deleted at start-up, as Kafka does.
 */
import { randomBytes } from "node:crypto"
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import * as path from "node:path"
import { fsyncDirectory } from "../log/checkpoint.ts"
import { buildRecordBatch, readRecords, type RecordInput } from "../log/record-batch.ts"
import { decodeSnapshotHeaderRecord, encodeSnapshotHeaderRecord } from "../protocol/generated/message/SnapshotHeaderRecord.ts"
import { encodeSnapshotFooterRecord } from "../protocol/generated/message/SnapshotFooterRecord.ts"
import type { MetadataRecordInit } from "../protocol/generated/metadata-records.ts"
import { Reader, Writer } from "../protocol/primitives.ts"
import { ControlRecordType, controlRecordType, encodeControlRecordKey, encodeMetadataRecord } from "./record-serde.ts"

/** ControlRecordUtils.SNAPSHOT_HEADER_CURRENT_VERSION / SNAPSHOT_FOOTER_CURRENT_VERSION. */
const SNAPSHOT_CONTROL_VERSION = 0

/**
 * Bytes of record values per data batch: KafkaRaftClient's MAX_BATCH_SIZE_BYTES (8 MiB),
 * the batch size its snapshot writer uses.
 */
const MAX_BATCH_BYTES = 8 * 1024 * 1024

export const PARTIAL_SNAPSHOT_SUFFIX = ".checkpoint.part"
export const DELETED_SNAPSHOT_SUFFIX = ".checkpoint.deleted"

export interface SnapshotContent {
  /** Typed records, or framed record values written as they are. */
  readonly records: ReadonlyArray<MetadataRecordInit | Uint8Array>
  /** The raft epoch of the last record the snapshot contains. */
  readonly epoch: number
  /** Timestamp of the last batch the snapshot contains (SnapshotHeaderRecord). */
  readonly lastContainedLogTimestamp: number
  /** Batch timestamps (Kafka writes the wall clock when the snapshot is made). */
  readonly now: number
}

/** The bytes of a snapshot file. */
export const encodeSnapshot = (content: SnapshotContent): Uint8Array => {
  const batches: Array<Uint8Array> = []
  let offset = 0
  const add = (records: ReadonlyArray<RecordInput>, isControl: boolean): void => {
    batches.push(buildRecordBatch({ baseOffset: offset, records, timestamp: content.now, partitionLeaderEpoch: content.epoch, isControl }))
    offset += records.length
  }

  const header = new Writer(16)
  encodeSnapshotHeaderRecord(header, SNAPSHOT_CONTROL_VERSION, {
    version: SNAPSHOT_CONTROL_VERSION,
    lastContainedLogTimestamp: BigInt(content.lastContainedLogTimestamp)
  })
  add([{ key: encodeControlRecordKey(ControlRecordType.SNAPSHOT_HEADER), value: header.toBytes() }], true)

  let pending: Array<RecordInput> = []
  let pendingBytes = 0
  for (const record of content.records) {
    const value = record instanceof Uint8Array ? record : encodeMetadataRecord(record)
    if (pending.length > 0 && pendingBytes + value.length > MAX_BATCH_BYTES) {
      add(pending, false)
      pending = []
      pendingBytes = 0
    }
    pending.push({ key: null, value })
    pendingBytes += value.length
  }
  if (pending.length > 0) add(pending, false)

  const footer = new Writer(8)
  encodeSnapshotFooterRecord(footer, SNAPSHOT_CONTROL_VERSION, { version: SNAPSHOT_CONTROL_VERSION })
  add([{ key: encodeControlRecordKey(ControlRecordType.SNAPSHOT_FOOTER), value: footer.toBytes() }], true)

  const out = new Uint8Array(batches.reduce((n, b) => n + b.length, 0))
  let pos = 0
  for (const b of batches) {
    out.set(b, pos)
    pos += b.length
  }
  return out
}

/** lastContainedLogTimestamp from the SnapshotHeaderRecord of a snapshot's first batch, or null. */
export const snapshotHeaderTimestamp = (firstBatch: Uint8Array): number | null => {
  for (const record of readRecords(firstBatch)) {
    if (controlRecordType(record.key) !== ControlRecordType.SNAPSHOT_HEADER || record.value === null) return null
    return Number(decodeSnapshotHeaderRecord(new Reader(record.value), SNAPSHOT_CONTROL_VERSION).lastContainedLogTimestamp)
  }
  return null
}

export interface WriteSnapshotHooks {
  /** Called once the `.part` file is complete and fsync'd, before the rename (crash tests). */
  readonly onPartWritten?: (partFile: string) => void
}

/**
 * Writes `bytes` as `dir/name` through a `.part` file and a rename, fsyncing file and
 * directory. `name` must end in `.checkpoint`.
 */
export const writeSnapshotAtomically = (dir: string, name: string, bytes: Uint8Array, hooks?: WriteSnapshotHooks, io: FileIoShape = nodeFileIo): string => {
  const stem = name.slice(0, -".checkpoint".length)
  const part = path.join(dir, `${stem}-${randomBytes(8).readBigUInt64BE().toString()}${PARTIAL_SNAPSHOT_SUFFIX}`)
  const fd = io.openSync(part, "wx", 0o644)
  try {
    let pos = 0
    while (pos < bytes.length) pos += io.writeSync(fd, bytes, pos, bytes.length - pos)
    io.fsyncSync(fd)
  } catch (e) {
    io.closeSync(fd)
    io.rmSync(part, { force: true })
    throw e
  }
  io.closeSync(fd)
  hooks?.onPartWritten?.(part)
  const final = path.join(dir, name)
  io.renameSync(part, final)
  fsyncDirectory(dir, io)
  return final
}
