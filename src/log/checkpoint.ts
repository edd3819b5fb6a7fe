/**
 * Kafka's small text files around the logs:
 *
 * - per partition directory: `leader-epoch-checkpoint` and `partition.metadata`;
 * - per log directory: `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`,
 *   `replication-offset-checkpoint` (offset checkpoints) and the `.kafka_cleanshutdown`
 *   marker.
 *
 * Checkpoint files are "version line, count line, entry lines"; they are replaced
 * atomically (write a .tmp sibling, fsync, rename) as Kafka does, so a crash leaves
 * either the old or the new content.
 */
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import * as path from "node:path"
import { uuidFromString } from "../protocol/primitives.ts"
import type { SyncBatch } from "./sync-batch.ts"

export const LEADER_EPOCH_CHECKPOINT_FILE = "leader-epoch-checkpoint"
export const PARTITION_METADATA_FILE = "partition.metadata"
export const RECOVERY_POINT_CHECKPOINT_FILE = "recovery-point-offset-checkpoint"
export const LOG_START_OFFSET_CHECKPOINT_FILE = "log-start-offset-checkpoint"
export const REPLICATION_OFFSET_CHECKPOINT_FILE = "replication-offset-checkpoint"
/** Per log dir, written by the log cleaner (compaction): how far each compacted log is cleaned. */
export const CLEANER_OFFSET_CHECKPOINT_FILE = "cleaner-offset-checkpoint"
export const CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"

export class CheckpointFormatError extends Error {
  override readonly name = "CheckpointFormatError"
}

/** Error codes of a platform or file system that cannot fsync a directory at all (nothing failed). */
export const DIRECTORY_FSYNC_UNSUPPORTED: ReadonlySet<string> = new Set(["EINVAL", "ENOTSUP", "EISDIR", "EPERM", "EACCES"])

/**
 * Makes a rename or file creation in `dir` durable (Kafka's Utils.flushDirIfExists). A
 * missing directory and a platform that cannot fsync directories are skipped; a real
 * failure (EIO) is thrown, as Kafka throws it: the caller must not report success.
 */
export const fsyncDirectory = (dir: string, io: FileIoShape = nodeFileIo): void => {
  if (process.platform === "win32") return
  let fd: number
  try {
    fd = io.openSync(dir, "r")
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === "ENOENT" || (code !== undefined && DIRECTORY_FSYNC_UNSUPPORTED.has(code))) return
    throw e
  }
  try {
    io.fsyncSync(fd)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === undefined || !DIRECTORY_FSYNC_UNSUPPORTED.has(code)) throw e
  } finally {
    io.closeSync(fd)
  }
}

/**
 * Replaces `file` so that a crash leaves the old or the new content, never a mix. Without
 * `syncDirectory` the rename is durable only once the caller fsyncs the directory (one
 * directory fsync for several files).
 */
export const writeFileAtomically = (
  file: string, content: string | Uint8Array, io: FileIoShape = nodeFileIo, syncDirectory = true, later?: Deferred, tmpSuffix = ".tmp"
): void => {
  const tmp = file + tmpSuffix
  if (later !== undefined) {
    // The batch writes and forces the temporary, then renames it, then (if asked) forces the directory.
    const bytes = typeof content === "string" ? Buffer.from(content) : content
    later.batch.write(tmp, { content: bytes, position: 0, truncateTo: 0 }, later.owner)
    later.batch.rename(tmp, file, later.owner)
    if (syncDirectory) later.batch.directory(path.dirname(file), later.owner)
    return
  }
  const fd = io.openSync(tmp, "w", 0o644)
  try {
    if (typeof content === "string") io.writeSync(fd, content)
    else io.writeSync(fd, content, 0, content.length)
    io.fsyncSync(fd)
  } finally {
    io.closeSync(fd)
  }
  io.renameSync(tmp, file)
  if (syncDirectory) fsyncDirectory(path.dirname(file), io)
}

/** Where a write leaves its fsyncs (and the renames behind them) instead of making them itself. */
export interface Deferred {
  readonly batch: SyncBatch
  /** Who the steps belong to (a partition key): a failure is charged to it. */
  readonly owner: string
}

const readTextIfExists = (file: string, io: FileIoShape = nodeFileIo): string | null => {
  try {
    return io.readFileSync(file, "utf8")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null
    throw e
  }
}

/**
 * Splits "version\ncount\nentries..." and checks version 0 and the count. As Kafka's
 * CheckpointFile reader: an empty file (or one cut after the version) has no entries; more
 * lenient than it about whitespace (CRLF, padding, blank trailing lines).
 */
