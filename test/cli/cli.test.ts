/**
 * The `kafka` command line end to end against a real broker process: create a topic, produce
 * 1 000 lines, consume them in a group, describe the group (lag 0), reset its offsets to the
 * earliest (dry run, then --execute), consume again, alter a config, delete records and the
 * topic; tables for people, `--format json` parsed here, Kafka's error names and the exit
 * codes scripts rely on.
 */
import { spawn, spawnSync } from "node:child_process"
import * as path from "node:path"
import { Readable } from "node:stream"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseArgs } from "../../src/cli/args.ts"
import { run } from "../../src/cli/main.ts"
import { table } from "../../src/cli/output.ts"
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.ts"
import { requireTool } from "../support/os-tools.ts"

const kcat = requireTool("kcat")

const CLI = path.resolve(import.meta.dirname, "..", "..", "src", "cli", "main.ts")

let broker: BrokerProcess
let bootstrap: string

beforeAll(async () => {
  broker = await startBrokerProcess()
  bootstrap = `127.0.0.1:${broker.port}`
})

afterAll(async () => {
  broker.child.kill("SIGTERM")
  await broker.exited
})

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `kafka ARGS` with `--bootstrap-server` appended (it may go anywhere on the line), in
 * this process through the same entry point the `kafka` program calls; `spawned` runs the
 * program itself.
 */
const kafka = async (args: ReadonlyArray<string>, input?: string): Promise<Run> => {
  let stdout = ""
  let stderr = ""
  const code = await run([...args, "--bootstrap-server", bootstrap], {
    stdin: Readable.from([input ?? ""]),
    out: (t) => void (stdout += t),
    err: (t) => void (stderr += t)
  })
  return { code, stdout, stderr }
}

