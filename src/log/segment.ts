/**
 * A log segment: `<baseOffset, 20 digits>.log` with raw v2 batches back to back, plus its
 * `.index` and `.timeindex`. The segment keeps its log file descriptor open and tracks the
 * write position in memory, so an append is one positioned write.
 */
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import * as path from "node:path"
import { OffsetIndex } from "./offset-index.ts"
import {
  batchSizeAt,
  baseOffsetAt,
  computeBatchCrc,
  CRC_OFFSET,
  HEADER_SIZE_UP_TO_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAGIC_V2,
  maxTimestampAt,
  NO_TIMESTAMP,
  PARTITION_LEADER_EPOCH_OFFSET,
  RECORD_BATCH_OVERHEAD
} from "./record-batch.ts"
import { acquireReadBuffer, releaseReadBuffers } from "./read-buffers.ts"
import { type Deferred, type LeaderEpochCache, syncFileIfExists } from "./checkpoint.ts"
import { removeInBackground } from "./background-removal.ts"
import { deleteIfExists, readIndexFileEnd } from "./index-file.ts"
import type { IndexResidency, ResidentIndexes } from "./index-residency.ts"
import { OFFSET_INDEX_ENTRY_SIZE } from "./offset-index.ts"
import { getInt64 } from "./record-batch.ts"
import { TIME_INDEX_ENTRY_SIZE, TimeIndex } from "./time-index.ts"
import { TransactionIndex } from "./transaction-index.ts"

export const LOG_FILE_SUFFIX = ".log"
export const INDEX_FILE_SUFFIX = ".index"
export const TIME_INDEX_FILE_SUFFIX = ".timeindex"
export const TXN_INDEX_FILE_SUFFIX = ".txnindex"
/** What a deleted segment's files are renamed to until they are removed (Kafka's suffix). */
export const DELETED_FILE_SUFFIX = ".deleted"

const INT32_MAX = 0x7fffffff

/** Where consumers' reads ended, remembered per segment (a few consumers reading on). */
const READ_CURSORS = 4

/** Kafka's file name stem: the base offset zero-padded to 20 digits. */
export const filenamePrefixFromOffset = (offset: number): string => String(offset).padStart(20, "0")

export const offsetFromFilename = (name: string): number | null => {
  const m = /^(\d{20})\./.exec(name)
  return m === null ? null : Number(m[1])
}

export interface SegmentConfig {
  readonly indexIntervalBytes: number
  /** segment.index.bytes: caps the entries of each index; a full index forces a roll. */
  readonly segmentIndexBytes: number
}

/** Signals a file that cannot be read as a log (e.g. legacy message formats). */
export class UnreadableSegmentError extends Error {
  override readonly name = "UnreadableSegmentError"
}

// ---------------------------------------------------------------------------------------
// Walking the batches of a file
// ---------------------------------------------------------------------------------------

export type ScanStatus = "end" | "stopped" | "torn" | "corrupt" | "legacy"

export interface ScanOutcome {
  readonly status: ScanStatus
  /** File position where the walk ended: end of the last visited batch, or the stop batch. */
  readonly position: number
  readonly detail: string
}

/**
 * `visit(buf, view, at, filePosition, size)` sees each batch; `buf[at..]` holds at least
 * the header, or the whole batch when `wholeBatch`. Returning a string stops the walk with
 * status "corrupt" (the batch is not consumed); returning true stops with "stopped".
 */
export type BatchVisitor = (
  buf: Uint8Array,
  view: DataView,
  at: number,
  filePosition: number,
  size: number
) => boolean | string | undefined

/** Read-ahead when whole batches are needed, and when only headers are. */
const SCAN_CHUNK = 64 * 1024
const HEADER_CHUNK = 8 * 1024
/** Scratch buffer reused by every walk (walks never nest: visitors do not start another). */
let scratch: Uint8Array = Buffer.allocUnsafeSlow(SCAN_CHUNK)

export const scanBatches = (
  fd: number,
  start: number,
  end: number,
  wholeBatch: boolean,
  visit: BatchVisitor,
  io: FileIoShape = nodeFileIo
): ScanOutcome => {
  let buf = scratch
  let view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let bufStart = 0
  let bufLen = 0
  const readAhead = wholeBatch ? SCAN_CHUNK : HEADER_CHUNK
  // Makes buf cover [pos, pos + n); false if the file ends first.
  const ensure = (pos: number, n: number): boolean => {
    if (pos >= bufStart && pos + n <= bufStart + bufLen) return true
    if (n > buf.length) {
      buf = Buffer.allocUnsafeSlow(n)
      view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
      // Keep moderately grown buffers; a one-off huge batch should not pin its memory.
      if (n <= 8 * SCAN_CHUNK) scratch = buf
    }
    bufStart = pos
    bufLen = 0
    const want = Math.min(Math.max(n, readAhead), end - pos)
    while (bufLen < want) {
      const r = io.readSync(fd, buf, bufLen, want - bufLen, pos + bufLen)
      if (r === 0) break
      bufLen += r
    }
    return bufLen >= n
  }
  let pos = start
  while (pos < end) {
    const remaining = end - pos
    if (remaining < HEADER_SIZE_UP_TO_MAGIC || !ensure(pos, Math.min(RECORD_BATCH_OVERHEAD, remaining))) {
      return { status: "torn", position: pos, detail: `${remaining} bytes at ${pos} are too few for a batch header` }
    }
    const at = pos - bufStart
    const magic = view.getInt8(at + MAGIC_OFFSET)
    const size = batchSizeAt(view, at)
    if (magic !== MAGIC_V2) {
      if (magic === 0 || magic === 1) {
        return { status: "legacy", position: pos, detail: `batch at ${pos} uses message format v${magic}` }
      }
      return { status: "corrupt", position: pos, detail: `invalid magic ${magic} at ${pos}` }
    }
    if (size < RECORD_BATCH_OVERHEAD) return { status: "corrupt", position: pos, detail: `invalid batch size ${size} at ${pos}` }
    if (size > remaining) return { status: "torn", position: pos, detail: `batch of ${size} bytes at ${pos} is cut off at ${end}` }
    if (remaining < RECORD_BATCH_OVERHEAD) return { status: "torn", position: pos, detail: `header at ${pos} is cut off` }
    if (wholeBatch && !ensure(pos, size)) return { status: "torn", position: pos, detail: `batch at ${pos} is cut off` }
    const r = visit(buf, view, pos - bufStart, pos, size)
    if (typeof r === "string") return { status: "corrupt", position: pos, detail: r }
    if (r === true) return { status: "stopped", position: pos, detail: "" }
    pos += size
  }
  return { status: "end", position: pos, detail: "" }
}

