/**
 * Builds bench/lib/stack-listener.ts as scripts/build.mjs builds the broker (one CommonJS script
 * in the same wrapper, ASCII, whitespace and syntax minified) and a launcher that runs it as
 * scripts/start.cjs runs the broker, with a V8 code cache (scripts/run-bundle.cjs), minus the
 * broker's source staleness check. Returns node's arguments for it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { bundleWrapper, projectRoot } from "../../scripts/build.mjs"

export const buildStackFloor = async (dir: string): Promise<ReadonlyArray<string>> => {
  const esbuild = await import("esbuild")
  fs.mkdirSync(dir, { recursive: true })
  const bundle = path.join(dir, "stack-listener.cjs")
  await esbuild.build({
    absWorkingDir: projectRoot,
    entryPoints: [path.join(import.meta.dirname, "stack-listener.ts")],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    banner: { js: `${bundleWrapper.open}"use strict";` },
    footer: { js: bundleWrapper.close },
    charset: "ascii",
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    // @effect/platform-node's WebSocket support (the ws package): never loaded by a TCP socket
    // server, and left out of the broker's bundle as well.
    external: ["ws"],
    logLevel: "warning"
  })
  const launcher = path.join(dir, "start-stack-listener.cjs")
  const runBundle = path.join(projectRoot, "scripts", "run-bundle.cjs")
  fs.writeFileSync(launcher, `require(${JSON.stringify(runBundle)}).runBundle(${JSON.stringify(bundle)}, ${JSON.stringify(path.join(dir, "compile-cache"))})\n`)
  // As package.json's start script runs the broker's launcher.
  return ["--v8-pool-size=0", launcher]
}
