/**
 * The `__cluster_metadata-0` partition directory on disk, in Kafka's own layout: v2 record
 * batches in `<base offset>.log` segments (with `.index` / `.timeindex`, by the log
 * package's LogSegment), snapshots `<offset>-<epoch>.checkpoint`, `quorum-state`,
 * `leader-epoch-checkpoint` and `partition.metadata`.
 *
 * This node is the only voter of its quorum, so it plays the KRaft leader: every start is an
 * election that bumps the epoch (quorum-state, leader-epoch-checkpoint, a LeaderChangeMessage
 * control batch), as a restarted single-voter Kafka does; every append is one batch with
 * partitionLeaderEpoch = that epoch and producerId -1, fsync'd before the call returns, so it
 * is committed when it returns.
 *
 * Plain synchronous code that throws MetadataLogCorrupted / MetadataIoError; the
 * MetadataLog service runs it under a single-writer lock.
 */
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import * as path from "node:path"
import { removeInBackground } from "../log/background-removal.ts"
import {
  DELETED_FILE_SUFFIX,
  filenamePrefixFromOffset,
  INDEX_FILE_SUFFIX,
  LogSegment,
  LOG_FILE_SUFFIX,
  offsetFromFilename,
  type SegmentConfig,
  TIME_INDEX_FILE_SUFFIX,
  TXN_INDEX_FILE_SUFFIX,
  UnreadableSegmentError
} from "../log/segment.ts"
import {
  COMPRESSION_NONE,
  isBatchCrcValid,
  LOG_OVERHEAD,
  MAGIC_V2,
  readBatchHeader,
  readRecords,
  RECORD_BATCH_OVERHEAD,
  viewOf,
  buildRecordBatch,
  type RecordInput
} from "../log/record-batch.ts"
import { encodeLeaderChangeMessage } from "../protocol/generated/message/LeaderChangeMessage.ts"
import { METADATA_RECORD_TYPES, type MetadataRecordInit } from "../protocol/generated/metadata-records.ts"
import { Writer } from "../protocol/primitives.ts"
import { fsyncDirectory } from "../log/checkpoint.ts"
import { MetadataIoError, MetadataLogCorrupted } from "./errors.ts"
import { EMPTY_IMAGE, type MetadataImage, MetadataImageBuilder } from "./image.ts"
import {
  DELETED_SNAPSHOT_SUFFIX,
  encodeSnapshot,
  PARTIAL_SNAPSHOT_SUFFIX,
  snapshotHeaderTimestamp,
  writeSnapshotAtomically,
  type WriteSnapshotHooks
} from "./snapshot-file.ts"
import {
  ControlRecordType,
  controlRecordType,
  decodeMetadataRecord,
  encodeControlRecordKey,
  encodeMetadataRecord,
  MetadataRecordFormatError
} from "./record-serde.ts"
import {
  type EpochEntry,
  METADATA_TOPIC_ID,
  parseSnapshotFileName,
  readLeaderEpochCheckpoint,
  readPartitionMetadata,
  readQuorumState,
  type SnapshotId,
  snapshotFileName,
  writeLeaderEpochCheckpoint,
  writePartitionMetadata,
  writeQuorumState
} from "./quorum-files.ts"

export const METADATA_PARTITION_DIR = "__cluster_metadata-0"

/**
 * Defaults of Kafka's metadata log: metadata.log.segment.bytes (1 GiB), with the index
 * settings of every Kafka log (index.interval.bytes 4096, segment.index.bytes 10 MiB).
 */
export const METADATA_SEGMENT_BYTES = 1024 * 1024 * 1024
/** metadata.log.segment.ms default (LogConfig.DEFAULT_SEGMENT_MS, 7 days). */
export const METADATA_SEGMENT_MS = 7 * 24 * 60 * 60 * 1000
const SEGMENT_CONFIG: SegmentConfig = { indexIntervalBytes: 4096, segmentIndexBytes: 10 * 1024 * 1024 }

/** LeaderChangeMessage version Kafka writes in its control batches (ControlRecordUtils). */
const LEADER_CHANGE_VERSION = 0

