/**
 * Writing a cleaned segment and swapping it in for the segments it replaces, crash-safe,
 * with Kafka's file suffixes (LocalLog.replaceSegments, LogLoader):
 *
 *   1. the cleaner writes `<base>.log.cleaned` (+ `.index.cleaned`, `.timeindex.cleaned`,
 *      `.txnindex.cleaned`) and fsyncs them;
 *   2. the cleaned files are renamed to `.swap`: from the moment `<base>.log.swap` exists
 *      the swap is committed;
 *   3. every replaced segment's files are renamed to `.deleted`;
 *   4. the `.swap` files lose their suffix.
 *
 * Each rename step moves a segment's index files before its log file, so the log file's
 * name says where all of that segment's files are.
 *   5. the `.deleted` files are removed.
 *
 * `recoverSwaps` runs when a partition directory is opened and finishes or rolls back
 * whatever a crash interrupted: `.cleaned` files are dropped (the old segments are still
 * all there), a `<base>.log.swap` replaces every segment whose base offset lies in its
 * offset range (Kafka's rule: from its base offset to the offset after its last batch),
 * index `.swap` files without their log `.swap` are dropped (indexes are rebuilt when
 * missing), and `.deleted` files are removed. Every directory change is fsynced before the
 * next step.
 *
 * As in Kafka, a crash in the middle of step 3 can leave a replaced segment that lies past
 * the end of the cleaned segment's last batch in place: the log stays valid (its records
 * are older versions of keys whose newer records follow, at their own offsets) and the
 * next round cleans them away.
 */
import { type FileIoShape, nodeFileIo } from "../../storage/FileIo.ts"
import * as path from "node:path"
import { removeInBackground } from "../background-removal.ts"
import { fsyncDirectory } from "../checkpoint.ts"
import { OffsetIndex } from "../offset-index.ts"
import { lastOffsetAt, maxTimestampAt, NO_TIMESTAMP, viewOf } from "../record-batch.ts"
import {
  DELETED_FILE_SUFFIX,
  filenamePrefixFromOffset,
  INDEX_FILE_SUFFIX,
  LOG_FILE_SUFFIX,
  type LogSegment,
  offsetFromFilename,
  scanBatches,
  type SegmentConfig,
  TIME_INDEX_FILE_SUFFIX,
  TXN_INDEX_FILE_SUFFIX
} from "../segment.ts"
import { TimeIndex } from "../time-index.ts"

export const CLEANED_FILE_SUFFIX = ".cleaned"
export const SWAP_FILE_SUFFIX = ".swap"

/**
 * The files of one segment, log file last: every rename moves the indexes before the log,
 * so the log file's name tells recovery which state all of the segment's files are in.
 */
const SEGMENT_SUFFIXES = [INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX, TXN_INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX] as const

/** Points where a crash can be injected in tests: after the named step has completed. */
export type SwapStep = "cleaned" | "swap" | "deleted" | "renamed" | "removed"

export type SwapHook = (step: SwapStep) => void

const segmentFile = (dir: string, base: number, suffix: string): string => path.join(dir, filenamePrefixFromOffset(base) + suffix)

const renameIfExists = (from: string, to: string, io: FileIoShape): boolean => {
  try {
    io.renameSync(from, to)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false
    throw e
  }
}

const removeIfExists = (file: string, io: FileIoShape): void => {
  io.rmSync(file, { force: true })
}

// ---------------------------------------------------------------------------------------
// The cleaned segment
// ---------------------------------------------------------------------------------------

/**
 * Appends retained batches to `<base>.log.cleaned` and keeps its offset and time indexes
 * as LogSegment.append would (an entry per index.interval.bytes).
 */
export class CleanedSegmentWriter {
  readonly dir: string
  readonly baseOffset: number
  private fd: number
  private readonly offsetIndex: OffsetIndex
  private readonly timeIndex: TimeIndex
  private readonly indexIntervalBytes: number
  size = 0
  private bytesSinceLastIndexEntry = 0
  private maxTimestamp = NO_TIMESTAMP
  private offsetOfMaxTimestamp = -1
  /** Offset after the last batch written. */
  nextOffset: number
  private readonly io: FileIoShape
  /** Batches appended so far, and how many of them a force on the thread pool made durable (-1: none yet, not even the empty file). */
  private appended = 0
  private forcedThrough = -1
  private forceError: NodeJS.ErrnoException | null = null