// ---------------------------------------------------------------------------------------
// Segment
// ---------------------------------------------------------------------------------------

/**
 * The most one write call is given (a single larger buffer goes whole). On the bench's VM a
 * buffered write of 3-4 MB or more could cost ten times the CPU per byte of 1-2 MB ones, for
 * seconds (the kernel copying into page-cache folios of a size it had to make first), which a
 * broker behind on its input, writing a whole turn's appends at once, kept running into;
 * 1 MiB writes cost what 2 MiB ones do.
 */
export const WRITE_SLICE_BYTES = 1024 * 1024

/** How many of `buffers` (at least one) one write takes. */
const sliceLength = (buffers: ReadonlyArray<Uint8Array>): number => {
  let bytes = buffers[0]!.length
  let n = 1
  while (n < buffers.length && bytes + buffers[n]!.length <= WRITE_SLICE_BYTES) bytes += buffers[n++]!.length
  return n
}

/**
 * Writes `buffers` back to back at `position`, in writevs of at most WRITE_SLICE_BYTES.
 * On failure the file is cut back to `position` and the error rethrown.
 */
const writeAt = (io: FileIoShape, fd: number, buffers: ReadonlyArray<Uint8Array>, position: number): void => {
  let rest = buffers
  let at = position
  try {
    while (rest.length > 0) {
      const slice = sliceLength(rest)
      let n = slice === 1 ? io.writeSync(fd, rest[0]!, 0, rest[0]!.length, at) : io.writevSync(fd, slice === rest.length ? rest : rest.slice(0, slice), at)
      at += n
      let done = 0
      while (done < rest.length && n >= rest[done]!.length) n -= rest[done++]!.length
      if (done === 0 && n === 0) throw Object.assign(new Error(`write at ${at} stored nothing`), { code: "EIO" })
      rest = rest.slice(done)
      if (n > 0) rest = [rest[0]!.subarray(n), ...rest.slice(1)]
    }
  } catch (e) {
    try {
      io.ftruncateSync(fd, position)
    } catch {
      // the original error is the one worth reporting
    }
    throw e
  }
}

const EMPTY_READ = new Uint8Array(0)

export interface FoundBatch {
  readonly position: number
  readonly size: number
  readonly baseOffset: number
  readonly lastOffset: number
  readonly maxTimestamp: number
}

/** What opening a segment needs of its indexes: their last entries. */
interface IndexEnds {
  readonly offsetEntries: number
  /** The last offset-index entry's offset and position (base offset and 0 when none). */
  readonly lastIndexedOffset: number
  readonly lastIndexedPosition: number
  readonly timeEntries: number
  /** The last time-index entry (NO_TIMESTAMP and the base offset when none). */
  readonly lastTimestamp: number
  readonly lastTimestampOffset: number
}

export interface RecoveryResult {
  /** Bytes cut from the end of the file; 0 when the whole file was valid. */
  readonly truncatedBytes: number
  readonly warning: string | null
}

export class LogSegment implements ResidentIndexes {
  readonly baseOffset: number
  readonly dir: string
  readonly logPath: string
  readonly offsetIndexPath: string
  readonly timeIndexPath: string
  readonly config: SegmentConfig
  /** Null while a sealed segment's entries are not in memory (see index-residency.ts). */
  private loadedOffsetIndex: OffsetIndex | null
  private loadedTimeIndex: TimeIndex | null
  /**
   * Set when the segment is sealed (no more appends): its indexes then count against this
   * budget and may leave memory, to be read again from their files on next use.
   */
  private residency: IndexResidency | null = null
  /** Index files written since our last fsync of them while their entries were out of memory. */
  private unloadedIndexesUnsynced = false
  /** The files' entry counts while their entries are out of memory. */
  private unloadedOffsetEntries = 0
  private unloadedTimeEntries = 0
  /** Aborted transactions whose markers are in this segment (file created on first entry). */
  readonly txnIndex: TransactionIndex
  private fd: number
  /** Bytes of valid batches in the file; appends go here. */
  size: number
  /** Offset after the last batch of this segment. */
  nextOffset: number
  /** Largest batch maxTimestamp so far and the last offset of the first batch carrying it. */
  maxTimestamp = NO_TIMESTAMP
  offsetOfMaxTimestamp = -1
  /** maxTimestamp of the first batch: Kafka measures segment.ms from it. */
  firstBatchTimestamp = NO_TIMESTAMP
  /** Injected-clock time this segment object was created or opened. */
  readonly created: number
  private bytesSinceLastIndexEntry = 0
  /**
   * Batches appended with `deferWrite` and not yet written: their bytes lie in memory at the
   * end of the segment (`size` counts them) until `writePending` writes them in one call.
   */
  private pending: Array<Uint8Array> | null = null
  private pendingBytes = 0
  /**
   * Where recent reads of whole batches ended: the offset a consumer asks for next and the
   * position of the batch starting there, so that reading on needs no index lookup and no
   * header scan (`readOn`): one positioned read per fetch, as a plain file reader does.
   */
  private readonly cursorOffsets: Array<number> = new Array<number>(READ_CURSORS).fill(-1)
  private readonly cursorPositions: Array<number> = new Array<number>(READ_CURSORS).fill(-1)
  private nextCursor = 0
  /** Why the index files could not be trusted at open, if so. */
  indexProblem: string | null = null
  /** The file system this segment's files live on. */
  readonly io: FileIoShape

