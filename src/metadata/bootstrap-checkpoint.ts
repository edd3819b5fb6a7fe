/**
 * `bootstrap.checkpoint`: the bootstrap metadata `kafka-storage.sh format` leaves in the
 * metadata log dir (Kafka's BootstrapDirectory), in the snapshot file format (header control
 * batch, metadata record batches, footer control batch). When the metadata log is empty at
 * start-up, its records are the first ones written (the metadata.version to start at);
 * without the file a default metadata.version is used, as Kafka's readFromConfiguration.
 */
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import * as path from "node:path"
import { readRecords } from "../log/record-batch.ts"
import { readBatchHeader } from "../log/record-batch.ts"
import type { MetadataRecordInit } from "../protocol/generated/metadata-records.ts"
import { batchesOf } from "./cluster-metadata-log.ts"
import { MetadataIoError, MetadataLogCorrupted } from "./errors.ts"
import { METADATA_VERSION_FEATURE } from "./image.ts"
import { decodeMetadataRecord, MetadataRecordFormatError } from "./record-serde.ts"
import { encodeSnapshot } from "./snapshot-file.ts"
import { writeFileAtomically } from "../log/checkpoint.ts"

export const BOOTSTRAP_CHECKPOINT_FILE = "bootstrap.checkpoint"

export interface BootstrapMetadata {
  readonly file: string
  readonly records: ReadonlyArray<MetadataRecordInit>
}

/** The records of `<metadataLogDir>/bootstrap.checkpoint`, or null when there is none. */
export const readBootstrapCheckpoint = (metadataLogDir: string, io: FileIoShape = nodeFileIo): BootstrapMetadata | null => {
  const file = path.join(metadataLogDir, BOOTSTRAP_CHECKPOINT_FILE)
  let bytes: Uint8Array
  try {
    bytes = io.readFileSync(file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null
    throw new MetadataIoError({ path: file, message: `cannot read ${file}: ${(e as Error).message}` })
  }
  const records: Array<MetadataRecordInit> = []
  try {
    for (const batch of batchesOf(bytes, file)) {
      if (readBatchHeader(batch.bytes, 0).isControl) continue
      for (const r of readRecords(batch.bytes)) {
        if (r.value === null) continue
        const decoded = decodeMetadataRecord(r.value)
        // A record type this broker does not know cannot be written back faithfully: skip it.
        if (decoded.known) records.push(decoded.record as MetadataRecordInit)
      }
    }
  } catch (e) {
    if (e instanceof MetadataLogCorrupted) throw e
    if (e instanceof MetadataRecordFormatError || e instanceof RangeError) {
      throw new MetadataLogCorrupted({ path: file, message: `${file}: ${e.message}` })
    }
    throw e
  }
  if (!records.some((r) => r.type === "FeatureLevelRecord" && (r.data as { name?: string }).name === METADATA_VERSION_FEATURE)) {
    throw new MetadataLogCorrupted({ path: file, message: `${file}: the bootstrap metadata sets no ${METADATA_VERSION_FEATURE}` })
  }
  return { file, records }
}

/** Writes `<metadataLogDir>/bootstrap.checkpoint` (through a temporary file and a rename). */
export const writeBootstrapCheckpoint = (metadataLogDir: string, records: ReadonlyArray<MetadataRecordInit>, now: number): string => {
  const file = path.join(metadataLogDir, BOOTSTRAP_CHECKPOINT_FILE)
  writeFileAtomically(file, encodeSnapshot({ records, epoch: 0, lastContainedLogTimestamp: 0, now }))
  return file
}