  constructor(dir: string, baseOffset: number, config: SegmentConfig, io: FileIoShape = nodeFileIo) {
    this.dir = dir
    this.io = io
    this.baseOffset = baseOffset
    this.nextOffset = baseOffset
    this.indexIntervalBytes = config.indexIntervalBytes
    const logFile = segmentFile(dir, baseOffset, LOG_FILE_SUFFIX + CLEANED_FILE_SUFFIX)
    this.fd = io.openSync(logFile, io.constants.O_RDWR | io.constants.O_CREAT | io.constants.O_TRUNC, 0o644)
    this.offsetIndex = OffsetIndex.empty(segmentFile(dir, baseOffset, INDEX_FILE_SUFFIX + CLEANED_FILE_SUFFIX), baseOffset, config.segmentIndexBytes, io)
    this.timeIndex = TimeIndex.empty(segmentFile(dir, baseOffset, TIME_INDEX_FILE_SUFFIX + CLEANED_FILE_SUFFIX), baseOffset, config.segmentIndexBytes, io)
  }

  /** Appends one whole batch whose offsets are already final. */
  append(batch: Uint8Array): void {
    const view = viewOf(batch)
    let written = 0
    while (written < batch.length) written += this.io.writeSync(this.fd, batch, written, batch.length - written, this.size + written)
    const last = lastOffsetAt(view, 0)
    const ts = maxTimestampAt(view, 0)
    if (ts > this.maxTimestamp) {
      this.maxTimestamp = ts
      this.offsetOfMaxTimestamp = last
    }
    if (this.bytesSinceLastIndexEntry > this.indexIntervalBytes && !this.offsetIndex.isFull() && !this.timeIndex.isFull()) {
      this.offsetIndex.append(last, this.size)
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp)
      this.bytesSinceLastIndexEntry = 0
    }
    this.bytesSinceLastIndexEntry += batch.length
    this.size += batch.length
    this.nextOffset = last + 1
    this.appended++
  }

  /**
   * Forces the cleaned log file on the thread pool: a cleaned segment is up to segment.bytes,
   * and its fsync on the event loop held every connection for as long as the disk took. The
   * promise never rejects: `finish` reports the force's error (a later fsync of the same file
   * may succeed without the lost pages), and forces again itself if batches were appended
   * meanwhile or the force has not returned (a round run without waiting for it).
   */
  forceLogLater(): Promise<void> {
    const through = this.appended
    return new Promise((resolve) =>
      this.io.fsync(this.fd, (e) => {
        if (e !== null) this.forceError ??= e
        else this.forcedThrough = Math.max(this.forcedThrough, through)
        resolve()
      })
    )
  }

  /**
   * Seals the time index, writes the transaction index (the replaced segments' entries, in
   * order: they hold absolute offsets), fsyncs everything and gives the file the replaced
   * segments' modification time, as Kafka does. The log file is forced here unless a
   * `forceLogLater` covering every batch has returned.
   */
  finish(txnIndexParts: ReadonlyArray<Uint8Array>, lastModifiedMs: number): void {
    if (this.forceError !== null) throw this.forceError
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true)
    this.offsetIndex.flush(true)
    this.timeIndex.flush(true)
    const txn = txnIndexParts.filter((p) => p.length > 0)
    if (txn.length > 0) {
      const file = segmentFile(this.dir, this.baseOffset, TXN_INDEX_FILE_SUFFIX + CLEANED_FILE_SUFFIX)
      const fd = this.io.openSync(file, "w", 0o644)
      try {
        this.io.writeSync(fd, Buffer.concat(txn))
        this.io.fsyncSync(fd)
      } finally {
        this.io.closeSync(fd)
      }
    }
    if (this.forcedThrough !== this.appended) this.io.fsyncSync(this.fd)
    this.io.closeSync(this.fd)
    this.fd = -1
    const seconds = lastModifiedMs / 1000
    this.io.utimesSync(segmentFile(this.dir, this.baseOffset, LOG_FILE_SUFFIX + CLEANED_FILE_SUFFIX), seconds, seconds)
  }

  /** Drops the cleaned files (an aborted clean). */
  abort(): void {
    if (this.fd >= 0) {
      try {
        this.io.closeSync(this.fd)
      } catch {
        // already closed
      }
      this.fd = -1
    }
    for (const suffix of SEGMENT_SUFFIXES) removeIfExists(segmentFile(this.dir, this.baseOffset, suffix + CLEANED_FILE_SUFFIX), this.io)
  }
}

// ---------------------------------------------------------------------------------------
// The swap
// ---------------------------------------------------------------------------------------

/**
 * Steps 2–4 for a cleaned segment at `base` replacing `replaced` (whose first segment has
 * the same base offset). Afterwards `<base>.log` is the cleaned segment and the replaced
 * segments' files are `.deleted` (their open descriptors still read the old data);
 * `removeDeleted` finishes step 5 once the caller has switched to the new segment.
 */
