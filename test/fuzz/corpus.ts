/**
 * The fuzz corpus: inputs that once broke a target, one file each under
 * `test/fuzz/corpus/<target>/`, named by the input's label and a hash of its bytes.
 * `pnpm fuzz` adds to it; `pnpm test` replays every file forever after.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { FuzzInput } from "./targets.ts"

export const CORPUS_DIR = path.join(import.meta.dirname, "corpus")

export const saveToCorpus = (target: string, input: FuzzInput): string => {
  const dir = path.join(CORPUS_DIR, target)
  fs.mkdirSync(dir, { recursive: true })
  const hash = createHash("sha256").update(input.bytes).update(input.label).digest("hex").slice(0, 16)
  const file = path.join(dir, `${encodeURIComponent(input.label)}__${hash}.bin`)
  fs.writeFileSync(file, input.bytes)
  return file
}

export const readCorpus = (target: string): Array<{ file: string; input: FuzzInput }> => {
  const dir = path.join(CORPUS_DIR, target)
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir).filter((f) => f.endsWith(".bin")).sort().map((f) => ({
    file: f,
    input: { label: decodeURIComponent(f.slice(0, f.lastIndexOf("__"))), bytes: new Uint8Array(fs.readFileSync(path.join(dir, f))) }
  }))
}
