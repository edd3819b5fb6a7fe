/**
 * The entry of dist/broker.cjs (scripts/build.mjs bundles it with src/run-main.ts).
 *
 * Run directly (`node dist/broker.cjs [args]`, or required by scripts/start.mjs) it runs the
 * broker. Run by the snapshot builder (`node --build-snapshot`), it only evaluates the modules
 * and registers the run as the snapshot's main function: a process started with
 * `node --snapshot-blob dist/broker.blob scripts/start.mjs [args]` (`pnpm start`) begins there,
 * with every module already evaluated. Node does not run scripts/start.mjs then; it is in the
 * command line so that what follows it are the script's arguments, not Node's options.
 *
 * Whatever the modules capture while they are evaluated belongs to the build, not to the run:
 * nothing may read process.env, argv, cwd, the clock or randomness at module load, nor open a
 * handle or load a native addon (scripts/build.mjs defers node:http, node:module, the CRC-32C
 * addon… to their first use).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as v8 from "node:v8"
import { runMain, warmUp } from "../src/run-main.ts"
import { staleReason } from "./bundle-stamp.mjs"

/** The project the snapshot was built in (dist/broker.cjs is in its dist/). */
const builtRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")

const realpath = (p) => {
  try {
    return fs.realpathSync(p)
  } catch {
    return p
  }
}

/** The blob this process started from, as given on its command line. */
const blobArgument = () => {
  const args = process.execArgv
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--snapshot-blob") return args[i + 1]
    if (args[i].startsWith("--snapshot-blob=")) return args[i].slice("--snapshot-blob=".length)
  }
  return undefined
}

/**
 * The snapshot's main function. The blob holds the code of one build: when a source changed since
 * (or the project moved), the process replaces itself (same pid, same arguments) with
 * scripts/start.mjs run without the snapshot, which rebuilds the bundle and the blob and runs the
 * fresh bundle.
 */
const startFromSnapshot = () => {
  const blob = blobArgument()
  const root = blob === undefined ? builtRoot : realpath(path.resolve(blob, "..", ".."))
  const reason = root !== builtRoot ? `the project moved from ${builtRoot}` : staleReason(`${root}/`)
  // `node --snapshot-blob dist/broker.blob scripts/start.mjs a b`: argv is [node, scripts/start.mjs, a, b].
  const args = process.argv[1]?.endsWith("start.mjs") ? process.argv.slice(2) : process.argv.slice(1)
  if (reason === undefined) return runMain(args)
  process.stderr.write(`dist/broker.blob is out of date (${reason}): starting through scripts/start.mjs\n`)
  const nodeOptions = []
  for (let i = 0; i < process.execArgv.length; i++) {
    const a = process.execArgv[i]
    if (a === "--snapshot-blob") i++
    else if (!a.startsWith("--snapshot-blob=")) nodeOptions.push(a)
  }
  const argv = [process.execPath, ...nodeOptions, path.join(root, "scripts", "start.mjs"), ...args]
  if (typeof process.execve === "function") return process.execve(process.execPath, argv, process.env)
  process.stderr.write("this Node.js cannot replace its process (no process.execve): run `pnpm build`, then start again\n")
  process.exitCode = 1
}

if (v8.startupSnapshot.isBuildingSnapshot()) {
  warmUp()
  v8.startupSnapshot.setDeserializeMainFunction(startFromSnapshot)
} else {
  runMain(process.argv.slice(2))
}