const parseCheckpoint = (file: string, text: string, fields: number): Array<Array<string>> => {
  const lines = text.split("\n").map((l) => l.trim())
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop()
  if (lines.length === 0) return []
  if (lines.length === 1 && lines[0] === "0") return []
  if (lines[0] !== "0") throw new CheckpointFormatError(`${file}: unsupported version ${JSON.stringify(lines[0])}`)
  const count = Number(lines[1])
  if (!Number.isInteger(count) || count < 0) throw new CheckpointFormatError(`${file}: bad entry count ${JSON.stringify(lines[1])}`)
  const entries = lines.slice(2)
  if (entries.length !== count) throw new CheckpointFormatError(`${file}: expected ${count} entries, found ${entries.length}`)
  return entries.map((line) => {
    const parts = line.split(/\s+/)
    if (parts.length !== fields) throw new CheckpointFormatError(`${file}: malformed line ${JSON.stringify(line)}`)
    return parts
  })
}

const formatCheckpoint = (lines: ReadonlyArray<string>): string => `0\n${lines.length}\n${lines.map((l) => l + "\n").join("")}`

const parseIntStrict = (file: string, s: string): number => {
  const n = Number(s)
  if (!Number.isSafeInteger(n)) throw new CheckpointFormatError(`${file}: ${JSON.stringify(s)} is not an integer`)
  return n
}

// ---------------------------------------------------------------------------------------
// Offset checkpoints (per log dir)
// ---------------------------------------------------------------------------------------

/** Key used in checkpoint maps: the partition directory name, `<topic>-<partition>`. */
export const partitionKey = (topic: string, partition: number): string => `${topic}-${partition}`

export const readOffsetCheckpoint = (file: string, io: FileIoShape = nodeFileIo): Map<string, number> => {
  const text = readTextIfExists(file, io)
  if (text === null) return new Map()
  const written = readWrittenOffsetCheckpoint(text)
  if (written !== undefined) return written
  const out = new Map<string, number>()
  for (const [topic, partition, offset] of parseCheckpoint(file, text, 3)) {
    out.set(partitionKey(topic!, parseIntStrict(file, partition!)), parseIntStrict(file, offset!))
  }
  return out
}

/**
 * The entries of an offset checkpoint exactly as Kafka and this broker write it ("0", the count,
 * then "<topic> <partition> <offset>" lines, one space apart, "\n" after each), or undefined for
 * any other text, which the general parser then reads (or refuses, naming what is wrong). No
 * array or substring per line but the key: the general parser took ~75 ms for the three
 * checkpoints of a start on 10 000 partitions (30 000 lines), on fresh memory that this VM
 * faults in at ~15 µs a page.
 */
const readWrittenOffsetCheckpoint = (text: string): Map<string, number> | undefined => {
  if (!text.startsWith("0\n") || /[^\n -~]| {2}/.test(text)) return undefined
  let end = text.indexOf("\n", 2)
  const count = digitsValue(text, 2, end)
  if (count < 0) return undefined
  const out = new Map<string, number>()
  let pos = end + 1
  for (let i = 0; i < count; i++) {
    end = text.indexOf("\n", pos)
    const space1 = text.indexOf(" ", pos)
    const space2 = space1 < 0 ? -1 : text.indexOf(" ", space1 + 1)
    if (end < 0 || space1 <= pos || space2 < 0 || space2 >= end) return undefined
    const partition = digitsValue(text, space1 + 1, space2)
    const offset = digitsValue(text, space2 + 1, end)
    if (partition < 0 || offset < 0) return undefined
    out.set(partitionKey(text.slice(pos, space1), partition), offset)
    pos = end + 1
  }
  return pos === text.length ? out : undefined
}

/** The value of text[from, to) when it is 1 to 15 decimal digits, else -1. */
const digitsValue = (text: string, from: number, to: number): number => {
  if (to <= from || to - from > 15) return -1
  let n = 0
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

export const writeOffsetCheckpoint = (
  file: string,
  entries: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: number }>,
  io: FileIoShape = nodeFileIo,
  later?: Deferred,
  tmpSuffix = ".tmp"
): void => {
  writeFileAtomically(file, formatCheckpoint(entries.map((e) => `${e.topic} ${e.partition} ${e.offset}`)), io, true, later, tmpSuffix)
}

// ---------------------------------------------------------------------------------------
// leader-epoch-checkpoint
// ---------------------------------------------------------------------------------------

