/**
 * Random message values generated from the JSON specs, for round-trip tests. Independent
 * of the generator: it reads the same specs and decides per field and version what the
 * wire can carry, so a generator bug shows up as a mismatch.
 */
import {
  collectStructs,
  elementType,
  type FieldSpec,
  inRange,
  intersect,
  isArrayType,
  isStructType,
  type MessageSpec
} from "../../scripts/protocol-spec.ts"

export const prng = (seed: number) => {
  let s = seed >>> 0
  return (): number => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const camel = (name: string): string => name.charAt(0).toLowerCase() + name.slice(1)

export interface Generated {
  /** What is handed to the encoder. */
  readonly init: Record<string, unknown>
  /** What the decoder must return (absent fields at their defaults). */
  readonly expected: Record<string, unknown>
}

export const valueGenerator = (msg: MessageSpec, version: number, random: () => number) => {
  const structs = collectStructs(msg)
  const flexible = inRange(msg.flexibleVersions, version)
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1))

  const present = (f: FieldSpec): boolean =>
    f.tag === undefined
      ? inRange(f.versions, version)
      : flexible && inRange(intersect(f.versions, f.taggedVersions), version)

  const nullable = (f: FieldSpec): boolean => inRange(intersect(f.nullableVersions, f.versions), version)

  const defaultOf = (f: FieldSpec): unknown => {
    const d = f.default
    if (isArrayType(f.type)) return d === "null" ? null : []
    switch (f.type) {
      case "bool":
        return d === true || d === "true"
      case "int64":
        return d === undefined || d === "" ? 0n : BigInt(Number(d))
      case "string":
        return d === "null" ? null : (d ?? "")
      case "uuid":
        return "AAAAAAAAAAAAAAAAAAAAAA"
      case "bytes":
        return d === "null" ? null : new Uint8Array(0)
      case "records":
        return null
      case "int8":
      case "int16":
      case "uint16":
      case "int32":
      case "uint32":
      case "float64":
        return d === undefined || d === "" ? 0 : Number(d)
      default:
        return d === "null" ? null : struct(f.type, false).expected
    }
  }

  const scalar = (t: string): { init: unknown; expected: unknown } => {
    const same = (v: unknown) => ({ init: v, expected: v })
    switch (t) {
      case "bool":
        return same(random() < 0.5)
      case "int8":
        return same(int(-128, 127))
      case "int16":
        return same(int(-32768, 32767))
      case "uint16":
        return same(int(0, 65535))
      case "int32":
        return same(int(-2147483648, 2147483647))
      case "uint32":
        return same(int(0, 4294967295))
      case "int64":
        return same(BigInt.asIntN(64, (BigInt(int(0, 2 ** 32 - 1)) << 32n) | BigInt(int(0, 2 ** 32 - 1))))
      case "float64":
        return same((random() - 0.5) * 1e6)
      case "uuid":
        return same(Buffer.from(Array.from({ length: 16 }, () => int(0, 255))).toString("base64url"))
      case "string": {
        const chars = "abcXYZ09._-é€"
        return same(Array.from({ length: int(0, 12) }, () => chars[int(0, chars.length - 1)]).join(""))
      }
      case "bytes":
      case "records":
        return same(Uint8Array.from({ length: int(0, 12) }, () => int(0, 255)))
      default:
        return struct(t, true)
    }
  }

  const field = (f: FieldSpec): { init: unknown; expected: unknown } => {
    if (nullable(f) && random() < 0.2) return { init: null, expected: null }
    if (isArrayType(f.type)) {
      const items = Array.from({ length: int(0, 3) }, () => scalar(elementType(f.type)))
      return { init: items.map((i) => i.init), expected: items.map((i) => i.expected) }
    }
    return scalar(f.type)
  }

  const struct = (name: string, randomize: boolean): Generated => {
    const spec = name === msg.name ? msg.fields : structs.get(name)!.fields
    const init: Record<string, unknown> = {}
    const expected: Record<string, unknown> = {}
    for (const f of spec) {
      // Fields that exist only in unstable versions are not generated at all.
      if (f.versions.lo > msg.stableMax) continue
      const key = camel(f.name)
      if (randomize && present(f)) {
        const v = field(f)
        init[key] = v.init
        expected[key] = v.expected
      } else {
        expected[key] = defaultOf(f)
      }
    }
    return { init, expected }
  }

  return () => struct(msg.name, true)
}

export { isStructType }
