import { describe, expect, it } from "vitest"
import { generatedDir } from "../../scripts/generate-protocol.ts"
import { readCommittedSpecs } from "../../scripts/protocol-spec.ts"
import { Reader, Writer } from "../../src/protocol/primitives.ts"
import { prng, valueGenerator } from "./spec-values.ts"


const stripUndefined = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(stripUndefined)
  if (v instanceof Uint8Array) return Array.from(v)
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) if (x !== undefined && k !== "_unknownTaggedFields") out[k] = stripUndefined(x)
    return out
  }
  return v
}

// The layouts come from the specs committed beside the codecs: this runs without ../shared.
describe("generated codecs round-trip every message and version", () => {
  const specs = readCommittedSpecs(generatedDir)
  for (const spec of specs) {
    it(`${spec.folder}/${spec.name} v${spec.validVersions.lo}-${spec.stableMax}`, async () => {
      const mod = await import(`../../src/protocol/generated/${spec.folder}/${spec.name}.ts`)
      const encode = mod[`encode${spec.name}`] as (w: Writer, v: number, x: unknown) => void
      const decode = mod[`decode${spec.name}`] as (r: Reader, v: number) => unknown
      for (let version = spec.validVersions.lo; version <= spec.stableMax; version++) {
        for (let seed = 1; seed <= 8; seed++) {
          const random = prng(seed * 1000 + version)
          const { init, expected } = valueGenerator(spec, version, random)()
          const w = new Writer(16)
          encode(w, version, init)
          const bytes = w.toBytes()
          const r = new Reader(bytes)
          const decoded = decode(r, version)
          expect(r.remaining, `${spec.name} v${version} seed ${seed}: trailing bytes`).toBe(0)
          expect(stripUndefined(decoded), `${spec.name} v${version} seed ${seed}`).toEqual(stripUndefined(expected))
          const w2 = new Writer(16)
          encode(w2, version, decoded)
          expect(Buffer.from(w2.toBytes()).equals(Buffer.from(bytes)), `${spec.name} v${version} re-encode`).toBe(true)
        }
      }
    })
  }
})
