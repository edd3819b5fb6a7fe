/**
 * The fsyncs of closing many logs at once, gathered and then issued together. Kafka's clean
 * shutdown flushes its logs in parallel (num.recovery.threads.per.data.dir threads) before
 * it writes the clean-shutdown marker; here each log's close writes everything without
 * forcing it and names what must be forced, and the batch forces it many at a time through
 * libuv's thread pool, in the order durability needs:
 *
 * 1. file contents (segments, indexes, checkpoint temporaries, partition.metadata);
 * 2. the renames that publish checkpoint temporaries (a name must never become durable
 *    before its content);
 * 3. the directories whose entries changed (a partition's, then the log dir's, each once).
 *
 * A single log's close runs the same batch serially (`runSync`), so both paths make the
 * same things durable in the same order. Every entry names its owner (a partition key): a
 * failure marks the owner, and an owner with a failure gets none of its later steps.
 */
import type { FileIoShape } from "../storage/FileIo.ts"
import { DIRECTORY_FSYNC_UNSUPPORTED } from "./checkpoint.ts"

interface Step {
  readonly path: string
  readonly owners: Set<string>
}

interface Rename {
  readonly from: string
  readonly to: string
  readonly owner: string
}

/** fsyncs in flight at once: the thread pool runs 4 by default; more queued keeps it busy. */
const DEFAULT_CONCURRENCY = 64

export class SyncBatch {
  private readonly files = new Map<string, Step>()
  private readonly renames: Array<Rename> = []
  private readonly dirs = new Map<string, Step>()
  /** Owners whose remaining steps are dropped without a failure (a newer write replaced theirs). */
  private readonly abandoned = new Set<string>()

  /** The content of `path` must be forced (a missing file by then is no error: it was deleted). */
  file(path: string, owner: string): void {
    add(this.files, path, owner)
  }

  /** `from` becomes `to` once its content is durable. */
  rename(from: string, to: string, owner: string): void {
    this.renames.push({ from, to, owner })
  }

  /** The entries of directory `path` must be forced, after the files and renames. */
  directory(path: string, owner: string): void {
    add(this.dirs, path, owner)
  }

  /**
   * Drops `owner`'s steps not yet started (an fsync already issued completes): a synchronous
   * writer has replaced the files this batch was about to publish, and a rename now would put
   * older content over theirs (or find its temporary gone).
   */
  abandon(owner: string): void {
    this.abandoned.add(owner)
  }

  /** What the batch forces, for a log line. */
  describe(): string {
    return `${this.files.size} files and ${this.dirs.size} directories (${this.renames.length} renames)`
  }

  /** Runs the batch with synchronous calls, in order; throws the first failure. */
  runSync(io: FileIoShape): void {
    for (const step of this.files.values()) forceSync(io, step.path, false)
    for (const r of this.renames) io.renameSync(r.from, r.to)
    for (const step of this.dirs.values()) forceSync(io, step.path, true)
  }

  /**
   * Runs the batch with up to `concurrency` fsyncs in flight. Resolves (never rejects) with
   * each failed owner's first error; an owner's later steps are skipped once it failed.
   */
  async run(io: FileIoShape, concurrency = DEFAULT_CONCURRENCY): Promise<Map<string, Error>> {
    const failed = new Map<string, Error>()
    const fail = (owners: Iterable<string>, e: unknown) => {
      for (const o of owners) if (!failed.has(o)) failed.set(o, e as Error)
    }
    const live = (step: Step) => [...step.owners].some((o) => !failed.has(o) && !this.abandoned.has(o))
    await forceAll(io, [...this.files.values()], false, concurrency, fail, live)
    for (const r of this.renames) {
      if (failed.has(r.owner) || this.abandoned.has(r.owner)) continue
      try {
        io.renameSync(r.from, r.to)
      } catch (e) {
        fail([r.owner], e)
      }
    }
    await forceAll(io, [...this.dirs.values()], true, concurrency, fail, live)
    return failed
  }
}

const add = (steps: Map<string, Step>, path: string, owner: string): void => {
  const step = steps.get(path)
  if (step === undefined) steps.set(path, { path, owners: new Set([owner]) })
  else step.owners.add(owner)
}

/** Opens `path` for an fsync; null when there is nothing to force (gone, or a directory the platform cannot fsync). */
const openForSync = (io: FileIoShape, path: string, directory: boolean): number | null => {
  try {
    return io.openSync(path, "r")
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === "ENOENT" || (directory && code !== undefined && DIRECTORY_FSYNC_UNSUPPORTED.has(code))) return null
    throw e
  }
}

const forceSync = (io: FileIoShape, path: string, directory: boolean): void => {
  const fd = openForSync(io, path, directory)
  if (fd === null) return
  try {
    io.fsyncSync(fd)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (!(directory && code !== undefined && DIRECTORY_FSYNC_UNSUPPORTED.has(code))) throw e
  } finally {
    io.closeSync(fd)
  }
}

const forceAll = (
  io: FileIoShape,
  steps: ReadonlyArray<Step>,
  directory: boolean,
  concurrency: number,
  fail: (owners: Iterable<string>, e: unknown) => void,
  live: (step: Step) => boolean
): Promise<void> =>
  new Promise((resolve) => {
    let next = 0
    let inFlight = 0
    const pump = (): void => {
      while (inFlight < concurrency && next < steps.length) {
        const step = steps[next++]!
        if (!live(step)) continue
        let fd: number | null
        try {
          fd = openForSync(io, step.path, directory)
        } catch (e) {
          fail(step.owners, e)
          continue
        }
        if (fd === null) continue
        inFlight++
        const opened = fd
        io.fsync(opened, (e) => {
          inFlight--
          const code = e?.code
          if (e !== null && !(directory && code !== undefined && DIRECTORY_FSYNC_UNSUPPORTED.has(code))) fail(step.owners, e)
          try {
            io.closeSync(opened)
          } catch {
            // closing a file we only read cannot lose anything
          }
          pump()
        })
      }
      if (inFlight === 0 && next >= steps.length) resolve()
    }
    pump()
  })