export interface OpenOptions {
  /** The metadata log dir (first of log.dirs); the partition directory is created inside it. */
  readonly logDir: string
  readonly nodeId: number
  readonly now: () => number
  readonly segmentBytes?: number
  /** metadata.log.segment.ms: roll a segment this long after its first batch (default 7 days). */
  readonly segmentMs?: number
  /** The file system the metadata log lives on (default: the real disk). */
  readonly io?: FileIoShape
}

/** Kafka's metadata log retention (KafkaMetadataLog.maybeClean): -1 disables either rule. */
export interface MetadataRetention {
  /** metadata.max.retention.bytes: log segments plus snapshots. */
  readonly maxBytes: number
  /** metadata.max.retention.ms: by each snapshot's lastContainedLogTimestamp. */
  readonly maxMs: number
}

interface SnapshotEntry {
  readonly id: SnapshotId
  readonly size: number
  /** lastContainedLogTimestamp of its header, read when first needed. */
  timestamp: number | null | undefined
}

export interface ReplayStats {
  readonly snapshot: SnapshotId | null
  readonly dataBatches: number
  readonly controlBatches: number
  readonly records: number
  /** No snapshot and no metadata record: a freshly formatted directory, to be bootstrapped. */
  readonly empty: boolean
  /** The replay ended inside a metadata transaction (its records are not in the image). */
  readonly openTransaction: boolean
}

export interface OpenResult {
  readonly log: ClusterMetadataLog
  readonly image: MetadataImage
  readonly stats: ReplayStats
  /** Problems recovered from (torn tails truncated, unreadable state files); log them. */
  readonly warnings: ReadonlyArray<string>
}

export interface AppendResult {
  readonly baseOffset: number
  readonly lastOffset: number
  /** The batch as written. */
  readonly batch: Uint8Array
}

const corrupted = (file: string, message: string) => new MetadataLogCorrupted({ path: file, message: `${file}: ${message}` })

/**
 * Replays one batch into `builder`. `minOffset` skips records already covered by a
 * snapshot; `useOffsets` is false for snapshot batches, whose offsets are not log offsets.
 */
const replayBatch = (
  bytes: Uint8Array,
  builder: MetadataImageBuilder,
  file: string,
  position: number,
  minOffset: number,
  useOffsets: boolean
): { control: boolean; records: number; firstControlType: number } => {
  const header = readBatchHeader(bytes, 0)
  if (header.compression !== COMPRESSION_NONE) {
    // KRaft writes uncompressed batches; a compressed one means a configuration we cannot read.
    throw corrupted(file, `batch at position ${position} is compressed (codec ${header.compression}); compressed metadata batches are not supported`)
  }
  let count = 0
  let firstControlType = -1
  try {
    for (const record of readRecords(bytes)) {
      if (header.isControl) {
        // LeaderChange, SnapshotHeader/Footer, KRaftVersion, Voters: raft bookkeeping, not metadata.
        if (firstControlType === -1) firstControlType = controlRecordType(record.key)
        if (useOffsets) builder.advanceTo(record.offset)
        continue
      }
      if (useOffsets && record.offset < minOffset) continue
      if (record.value === null) throw corrupted(file, `record at offset ${record.offset} has a null value`)
      const decoded = decodeMetadataRecord(record.value)
      if (decoded.known) builder.apply(decoded.record, useOffsets ? record.offset : undefined)
      else {
        const known = METADATA_RECORD_TYPES.get(decoded.apiKey)
        builder.retain(known === undefined ? `apiKey ${decoded.apiKey}` : `${known.name} v${decoded.version}`, record.value)
        if (useOffsets) builder.advanceTo(record.offset)
      }
      count++
    }
  } catch (e) {
    if (e instanceof MetadataLogCorrupted) throw e
    if (e instanceof MetadataRecordFormatError || e instanceof RangeError) {
      throw corrupted(file, `batch at position ${position} (base offset ${header.baseOffset}): ${e.message}`)
    }
    throw e
  }
  return { control: header.isControl, records: count, firstControlType }
}

