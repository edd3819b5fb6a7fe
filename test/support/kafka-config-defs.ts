/**
 * Reads Apache Kafka's config definitions (ConfigDef `.define(...)` calls) from its source tree
 * (the bare git directory the project's tools fetch), so tests can compare our key table with
 * Kafka's: every name, its type and its default as Kafka renders it. A small evaluator for the
 * constant expressions Kafka uses as names and defaults (literals, arithmetic, other constants,
 * Long.MAX_VALUE, List.of, TimeUnit conversions, enum names, classes); what it cannot evaluate
 * is reported as undefined rather than guessed.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"

export const KAFKA_REPO = "/work/.mirror/apache+kafka/repo"

export const kafkaSourceAvailable = (): boolean => fs.existsSync(KAFKA_REPO)

export interface KafkaConfigDef {
  readonly name: string
  readonly type: string
  /** Kafka's string form of the default (ConfigDef.convertToString); null when none; undefined when not evaluated. */
  readonly default: string | null | undefined
  readonly internal: boolean
  readonly file: string
}

const git = (...args: Array<string>): string => {
  const r = spawnSync("git", ["-C", KAFKA_REPO, ...args], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 })
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`)
  return r.stdout
}

let tree: Array<string> | undefined
const files = (): Array<string> => (tree ??= git("ls-tree", "-r", "--name-only", "HEAD").split("\n").filter((f) => f.endsWith(".java") && f.includes("/src/main/")))
const sources = new Map<string, string>()
const read = (file: string): string => {
  let s = sources.get(file)
  if (s === undefined) {
    s = git("show", `HEAD:${file}`).replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "")
    sources.set(file, s)
  }
  return s
}
const fileOfClass = (cls: string, near?: string): string | undefined => {
  const candidates = files().filter((f) => f.endsWith(`/${cls}.java`))
  if (candidates.length <= 1 || near === undefined) return candidates[0]
  const imported = new RegExp(`import ([\\w.]+)\\.${cls};`).exec(read(near))?.[1]
  return candidates.find((f) => imported !== undefined && f.includes(imported.replace(/\./g, "/"))) ?? candidates[0]
}

/** Splits at top-level commas. */
const splitArgs = (s: string): Array<string> => {
  const out: Array<string> = []
  let depth = 0
  let cur = ""
  let inString = false
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (inString) {
      cur += c
      if (c === "\\") cur += s[++i]
      else if (c === '"') inString = false
      continue
    }
    if (c === '"') inString = true
    if (c === "(" || c === "[" || c === "{") depth++
    if (c === ")" || c === "]" || c === "}") depth--
    if (c === "," && depth === 0) {
      out.push(cur.trim())
      cur = ""
    } else cur += c
  }
  if (cur.trim() !== "") out.push(cur.trim())
  return out
}

/**
 * Scans Java source from `from`, skipping string literals and tracking parenthesis depth, to the
 * first index where `stop(char, depthAfter)` holds.
 */
const scanJava = (s: string, from: number, stop: (c: string, depth: number) => boolean): number => {
  let depth = 0
  let inString = false
  for (let i = from; i < s.length; i++) {
    const c = s[i]!
    if (inString) {
      if (c === "\\") i++
      else if (c === '"') inString = false
      continue
    }
    if (c === '"') inString = true
    else if (c === "(") depth++
    else if (c === ")") depth--
    if (stop(c, depth)) return i
  }
  return -1
}

/** The text inside the parentheses that open at `open`. */
const balanced = (s: string, open: number): string => {
  const close = scanJava(s, open, (c, depth) => c === ")" && depth === 0)
  if (close < 0) throw new Error("unbalanced")
  return s.slice(open + 1, close)
}

type Value = string | number | bigint | boolean | null | ReadonlyArray<Value> | { readonly cls: string }
const UNKNOWN = Symbol("unknown")
type Eval = Value | typeof UNKNOWN

const constantExpr = (file: string, name: string): string | undefined => {
  const m = new RegExp(`\\b${name}\\s*=\\s*([^;]+);`).exec(read(file))
  return m?.[1]
}

const evaluate = (expr: string, file: string, depth = 0): Eval => {
  const e = expr.trim()
  if (depth > 20) return UNKNOWN
  if (e === "null") return null
  if (e === "true" || e === "false") return e === "true"
  if (/^"(?:[^"\\]|\\.)*"$/.test(e)) return JSON.parse(e) as string
  if (/^-?[\d_]+[lL]$/.test(e)) return BigInt(e.replace(/[_lL]/g, ""))
  if (/^-?[\d_]+$/.test(e)) return Number(e.replace(/_/g, ""))
  if (/^-?[\d.]+(?:[eE][+-]?\d+)?[dDfF]?$/.test(e)) return Number(e.replace(/[dDfF]$/, ""))
  if (e.startsWith("(") && balanced(e, 0).length === e.length - 2) return evaluate(e.slice(1, -1), file, depth + 1)
  const specials: Record<string, Value> = {
    "Long.MAX_VALUE": 9223372036854775807n,
    "Integer.MAX_VALUE": 2147483647,
    "Short.MAX_VALUE": 32767,
    "Double.MAX_VALUE": Number.MAX_VALUE,
    "Collections.emptyList()": [],
    "List.of()": [],
    "ConfigDef.NO_DEFAULT_VALUE": null,
    "NO_DEFAULT_VALUE": null
  }
  if (e in specials) return specials[e]!
  const cast = /^\((?:int|long|short|double)\)\s*([\s\S]+)$/.exec(e)
  if (cast !== null) {
    const v = evaluate(cast[1]!, file, depth + 1)
    return typeof v === "bigint" && /^\((?:int|short)\)/.test(e) ? Number(v) : v
  }
  const wrapped = /^Collections\.unmodifiable(?:List|Set)\(([\s\S]+)\)$/.exec(e)
  if (wrapped !== null) return evaluate(wrapped[1]!, file, depth + 1)
  // a + b, a * b, a - b, a / b at top level (left to right, * and / first).
  for (const ops of [["+", "-"], ["*", "/"]]) {
    let depthP = 0
    let inString = false
    for (let i = e.length - 1; i > 0; i--) {
      const c = e[i]!
      if (c === '"' && e[i - 1] !== "\\") inString = !inString
      if (inString) continue
      if (c === ")") depthP++
      if (c === "(") depthP--
      if (depthP === 0 && ops.includes(c) && !/[eE(,*/+-]/.test(e[i - 1]!.trim() === "" ? e.slice(0, i).trim().slice(-1) : e[i - 1]!)) {
        const a = evaluate(e.slice(0, i), file, depth + 1)
        const b = evaluate(e.slice(i + 1), file, depth + 1)
        if (a === UNKNOWN || b === UNKNOWN) return UNKNOWN
        if (c === "+" && (typeof a === "string" || typeof b === "string")) return `${String(a)}${String(b)}`
        const big = typeof a === "bigint" || typeof b === "bigint"
        if (big) {
          const x = BigInt(a as number | bigint)
          const y = BigInt(b as number | bigint)
          return c === "+" ? x + y : c === "-" ? x - y : c === "*" ? x * y : x / y
        }
        const x = a as number
        const y = b as number
        return c === "+" ? x + y : c === "-" ? x - y : c === "*" ? x * y : Number.isInteger(x) && Number.isInteger(y) ? Math.trunc(x / y) : x / y
      }
    }
  }
  let m = /^(?:ServerTopicConfigSynonyms\.)?serverSynonym\(([\s\S]+)\)$/.exec(e)
  if (m !== null) {
    const topicConfig = evaluate(m[1]!, file, depth + 1)
    return typeof topicConfig === "string" ? (topicConfigSynonyms().get(topicConfig)?.[0] ?? UNKNOWN) : UNKNOWN
  }
  m = /^TimeUnit\.(\w+)\.to(\w+)\((.+)\)$/.exec(e)
  if (m !== null) {
    const v = evaluate(m[3]!, file, depth + 1)
    if (typeof v !== "number" && typeof v !== "bigint") return UNKNOWN
    const ms: Record<string, number> = { MILLISECONDS: 1, MILLIS: 1, SECONDS: 1000, MINUTES: 60_000, HOURS: 3_600_000, DAYS: 86_400_000 }
    const from = ms[m[1]!]
    const to = ms[m[2]!.toUpperCase()]
    return from === undefined || to === undefined ? UNKNOWN : BigInt(Math.trunc((Number(v) * from) / to))
  }
  m = /^(?:List\.of|Arrays\.asList|Collections\.singletonList)\(([\s\S]*)\)$/.exec(e)
  if (m !== null) {
    const items = splitArgs(m[1]!).map((a) => evaluate(a, file, depth + 1))
    return items.includes(UNKNOWN) ? UNKNOWN : (items as Array<Value>)
  }
  m = /^String\.join\(([\s\S]*)\)$/.exec(e)
  if (m !== null) {
    const [sep, ...rest] = splitArgs(m[1]!).map((a) => evaluate(a, file, depth + 1))
    if (sep === UNKNOWN || rest.includes(UNKNOWN)) return UNKNOWN
    return (rest.flatMap((r) => (Array.isArray(r) ? r : [r])) as Array<Value>).map(String).join(sep as string)
  }
  m = /^([\w.]+)\.class\.getName\(\)$/.exec(e) ?? /^([\w.]+)\.class$/.exec(e)
  if (m !== null) {
    const simple = m[1]!.split(".").pop()!
    const imported = new RegExp(`import ([\\w.]+\\.${simple});`).exec(read(file))?.[1]
    const pkg = /package ([\w.]+);/.exec(read(file))?.[1]
    return { cls: m[1]!.includes(".") ? m[1]! : imported ?? `${pkg}.${simple}` }
  }
  m = /^([\w.]+)\.(name|toString)\(\)$/.exec(e) ?? /^([\w.]+)\.name$/.exec(e)
  if (m !== null) {
    const parts = m[1]!.split(".")
    const constant = parts.pop()!
    const owner = parts.pop()
    if (owner !== undefined && /^[A-Z]/.test(owner)) {
      // A nested enum (Group.GroupType.CLASSIC) lives in its outer class's file.
      const outer = parts.find((p) => /^[A-Z]/.test(p)) ?? owner
      const f = fileOfClass(outer, file)
      const named = f === undefined ? undefined : new RegExp(`\\b${constant}\\s*\\(\\s*(?:\\d+\\s*,\\s*)?"([^"]+)"`).exec(read(f))
      if (m[2] === "name" && e.endsWith("()")) return constant
      if (named !== undefined && named !== null) return named[1]!
      return constant
    }
    return UNKNOWN
  }
  m = /^(?:([A-Z]\w*)\.)?([A-Z][A-Z0-9_]*)$/.exec(e)
  if (m !== null) {
    const owner = m[1]
    const target = owner === undefined ? file : fileOfClass(owner, file)
    if (target === undefined) return UNKNOWN
    let text = constantExpr(target, m[2]!)
    let where = target
    if (text === undefined && owner === undefined) {
      // A static import.
      const imp = new RegExp(`import static ([\\w.]+)\\.(\\w+)\\.${m[2]};`).exec(read(file))
      const f = imp === null ? undefined : fileOfClass(imp[2]!, file)
      if (f !== undefined) {
        text = constantExpr(f, m[2]!)
        where = f
      }
    }
    return text === undefined ? UNKNOWN : evaluate(text, where, depth + 1)
  }
  return UNKNOWN
}

