/**
 * `kill -9` while a metadata snapshot is being written: the half-written `.part` file is
 * discarded at the next start, the previous snapshot stays in force, and every acknowledged
 * change is still there.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { removeTempDirs, tempDir, withMetadataLog } from "./helpers.ts"

afterAll(removeTempDirs)

const child = path.join(import.meta.dirname, "snapshot-crash-child.ts")

describe("kill -9 during a metadata snapshot write", () => {
  it("loses nothing acknowledged and keeps the previous snapshot in force", async () => {
    const dir = tempDir()
    const proc = spawn(process.execPath, [child, dir, "4"], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    proc.stderr.on("data", (d) => (err += d))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.once("close", (code, signal) => resolve({ code, signal }))
    )
    const part = await new Promise<string>((resolve, reject) => {
      proc.stdout.on("data", (d) => {
        out += d
        const m = /^PART (.+)$/m.exec(out)
        if (m !== null) resolve(m[1]!)
      })
      void exited.then(({ code }) => reject(new Error(`child exited with ${code} before a snapshot:\n${out}\n${err}`)))
    })
    expect(fs.existsSync(part)).toBe(true)
    proc.kill("SIGKILL")
    expect(await exited).toEqual({ code: null, signal: "SIGKILL" })

    const acked = new Set([...out.matchAll(/^ACK (\S+)$/gm)].map((m) => m[1]!))
    const deleted = new Set([...out.matchAll(/^DELETED (\S+)$/gm)].map((m) => m[1]!))
    expect(acked.size).toBeGreaterThan(10)
    const pdir = path.join(dir, "__cluster_metadata-0")
    const frozenBefore = fs.readdirSync(pdir).filter((f) => f.endsWith(".checkpoint")).sort()
    expect(frozenBefore.length).toBeGreaterThanOrEqual(1)

    const image = await Effect.runPromise(withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) => m.image))
    const names = new Set(image.topicsByName.keys())
    for (const t of acked) expect(names.has(t), `${t} acknowledged`).toBe(!deleted.has(t))
    // At most the creation in flight when the process stopped (durable, not yet acknowledged).
    const extra = [...names].filter((n) => !acked.has(n))
    expect(extra.length).toBeLessThanOrEqual(1)
    expect(fs.existsSync(part)).toBe(false)
    const frozenAfter = fs.readdirSync(pdir).filter((f) => f.endsWith(".checkpoint")).sort()
    expect(frozenAfter).toEqual(frozenBefore)
  }, 60_000)
})
