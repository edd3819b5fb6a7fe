/**
 * Every start-up failure says why: one ERROR line naming the file or setting and the reason,
 * exit status 1. Plus the cases that must start: a meta.properties written by another Kafka
 * implementation (padded base64 directory.id, unknown keys) beside a `.kafka_cleanshutdown`.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Cause, Effect, Exit, Layer, References } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { BrokerLayer, startBroker } from "../../src/broker.ts"
import { Config } from "../../src/config/Config.ts"
import { describeFailure } from "../../src/startup-failure.ts"
import { startBrokerProcess, startCommand } from "../support/broker-process.ts"
import { buildBatch, data, parseBatches, writeKraftLogDir } from "../metadata/kraft-fixture.ts"

const projectRoot = path.resolve(import.meta.dirname, "..", "..")
const dirs: Array<string> = []
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-startup-"))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

/** Runs `pnpm start` with `args` until it exits (bounded by the test timeout). */
const runToExit = (args: ReadonlyArray<string>): Promise<{ code: number | null; output: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [...startCommand(), ...args], {
      cwd: projectRoot,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (d) => (output += d))
    child.stderr.on("data", (d) => (output += d))
    // A broker that starts instead of failing is stopped at once; the test then fails on its code.
    child.stdout.on("data", () => {
      if (/listening on/.test(output)) child.kill("SIGTERM")
    })
    child.once("close", (code) => resolve({ code, output }))
  })

const startArgs = (logDir: string, ...more: Array<string>) => [
  "--override", "listeners=PLAINTEXT://127.0.0.1:0",
  "--override", `log.dirs=${logDir}`,
  ...more
]

/** Exit 1 with exactly one ERROR line, which matches every pattern. */
const expectOneReason = (result: { code: number | null; output: string }, ...patterns: Array<RegExp>) => {
  expect(result.code, result.output).toBe(1)
  const errors = result.output.split("\n").filter((l) => l.includes("ERROR"))
  expect(errors, result.output).toHaveLength(1)
  for (const p of patterns) expect(errors[0]).toMatch(p)
}

/** Builds the whole broker in this process; returns the line main.ts would print for its failure. */
const startFailure = async (properties: Readonly<Record<string, string>>): Promise<string> => {
  const exit = await Effect.runPromise(
    Effect.scoped(Layer.build(BrokerLayer.pipe(Layer.provide(Config.layerFromValues({ listeners: "PLAINTEXT://127.0.0.1:0", ...properties }))))).pipe(
      Effect.exit,
      Effect.provideService(References.MinimumLogLevel, "None")
    )
  )
  if (Exit.isSuccess(exit)) throw new Error("the broker started")
  const failure = Cause.findErrorOption(exit.cause)
  if (failure._tag === "None") throw new Error(`not a typed failure: ${Cause.pretty(exit.cause)}`)
  return describeFailure(failure.value)
}