let synonyms: Map<string, Array<string>> | undefined

/**
 * Kafka's ServerTopicConfigSynonyms.ALL_TOPIC_CONFIG_SYNONYMS: topic config → its broker
 * synonyms, highest precedence first (retention.ms → log.retention.ms, .minutes, .hours).
 */
export const topicConfigSynonyms = (): Map<string, Array<string>> => {
  if (synonyms !== undefined) return synonyms
  synonyms = new Map()
  const file = fileOfClass("ServerTopicConfigSynonyms")!
  const text = read(file)
  const block = text.slice(text.indexOf("ALL_TOPIC_CONFIG_SYNONYMS"))
  const re = /\b(sameName|sameNameWithLogPrefix|sameNameWithLogCleanerPrefix|singleWithLogPrefix|singleWithLogCleanerPrefix|single|listWithLogPrefix)\(/g
  for (let m = re.exec(block); m !== null; m = re.exec(block)) {
    const args = splitArgs(balanced(block, m.index + m[0].length - 1))
    const topic = evaluate(args[0]!, file)
    if (typeof topic !== "string") continue
    const named = (a: string) => /ConfigSynonym\("([^"]+)"/.exec(a)?.[1] ?? (JSON.parse(a) as string)
    const names = ((): Array<string> => {
      switch (m[1]) {
        case "sameName": return [topic]
        case "sameNameWithLogPrefix": return [`log.${topic}`]
        case "sameNameWithLogCleanerPrefix": return [`log.cleaner.${topic}`]
        case "singleWithLogPrefix": return [`log.${named(args[1]!)}`]
        case "singleWithLogCleanerPrefix": return [`log.cleaner.${named(args[1]!)}`]
        case "single": return [named(args[1]!)]
        default: return args.slice(1).map((a) => `log.${named(a)}`)
      }
    })()
    if (!synonyms.has(topic)) synonyms.set(topic, names)
    if (m[1] === "listWithLogPrefix") re.lastIndex = m.index + m[0].length
  }
  return synonyms
}

