/**
 * Disk faults under an in-process broker with two log dirs (log.dirs=a,b; the metadata log
 * lives in a): the file system is a FaultyFileIo that fails writes and fsyncs (ENOSPC,
 * EIO), tears a write at a seeded random byte, or drops everything not fsynced (power loss).
 *
 * Kafka's behaviour: the failing dir goes offline (KAFKA_STORAGE_ERROR for its partitions on
 * Produce, Fetch, ListOffsets; leader -1 / LEADER_NOT_AVAILABLE with the replica offline in
 * Metadata; the dir with KAFKA_STORAGE_ERROR in DescribeLogDirs), the other dir keeps
 * serving, nothing acknowledged is lost, and a restart on a healthy disk recovers. A failure
 * of the metadata log dir, or of the metadata log itself, is fatal.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import { afterAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import { CLEAN_SHUTDOWN_FILE } from "../../src/log/checkpoint.ts"
import { buildRecordBatch } from "../../src/log/record-batch.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { CreateTopics, DescribeLogDirs, DescribeTopicPartitions, Fetch, ListOffsets, Metadata, Produce } from "../../src/protocol/generated/apis.ts"
import { fetchRequest, listOffsetsRequest, recordsOf } from "../handlers/data-plane/helpers.ts"
import { FaultyFileIo, seededRandom } from "../support/faulty-file-io.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

const roots: Array<string> = []
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true })
})

// Durability is modelled by FaultyFileIo, not the real disk: a memory file system (where
// fsync costs nothing) keeps these tests cheap.
const scratch = fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir()

const newRoot = (): string => {
  const root = fs.mkdtempSync(path.join(scratch, "disk-faults-"))
  roots.push(root)
  fs.mkdirSync(path.join(root, "a"))
  fs.mkdirSync(path.join(root, "b"))
  return root
}

/** A broker over `faulty` with log.dirs=a,b, and a wire client to it. */
class Harness {
  private id = 0
  readonly broker: EmbeddedBroker
  readonly client: WireClient
  readonly root: string
  /** Reasons given to the fatal fault handler (Kafka would have halted). */
  readonly fatals: Array<string>

  private constructor(broker: EmbeddedBroker, client: WireClient, root: string, fatals: Array<string>) {
    this.broker = broker
    this.client = client
    this.root = root
    this.fatals = fatals
  }

  static async start(root: string, faulty: FaultyFileIo, properties: Record<string, string> = {}): Promise<Harness> {
    const fatals: Array<string> = []
    const broker = await startBroker({
      properties: { "log.dirs": `${path.join(root, "a")},${path.join(root, "b")}`, "num.partitions": "1", ...properties },
      fileIo: faulty.io,
      fatalFault: { halt: (reason) => fatals.push(reason) },
      logLevel: "None"
    })
    return new Harness(broker, await WireClient.connect(broker.port), root, fatals)
  }

  async call<T>(api: Parameters<typeof encodeRequest>[0], version: number, body: T) {
    this.client.write(encodeRequest(api, version, ++this.id, body))
    return decodeResponse(api, version, await this.client.read()).body
  }

