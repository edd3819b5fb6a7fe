/**
 * `pnpm start --format [--cluster-id id] [--ignore-formatted]`: the counterpart of
 * `kafka-storage.sh format`. Writes meta.properties (version 1: cluster.id, node.id, a new
 * directory.id) into every log dir and the bootstrap metadata (`bootstrap.checkpoint`, the
 * metadata.version to start at) into the metadata log dir. A directory that already has a
 * meta.properties is refused, unless `ignoreFormatted` is set, in which case it is left as
 * it is; as in Kafka, the first start then opens the directories without formatting them
 * implicitly.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { DirLockError, lockDir } from "../log/dir-lock.ts"
import { uuidFromString } from "../protocol/primitives.ts"
import { randomUuid } from "../random-bytes.ts"
import { BOOTSTRAP_CHECKPOINT_FILE, writeBootstrapCheckpoint } from "./bootstrap-checkpoint.ts"
import { LogDirUnavailable, MetaPropertiesError } from "./errors.ts"
import { METADATA_VERSION_FEATURE } from "./image.ts"
import { META_PROPERTIES_FILE, randomDirectoryId, readMetaProperties, writeMetaProperties } from "./meta-properties.ts"

export interface FormatOptions {
  readonly logDirs: ReadonlyArray<string>
  /** metadata.log.dir; the first of logDirs when absent. */
  readonly metadataLogDir?: string
  readonly nodeId: number
  /** --cluster-id; a random one when absent. */
  readonly clusterId?: string
  readonly ignoreFormatted: boolean
  readonly metadataVersion: number
  readonly now?: () => number
}

export interface FormatResult {
  readonly clusterId: string
  readonly formatted: ReadonlyArray<string>
  readonly alreadyFormatted: ReadonlyArray<string>
  /** The bootstrap.checkpoint written, if the metadata log dir was formatted. */
  readonly bootstrapFile: string | null
}

/** Formats the directories; throws MetaPropertiesError / LogDirUnavailable naming the directory. */
export const formatStorage = (options: FormatOptions): FormatResult => {
  let clusterId = options.clusterId ?? randomUuid()
  try {
    uuidFromString(clusterId)
  } catch (e) {
    throw new MetaPropertiesError({
      path: "--cluster-id",
      message: `Cluster ID string ${clusterId} does not appear to be a valid UUID: ${(e as Error).message}`
    })
  }
  const metadataLogDir = options.metadataLogDir ?? options.logDirs[0]
  if (metadataLogDir === undefined) throw new MetaPropertiesError({ path: "log.dirs", message: "no log directory is configured (log.dirs)" })
  const dirs = options.logDirs.includes(metadataLogDir) ? [...options.logDirs] : [...options.logDirs, metadataLogDir]

  const locks: Array<{ release: () => void }> = []
  try {
    const unformatted: Array<string> = []
    const alreadyFormatted: Array<string> = []
    for (const dir of dirs) {
      try {
        fs.mkdirSync(dir, { recursive: true })
      } catch (e) {
        throw new LogDirUnavailable({ path: dir, message: `cannot create log directory ${dir}: ${(e as Error).message}` })
      }
      try {
        locks.push(lockDir(dir))
      } catch (e) {
        throw new LogDirUnavailable({ path: dir, message: e instanceof DirLockError ? e.message : String(e) })
      }
      const existing = readMetaProperties(dir)
      if (existing === null) {
        unformatted.push(dir)
        continue
      }
      alreadyFormatted.push(dir)
      if (existing.clusterId !== null && options.ignoreFormatted && unformatted.length + alreadyFormatted.length > 0) {
        // The other directories join the cluster the formatted ones belong to.
        if (options.clusterId !== undefined && options.clusterId !== existing.clusterId) {
          throw new MetaPropertiesError({
            path: path.join(dir, META_PROPERTIES_FILE),
            message: `Log directory ${dir} is already formatted with cluster.id ${existing.clusterId}, not ${options.clusterId}`
          })
        }
        clusterId = existing.clusterId
      }
    }
    if (alreadyFormatted.length > 0 && !options.ignoreFormatted) {
      const dir = alreadyFormatted[0]!
      throw new MetaPropertiesError({
        path: path.join(dir, META_PROPERTIES_FILE),
        message: `Log directory ${dir} is already formatted. Use --ignore-formatted to ignore this directory and format the others.`
      })
    }
    let bootstrapFile: string | null = null
    for (const dir of unformatted) {
      if (dir === metadataLogDir) {
        try {
          bootstrapFile = writeBootstrapCheckpoint(
            dir,
            [{ type: "FeatureLevelRecord", version: 0, data: { name: METADATA_VERSION_FEATURE, featureLevel: options.metadataVersion } }],
            (options.now ?? Date.now)()
          )
        } catch (e) {
          throw new LogDirUnavailable({ path: dir, message: `cannot write ${path.join(dir, BOOTSTRAP_CHECKPOINT_FILE)}: ${(e as Error).message}` })
        }
      }
      // meta.properties last: its presence is what marks the directory formatted.
      writeMetaProperties(dir, { clusterId, nodeId: options.nodeId, directoryId: randomDirectoryId() })
    }
    return { clusterId, formatted: unformatted, alreadyFormatted, bootstrapFile }
  } finally {
    for (const l of locks) l.release()
  }
}
