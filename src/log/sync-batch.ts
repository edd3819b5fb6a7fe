/**
 * The writes and fsyncs of closing many logs at once, gathered and then issued together.
 * Kafka's clean shutdown flushes its logs in parallel (num.recovery.threads.per.data.dir
 * threads) before it writes the clean-shutdown marker; here each log's close only computes
 * what its last writes are and names what must be forced, and the batch does it many files
 * at a time through libuv's thread pool, in the order durability needs:
 *
 * 1. file contents: the last writes (index tails, checkpoint temporaries), then the fsync of
 *    each file written since its last one (segments, indexes, partition.metadata...);
 * 2. the renames that publish checkpoint temporaries (a name must never become durable
 *    before its content), each owner's in order, several owners at a time;
 * 3. the directories whose entries changed (a partition's, then the log dir's, each once).
 *
 * A single log's close runs the same batch serially (`runSync`), so both paths write and
 * make durable the same things in the same order. Every step names its owner (a partition
 * key): a failure marks the owner, and an owner with a failure gets none of its later steps.
 */
import type { FileIoShape } from "../storage/FileIo.ts"
import { DIRECTORY_FSYNC_UNSUPPORTED } from "./checkpoint.ts"

/** Bytes to write at `position`, after cutting the file to `truncateTo` (when not null). */
export interface FileWrite {
  readonly content: Uint8Array
  readonly position: number
  readonly truncateTo: number | null
}

interface Step {
  readonly path: string
  readonly owners: Set<string>
  /** Written (the file created if missing) before the fsync, in order. */
  readonly writes: Array<FileWrite>
}

interface Rename {
  readonly from: string
  readonly to: string
  readonly owner: string
}

/** Files in flight at once: the thread pool runs a handful of threads; more queued keeps them busy. */
const DEFAULT_CONCURRENCY = 64

export class SyncBatch {
  private readonly files = new Map<string, Step>()
  private readonly renames: Array<Rename> = []
  private readonly dirs = new Map<string, Step>()

  /** The content of `path` must be forced (a missing file by then is no error: it was deleted). */
  file(path: string, owner: string): void {
    add(this.files, path, owner)
  }

  /** `write` goes to `path` (created if missing), which is then forced. */
  write(path: string, write: FileWrite, owner: string): void {
    add(this.files, path, owner).writes.push(write)
  }

  /** `from` becomes `to` once its content is durable. */
  rename(from: string, to: string, owner: string): void {
    this.renames.push({ from, to, owner })
  }

  /** The entries of directory `path` must be forced, after the files and renames. */
  directory(path: string, owner: string): void {
    add(this.dirs, path, owner)
  }

  /** What the batch forces, for a log line. */
  describe(): string {
    return `${this.files.size} files and ${this.dirs.size} directories (${this.renames.length} renames)`
  }

  /** Runs the batch with synchronous calls, in order; throws the first failure. */
  runSync(io: FileIoShape): void {
    for (const step of this.files.values()) forceSync(io, step, false)
    for (const r of this.renames) io.renameSync(r.from, r.to)
    for (const step of this.dirs.values()) forceSync(io, step, true)
  }

  /**
   * Runs the batch with up to `concurrency` files in flight. Resolves (never rejects) with
   * each failed owner's first error; an owner's later steps are skipped once it failed.
   */
  async run(io: FileIoShape, concurrency = DEFAULT_CONCURRENCY): Promise<Map<string, Error>> {
    const failed = new Map<string, Error>()
    const fail = (owners: Iterable<string>, e: unknown) => {
      for (const o of owners) if (!failed.has(o)) failed.set(o, e as Error)
    }
    const live = (step: Step) => [...step.owners].some((o) => !failed.has(o))
    await forceAll(io, [...this.files.values()], false, concurrency, fail, live)
    await this.renameAll(io, concurrency, (r) => !failed.has(r.owner), fail)
    await forceAll(io, [...this.dirs.values()], true, concurrency, fail, live)
    return failed
  }

