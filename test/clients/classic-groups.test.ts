/**
 * Issue 10 proofs for the classic group protocol with librdkafka (kcat 1.7 and python
 * confluent-kafka, librdkafka 2.0.2), on one shared broker:
 * - kcat -G: two balanced consumers read a topic to the end, offsets committed, a rerun reads nothing;
 * - cooperative-sticky: a second member joins through an incremental rebalance, the first keeps
 *   consuming the partitions it keeps (only the moved ones are revoked), every record read once;
 * - static membership (KIP-345): a member with group.instance.id restarts within its session and
 *   gets its partitions back without the other member rebalancing;
 * - a leader killed with its JoinGroup pending (librdkafka destroyed without leaving): the
 *   follower's SyncGroup is answered REBALANCE_IN_PROGRESS once the leader's session expires.
 * The scenarios themselves are in python/classic_groups.py.
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { Admin } from "@platformatic/kafka"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import { requireTool } from "../support/os-tools.ts"

const kcat = requireTool("kcat")
const python = requireTool("python3-confluent-kafka")
const script = path.join(import.meta.dirname, "python", "classic_groups.py")

const run = (cmd: string, args: ReadonlyArray<string>, input?: string): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (d) => (stdout += d))
    child.stderr!.on("data", (d) => (stderr += d))
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }))
    if (input !== undefined) child.stdin!.end(input)
  })

/** Runs a scenario of classic_groups.py and returns its JSON findings. */
const scenario = async (...args: Array<string>): Promise<Record<string, any>> => {
  const result = await run(python!, [script, ...args])
  expect(result.stderr.split("\n").filter((l) => /Traceback|Error:/.test(l))).toEqual([])
  expect(result.code).toBe(0)
  return JSON.parse(result.stdout.trim().split("\n").at(-1)!)
}

describe.runIf(kcat !== undefined || python !== undefined)("classic consumer groups with librdkafka", () => {
  let broker: EmbeddedBroker
  let admin: Admin
  beforeAll(async () => {
    broker = await startBroker({
      properties: {
        "group.initial.rebalance.delay.ms": "0",
        // The clients use 2 s sessions so that expiries happen within the test's time.
        "group.min.session.timeout.ms": "1000",
        "offsets.topic.num.partitions": "3",
        "num.partitions": "4"
      }
    })
    admin = new Admin({ clientId: "classic-groups", bootstrapBrokers: [broker.bootstrap] })
  })
  afterAll(async () => {
    await admin?.close()
    await broker?.stop()
  })

  it.runIf(kcat !== undefined)("kcat -G: two balanced consumers read everything once and commit; a rerun of the group reads nothing", async () => {
    const topic = "kcat-group"
    await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1 })
    const values = Array.from({ length: 3000 }, (_, i) => `r${i}`)
    expect((await run(kcat!, ["-P", "-b", broker.bootstrap, "-t", topic, "-X", "linger.ms=5"], values.join("\n") + "\n")).code).toBe(0)
    const member = () =>
      run(kcat!, ["-b", broker.bootstrap, "-G", "kcat-g", topic, "-e", "-q", "-f", "%p %o %s\\n", "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=2000"])
    const [a, b] = await Promise.all([member(), member()])
    expect([a.code, b.code]).toEqual([0, 0])
    const read = (a.stdout + b.stdout).trim().split("\n").map((l) => l.split(" ")[2]!)
    expect(read.length).toBe(values.length)
    expect(new Set(read)).toEqual(new Set(values))
    // Their offsets were committed (on revoke and on close): the group resumes at the end.
    const again = await member()
    expect(again.code).toBe(0)
    expect(again.stdout.trim()).toBe("")
    const [offsets] = await admin.listConsumerGroupOffsets({ groups: ["kcat-g"] })
    const committed = offsets!.topics.find((t) => t.name === topic)!.partitions.reduce((sum, p) => sum + Number(p.committedOffset), 0)
    expect(committed).toBe(values.length)
  }, 60_000)

  it.runIf(python !== undefined)("cooperative-sticky: a member joins through an incremental rebalance; the first keeps consuming what it keeps", async () => {
    await admin.createTopics({ topics: ["coop"], partitions: 4, replicas: 1 })
    const f = await scenario("cooperative", broker.bootstrap, "coop", "coop-g", "800")
    expect(f["completed"], JSON.stringify(f)).toBe(true)
    expect(f["aBefore"]).toEqual([0, 1, 2, 3])
    // a gave away exactly what b got, and nothing else: no revoke-everything (eager) step.
    const aRevoked = (f["aEvents"] as Array<[string, Array<number>]>).filter(([e]) => e === "revoke").flatMap(([, ps]) => ps)
    expect(aRevoked.sort()).toEqual(f["bAfter"])
    expect([...f["aAfter"], ...f["bAfter"]].sort()).toEqual([0, 1, 2, 3])
    expect(f["aAfter"].length).toBe(2)
    // librdkafka's incremental protocol: b's first assignment is empty (a must revoke first), later
    // ones add partitions (one more round under a loaded machine may split them); b never revokes.
    const bEvents = f["bEvents"] as Array<[string, Array<number>]>
    expect(bEvents[0]).toEqual(["assign", []])
    expect(bEvents.every(([e]) => e === "assign"), JSON.stringify(bEvents)).toBe(true)
    expect(bEvents.flatMap(([, ps]) => ps).sort()).toEqual(f["bAfter"])
    expect(f["bRecords"]).toBeGreaterThan(0)
    expect(f).toMatchObject({ consumed: 800, distinct: 800, missing: [] })
  }, 60_000)

  it.runIf(python !== undefined)("static membership: a restarted member (group.instance.id) gets its partitions back; the other member does not rebalance", async () => {
    await admin.createTopics({ topics: ["static"], partitions: 4, replicas: 1 })
    const f = await scenario("static", broker.bootstrap, "static", "static-g")
    expect(f["completed"], JSON.stringify(f)).toBe(true)
    expect(f["bBefore"].length).toBe(2)
    expect(f["b2"]).toEqual(f["bBefore"])
    expect(f["b2Events"]).toEqual([["assign", f["bBefore"]]])
    expect(f["aEventsDuringRestart"]).toEqual([])
    expect([...f["aOwned"], ...f["b2"]].sort()).toEqual([0, 1, 2, 3])
    const group = (await admin.describeGroups({ groups: ["static-g"] })).get("static-g")
    expect([...group!.members.values()].map((m) => m.groupInstanceId).sort()).toEqual(["static-a", "static-b"])
  }, 60_000)

  it.runIf(python !== undefined)("a leader killed with its JoinGroup pending: the follower's SyncGroup gets REBALANCE_IN_PROGRESS and it takes over", async () => {
    await admin.createTopics({ topics: ["dead-leader"], partitions: 4, replicas: 1 })
    const f = await scenario("dead-leader", broker.bootstrap, "dead-leader", "dead-leader-g")
    expect(f["killedWithJoinPending"]).toBe(true)
    expect(f["tookOver"]).toBe(true)
    expect(f["followerSyncAnswers"][0]).toMatch(/^Broker: Group rebalance in progress/)
    expect(f["followerSyncAnswers"].at(-1)).toMatch(/^Success/)
  }, 60_000)
})