  async createTopic(name: string, configs: ReadonlyArray<{ name: string; value: string }> = []): Promise<void> {
    const body = await this.call(CreateTopics, 7, {
      topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs }],
      timeoutMs: 30_000,
      validateOnly: false
    })
    expect(body.topics[0].errorCode, `create ${name}`).toBe(0)
  }

  async produce(topic: string, values: ReadonlyArray<string>, key: string | null = null): Promise<{ errorCode: number; baseOffset: number }> {
    const batch = buildRecordBatch({ records: values.map((value) => ({ key, value })), timestamp: Date.now() })
    const body = await this.call(Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] })
    const p = body.responses[0].partitionResponses[0]
    return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) }
  }

  async fetchCode(topic: string): Promise<number> {
    const body = await this.call(Fetch, 12, fetchRequest([{ topic, partition: 0, offset: 0 }]))
    return body.responses[0].partitions[0].errorCode
  }

  /** Every record of the partition, checked dense from the log start offset. */
  async readAll(topic: string): Promise<Map<number, string>> {
    const offsetAt = async (timestamp: number): Promise<number> => {
      const p = (await this.call(ListOffsets, 7, listOffsetsRequest([[topic, [[0, timestamp]]]]))).topics[0].partitions[0]
      expect(p.errorCode, `ListOffsets ${topic} ${timestamp}`).toBe(0)
      return Number(p.offset)
    }
    const earliest = await offsetAt(-2)
    const latest = await offsetAt(-1)
    const seen = new Map<number, string>()
    let next = earliest
    while (next < latest) {
      const p = (await this.call(Fetch, 12, fetchRequest([{ topic, partition: 0, offset: next }]))).responses[0].partitions[0]
      expect(p.errorCode, `fetch ${topic} at ${next}`).toBe(0)
      const records = recordsOf(p.records)
      expect(records.length, `fetch ${topic} at ${next} returns records`).toBeGreaterThan(0)
      for (const r of records) {
        if (r.offset < next) continue
        expect(r.offset, `${topic}: offsets are dense`).toBe(next)
        seen.set(r.offset, r.value)
        next++
      }
    }
    return seen
  }

  dirOf(topic: string): "a" | "b" | null {
    for (const d of ["a", "b"] as const) if (fs.existsSync(path.join(this.root, d, `${topic}-0`))) return d
    return null
  }

  async stop(): Promise<void> {
    this.client.close()
    await this.broker.stop()
  }
}

/** Creates one topic in each dir (a new partition goes to the dir holding the fewest). */
const topicsInBothDirs = async (h: Harness, prefix: string, configs: ReadonlyArray<{ name: string; value: string }> = []): Promise<{ inA: string; inB: string }> => {
  await h.createTopic(`${prefix}-1`, configs)
  await h.createTopic(`${prefix}-2`, configs)
  const first = h.dirOf(`${prefix}-1`)
  const second = h.dirOf(`${prefix}-2`)
  expect(new Set([first, second])).toEqual(new Set(["a", "b"]))
  return first === "a" ? { inA: `${prefix}-1`, inB: `${prefix}-2` } : { inA: `${prefix}-2`, inB: `${prefix}-1` }
}

const values = (tag: string, n: number): Array<string> => Array.from({ length: n }, (_, i) => `${tag}-${i}`.padEnd(60, "."))

/** Produces single records until one fails; returns what was acknowledged and the failing code. */
const produceUntilError = async (h: Harness, topic: string, tag: string, max: number) => {
  const acked = new Map<number, string>()
  for (let i = 0; i < max; i++) {
    const [value] = values(`${tag}-${i}`, 1)
    const r = await h.produce(topic, [value!])
    if (r.errorCode !== 0) return { acked, errorCode: r.errorCode }
    acked.set(r.baseOffset, value!)
  }
  return { acked, errorCode: 0 }
}

const expectAcknowledged = (seen: Map<number, string>, acked: Map<number, string>, what: string): void => {
  for (const [offset, value] of acked) expect(seen.get(offset), `${what}: acknowledged offset ${offset}`).toBe(value)
}

