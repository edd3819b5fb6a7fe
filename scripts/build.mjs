/**
 * Builds the broker `pnpm start` runs, in two steps:
 * 1. esbuild bundles scripts/broker-entry.mjs (src/run-main.ts and what it imports) with its
 *    dependencies into one CommonJS script, dist/broker.cjs: starting from it skips Node's
 *    type-stripping and resolution of ~500 modules. `node dist/broker.cjs [args]` runs the broker.
 * 2. Node evaluates that script once and saves the heap as a V8 start-up snapshot,
 *    dist/broker.blob (`node --snapshot-blob dist/broker.blob --build-snapshot dist/broker.cjs`):
 *    `pnpm start` (`node --snapshot-blob dist/broker.blob scripts/start.mjs [args]`) deserializes
 *    it, which skips compiling and evaluating the bundle too (effect's and the protocol's module
 *    bodies, Schema construction) — most of what was left of a start.
 *
 * `pnpm install` runs this (package.json `prepare`); the snapshot's main function
 * (scripts/broker-entry.mjs), scripts/start.mjs and the test suite's global setup check
 * dist/build-stamp.json (each input's size and mtime, and the Node.js the blob was built by)
 * and rebuild whenever it no longer matches, so a stale bundle or snapshot never runs.
 *
 * Plain JavaScript so that the launcher can check and rebuild without type-stripping anything.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as module from "node:module"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { runtimeId, fingerprint as stampOf, staleReason as staleReasonAt } from "./bundle-stamp.mjs"

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const distDir = path.join(projectRoot, "dist")
/** The broker as one CommonJS script (`node dist/broker.cjs [args]` runs it). */
export const bundlePath = path.join(distDir, "broker.cjs")
/** The start-up snapshot of that script, evaluated (`node --snapshot-blob dist/broker.blob scripts/start.mjs [args]`). */
export const blobPath = path.join(distDir, "broker.blob")
/** V8's compiled code for the bundle (module.enableCompileCache), for starts without the snapshot. */
export const compileCacheDir = path.join(distDir, "compile-cache")
const stampPath = path.join(distDir, "build-stamp.json")
/** The web console's static files, read at run time next to the module that serves them. */
const consoleAssets = path.join("src", "http", "console")
/** Not part of the import graph, but a change to either can change what gets bundled. */
const extraInputs = ["package.json", "pnpm-lock.yaml", "scripts/build.mjs"]

const root = projectRoot + path.sep
const fingerprint = (rel) => stampOf(root, rel)

/** Why the bundle must be (re)built, or undefined when it matches every input it was built from. */
export const staleReason = () => staleReasonAt(root)

/**
 * @effect/platform-node's socket server re-exports the `ws` package (WebSocket servers and HTTP
 * upgrades), which loads ws, https, tls and zlib at start-up; the broker serves neither
 * WebSockets nor upgrades, so the bundle gets classes that refuse to be constructed instead.
 */
const withoutWebSockets = {
  name: "without-websockets",
  setup(b) {
    b.onResolve({ filter: /^ws$/ }, () => ({ path: "ws", namespace: "without-websockets" }))
    b.onLoad({ filter: /.*/, namespace: "without-websockets" }, () => ({
      loader: "js",
      contents: [
        "const refuse = (what) => class { constructor() { throw new Error(`${what}: WebSockets are not part of the broker bundle`) } }",
        "export const WebSocket = refuse(\"WebSocket\")",
        "export const WebSocketServer = refuse(\"WebSocketServer\")",
        "export const Receiver = refuse(\"Receiver\")",
        "export const Sender = refuse(\"Sender\")",
        "export const createWebSocketStream = () => { throw new Error(\"createWebSocketStream: WebSockets are not part of the broker bundle\") }",
        "export default WebSocket"
      ].join("\n")
    }))
  }
}

/**
 * The built-in modules Node supports in a user-land start-up snapshot (the list in Node 22's
 * lib/internal/main/mksnapshot.js): their state is rebuilt when a process starts from the
 * snapshot. Any other built-in (http, tls, perf_hooks, module, child_process, async_hooks…)
 * holds native state the snapshot cannot carry: building fails ("global handle not
 * serialized") or the process starts with stale handles.
 */
