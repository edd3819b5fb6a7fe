/**
 * Crash consistency: the broker runs as a child process and is killed with SIGKILL at a
 * random point of a pipelined workload (produce with acks -1, 1 and 0, topic creation and
 * deletion, added partitions, segment rolls, retention), restarted on the same directory,
 * and checked against what it acknowledged:
 *
 * - no acknowledged record is lost (acks=-1 and acks=1: the default flush policy keeps
 *   written data in the page cache, which survives the process), unless retention removed it;
 * - offsets are dense and increasing in every partition;
 * - acknowledged topic changes are there, and the partition directories on disk agree with
 *   the metadata (no orphans once a deletion was acknowledged);
 * - every offset index entry points at the start of a batch that holds its offset.
 *
 * The kill point is the arrival of the k-th response (k drawn from a seeded PRNG), so the
 * schedule is reproducible up to what is still in flight. `CRASH_ITERATIONS` sets how many
 * kill/restart rounds run (each restart checks the state the previous round left).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { buildRecordBatch, readBatchHeader } from "../../src/log/record-batch.ts"
import { CreatePartitions, CreateTopics, DeleteTopics, Fetch, ListOffsets, Metadata, Produce } from "../../src/protocol/generated/apis.ts"
import { parseOffsetIndex } from "../../src/log/offset-index.ts"
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"
import { prng } from "../protocol/spec-values.ts"
import { fetchRequest, listOffsetsRequest, recordsOf } from "../handlers/data-plane/helpers.ts"

const ITERATIONS = Number(process.env["CRASH_ITERATIONS"] ?? 8)
const SEED = Number(process.env["CRASH_SEED"] ?? 20261130)
const OPS_PER_ROUND = 60

interface TopicModel {
  partitions: number
  /** Its CreateTopics or last CreatePartitions was acknowledged (else it may or may not exist). */
  readonly retention: boolean
}

/** What the broker acknowledged, and so must still hold after a crash. */
class Model {
  readonly topics = new Map<string, TopicModel>()
  /** Topics whose deletion was acknowledged. */
  readonly deleted = new Set<string>()
  /** Topics whose creation or deletion was in flight at a kill: either outcome is fine. */
  readonly uncertain = new Set<string>()
  /** "topic/partition" -> offset -> value. */
  readonly acked = new Map<string, Map<number, string>>()

  ack(topic: string, partition: number, baseOffset: number, values: ReadonlyArray<string>): void {
    const key = `${topic}/${partition}`
    let m = this.acked.get(key)
    if (m === undefined) this.acked.set(key, (m = new Map()))
    values.forEach((v, i) => m!.set(baseOffset + i, v))
  }
}

const utf8 = new TextDecoder()

const topicConfigs = (retention: boolean) => [
  { name: "segment.bytes", value: "2048" },
  ...(retention ? [{ name: "retention.bytes", value: "4096" }] : [])
]

