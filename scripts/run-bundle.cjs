/**
 * Runs the broker's bundle (dist/broker.cjs) in this process as Node would run a CommonJS module,
 * with a V8 code cache of what a start compiles (scripts/start.cjs uses it).
 *
 * Why not require() with Node's compile cache (module.enableCompileCache): on this kind of VM a
 * start is dominated by first touches of fresh memory (~20 µs per 4 KiB page fault), and
 * require() copies the 2 MB source about five times (read, UTF-8 decoding, std::string growth,
 * the compile cache's hashing copy) where this reads it once and keeps it as one Latin-1 string.
 * Node's compile cache also holds only the functions compiled with the top level, so every start
 * parsed and compiled again each function it ran; the cache written here is taken once the broker
 * listens (script.createCachedData), so a start compiles almost nothing.
 */
// CommonJS requires, not ES imports: the facade an ES import of a built-in builds reads every
// export, and node:fs's promises getter alone loads ~10 internal modules.
const diagnosticsChannel = require("node:diagnostics_channel")
const fs = require("node:fs")
const { createRequire } = require("node:module")
const path = require("node:path")
const vm = require("node:vm")

/**
 * Runs `bundlePath` (wrapped as scripts/build.mjs `bundleWrapper` wraps it) with the code cache
 * kept in `cacheDir`. When there was no usable cache, one is written `cacheAfterMs` after the
 * first server of the process listens (the Kafka listener: the start is done, and a client that
 * connects as soon as it is told so has had its first answers), or at exit if that comes first;
 * a process that never listens writes none.
 * Not later: what the broker runs afterwards (a test's produce and fetch, the HTTP listener) would
 * make the cache, which every later start deserializes whole, larger than a start needs.
 * Returns what became of the cache: "accepted", "rejected" (another V8 or other flags) or "absent".
 */
/** Reads the first `size` bytes of the file open as `f` into `buffer`, and closes it; how many it read. */
const readWhole = (f, buffer, size) => {
  try {
    let read = 0
    while (read < size) {
      const n = fs.readSync(f, buffer, read, size - read, read)
      if (n === 0) break
      read += n
    }
    return read
  } finally {
    fs.closeSync(f)
  }
}

/**
 * Starts reading `bundlePath` on libuv's thread pool, into a buffer with room for the code cache
 * as well (a little larger than the bundle), and calls `done` with it for runBundle's
 * `prefetched` (undefined when it could not be read whole; runBundle then reads it itself).
 * scripts/start.cjs checks the bundle's sources meanwhile: the read's page faults (a fresh
 * 1.5 MB buffer) are then taken on another thread.
 */
const prefetchBundle = (bundlePath, done) => {
  let fd
  try {
    fd = fs.openSync(bundlePath, "r")
    const { size, mtimeMs } = fs.fstatSync(fd)
    const buffer = Buffer.allocUnsafeSlow(size + (size >> 3))
    fs.read(fd, buffer, 0, size, 0, (error, bytesRead) => {
      fs.closeSync(fd)
      done(error === null && bytesRead === size ? { buffer, size, mtimeMs } : undefined)
    })
  } catch {
    if (fd !== undefined) fs.closeSync(fd)
    process.nextTick(done, undefined)
  }
}

const runBundle = (bundlePath, cacheDir, { cacheAfterMs = 50, prefetched } = {}) => {
  const stat = prefetched ?? fs.statSync(bundlePath)
  // V8 checks a cache only against the source's length, its own version and its flags: the name
  // ties it to this build of the bundle, and the build removes the directory (scripts/build.mjs).
  const cachePath = path.join(cacheDir, `broker-${stat.size}-${Math.trunc(stat.mtimeMs)}-${process.version}-${process.arch}.v8`)
  let cacheFd
  let cacheSize = 0
  try {
    cacheFd = fs.openSync(cachePath, "r")
    cacheSize = fs.fstatSync(cacheFd).size
  } catch {}
  // The bundle and then the cache are read into one buffer: every page of fresh memory a start
  // touches costs a fault (~20 µs each on the bench's VM), and the bundle's bytes are done with
  // once they are a string.
  let buffer = prefetched?.buffer ?? Buffer.allocUnsafeSlow(Math.max(stat.size, cacheSize))
  const bundleBytes = prefetched?.size ?? readWhole(fs.openSync(bundlePath, "r"), buffer, stat.size)
  // esbuild writes ASCII only (charset: "ascii"), which Latin-1 decodes as it is, with no UTF-8
  // validation and into a one-byte string. The build wraps the bundle so that the script's value
  // is its module function: V8 compiles the file's own string, where a wrapper concatenated here
  // would make it copy the whole source first.
  const source = buffer.toString("latin1", 0, bundleBytes)
  if (buffer.length < cacheSize) buffer = Buffer.allocUnsafeSlow(cacheSize)
  let cachedData
  try {
    if (cacheFd !== undefined) cachedData = buffer.subarray(0, readWhole(cacheFd, buffer, cacheSize))
  } catch {}
  const outcome = cachedData === undefined ? "absent" : undefined
  const script = new vm.Script(source, {
    filename: bundlePath,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
  })
  cachedData = undefined
  const moduleFunction = script.runInThisContext()
  if (typeof moduleFunction !== "function") throw new Error(`${bundlePath} is not wrapped as scripts/build.mjs wraps it: rebuild it (pnpm build)`)
  const bundleModule = { exports: {} }
  moduleFunction.call(bundleModule.exports, bundleModule.exports, createRequire(bundlePath), bundleModule, bundlePath, path.dirname(bundlePath))
  if (script.cachedDataRejected === false) return "accepted"
  // Only a process that listened (a broker that started) writes it: `--format`, or a start refused
  // for a bad setting, runs a sliver of the bundle, and its cache would then be every later start's.
  // Written once it listens, it survives a SIGKILL; a broker stopped within cacheAfterMs of
  // listening writes it as it exits.
  let listened = false
  let written = false
  const write = () => {
    if (written || !listened) return
    written = true
    try {
      fs.mkdirSync(cacheDir, { recursive: true })
      const tmp = `${cachePath}.${process.pid}.tmp`
      fs.writeFileSync(tmp, script.createCachedData())
      fs.renameSync(tmp, cachePath)
    } catch (e) {
      process.stderr.write(`cannot write the code cache ${cachePath}: ${e instanceof Error ? e.message : String(e)}\n`)
    }
  }
  const listenChannel = "tracing:net.server.listen:asyncEnd"
  const onListening = () => {
    diagnosticsChannel.unsubscribe(listenChannel, onListening)
    listened = true
    setTimeout(write, cacheAfterMs).unref()
  }
  diagnosticsChannel.subscribe(listenChannel, onListening)
  process.once("exit", write)
  return outcome ?? "rejected"
}

module.exports = { prefetchBundle, runBundle }
