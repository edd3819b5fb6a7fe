/**
 * `pnpm start`: runs the broker from its prebuilt bundle (dist/broker.cjs, see scripts/build.mjs),
 * rebuilding it first when any source file changed since it was built, with a V8 code cache in
 * dist/compile-cache (scripts/run-bundle.cjs). Arguments are the broker's (src/main.ts reads
 * process.argv). Plain CommonJS: nothing here needs type-stripping, a start does not initialise
 * Node's ES module loader (~10 internal modules), and the build script (and esbuild) is only
 * loaded when a rebuild is due.
 */
const path = require("node:path")
const { staleReason } = require("./bundle-stamp.cjs")
const { runBundle } = require("./run-bundle.cjs")

const root = `${path.dirname(__dirname)}/`
const start = () => runBundle(`${root}dist/broker.cjs`, `${root}dist/compile-cache`)

const rebuildThenStart = async (reason) => {
  let build
  try {
    build = (await import("./build.mjs")).build
    process.stderr.write(`building dist/broker.cjs (${reason})\n`)
    await build()
  } catch (e) {
    // A production install without devDependencies has no esbuild: the source still runs.
    process.stderr.write(`cannot build dist/broker.cjs (${e instanceof Error ? e.message : String(e)}); running src/main.ts\n`)
    await import(require("node:url").pathToFileURL(`${root}src/main.ts`).href)
    return
  }
  start()
}

const reason = staleReason(root)
if (reason === undefined) start()
else void rebuildThenStart(reason)
