/**
 * A reader for the Java `.properties` format with the exact rules of
 * `java.util.Properties.load`, because operators bring `server.properties` files written for
 * Kafka and expect them to mean the same thing here. Values are returned untrimmed on the right,
 * as Java does; Kafka (and our broker-config) trims when it converts a value to its type.
 */

/** A line Java would reject (`Properties.load` throws IllegalArgumentException for it). */
export class PropertiesSyntaxError extends Error {
  override readonly name = "PropertiesSyntaxError"
  readonly line: number

  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`)
    this.line = line
  }
}

// Only these three count as whitespace in the format; other Unicode spaces are part of keys.
const isBlank = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\f"

const skipBlanks = (s: string, from = 0): number => {
  let i = from
  while (i < s.length && isBlank(s[i])) i++
  return i
}

const trailingBackslashes = (s: string): number => {
  let n = 0
  while (n < s.length && s[s.length - 1 - n] === "\\") n++
  return n
}

interface LogicalLine {
  readonly text: string
  readonly line: number
}

/**
 * Joins physical lines the way Java's LineReader does: an odd number of trailing backslashes
 * continues onto the next line (whose leading blanks are dropped), comment lines never continue,
 * and an empty continuation line ends the logical line instead of being skipped.
 */
const logicalLines = (text: string): Array<LogicalLine> => {
  const physical = text.split(/\r\n|\r|\n/)
  const out: Array<LogicalLine> = []
  let i = 0
  while (i < physical.length) {
    const line = i + 1
    const first = physical[i++] ?? ""
    let logical = first.slice(skipBlanks(first))
    if (logical === "" || logical[0] === "#" || logical[0] === "!") continue
    while (trailingBackslashes(logical) % 2 === 1) {
      logical = logical.slice(0, -1)
      if (i >= physical.length) break
      const next = physical[i++] ?? ""
      const rest = next.slice(skipBlanks(next))
      if (rest === "") break
      logical += rest
    }
    out.push({ text: logical, line })
  }
  return out
}

const ESCAPES: Readonly<Record<string, string>> = { t: "\t", n: "\n", r: "\r", f: "\f" }

/** Java's loadConvert: `\uXXXX`, the four control escapes, and `\x` → `x` for anything else. */
const unescape = (s: string, line: number): string => {
  if (!s.includes("\\")) return s
  let out = ""
  let i = 0
  while (i < s.length) {
    const c = s[i++] as string
    if (c !== "\\") {
      out += c
      continue
    }
    const e = s[i++]
    if (e === undefined) break
    if (e === "u") {
      const hex = s.slice(i, i + 4)
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new PropertiesSyntaxError(line, "Malformed \\uxxxx encoding.")
      out += String.fromCharCode(parseInt(hex, 16))
      i += 4
    } else {
      out += ESCAPES[e] ?? e
    }
  }
  return out
}

/**
 * Splits one logical line into key and value: the key ends at the first unescaped `=`, `:` or
 * blank; then blanks, at most one `=`/`:`, and more blanks are skipped.
 */
const splitEntry = (s: string): readonly [rawKey: string, rawValue: string] => {
  let keyEnd = 0
  let valueStart = s.length
  let hasSeparator = false
  let escaped = false
  while (keyEnd < s.length) {
    const c = s[keyEnd] as string
    if (!escaped && (c === "=" || c === ":")) {
      valueStart = keyEnd + 1
      hasSeparator = true
      break
    }
    if (!escaped && isBlank(c)) {
      valueStart = keyEnd + 1
      break
    }
    escaped = c === "\\" ? !escaped : false
    keyEnd++
  }
  while (valueStart < s.length) {
    const c = s[valueStart] as string
    if (!isBlank(c)) {
      if (hasSeparator || (c !== "=" && c !== ":")) break
      hasSeparator = true
    }
    valueStart++
  }
  return [s.slice(0, keyEnd), s.slice(valueStart)]
}

/**
 * Parses the text of a `.properties` file. Later duplicates win, as with `Properties.load`.
 * Throws `PropertiesSyntaxError` for a malformed `\uXXXX` escape, the only thing Java rejects.
 */
export const parseProperties = (text: string): Map<string, string> => {
  const result = new Map<string, string>()
  for (const { text: logical, line } of logicalLines(text)) {
    const [rawKey, rawValue] = splitEntry(logical)
    result.set(unescape(rawKey, line), unescape(rawValue, line))
  }
  return result
}
