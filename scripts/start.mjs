/**
 * `pnpm start`: runs the broker from its prebuilt bundle (dist/broker.mjs, see scripts/build.mjs),
 * rebuilding it first when any source file changed since it was built, with V8's compile cache
 * so that later starts skip compiling it too. Arguments are the broker's (src/main.ts reads
 * process.argv). Plain JavaScript: nothing here needs type-stripping.
 */
import * as module from "node:module"
import { pathToFileURL } from "node:url"
import { buildIfStale, bundlePath, compileCacheDir } from "./build.mjs"

let entry = pathToFileURL(bundlePath).href
try {
  await buildIfStale()
} catch (e) {
  // A production install without devDependencies has no esbuild: the source still runs.
  process.stderr.write(`cannot build dist/broker.mjs (${e instanceof Error ? e.message : String(e)}); running src/main.ts\n`)
  entry = new URL("../src/main.ts", import.meta.url).href
}
module.enableCompileCache?.(compileCacheDir)
await import(entry)