/** Splits a snapshot or log file image into batches, checking framing and CRC. */
export const batchesOf = function*(bytes: Uint8Array, file: string): Generator<{ readonly bytes: Uint8Array; readonly position: number }> {
  const view = viewOf(bytes)
  let pos = 0
  while (pos < bytes.length) {
    if (bytes.length - pos < RECORD_BATCH_OVERHEAD) throw corrupted(file, `${bytes.length - pos} trailing bytes at ${pos} are too few for a batch`)
    const size = view.getInt32(pos + 8) + LOG_OVERHEAD
    const magic = view.getInt8(pos + 16)
    if (magic !== MAGIC_V2) throw corrupted(file, `batch at ${pos} has magic ${magic}`)
    if (size < RECORD_BATCH_OVERHEAD || pos + size > bytes.length) throw corrupted(file, `batch at ${pos} has invalid size ${size}`)
    if (!isBatchCrcValid(bytes, view, pos, size)) throw corrupted(file, `CRC mismatch in batch at ${pos}`)
    yield { bytes: bytes.subarray(pos, pos + size), position: pos }
    pos += size
  }
}

/**
 * Loads a snapshot: a control batch starting with SnapshotHeaderRecord, data batches, and a
 * control batch with SnapshotFooterRecord last. Kafka only renames a snapshot to
 * `.checkpoint` once it is complete, so anything else is corruption, not a torn write.
 */
const loadSnapshot = (file: string, builder: MetadataImageBuilder, io: FileIoShape): { batches: number; records: number } => {
  let bytes: Uint8Array
  try {
    bytes = io.readFileSync(file)
  } catch (e) {
    throw new MetadataIoError({ path: file, message: `cannot read snapshot ${file}: ${(e as Error).message}` })
  }
  let batches = 0
  let records = 0
  let first = true
  let lastControlType = -1
  for (const batch of batchesOf(bytes, file)) {
    const r = replayBatch(batch.bytes, builder, file, batch.position, 0, false)
    if (first && r.firstControlType !== ControlRecordType.SNAPSHOT_HEADER) throw corrupted(file, "snapshot does not begin with a SnapshotHeaderRecord")
    first = false
    lastControlType = -1
    if (r.control) {
      for (const rec of readRecords(batch.bytes)) lastControlType = controlRecordType(rec.key)
    }
    batches++
    records += r.records
  }
  if (first) throw corrupted(file, "snapshot is empty")
  if (lastControlType !== ControlRecordType.SNAPSHOT_FOOTER) throw corrupted(file, "snapshot does not end with a SnapshotFooterRecord")
  return { batches, records }
}

const fileSize = (file: string, io: FileIoShape): number => {
  try {
    return io.statSync(file).size
  } catch {
    return 0
  }
}

const compareSnapshotEntries = (a: SnapshotEntry, b: SnapshotEntry): number => a.id.offset - b.id.offset || a.id.epoch - b.id.epoch

const listDir = (dir: string, io: FileIoShape): Array<string> => {
  try {
    return io.readdirSync(dir)
  } catch (e) {
    throw new MetadataIoError({ path: dir, message: `cannot list ${dir}: ${(e as Error).message}` })
  }
}

export class ClusterMetadataLog {
  readonly dir: string
  readonly nodeId: number
  private readonly now: () => number
  private readonly segmentBytes: number
  private readonly segmentMs: number
  private segment: LogSegment
  private epochs: Array<EpochEntry>
  private quorumDataVersion: number
  /** Segments before the active one, oldest first. */
  private closedSegments: Array<{ readonly baseOffset: number; readonly size: number }>
  /** Frozen snapshots, oldest first. */
  private snapshots: Array<SnapshotEntry>
  /** Raft epoch this node leads in; every batch carries it. */
  epoch: number
  private closed = false
  private readonly io: FileIoShape
  /** A segment file was created since the directory was last fsynced. */
  private directoryDirty = true

  private constructor(
    dir: string,
    options: OpenOptions,
    segment: LogSegment,
    epoch: number,
    epochs: Array<EpochEntry>,
    quorumDataVersion: number,
    closedSegments: Array<{ readonly baseOffset: number; readonly size: number }>,
    snapshots: Array<SnapshotEntry>
  ) {
    this.dir = dir
    this.nodeId = options.nodeId
    this.io = options.io ?? nodeFileIo
    this.now = options.now
    this.segmentBytes = options.segmentBytes ?? METADATA_SEGMENT_BYTES
    this.segmentMs = options.segmentMs ?? METADATA_SEGMENT_MS
    this.segment = segment
    this.epoch = epoch
    this.epochs = epochs
    this.quorumDataVersion = quorumDataVersion
    this.closedSegments = closedSegments
    this.snapshots = snapshots
  }

