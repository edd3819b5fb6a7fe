/**
 * Prerequisites outside the project: operating-system tools some client proofs drive (kcat,
 * python's confluent-kafka, chromium) and the protocol specs in ../shared.
 * On a machine without one, the tests that need it are skipped with one line naming what is
 * missing; under CI (CI=true), where `.ci/run` installs them all, a missing tool is a failure.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { it } from "vitest"

export type OsTool = "kcat" | "python3-confluent-kafka" | "chromium"

const found = new Map<OsTool, string | undefined>()

const onPath = (command: string): string | undefined => {
  const r = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" })
  const out = r.stdout.trim()
  return r.status === 0 && out !== "" ? out : undefined
}

const locate = (tool: OsTool): string | undefined => {
  switch (tool) {
    case "kcat":
      return onPath("kcat")
    case "chromium":
      return ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => fs.existsSync(p)) ?? onPath("chromium")
    case "python3-confluent-kafka":
      // Debian's python3-confluent-kafka belongs to /usr/bin/python3; a pyenv python3 on PATH lacks it.
      return ["/usr/bin/python3", "python3"].find((py) => spawnSync(py, ["-c", "import confluent_kafka"]).status === 0)
  }
}

/**
 * Announces a missing prerequisite: one line naming it, or under CI a failing test (CI
 * installs every prerequisite, so a skip there would hide a proof that did not run).
 */
export const missingPrerequisite = (what: string, hint: string): void => {
  if (process.env["CI"]) {
    it(`has ${what} (${hint})`, () => {
      throw new Error(`${what} is missing on CI`)
    })
  } else {
    console.warn(`skipped: ${what} is missing (${hint})`)
  }
}

/**
 * The tool's executable (for python, an interpreter that imports confluent_kafka), or
 * undefined after announcing the skip. Call at a test file's top level.
 */
export const requireTool = (tool: OsTool): string | undefined => {
  if (!found.has(tool)) found.set(tool, locate(tool))
  const where = found.get(tool)
  if (where === undefined) missingPrerequisite(tool, ".ci/run installs it from Debian's packages")
  return where
}

/** Where `pnpm build:librdkafka` (scripts/build-librdkafka.ts) puts librdkafka.so.1. */
const LIBRDKAFKA_LIB_DIR = path.resolve(import.meta.dirname, "..", "..", "node_modules", ".librdkafka", "lib")

export interface Kip320Kcat {
  readonly kcat: string
  /** The environment that makes kcat load the built librdkafka. */
  readonly env: NodeJS.ProcessEnv
  /** librdkafka's version as kcat reports it. */
  readonly librdkafka: string
}

let kip320Kcat: Kip320Kcat | undefined | null = null

/**
 * kcat running on a librdkafka with KIP-320 offset validation (>= 2.1.0, which sends
 * OffsetForLeaderEpoch after a leader epoch change): the machine's kcat with the librdkafka
 * that `pnpm build:librdkafka` builds (Debian's is 2.0.2). Undefined after announcing the skip.
 */
export const requireKip320Kcat = (): Kip320Kcat | undefined => {
  if (kip320Kcat === null) {
    kip320Kcat = undefined
    const kcat = locate("kcat")
    if (kcat !== undefined && fs.existsSync(path.join(LIBRDKAFKA_LIB_DIR, "librdkafka.so.1"))) {
      const env = { ...process.env, LD_LIBRARY_PATH: [LIBRDKAFKA_LIB_DIR, process.env["LD_LIBRARY_PATH"]].filter(Boolean).join(":") }
      const m = /librdkafka (\d+)\.(\d+)\.(\d+)/.exec(spawnSync(kcat, ["-V"], { env, encoding: "utf8" }).stdout ?? "")
      if (m !== null && (Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 1))) {
        kip320Kcat = { kcat, env, librdkafka: `${m[1]}.${m[2]}.${m[3]}` }
      }
    }
  }
  if (kip320Kcat === undefined) {
    missingPrerequisite("kcat on librdkafka >= 2.1", "kcat from Debian, and pnpm build:librdkafka builds the library from node-rdkafka's bundled source; .ci/run does both")
  }
  return kip320Kcat
}
