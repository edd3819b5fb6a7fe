/**
 * `pnpm start` runs the broker from its V8 start-up snapshot (dist/broker.blob, built by
 * scripts/build.mjs from dist/broker.cjs): the modules were evaluated when the blob was built,
 * so nothing they captured then may leak into a run — the clock, randomness — and a blob older
 * than its sources must never run.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import { afterAll, describe, expect, it } from "vitest"
import { fingerprint, runtimeId, staleReason } from "../../scripts/bundle-stamp.mjs"
import { projectRoot } from "../../bench/lib/broker-process.ts"
import { startBrokerProcess, startCommand } from "../support/broker-process.ts"

const dirs: Array<string> = []
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-snapshot-"))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

describe("the broker started from its start-up snapshot", () => {
  it("is what pnpm start runs, and the build is current", () => {
    const command = startCommand()
    expect(command.slice(0, 2)).toEqual(["--snapshot-blob", "dist/broker.blob"])
    expect(staleReason(`${projectRoot}/`)).toBeUndefined()
  })

  it("takes the time and random ids from the run, not from the build", async () => {
    const spawnedAt = Date.now()
    const [a, b] = await Promise.all([startBrokerProcess(), startBrokerProcess()])
    try {
      // Fresh data directories are formatted with a random cluster id: one per run.
      const clusterId = (out: string) => /cluster\.id ([A-Za-z0-9_-]{22})/.exec(out)?.[1]
      expect(clusterId(a.output())).toBeDefined()
      expect(clusterId(a.output())).not.toBe(clusterId(b.output()))

      // LogAppendTime comes from the broker's clock (effect's Clock): today's, not the build's.
      const kafka = new Kafka({ clientId: "snapshot-test", brokers: [`127.0.0.1:${a.port}`], logLevel: logLevel.NOTHING })
      const admin = kafka.admin()
      await admin.connect()
      await admin.createTopics({ topics: [{ topic: "stamped", numPartitions: 1, configEntries: [{ name: "message.timestamp.type", value: "LogAppendTime" }] }], waitForLeaders: true })
      await admin.disconnect()
      const producer = kafka.producer()
      await producer.connect()
      const [meta] = await producer.send({ topic: "stamped", acks: -1, messages: [{ value: "now" }] })
      await producer.disconnect()
      const appendedAt = Number(meta!.logAppendTime)
      expect(appendedAt).toBeGreaterThanOrEqual(spawnedAt)
      expect(appendedAt).toBeLessThanOrEqual(Date.now())

      // node:perf_hooks is evaluated into the snapshot (scripts/build.mjs); the event-loop-delay
      // histogram made at start-up records this run's samples.
      const httpUrl = /http listener on (http:\/\/[0-9.:]+)/.exec(a.output())?.[1]
      expect(httpUrl, a.output()).toBeDefined()
      const metrics = await (await fetch(`${httpUrl}/metrics`)).text()
      const lag = Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(metrics)?.[1])
      expect(lag).toBeGreaterThan(0)
    } finally {
      a.child.kill("SIGKILL")
      b.child.kill("SIGKILL")
      await Promise.all([a.exited, b.exited])
    }
  })

  it("never runs a blob that is not current: the process becomes scripts/start.mjs (same pid, same arguments), which rebuilds", async () => {
    // A copy of the built project elsewhere: the blob holds the code of the project it was built
    // in, so from here it is out of date. scripts/start.mjs is a stand-in that reports how it ran.
    const root = tmp()
    fs.mkdirSync(path.join(root, "dist"))
    fs.mkdirSync(path.join(root, "scripts"))
    for (const f of ["broker.blob", "broker.cjs", "build-stamp.json"]) fs.copyFileSync(path.join(projectRoot, "dist", f), path.join(root, "dist", f))
    fs.writeFileSync(path.join(root, "scripts", "start.mjs"), "console.log(JSON.stringify({ ranFresh: true, pid: process.pid, args: process.argv.slice(2) }))\n")
    const child = spawn(process.execPath, ["--snapshot-blob", "dist/broker.blob", "scripts/start.mjs", "--override", "node.id=7"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve))
    expect(code, out).toBe(0)
    expect(out).toMatch(/dist\/broker\.blob is out of date \(the project moved from .*\): starting through scripts\/start\.mjs/)
    const report = JSON.parse(out.split("\n").find((l) => l.startsWith("{"))!) as { pid: number; args: Array<string> }
    expect(report).toEqual({ ranFresh: true, pid: child.pid, args: ["--override", "node.id=7"] })
    expect(out).not.toMatch(/listening on/)
  })

  it("finds a build stale when an input, the bundle, the blob or the Node.js that built it changed", () => {
    const root = `${tmp()}/`
    fs.mkdirSync(`${root}dist`)
    fs.mkdirSync(`${root}src`)
    fs.writeFileSync(`${root}src/a.ts`, "export const a = 1\n")
    fs.writeFileSync(`${root}dist/broker.cjs`, "")
    fs.writeFileSync(`${root}dist/broker.blob`, "")
    const stamp = (runtime: string) =>
      fs.writeFileSync(`${root}dist/build-stamp.json`, JSON.stringify({ runtime, inputs: { "src/a.ts": fingerprint(root, "src/a.ts") } }))
    stamp(runtimeId())
    expect(staleReason(root)).toBeUndefined()
    fs.appendFileSync(`${root}src/a.ts`, "export const b = 2\n")
    expect(staleReason(root)).toBe("src/a.ts changed")
    stamp("v0.0.0 elsewhere")
    expect(staleReason(root)).toMatch(/^dist\/broker\.blob was built by Node\.js v0\.0\.0 elsewhere, this is v/)
    stamp(runtimeId())
    fs.rmSync(`${root}dist/broker.blob`)
    expect(staleReason(root)).toBe("dist/broker.blob is missing")
    fs.rmSync(`${root}dist/broker.cjs`)
    expect(staleReason(root)).toBe("dist/broker.cjs is missing")
  })
})