  /** The first offset still in the log (records below it exist only in snapshots). */
  get logStartOffset(): number {
    return this.closedSegments[0]?.baseOffset ?? this.segment.baseOffset
  }

  /** Bytes of all log segments (`.log` files). */
  get logSizeBytes(): number {
    let n = this.segment.size
    for (const s of this.closedSegments) n += s.size
    return n
  }

  /** Frozen snapshots, oldest first. */
  get snapshotIds(): ReadonlyArray<SnapshotId> {
    return this.snapshots.map((s) => s.id)
  }

  /** Bytes of all frozen snapshots. */
  get snapshotSizeBytes(): number {
    let n = 0
    for (const s of this.snapshots) n += s.size
    return n
  }

  /** The epoch of the record at `offset` (the latest epoch starting at or before it). */
  epochAt(offset: number): number {
    let epoch = 0
    for (const e of this.epochs) if (e.startOffset <= offset) epoch = e.epoch
    return Math.max(epoch, offset >= this.nextOffset - 1 ? this.epoch : 0)
  }

  /**
   * Writes and freezes the snapshot `<image.offset + 1>-<epoch>.checkpoint` holding `records`
   * (the image as records). Returns its id, or null when a snapshot at that offset exists.
   */
  writeSnapshot(
    endOffset: number,
    records: ReadonlyArray<MetadataRecordInit | Uint8Array>,
    lastContainedLogTimestamp: number,
    hooks?: WriteSnapshotHooks
  ): SnapshotId | null {
    if (this.closed) throw new MetadataIoError({ path: this.dir, message: "the metadata log is closed" })
    if (endOffset > this.nextOffset || endOffset <= 0) throw new RangeError(`cannot snapshot at ${endOffset}: the log ends at ${this.nextOffset}`)
    const latest = this.snapshots[this.snapshots.length - 1]
    if (latest !== undefined && latest.id.offset >= endOffset) return null
    const id: SnapshotId = { offset: endOffset, epoch: this.epochAt(endOffset - 1) }
    const bytes = encodeSnapshot({ records, epoch: id.epoch, lastContainedLogTimestamp, now: this.now() })
    ioStep(this.dir, () => writeSnapshotAtomically(this.dir, snapshotFileName(id), bytes, hooks, this.io))
    this.snapshots.push({ id, size: bytes.length, timestamp: lastContainedLogTimestamp })
    return id
  }

  /**
   * Kafka's KafkaMetadataLog.maybeClean: while the log plus snapshots exceed
   * `retention.maxBytes`, or the oldest snapshot is older than `retention.maxMs`, drop the
   * oldest snapshot and move the log start to the next one, deleting the segments wholly
   * below it. The latest snapshot and the active segment always stay. Returns whether
   * anything was deleted.
   */
  maybeClean(now: number, retention: MetadataRetention): boolean {
    let cleaned = false
    if (retention.maxBytes >= 0) {
      while (this.snapshots.length >= 2 && this.logSizeBytes + this.snapshotSizeBytes > retention.maxBytes) {
        if (!this.deleteBeforeSnapshot(this.snapshots[1]!.id)) break
        cleaned = true
      }
    }
    if (retention.maxMs >= 0) {
      while (this.snapshots.length >= 2) {
        const oldest = this.snapshots[0]!
        if (oldest.timestamp === undefined) oldest.timestamp = this.readSnapshotTimestamp(oldest.id)
        if (oldest.timestamp === null || now - oldest.timestamp <= retention.maxMs) break
        if (!this.deleteBeforeSnapshot(this.snapshots[1]!.id)) break
        cleaned = true
      }
    }
    return cleaned
  }