  private constructor(dir: string, baseOffset: number, config: SegmentConfig, fd: number, size: number, now: number, io: FileIoShape) {
    this.dir = dir
    this.io = io
    this.baseOffset = baseOffset
    this.config = config
    this.logPath = path.join(dir, filenamePrefixFromOffset(baseOffset) + LOG_FILE_SUFFIX)
    this.fd = fd
    this.size = size
    this.nextOffset = baseOffset
    this.created = now
    const prefix = path.join(dir, filenamePrefixFromOffset(baseOffset))
    this.offsetIndexPath = prefix + INDEX_FILE_SUFFIX
    this.timeIndexPath = prefix + TIME_INDEX_FILE_SUFFIX
    this.loadedOffsetIndex = OffsetIndex.empty(this.offsetIndexPath, baseOffset, config.segmentIndexBytes, io)
    this.loadedTimeIndex = TimeIndex.empty(this.timeIndexPath, baseOffset, config.segmentIndexBytes, io)
    this.txnIndex = new TransactionIndex(prefix + TXN_INDEX_FILE_SUFFIX, io)
  }

  /** The offset index, read from its file first if it is not in memory. */
  get offsetIndex(): OffsetIndex {
    const index = this.loadedOffsetIndex
    if (index === null) return this.loadIndexes().offsetIndex
    if (this.residency !== null) this.residency.used(this, index.memoryBytes + this.loadedTimeIndex!.memoryBytes)
    return index
  }

  /** The time index, read from its file first if it is not in memory. */
  get timeIndex(): TimeIndex {
    const index = this.loadedTimeIndex
    if (index === null) return this.loadIndexes().timeIndex
    if (this.residency !== null) this.residency.used(this, index.memoryBytes + this.loadedOffsetIndex!.memoryBytes)
    return index
  }

  /** Whether the index entries are in memory (a sealed segment's may not be). */
  get indexesLoaded(): boolean {
    return this.loadedOffsetIndex !== null
  }

  /** Entries of the offset index, without reading them into memory (the cleaner's sizing). */
  get offsetIndexEntries(): number {
    return this.loadedOffsetIndex?.entries ?? this.unloadedOffsetEntries
  }

  /** Entries of the time index, without reading them into memory. */
  get timeIndexEntries(): number {
    return this.loadedTimeIndex?.entries ?? this.unloadedTimeEntries
  }

  private filePath(suffix: string): string {
    return path.join(this.dir, filenamePrefixFromOffset(this.baseOffset) + suffix)
  }

  /** Creates a new, empty segment (replacing any leftover files with that base offset). */
  static create(dir: string, baseOffset: number, config: SegmentConfig, now: number, io: FileIoShape = nodeFileIo, inNewDirectory = false): LogSegment {
    const logPath = path.join(dir, filenamePrefixFromOffset(baseOffset) + LOG_FILE_SUFFIX)
    const fd = io.openSync(logPath, io.constants.O_RDWR | io.constants.O_CREAT | io.constants.O_TRUNC, 0o644)
    const segment = new LogSegment(dir, baseOffset, config, fd, 0, now, io)
    if (!inNewDirectory) deleteIfExists(segment.txnIndex.file, io)
    // Empty index files exist from the start so that Kafka, opening this directory, finds
    // the complete set of files for every segment.
    segment.offsetIndex.flush(false)
    segment.timeIndex.flush(false)
    return segment
  }

  /**
   * Opens an existing segment without validating its batches: loads the indexes, checks
   * them against the log, and walks batch headers from the last index entry to find the
   * next offset. `indexProblem` is set when the segment needs `recover()`.
   */
  static open(dir: string, baseOffset: number, config: SegmentConfig, now: number, io: FileIoShape = nodeFileIo): LogSegment {
    return LogSegment.openFile(dir, baseOffset, config, now, io, (segment) => segment.loadAndCheck())
  }

  /** Opens the log file of an existing segment and reads its indexes with `load` (closed again if that throws). */
  private static openFile(dir: string, baseOffset: number, config: SegmentConfig, now: number, io: FileIoShape, load: (segment: LogSegment) => void): LogSegment {
    const logPath = path.join(dir, filenamePrefixFromOffset(baseOffset) + LOG_FILE_SUFFIX)
    const fd = io.openSync(logPath, io.constants.O_RDWR)
    const size = io.fstatSync(fd).size
    const segment = new LogSegment(dir, baseOffset, config, fd, size, now, io)
    try {
      load(segment)
    } catch (e) {
      io.closeSync(fd)
      throw e
    }
    return segment
  }