describe.each([
  { name: "ENOSPC after a byte budget on the segment", rule: { code: "ENOSPC" as const, ops: ["write" as const], path: /\/b\/.*\.log$/, afterBytes: 700 } },
  { name: "EIO on fsync (flush.messages=1)", rule: { code: "EIO" as const, ops: ["fsync" as const], path: "/b/" } }
])("a disk fault in log dir b: $name", ({ rule }) => {
  it("takes dir b offline with KAFKA_STORAGE_ERROR while dir a keeps serving, loses nothing acknowledged, and recovers on restart", async () => {
    const root = newRoot()
    const faulty = new FaultyFileIo(root)
    let h = await Harness.start(root, faulty, { "log.flush.interval.messages": "1" })
    const { inA, inB } = await topicsInBothDirs(h, "fault")
    const before = await produceUntilError(h, inB, "before", 3)
    expect(before.errorCode).toBe(0)

    faulty.fail(rule)
    const during = await produceUntilError(h, inB, "during", 50)
    expect(during.errorCode, "produce to the failed dir").toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect(faulty.injected.length, "the fault was hit").toBeGreaterThan(0)
    const acked = new Map([...before.acked, ...during.acked])

    // The dir stays offline: the next produce fails at once, fetch and ListOffsets too.
    expect((await h.produce(inB, ["again"])).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect(await h.fetchCode(inB)).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    const lo = await h.call(ListOffsets, 7, listOffsetsRequest([[inB, [[0, -1]]]]))
    expect(lo.topics[0].partitions[0].errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)

    // Metadata: the partition has no leader and its replica is offline; dir a's is served.
    const md = await h.call(Metadata, 12, { topics: [{ name: inB, topicId: "AAAAAAAAAAAAAAAAAAAAAA" }, { name: inA, topicId: "AAAAAAAAAAAAAAAAAAAAAA" }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    const pb = md.topics.find((t: { name: string }) => t.name === inB).partitions[0]
    expect(pb).toMatchObject({ errorCode: ErrorCode.LEADER_NOT_AVAILABLE, leaderId: -1, offlineReplicas: [1] })
    const pa = md.topics.find((t: { name: string }) => t.name === inA).partitions[0]
    expect(pa).toMatchObject({ errorCode: 0, leaderId: 1, offlineReplicas: [] })
    const dtp = await h.call(DescribeTopicPartitions, 0, { topics: [{ name: inA }, { name: inB }], responsePartitionLimit: 2000, cursor: null })
    const dtpOf = (name: string) => dtp.topics.find((t: { name: string }) => t.name === name).partitions[0]
    expect(dtpOf(inB)).toMatchObject({ errorCode: ErrorCode.LEADER_NOT_AVAILABLE, leaderId: -1, offlineReplicas: [1] })
    expect(dtpOf(inA)).toMatchObject({ errorCode: 0, leaderId: 1, offlineReplicas: [] })

    // DescribeLogDirs: b with KAFKA_STORAGE_ERROR and nothing else, a as usual.
    const dirs = await h.call(DescribeLogDirs, 4, { topics: null })
    const byDir = new Map(dirs.results.map((r: { logDir: string }) => [r.logDir, r]))
    expect(byDir.get(path.join(root, "b"))).toMatchObject({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, topics: [] })
    expect(byDir.get(path.join(root, "a"))).toMatchObject({ errorCode: 0 })

    // Dir a keeps serving produce and fetch; nothing was fatal.
    const okA = await h.produce(inA, values("a", 5))
    expect(okA.errorCode).toBe(0)
    expect([...(await h.readAll(inA)).values()]).toEqual(values("a", 5))
    expect(h.fatals).toEqual([])

    // A new topic lands in the healthy dir.
    await h.createTopic("fault-new")
    expect(h.dirOf("fault-new")).toBe("a")

    await h.stop()
    // Restart on a healthy disk: b is recovered and served again, every acknowledged record in place.
    faulty.heal()
    h = await Harness.start(root, new FaultyFileIo(root))
    const seen = await h.readAll(inB)
    expectAcknowledged(seen, acked, inB)
    const after = await h.produce(inB, ["after"])
    expect(after.errorCode).toBe(0)
    expect(after.baseOffset).toBe(Math.max(...seen.keys(), -1) + 1)
    await h.stop()
  })
})

describe("fatal disk faults (Kafka halts the broker)", () => {
  it("a failure in the metadata log dir (a) is fatal, with the reason logged", async () => {
    const root = newRoot()
    const faulty = new FaultyFileIo(root)
    const h = await Harness.start(root, faulty, { "log.flush.interval.messages": "1" })
    const { inA } = await topicsInBothDirs(h, "meta-dir")
    faulty.fail({ code: "EIO", ops: ["fsync"], path: new RegExp(`/a/${inA}-0/`) })
    expect((await h.produce(inA, ["x"])).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect(h.fatals).toEqual([`Shutdown broker because the metadata log dir ${path.join(root, "a")} has failed`])
    await h.stop()
  })

  it.each([
    ["write", "never"],
    ["fsync", "never-forced"] // the force on the thread pool
  ] as const)("a failed metadata log %s is fatal, with the reason logged", async (op, name) => {
    const root = newRoot()
    const faulty = new FaultyFileIo(root)
    const h = await Harness.start(root, faulty)
    faulty.fail({ code: "ENOSPC", ops: [op], path: "__cluster_metadata-0" })
    const body = await h.call(CreateTopics, 7, {
      topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 30_000,
      validateOnly: false
    })
    expect(body.topics[0].errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect(h.fatals).toHaveLength(1)
    expect(h.fatals[0]).toMatch(/^Shutdown broker because the metadata log in .*__cluster_metadata-0 failed: .*ENOSPC/)
    await h.stop()
  })
})

describe("an I/O error in the log cleaner", () => {
  it("takes the dir offline as Kafka's cleaner does; after a restart nothing acknowledged is missing", async () => {
    const root = newRoot()
    const faulty = new FaultyFileIo(root)
    let h = await Harness.start(root, faulty)
    const compact = [{ name: "cleanup.policy", value: "compact" }, { name: "segment.bytes", value: "1024" }, { name: "min.cleanable.dirty.ratio", value: "0.01" }]
    const { inA, inB } = await topicsInBothDirs(h, "cleaner", compact)
    const acked = new Map<number, string>()
    for (let i = 0; i < 40; i++) {
      const [value] = values(`v${i}`, 1)
      const r = await h.produce(inB, [value!], `key-${i}`)
      expect(r.errorCode).toBe(0)
      acked.set(r.baseOffset, value!)
    }
    faulty.fail({ code: "ENOSPC", ops: ["write"], path: /\.cleaned$/ })
    await h.broker.cleanLogs()
    expect(faulty.injected.length, "the cleaner hit the fault").toBeGreaterThan(0)
    expect(await h.fetchCode(inB)).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect((await h.produce(inA, ["fine"], "k")).errorCode).toBe(0)
    expect(h.fatals).toEqual([])
    await h.stop()
    h = await Harness.start(root, new FaultyFileIo(root))
    // Unique keys: compaction may drop nothing, so every acknowledged record is there.
    expectAcknowledged(await h.readAll(inB), acked, inB)
    await h.stop()
  })
})

describe("a torn metadata log write", () => {
  it("is fatal; on restart the torn tail is truncated, acknowledged topics are kept and the broker serves again", async () => {
    const root = newRoot()
    const faulty = new FaultyFileIo(root)
    let h = await Harness.start(root, faulty)
    await h.createTopic("kept")
    expect((await h.produce("kept", ["k0"])).errorCode).toBe(0)
    faulty.tearNextWrite(/__cluster_metadata-0\/\d+\.log$/, 7)
    const body = await h.call(CreateTopics, 7, {
      topics: [{ name: "torn", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 30_000,
      validateOnly: false
    })
    expect(body.topics[0].errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
    expect(faulty.injected.map((f) => f.op)).toContain("tear")
    expect(h.fatals).toHaveLength(1)
    await h.stop()

    h = await Harness.start(root, new FaultyFileIo(root))
    const md = await h.call(Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    const names = md.topics.map((t: { name: string }) => t.name)
    expect(names).toContain("kept")
    expect(names).not.toContain("torn")
    expect([...(await h.readAll("kept")).values()]).toEqual(["k0"])
    await h.createTopic("torn")
    expect((await h.produce("torn", ["t0"])).errorCode).toBe(0)
    await h.stop()
  })
})

describe("simulated power loss with log.flush.interval.messages=1 and acks=-1", () => {
  it.each([1, 2])("every acknowledged record is present after the reboot (seed %i)", async (seed) => {
    const random = seededRandom(seed)
    const root = newRoot()
    const faulty = new FaultyFileIo(root)
    let h = await Harness.start(root, faulty, { "log.flush.interval.messages": "1" })
    // Small segments: rolls (new files, whose directory entries must be made durable too) happen often.
    const topics = [`power-${seed}-1`, `power-${seed}-2`, `power-${seed}-3`]
    for (const t of topics) await h.createTopic(t, [{ name: "segment.bytes", value: "1024" }])
    const acked = new Map<string, Map<number, string>>(topics.map((t) => [t, new Map()]))
    const total = 15 + Math.floor(random() * 25)
    for (let i = 0; i < total; i++) {
      const topic = topics[Math.floor(random() * topics.length)]!
      const batch = values(`${topic}-${i}`, 1 + Math.floor(random() * 4))
      const r = await h.produce(topic, batch)
      expect(r.errorCode).toBe(0)
      batch.forEach((v, j) => acked.get(topic)!.set(r.baseOffset + j, v))
    }
    // The power goes: nothing more reaches the disk, and what was never fsynced is gone.
    faulty.crash()
    await h.stop()
    faulty.powerLoss()
    h = await Harness.start(root, faulty)
    for (const t of topics) expectAcknowledged(await h.readAll(t), acked.get(t)!, t)
    await h.stop()
  })
})

describe("a clean shutdown (its fsyncs gathered from every log and issued together)", () => {
  const marker = (root: string, dir: "a" | "b") => fs.existsSync(path.join(root, dir, CLEAN_SHUTDOWN_FILE))

  it("makes every record acknowledged before it durable, under the default flush policy, before its clean-shutdown marker", async () => {
    const root = newRoot()
    const faulty = new FaultyFileIo(root)
    let h = await Harness.start(root, faulty)
    // Both dirs, small segments (rolled segments and new files too), nothing fsynced before the stop.
    const topics = ["clean-1", "clean-2", "clean-3", "clean-4"]
    for (const t of topics) await h.createTopic(t, [{ name: "segment.bytes", value: "1024" }])
    expect(new Set(topics.map((t) => h.dirOf(t)))).toEqual(new Set(["a", "b"]))
    const acked = new Map<string, Map<number, string>>(topics.map((t) => [t, new Map()]))
    for (let i = 0; i < 24; i++) {
      const topic = topics[i % topics.length]!
      const batch = values(`${topic}-${i}`, 1 + (i % 3))
      const r = await h.produce(topic, batch)
      expect(r.errorCode).toBe(0)
      batch.forEach((v, j) => acked.get(topic)!.set(r.baseOffset + j, v))
    }
    await h.stop()
    // The power goes right after the stop: only what the shutdown forced is left.
    faulty.powerLoss()
    expect(marker(root, "a") && marker(root, "b"), "the clean-shutdown markers are durable").toBe(true)
    h = await Harness.start(root, faulty)
    for (const t of topics) expectAcknowledged(await h.readAll(t), acked.get(t)!, t)
    await h.stop()
  })

  it("leaves the dir whose fsync failed without the clean-shutdown marker, and marks the other", async () => {
    const root = newRoot()
    const faulty = new FaultyFileIo(root)
    let h = await Harness.start(root, faulty)
    const { inA, inB } = await topicsInBothDirs(h, "unclean")
    for (const t of [inA, inB]) expect((await h.produce(t, values(t, 3))).errorCode).toBe(0)
    faulty.fail({ code: "EIO", ops: ["fsync"], path: /\/b\/.*\.log$/ })
    await h.stop()
    expect(faulty.injected.some((f) => f.op === "fsync"), "the shutdown's fsync met the fault").toBe(true)
    expect(marker(root, "a")).toBe(true)
    expect(marker(root, "b")).toBe(false)
    faulty.heal()
    h = await Harness.start(root, faulty)
    for (const t of [inA, inB]) expect([...(await h.readAll(t)).values()]).toEqual(values(t, 3))
    await h.stop()
  })
})

/**
 * The search: per seed, one fault on one kind of file in dir b (a byte budget running out,
 * EIO on a write or an fsync, a torn write that kills the machine) during a produce workload
 * with segment rolls, then possibly a power loss, then a restart on a healthy disk. Whatever
 * the fault hit, every acknowledged record must be back, offsets dense, and both dirs must
 * take new records.
 */
const FAULT_ITERATIONS = Number(process.env["DISK_FAULT_ITERATIONS"] ?? 10)
const FAULT_SEED = Number(process.env["DISK_FAULT_SEED"] ?? 20261130)
const KINDS = ["budget", "write", "fsync", "tear", "read"] as const
const TARGETS = [/\/b\/.*\.log$/, /\/b\/.*\.index$/, /\/b\/.*\.timeindex$/, /\/b\/.*\.snapshot/, /\/b\/.*checkpoint/, /\/b\//]
const WRITTEN = [TARGETS[0]!, TARGETS[2]!, TARGETS[3]!, TARGETS[5]!]

describe("disk fault search (seeded)", () => {
  it(`${FAULT_ITERATIONS} runs of one random fault in dir b, then restart: nothing acknowledged lost`, async () => {
    const random = seededRandom(FAULT_SEED)
    const hit = new Set<string>()
    for (let run = 0; run < FAULT_ITERATIONS; run++) {
      // Every kind of fault, with and without a power loss, in turn; where it strikes is random.
      const kind = KINDS[run % KINDS.length]!
      const power = Math.floor(run / KINDS.length) % 2 === 1
      // Only files the workload touches that way: reads go to segments (the others are read at
      // start-up only); writes to segments, time indexes and producer snapshots (rolls), anything.
      const targets = kind === "read" ? [TARGETS[0]!] : kind === "fsync" ? TARGETS : kind === "budget" ? [TARGETS[0]!, TARGETS[5]!] : WRITTEN
      const target = targets[Math.floor(random() * targets.length)]!
      const what = `run ${run}: ${kind} on ${target}${power ? " + power loss" : ""}`
      const root = newRoot()
      const faulty = new FaultyFileIo(root)
      let h = await Harness.start(root, faulty, { "log.flush.interval.messages": "1" })
      const { inA, inB } = await topicsInBothDirs(h, `search-${run}`, [{ name: "segment.bytes", value: "1024" }])
      const acked = new Map<string, Map<number, string>>([[inA, new Map()], [inB, new Map()]])
      const faultAt = 3 + Math.floor(random() * 15)
      let failed = false
      for (let i = 0; i < 30 && !faulty.isDead; i++) {
        if (i === faultAt) {
          if (kind === "budget") faulty.fail({ code: "ENOSPC", ops: ["write"], path: target, afterBytes: Math.floor(random() * 300) })
          else if (kind === "write") faulty.fail({ code: "EIO", ops: ["write"], path: target })
          else if (kind === "fsync") faulty.fail({ code: "EIO", ops: ["fsync"], path: target })
          else if (kind === "read") faulty.fail({ code: "EIO", ops: ["read"], path: target })
          else faulty.tearNextWrite(target, Math.floor(random() * 1e9))
        }
        const topic = random() < 0.7 ? inB : inA
        if (random() < 0.2) {
          // A consumer reading from the start: reads hit the disk too.
          const code = await h.fetchCode(topic)
          if (code !== 0) {
            expect(code, `${what}: fetch error`).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
            failed = true
          }
          continue
        }
        const batch = values(`${topic}-${i}`, 1 + Math.floor(random() * 5))
        const r = await h.produce(topic, batch)
        if (r.errorCode === 0) batch.forEach((v, j) => acked.get(topic)!.set(r.baseOffset + j, v))
        else {
          expect(r.errorCode, `${what}: produce error`).toBe(ErrorCode.KAFKA_STORAGE_ERROR)
          failed = true
        }
      }
      if (faulty.injected.length > 0) hit.add(kind)
      if (failed && !faulty.isDead) expect(h.fatals, `${what}: only dir b failed`).toEqual([])
      faulty.crash()
      await h.stop()
      if (power) faulty.powerLoss()
      else faulty.heal()
      h = await Harness.start(root, new FaultyFileIo(root))
      for (const [topic, model] of acked) {
        const seen = await h.readAll(topic)
        expectAcknowledged(seen, model, `${what}: ${topic}`)
        const r = await h.produce(topic, ["after"])
        expect(r.errorCode, `${what}: ${topic} takes records after the restart`).toBe(0)
        expect(r.baseOffset, `${what}: ${topic} continues densely`).toBe(Math.max(...seen.keys(), -1) + 1)
      }
      await h.stop()
      fs.rmSync(root, { recursive: true, force: true })
    }
    // The search is only worth something if the faults struck.
    expect([...hit].sort()).toEqual([...KINDS].slice(0, Math.min(FAULT_ITERATIONS, KINDS.length)).sort())
  })
})

describe("a real client (KafkaJS) on a failed log dir", () => {
  it("gets the retriable KAFKA_STORAGE_ERROR for the topic in the failed dir and keeps producing to the other", async () => {
    const root = newRoot()
    const faulty = new FaultyFileIo(root)
    const h = await Harness.start(root, faulty)
    const { inA, inB } = await topicsInBothDirs(h, "kafkajs")
    const logged: Array<string> = []
    const kafka = new Kafka({
      clientId: "disk-faults",
      brokers: [h.broker.bootstrap],
      logLevel: logLevel.ERROR,
      logCreator: () => ({ log }) => void logged.push(log.message),
      retry: { retries: 0 }
    })
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    await producer.connect()
    try {
      await producer.send({ topic: inB, acks: -1, messages: [{ value: "before" }] })
      faulty.fail({ code: "EIO", ops: ["write"], path: "/b/" })
      const error = await producer.send({ topic: inB, acks: -1, messages: [{ value: "lost?" }] }).then(() => null, (e: unknown) => e)
      expect(error, "the send to the failed dir fails").not.toBeNull()
      // KafkaJS takes KAFKA_STORAGE_ERROR as retriable: it logs it and refreshes metadata for
      // the retry, where the partition has no leader (LEADER_NOT_AVAILABLE, retriable too), as
      // against Kafka; with no retries allowed that is where it stops.
      expect(logged).toContain("Failed to send messages: Disk error when trying to access log file on the disk")
      expect((error as { cause?: unknown }).cause).toMatchObject({ type: "LEADER_NOT_AVAILABLE", retriable: true })

      // A producer for the healthy dir's topic keeps working. (KafkaJS refreshes metadata for
      // every topic a producer has sent to and fails on any leaderless one, so a fresh producer.)
      const other = kafka.producer({ allowAutoTopicCreation: false })
      await other.connect()
      try {
        for (let i = 0; i < 3; i++) {
          const sent = await other.send({ topic: inA, acks: -1, messages: [{ value: `a${i}` }] })
          expect(sent[0]).toMatchObject({ errorCode: 0, baseOffset: String(i) })
        }
      } finally {
        await other.disconnect()
      }
      const admin = kafka.admin()
      await admin.connect()
      const md = await admin.fetchTopicMetadata({ topics: [inA] })
      await admin.disconnect()
      expect(md.topics[0]!.partitions[0]).toMatchObject({ partitionErrorCode: 0, leader: 1 })
    } finally {
      await producer.disconnect()
      await h.stop()
    }
  })
})