  private readSnapshotTimestamp(id: SnapshotId): number | null {
    const file = path.join(this.dir, snapshotFileName(id))
    try {
      const fd = this.io.openSync(file, "r")
      try {
        const head = Buffer.alloc(RECORD_BATCH_OVERHEAD + 64)
        const n = this.io.readSync(fd, head, 0, head.length, 0)
        const size = n >= 12 ? head.readInt32BE(8) + LOG_OVERHEAD : 0
        if (size <= 0 || size > n) return null
        return snapshotHeaderTimestamp(head.subarray(0, size))
      } finally {
        this.io.closeSync(fd)
      }
    } catch {
      return null
    }
  }

  /**
   * Moves the log start offset up to `id.offset` (a frozen snapshot), deletes the segments
   * whose records all lie below it and every older snapshot. Snapshot files are renamed to
   * `.deleted` first, as Kafka does, so a crash mid-way leaves no half-deleted snapshot read
   * as valid.
   */
  private deleteBeforeSnapshot(id: SnapshotId): boolean {
    const index = this.snapshots.findIndex((s) => s.id.offset === id.offset && s.id.epoch === id.epoch)
    if (index <= 0) return false
    ioStep(this.dir, () => {
      // A closed segment ends where the next begins; it can go if that is at or below id.offset.
      while (this.closedSegments.length > 0) {
        const next = this.closedSegments[1]?.baseOffset ?? this.segment.baseOffset
        if (next > id.offset) break
        const gone = this.closedSegments.shift()!
        const prefix = path.join(this.dir, filenamePrefixFromOffset(gone.baseOffset))
        for (const suffix of [LOG_FILE_SUFFIX, INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX, TXN_INDEX_FILE_SUFFIX]) {
          this.io.rmSync(prefix + suffix, { force: true })
        }
      }
      const start = this.logStartOffset
      if (this.epochs.length > 0 && this.epochs[0]!.startOffset < start) {
        // Kafka's truncateFromStart: the epoch covering the new start now begins there.
        let covering = 0
        for (let i = 0; i < this.epochs.length; i++) if (this.epochs[i]!.startOffset <= start) covering = i
        this.epochs = [{ epoch: this.epochs[covering]!.epoch, startOffset: start }, ...this.epochs.slice(covering + 1)]
        writeLeaderEpochCheckpoint(this.dir, this.epochs, this.io)
      }
      for (const old of this.snapshots.slice(0, index)) {
        const file = path.join(this.dir, snapshotFileName(old.id))
        const deleted = file.slice(0, -".checkpoint".length) + DELETED_SNAPSHOT_SUFFIX
        if (this.io.existsSync(file)) this.io.renameSync(file, deleted)
        this.io.rmSync(deleted, { force: true })
      }
      fsyncDirectory(this.dir, this.io)
    })
    this.snapshots = this.snapshots.slice(index)
    return true
  }

  /** Offset the next record gets (the log end offset). */
  get nextOffset(): number {
    return this.segment.nextOffset
  }