  /**
   * Opens a sealed segment below the recovery point, as Kafka does (KAFKA-7283): its index
   * entries stay on disk until a lookup needs them, and only their files' last entries are
   * read and checked against the log (the full check of entry order runs when they are
   * loaded). Falls back to `open` when a file's end cannot be read that way (missing, cut,
   * zero-padded) or the time index lacks the entry a seal writes. `residency` bounds the
   * memory its entries take once loaded.
   */
  static openSealed(dir: string, baseOffset: number, config: SegmentConfig, now: number, residency: IndexResidency, io: FileIoShape = nodeFileIo): LogSegment {
    const segment = LogSegment.openFile(dir, baseOffset, config, now, io, (s) => s.checkIndexEnds())
    segment.seal(residency)
    return segment
  }

  /** openSealed's reading of the indexes: their last entries, or all of them when those will not do. */
  private checkIndexEnds(): void {
    const ends = this.readIndexEnds()
    if (ends === null) return this.loadAndCheck()
    this.loadedOffsetIndex = null
    this.loadedTimeIndex = null
    this.unloadedOffsetEntries = ends.offsetEntries
    this.unloadedTimeEntries = ends.timeEntries
    this.indexProblem = this.checkAgainstLog(ends)
    // A time index without the seal's entry (the log's max timestamp) gets it on close.
    if (this.indexProblem !== null || this.maxTimestamp > ends.lastTimestamp) this.loadAndCheck()
  }

  /** The last entries of both index files, or null when either's end cannot be read alone. */
  private readIndexEnds(): IndexEnds | null {
    const offsets = readIndexFileEnd(this.offsetIndexPath, OFFSET_INDEX_ENTRY_SIZE, this.io)
    const times = readIndexFileEnd(this.timeIndexPath, TIME_INDEX_ENTRY_SIZE, this.io)
    if (offsets === null || times === null) return null
    if ((offsets.last === null && offsets.fileBytes > 0) || (times.last === null && times.fileBytes > 0)) return null
    return {
      offsetEntries: offsets.fileBytes / OFFSET_INDEX_ENTRY_SIZE,
      lastIndexedOffset: offsets.last === null ? this.baseOffset : this.baseOffset + offsets.last.getInt32(0),
      lastIndexedPosition: offsets.last === null ? 0 : offsets.last.getInt32(4),
      timeEntries: times.fileBytes / TIME_INDEX_ENTRY_SIZE,
      lastTimestamp: times.last === null ? NO_TIMESTAMP : getInt64(times.last, 0),
      lastTimestampOffset: times.last === null ? this.baseOffset : this.baseOffset + times.last.getInt32(8)
    }
  }

  private loadAndCheck(): void {
    const oi = OffsetIndex.load(this.offsetIndexPath, this.baseOffset, this.config.segmentIndexBytes, this.io)
    const ti = TimeIndex.load(this.timeIndexPath, this.baseOffset, this.config.segmentIndexBytes, this.io)
    this.loadedOffsetIndex = oi.index
    this.loadedTimeIndex = ti.index
    if (oi.problem !== null) {
      this.indexProblem = `offset index: ${oi.problem}`
      return
    }
    if (ti.problem !== null) {
      this.indexProblem = `time index: ${ti.problem}`
      return
    }
    this.indexProblem = this.checkAgainstLog({
      offsetEntries: oi.index.entries,
      lastIndexedOffset: oi.index.lastOffset(),
      lastIndexedPosition: oi.index.lastPosition(),
      timeEntries: ti.index.entries,
      lastTimestamp: ti.index.lastTimestamp(),
      lastTimestampOffset: ti.index.lastOffset()
    })
  }

  /**
   * Checks the indexes' last entries against the log and walks batch headers from the last
   * indexed batch to the end, learning the next offset and max timestamp. Returns why the
   * indexes cannot be trusted, or null.
   */
  private checkAgainstLog(ends: IndexEnds): string | null {
    let start = 0
    if (ends.offsetEntries > 0) {
      start = ends.lastIndexedPosition
      if (start >= this.size) return `offset index points at ${start}, past the log end ${this.size}`
    }
    this.maxTimestamp = ends.lastTimestamp
    this.offsetOfMaxTimestamp = ends.timeEntries > 0 ? ends.lastTimestampOffset : -1
    let next = this.baseOffset
    let first = true
    let bad: string | undefined
    const outcome = scanBatches(this.fd, start, this.size, false, (_buf, view, at, filePos) => {
      const base = baseOffsetAt(view, at)
      const last = base + view.getInt32(at + LAST_OFFSET_DELTA_OFFSET)
      if (first && ends.offsetEntries > 0 && last !== ends.lastIndexedOffset) {
        bad = `last offset index entry says ${ends.lastIndexedOffset} at ${filePos}, batch there ends at ${last}`
        return bad
      }
      if (base < next || last - this.baseOffset > INT32_MAX) {
        bad = `batch at ${filePos} has offsets ${base}..${last} out of sequence`
        return bad
      }
      first = false
      const ts = maxTimestampAt(view, at)
      if (ts > this.maxTimestamp) {
        this.maxTimestamp = ts
        this.offsetOfMaxTimestamp = last
      }
      next = last + 1
      return undefined
    }, this.io)
    if (outcome.status !== "end") return bad ?? `log: ${outcome.detail}`
    if (ends.timeEntries > 0 && ends.lastTimestampOffset >= next) {
      return `time index offset ${ends.lastTimestampOffset} is past the log end offset ${next}`
    }
    this.nextOffset = next
    this.bytesSinceLastIndexEntry = this.size - (ends.offsetEntries > 0 ? ends.lastIndexedPosition : 0)
    this.firstBatchTimestamp = this.readFirstBatchTimestamp()
    return null
  }

