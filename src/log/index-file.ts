/**
 * File plumbing shared by the offset and time indexes. Kafka memory-maps its index files
 * and preallocates them (segment.index.bytes); we keep entries in memory and write the
 * file as exactly `entries × entrySize` bytes, which is the shape Kafka itself leaves
 * after trimming on roll or clean shutdown. Entries reach the file only on flush: an index
 * is an accelerator that recovery can always rebuild from the log, so deferring its writes
 * keeps the append path to one write system call.
 */
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import type { Deferred } from "./checkpoint.ts"

/** Opens a file for reading, or returns null when it does not exist. */
const openIfExists = (path: string, io: FileIoShape): number | null => {
  try {
    return io.openSync(path, io.constants.O_RDONLY)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null
    throw e
  }
}

/** Reads `length` bytes at `position` into `into` (from its start); false if the file ends first. */
const readFully = (io: FileIoShape, fd: number, into: Uint8Array, length: number, position: number): boolean => {
  let got = 0
  while (got < length) {
    const r = io.readSync(fd, into, got, length - got, position + got)
    if (r === 0) return false
    got += r
  }
  return true
}

/**
 * Where loads read index files, a chunk at a time: a whole file read at once would leave a
 * buffer of its size behind as garbage at every load, and sealed segments' indexes may be
 * loaded again and again (index-residency.ts). A whole number of 8- and 12-byte entries.
 */
const LOAD_CHUNK = 24 * 4096
let loadChunk: Uint8Array | null = null

/** An index file's size and its last entry, read without the rest of the file. */
export interface IndexFileEnd {
  readonly fileBytes: number
  /**
   * The last entry; null when the file holds none, is not a whole number of entries, or ends
   * in an all-zero entry (Kafka's preallocation: only the whole file tells the last real one).
   */
  readonly last: DataView | null
}

/**
 * Reads an index file's size and last entry, or returns null when the file does not exist:
 * all a sealed segment below the recovery point needs of its indexes to open (Kafka skips
 * those segments' index checks and maps their files only on first use).
 */
export const readIndexFileEnd = (path: string, entrySize: number, io: FileIoShape = nodeFileIo): IndexFileEnd | null => {
  const fd = openIfExists(path, io)
  if (fd === null) return null
  try {
    const fileBytes = io.fstatSync(fd).size
    if (fileBytes === 0 || fileBytes % entrySize !== 0) return { fileBytes, last: null }
    const entry = new Uint8Array(entrySize)
    if (!readFully(io, fd, entry, entrySize, fileBytes - entrySize)) return { fileBytes, last: null }
    return { fileBytes, last: entry.every((b) => b === 0) ? null : new DataView(entry.buffer) }
  } finally {
    io.closeSync(fd)
  }
}

/**
 * Number of entries of the file before its trailing run of all-zero entries, reading it
 * backwards a chunk at a time. Kafka preallocates index files with zeros, so a file left by
 * a crashed Kafka ends in unused zero entries. An all-zero offset-index entry can never be
 * genuine (the batch at position 0 is never indexed); an all-zero time-index entry could
 * only claim timestamp 0 at the base offset, and dropping it only makes a lookup start
 * scanning a little earlier.
 */
const countNonZeroEntries = (io: FileIoShape, fd: number, entries: number, entrySize: number, chunk: Uint8Array): number => {
  const perChunk = Math.floor(chunk.length / entrySize)
  let end = entries
  while (end > 0) {
    const first = Math.max(0, end - perChunk)
    const bytes = (end - first) * entrySize
    if (!readFully(io, fd, chunk, bytes, first * entrySize)) return first
    for (let i = bytes - 1; i >= 0; i--) if (chunk[i] !== 0) return first + Math.floor(i / entrySize) + 1
    end = first
  }
  return 0
}

/**
 * Writes `tail` after the first `keepBytes` (bytes already known to be correct on disk) and
 * optionally fsyncs; creates the file if needed. The file is cut only where it would end up
 * longer than `keepBytes + tail` (or its size is unknown), and to that length: never to zero
 * and written again, which on ext4 also makes the close wait for the new blocks' writeback
 * (its replace-via-truncate heuristic), at each of 10 000 partitions' recovered indexes.
 */
export const writeIndexTail = (
  path: string,
  currentFileBytes: number,
  keepBytes: number,
  tail: Uint8Array,
  fsync: boolean,
  io: FileIoShape = nodeFileIo
): void => {
  const fd = io.openSync(path, io.constants.O_RDWR | io.constants.O_CREAT, 0o644)
  try {
    const end = keepBytes + tail.length
    if (currentFileBytes === -1 || currentFileBytes > end) io.ftruncateSync(fd, end)
    let written = 0
    while (written < tail.length) {
      written += io.writeSync(fd, tail, written, tail.length - written, keepBytes + written)
    }
    if (fsync) io.fsyncSync(fd)
  } finally {
    io.closeSync(fd)
  }
}

