/**
 * The file-system seam under the LogStore and the MetadataLog: every file operation of the
 * partition logs (segments, indexes, checkpoints, producer snapshots, transaction indexes,
 * the cleaner's swap) and of the metadata log goes through a `FileIoShape`. The real one is
 * node:fs itself; tests swap in a faulty one (ENOSPC, EIO, torn writes, power loss).
 *
 * The calls stay synchronous and the object is handed down once (to a PartitionLog, a
 * LogSegment, an index) rather than looked up per call, so the hot path remains plain
 * functions on Buffers. The asynchronous calls (open, write, ftruncate, fsync, rename, close, rm)
 * serve the work left to libuv's thread pool: the writes and forces of src/log/sync-batch.ts (a
 * shutdown forcing many logs' files at once, the periodic checkpoints, rolled-segment flushes),
 * the metadata log's fsyncs, and removing deleted segments and partitions
 * (src/log/background-removal.ts).
 */
import * as fs from "node:fs"
import { Context, Effect, Layer, Option } from "effect"

/** The node:fs calls the storage layer makes, with node's own signatures. */
export type FileIoShape = Pick<
  typeof fs,
  | "appendFileSync"
  | "close"
  | "closeSync"
  | "constants"
  | "existsSync"
  | "fstatSync"
  | "fsync"
  | "fsyncSync"
  | "ftruncate"
  | "ftruncateSync"
  | "linkSync"
  | "mkdirSync"
  | "open"
  | "openSync"
  | "readdirSync"
  | "readFileSync"
  | "readSync"
  | "realpathSync"
  | "rename"
  | "renameSync"
  | "rm"
  | "rmSync"
  | "statSync"
  | "unlinkSync"
  | "utimesSync"
  | "write"
  | "writeFileSync"
  | "writeSync"
  | "writevSync"
>

/** The real disk. */
export const nodeFileIo: FileIoShape = fs

export class FileIo extends Context.Service<FileIo, FileIoShape>()("kafka-broker/storage/FileIo") {
  static readonly layer: Layer.Layer<FileIo> = Layer.succeed(FileIo, nodeFileIo)

  /** The provided FileIo, or the real disk when none is: storage Layers work without wiring it. */
  static readonly current: Effect.Effect<FileIoShape> = Effect.map(Effect.serviceOption(FileIo), Option.getOrElse(() => nodeFileIo))
}
