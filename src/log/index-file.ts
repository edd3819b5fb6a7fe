/**
 * File plumbing shared by the offset and time indexes. Kafka memory-maps its index files
 * and preallocates them (segment.index.bytes); we keep entries in memory and write the
 * file as exactly `entries × entrySize` bytes, which is the shape Kafka itself leaves
 * after trimming on roll or clean shutdown. Entries reach the file only on flush: an index
 * is an accelerator that recovery can always rebuild from the log, so deferring its writes
 * keeps the append path to one write system call.
 */
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"

/** Reads a whole index file, or returns null when it does not exist. */
export const readIndexFile = (path: string, io: FileIoShape = nodeFileIo): Uint8Array | null => {
  try {
    return io.readFileSync(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null
    throw e
  }
}

/**
 * Number of entries before the trailing run of all-zero entries. Kafka preallocates index
 * files with zeros, so a file left by a crashed Kafka ends in unused zero entries. An
 * all-zero offset-index entry can never be genuine (the batch at position 0 is never
 * indexed); an all-zero time-index entry could only claim timestamp 0 at the base offset,
 * and dropping it only makes a lookup start scanning a little earlier.
 */
export const countNonZeroEntries = (bytes: Uint8Array, entrySize: number): number => {
  let entries = Math.floor(bytes.length / entrySize)
  outer: while (entries > 0) {
    const start = (entries - 1) * entrySize
    for (let i = start; i < start + entrySize; i++) if (bytes[i] !== 0) break outer
    entries--
  }
  return entries
}

/**
 * Cuts the file to `keepBytes` (bytes already known to be correct on disk), writes `tail`
 * after them, and optionally fsyncs. Creates the file if needed.
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
    if (currentFileBytes !== keepBytes) io.ftruncateSync(fd, keepBytes)
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
