/**
 * Whether dist/broker.cjs still matches its sources: dist/build-stamp.json records the size and
 * mtime of every input the bundle was built from (scripts/build.mjs writes it). `pnpm start`
 * checks this before every start, so it is kept to what the check needs: node:fs only, one
 * stat per input, paths joined as strings (a few ms for ~350 inputs, where importing the build
 * script and path.join cost 30-40 ms of a start).
 */
// A CommonJS require, not an ES import: the facade an ES import of a built-in builds reads every
// export, and fs.promises's getter loads ~10 internal modules (file handles, streams, readline…).
const fs = require("node:fs")

/** `size:mtime` of a file relative to `root` (with a trailing slash), or "missing". */
const fingerprint = (root, rel) => {
  const st = fs.statSync(root + rel, { throwIfNoEntry: false })
  return st === undefined ? "missing" : `${st.size}:${st.mtimeMs}`
}

/** Why the bundle under `root` must be (re)built, or undefined when it matches every input it was built from. */
const staleReason = (root) => {
  let stamp
  try {
    stamp = JSON.parse(fs.readFileSync(`${root}dist/build-stamp.json`, "utf8"))
  } catch {
    return "no build yet"
  }
  if (!fs.existsSync(`${root}dist/broker.cjs`)) return "dist/broker.cjs is missing"
  for (const rel in stamp.inputs) {
    if (fingerprint(root, rel) !== stamp.inputs[rel]) return `${rel} changed`
  }
  return undefined
}

module.exports = { fingerprint, staleReason }
