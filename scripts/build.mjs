/**
 * Builds the broker `pnpm start` runs: src/main.ts bundled with its dependencies into one
 * JavaScript module, dist/broker.mjs (esbuild). Starting from it skips Node's type-stripping of
 * ~500 modules and their resolution, which is most of a start from source.
 *
 * `pnpm install` runs this (package.json `prepare`); scripts/start.mjs and the test suite's
 * global setup run it again whenever a source file differs from what the bundle was built from
 * (dist/build-stamp.json records each input's size and mtime), so a stale bundle never runs.
 *
 * Plain JavaScript so that the launcher can check and rebuild without type-stripping anything.
 */
import * as fs from "node:fs"
import * as module from "node:module"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { fingerprint as stampOf, staleReason as staleReasonAt } from "./bundle-stamp.mjs"

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const distDir = path.join(projectRoot, "dist")
export const bundlePath = path.join(distDir, "broker.mjs")
/** V8's compiled code for the bundle (module.enableCompileCache), kept from one start to the next. */
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
 * Node's built-in modules imported from an ES module go through the ESM loader, which builds a
 * facade by reading every export of the module: for node:http that reads its lazy WebSocket
 * getters, which load and compile undici (~60 ms, a third of a start). Fetched with
 * process.getBuiltinModule instead, a built-in is a plain object: nothing is read until used.
 */
const builtinsWithoutEsmFacade = {
  name: "builtins-without-esm-facade",
  setup(b) {
    const builtins = new Set(module.builtinModules)
    b.onResolve({ filter: /^[a-z_/0-9:]+$/ }, (args) => {
      const name = args.path.startsWith("node:") ? args.path.slice(5) : args.path
      if (!builtins.has(name)) return undefined
      return { path: name, namespace: "builtin" }
    })
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
      loader: "js",
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(`node:${args.path}`)})`
    }))
  }
}

/**
 * The native CRC-32C addon is CommonJS: imported as an ES module, Node runs cjs-module-lexer over
 * its 29 KB loader to find its exports (~20 ms at start-up); required, it is just loaded.
 */
const nativeAddonsRequired = {
  name: "native-addons-required",
  setup(b) {
    b.onResolve({ filter: /^@node-rs\/crc32$/ }, (args) =>
      args.namespace === "native-addon" ? { path: args.path, external: true } : { path: args.path, namespace: "native-addon" })
    b.onLoad({ filter: /.*/, namespace: "native-addon" }, (args) => ({
      loader: "js",
      contents: `module.exports = require(${JSON.stringify(args.path)})`
    }))
  }
}

/** Bundles src/main.ts into dist/broker.mjs (written atomically) and records its inputs. */
export const build = async () => {
  let esbuild
  try {
    esbuild = await import("esbuild")
  } catch {
    throw new Error("esbuild is not installed (it is a devDependency: run pnpm install)")
  }
  fs.mkdirSync(distDir, { recursive: true })
  const tmp = `${bundlePath}.${process.pid}.tmp`
  const result = await esbuild.build({
    absWorkingDir: projectRoot,
    entryPoints: ["src/main.ts"],
    outfile: tmp,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    // A native addon: loaded from node_modules as it is.
    external: ["@node-rs/crc32"],
    // Bundled CommonJS dependencies (snappyjs, lz4js) and the native addon are required.
    banner: { js: "const require = process.getBuiltinModule(\"node:module\").createRequire(import.meta.url);" },
    // Identifiers stay (error and class names appear in logs); whitespace and syntax shrink, which
    // makes the module faster to read and compile.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    plugins: [withoutWebSockets, builtinsWithoutEsmFacade, nativeAddonsRequired],
    metafile: true,
    logLevel: "warning"
  })
  fs.renameSync(tmp, bundlePath)
  // Entries are keyed by the source's hash; the old bundle's are of no further use.
  fs.rmSync(compileCacheDir, { recursive: true, force: true })
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
  process.stderr.write(`building dist/broker.mjs (${reason})\n`)
  await build()
  return true
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await (process.argv.includes("--if-stale") ? buildIfStale() : build())
}
