/**
 * Builds the broker `pnpm start` runs: src/main.ts bundled with its dependencies into one
 * CommonJS script, dist/broker.cjs (esbuild). Starting from it skips Node's type-stripping and
 * resolution of ~500 modules, which is most of a start from source; scripts/start.cjs runs it
 * with a V8 code cache.
 *
 * `pnpm install` runs this (package.json `prepare`); scripts/start.cjs and the test suite's
 * global setup run it again whenever a source file differs from what the bundle was built from
 * (dist/build-stamp.json records each input's size and mtime), so a stale bundle never runs.
 *
 * Plain JavaScript so that the launcher can check and rebuild without type-stripping anything.
 */
import * as fs from "node:fs"
import * as module from "node:module"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { fingerprint as stampOf, staleReason as staleReasonAt } from "./bundle-stamp.cjs"

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const distDir = path.join(projectRoot, "dist")
/** The broker as one CommonJS script (`node dist/broker.cjs [args]` runs it). */
export const bundlePath = path.join(distDir, "broker.cjs")
/** V8's compiled code for the bundle (written by scripts/run-bundle.cjs), kept from one start to the next. */
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
 * The built-in modules a start uses before it answers its first request, loaded with the
 * bundle. Any other (http, tls, module, child_process, async_hooks…) is loaded on first use:
 * node:http alone is several ms of a start, and the HTTP listener comes up after the Kafka one;
 * node:fs/promises brings ~10 more internal modules (file handles, streams, readline, watchers)
 * that only reading a server.properties file needs; node:zlib is for compressed batches and HTTP
 * responses; node:crypto (~15 internal modules) for ids made after the start (src/random-bytes.ts);
 * node:perf_hooks (~8) for the process samplers, which start with the HTTP listener.
 */
const builtinsLoadedAtStart = new Set([
  "_stream_duplex", "_stream_passthrough", "_stream_readable", "_stream_transform", "_stream_wrap", "_stream_writable",
  "assert", "assert/strict", "buffer", "console", "constants", "diagnostics_channel", "dns", "events", "fs",
  "net", "os", "path", "path/posix", "path/win32", "process", "punycode", "querystring", "stream",
  "stream/promises", "string_decoder", "sys", "timers", "timers/promises", "url", "util", "util/types", "v8"
])

/**
 * A built-in loaded at start as an ES module whose named exports are the module's own data
 * properties, read once: as CommonJS (`module.exports = ...`), esbuild gave every file that
 * imports it (`import * as fs`, 63 of them) its own copy of the module's properties, a getter
 * closure each (`__toESM`, 4-6 ms of a start). Accessors (fs.promises, net.BlockList…) load
 * modules when read, so they are not exported: `default` is the module itself, and the build
 * fails if a file reads one through a named import (see `build`).
 */
const builtinAsEsModule = (id, builtin) => {
  const names = Reflect.ownKeys(builtin).filter((k) => {
    if (typeof k !== "string" || k === "default" || !/^[A-Za-z_$][\w$]*$/.test(k)) return false
    const d = Object.getOwnPropertyDescriptor(builtin, k)
    return d.enumerable && "value" in d
  })
  return `const m = process.getBuiltinModule(${id})\nexport default m\nexport const { ${names.join(", ")} } = m`
}

/**
 * Built-in modules are fetched with process.getBuiltinModule: a plain object, where an ES import
 * of node:http would build a facade reading every export (its lazy WebSocket getters load
 * undici). Those outside `builtinsLoadedAtStart` are loaded on first use instead: the bundle
 * gets a stand-in that lists the module's export names (taken from this Node at build time) and
 * loads the module when an export is read. A function export (lower-case name: classes stay as
 * they are, for `new`, `extends` and instanceof) read before the module is loaded is a stand-in
 * that loads it when called: module-level code such as @effect/platform-node's
 * `layer(http.createServer, ...)` then loads nothing until a server is made.
 */