  /**
   * Opens (creating if needed) the partition directory, truncates a torn tail, loads the
   * latest snapshot and replays the log after it. The epoch is not bumped yet: call
   * `becomeLeader()`.
   */
  static open(options: OpenOptions): OpenResult {
    const dir = path.join(options.logDir, METADATA_PARTITION_DIR)
    const warnings: Array<string> = []
    const io = options.io ?? nodeFileIo
    try {
      if (!io.existsSync(dir)) {
        io.mkdirSync(dir, { recursive: true })
        // The new directory's entry must survive a power loss along with what is fsynced into it.
        fsyncDirectory(options.logDir, io)
      }
    } catch (e) {
      throw new MetadataIoError({ path: dir, message: `cannot create ${dir}: ${(e as Error).message}` })
    }
    const names: Array<string> = []
    for (const name of listDir(dir, io)) {
      // Kafka's recoverSnapshots: a `.part` snapshot was never frozen (a crash while writing
      // it), a `.deleted` one was already given up; neither is read.
      if (name.endsWith(PARTIAL_SNAPSHOT_SUFFIX) || name.endsWith(DELETED_SNAPSHOT_SUFFIX)) {
        ioStep(dir, () => io.rmSync(path.join(dir, name), { force: true }))
        warnings.push(`deleted unfinished or discarded snapshot file ${path.join(dir, name)}`)
        continue
      }
      // A segment deleted before a crash or a stop removed its file (LogSegment.deleteFiles).
      if (name.endsWith(LOG_FILE_SUFFIX + DELETED_FILE_SUFFIX)) {
        removeInBackground(io, path.join(dir, name))
        continue
      }
      names.push(name)
    }

    const builder = new MetadataImageBuilder(EMPTY_IMAGE)
    let snapshot: SnapshotId | null = null
    for (const name of names) {
      const id = parseSnapshotFileName(name)
      if (id !== null && (snapshot === null || id.offset > snapshot.offset || (id.offset === snapshot.offset && id.epoch > snapshot.epoch))) {
        snapshot = id
      }
    }
    let records = 0
    let dataBatches = 0
    let controlBatches = 0
    let snapshotRecords = 0
    if (snapshot !== null) {
      const loaded = loadSnapshot(path.join(dir, snapshotFileName(snapshot)), builder, io)
      records += loaded.records
      snapshotRecords = loaded.records
      builder.advanceTo(snapshot.offset - 1)
    }
    const snapshotEnd = snapshot?.offset ?? 0

    const baseOffsets = names
      .filter((n) => n.endsWith(LOG_FILE_SUFFIX))
      .map((n) => offsetFromFilename(n))
      .filter((o): o is number => o !== null)
      .sort((a, b) => a - b)

    const now = options.now()
    let lastEpoch = snapshot?.epoch ?? 0
    let active: LogSegment | null = null
    let expectedBase = -1
    try {
      for (let i = 0; i < baseOffsets.length; i++) {
        const base = baseOffsets[i]!
        if (active !== null) {
          active.close()
          active = null
        }
        const segment = ioStep(dir, () => LogSegment.open(dir, base, SEGMENT_CONFIG, now, io))
        active = segment
        const file = segment.logPath
        if (i === 0 && base > snapshotEnd) {
          throw corrupted(file, `the log starts at offset ${base} but ${snapshot === null ? "there is no snapshot" : `the latest snapshot ends at ${snapshotEnd}`}; records before it are missing`)
        }
        if (expectedBase >= 0 && base !== expectedBase) {
          throw corrupted(file, `segment starts at offset ${base}, but the previous segment ends at ${expectedBase}`)
        }
        const recovery = ioStep(dir, () => segment.recover())
        if (recovery.warning !== null) warnings.push(`torn metadata log tail: ${recovery.warning}`)
        const isLast = i === baseOffsets.length - 1
        if (recovery.truncatedBytes > 0 && !isLast) {
          // Later segments continue from records that are gone; Kafka deletes them as well.
          for (const later of baseOffsets.slice(i + 1)) {
            const s = ioStep(dir, () => LogSegment.open(dir, later, SEGMENT_CONFIG, now, io))
            s.deleteFiles()
            warnings.push(`deleted metadata log segment at offset ${later}, which followed a truncated segment`)
          }
          baseOffsets.length = i + 1
        }
        const outcome = segment.walk(0, (buf, _view, at, filePos, size) => {
          // A copy: the walk reuses its buffer, and decoded records may keep views into it.
          const bytes = new Uint8Array(buf.subarray(at, at + size))
          const header = readBatchHeader(bytes, 0)
          if (header.lastOffset < snapshotEnd) return undefined
          const r = replayBatch(bytes, builder, file, filePos, snapshotEnd, true)
          if (r.control) controlBatches++
          else dataBatches++
          records += r.records
          if (header.partitionLeaderEpoch > lastEpoch) lastEpoch = header.partitionLeaderEpoch
          return undefined
        }, true)
        if (outcome.status !== "end") throw corrupted(file, `unreadable after recovery: ${outcome.detail}`)
        expectedBase = segment.nextOffset
      }

      if (active !== null && active.nextOffset < snapshotEnd) {
        // The snapshot is ahead of the log (Kafka's truncateFullyAndStartAt): start over at its end.
        warnings.push(`metadata log ends at ${active.nextOffset}, before the snapshot at ${snapshotEnd}; starting the log at ${snapshotEnd}`)
        for (const base of baseOffsets) {
          if (base === active.baseOffset) continue
          ioStep(dir, () => LogSegment.open(dir, base, SEGMENT_CONFIG, now, io)).deleteFiles()
        }
        active.deleteFiles()
        active = null
      }
      if (active === null) active = ioStep(dir, () => LogSegment.create(dir, snapshotEnd, SEGMENT_CONFIG, now, io))
    } catch (e) {
      active?.closeQuietly()
      throw e
    }
    const segment = active
    const liveBases = baseOffsets.filter((b) => b < segment.baseOffset && io.existsSync(path.join(dir, filenamePrefixFromOffset(b) + LOG_FILE_SUFFIX)))
    const closedSegments = liveBases.map((b) => ({ baseOffset: b, size: fileSize(path.join(dir, filenamePrefixFromOffset(b) + LOG_FILE_SUFFIX), io) }))
    const logStartOffset = closedSegments[0]?.baseOffset ?? segment.baseOffset

    // Snapshots below the log start offset describe records no longer needed (Kafka deletes them).
    const snapshots: Array<SnapshotEntry> = []
    for (const name of names) {
      const id = parseSnapshotFileName(name)
      if (id === null) continue
      const file = path.join(dir, name)
      if (id.offset < logStartOffset && (snapshot === null || id.offset < snapshot.offset)) {
        ioStep(dir, () => io.rmSync(file, { force: true }))
        continue
      }
      snapshots.push({ id, size: fileSize(file, io), timestamp: undefined })
    }
    snapshots.sort(compareSnapshotEntries)

    const quorum = readQuorumState(dir, io)
    if (quorum.problem !== null) warnings.push(`ignoring unreadable quorum-state: ${quorum.problem}`)
    const checkpoint = readLeaderEpochCheckpoint(dir, io)
    if (checkpoint.problem !== null) warnings.push(`ignoring unreadable leader-epoch-checkpoint: ${checkpoint.problem}`)
    // Entries at or past the log end describe truncated records (Kafka's truncateFromEnd).
    const epochs = checkpoint.entries.filter((e) => e.startOffset < segment.nextOffset)
    for (const e of epochs) if (e.epoch > lastEpoch) lastEpoch = e.epoch
    if (quorum.state !== null && quorum.state.leaderEpoch > lastEpoch) lastEpoch = quorum.state.leaderEpoch

    const partitionMetadata = readPartitionMetadata(dir, io)
    if (partitionMetadata === null) ioStep(dir, () => writePartitionMetadata(dir, METADATA_TOPIC_ID, io))
    else if (partitionMetadata.topicId !== METADATA_TOPIC_ID) {
      warnings.push(`partition.metadata names topic id ${partitionMetadata.topicId}, expected ${METADATA_TOPIC_ID}; left as is`)
    }

    const openTransaction = builder.inTransaction
    const image = builder.build()
    const log = new ClusterMetadataLog(dir, options, segment, lastEpoch, [...epochs], quorum.state?.dataVersion ?? 0, closedSegments, snapshots)
    return {
      log,
      image,
      warnings,
      stats: {
        snapshot,
        dataBatches,
        controlBatches,
        records,
        // Control batches alone (an election before the bootstrap records, or the
        // 0-0.checkpoint of voters `kafka-storage.sh format --standalone` writes) still count
        // as empty: the bootstrap records are yet to be written.
        empty: snapshotRecords === 0 && dataBatches === 0,
        openTransaction
      }
    }
  }