const render = (type: string, v: Eval): string | null | undefined => {
  if (v === UNKNOWN) return undefined
  if (v === null) return null
  if (Array.isArray(v)) return v.map((x) => (typeof x === "object" && x !== null && "cls" in x ? x.cls : String(x))).join(",")
  if (typeof v === "object" && "cls" in v) return v.cls
  if (type === "DOUBLE" && typeof v === "number") return v === Number.MAX_VALUE ? "1.7976931348623157E308" : Number.isInteger(v) ? v.toFixed(1) : String(v)
  return String(v)
}

const IMPORTANCE = /^(?:ConfigDef\.)?(?:Importance\.)?(HIGH|MEDIUM|LOW)$/

/** The statement that builds the ConfigDef `defName` in `text` (up to its closing semicolon). */
const configDefStatement = (text: string, defName: string): string => {
  const start = new RegExp(`\\b${defName}\\s*=\\s*new \\w*ConfigDef\\(`).exec(text)
  if (start === null) throw new Error(`no ${defName} = new ConfigDef(`)
  const end = scanJava(text, start.index, (c, depth) => c === ";" && depth === 0)
  if (end < 0) throw new Error(`unterminated ${defName}`)
  return text.slice(start.index, end)
}

/** Every `.define`/`.defineInternal` in `file` (only those building `defName` when given). */
export const definitionsIn = (file: string, defName?: string): Array<KafkaConfigDef> => {
  const all = read(file)
  // LogConfig's topic CONFIG is filled in a static block after its declaration.
  const text = defName === undefined ? all : defName === "CONFIG" ? all.slice(all.indexOf("CONFIG = new LogConfigDef")) : configDefStatement(all, defName)
  const out: Array<KafkaConfigDef> = []
  const re = /\.\s*(define|defineInternal)\s*\(/g
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const args = splitArgs(balanced(text, m.index + m[0].length - 1))
    if (args.length < 3) continue
    const name = evaluate(args[0]!, file)
    if (typeof name !== "string") continue
    const type = /(?:Type\.)?(BOOLEAN|STRING|INT|SHORT|LONG|DOUBLE|LIST|CLASS|PASSWORD)$/.exec(args[1]!)?.[1]
    if (type === undefined) continue
    const importanceAt = args.findIndex((a) => IMPORTANCE.test(a))
    const hasDefault = importanceAt !== 2
    out.push({
      name,
      type,
      default: hasDefault ? render(type, evaluate(args[2]!, file)) : null,
      internal: m[1] === "defineInternal",
      file
    })
  }
  return out
}

