/**
 * Builds bench/lib/stack-listener.ts with the broker's bundle options (scripts/build.mjs) and a
 * launcher that runs it as scripts/start.cjs runs the broker, with a V8 code cache
 * (scripts/run-bundle.cjs), minus the broker's source staleness check. Returns node's arguments
 * for it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { bundleOptions, projectRoot } from "../../scripts/build.mjs"

export const buildStackFloor = async (dir: string): Promise<ReadonlyArray<string>> => {
  const esbuild = await import("esbuild")
  fs.mkdirSync(dir, { recursive: true })
  const bundle = path.join(dir, "stack-listener.cjs")
  await esbuild.build({ ...bundleOptions, entryPoints: [path.join(import.meta.dirname, "stack-listener.ts")], outfile: bundle })
  const launcher = path.join(dir, "start-stack-listener.cjs")
  const runBundle = path.join(projectRoot, "scripts", "run-bundle.cjs")
  fs.writeFileSync(launcher, `require(${JSON.stringify(runBundle)}).runBundle(${JSON.stringify(bundle)}, ${JSON.stringify(path.join(dir, "compile-cache"))})\n`)
  // As package.json's start script runs the broker's launcher.
  return ["--v8-pool-size=0", launcher]
}