export const deleteIfExists = (path: string, io: FileIoShape = nodeFileIo): void => {
  try {
    io.unlinkSync(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
  }
}

/**
 * The file side of an index: how much of the file is known to match the entries held in
 * memory, and writing the rest. The one place that decides what a flush writes, truncates
 * and forces, for both the offset and the time index.
 */
export abstract class IndexFileTail {
  readonly path: string
  private readonly entrySize: number
  private readonly io: FileIoShape
  /** Leading entries known to be identical on disk. */
  private persisted = 0
  /**
   * Current size of the file in bytes (may include stale or padding entries); -1 when
   * unknown (missing, or to be replaced): the next flush truncates or creates it.
   */
  private fileBytes = -1
  /** Written since our last fsync of it (or never forced by us: what a load found is not assumed durable). */
  private unsynced = true

  protected constructor(path: string, entrySize: number, io: FileIoShape) {
    this.path = path
    this.entrySize = entrySize
    this.io = io
  }

  /** Live entries. */
  abstract get entries(): number

  /** Heap bytes the entries occupy (capacity included). */
  abstract get memoryBytes(): number

  /** Room for `entries` entries, before a load adds them (a loaded index is sized exactly). */
  protected abstract reserve(entries: number): void

  /** Entries `from` (inclusive) to `to` (exclusive), encoded as the file holds them. */
  protected abstract encode(from: number, to: number): Uint8Array

  /**
   * Adds the entry the file holds at `position` (at load); returns the entry as text when it
   * is out of order with the one before, else null.
   */
  protected abstract loadEntry(view: DataView, position: number): string | null

  /**
   * Reads the file's entries into the index. Returns why the file cannot be trusted (missing,
   * misaligned, out of order), or null when it looks sane. Trailing zero entries (Kafka
   * preallocation) are ignored and trimmed on the next flush.
   */
  protected loadFile(): string | null {
    const fd = openIfExists(this.path, this.io)
    if (fd === null) return "missing"
    try {
      const fileBytes = this.io.fstatSync(fd).size
      const chunk = (loadChunk ??= new Uint8Array(LOAD_CHUNK))
      const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      const perChunk = Math.floor(chunk.length / this.entrySize)
      // Entries the file holds; the count may shrink if the file turns out shorter than its size.
      let entries = countNonZeroEntries(this.io, fd, Math.floor(fileBytes / this.entrySize), this.entrySize, chunk)
      this.reserve(entries)
      let problem = fileBytes % this.entrySize !== 0 ? `size ${fileBytes} is not a multiple of ${this.entrySize}` : null
      for (let from = 0; from < entries; from += perChunk) {
        const n = Math.min(perChunk, entries - from)
        if (!readFully(this.io, fd, chunk, n * this.entrySize, from * this.entrySize)) {
          problem ??= `file ended before its size of ${fileBytes} bytes`
          entries = from
          break
        }
        for (let i = 0; i < n; i++) {
          const disorder = this.loadEntry(view, i * this.entrySize)
          if (problem === null && disorder !== null) problem = `entry ${from + i} ${disorder} is out of order`
        }
      }
      this.fileBytes = fileBytes
      this.persisted = entries
      return problem
    } finally {
      this.io.closeSync(fd)
    }
  }

  /** The index now holds only its first `keep` entries. */
  protected truncatedTo(keep: number): void {
    if (this.persisted > keep) this.persisted = keep
  }

  /** Whether entry `i` of this index and of `other` (an index of the same kind) are alike. */
  protected abstract sameEntry(other: this, i: number): boolean

  /**
   * Takes over what `previous`, this file's index as loaded before a rebuild (recovery), knew of
   * the file: its size, and that the leading entries both hold alike are on disk already, so a
   * flush writes only from the first that differs.
   */
  keepFileStateOf(previous: this): void {
    const alike = Math.min(this.entries, previous.persisted)
    let same = 0
    while (same < alike && this.sameEntry(previous, same)) same++
    this.persisted = same
    this.fileBytes = previous.fileBytes
    this.unsynced = previous.unsynced
  }

  /** Whether the file holds exactly the live entries (nothing left for a flush to write). */
  get written(): boolean {
    return this.persisted === this.entries && this.fileBytes === this.entries * this.entrySize
  }

  /** Whether the file was written (or found at load) since our last fsync of it. */
  get unsyncedFile(): boolean {
    return this.unsynced
  }

  /** What a load found is known to be on disk already (a sealed segment below the recovery point's). */
  markSynced(): void {
    if (this.written) this.unsynced = false
  }

  /** Writes unpersisted entries and trims the file to exactly the live entries. */
  flush(fsync: boolean): void {
    const count = this.entries
    const keepBytes = this.persisted * this.entrySize
    const wanted = count * this.entrySize
    // Nothing written since the last fsync: nothing to force either.
    if (this.fileBytes === wanted && this.persisted === count && (!fsync || !this.unsynced)) return
    writeIndexTail(this.path, this.fileBytes, keepBytes, this.encode(this.persisted, count), fsync, this.io)
    this.persisted = count
    this.fileBytes = wanted
    this.unsynced = !fsync
  }

  /** flush(true) with its write and fsync left to `later` (a shutdown forcing many logs together). */
  flushLater(later: Deferred): void {
    const count = this.entries
    const keepBytes = this.persisted * this.entrySize
    const wanted = count * this.entrySize
    if (this.fileBytes !== wanted || this.persisted !== count) {
      // As writeIndexTail: cut only what would be left past the new end.
      const truncateTo = this.fileBytes === -1 || this.fileBytes > wanted ? wanted : null
      later.batch.write(this.path, { content: this.encode(this.persisted, count), position: keepBytes, truncateTo }, later.owner)
      this.persisted = count
      this.fileBytes = wanted
    } else if (this.unsynced) {
      later.batch.file(this.path, later.owner)
    }
    this.unsynced = false
  }

  deleteFile(): void {
    deleteIfExists(this.path, this.io)
    this.fileBytes = -1
    this.persisted = 0
  }
}