const builtinsOnFirstUse = {
  name: "builtins-on-first-use",
  setup(b) {
    const builtins = new Set(module.builtinModules)
    b.onResolve({ filter: /^[a-z_/0-9:]+$/ }, (args) => {
      const name = args.path.startsWith("node:") ? args.path.slice(5) : args.path
      if (!builtins.has(name)) return undefined
      return { path: name, namespace: "builtin" }
    })
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => {
      const id = JSON.stringify(`node:${args.path}`)
      const builtin = process.getBuiltinModule(`node:${args.path}`)
      if (builtinsLoadedAtStart.has(args.path)) return { loader: "js", contents: builtinAsEsModule(id, builtin) }
      const names = Reflect.ownKeys(builtin).filter((k) => typeof k === "string")
      const functions = names.filter((k) => /^[a-z]/.test(k) && typeof builtin[k] === "function")
      return {
        loader: "js",
        contents: `let loaded
const load = () => (loaded ??= process.getBuiltinModule(${id}))
const names = ${JSON.stringify(names)}
const functions = new Set(${JSON.stringify(functions)})
const deferred = new Map()
const defer = (name) => {
  let f = deferred.get(name)
  if (f === undefined) deferred.set(name, f = function(...args) { return load()[name].apply(this, args) })
  return f
}
const read = (name) => (typeof name !== "string" || !names.includes(name) ? undefined : loaded === undefined && functions.has(name) ? defer(name) : load()[name])
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
 * The bundle is a CommonJS module whose body sits in a function expression: run by Node
 * (`node dist/broker.cjs`, require) it calls that function with its module's variables, and
 * compiled as a script by scripts/run-bundle.cjs (vm.Script, where `module` is not defined) its value
 * is the function, which the launcher calls. V8 then compiles the file's own string: a wrapper
 * added at run time would make it copy the 2 MB first.
 */
export const bundleWrapper = {
  open: "(typeof module === \"object\" && typeof require === \"function\" ? (f) => f.call(exports, exports, require, module, __filename, __dirname) : (f) => f)(function (exports, require, module, __filename, __dirname) {",
  close: "\n})"
}

/**
 * `import { Effect, Schema } from "effect"` goes through effect's barrel, which re-exports every
 * module as a namespace (`export * as Schema from "./Schema.js"`); esbuild then builds each such
 * namespace as an object holding every export, so nothing of those modules is tree-shaken (the
 * whole of Schema, its crypto keys and JSON Schema documents, Cron…, all evaluated at start). The
 * broker's own files are compiled as if they imported each module directly
 * (`import * as Schema from "effect/Schema"`), which esbuild resolves export by export. The
 * mapping is read from effect's barrel itself; a name it does not export fails the build.
 */
const effectDirectImports = {
  name: "effect-direct-imports",
  setup(b) {
    const barrelPath = module.createRequire(path.join(projectRoot, "package.json")).resolve("effect")
    const barrel = fs.readFileSync(barrelPath, "utf8")
    const namespaces = new Map([...barrel.matchAll(/export \* as (\w+) from "\.\/([\w/]+)\.js"/g)].map((m) => [m[1], `effect/${m[2]}`]))
    const named = new Map()
    for (const m of barrel.matchAll(/export \{([^}]*)\} from "\.\/([\w/]+)\.js"/g)) {
      for (const n of m[1].split(",").map((x) => x.trim()).filter((x) => x !== "")) named.set(n, `effect/${m[2]}`)
    }
    const rewrite = (file, specifiers) =>
      specifiers.split(",").map((x) => x.trim()).filter((x) => x !== "" && !x.startsWith("type ")).map((spec) => {
        const [name, local = name] = spec.split(/\s+as\s+/)
        if (namespaces.has(name)) return `import * as ${local} from "${namespaces.get(name)}";`
        if (named.has(name)) return `import { ${name} as ${local} } from "${named.get(name)}";`
        throw new Error(`${file}: "effect" exports no ${name} in ${barrelPath}`)
      }).join(" ")
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => {
      const source = fs.readFileSync(args.path, "utf8")
      const contents = source.replace(/import\s*\{([^}]*)\}\s*from\s*"effect"\s*;?/g, (_, specifiers) => rewrite(args.path, specifiers))
      return { contents, loader: "ts" }
    })
  }
}

/**
 * esbuild's options for a script that scripts/run-bundle.cjs runs: the broker's, and the bench's
 * start-up floor of the stack (bench/lib/stack-floor.ts), which is built as the broker is.
 */
export const bundleOptions = {
  absWorkingDir: projectRoot,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node22",
  // import.meta.url of the bundled ES modules (require of lazily loaded packages, the console's
  // files): the bundle's own location, dist/broker.cjs.
  define: { "import.meta.url": "__brokerModuleUrl" },
  banner: { js: `${bundleWrapper.open}"use strict";const __brokerModuleUrl = require("node:url").pathToFileURL(__filename).href;` },
  footer: { js: bundleWrapper.close },
  // scripts/run-bundle.cjs reads the bundle as Latin-1, which is exact for ASCII.
  charset: "ascii",
  // Identifiers stay (error and class names appear in logs); whitespace and syntax shrink, which
  // makes the script faster to read and compile.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  plugins: [effectDirectImports, withoutWebSockets, platformNodeHttp, builtinsOnFirstUse],
  logLevel: "warning"
}

/** Bundles src/main.ts into dist/broker.cjs (written atomically) and records its inputs. */
export const build = async () => {
  let esbuild
  try {
    esbuild = await import("esbuild")
  } catch {
    throw new Error("esbuild is not installed (it is a devDependency: run pnpm install)")
  }
  fs.mkdirSync(distDir, { recursive: true })
  const tmp = `${bundlePath}.${process.pid}.tmp.cjs`
  const result = await esbuild.build({ ...bundleOptions, entryPoints: ["src/main.ts"], outfile: tmp, metafile: true })
  // A name a built-in does not export as data (an accessor left out above) would be undefined.
  const undefinedImports = result.warnings.filter((w) => w.id === "import-is-undefined")
  if (undefinedImports.length > 0) {
    fs.rmSync(tmp, { force: true })
    throw new Error(`the bundle would read undefined imports: ${undefinedImports.map((w) => `${w.location?.file}: ${w.text}`).join("; ")}`)
  }
  fs.renameSync(tmp, bundlePath)
  // The launcher's code caches are for the bundle they were taken from.
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
  fs.writeFileSync(stampTmp, JSON.stringify({ entry: "src/main.ts", inputs }, null, 1))
  fs.renameSync(stampTmp, stampPath)
}

/** Builds only when something changed; says why on stderr when it does. */
export const buildIfStale = async () => {
  const reason = staleReason()
  if (reason === undefined) return false
  process.stderr.write(`building dist/broker.cjs (${reason})\n`)
  await build()
  return true
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await (process.argv.includes("--if-stale") ? buildIfStale() : build())
}
