/**
 * `pnpm start` runs the broker from its prebuilt bundle (dist/broker.cjs, scripts/build.mjs),
 * which loads the built-in modules a start does not need (node:http…) on first use, and is
 * rebuilt whenever it no longer matches its sources; the launcher runs it with a code cache
 * it writes after a first start (scripts/run-bundle.cjs).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { afterAll, describe, expect, it } from "vitest"
import { bundleWrapper } from "../../scripts/build.mjs"
import { fingerprint, staleReason } from "../../scripts/bundle-stamp.cjs"
import { projectRoot } from "../../bench/lib/broker-process.ts"
import { startBrokerProcess, startCommand } from "../support/broker-process.ts"

const dirs: Array<string> = []
/** How many of a process's threads bear `comm` as their name (/proc lists them). */
const threadsNamed = (pid: number, comm: string): number =>
  fs.readdirSync(`/proc/${pid}/task`).filter((t) => fs.readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim() === comm).length
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

describe("the broker's start bundle", () => {
  it("is what pnpm start runs, and the build is current", () => {
    // No V8 flag: any flag changes V8's flag hash, and Node's code cache of its own modules is
    // then rejected (each is parsed and compiled from source when first loaded). The V8 pool's
    // size is Node's own option, which V8 never sees.
    expect(startCommand()).toEqual(["--v8-pool-size=0", "scripts/start.cjs"])
    expect(staleReason(`${projectRoot}/`)).toBeUndefined()
  })

  it("serves the HTTP listener through node:http loaded on first use", async () => {
    const broker = await startBrokerProcess()
    try {
      // Logged after the Kafka listener's line, which is what startBrokerProcess waits for.
      const httpUrl = await new Promise<string>((resolve, reject) => {
        const found = () => /http listener on (http:\/\/[0-9.:]+)/.exec(broker.output())?.[1]
        const check = () => {
          const url = found()
          if (url === undefined) return
          broker.child.stdout!.off("data", check)
          broker.child.stderr!.off("data", check)
          resolve(url)
        }
        broker.child.stdout!.on("data", check)
        broker.child.stderr!.on("data", check)
        check()
        void broker.exited.then(() => reject(new Error(`the broker exited before its HTTP listener:\n${broker.output()}`)))
      })
      const metrics = await (await fetch(`${httpUrl}/metrics`)).text()
      expect(metrics).toMatch(/^nodejs_eventloop_lag_max_seconds \S+$/m)
    } finally {
      broker.child.kill("SIGKILL")
      await broker.exited
    }
  })

  // libuv names its pool's threads; /proc lists them.
  it.skipIf(process.platform !== "linux")("starts libuv's thread pool with the broker's 16 threads, although the launcher starts the pool", async () => {
    const broker = await startBrokerProcess()
    try {
      expect(threadsNamed(broker.child.pid!, "libuv-worker")).toBe(16)
    } finally {
      broker.child.kill("SIGKILL")
      await broker.exited
    }
  })

  // V8's helper threads (its GC's parallel tasks among them) take the main thread's name, as
  // does Node's own signal watcher: a process started with one helper says how many others there are.
  it.skipIf(process.platform !== "linux")("gives V8 one helper thread per core besides the main thread, not Node's fixed four", async () => {
    // Its threads all exist once its code runs: they start before it.
    const reference = spawn(process.execPath, ["--v8-pool-size=1", "-e", "process.stdout.write('up'); setInterval(() => {}, 1000)"], { stdio: ["ignore", "pipe", "ignore"] })
    let withOneHelper: number
    try {
      await new Promise((resolve) => reference.stdout!.once("data", resolve))
      withOneHelper = threadsNamed(reference.pid!, "node")
    } finally {
      reference.kill("SIGKILL")
    }
    const broker = await startBrokerProcess()
    try {
      expect(threadsNamed(broker.child.pid!, "node") - (withOneHelper - 1)).toBe(Math.max(1, os.availableParallelism() - 1))
    } finally {
      broker.child.kill("SIGKILL")
      await broker.exited
    }
  })

  it("runs as a CommonJS module and from the launcher, which writes a code cache once a process listened, then uses it", () => {
    const dir = fs.mkdtempSync(`${os.tmpdir()}/kafka-bundle-`)
    dirs.push(dir)
    const bundleOf = (name: string, listen: boolean) => {
      const bundle = `${dir}/${name}.cjs`
      const body = "const seen = { self: this === exports, file: __filename, dir: __dirname, argv: process.argv.slice(2), run: typeof require(\"node:fs\").statSync }\n" +
        "module.exports = seen\nconsole.log(JSON.stringify(seen))\n" +
        (listen ? "const server = require(\"node:net\").createServer(); server.listen(0, \"127.0.0.1\", () => server.close())\n" : "")
      fs.writeFileSync(bundle, `${bundleWrapper.open}"use strict";${body}${bundleWrapper.close}`)
      const run = (prefetched: string) => `runBundle(${JSON.stringify(bundle)}, ${JSON.stringify(`${dir}/cache-${name}`)}, { prefetched: ${prefetched} })`
      const from = `import { prefetchBundle, runBundle } from ${JSON.stringify(`${projectRoot}/scripts/run-bundle.cjs`)}\n`
      fs.writeFileSync(`${dir}/launch-${name}.mjs`, `${from}process.stderr.write(${run("undefined")})`)
      // As scripts/start.cjs runs it: the bundle read on the thread pool first.
      fs.writeFileSync(`${dir}/launch-${name}-prefetched.mjs`,
        `${from}prefetchBundle(${JSON.stringify(bundle)}, (p) => process.stderr.write(\`\${p === undefined ? "not prefetched" : "prefetched"} \${${run("p")}}\`))`)
      return bundle
    }
    const outcome = (name: string, launcher = name) => {
      const r = spawnSync(process.execPath, [`${dir}/launch-${launcher}.mjs`, "--x"], { encoding: "utf8" })
      expect(JSON.parse(r.stdout)).toEqual({ self: true, file: `${dir}/${name}.cjs`, dir, argv: ["--x"], run: "function" })
      return r.stderr
    }
    // As Node runs it (`node dist/broker.cjs`).
    const quiet = bundleOf("quiet", false)
    expect(JSON.parse(execFileSync(process.execPath, [quiet, "--x"], { encoding: "utf8" }))).toEqual({ self: true, file: quiet, dir, argv: ["--x"], run: "function" })
    // As scripts/start.cjs runs it. A process that never listens (`--format`, a refused start) leaves no cache.
    expect(outcome("quiet")).toBe("absent")
    expect(fs.existsSync(`${dir}/cache-quiet`)).toBe(false)
    // One that listened and stopped at once writes it as it exits; the next run uses it.
    bundleOf("server", true)
    expect(outcome("server")).toBe("absent")
    expect(fs.readdirSync(`${dir}/cache-server`)).toHaveLength(1)
    expect(outcome("server")).toBe("accepted")
    expect(outcome("server", "server-prefetched")).toBe("prefetched accepted")
    expect(outcome("quiet", "quiet-prefetched")).toBe("prefetched absent")
  })

  it("has the launcher write the code cache once the process listens, while it runs", () => {
    const dir = fs.mkdtempSync(`${os.tmpdir()}/kafka-bundle-`)
    dirs.push(dir)
    const bundle = `${dir}/bundle.cjs`
    // Listens, then waits (a bounded loop of event-loop turns) for the cache to appear, and says
    // whether it did before the process began to exit.
    const body = `const fs = require("node:fs"); const server = require("node:net").createServer()
server.listen(0, "127.0.0.1", () => {
  const until = Date.now() + 10000
  const poll = () => {
    const seen = fs.existsSync(${JSON.stringify(`${dir}/cache`)}) && fs.readdirSync(${JSON.stringify(`${dir}/cache`)}).some((f) => f.endsWith(".v8"))
    if (seen || Date.now() > until) { console.log(seen ? "cached while running" : "not cached"); server.close() } else setImmediate(poll)
  }
  poll()
})`
    fs.writeFileSync(bundle, `${bundleWrapper.open}"use strict";${body}${bundleWrapper.close}`)
    fs.writeFileSync(`${dir}/launch.mjs`, `import { runBundle } from ${JSON.stringify(`${projectRoot}/scripts/run-bundle.cjs`)}\n` +
      `process.stderr.write(runBundle(${JSON.stringify(bundle)}, ${JSON.stringify(`${dir}/cache`)}))`)
    const r = spawnSync(process.execPath, [`${dir}/launch.mjs`], { encoding: "utf8" })
    expect(r.stderr).toBe("absent")
    expect(r.stdout.trim()).toBe("cached while running")
  })

  it("imports effect's modules directly, so that esbuild tree-shakes them", () => {
    // Through effect's barrel each module would be an object of all its exports (esbuild's
    // `__export(Schema_exports, {...})`), keeping and evaluating every one of them at start.
    const bundle = fs.readFileSync(`${projectRoot}/dist/broker.cjs`, "latin1")
    expect(bundle).not.toMatch(/__export\((Effect|Schema|Layer|Stream|Context)_exports\b/)
  })

  it("finds a build stale when an input or the bundle changed", () => {
    const root = `${fs.mkdtempSync(`${os.tmpdir()}/kafka-bundle-`)}/`
    dirs.push(root)
    fs.mkdirSync(`${root}dist`)
    fs.mkdirSync(`${root}src`)
    fs.writeFileSync(`${root}src/a.ts`, "export const a = 1\n")
    fs.writeFileSync(`${root}dist/broker.cjs`, "")
    fs.writeFileSync(`${root}dist/build-stamp.json`, JSON.stringify({ inputs: { "src/a.ts": fingerprint(root, "src/a.ts") } }))
    expect(staleReason(root)).toBeUndefined()
    fs.appendFileSync(`${root}src/a.ts`, "export const b = 2\n")
    expect(staleReason(root)).toBe("src/a.ts changed")
    fs.rmSync(`${root}dist/broker.cjs`)
    expect(staleReason(root)).toBe("dist/broker.cjs is missing")
  })
})