  /**
   * Reads a sealed segment's index files into memory on first use after `openSealed` or an
   * eviction. Entries out of order, or disagreeing with the log, are rebuilt from the log's
   * batch headers (the log below the recovery point is trusted) and reported.
   */
  private loadIndexes(): { offsetIndex: OffsetIndex; timeIndex: TimeIndex } {
    const oi = OffsetIndex.load(this.offsetIndexPath, this.baseOffset, this.config.segmentIndexBytes, this.io)
    const ti = TimeIndex.load(this.timeIndexPath, this.baseOffset, this.config.segmentIndexBytes, this.io)
    const problem = oi.problem !== null
      ? `offset index: ${oi.problem}`
      : ti.problem !== null
      ? `time index: ${ti.problem}`
      : oi.index.entries > 0 && (oi.index.lastOffset() >= this.nextOffset || oi.index.lastPosition() >= this.size)
      ? `offset index entry (${oi.index.lastOffset()}, ${oi.index.lastPosition()}) is past the log end`
      : ti.index.entries > 0 && ti.index.lastOffset() >= this.nextOffset
      ? `time index offset ${ti.index.lastOffset()} is past the log end offset ${this.nextOffset}`
      : null
    this.loadedOffsetIndex = oi.index
    this.loadedTimeIndex = ti.index
    // The files were forced before the recovery point passed them, unless this process wrote
    // them since and let their entries go before forcing them.
    if (!this.unloadedIndexesUnsynced) {
      oi.index.markSynced()
      ti.index.markSynced()
    }
    this.unloadedIndexesUnsynced = false
    if (problem !== null) {
      this.residency?.warn(`${this.logPath}: rebuilding indexes (${problem})`)
      this.rebuildIndexes()
    }
    const offsetIndex = this.loadedOffsetIndex
    const timeIndex = this.loadedTimeIndex
    this.residency?.used(this, offsetIndex.memoryBytes + timeIndex.memoryBytes)
    return { offsetIndex, timeIndex }
  }

  /**
   * Marks the segment sealed (it takes no more appends): from now on its index entries count
   * against `residency` and may leave memory when others need the room.
   */
  seal(residency: IndexResidency): void {
    this.residency = residency
    const offsetIndex = this.loadedOffsetIndex
    if (offsetIndex !== null) residency.used(this, offsetIndex.memoryBytes + this.loadedTimeIndex!.memoryBytes)
  }

  /**
   * Drops a sealed segment's index entries from memory when their files hold all of them;
   * the next use reads them again. An fsync still owed to the files is remembered.
   */
  unloadIndexes(): boolean {
    const offsetIndex = this.loadedOffsetIndex
    const timeIndex = this.loadedTimeIndex
    if (offsetIndex === null || timeIndex === null) return true
    if (this.residency === null || this.pending !== null || !offsetIndex.written || !timeIndex.written) return false
    if (offsetIndex.unsyncedFile || timeIndex.unsyncedFile) this.unloadedIndexesUnsynced = true
    this.unloadedOffsetEntries = offsetIndex.entries
    this.unloadedTimeEntries = timeIndex.entries
    this.loadedOffsetIndex = null
    this.loadedTimeIndex = null
    return true
  }

  /**
   * Index entries from the log's batch headers alone (no checksums, no truncation): for a
   * sealed segment whose log is trusted and whose index files are not. The files are
   * rewritten, forced with the segment's next flush.
   */
  private rebuildIndexes(): void {
    const outcome = this.indexBatches(this.size, false, () => undefined)
    if (outcome.status !== "end") throw new UnreadableSegmentError(`${this.logPath}: ${outcome.detail}`)
    this.loadedOffsetIndex!.flush(false)
    this.loadedTimeIndex!.flush(false)
  }