export interface EpochEntry {
  readonly epoch: number
  readonly startOffset: number
}

export const readLeaderEpochCheckpoint = (file: string, io: FileIoShape = nodeFileIo): Array<EpochEntry> => {
  const text = readTextIfExists(file, io)
  if (text === null) return []
  return parseCheckpoint(file, text, 2).map(([epoch, offset]) => ({
    epoch: parseIntStrict(file, epoch!),
    startOffset: parseIntStrict(file, offset!)
  }))
}

export const writeLeaderEpochCheckpoint = (
  file: string, entries: ReadonlyArray<EpochEntry>, io: FileIoShape = nodeFileIo, syncDirectory = true, later?: Deferred
): void => {
  writeFileAtomically(file, formatCheckpoint(entries.map((e) => `${e.epoch} ${e.startOffset}`)), io, syncDirectory, later)
}

/**
 * Which leader epoch started at which offset. Mirrors Kafka's LeaderEpochFileCache rules.
 *
 * When the file is written: an epoch change with no records behind it yet (a leader
 * election) and an epoch first met in appended records are "deferred": kept in memory and
 * written by `persistPending` when the log is flushed, before its recovery point moves past
 * the epoch's first records. Records past the recovery point are replayed by recovery after
 * a crash, which assigns their epochs again from the batches (as Kafka's LogSegment.recover
 * does), so the file never misses an entry the log needs; and a produce spread over 10 000
 * new partitions does not pay two fsyncs (file and directory) on each partition's first
 * append. Truncations are written at once.
 */
export class LeaderEpochCache {
  readonly file: string
  private entries: Array<EpochEntry>
  private readonly io: FileIoShape

  constructor(file: string, entries: ReadonlyArray<EpochEntry>, io: FileIoShape = nodeFileIo) {
    this.file = file
    this.io = io
    this.entries = [...entries]
  }

