/**
 * The `.lock` file of a log directory, held for the life of the process so that a second
 * broker pointed at the same directory refuses to start instead of writing the same files.
 *
 * Kafka takes an OS file lock (`FileChannel.tryLock`, i.e. fcntl) on `<log dir>/.lock` and
 * never deletes the file. Node has no flock/fcntl, and the choices were:
 * - a native binding (fs-ext): needs a compiler and node headers at install time, which a
 *   fresh machine of this project may not have, and it would make `pnpm install` fragile;
 * - proper-lockfile: a `mkdir` lock kept alive by rewriting its mtime on a timer; a crashed
 *   owner is only detected once the mtime is `stale` ms old, so a restart after `kill -9`
 *   would have to wait that long, and the lock lives in `.lock.lock`, not Kafka's `.lock`;
 * - a pid lock file (chosen): `.lock` holds "<pid> <process start time>", created atomically
 *   (write a private file, then `link` it to `.lock`, which fails if `.lock` exists). A lock
 *   whose owner is gone (no such pid, or the pid now belongs to a process that started at a
 *   different time), or that holds no pid (the empty `.lock` Kafka leaves behind), is stale
 *   and taken over at once. On one host this detects a crashed owner immediately.
 * Limits: two processes taking over the same stale lock in the same instant may both win
 * (the window is a rename and a read); the lock is host-local, like Kafka's on most
 * network file systems. On release the file is emptied, not removed, as Kafka leaves it.
 */
import * as fs from "node:fs"
import * as path from "node:path"

export const LOCK_FILE = ".lock"

export class DirLockError extends Error {
  override readonly name = "DirLockError"
  readonly dir: string
  constructor(dir: string, message: string) {
    super(message)
    this.dir = dir
  }
}

/** Locks held by this process, by lock file path (a second broker in one process must fail too). */
const heldHere = new Set<string>()

/** Start time of a process in clock ticks since boot (Linux /proc), or "" where unknown. */
const processStartTime = (pid: number): string | null => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return fields[19] ?? ""
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === "ENOENT" || code === "ESRCH") return null
    return ""
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const ownerLine = (): string => `${process.pid} ${processStartTime(process.pid) ?? ""}`.trim() + "\n"

/** The owner named by a lock file's text if it is a live process, else null (stale or foreign). */
const liveOwner = (text: string): number | null => {
  const [pidText, started] = text.trim().split(/\s+/)
  const pid = Number(pidText)
  if (!Number.isSafeInteger(pid) || pid <= 0 || !isAlive(pid)) return null
  if (started !== undefined && started !== "") {
    const now = processStartTime(pid)
    // Known and different: the pid was reused by another process after the owner died.
    if (now !== null && now !== "" && now !== started) return null
  }
  return pid
}

export interface DirLock {
  readonly dir: string
  readonly release: () => void
}

/** Takes the lock of `dir` (which must exist) or throws DirLockError naming the directory. */
export const lockDir = (dir: string): DirLock => {
  // The real path: two spellings of one directory (a symlink, "..") must meet the same lock.
  let real: string
  try {
    real = fs.realpathSync(dir)
  } catch (e) {
    throw new DirLockError(dir, `Failed to acquire lock on ${dir}: ${(e as Error).message}`)
  }
  const file = path.join(real, LOCK_FILE)
  if (heldHere.has(file)) {
    throw new DirLockError(dir, `Failed to acquire lock on file ${file}: the log directory ${dir} is in use by this process (pid ${process.pid})`)
  }
  const mine = ownerLine()
  const tmp = `${file}.${process.pid}.tmp`
  try {
    fs.writeFileSync(tmp, mine, { mode: 0o644 })
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.linkSync(tmp, file)
        break
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
      }
      let text: string
      try {
        text = fs.readFileSync(file, "utf8")
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue
        throw e
      }
      const owner = liveOwner(text)
      if (owner !== null && owner !== process.pid) {
        throw new DirLockError(
          dir,
          `Failed to acquire lock on file ${file}: the log directory ${dir} is in use by another process (pid ${owner}); ` +
            "only one broker may use a data directory"
        )
      }
      // Stale: replace it atomically with ours, then check nobody else replaced it meanwhile.
      fs.renameSync(tmp, file)
      const now = fs.readFileSync(file, "utf8")
      if (now !== mine) {
        const other = liveOwner(now)
        throw new DirLockError(dir, `Failed to acquire lock on file ${file}: taken over concurrently by pid ${other ?? "unknown"}`)
      }
      break
    }
    if (fs.readFileSync(file, "utf8") !== mine) {
      throw new DirLockError(dir, `Failed to acquire lock on file ${file}: it keeps changing under this process`)
    }
  } catch (e) {
    if (e instanceof DirLockError) throw e
    throw new DirLockError(dir, `Failed to acquire lock on file ${file}: ${(e as Error).message}`)
  } finally {
    fs.rmSync(tmp, { force: true })
  }
  heldHere.add(file)
  let released = false
  return {
    dir,
    release: () => {
      if (released) return
      released = true
      heldHere.delete(file)
      try {
        if (fs.readFileSync(file, "utf8") === mine) fs.writeFileSync(file, "")
      } catch {
        // The directory may be gone already (tests remove it); nothing to release then.
      }
    }
  }
}