/** One round: pipelined operations on one connection; the broker is killed when the k-th response arrives. */
const runRound = async (broker: BrokerProcess, model: Model, round: number, random: () => number): Promise<void> => {
  const client = await WireClient.connect(broker.port)
  const killAt = 1 + Math.floor(random() * OPS_PER_ROUND)
  let correlationId = 0
  const pending: Array<{ id: number; onResponse: (payload: Uint8Array) => void; onLost: () => void }> = []
  const live = () => [...model.topics.keys()].filter((t) => !model.uncertain.has(t))

  for (let op = 0; op < OPS_PER_ROUND; op++) {
    const id = ++correlationId
    const dice = random()
    const topics = live()
    if (topics.length === 0 || dice < 0.08) {
      const name = `crash-${round}-${op}`
      const partitions = 1 + Math.floor(random() * 3)
      const retention = random() < 0.3
      model.uncertain.add(name)
      client.write(encodeRequest(CreateTopics, 7, id, {
        topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: topicConfigs(retention) }],
        timeoutMs: 30_000,
        validateOnly: false
      }))
      pending.push({
        id,
        onResponse: (payload) => {
          const body = decodeResponse(CreateTopics, 7, payload).body
          expect(body.topics[0].errorCode).toBe(0)
          model.uncertain.delete(name)
          model.topics.set(name, { partitions, retention })
        },
        onLost: () => undefined
      })
    } else if (dice < 0.12 && topics.length > 2) {
      const name = topics[Math.floor(random() * topics.length)]!
      model.uncertain.add(name)
      client.write(encodeRequest(DeleteTopics, 6, id, { topics: [{ name, topicId: "AAAAAAAAAAAAAAAAAAAAAA" }], timeoutMs: 30_000 }))
      pending.push({
        id,
        onResponse: (payload) => {
          expect(decodeResponse(DeleteTopics, 6, payload).body.responses[0].errorCode).toBe(0)
          model.uncertain.delete(name)
          model.topics.delete(name)
          model.deleted.add(name)
        },
        onLost: () => undefined
      })
    } else if (dice < 0.15) {
      const name = topics[Math.floor(random() * topics.length)]!
      const t = model.topics.get(name)!
      const count = t.partitions + 1
      model.uncertain.add(name)
      client.write(encodeRequest(CreatePartitions, 3, id, { topics: [{ name, count, assignments: null }], timeoutMs: 30_000, validateOnly: false }))
      pending.push({
        id,
        onResponse: (payload) => {
          expect(decodeResponse(CreatePartitions, 3, payload).body.results[0].errorCode).toBe(0)
          model.uncertain.delete(name)
          t.partitions = count
        },
        onLost: () => undefined
      })
    } else {
      const name = topics[Math.floor(random() * topics.length)]!
      const partition = Math.floor(random() * model.topics.get(name)!.partitions)
      const acks = [-1, -1, 1, 0][Math.floor(random() * 4)]!
      const values = Array.from({ length: 1 + Math.floor(random() * 20) }, (_, i) => `${name}/${partition}/${round}/${op}/${i}`.padEnd(40, "."))
      const batch = buildRecordBatch({ records: values.map((value) => ({ key: null, value })), timestamp: Date.now() })
      client.write(encodeRequest(Produce, 9, id, { transactionalId: null, acks, timeoutMs: 30_000, topicData: [{ name, partitionData: [{ index: partition, records: batch }] }] }))
      if (acks === 0) continue
      pending.push({
        id,
        onResponse: (payload) => {
          const p = decodeResponse(Produce, 9, payload).body.responses[0].partitionResponses[0]
          expect(p.errorCode, `produce to ${name}-${partition}`).toBe(0)
          model.ack(name, partition, Number(p.baseOffset), values)
        },
        onLost: () => undefined
      })
    }
  }

  // Responses arrive in request order; kill when the k-th arrives.
  let received = 0
  for (const p of [...pending]) {
    let payload: Uint8Array
    try {
      payload = await client.read()
    } catch {
      break
    }
    received++
    pending.shift()
    p.onResponse(payload)
    if (received >= killAt) break
  }
  broker.child.kill("SIGKILL")
  await broker.exited
  client.close()
}

