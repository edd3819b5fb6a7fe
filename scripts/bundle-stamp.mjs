/**
 * Whether dist/broker.cjs and its start-up snapshot dist/broker.blob still match their sources:
 * dist/build-stamp.json records the size and mtime of every input they were built from, and the
 * Node.js that built the snapshot (scripts/build.mjs writes it). `pnpm start` checks this before
 * every start, so it is kept to what the check needs: node:fs only, one stat per input, paths
 * joined as strings (a few ms for ~350 inputs, where importing the build script and path.join
 * cost 30-40 ms of a start). The snapshot's main function runs it too (it is bundled into
 * dist/broker.cjs), so nothing here may capture state at module load.
 */
import * as fs from "node:fs"

/** The Node.js a start-up snapshot is tied to: a blob built by another one refuses to load. */
export const runtimeId = () => `${process.version} ${process.platform}-${process.arch}`

/** `size:mtime` of a file relative to `root` (with a trailing slash), or "missing". */
export const fingerprint = (root, rel) => {
  const st = fs.statSync(root + rel, { throwIfNoEntry: false })
  return st === undefined ? "missing" : `${st.size}:${st.mtimeMs}`
}

/** Why the bundle under `root` must be (re)built, or undefined when it matches every input it was built from. */
export const staleReason = (root) => {
  let stamp
  try {
    stamp = JSON.parse(fs.readFileSync(`${root}dist/build-stamp.json`, "utf8"))
  } catch {
    return "no build yet"
  }
  if (!fs.existsSync(`${root}dist/broker.cjs`)) return "dist/broker.cjs is missing"
  if (!fs.existsSync(`${root}dist/broker.blob`)) return "dist/broker.blob is missing"
  const runtime = runtimeId()
  if (stamp.runtime !== runtime) return `dist/broker.blob was built by Node.js ${stamp.runtime ?? "(unknown)"}, this is ${runtime}`
  for (const rel in stamp.inputs) {
    if (fingerprint(root, rel) !== stamp.inputs[rel]) return `${rel} changed`
  }
  return undefined
}