describe("start-up failures say why (the line printed)", () => {
  it("a meta.properties of an unsupported version", async () => {
    const dir = tmp()
    fs.writeFileSync(path.join(dir, "meta.properties"), "version=7\nnode.id=1\ncluster.id=x\n")
    const line = await startFailure({ "log.dirs": dir })
    expect(line).toMatch(new RegExp(`${dir}/meta\\.properties has version 7`))
  })

  it("an unreadable meta.properties", async () => {
    const dir = tmp()
    fs.mkdirSync(path.join(dir, "meta.properties"))
    expect(await startFailure({ "log.dirs": dir })).toMatch(/cannot read .*meta\.properties: EISDIR/)
  })

  it("a meta.properties with an invalid directory.id", async () => {
    const dir = tmp()
    fs.writeFileSync(path.join(dir, "meta.properties"), "version=1\nnode.id=1\ncluster.id=x\ndirectory.id=not!base64\n")
    expect(await startFailure({ "log.dirs": dir })).toMatch(/meta\.properties: directory\.id=not!base64 is not a valid uuid/)
  })

  it("a meta.properties of another node", async () => {
    const dir = tmp()
    writeKraftLogDir(dir, { nodeId: 7, topics: [] })
    expect(await startFailure({ "log.dirs": dir })).toMatch(/Stored node id 7 in .*meta\.properties doesn't match the configured node\.id 1/)
  })

  it("a corrupt metadata log (a CRC-valid batch whose record does not decode)", async () => {
    const dir = tmp()
    writeKraftLogDir(dir, { nodeId: 1, topics: [{ name: "t", partitions: 1 }], extraBatches: [{ records: data(Uint8Array.from([0, 2, 0, 0])) }] })
    expect(await startFailure({ "log.dirs": dir })).toMatch(/__cluster_metadata-0\/00000000000000000000\.log: .*frame version 0/)
  })

  it("a corrupt metadata snapshot", async () => {
    const dir = tmp()
    const fx = writeKraftLogDir(dir, { nodeId: 1, snapshotTopics: [{ name: "s", partitions: 1 }], topics: [] })
    const batches = parseBatches(fs.readFileSync(fx.snapshotFile!))
    fs.truncateSync(fx.snapshotFile!, batches.at(-1)!.position)
    expect(await startFailure({ "log.dirs": dir })).toMatch(/00000000000000000100-0000000001\.checkpoint: snapshot does not end with a SnapshotFooterRecord/)
  })

  it("a log dir that cannot be created", async () => {
    const parent = tmp()
    fs.writeFileSync(path.join(parent, "file"), "not a directory")
    const dir = path.join(parent, "file", "data")
    expect(await startFailure({ "log.dirs": dir })).toMatch(new RegExp(`cannot create log directory ${dir}: ENOTDIR`))
  })

  it("a bootstrap.checkpoint that is not a snapshot file", async () => {
    const dir = tmp()
    fs.writeFileSync(path.join(dir, "bootstrap.checkpoint"), buildBatch({ baseOffset: 0, leaderEpoch: 0, records: data(Uint8Array.from([1, 12, 0, 0])) }).subarray(0, 40))
    expect(await startFailure({ "log.dirs": dir })).toMatch(/bootstrap\.checkpoint: .*(too few|invalid size)/)
  })

  it("a log dir locked by a broker in this process, and a listener port in use", async () => {
    const dir = tmp()
    const first = await startBroker({ properties: { "log.dirs": dir } })
    try {
      expect(await startFailure({ "log.dirs": dir })).toMatch(new RegExp(`${dir}/\\.lock: the log directory ${dir} is in use by this process`))
      expect(await startFailure({ "log.dirs": tmp(), listeners: `PLAINTEXT://127.0.0.1:${first.port}` })).toMatch(
        new RegExp(`cannot listen on PLAINTEXT://127\\.0\\.0\\.1:${first.port} \\(listeners\\): .*EADDRINUSE`)
      )
    } finally {
      await first.stop()
    }
  })

  it("a bad configuration", async () => {
    expect(await startFailure({ "log.dirs": tmp(), "metadata.log.segment.bytes": "1000" })).toMatch(
      /invalid configuration: Cannot set metadata\.log\.segment\.bytes below metadata\.log\.segment\.min\.bytes/
    )
  })
})

describe("the broker process on a failure", () => {
  it("a second broker on a log dir in use exits 1 with one line naming the directory; the first one's exit releases it", async () => {
    const dir = tmp()
    const first = await startBrokerProcess({ logDir: dir })
    let second: { code: number | null; output: string }
    try {
      second = await runToExit(startArgs(dir))
    } finally {
      first.child.kill("SIGTERM")
      await first.exited
    }
    expectOneReason(second, new RegExp(`${dir}/\\.lock`), new RegExp(`log directory ${dir} is in use by another process \\(pid ${first.child.pid}\\)`))
    // Released on exit: the directory opens again, here in this process.
    const again = await startBroker({ properties: { "log.dirs": dir } })
    await again.stop()
  }, 90_000)
})

describe("a data directory written by another Kafka implementation", () => {
  it("opens with a padded base64 directory.id, unknown keys and a .kafka_cleanshutdown marker", async () => {
    const dir = tmp()
    const fx = writeKraftLogDir(dir, { nodeId: 1, directoryId: "EAAAAAAAQACAAAAAAAAAAQ", topics: [{ name: "t", partitions: 1 }] })
    const meta = `#\n#Tue Mar 05 10:00:00 UTC 2024\n\n# written elsewhere\ncluster.id=${fx.clusterId}\ndirectory.id=EAAAAAAAQACAAAAAAAAAAQ==\nnode.id=1\nversion=1\nvendor.extra=kept\n`
    fs.writeFileSync(path.join(dir, "meta.properties"), meta)
    fs.writeFileSync(path.join(dir, ".kafka_cleanshutdown"), `{"version":0,"brokerEpoch":7}`)
    const broker = await startBroker({ properties: { "log.dirs": dir } })
    await broker.stop()
    // Left as written: it was complete, so nothing needed rewriting.
    expect(fs.readFileSync(path.join(dir, "meta.properties"), "utf8")).toBe(meta)
    expect(fs.existsSync(path.join(dir, ".kafka_cleanshutdown"))).toBe(true)
  })
})
