/**
 * `meta.properties`, the identity file Kafka keeps in every log directory.
 *
 * Kafka 3.7+ in KRaft mode writes version 1:
 *
 *   #
 *   #Tue Mar 05 10:00:00 UTC 2024
 *   cluster.id=<base64url uuid>
 *   directory.id=<base64url uuid, one per log dir>
 *   node.id=<node id>
 *   version=1
 *
 * (Java's Properties.store with an empty comment: a bare "#" line, then the date.) Version 0
 * is the ZooKeeper-era form with `broker.id` and an optional `cluster.id`; we read it and
 * rewrite the directory in the v1 form, since a KRaft node needs node.id and directory.id.
 *
 * Plain synchronous functions that throw MetaPropertiesError; the service calls them once at
 * start-up.
 */
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import * as path from "node:path"
import { fsyncDirectory } from "../log/checkpoint.ts"
import { parseProperties, PropertiesSyntaxError } from "../config/properties.ts"
import { uuidFromString, uuidToBytes } from "../protocol/primitives.ts"
import { randomUuid } from "../random-bytes.ts"
import { MetaPropertiesError } from "./errors.ts"

export const META_PROPERTIES_FILE = "meta.properties"

export interface MetaProperties {
  readonly version: 0 | 1
  readonly clusterId: string | null
  readonly nodeId: number | null
  readonly directoryId: string | null
  /** Every key of the file, including ones this broker does not use. */
  readonly all: ReadonlyMap<string, string>
}

const parseId = (file: string, key: string, value: string | undefined): number | null => {
  if (value === undefined) return null
  const trimmed = value.trim()
  if (!/^-?\d+$/.test(trimmed)) throw new MetaPropertiesError({ path: file, message: `${file}: ${key}=${value} is not an integer` })
  return Number(trimmed)
}

/** Parses the text of a meta.properties file (`file` only names it in errors). */
export const parseMetaProperties = (text: string, file = META_PROPERTIES_FILE): MetaProperties => {
  let props: Map<string, string>
  try {
    props = parseProperties(text)
  } catch (e) {
    if (e instanceof PropertiesSyntaxError) throw new MetaPropertiesError({ path: file, message: `${file}: ${e.message}` })
    throw e
  }
  const versionText = props.get("version")?.trim()
  if (versionText === undefined) throw new MetaPropertiesError({ path: file, message: `${file} has no version` })
  const clusterId = props.get("cluster.id")?.trim() || null
  if (versionText === "0") {
    return { version: 0, clusterId, nodeId: parseId(file, "broker.id", props.get("broker.id")), directoryId: null, all: props }
  }
  if (versionText !== "1") {
    throw new MetaPropertiesError({ path: file, message: `${file} has version ${versionText}; only versions 0 and 1 are supported` })
  }
  if (clusterId === null) throw new MetaPropertiesError({ path: file, message: `${file} (version 1) has no cluster.id` })
  const nodeId = parseId(file, "node.id", props.get("node.id"))
  if (nodeId === null) throw new MetaPropertiesError({ path: file, message: `${file} (version 1) has no node.id` })
  const directoryIdText = props.get("directory.id")?.trim() || null
  let directoryId: string | null = null
  if (directoryIdText !== null) {
    // As lenient as Kafka's Uuid.fromString: padded or unpadded base64url; kept canonical.
    try {
      directoryId = uuidFromString(directoryIdText)
    } catch (e) {
      throw new MetaPropertiesError({ path: file, message: `${file}: directory.id=${directoryIdText} is not a valid uuid: ${(e as Error).message}` })
    }
  }
  return { version: 1, clusterId, nodeId, directoryId, all: props }
}

/**
 * Kafka reserves directory ids whose high 64 bits are zero and low 64 bits are below 100
 * (UNASSIGNED = 0, LOST = 1, MIGRATING = 2, ...); a generated id must avoid them.
 */
export const isReservedDirectoryId = (id: string): boolean => {
  const bytes = uuidToBytes(id)
  for (let i = 0; i < 15; i++) if (bytes[i] !== 0) return false
  return bytes[15]! < 100
}