  static load(dir: string, io: FileIoShape = nodeFileIo): LeaderEpochCache {
    const file = path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE)
    return new LeaderEpochCache(file, readLeaderEpochCheckpoint(file, io), io)
  }

  all(): ReadonlyArray<EpochEntry> {
    return this.entries
  }

  latestEpoch(): number {
    return this.entries.length === 0 ? -1 : this.entries[this.entries.length - 1]!.epoch
  }

  /** Smallest start offset among entries not yet in the file (Infinity when there are none). */
  private pendingFrom = Number.POSITIVE_INFINITY

  /** Writes the first `count` entries (all by default); the rest stay pending. */
  private persist(count = this.entries.length, syncDirectory = true, later?: Deferred): void {
    writeLeaderEpochCheckpoint(this.file, count === this.entries.length ? this.entries : this.entries.slice(0, count), this.io, syncDirectory, later)
    this.pendingFrom = this.entries[count]?.startOffset ?? Number.POSITIVE_INFINITY
  }

  /**
   * Records that `epoch` begins at `startOffset`; ignored unless the epoch is new. "sync"
   * writes the file now; "deferred" leaves it to `persistPending` (see the class comment).
   */
  assign(epoch: number, startOffset: number, durability: "sync" | "deferred" = "sync"): void {
    if (epoch < 0) return
    const latest = this.entries[this.entries.length - 1]
    if (latest !== undefined && epoch <= latest.epoch) return
    // A newer epoch starting before entries we hold means those entries were never
    // committed; Kafka drops them the same way.
    if (latest !== undefined && latest.startOffset >= startOffset) this.entries = this.entries.filter((e) => e.startOffset < startOffset)
    this.entries.push({ epoch, startOffset })
    if (durability === "deferred") this.pendingFrom = Math.min(this.pendingFrom, startOffset)
    else this.persist()
  }

  /**
   * Writes deferred entries that records below `endOffset` belong to (called before a flush
   * moves the recovery point to `endOffset`). An entry at or past `endOffset` has no
   * records yet and waits: a log opened again drops an entry at its end anyway (Kafka's
   * loader truncates the cache to the log end). Cheap when nothing is pending. Returns
   * whether the file was written; without `syncDirectory` the caller fsyncs the directory.
   * With `later` its fsync and rename are left to that batch.
   */
  persistPending(endOffset: number, syncDirectory = true, later?: Deferred): boolean {
    if (this.pendingFrom >= endOffset) return false
    // Pending entries are the newest ones: those with records below `endOffset` go to the file,
    // later ones keep waiting. Writing one without records would make the next open cut it
    // from the file again (truncateFromEnd), a synchronous write at every partition's open.
    const waiting = this.entries.findIndex((e) => e.startOffset >= endOffset)
    this.persist(waiting < 0 ? this.entries.length : waiting, syncDirectory, later)
    return true
  }

  /** Whether entries not yet in the file cover records below `endOffset` (persistPending would write). */
  hasPendingBelow(endOffset: number): boolean {
    return this.pendingFrom < endOffset
  }

  /** Drops epochs that start at or after `endOffset` (the log was cut back to it). */
  truncateFromEnd(endOffset: number): void {
    const kept = this.entries.filter((e) => e.startOffset < endOffset)
    if (kept.length !== this.entries.length) {
      this.entries = kept
      this.persist()
    }
  }

  /** The log now starts at `startOffset`: the epoch covering it is moved up to start there. */
  truncateFromStart(startOffset: number): void {
    let lastBefore = -1
    for (let i = 0; i < this.entries.length; i++) if (this.entries[i]!.startOffset <= startOffset) lastBefore = i
    if (lastBefore < 0) return
    const covering = this.entries[lastBefore]!
    if (lastBefore === 0 && covering.startOffset === startOffset) return
    this.entries = [{ epoch: covering.epoch, startOffset }, ...this.entries.slice(lastBefore + 1)]
    this.persist()
  }

  /**
   * Kafka's endOffsetFor: the end offset of `requestedEpoch` (the start of the next higher
   * epoch, or the log end offset for the latest one) and the largest epoch ≤ requested.
   * (-1, -1) when unknown.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    if (requestedEpoch < 0) return { epoch: -1, endOffset: -1 }
    if (this.entries.length > 0 && this.latestEpoch() === requestedEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset }
    const higher = this.entries.find((e) => e.epoch > requestedEpoch)
    if (higher === undefined) return { epoch: -1, endOffset: -1 }
    let floor: EpochEntry | undefined
    for (const e of this.entries) if (e.epoch <= requestedEpoch) floor = e
    return { epoch: floor === undefined ? requestedEpoch : floor.epoch, endOffset: higher.startOffset }
  }
}

// ---------------------------------------------------------------------------------------
// partition.metadata
// ---------------------------------------------------------------------------------------

export const readPartitionMetadata = (dir: string, io: FileIoShape = nodeFileIo): { version: number; topicId: string } | null => {
  const file = path.join(dir, PARTITION_METADATA_FILE)
  const text = readTextIfExists(file, io)
  // Empty: written without fsync at creation (writePartitionMetadata, durable false) and cut by
  // a power loss before the log's first flush; nothing in the partition was durable then either.
  if (text === null || text === "") return null
  const fields = new Map<string, string>()
  for (const line of text.split("\n")) {
    const i = line.indexOf(":")
    if (i > 0) fields.set(line.slice(0, i).trim(), line.slice(i + 1).trim())
  }
  const version = Number(fields.get("version"))
  const topicIdText = fields.get("topic_id")
  if (version !== 0 || topicIdText === undefined || topicIdText === "") {
    throw new CheckpointFormatError(`${file}: malformed partition metadata ${JSON.stringify(text)}`)
  }
  let topicId: string
  try {
    // Kafka's Uuid.fromString: padded base64url is accepted too; kept in canonical form.
    topicId = uuidFromString(topicIdText)
  } catch (e) {
    throw new CheckpointFormatError(`${file}: topic_id ${topicIdText} is not a valid uuid: ${(e as Error).message}`)
  }
  return { version, topicId }
}

/**
 * With `durable` false the file is only written (to a new partition's directory): like Kafka's
 * PartitionMetadataFile, flushed later, here with the log's first flush (syncFileIfExists);
 * creating 10 000 partitions then waits for no fsync per partition.
 */
export const writePartitionMetadata = (dir: string, topicId: string, io: FileIoShape = nodeFileIo, durable = true): void => {
  const file = path.join(dir, PARTITION_METADATA_FILE)
  const content = `version: 0\ntopic_id: ${topicId}\n`
  if (durable) writeFileAtomically(file, content, io)
  else io.writeFileSync(file, content)
}

/** fsyncs a file written earlier without it; a missing file (deleted since) is no error. */
export const syncFileIfExists = (file: string, io: FileIoShape = nodeFileIo): void => {
  let fd: number
  try {
    fd = io.openSync(file, "r")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return
    throw e
  }
  try {
    io.fsyncSync(fd)
  } finally {
    io.closeSync(fd)
  }
}