  /**
   * The renames on the thread pool: each owner's in the order given, the next once the one
   * before is answered, up to `concurrency` owners at a time. An owner's renames stop at its
   * first failure.
   */
  private renameAll(
    io: FileIoShape,
    concurrency: number,
    live: (r: Rename) => boolean,
    fail: (owners: Iterable<string>, e: unknown) => void
  ): Promise<void> {
    const chains = new Map<string, Array<Rename>>()
    for (const r of this.renames) {
      const chain = chains.get(r.owner)
      if (chain === undefined) chains.set(r.owner, [r])
      else chain.push(r)
    }
    const queue = [...chains.values()]
    return new Promise((resolve) => {
      let next = 0
      let inFlight = 0
      /** Issues `chain[i]`; false when the chain is over (ended or failed). */
      const issue = (chain: ReadonlyArray<Rename>, i: number): boolean => {
        const r = chain[i]
        if (r === undefined || !live(r)) return false
        io.rename(r.from, r.to, (e) => {
          if (e !== null) fail([r.owner], e)
          if (!issue(chain, i + 1)) {
            inFlight--
            pump()
          }
        })
        return true
      }
      const pump = (): void => {
        while (inFlight < concurrency && next < queue.length) if (issue(queue[next++]!, 0)) inFlight++
        if (inFlight === 0 && next >= queue.length) resolve()
      }
      pump()
    })
  }
}

const add = (steps: Map<string, Step>, path: string, owner: string): Step => {
  let step = steps.get(path)
  if (step === undefined) steps.set(path, (step = { path, owners: new Set(), writes: [] }))
  step.owners.add(owner)
  return step
}

/** An fsync a directory may refuse on a platform that cannot force directories (nothing failed). */
const ignorable = (e: unknown, directory: boolean): boolean => {
  const code = (e as NodeJS.ErrnoException | null)?.code
  return directory && code !== undefined && DIRECTORY_FSYNC_UNSUPPORTED.has(code)
}

/** A step with nothing to write skips a file that is gone (deleted since) or a directory it cannot open. */
const skippable = (e: unknown, directory: boolean): boolean =>
  (e as NodeJS.ErrnoException | null)?.code === "ENOENT" || ignorable(e, directory)

const openFlags = (io: FileIoShape, step: Step): number =>
  step.writes.length === 0 ? io.constants.O_RDONLY : io.constants.O_RDWR | io.constants.O_CREAT

const forceSync = (io: FileIoShape, step: Step, directory: boolean): void => {
  let fd: number
  try {
    fd = io.openSync(step.path, openFlags(io, step), 0o644)
  } catch (e) {
    if (step.writes.length === 0 && skippable(e, directory)) return
    throw e
  }
  try {
    for (const w of step.writes) {
      if (w.truncateTo !== null) io.ftruncateSync(fd, w.truncateTo)
      let done = 0
      while (done < w.content.length) done += io.writeSync(fd, w.content, done, w.content.length - done, w.position + done)
    }
    try {
      io.fsyncSync(fd)
    } catch (e) {
      if (!ignorable(e, directory)) throw e
    }
  } finally {
    io.closeSync(fd)
  }
}

/** One step on the thread pool: open, the writes, fsync, close; `done` gets the first error. */
const forceAsync = (io: FileIoShape, step: Step, directory: boolean, done: (e: unknown) => void): void => {
  io.open(step.path, openFlags(io, step), 0o644, (openError, fd) => {
    if (openError !== null) return done(step.writes.length === 0 && skippable(openError, directory) ? null : openError)
    const finish = (e: unknown) => io.close(fd, (closeError) => done(e ?? closeError))
    let w = 0
    let written = 0
    const next = (): void => {
      const write = step.writes[w]
      if (write === undefined) {
        io.fsync(fd, (e) => finish(e !== null && !ignorable(e, directory) ? e : null))
        return
      }
      if (written === 0 && write.truncateTo !== null) {
        const cut = write.truncateTo
        io.ftruncate(fd, cut, (e) => {
          if (e !== null) return finish(e)
          writeFrom(write)
        })
        return
      }
      writeFrom(write)
    }
    const writeFrom = (write: FileWrite): void => {
      if (written >= write.content.length) {
        w++
        written = 0
        next()
        return
      }
      io.write(fd, write.content, written, write.content.length - written, write.position + written, (e, n) => {
        if (e !== null) return finish(e)
        written += n
        // A write that stored nothing would loop forever; write(2) reports a full disk instead.
        if (n === 0) return finish(new Error(`write to ${step.path} stored no bytes`))
        writeFrom(write)
      })
    }
    next()
  })
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
        inFlight++
        forceAsync(io, step, directory, (e) => {
          inFlight--
          if (e !== null && e !== undefined) fail(step.owners, e)
          pump()
        })
      }
      if (inFlight === 0 && next >= steps.length) resolve()
    }
    pump()
  })
