/**
 * A FileIoShape over the real disk that injects faults, for the disk-fault tests:
 *
 * - `fail(rule)`: writes / fsyncs / opens (...) of paths matching a pattern fail with ENOSPC
 *   or EIO, at once, after a byte budget (the write crossing it is cut short, as write(2)
 *   does on a full disk, and the next one fails), or a limited number of times;
 * - `tearNextWrite(pattern)`: the next matching write stores a random prefix of its bytes
 *   and then the machine "dies": every later call fails with EIO and changes nothing;
 * - `powerLoss()`: puts the tree under `root` back to what was made durable, POSIX-strictly:
 *   a file's bytes as of its last fsync, a directory's entries as of the directory's last
 *   fsync (a new file whose directory was never fsynced is gone, whatever its own fsyncs).
 *
 * Durable state is tracked by inode (renames keep it). Everything under `root` at
 * construction counts as durable. Randomness comes from a seeded generator.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { FileIoShape } from "../../src/storage/FileIo.ts"

export type FaultOp = "open" | "write" | "fsync" | "truncate" | "rename" | "unlink" | "mkdir" | "read"
export type FaultCode = "ENOSPC" | "EIO"

export interface FaultRule {
  readonly code: FaultCode
  /** Which calls fail (default: writes and fsyncs). */
  readonly ops?: ReadonlyArray<FaultOp>
  /** Paths it applies to (default: every path). A string matches as a substring. */
  readonly path?: RegExp | string
  /** Bytes that may still be written to matching paths before writes fail (ENOSPC style). */
  readonly afterBytes?: number
  /** How many calls fail before the rule lifts itself (default: until removed). */
  readonly times?: number
}

interface ActiveRule {
  readonly rule: FaultRule
  budget: number
  remaining: number
}

/** mulberry32: small, seedable, good enough to pick tear points. */
export const seededRandom = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const errnoOf: Record<FaultCode, number> = { ENOSPC: -28, EIO: -5 }

export const ioError = (code: FaultCode, syscall: string, file: string): NodeJS.ErrnoException => {
  const text = code === "ENOSPC" ? "no space left on device" : "i/o error"
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${file}'`), { code, errno: errnoOf[code], syscall, path: file })
}

interface DirEntry {
  readonly ino: number
  readonly isDir: boolean
}

export interface InjectedFault {
  readonly op: FaultOp | "tear"
  readonly code: FaultCode
  readonly path: string
}

export class FaultyFileIo {
  readonly root: string
  readonly io: FileIoShape
  /** Every fault raised, in order (what a test can assert was actually exercised). */
  readonly injected: Array<InjectedFault> = []
  private readonly rules: Array<ActiveRule> = []
  private readonly fdPaths = new Map<number, string>()
  private readonly durableData = new Map<number, Buffer>()
  private readonly durableDirs = new Map<number, Map<string, DirEntry>>()
  private tear: { readonly pattern: RegExp | string; readonly random: () => number } | null = null
  private dead = false

  constructor(root: string) {
    this.root = path.resolve(root)
    fs.mkdirSync(this.root, { recursive: true })
    this.markAllDurable()
    this.io = this.makeIo()
  }

  /** Adds a fault rule; returns a function that removes it. */
  fail(rule: FaultRule): () => void {
    const active: ActiveRule = { rule, budget: rule.afterBytes ?? -1, remaining: rule.times ?? Infinity }
    this.rules.push(active)
    return () => {
      const i = this.rules.indexOf(active)
      if (i >= 0) this.rules.splice(i, 1)
    }
  }

  /** The disk is healthy again (rules removed; a "dead" machine stays dead until powerLoss). */
  heal(): void {
    this.rules.length = 0
    this.tear = null
  }

  /** The next write to a matching path stores a random prefix of its bytes, then the machine dies. */
  tearNextWrite(pattern: RegExp | string, seed: number): void {
    this.tear = { pattern, random: seededRandom(seed) }
  }

  /** The machine stops: every later call fails with EIO and changes nothing on disk. */
  crash(): void {
    this.dead = true
  }

  get isDead(): boolean {
    return this.dead
  }