  /**
   * Wins the election of the next epoch, as the only voter: persists quorum-state, starts
   * the epoch in leader-epoch-checkpoint and appends the LeaderChangeMessage.
   */
  becomeLeader(): AppendResult {
    const epoch = this.epoch + 1
    const startOffset = this.nextOffset
    ioStep(this.dir, () => {
      writeQuorumState(this.dir, { leaderId: this.nodeId, leaderEpoch: epoch, voters: [this.nodeId], dataVersion: this.quorumDataVersion }, this.io)
      this.epochs = [...this.epochs.filter((e) => e.epoch < epoch && e.startOffset < startOffset), { epoch, startOffset }]
      writeLeaderEpochCheckpoint(this.dir, this.epochs, this.io)
    })
    this.epoch = epoch
    const w = new Writer(32)
    encodeLeaderChangeMessage(w, LEADER_CHANGE_VERSION, {
      version: LEADER_CHANGE_VERSION,
      leaderId: this.nodeId,
      voters: [{ voterId: this.nodeId }],
      grantingVoters: [{ voterId: this.nodeId }]
    })
    return this.appendBatch([{ key: encodeControlRecordKey(ControlRecordType.LEADER_CHANGE), value: w.toBytes() }], true)
  }

  /**
   * Appends the records as one batch, written to the file but not yet durable: the caller
   * commits it once `forceAppended` reports the force done, and appends nothing meanwhile.
   */
  appendRecords(records: ReadonlyArray<MetadataRecordInit>): AppendResult {
    if (records.length === 0) throw new RangeError("a metadata batch needs at least one record")
    return this.appendBatch(records.map((r) => ({ key: null, value: encodeMetadataRecord(r) })), false, false)
  }