export const commitSwap = (dir: string, base: number, replaced: ReadonlyArray<LogSegment>, hook?: SwapHook, io: FileIoShape = nodeFileIo): void => {
  for (const suffix of SEGMENT_SUFFIXES) {
    renameIfExists(segmentFile(dir, base, suffix + CLEANED_FILE_SUFFIX), segmentFile(dir, base, suffix + SWAP_FILE_SUFFIX), io)
  }
  fsyncDirectory(dir, io)
  hook?.("swap")
  for (const segment of replaced) {
    for (const suffix of SEGMENT_SUFFIXES) {
      const file = segmentFile(dir, segment.baseOffset, suffix)
      renameIfExists(file, file + DELETED_FILE_SUFFIX, io)
    }
  }
  fsyncDirectory(dir, io)
  hook?.("deleted")
  for (const suffix of SEGMENT_SUFFIXES) {
    renameIfExists(segmentFile(dir, base, suffix + SWAP_FILE_SUFFIX), segmentFile(dir, base, suffix), io)
  }
  fsyncDirectory(dir, io)
  hook?.("renamed")
}

/** Step 5: closes the replaced segments and removes their `.deleted` files (on the thread pool: src/log/background-removal.ts). */
export const removeDeleted = (dir: string, replaced: ReadonlyArray<LogSegment>, hook?: SwapHook, io: FileIoShape = nodeFileIo): void => {
  for (const segment of replaced) {
    segment.closeQuietly()
    for (const suffix of SEGMENT_SUFFIXES) removeInBackground(io, segmentFile(dir, segment.baseOffset, suffix) + DELETED_FILE_SUFFIX)
  }
  hook?.("removed")
}

// ---------------------------------------------------------------------------------------
// Recovery
// ---------------------------------------------------------------------------------------

/** Offset after the last whole batch of a swap log file; null when it holds no whole batch. */
const nextOffsetOfFile = (file: string, io: FileIoShape): number | null => {
  const fd = io.openSync(file, "r")
  try {
    let next: number | null = null
    scanBatches(fd, 0, io.fstatSync(fd).size, false, (_buf, view, at) => {
      next = lastOffsetAt(view, at) + 1
      return undefined
    }, io)
    return next
  } finally {
    io.closeSync(fd)
  }
}

/** Whether a partition directory listing shows an interrupted clean, swap or delete to recover. */
export const holdsSwapLeftovers = (names: ReadonlyArray<string>): boolean =>
  names.some((n) => n.endsWith(CLEANED_FILE_SUFFIX) || n.endsWith(SWAP_FILE_SUFFIX) || n.endsWith(DELETED_FILE_SUFFIX))

/**
 * Completes or rolls back interrupted swaps in a partition directory before it is opened
 * (Kafka's LogLoader). Returns warnings describing what was done.
 */
export const recoverSwaps = (dir: string, io: FileIoShape = nodeFileIo, names: ReadonlyArray<string> = io.readdirSync(dir)): Array<string> => {
  const warnings: Array<string> = []
  // Nearly every directory holds nothing to recover: then nothing is renamed or removed and
  // there is no directory entry to fsync (10 000 fsyncs at a start on 10 000 partitions).
  if (!holdsSwapLeftovers(names)) return warnings
  for (const name of names) {
    if (name.endsWith(CLEANED_FILE_SUFFIX)) {
      removeIfExists(path.join(dir, name), io)
      warnings.push(`${path.join(dir, name)}: removed the output of an interrupted log clean`)
    }
  }
  const logSwaps = names.filter((n) => n.endsWith(LOG_FILE_SUFFIX + SWAP_FILE_SUFFIX)).sort()
  const liveLogs = names.filter((n) => n.endsWith(LOG_FILE_SUFFIX) && offsetFromFilename(n) !== null)
  for (const swapName of logSwaps) {
    const base = offsetFromFilename(swapName)
    if (base === null) continue
    const swapFile = path.join(dir, swapName)
    // An empty cleaned segment (every record of its group removed) still replaces the
    // segment with its own base offset.
    const next = Math.max(nextOffsetOfFile(swapFile, io) ?? base, base + 1)
    for (const logName of liveLogs) {
      const old = offsetFromFilename(logName)!
      if (old < base || old >= next) continue
      for (const suffix of SEGMENT_SUFFIXES) removeIfExists(segmentFile(dir, old, suffix), io)
      warnings.push(`${path.join(dir, logName)}: replaced by the cleaned segment ${swapFile}`)
    }
    for (const suffix of SEGMENT_SUFFIXES) {
      renameIfExists(segmentFile(dir, base, suffix + SWAP_FILE_SUFFIX), segmentFile(dir, base, suffix), io)
    }
    warnings.push(`${swapFile}: completed an interrupted segment swap`)
  }
  for (const name of io.readdirSync(dir)) {
    // Index swaps whose log swap is gone belong to no swap in progress: indexes are rebuilt.
    if (name.endsWith(SWAP_FILE_SUFFIX) || name.endsWith(DELETED_FILE_SUFFIX)) removeIfExists(path.join(dir, name), io)
  }
  fsyncDirectory(dir, io)
  return warnings
}