  /**
   * Power comes back: the tree under `root` holds exactly what was durable, the machine
   * runs again with no fault rules, and what is on disk now counts as durable.
   */
  powerLoss(): void {
    this.dead = true
    const rootIno = fs.statSync(this.root).ino
    const rebuild = (dir: string, ino: number): void => {
      for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true })
      const entries = this.durableDirs.get(ino)
      if (entries === undefined) return
      for (const [name, entry] of entries) {
        const full = path.join(dir, name)
        if (entry.isDir) {
          fs.mkdirSync(full)
          rebuild(full, entry.ino)
        } else {
          fs.writeFileSync(full, this.durableData.get(entry.ino) ?? Buffer.alloc(0))
        }
      }
    }
    // Rebuild into a staging copy first: the old inodes must stay readable while copying.
    const staging = `${this.root}.power-loss`
    fs.rmSync(staging, { recursive: true, force: true })
    fs.mkdirSync(staging)
    rebuild(staging, rootIno)
    for (const name of fs.readdirSync(this.root)) fs.rmSync(path.join(this.root, name), { recursive: true, force: true })
    for (const name of fs.readdirSync(staging)) fs.renameSync(path.join(staging, name), path.join(this.root, name))
    fs.rmSync(staging, { recursive: true, force: true })
    this.fdPaths.clear()
    this.durableData.clear()
    this.durableDirs.clear()
    this.markAllDurable()
    this.rules.length = 0
    this.tear = null
    this.dead = false
  }

  // -------------------------------------------------------------------------------------

  private markAllDurable(): void {
    const walk = (dir: string): void => {
      this.captureDir(dir)
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name)
        if (entry.isDirectory()) walk(full)
        else if (entry.isFile()) this.durableData.set(fs.statSync(full).ino, fs.readFileSync(full))
      }
    }
    walk(this.root)
  }

  private captureDir(dir: string): void {
    const entries = new Map<string, DirEntry>()
    for (const name of fs.readdirSync(dir)) {
      const st = fs.lstatSync(path.join(dir, name))
      if (st.isDirectory() || st.isFile()) entries.set(name, { ino: st.ino, isDir: st.isDirectory() })
    }
    this.durableDirs.set(fs.statSync(dir).ino, entries)
  }

  private inside(file: string): boolean {
    const abs = path.resolve(file)
    return abs === this.root || abs.startsWith(this.root + path.sep)
  }

  private static matches(pattern: RegExp | string | undefined, file: string): boolean {
    if (pattern === undefined) return true
    return typeof pattern === "string" ? file.includes(pattern) : pattern.test(file)
  }

  /** Throws the fault for `op` on `file`, if a rule says so. */
  private check(op: FaultOp, syscall: string, file: string): void {
    if (this.dead) {
      this.injected.push({ op, code: "EIO", path: file })
      throw ioError("EIO", syscall, file)
    }
    for (const active of this.rules) {
      const rule = active.rule
      if (!(rule.ops ?? ["write", "fsync"]).includes(op) || !FaultyFileIo.matches(rule.path, file)) continue
      if (rule.afterBytes !== undefined && active.budget > 0) continue
      if (active.remaining <= 0) continue
      active.remaining--
      this.injected.push({ op, code: rule.code, path: file })
      throw ioError(rule.code, syscall, file)
    }
  }

  /** Bytes a write to `file` may store (a byte budget may cut it short). */
  private allowance(file: string, length: number): number {
    let allowed = length
    for (const active of this.rules) {
      const rule = active.rule
      if (rule.afterBytes === undefined || !(rule.ops ?? ["write", "fsync"]).includes("write") || !FaultyFileIo.matches(rule.path, file)) continue
      allowed = Math.min(allowed, Math.max(0, active.budget))
    }
    return allowed
  }

  private consume(file: string, n: number): void {
    for (const active of this.rules) {
      const rule = active.rule
      if (rule.afterBytes === undefined || !FaultyFileIo.matches(rule.path, file)) continue
      active.budget = Math.max(0, active.budget - n)
    }
  }

  private pathOf(fd: number): string {
    return this.fdPaths.get(fd) ?? `<fd ${fd}>`
  }

  private makeIo(): FileIoShape {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this
    const guardPath = (op: FaultOp, syscall: string, file: fs.PathLike): void => {
      const p = String(file)
      if (self.inside(p)) self.check(op, syscall, p)
    }
    const guardFd = (op: FaultOp, syscall: string, fd: number): void => {
      const p = self.fdPaths.get(fd)
      if (p !== undefined) self.check(op, syscall, p)
    }
    const later = <A>(run: () => A, callback: (e: NodeJS.ErrnoException | null, a: A) => void): void => {
      setImmediate(() => {
        let result: A
        try {
          result = run()
        } catch (e) {
          callback(e as NodeJS.ErrnoException, undefined as A)
          return
        }
        callback(null, result)
      })
    }
    const markDurable = (fd: number): void => {
      const file = self.fdPaths.get(fd)
      if (file === undefined) return
      const st = fs.fstatSync(fd)
      if (st.isDirectory()) self.captureDir(file)
      else self.durableData.set(st.ino, contentOf(fd, file, st.size))
    }
    // An fsync forces the inode, whatever its name has become since (renamed or replaced
    // while a thread-pool fsync was in flight): read through the descriptor when it allows.
    const contentOf = (fd: number, file: string, size: number): Buffer => {
      const bytes = Buffer.alloc(size)
      let n = 0
      try {
        while (n < size) {
          const read = fs.readSync(fd, bytes, n, size - n, n)
          if (read === 0) break
          n += read
        }
      } catch (e) {
        // A write-only descriptor: its path still names it (no rename races a synchronous fsync).
        if ((e as NodeJS.ErrnoException).code === "EBADF") return fs.readFileSync(file)
        throw e
      }
      return bytes.subarray(0, n)
    }
    const writeSync = ((fd: number, buffer: any, ...rest: Array<any>): number => {
      guardFd("write", "write", fd)
      const file = self.pathOf(fd)
      const tracked = self.fdPaths.has(fd)
      if (typeof buffer === "string") {
        if (tracked && self.tear !== null && FaultyFileIo.matches(self.tear.pattern, file)) {
          const bytes = Buffer.from(buffer)
          return writeSync(fd, bytes, 0, bytes.length, typeof rest[0] === "number" ? rest[0] : null)
        }
        return fs.writeSync(fd, buffer, ...rest)
      }
      const offset: number = typeof rest[0] === "number" ? rest[0] : 0
      const length: number = typeof rest[1] === "number" ? rest[1] : buffer.byteLength - offset
      const position = rest[2] ?? null
      if (tracked && self.tear !== null && FaultyFileIo.matches(self.tear.pattern, file)) {
        const cut = Math.floor(self.tear.random() * length)
        self.tear = null
        if (cut > 0) fs.writeSync(fd, buffer, offset, cut, position)
        self.injected.push({ op: "tear", code: "EIO", path: file })
        self.dead = true
        throw ioError("EIO", "write", file)
      }
      const allowed = tracked ? self.allowance(file, length) : length
      if (allowed === 0 && length > 0) {
        const rule = self.rules.find((r) => r.rule.afterBytes !== undefined && FaultyFileIo.matches(r.rule.path, file))
        const code = rule?.rule.code ?? "ENOSPC"
        self.injected.push({ op: "write", code, path: file })
        throw ioError(code, "write", file)
      }
      const n = fs.writeSync(fd, buffer, offset, allowed, position)
      if (tracked) self.consume(file, n)
      return n
    }) as typeof fs.writeSync

    // As several writes, one per buffer: every fault a write can meet applies to each.
    const writevSync = ((fd: number, buffers: ReadonlyArray<NodeJS.ArrayBufferView>, position?: number | null): number => {
      let total = 0
      for (const b of buffers) {
        const n = writeSync(fd, b as Uint8Array, 0, b.byteLength, position === undefined || position === null ? null : position + total)
        total += n
        if (n < b.byteLength) break
      }
      return total
    }) as typeof fs.writevSync

    const io: FileIoShape = {
      constants: fs.constants,
      openSync: ((file: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode | null) => {
        guardPath("open", "open", file)
        const fd = fs.openSync(file, flags ?? "r", mode)
        if (self.inside(String(file))) self.fdPaths.set(fd, path.resolve(String(file)))
        return fd
      }) as typeof fs.openSync,
      closeSync: (fd: number) => {
        self.fdPaths.delete(fd)
        fs.closeSync(fd)
      },
      readSync: ((fd: number, ...rest: Array<any>) => {
        guardFd("read", "read", fd)
        return (fs.readSync as any)(fd, ...rest)
      }) as typeof fs.readSync,
      writeSync,
      writevSync,
      fsyncSync: (fd: number) => {
        guardFd("fsync", "fsync", fd)
        fs.fsyncSync(fd)
        markDurable(fd)
      },
      // The asynchronous calls run as their synchronous twins (with every fault those meet),
      // answered on a later tick as the thread pool's would be.
      fsync: ((fd: number, callback: fs.NoParamCallback) => later(() => io.fsyncSync(fd), callback)) as typeof fs.fsync,
      open: ((file: fs.PathLike, flags: fs.OpenMode, mode: fs.Mode, callback: (e: NodeJS.ErrnoException | null, fd: number) => void) =>
        later(() => io.openSync(file, flags, mode), callback)) as typeof fs.open,
      write: ((fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null, callback: (e: NodeJS.ErrnoException | null, n: number) => void) =>
        later(() => io.writeSync(fd, buffer, offset, length, position), callback)) as typeof fs.write,
      ftruncate: ((fd: number, len: number, callback: fs.NoParamCallback) => later(() => io.ftruncateSync(fd, len), callback)) as typeof fs.ftruncate,
      close: ((fd: number, callback: fs.NoParamCallback) => later(() => io.closeSync(fd), callback)) as typeof fs.close,
      rename: ((from: fs.PathLike, to: fs.PathLike, callback: fs.NoParamCallback) => later(() => io.renameSync(from, to), callback)) as typeof fs.rename,
      rm: ((file: fs.PathLike, options: fs.RmOptions, callback: fs.NoParamCallback) => later(() => io.rmSync(file, options), callback)) as typeof fs.rm,
      ftruncateSync: (fd: number, len?: number) => {
        guardFd("truncate", "ftruncate", fd)
        fs.ftruncateSync(fd, len)
      },
      fstatSync: fs.fstatSync,
      statSync: fs.statSync,
      existsSync: fs.existsSync,
      readdirSync: fs.readdirSync,
      realpathSync: fs.realpathSync,
      readFileSync: ((file: any, options?: any) => {
        if (typeof file !== "number") guardPath("read", "open", file)
        return fs.readFileSync(file, options)
      }) as typeof fs.readFileSync,
      writeFileSync: ((file: any, data: any, options?: any) => {
        guardPath("write", "write", file)
        fs.writeFileSync(file, data, options)
      }) as typeof fs.writeFileSync,
      appendFileSync: ((file: any, data: any, options?: any) => {
        guardPath("write", "write", file)
        fs.appendFileSync(file, data, options)
      }) as typeof fs.appendFileSync,
      renameSync: (from: fs.PathLike, to: fs.PathLike) => {
        guardPath("rename", "rename", from)
        fs.renameSync(from, to)
      },
      rmSync: (file: fs.PathLike, options?: fs.RmOptions) => {
        guardPath("unlink", "rm", file)
        fs.rmSync(file, options)
      },
      unlinkSync: (file: fs.PathLike) => {
        guardPath("unlink", "unlink", file)
        fs.unlinkSync(file)
      },
      linkSync: (existing: fs.PathLike, newPath: fs.PathLike) => {
        guardPath("write", "link", newPath)
        fs.linkSync(existing, newPath)
      },
      mkdirSync: ((file: fs.PathLike, options?: any) => {
        guardPath("mkdir", "mkdir", file)
        return fs.mkdirSync(file, options)
      }) as typeof fs.mkdirSync,
      utimesSync: (file: fs.PathLike, atime: fs.TimeLike, mtime: fs.TimeLike) => {
        guardPath("write", "utime", file)
        fs.utimesSync(file, atime, mtime)
      }
    }
    return io
  }
}