export const randomDirectoryId = (): string => {
  for (;;) {
    const id = randomUuid()
    if (!isReservedDirectoryId(id)) return id
  }
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const pad2 = (n: number): string => String(n).padStart(2, "0")

/** java.util.Date#toString in UTC, the date comment Properties.store writes. */
const javaDate = (d: Date): string =>
  `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${pad2(d.getUTCDate())} ` +
  `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`

export interface MetaPropertiesV1 {
  readonly clusterId: string
  readonly nodeId: number
  readonly directoryId: string
}

/** Keys meta.properties v1 defines; any other key found in the file is written back unchanged. */
const V1_KEYS = new Set(["version", "cluster.id", "node.id", "directory.id", "broker.id"])

const escapeProperty = (s: string, isKey: boolean): string =>
  s.replace(/[\\:=#! \t\n\r\f]/g, (c, i: number) => {
    if (c === " " && !isKey && i > 0) return c
    return c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : c === "\f" ? "\\f" : "\\" + c
  })

export const formatMetaProperties = (
  p: MetaPropertiesV1,
  now: Date = new Date(),
  extra: ReadonlyMap<string, string> = new Map()
): string => {
  const kept = [...extra].filter(([k]) => !V1_KEYS.has(k)).map(([k, v]) => `${escapeProperty(k, true)}=${escapeProperty(v, false)}\n`)
  return `#\n#${javaDate(now)}\ncluster.id=${p.clusterId}\ndirectory.id=${p.directoryId}\n${kept.join("")}node.id=${p.nodeId}\nversion=1\n`
}

export const readMetaProperties = (logDir: string, io: FileIoShape = nodeFileIo): MetaProperties | null => {
  const file = path.join(logDir, META_PROPERTIES_FILE)
  let text: string
  try {
    text = io.readFileSync(file, "utf8")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null
    throw new MetaPropertiesError({ path: file, message: `cannot read ${file}: ${(e as Error).message}` })
  }
  return parseMetaProperties(text, file)
}

/** Writes through a temporary file and a rename, fsyncing both, as Kafka does. */
export const writeMetaProperties = (logDir: string, p: MetaPropertiesV1, extra?: ReadonlyMap<string, string>, io: FileIoShape = nodeFileIo): void => {
  const file = path.join(logDir, META_PROPERTIES_FILE)
  const tmp = file + ".tmp"
  try {
    const fd = io.openSync(tmp, "w", 0o644)
    try {
      io.writeSync(fd, formatMetaProperties(p, new Date(), extra))
      io.fsyncSync(fd)
    } finally {
      io.closeSync(fd)
    }
    io.renameSync(tmp, file)
    fsyncDirectory(logDir, io)
  } catch (e) {
    throw new MetaPropertiesError({ path: file, message: `cannot write ${file}: ${(e as Error).message}` })
  }
}


export interface LogDirsIdentity {
  readonly clusterId: string
  readonly nodeId: number
  /** directory.id of each log dir, in the order of `logDirs`. */
  readonly directoryIds: ReadonlyArray<string>
  /** Log dirs whose meta.properties was written (new, upgraded from v0, or missing directory.id). */
  readonly written: ReadonlyArray<string>
}

/**
 * Reads meta.properties of every log dir, checks it against `nodeId` and across dirs, and
 * writes it where it is missing or incomplete (the way `kafka-storage.sh format` would).
 * `clusterIdForFormat` is used when no directory has a cluster id yet; otherwise a new random
 * one is generated.
 */
export const ensureMetaProperties = (
  logDirs: ReadonlyArray<string>,
  nodeId: number,
  clusterIdForFormat?: string,
  io: FileIoShape = nodeFileIo
): LogDirsIdentity => {
  if (logDirs.length === 0) throw new MetaPropertiesError({ path: "", message: "no log directory is configured (log.dirs)" })
  const found: Array<MetaProperties | null> = []
  let clusterId: string | null = null
  let clusterIdSource = ""
  for (const dir of logDirs) {
    try {
      io.mkdirSync(dir, { recursive: true })
    } catch (e) {
      throw new MetaPropertiesError({ path: dir, message: `cannot create log directory ${dir}: ${(e as Error).message}` })
    }
    const props = readMetaProperties(dir, io)
    found.push(props)
    if (props === null) continue
    const file = path.join(dir, META_PROPERTIES_FILE)
    if (props.nodeId !== null && props.nodeId !== nodeId) {
      throw new MetaPropertiesError({
        path: file,
        message: `Stored node id ${props.nodeId} in ${file} doesn't match the configured node.id ${nodeId}. ` +
          "If you moved your data, make sure your configured node id matches. " +
          "If you intend to create a new node, you should remove all data in your data directories."
      })
    }
    if (props.clusterId !== null) {
      if (clusterId === null) {
        clusterId = props.clusterId
        clusterIdSource = file
      } else if (clusterId !== props.clusterId) {
        throw new MetaPropertiesError({
          path: file,
          message: `Invalid cluster.id in ${file}: expected ${clusterId} (as in ${clusterIdSource}), but read ${props.clusterId}`
        })
      }
    }
  }
  if (clusterId === null) clusterId = clusterIdForFormat ?? randomUuid()

  const directoryIds: Array<string> = []
  const written: Array<string> = []
  const seen = new Map<string, string>()
  logDirs.forEach((dir, i) => {
    const props = found[i] ?? null
    let directoryId = props?.directoryId ?? null
    if (directoryId !== null && (isReservedDirectoryId(directoryId) || seen.has(directoryId))) {
      throw new MetaPropertiesError({
        path: path.join(dir, META_PROPERTIES_FILE),
        message: seen.has(directoryId)
          ? `Duplicate directory.id ${directoryId} in ${dir} and ${seen.get(directoryId)}`
          : `directory.id ${directoryId} in ${dir} is a reserved id`
      })
    }
    const complete = props !== null && props.version === 1 && directoryId !== null
    if (directoryId === null) directoryId = randomDirectoryId()
    seen.set(directoryId, dir)
    directoryIds.push(directoryId)
    if (!complete) {
      writeMetaProperties(dir, { clusterId: clusterId!, nodeId, directoryId }, props?.all, io)
      written.push(dir)
    }
  })
  return { clusterId, nodeId, directoryIds, written }
}
