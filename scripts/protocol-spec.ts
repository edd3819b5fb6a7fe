/**
 * Reads Apache Kafka's JSON message definitions into a small model shared by the code
 * generator and the codec tests. Knows the JSON conventions: `//` comments, version
 * ranges ("0+", "3-5", "none"), tagged fields, common structs, `latestVersionUnstable`.
 */
import * as fs from "node:fs"
import * as path from "node:path"

export interface VersionRange {
  readonly lo: number
  /** Inclusive; Infinity for "N+". */
  readonly hi: number
}

export const NONE: VersionRange = { lo: 1, hi: 0 }

export const parseRange = (s: string | undefined, fallback: VersionRange = NONE): VersionRange => {
  if (s === undefined) return fallback
  const t = s.trim()
  if (t === "none") return NONE
  if (t.endsWith("+")) return { lo: Number(t.slice(0, -1)), hi: Infinity }
  const dash = t.indexOf("-")
  if (dash >= 0) return { lo: Number(t.slice(0, dash)), hi: Number(t.slice(dash + 1)) }
  const n = Number(t)
  return { lo: n, hi: n }
}

export const inRange = (r: VersionRange, v: number): boolean => v >= r.lo && v <= r.hi

export const intersect = (a: VersionRange, b: VersionRange): VersionRange => ({
  lo: Math.max(a.lo, b.lo),
  hi: Math.min(a.hi, b.hi)
})

export const isEmpty = (r: VersionRange): boolean => r.lo > r.hi

export interface FieldSpec {
  readonly name: string
  /** The JSON type: "int32", "[]string", "[]SomeStruct", "SomeStruct". */
  readonly type: string
  readonly versions: VersionRange
  readonly nullableVersions: VersionRange
  readonly taggedVersions: VersionRange
  readonly tag: number | undefined
  readonly ignorable: boolean
  readonly default: string | number | boolean | null | undefined
  /** Field-level override of the message's flexible versions (only RequestHeader.ClientId uses it). */
  readonly flexibleVersions: VersionRange | undefined
  readonly fields: ReadonlyArray<FieldSpec> | undefined
  readonly about: string | undefined
}

export interface StructSpec {
  readonly name: string
  readonly versions: VersionRange
  readonly fields: ReadonlyArray<FieldSpec>
}

export type MessageKind = "request" | "response" | "header" | "data" | "metadata"

export interface MessageSpec {
  readonly file: string
  readonly folder: string
  readonly name: string
  readonly kind: MessageKind
  readonly apiKey: number | undefined
  readonly validVersions: VersionRange
  /** The highest version we generate: the spec's highest, less one when `latestVersionUnstable`. */
  readonly stableMax: number
  readonly flexibleVersions: VersionRange
  readonly deprecatedVersions: VersionRange
  readonly listeners: ReadonlyArray<string>
  readonly fields: ReadonlyArray<FieldSpec>
  readonly commonStructs: ReadonlyArray<StructSpec>
}

export const PRIMITIVE_TYPES = new Set([
  "bool",
  "int8",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "int64",
  "float64",
  "string",
  "bytes",
  "records",
  "uuid"
])

export const isArrayType = (t: string): boolean => t.startsWith("[]")
export const elementType = (t: string): string => (isArrayType(t) ? t.slice(2) : t)
export const isStructType = (t: string): boolean => !PRIMITIVE_TYPES.has(elementType(t))

const stripComments = (text: string): string => text.replace(/^\s*\/\/.*$/gm, "")

interface RawField {
  name: string
  type: string
  versions?: string
  nullableVersions?: string
  taggedVersions?: string
  tag?: number
  ignorable?: boolean
  default?: string | number | boolean | null
  flexibleVersions?: string
  fields?: Array<RawField>
  about?: string
}

const toField = (f: RawField): FieldSpec => ({
  name: f.name,
  type: f.type,
  // A tagged field may leave out "versions"; Kafka then takes its taggedVersions.
  versions: parseRange(f.versions ?? f.taggedVersions),
  nullableVersions: parseRange(f.nullableVersions),
  taggedVersions: parseRange(f.taggedVersions),
  tag: f.tag,
  ignorable: f.ignorable === true,
  default: f.default,
  flexibleVersions: f.flexibleVersions === undefined ? undefined : parseRange(f.flexibleVersions),
  fields: f.fields?.map(toField),
  about: f.about
})