const snapshotSafeBuiltins = new Set([
  "_stream_duplex", "_stream_passthrough", "_stream_readable", "_stream_transform", "_stream_wrap", "_stream_writable",
  "assert", "assert/strict", "buffer", "console", "constants", "crypto", "diagnostics_channel", "dns", "events", "fs",
  "fs/promises", "net", "os", "path", "path/posix", "path/win32", "process", "punycode", "querystring", "stream",
  "stream/promises", "string_decoder", "sys", "timers", "timers/promises", "url", "util", "util/types", "v8", "zlib",
  // Not on Node's list, but loading it holds no native state (the event-loop-delay histogram and
  // the GC observer are made when the broker starts; test/server/snapshot.test.ts reads them
  // through /metrics); in the snapshot it is not compiled at every start (~5 ms).
  "perf_hooks"
])

/**
 * Built-in modules are fetched with process.getBuiltinModule: a plain object, where an ES import
 * of node:http would build a facade reading every export (its lazy WebSocket getters load
 * undici), and where the snapshot builder's `require` would warn for every module it has not
 * verified. Those outside `snapshotSafeBuiltins` are loaded on first use instead: the bundle
 * gets a stand-in that lists the module's export names (taken from this Node at build time) and
 * loads the module when an export is read. While the snapshot is being built, reading one is an
 * error that names it — except a plain function, which gets a forwarder that loads the module
 * when called (e.g. `http.createServer` captured by a module body, called only at run time).
 */
const builtinsForSnapshot = {
  name: "builtins-for-snapshot",
  setup(b) {
    const builtins = new Set(module.builtinModules)
    b.onResolve({ filter: /^[a-z_/0-9:]+$/ }, (args) => {
      const name = args.path.startsWith("node:") ? args.path.slice(5) : args.path
      if (!builtins.has(name)) return undefined
      return { path: name, namespace: "builtin" }
    })
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => {
      const id = JSON.stringify(`node:${args.path}`)
      if (snapshotSafeBuiltins.has(args.path)) return { loader: "js", contents: `module.exports = process.getBuiltinModule(${id})` }
      const real = process.getBuiltinModule(`node:${args.path}`)
      const names = Reflect.ownKeys(real).filter((k) => typeof k === "string")
      const isPlainFunction = (f) =>
        typeof f === "function" && !/^class\b/.test(Function.prototype.toString.call(f)) &&
        Object.getOwnPropertyNames(f.prototype ?? {}).length <= 1
      const functions = names.filter((k) => isPlainFunction(real[k]))
      return {
        loader: "js",
        contents: `let loaded
const load = () => (loaded ??= process.getBuiltinModule(${id}))
const names = ${JSON.stringify(names)}
const functions = new Set(${JSON.stringify(functions)})
const read = (name) => {
  if (typeof name !== "string" || !names.includes(name)) return undefined
  if (loaded === undefined && process.getBuiltinModule("node:v8").startupSnapshot.isBuildingSnapshot()) {
    if (functions.has(name)) return function (...args) { return load()[name].apply(this, args) }
    throw new Error(\`\${${id}}.\${String(name)} read while building the start-up snapshot: load it at run time\`)
  }
  return load()[name]
}
module.exports = new Proxy({}, { get: (_, name) => read(name), has: (_, name) => names.includes(name), ownKeys: () => names })`
      }
    })
  }
}

/**
 * @effect/platform-node loads node:http and node:https with a `require` it makes at module
 * load (to avoid node:http's ES facade); in the bundle they are the stand-ins above instead.
 */
const platformNodeHttp = {
  name: "platform-node-http",
  setup(b) {
    b.onLoad({ filter: /@effect[\\/]platform-node[\\/].*internal[\\/]http\.js$/ }, () => ({
      loader: "js",
      contents: "export const http = require(\"node:http\")\nexport const https = require(\"node:https\")"
    }))
  }
}

/**
 * The native CRC-32C addon cannot be part of a snapshot (a dlopen'ed library): the bundle gets
 * functions that require it from node_modules when first called, at run time.
 */
const nativeAddonsAtRunTime = {
  name: "native-addons-at-run-time",
  setup(b) {
    b.onResolve({ filter: /^@node-rs\/crc32$/ }, (args) => ({ path: args.path, namespace: "native-addon" }))
    b.onLoad({ filter: /.*/, namespace: "native-addon" }, () => ({
      loader: "js",
      contents: `import { createRequire } from "node:module"
let native
const load = () => (native ??= createRequire(import.meta.url)("@node-rs/crc32"))
export const crc32c = (input, initialState) => load().crc32c(input, initialState)
export const crc32 = (input, initialState) => load().crc32(input, initialState)`
    }))
  }
}

