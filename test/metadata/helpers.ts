import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Logger } from "effect"
import { MetadataLog, type MetadataLogOptions, type MetadataLogShape } from "../../src/metadata/MetadataLog.ts"

const dirs: Array<string> = []

export const tempDir = (prefix = "metadata-log-"): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

/**
 * A temporary directory in memory (tmpfs /dev/shm) where the OS has one, else on disk: for
 * tests that commit thousands of metadata changes, each fsync'd, and would otherwise measure
 * the disk rather than the code.
 */
export const memoryTempDir = (prefix = "metadata-log-"): string => {
  let base = os.tmpdir()
  try {
    fs.accessSync("/dev/shm", fs.constants.W_OK)
    base = "/dev/shm"
  } catch {
    // no tmpfs: the disk it is
  }
  const dir = fs.mkdtempSync(path.join(base, prefix))
  dirs.push(dir)
  return dir
}

export const removeTempDirs = (): void => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
}

export interface CapturedLog {
  readonly level: string
  readonly message: string
}

/**
 * Runs `f` against a MetadataLog started with `options`, then shuts it down (closing the
 * files): each call is one broker run, so two calls are a restart.
 */
export const withMetadataLog = <A, E>(
  options: MetadataLogOptions,
  f: (log: MetadataLogShape) => Effect.Effect<A, E>,
  logs?: Array<CapturedLog>
) => {
  const capture = Logger.make(({ logLevel, message }) => {
    logs?.push({ level: logLevel, message: Array.isArray(message) ? message.join(" ") : String(message) })
  })
  return Effect.gen(function*() {
    return yield* f(yield* MetadataLog)
  }).pipe(Effect.provide(MetadataLog.layer(options)), Effect.provide(Logger.layer([capture])))
}