const spawned = (args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const json = async (args: ReadonlyArray<string>, input?: string) => {
  const run = await kafka([...args, "--format", "json"], input)
  expect(run.code, run.stderr).toBe(0)
  return JSON.parse(run.stdout)
}

describe("kafka command line", () => {
  it("create, produce 1 000, consume, group lag, reset offsets, consume again, alter config, delete", async () => {
    const created = await kafka(["topic", "create", "cli-orders", "--partitions", "3", "--config", "retention.ms=3600000"])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toMatch(/^NAME\s+PARTITIONS\s+REPLICATION_FACTOR\ncli-orders\s+3\s+1\n$/)
    expect((await json(["topic", "list"])).map((t: { name: string }) => t.name)).toContain("cli-orders")

    const lines = Array.from({ length: 1000 }, (_, i) => `key${i % 7}:value-${i}`).join("\n") + "\n"
    const produced = await kafka(["produce", "cli-orders", "--key-separator", ":", "--header", "source=cli"], lines)
    expect(produced.code, produced.stderr).toBe(0)
    expect(produced.stderr).toContain("produced 1000 record(s)")

    const consumed = await kafka(["consume", "cli-orders", "--group", "cli-readers", "--offset", "beginning", "--num", "1000", "--print", "json"])
    expect(consumed.code, consumed.stderr).toBe(0)
    const records = consumed.stdout.trim().split("\n").map((l) => JSON.parse(l))
    expect(records).toHaveLength(1000)
    expect(new Set(records.map((r: { value: string }) => r.value)).size).toBe(1000)
    // Keys decide partitions as Kafka's default partitioner does: one key, one partition.
    const partitionOfKey = new Map<string, number>()
    for (const r of records) {
      expect(partitionOfKey.get(r.key) ?? r.partition).toBe(r.partition)
      partitionOfKey.set(r.key, r.partition)
      expect(r.headers).toEqual({ source: "cli" })
    }

    const group = await json(["group", "describe", "cli-readers"])
    expect(group.offsets).toHaveLength(3)
    expect(group.offsets.reduce((sum: number, o: { lag: number }) => sum + o.lag, 0)).toBe(0)
    expect(group.offsets.reduce((sum: number, o: { current_offset: number }) => sum + o.current_offset, 0)).toBe(1000)
    const described = await kafka(["group", "describe", "cli-readers"])
    expect(described.stdout).toMatch(/TOPIC\s+PARTITION\s+CURRENT_OFFSET\s+LOG_END_OFFSET\s+LAG/)

    // Dry run by default, as Kafka's tool: nothing committed.
    const dry = await kafka(["group", "reset-offsets", "cli-readers", "--topic", "cli-orders", "--to-earliest"])
    expect(dry.code).toBe(0)
    expect(dry.stderr).toContain("dry run")
    expect((await json(["group", "describe", "cli-readers"])).offsets.every((o: { lag: number }) => o.lag === 0)).toBe(true)
    const reset = await json(["group", "reset-offsets", "cli-readers", "--topic", "cli-orders", "--to-earliest", "--execute"])
    expect(reset.map((r: { new_offset: number }) => r.new_offset)).toEqual([0, 0, 0])
    const lagging = await json(["group", "describe", "cli-readers"])
    expect(lagging.offsets.reduce((sum: number, o: { lag: number }) => sum + o.lag, 0)).toBe(1000)

    // The group's committed offsets are where the next consume starts.
    const again = await kafka(["consume", "cli-orders", "--group", "cli-readers", "--num", "1000", "--print", "%p %o %s\\n"])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout.trim().split("\n")).toHaveLength(1000)

    const altered = await kafka(["topic", "alter-config", "cli-orders", "--set", "retention.ms=7200000", "--set", "max.message.bytes=65536"])
    expect(altered.code, altered.stderr).toBe(0)
    const configs = await json(["config", "describe", "--topic", "cli-orders"])
    expect(configs).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: "retention.ms", value: "7200000", source: "DYNAMIC_TOPIC_CONFIG" }),
      expect.objectContaining({ name: "max.message.bytes", value: "65536", source: "DYNAMIC_TOPIC_CONFIG" })
    ]))

    const trimmed = await json(["records", "delete", "--topic", "cli-orders", "--offset", "-1"])
    expect(trimmed.map((p: { low_watermark: number }) => p.low_watermark).reduce((a: number, b: number) => a + b, 0)).toBe(1000)

    const deleted = await kafka(["topic", "delete", "cli-orders"])
    expect(deleted.code, deleted.stderr).toBe(0)
    expect((await json(["topic", "list"])).map((t: { name: string }) => t.name)).not.toContain("cli-orders")
  }, 60_000)

  it("reports Kafka errors by name with exit code 1, usage mistakes with 2, an unreachable broker with 3", async () => {
    const missing = await kafka(["topic", "describe", "no-such-topic"])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("UNKNOWN_TOPIC_OR_PARTITION")
    const invalid = await kafka(["topic", "create", "bad-config", "--config", "retention.ms=soon"])
    expect(invalid.code).toBe(1)
    expect(invalid.stderr).toContain("INVALID_CONFIG (Invalid value soon for configuration retention.ms")
    const readOnly = await kafka(["config", "set", "--broker", "1", "node.id=5"])
    expect(readOnly.code).toBe(1)
    expect(readOnly.stderr).toContain("INVALID_REQUEST (Cannot update these configs dynamically: Set(node.id))")
    const usage = await kafka(["topic", "frobnicate"])
    expect(usage.code).toBe(2)
    const noValue = await kafka(["records", "delete", "--topic", "x"])
    expect(noValue.code).toBe(2)
    const unreachable = await spawned(["--bootstrap-server", "127.0.0.1:1", "topic", "list"])
    expect(unreachable.code).toBe(3)
    expect(unreachable.stderr).toContain("cannot connect to 127.0.0.1:1")
  }, 60_000)

  it.skipIf(kcat === undefined)("produces with every codec Kafka has, readable by librdkafka (kcat) and by its own consume", async () => {
    for (const codec of ["gzip", "snappy", "lz4", "zstd"]) {
      const topic = `cli-${codec}`
      expect((await kafka(["topic", "create", topic])).code).toBe(0)
      const lines = Array.from({ length: 50 }, (_, i) => `${codec}-${i}`)
      const produced = await kafka(["produce", topic, "--compression", codec], lines.join("\n") + "\n")
      expect(produced.code, produced.stderr).toBe(0)
      const consumed = await kafka(["consume", topic, "--offset", "beginning", "--num", "50", "--print", "%s\\n"])
      expect(consumed.stdout.trim().split("\n"), codec).toEqual(lines)
      const read = spawnSync(kcat!, ["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\\n"], { encoding: "utf8", timeout: 30_000 })
      expect(read.stdout.trim().split("\n"), `${codec}: ${read.stderr}`).toEqual(lines)
    }
    const unknown = await kafka(["produce", "cli-gzip", "--compression", "brotli"], "x\n")
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("--compression must be one of none, gzip, snappy, lz4, zstd")
  }, 60_000)

  it("cluster info and broker configs as tables", async () => {
    // The program itself, as `pnpm kafka` / the package's bin runs it.
    const info = await spawned(["cluster", "info", "--bootstrap-server", bootstrap])
    expect(info.code, info.stderr).toBe(0)
    expect(info.stdout).toMatch(new RegExp(`1\\s+127\\.0\\.0\\.1\\s+${broker.port}\\s+-\\s+true`))
    const cluster = await json(["cluster", "info"])
    expect(cluster.brokers).toEqual([{ id: 1, host: "127.0.0.1", port: broker.port, rack: null, controller: true }])
    const set = await kafka(["config", "set", "--broker", "", "log.retention.bytes=123456"])
    expect(set.code, set.stderr).toBe(0)
    expect(await json(["config", "describe", "--broker", ""])).toEqual([expect.objectContaining({ name: "log.retention.bytes", value: "123456", source: "DYNAMIC_DEFAULT_BROKER_CONFIG" })])
    const unset = await kafka(["config", "delete", "--broker", "", "log.retention.bytes"])
    expect(unset.code, unset.stderr).toBe(0)
    expect(await json(["config", "describe", "--broker", ""])).toEqual([])
  })
})

describe("command-line parsing and tables", () => {
  it("takes options anywhere, in both spellings, repeated", () => {
    const args = parseArgs(["topic", "--format=json", "create", "t", "--config", "a=1", "--config=b=2", "--if-not-exists"])
    expect(args.positionals).toEqual(["topic", "create", "t"])
    expect(args.options.get("config")).toEqual(["a=1", "b=2"])
    expect(args.options.get("format")).toEqual(["json"])
    expect(args.flags.has("if-not-exists")).toBe(true)
  })

  it("aligns columns", () => {
    expect(table(["name", "n"], [{ name: "a", n: 10 }, { name: "longer", n: null }])).toBe("NAME    N\na       10\nlonger  -\n")
  })
})
