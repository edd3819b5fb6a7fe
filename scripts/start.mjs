/**
 * `pnpm start`: runs the broker from its prebuilt bundle (dist/broker.cjs, see scripts/build.mjs),
 * rebuilding it first when any source file changed since it was built, with a V8 code cache in
 * dist/compile-cache (scripts/run-bundle.mjs). Arguments are the broker's (src/main.ts reads
 * process.argv). Plain JavaScript: nothing here needs type-stripping, and the build script (and
 * esbuild) is only loaded when a rebuild is due.
 */
import { staleReason } from "./bundle-stamp.mjs"
import { runBundle } from "./run-bundle.mjs"

const root = new URL("../", import.meta.url)
const reason = staleReason(decodeURIComponent(root.pathname))
let current = reason === undefined
if (!current) {
  try {
    const { build } = await import("./build.mjs")
    process.stderr.write(`building dist/broker.cjs (${reason})\n`)
    await build()
    current = true
  } catch (e) {
    // A production install without devDependencies has no esbuild: the source still runs.
    process.stderr.write(`cannot build dist/broker.cjs (${e instanceof Error ? e.message : String(e)}); running src/main.ts\n`)
  }
}
if (current) runBundle(decodeURIComponent(new URL("dist/broker.cjs", root).pathname), decodeURIComponent(new URL("dist/compile-cache", root).pathname))
else await import(new URL("src/main.ts", root).href)