/** Checks the restarted broker against the model. */
const verify = async (broker: BrokerProcess, model: Model): Promise<void> => {
  const client = await WireClient.connect(broker.port)
  let id = 0
  const call = async <T>(api: Parameters<typeof encodeRequest>[0], version: number, body: T) => {
    client.write(encodeRequest(api, version, ++id, body))
    return decodeResponse(api, version, await client.read()).body
  }
  const metadata = await call(Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  const present = new Map<string, number>(metadata.topics.map((t: { name: string; partitions: Array<unknown> }) => [t.name, t.partitions.length]))

  for (const [name, t] of model.topics) {
    if (model.uncertain.has(name)) continue
    expect(present.has(name), `acknowledged topic ${name} exists`).toBe(true)
    expect(present.get(name)!, `${name} partitions`).toBeGreaterThanOrEqual(t.partitions)
  }
  for (const name of model.deleted) {
    if (!model.uncertain.has(name)) expect(present.has(name), `deleted topic ${name} is gone`).toBe(false)
  }
  // Topics that exist after all (an in-flight creation that landed) join the model.
  for (const [name, partitions] of present) {
    if (model.uncertain.has(name)) {
      model.uncertain.delete(name)
      model.deleted.delete(name)
      const existing = model.topics.get(name)
      if (existing) existing.partitions = partitions
      else model.topics.set(name, { partitions, retention: true })
    } else if (model.topics.has(name)) {
      model.topics.get(name)!.partitions = partitions
    }
  }
  for (const name of [...model.uncertain]) {
    if (!present.has(name)) {
      model.topics.delete(name)
      model.uncertain.delete(name)
    }
  }

  // Records: dense offsets from the log start to the end, every acknowledged one in place.
  for (const [name, t] of model.topics) {
    for (let partition = 0; partition < t.partitions; partition++) {
      // One partition may appear once per ListOffsets request (Kafka answers INVALID_REQUEST otherwise).
      const offsetAt = async (timestamp: number): Promise<number> => {
        const p = (await call(ListOffsets, 7, listOffsetsRequest([[name, [[partition, timestamp]]]]))).topics[0].partitions[0]
        expect(p.errorCode, `ListOffsets ${name}-${partition} ${timestamp}`).toBe(0)
        return Number(p.offset)
      }
      const earliest = await offsetAt(-2)
      const latest = await offsetAt(-1)
      const seen = new Map<number, string>()
      let next = earliest
      while (next < latest) {
        const fetched = await call(Fetch, 12, fetchRequest([{ topic: name, partition, offset: next }]))
        const p = fetched.responses[0].partitions[0]
        expect(p.errorCode, `fetch ${name}-${partition} at ${next}`).toBe(0)
        const records = recordsOf(p.records)
        expect(records.length, `fetch ${name}-${partition} at ${next} returns records`).toBeGreaterThan(0)
        for (const r of records) {
          if (r.offset < next) continue
          expect(r.offset, `${name}-${partition}: offsets are dense`).toBe(next)
          seen.set(r.offset, r.value)
          next++
        }
      }
      const acked = model.acked.get(`${name}/${partition}`) ?? new Map<number, string>()
      for (const [offset, value] of acked) {
        if (offset < earliest) {
          expect(t.retention, `${name}-${partition}: offset ${offset} below the log start ${earliest} without retention`).toBe(true)
          continue
        }
        expect(seen.get(offset), `${name}-${partition}: acknowledged offset ${offset}`).toBe(value)
      }
      // Start the next rounds from what is really there: unacknowledged appends that landed count too.
      for (const [offset, value] of seen) if (!acked.has(offset)) model.ack(name, partition, offset, [value])
    }
  }
  client.close()

  // On disk: a directory per partition of every topic, none for deleted topics.
  for (const entry of fs.readdirSync(broker.logDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith("__cluster_metadata") || entry.name.endsWith("-delete")) continue
    const m = /^(.*)-(\d+)$/.exec(entry.name)
    if (m === null) continue
    const [, topic, partition] = m
    expect(present.has(topic!) && Number(partition) < present.get(topic!)!, `orphan partition directory ${entry.name}`).toBe(true)
    checkIndexes(path.join(broker.logDir, entry.name))
  }
}

/** Every offset index entry points at the start of a batch that holds its offset. */
const checkIndexes = (dir: string): void => {
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".index"))) {
    const base = Number(file.slice(0, -".index".length))
    const logFile = path.join(dir, `${file.slice(0, -".index".length)}.log`)
    if (!fs.existsSync(logFile)) continue
    const log = new Uint8Array(fs.readFileSync(logFile))
    const entries = parseOffsetIndex(new Uint8Array(fs.readFileSync(path.join(dir, file))), base)
    entries.forEach((e, i) => {
      if (i > 0 && e.offset === base && e.position === 0) return // preallocated padding
      expect(e.position + 61, `${dir}/${file} entry ${i} inside the log`).toBeLessThanOrEqual(log.length)
      const h = readBatchHeader(log, e.position)
      expect(h.baseOffset <= e.offset && e.offset <= h.lastOffset, `${dir}/${file} entry ${i}: offset ${e.offset} in batch ${h.baseOffset}-${h.lastOffset}`).toBe(true)
    })
  }
}

describe("crash consistency under SIGKILL", () => {
  it(`keeps every acknowledged record and change through ${ITERATIONS} kills`, async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-crash-"))
    const random = prng(SEED)
    const model = new Model()
    const args = ["--override", "log.retention.check.interval.ms=100", "--override", "num.partitions=1"]
    for (let round = 0; round < ITERATIONS; round++) {
      const broker = await startBrokerProcess({ logDir, args })
      try {
        await verify(broker, model)
        await runRound(broker, model, round, random)
      } finally {
        broker.child.kill("SIGKILL")
        await broker.exited
      }
    }
    const last = await startBrokerProcess({ logDir, args })
    try {
      await verify(last, model)
    } finally {
      last.child.kill("SIGTERM")
      await last.exited
    }
    fs.rmSync(logDir, { recursive: true, force: true })
  }, 600_000)
})
