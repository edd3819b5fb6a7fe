/**
 * `pnpm start`: runs the broker from its prebuilt bundle (dist/broker.cjs, see scripts/build.mjs),
 * rebuilding it first when any source file changed since it was built, with V8's compile cache
 * so that later starts skip compiling it too. Arguments are the broker's (src/main.ts reads
 * process.argv). Plain JavaScript: nothing here needs type-stripping, and the build script
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
    process.stderr.write(`building dist/broker.cjs (${reason})\n`)
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
  // Node writes the cache at exit, which a broker stopped by SIGKILL never reaches: written now,
  // the first start after a build already leaves it for the next (~30 % of a start).
  module.flushCompileCache?.()
} else {
  await import(entry.href)
}
