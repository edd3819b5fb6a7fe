/**
 * Builds bench/lib/stack-listener.ts with the broker's bundle options (scripts/build.mjs) and a
 * launcher that runs it as scripts/start.cjs runs the broker, with a V8 code cache
 * (scripts/run-bundle.cjs), minus the broker's source staleness check. Returns node's arguments
 * for it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { bundleOptions, projectRoot } from "../../scripts/build.mjs"
import { startCommand } from "./broker-process.ts"

export const buildStackFloor = async (dir: string): Promise<ReadonlyArray<string>> => {
  const esbuild = await import("esbuild")
  fs.mkdirSync(dir, { recursive: true })
  const bundle = path.join(dir, "stack-listener.cjs")
  await esbuild.build({ ...bundleOptions, entryPoints: [path.join(import.meta.dirname, "stack-listener.ts")], outfile: bundle })
  const launcher = path.join(dir, "start-stack-listener.cjs")
  const runBundle = path.join(projectRoot, "scripts", "run-bundle.cjs")
  fs.writeFileSync(launcher, `require(${JSON.stringify(runBundle)}).runBundle(${JSON.stringify(bundle)}, ${JSON.stringify(path.join(dir, "compile-cache"))})\n`)
  // With the node options package.json's start script gives the broker's launcher (its last word).
  return [...startCommand().slice(0, -1), launcher]
}
