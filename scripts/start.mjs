/**
 * `pnpm start` runs `node --snapshot-blob dist/broker.blob scripts/start.mjs [args]`: Node starts
 * from the broker's start-up snapshot (scripts/build.mjs), whose main function
 * (scripts/broker-entry.mjs) runs the broker, and does not run this script at all.
 *
 * This script is the way without the snapshot, taken when the snapshot is out of date (the
 * snapshot's main function replaces its process with `node scripts/start.mjs [args]`) or by hand
 * (`node scripts/start.mjs [args]`, e.g. after a change of Node.js, whose snapshot refuses to
 * load): it rebuilds dist/broker.cjs and dist/broker.blob when any source file changed since
 * they were built, then runs the bundle with V8's compile cache. Arguments are the broker's
 * (src/run-main.ts). Plain JavaScript: nothing here needs type-stripping, and the build script
 * (and esbuild) is only loaded when a rebuild is due.
 */
import * as module from "node:module"
import { staleReason } from "./bundle-stamp.mjs"

const root = new URL("../", import.meta.url)
let entry = new URL("dist/broker.cjs", root)
const reason = staleReason(decodeURIComponent(root.pathname))
if (reason !== undefined) {
  try {
    const { build } = await import("./build.mjs")
    process.stderr.write(`building dist/broker.cjs and dist/broker.blob (${reason})\n`)
    await build()
  } catch (e) {
    // A production install without devDependencies has no esbuild: the source still runs.
    process.stderr.write(`cannot build dist/broker.cjs (${e instanceof Error ? e.message : String(e)}); running src/main.ts\n`)
    entry = new URL("src/main.ts", root)
  }
}
if (entry.pathname.endsWith(".cjs")) {
  module.enableCompileCache?.(decodeURIComponent(new URL("dist/compile-cache", root).pathname))
  module.createRequire(import.meta.url)(decodeURIComponent(entry.pathname))
} else {
  await import(entry.href)
}
