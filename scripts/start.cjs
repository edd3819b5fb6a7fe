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
const { prefetchBundle, runBundle } = require("./run-bundle.cjs")

const root = `${path.dirname(__dirname)}/`
const bundlePath = `${root}dist/broker.cjs`
const start = (prefetched) => runBundle(bundlePath, `${root}dist/compile-cache`, { prefetched })

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

// libuv sizes its thread pool when it first starts, which the bundle's read below does: the
// broker's own default (src/main.ts sets it too, for runs without this launcher).
process.env["UV_THREADPOOL_SIZE"] ??= "16"
// The bundle is read on libuv's thread pool while this thread checks its sources (~350 stats):
// a few ms of a start (docs/performance-log.md, "Eleventh look"). Both done, it runs, or is rebuilt first.
let reason
let prefetched
let waiting = 2
const proceed = () => {
  if (--waiting > 0) return
  if (reason === undefined) start(prefetched)
  else void rebuildThenStart(reason)
}
prefetchBundle(bundlePath, (read) => {
  prefetched = read
  proceed()
})
reason = staleReason(root)
proceed()
