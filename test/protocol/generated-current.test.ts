/**
 * The committed generated code must be exactly what the generator makes from the specs:
 * a spec update or a generator change without `pnpm gen` fails here.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { missingPrerequisite } from "../support/os-tools.ts"
import { generate, generatedDir, projectRoot } from "../../scripts/generate-protocol.ts"
import { defaultSpecDir } from "../../scripts/protocol-spec.ts"

const specDir = defaultSpecDir(projectRoot)
const haveSpecs = fs.existsSync(path.join(specDir, "message"))
if (!haveSpecs) missingPrerequisite(`the protocol specs at ${specDir}`, "../shared/kafka-protocol")

const listFiles = (dir: string, prefix = ""): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]
  )

describe.skipIf(!haveSpecs)("generated protocol code", () => {
  it("is current with the specs and the generator", () => {
    const expected = generate(specDir)
    const onDisk = new Set(listFiles(generatedDir))
    const stale: Array<string> = []
    for (const [rel, text] of expected) {
      if (!onDisk.has(rel) || fs.readFileSync(path.join(generatedDir, rel), "utf8") !== text) stale.push(rel)
      onDisk.delete(rel)
    }
    expect(stale, "run `pnpm gen`: these generated files differ").toEqual([])
    expect([...onDisk], "files in src/protocol/generated the generator does not produce").toEqual([])
    expect(expected.size).toBeGreaterThan(240)
  })
})