/** One spec file as Kafka ships it, less its comments. */
export interface RawSpecFile {
  readonly folder: string
  readonly file: string
  // oxlint-disable-next-line no-explicit-any
  readonly spec: any
}

/** Drops `about` texts: documentation, not layout. */
export const withoutDocs = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(withoutDocs)
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (k !== "about") out[k] = withoutDocs(v)
    return out
  }
  return value
}

export const readRawSpec = (file: string): RawSpecFile => ({
  folder: path.basename(path.dirname(file)),
  file: path.basename(file),
  spec: JSON.parse(stripComments(fs.readFileSync(file, "utf8")))
})

export const parseMessageSpec = ({ folder, file, spec: raw }: RawSpecFile): MessageSpec => {
  const validVersions = parseRange(raw.validVersions)
  const unstable = raw.latestVersionUnstable === true
  return {
    file,
    folder,
    name: raw.name,
    kind: raw.type,
    apiKey: raw.apiKey,
    validVersions,
    stableMax: unstable ? validVersions.hi - 1 : validVersions.hi,
    flexibleVersions: parseRange(raw.flexibleVersions),
    deprecatedVersions: parseRange(raw.deprecatedVersions),
    listeners: raw.listeners ?? [],
    fields: (raw.fields ?? []).map(toField),
    commonStructs: (raw.commonStructs ?? []).map((s: { name: string; versions?: string; fields: Array<RawField> }) => ({
      name: s.name,
      versions: parseRange(s.versions, { lo: 0, hi: Infinity }),
      fields: s.fields.map(toField)
    }))
  }
}

export const readMessageSpec = (file: string): MessageSpec => parseMessageSpec(readRawSpec(file))

export const SPEC_FOLDERS = ["message", "metadata", "coordinator"] as const

/** Every spec file under `dir`, in a stable order. */
export const readAllRawSpecs = (dir: string): Array<RawSpecFile> =>
  SPEC_FOLDERS.flatMap((folder) =>
    fs
      .readdirSync(path.join(dir, folder))
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => readRawSpec(path.join(dir, folder, f)))
  )

/** Every spec under `dir`, in a stable order. */
export const readAllSpecs = (dir: string): Array<MessageSpec> => readAllRawSpecs(dir).map(parseMessageSpec)

/**
 * The specs the committed codecs were generated from (`message-specs.json`, written by the
 * generator beside them), so tests that need the layouts run from the project alone.
 */
export const COMMITTED_SPECS_FILE = "message-specs.json"

export const readCommittedSpecs = (generatedDir: string): Array<MessageSpec> =>
  (JSON.parse(fs.readFileSync(path.join(generatedDir, COMMITTED_SPECS_FILE), "utf8")) as Array<RawSpecFile>).map(parseMessageSpec)

/** The default location of the specs: `../shared/kafka-protocol` beside the project. */
export const defaultSpecDir = (projectRoot: string): string =>
  process.env["KAFKA_PROTOCOL_DIR"] ?? path.resolve(projectRoot, "..", "shared", "kafka-protocol")

/**
 * Every struct type a message defines, by name: nested inline definitions and common
 * structs. Kafka lets a later field refer to an earlier inline struct by name.
 */
export const collectStructs = (msg: MessageSpec): Map<string, StructSpec> => {
  const out = new Map<string, StructSpec>()
  for (const cs of msg.commonStructs) out.set(cs.name, cs)
  const walk = (fields: ReadonlyArray<FieldSpec>): void => {
    for (const f of fields) {
      if (f.fields !== undefined) {
        const name = elementType(f.type)
        if (!out.has(name)) out.set(name, { name, versions: f.versions, fields: f.fields })
        walk(f.fields)
      }
    }
  }
  walk(msg.fields)
  for (const cs of msg.commonStructs) walk(cs.fields)
  return out
}