  /**
   * Empties both indexes and rebuilds them, with the segment's timestamps, from the batches
   * up to `end` that `check` accepts (Kafka's LogSegment.recover): an entry for a batch once
   * more than `index.interval.bytes` were written since the last, and the seal's entry.
   * `accepted` sees each batch kept.
   */
  private indexBatches(
    end: number,
    wholeBatch: boolean,
    check: BatchVisitor,
    accepted?: (view: DataView, at: number, baseOffset: number) => void
  ): ScanOutcome & { readonly validBytes: number; readonly next: number; readonly lastIndexEntry: number } {
    const offsetIndex = OffsetIndex.empty(this.offsetIndexPath, this.baseOffset, this.config.segmentIndexBytes, this.io)
    const timeIndex = TimeIndex.empty(this.timeIndexPath, this.baseOffset, this.config.segmentIndexBytes, this.io)
    this.loadedOffsetIndex = offsetIndex
    this.loadedTimeIndex = timeIndex
    this.maxTimestamp = NO_TIMESTAMP
    this.offsetOfMaxTimestamp = -1
    this.firstBatchTimestamp = NO_TIMESTAMP
    let next = this.baseOffset
    let validBytes = 0
    let lastIndexEntry = 0
    const interval = this.config.indexIntervalBytes
    const outcome = scanBatches(this.fd, 0, end, wholeBatch, (buf, view, at, filePos, size) => {
      const rejected = check(buf, view, at, filePos, size)
      if (typeof rejected === "string") return rejected
      const base = baseOffsetAt(view, at)
      const last = base + view.getInt32(at + LAST_OFFSET_DELTA_OFFSET)
      if (base < next || last < base || last - this.baseOffset > INT32_MAX) {
        return `batch at ${filePos} has offsets ${base}..${last}, expected at least ${next}`
      }
      accepted?.(view, at, base)
      const ts = maxTimestampAt(view, at)
      if (filePos === 0) this.firstBatchTimestamp = ts
      if (ts > this.maxTimestamp) {
        this.maxTimestamp = ts
        this.offsetOfMaxTimestamp = last
      }
      if (filePos - lastIndexEntry > interval && !offsetIndex.isFull()) {
        offsetIndex.append(last, filePos)
        timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true)
        lastIndexEntry = filePos
      }
      validBytes = filePos + size
      next = last + 1
      return undefined
    }, this.io)
    timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true)
    return { ...outcome, validBytes, next, lastIndexEntry }
  }

  private readFirstBatchTimestamp(): number {
    if (this.size < RECORD_BATCH_OVERHEAD) return NO_TIMESTAMP
    const header = this.read(0, RECORD_BATCH_OVERHEAD)
    return maxTimestampAt(new DataView(header.buffer, header.byteOffset, header.byteLength), 0)
  }

  /**
   * Validates every batch (framing, magic, CRC, offset order), truncates the file at the
   * first bad or torn batch and rebuilds both indexes — Kafka's LogSegment.recover.
   * Throws UnreadableSegmentError for legacy message formats rather than cutting them off.
   * With `leaderEpochs`, a batch whose epoch is newer than the cache's latest starts that
   * epoch there (deferred: the caller persists), as Kafka's recover assigns them.
   * Unless `force` is false, what was validated and the rebuilt indexes are forced to disk
   * before it returns; without, they are written and left for the log's flushes, which must
   * then keep its recovery point below this segment until they force it.
   */
  recover(leaderEpochs?: LeaderEpochCache, force = true): RecoveryResult {
    const fileSize = this.io.fstatSync(this.fd).size
    const loaded = { offsetIndex: this.loadedOffsetIndex, timeIndex: this.loadedTimeIndex }
    const outcome = this.indexBatches(fileSize, true, (buf, view, at, filePos, size) => {
      if (view.getUint32(at + CRC_OFFSET) !== computeBatchCrc(buf, at, size)) return `CRC mismatch in batch at ${filePos}`
      return undefined
    }, leaderEpochs === undefined ? undefined : (view, at, base) => {
      const epoch = view.getInt32(at + PARTITION_LEADER_EPOCH_OFFSET)
      if (epoch > leaderEpochs.latestEpoch()) leaderEpochs.assign(epoch, base, "deferred")
    })
    const { validBytes, next, lastIndexEntry } = outcome
    // What the files already hold alike is not written again.
    if (loaded.offsetIndex !== null) this.loadedOffsetIndex!.keepFileStateOf(loaded.offsetIndex)
    if (loaded.timeIndex !== null) this.loadedTimeIndex!.keepFileStateOf(loaded.timeIndex)
    if (outcome.status === "legacy") {
      throw new UnreadableSegmentError(`${this.logPath}: ${outcome.detail}; legacy message formats are not supported`)
    }
    const truncated = fileSize - validBytes
    let warning: string | null = null
    if (truncated > 0) {
      this.io.ftruncateSync(this.fd, validBytes)
      warning = `${this.logPath}: ${outcome.detail}; truncated ${truncated} bytes at position ${validBytes}`
    }
    this.size = validBytes
    this.nextOffset = next
    this.cursorOffsets.fill(-1)
    this.bytesSinceLastIndexEntry = validBytes - lastIndexEntry
    // What was just validated may so far live only in the page cache; it must be durable
    // before the recovery point moves past it.
    if (force) this.io.fsyncSync(this.fd)
    this.offsetIndex.flush(force)
    this.timeIndex.flush(force)
    this.indexProblem = null
    return { truncatedBytes: truncated, warning }
  }

  /** Whether `lastOffset` can be stored as an int32 offset relative to this segment. */
  canHoldOffset(lastOffset: number): boolean {
    return lastOffset - this.baseOffset <= INT32_MAX
  }

  /**
   * Appends batches whose offsets are already assigned. `positions` are the batch starts
   * within `bytes`. The write happens before any in-memory state changes, so a failed
   * write leaves the segment as it was (the file is cut back to the old size).
   *
   * With `deferWrite` the bytes are kept (by reference: they must not change) and written
   * by `writePending`, together with the other deferred appends, in one system call (one
   * per WRITE_SLICE_BYTES); the in-memory state moves on at once. Any read, flush or close
   * writes them first.
   */
  append(bytes: Uint8Array, view: DataView, positions: ReadonlyArray<number>, deferWrite = false): void {
    const start = this.size
    if (deferWrite) {
      ;(this.pending ??= []).push(bytes)
      this.pendingBytes += bytes.length
    } else {
      this.writePending()
      writeAt(this.io, this.fd, [bytes], start)
    }
    const interval = this.config.indexIntervalBytes
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i]!
      const size = batchSizeAt(view, p)
      const last = baseOffsetAt(view, p) + view.getInt32(p + LAST_OFFSET_DELTA_OFFSET)
      const ts = maxTimestampAt(view, p)
      if (start + p === 0) this.firstBatchTimestamp = ts
      if (ts > this.maxTimestamp) {
        this.maxTimestamp = ts
        this.offsetOfMaxTimestamp = last
      }
      // A multi-batch append may meet a full index midway; the index just stays sparser
      // (the next append rolls).
      if (this.bytesSinceLastIndexEntry > interval && !this.indexesFull()) {
        this.offsetIndex.append(last, start + p)
        this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp)
        this.bytesSinceLastIndexEntry = 0
      }
      this.bytesSinceLastIndexEntry += size
      this.nextOffset = last + 1
    }
    this.size = start + bytes.length
  }

  /**
   * Writes the deferred appends (one writev, or one per WRITE_SLICE_BYTES). On failure the
   * file is cut back to what was written before them and the error is thrown; the in-memory
   * state then runs ahead of the file, and the segment's log must not be used any more (it
   * goes offline).
   */
  writePending(): void {
    const pending = this.pending
    if (pending === null) return
    const start = this.size - this.pendingBytes
    this.pending = null
    this.pendingBytes = 0
    writeAt(this.io, this.fd, pending, start)
  }

  /** Whether appending one more index entry could overflow an index (forces a roll). */
  indexesFull(): boolean {
    return this.offsetIndex.isFull() || this.timeIndex.isFull()
  }

  /**
   * Finds the first batch at or after `startPosition` whose last offset ≥ `offset`, within
   * the first `limit` bytes of the segment. Null when there is none.
   */
  findBatch(offset: number, startPosition = offset <= this.baseOffset ? 0 : this.offsetIndex.lookup(offset), limit = this.size): FoundBatch | null {
    this.writePending()
    let found: FoundBatch | null = null
    const outcome = scanBatches(this.fd, startPosition, limit, false, (_buf, view, at, filePos, size) => {
      const last = baseOffsetAt(view, at) + view.getInt32(at + LAST_OFFSET_DELTA_OFFSET)
      if (last < offset) return undefined
      found = { position: filePos, size, baseOffset: baseOffsetAt(view, at), lastOffset: last, maxTimestamp: maxTimestampAt(view, at) }
      return true
    }, this.io)
    if (outcome.status === "corrupt" || outcome.status === "legacy") {
      throw new UnreadableSegmentError(`${this.logPath}: ${outcome.detail}`)
    }
    return found
  }

  /** Walks batch headers from `startPosition`; the visitor returns true to stop. */
  walk(startPosition: number, visit: BatchVisitor, wholeBatch = false): ScanOutcome {
    this.writePending()
    return scanBatches(this.fd, startPosition, this.size, wholeBatch, visit, this.io)
  }

  /** Reads `length` bytes at `position` (clamped to the segment size). */
  read(position: number, length: number): Uint8Array {
    this.writePending()
    return this.readExactly(position, Math.max(0, Math.min(length, this.size - position)))
  }

  private readExactly(position: number, n: number): Buffer {
    // Reused once a fetch response carrying it is written (read-buffers.ts).
    const buf = acquireReadBuffer(n)
    let got = 0
    while (got < n) {
      const r = this.io.readSync(this.fd, buf, got, n - got, position + got)
      if (r === 0) throw new UnreadableSegmentError(`${this.logPath}: unexpected end of file at ${position + got}`)
      got += r
    }
    return buf
  }

  /**
   * Reads the batches from `position` (a batch start found by `findBatch`), `length` bytes
   * at most, and remembers where the last whole batch read ends for the next `readOn`.
   */
  readBatches(position: number, length: number): Uint8Array {
    const records = this.read(position, length)
    this.rememberEnd(position, records)
    return records
  }

  /**
   * Reads on from where an earlier `readBatches`/`readOn` ended, when `offset` is the
   * offset that read stopped at, in one system call: up to `maxBytes` from the batch
   * starting at `offset` to the end of the segment (the caller makes sure every batch of
   * the segment may be returned). A first batch larger than `maxBytes` is returned whole
   * with `minOneBatch` (read again, whole), else nothing. Null when no earlier read ended
   * at `offset` or the bytes there are not that batch: `findBatch` and `readBatches`
   * answer then.
   */
  readOn(offset: number, maxBytes: number, minOneBatch: boolean): Uint8Array | null {
    const cursor = this.cursorOffsets.indexOf(offset)
    if (cursor < 0) return null
    this.writePending()
    const position = this.cursorPositions[cursor]!
    const want = Math.min(this.size - position, maxBytes)
    const n = Math.min(this.size - position, Math.max(want, RECORD_BATCH_OVERHEAD))
    if (n < RECORD_BATCH_OVERHEAD) return null
    let buf = this.readExactly(position, n)
    let view = new DataView(buf.buffer, buf.byteOffset, n)
    const size = batchSizeAt(view, 0)
    if (view.getInt8(MAGIC_OFFSET) !== MAGIC_V2 || baseOffsetAt(view, 0) !== offset || size < RECORD_BATCH_OVERHEAD || position + size > this.size) {
      this.cursorOffsets[cursor] = -1
      releaseReadBuffers([buf])
      return null
    }
    if (size > want) {
      releaseReadBuffers([buf])
      if (!minOneBatch) return EMPTY_READ
      buf = this.readExactly(position, size)
      view = new DataView(buf.buffer, buf.byteOffset, size)
    }
    this.rememberEnd(position, buf, view, cursor)
    return buf
  }

  /** Remembers where the last whole batch of `records` (read at `position`) ends. */
  private rememberEnd(position: number, records: Uint8Array, view = new DataView(records.buffer, records.byteOffset, records.byteLength), cursor = -1): void {
    let pos = 0
    let next = -1
    while (pos + RECORD_BATCH_OVERHEAD <= records.length) {
      const size = batchSizeAt(view, pos)
      if (size < RECORD_BATCH_OVERHEAD || pos + size > records.length) break
      next = baseOffsetAt(view, pos) + view.getInt32(pos + LAST_OFFSET_DELTA_OFFSET) + 1
      pos += size
    }
    if (next < 0) return
    let slot = cursor >= 0 ? cursor : this.cursorOffsets.indexOf(next)
    if (slot < 0) {
      slot = this.nextCursor
      this.nextCursor = (slot + 1) % READ_CURSORS
    }
    this.cursorOffsets[slot] = next
    this.cursorPositions[slot] = position + pos
  }

  /** Largest timestamp for retention: max batch timestamp, else the file's modification time. */
  largestTimestamp(): number {
    if (this.maxTimestamp >= 0) return this.maxTimestamp
    return this.io.fstatSync(this.fd).mtimeMs
  }

  /** Persists the log bytes and indexes. */
  flush(): void {
    this.writePending()
    this.io.fsyncSync(this.fd)
    this.flushIndexFiles()
    this.txnIndex.flush()
  }

  /** Forces the index files: their entries when in memory, else what was written before they left. */
  private flushIndexFiles(): void {
    const offsetIndex = this.loadedOffsetIndex
    if (offsetIndex !== null) {
      offsetIndex.flush(true)
      this.loadedTimeIndex!.flush(true)
    } else if (this.unloadedIndexesUnsynced) {
      syncFileIfExists(this.offsetIndexPath, this.io)
      syncFileIfExists(this.timeIndexPath, this.io)
      this.unloadedIndexesUnsynced = false
    }
  }

  /**
   * Forces only the `.log` file to disk. For logs that rebuild their indexes on every open
   * (the metadata log recovers each segment at start-up), so index entries are written on
   * close or roll, not per append.
   */
  syncLogFile(): void {
    this.writePending()
    this.io.fsyncSync(this.fd)
  }

  /** syncLogFile with the fsync on the thread pool; `done` runs on the event loop when it returns. */
  syncLogFileLater(done: (error: NodeJS.ErrnoException | null) => void): void {
    this.writePending()
    this.io.fsync(this.fd, done)
  }

  /**
   * Names this sealed segment's files for `later` to force, leaving its own "unsynced" marks
   * as they are: a force on the thread pool that a synchronous flush or close meanwhile
   * repeats rather than skips. A missing file (no transaction index, or deleted since) is
   * no error.
   */
  forceLater(later: Deferred): void {
    this.writePending()
    later.batch.file(this.logPath, later.owner)
    later.batch.file(this.offsetIndexPath, later.owner)
    later.batch.file(this.timeIndexPath, later.owner)
    later.batch.file(this.txnIndex.file, later.owner)
  }

  /** Writes pending index entries without forcing anything to disk. */
  flushIndexes(): void {
    this.writePending()
    // Entries out of memory are on file already.
    this.loadedOffsetIndex?.flush(false)
    this.loadedTimeIndex?.flush(false)
  }

  /**
   * Kafka's onBecomeInactiveSegment / close: make the last time-index entry carry the
   * segment's max timestamp, so that a reopen can learn it without reading the log.
   */
  sealTimeIndex(): void {
    // Entries leave memory only once sealed, and a sealed segment's time index has this entry.
    if (this.maxTimestamp >= 0) this.loadedTimeIndex?.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true)
  }

  close(): void {
    this.sealTimeIndex()
    try {
      this.flush()
    } finally {
      this.io.closeSync(this.fd)
      this.fd = -1
      this.residency?.forget(this)
    }
  }

  /** close() with its fsyncs left to `later` (a shutdown forcing many logs together). */
  closeLater(later: Deferred): void {
    this.sealTimeIndex()
    try {
      this.writePending()
      later.batch.file(this.logPath, later.owner)
      const offsetIndex = this.loadedOffsetIndex
      if (offsetIndex !== null) {
        offsetIndex.flushLater(later)
        this.loadedTimeIndex!.flushLater(later)
      } else if (this.unloadedIndexesUnsynced) {
        later.batch.file(this.offsetIndexPath, later.owner)
        later.batch.file(this.timeIndexPath, later.owner)
        this.unloadedIndexesUnsynced = false
      }
      this.txnIndex.flushLater(later)
    } finally {
      this.io.closeSync(this.fd)
      this.fd = -1
      this.residency?.forget(this)
    }
  }

  /** Whether the file is closed (the segment was deleted or its log closed). */
  get isClosed(): boolean {
    return this.fd < 0
  }

  /** Closes without flushing (used when the segment is about to be deleted). */
  closeQuietly(): void {
    this.pending = null
    this.pendingBytes = 0
    this.residency?.forget(this)
    if (this.fd >= 0) {
      try {
        this.io.closeSync(this.fd)
      } catch {
        // already gone
      }
      this.fd = -1
    }
  }

  /**
   * Deletes the segment: its log file is renamed to `.log.deleted` (as Kafka names a segment
   * it deletes; the directory's next open removes one a crash left) and removed on the thread
   * pool, since freeing a large file's blocks can take hundreds of milliseconds; the indexes,
   * a few MB at most, are unlinked here.
   */
  deleteFiles(): void {
    this.closeQuietly()
    const deleted = `${this.logPath}${DELETED_FILE_SUFFIX}`
    try {
      this.io.renameSync(this.logPath, deleted)
      removeInBackground(this.io, deleted)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
    }
    if (this.loadedOffsetIndex !== null) {
      this.loadedOffsetIndex.deleteFile()
      this.loadedTimeIndex!.deleteFile()
    } else {
      deleteIfExists(this.offsetIndexPath, this.io)
      deleteIfExists(this.timeIndexPath, this.io)
    }
    deleteIfExists(this.filePath(TXN_INDEX_FILE_SUFFIX), this.io)
  }
}
