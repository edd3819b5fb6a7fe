/**
 * Tagged-field sections (KIP-482) as the generated encoders write them: entries in
 * ascending tag order, known fields merged with unknown ones carried over from a decode.
 */
import { type UnknownTaggedField, Writer } from "./primitives.ts"

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0)

const writeEntry = (w: Writer, f: UnknownTaggedField): void => {
  w.uvarint(f.tag)
  w.uvarint(f.data.length)
  w.raw(f.data)
}

export const writeUnknownTaggedFields = (w: Writer, unknown: ReadonlyArray<UnknownTaggedField> | undefined): void => {
  if (unknown === undefined || unknown.length === 0) {
    w.uvarint(0)
    return
  }
  const sorted = [...unknown].sort((a, b) => a.tag - b.tag)
  w.uvarint(sorted.length)
  for (const f of sorted) writeEntry(w, f)
}

export const writeTaggedFields = (
  w: Writer,
  known: Array<UnknownTaggedField>,
  unknown: ReadonlyArray<UnknownTaggedField> | undefined
): void => {
  if (unknown !== undefined && unknown.length > 0) {
    const knownTags = new Set(known.map((f) => f.tag))
    for (const f of unknown) if (!knownTags.has(f.tag)) known.push(f)
  }
  known.sort((a, b) => a.tag - b.tag)
  w.uvarint(known.length)
  for (const f of known) writeEntry(w, f)
}

// Tagged values are written to a scratch writer first (their size precedes them). Scratch
// writers are pooled as a stack because tagged structs can hold tagged fields of their own.
const scratch: Array<Writer> = []
let depth = 0

/** Runs `write` against a scratch writer and returns a copy of what it wrote. */
export const encodeTagged = (write: (w: Writer) => void): Uint8Array => {
  const w = (scratch[depth] ??= new Writer(256)).reset()
  depth++
  try {
    write(w)
  } finally {
    depth--
  }
  return w.toBytes()
}