/** The files whose ConfigDefs make up Kafka's broker config (AbstractKafkaConfig.CONFIG_DEF), minus ZooKeeper's (gone in 4.0). */
export const BROKER_CONFIG_CLASSES = [
  "RemoteLogManagerConfig", "ServerConfigs", "KRaftConfigs", "SocketServerConfigs", "ReplicationConfigs",
  "GroupCoordinatorConfig", "CleanerConfig", "ServerLogConfigs", "ShareGroupConfig", "ShareCoordinatorConfig",
  "TransactionLogConfig", "TransactionStateManagerConfig", "QuorumConfig", "MetricConfigs", "QuotaConfig",
  "BrokerSecurityConfigs", "DelegationTokenManagerConfigs", "PasswordEncoderConfigs"
] as const

/** Kafka's broker configs (non-internal), by name. */
export const kafkaBrokerConfigDefs = (): Map<string, KafkaConfigDef> => {
  const out = new Map<string, KafkaConfigDef>()
  for (const cls of [...BROKER_CONFIG_CLASSES, "LogConfig"]) {
    const file = fileOfClass(cls)
    if (file === undefined) throw new Error(`no ${cls}.java`)
    // LogConfig holds both the topic-level CONFIG and the broker-level SERVER_CONFIG_DEF;
    // QuotaConfig also holds the client-quota entity defs (names with underscores).
    const defs = cls === "LogConfig" ? definitionsIn(file, "SERVER_CONFIG_DEF") : definitionsIn(file)
    for (const d of defs) if (!d.internal && !d.name.includes("_") && !out.has(d.name)) out.set(d.name, d)
  }
  return out
}

/** Kafka's topic configs (LogConfig.CONFIG), by name. */
export const kafkaTopicConfigDefs = (): Map<string, KafkaConfigDef> => {
  const file = fileOfClass("LogConfig")
  if (file === undefined) throw new Error("no LogConfig.java")
  return new Map(definitionsIn(file, "CONFIG").filter((d) => !d.internal).map((d) => [d.name, d]))
}