/**
 * Bundles scripts/broker-entry.mjs into dist/broker.cjs, builds dist/broker.blob from it (both
 * written atomically) and records their inputs.
 */
export const build = async () => {
  let esbuild
  try {
    esbuild = await import("esbuild")
  } catch {
    throw new Error("esbuild is not installed (it is a devDependency: run pnpm install)")
  }
  fs.mkdirSync(distDir, { recursive: true })
  const tmp = `${bundlePath}.${process.pid}.tmp.cjs`
  const result = await esbuild.build({
    absWorkingDir: projectRoot,
    entryPoints: ["scripts/broker-entry.mjs"],
    outfile: tmp,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    // import.meta.url of the bundled ES modules (require of lazily loaded packages, the console's
    // files): the bundle's own location, dist/broker.cjs.
    define: { "import.meta.url": "__brokerModuleUrl" },
    banner: { js: `"use strict";const __brokerModuleUrl = require("node:url").pathToFileURL(__filename).href;` },
    // Identifiers stay (error and class names appear in logs); whitespace and syntax shrink, which
    // makes the script faster to read and compile.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    plugins: [withoutWebSockets, platformNodeHttp, builtinsForSnapshot, nativeAddonsAtRunTime],
    metafile: true,
    logLevel: "warning"
  })
  // In place before the snapshot is built from it: the snapshot's code keeps the path it was
  // evaluated at (stack traces, the bundle's own location). Until the stamp below is written, a
  // start finds the build stale whatever the bundle and the blob are.
  fs.renameSync(tmp, bundlePath)
  const blobTmp = `${blobPath}.${process.pid}.tmp`
  // With the code cache of Node's own modules (4.5 MB of the blob): a blob built without it
  // (`--build-snapshot-config` withoutCodeCache) starts ~15 % faster, but on Node 22 its
  // internal errors come out wrong (zlib's ERR_BUFFER_TOO_LARGE has the function
  // internalBinding as its code) and V8 crashes lazily compiling class field initializers.
  try {
    // Evaluates the bundle (scripts/broker-entry.mjs registers the run as the snapshot's main
    // function) and writes the heap.
    execFileSync(process.execPath, ["--snapshot-blob", blobTmp, "--build-snapshot", bundlePath], {
      cwd: projectRoot,
      stdio: ["ignore", "inherit", "pipe"]
    })
  } catch (e) {
    fs.rmSync(blobTmp, { force: true })
    // Node quotes the failing source line, which is a line of the minified bundle: left out.
    const stderr = String(e?.stderr ?? "").split("\n").filter((l) => l.length < 400).join("\n")
    throw new Error(`building the start-up snapshot failed:\n${stderr}`)
  }
  fs.renameSync(blobTmp, blobPath)
  // Entries are keyed by the source's hash; the old bundle's are of no further use.
  fs.rmSync(compileCacheDir, { recursive: true, force: true })
  fs.rmSync(path.join(distDir, "broker.mjs"), { force: true })
  fs.rmSync(path.join(distDir, "console"), { recursive: true, force: true })
  fs.cpSync(path.join(projectRoot, consoleAssets), path.join(distDir, "console"), { recursive: true })
  // Virtual modules (the plugins' "namespace:name" inputs) have no file to watch.
  const sources = Object.keys(result.metafile.inputs).filter((f) => !f.includes("node_modules") && !/^[a-z-]+:/.test(f))
  const assets = fs.readdirSync(path.join(projectRoot, consoleAssets)).map((f) => path.join(consoleAssets, f))
  const inputs = {}
  for (const rel of [...sources, ...assets, ...extraInputs].sort()) inputs[rel] = fingerprint(rel)
  const stampTmp = `${stampPath}.${process.pid}.tmp`
  fs.writeFileSync(stampTmp, JSON.stringify({ entry: "scripts/broker-entry.mjs", runtime: runtimeId(), inputs }, null, 1))
  fs.renameSync(stampTmp, stampPath)
}

/** Builds only when something changed; says why on stderr when it does. */
export const buildIfStale = async () => {
  const reason = staleReason()
  if (reason === undefined) return false
  process.stderr.write(`building dist/broker.cjs and dist/broker.blob (${reason})\n`)
  await build()
  return true
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await (process.argv.includes("--if-stale") ? buildIfStale() : build())
}
