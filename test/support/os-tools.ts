/**
 * Prerequisites outside the project: operating-system tools some client proofs drive (kcat,
 * python's confluent-kafka, chromium) and the protocol specs in ../shared.
 * On a machine without one, the tests that need it are skipped with one line naming what is
 * missing; under CI (CI=true), where `.ci/run` installs them all, a missing tool is a failure.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
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