  /**
   * Forces what was appended: the log file's fsync on the thread pool, so that the event loop
   * serves the broker's connections while the disk, busy with their writes, takes tens or
   * hundreds of milliseconds (Kafka's Raft log is forced on its own I/O thread too). After a
   * roll, the directory is fsynced first, here (once per metadata.log.segment.bytes).
   */
  forceAppended(done: (error: MetadataIoError | MetadataLogCorrupted | null) => void): void {
    try {
      ioStep(this.dir, () => {
        this.forceDirectory()
        this.segment.syncLogFileLater((e) => done(e === null ? null : ioFailure(this.dir, e)))
      })
    } catch (e) {
      done(e as MetadataIoError | MetadataLogCorrupted)
    }
  }

  /** A new segment's name is durable only once its directory is fsynced (Kafka's LocalLog.flush). */
  private forceDirectory(): void {
    if (!this.directoryDirty) return
    fsyncDirectory(this.dir, this.io)
    this.directoryDirty = false
  }

  private appendBatch(records: ReadonlyArray<RecordInput>, control: boolean, force = true): AppendResult {
    if (this.closed) throw new MetadataIoError({ path: this.dir, message: "the metadata log is closed" })
    const baseOffset = this.nextOffset
    const timestamp = this.now()
    const batch = buildRecordBatch({
      baseOffset,
      records,
      timestamp,
      partitionLeaderEpoch: this.epoch,
      isControl: control
    })
    ioStep(this.dir, () => {
      this.maybeRoll(batch.length, timestamp)
      this.segment.append(batch, viewOf(batch), [0])
      if (!force) return
      // Only the records need to be durable: every segment is recovered (its indexes rebuilt)
      // when the metadata log opens.
      this.segment.syncLogFile()
      this.forceDirectory()
    })
    return { baseOffset, lastOffset: baseOffset + records.length - 1, batch }
  }

  /**
   * Kafka's shouldRoll, with metadata.log.segment.bytes / .ms. The age is counted from the
   * segment's first batch, but not from before this process opened it: a segment written
   * long ago (a directory copied from elsewhere, a fixture) is not rolled on its first append.
   */
  private maybeRoll(incoming: number, timestamp: number): void {
    const s = this.segment
    if (s.size === 0) return
    const waited = timestamp - Math.max(s.firstBatchTimestamp, s.created)
    if (s.size + incoming <= this.segmentBytes && waited <= this.segmentMs && !s.indexesFull() && s.canHoldOffset(s.nextOffset + 1)) return
    const next = LogSegment.create(this.dir, s.nextOffset, SEGMENT_CONFIG, this.now(), this.io)
    this.directoryDirty = true
    s.close()
    this.closedSegments.push({ baseOffset: s.baseOffset, size: s.size })
    this.segment = next
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    ioStep(this.dir, () => this.segment.close())
  }
}

/** Runs file-system work, turning anything it throws (other than our own errors) into MetadataIoError. */
const ioStep = <A>(where: string, f: () => A): A => {
  try {
    return f()
  } catch (e) {
    throw ioFailure(where, e)
  }
}

const ioFailure = (where: string, e: unknown): MetadataIoError | MetadataLogCorrupted => {
  if (e instanceof MetadataLogCorrupted || e instanceof MetadataIoError) return e
  if (e instanceof UnreadableSegmentError) return new MetadataLogCorrupted({ path: where, message: e.message })
  return new MetadataIoError({ path: where, message: `metadata log I/O failed in ${where}: ${(e as Error).message ?? String(e)}` })
}
