/**
 * Crash consistency: the broker runs as a child process under a pipelined workload — produce
 * with acks -1, 1 and 0 (keyed records to compacted topics with the cleaner running), topic
 * creation and deletion, added partitions, segment rolls, retention, and transactions
 * committed or aborted — and is stopped at seeded points, restarted and checked against what
 * it acknowledged:
 *
 * - no acknowledged record is lost (acks=-1 and acks=1: the default flush policy keeps
 *   written data in the page cache, which survives the process), unless retention removed it;
 *   on a compacted topic, the latest acknowledged value of every key stays;
 * - offsets are dense (increasing, on compacted topics) in every partition;
 * - acknowledged topic changes are there, and the partition directories on disk agree with
 *   the metadata (no orphans once a deletion was acknowledged);
 * - every offset index entry points at the start of a batch that holds its offset;
 * - an acknowledged EndTxn left its COMMIT or ABORT marker after the transaction's records;
 *   at the end, read_committed shows every committed transaction whole, no aborted one, and
 *   an open transaction is aborted on its timeout, as Kafka's coordinator does.
 *
 * Two kinds of crash point, both counted as iterations:
 * - crash images: the process is frozen (SIGSTOP) when the k-th response arrives, its data
 *   directory copied, and let go on (SIGCONT). The copy is exactly what a SIGKILL at that
 *   instant leaves on disk (a stopped process makes no further system calls; written data
 *   is in the page cache), so it is recovered by an in-process broker and checked read-only
 *   against what had been acknowledged by then — without a process start per crash point;
 * - a real SIGKILL ends each round; the next round's process recovers that directory, is
 *   checked, and continues the workload on it.
 *
 * `CRASH_ITERATIONS` sets the number of crash points (default 200), `CRASH_IMAGES_PER_ROUND`
 * how many of each round's are images (default 39), `CRASH_SEED` the seed; `pnpm fuzz
 * --crash N` runs more. Data directories live on tmpfs where there is one.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { startBroker } from "../../src/broker.ts"
import { readTxnMarker } from "../../src/log/control-records.ts"
import { parseOffsetIndex } from "../../src/log/offset-index.ts"
import { buildRecordBatch, readBatchHeader, readRecords } from "../../src/log/record-batch.ts"
import {
  AddPartitionsToTxn,
  CreatePartitions,
  CreateTopics,
  DeleteTopics,
  EndTxn,
  Fetch,
  InitProducerId,
  ListOffsets,
  Metadata,
  Produce
} from "../../src/protocol/generated/apis.ts"
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"
import { prng } from "../protocol/spec-values.ts"
import { batchesOf, fetchRequest, listOffsetsRequest } from "../handlers/data-plane/helpers.ts"

const ITERATIONS = Number(process.env["CRASH_ITERATIONS"] ?? 200)
const IMAGES_PER_ROUND = Number(process.env["CRASH_IMAGES_PER_ROUND"] ?? 39)
const SEED = Number(process.env["CRASH_SEED"] ?? 20261130)
const OPS_PER_ROUND = 100
const KEYS = 6
const TXN_TIMEOUT_MS = 500

type Policy = "delete" | "retention" | "compact"

interface TopicModel {
  partitions: number
  readonly policy: Policy
}

interface TxnModel {
  readonly topic: string
  readonly partition: number
  readonly producerId: number
  /** Offsets and values of its records, once their produce was acknowledged. */
  records?: ReadonlyArray<readonly [number, string]>
  /** The acknowledged EndTxn: true commit, false abort; undefined while unanswered. */
  outcome?: boolean
  /** What EndTxn asked, whether or not it was answered. */
  readonly commit: boolean
}

/** What the broker acknowledged, and so must still hold after a crash. */
class Model {
  topics = new Map<string, TopicModel>()
  /** Topics whose deletion was acknowledged. */
  deleted = new Set<string>()
  /** Topics whose creation or deletion was in flight at a kill: either outcome is fine. */
  uncertain = new Set<string>()
  /** "topic/partition" -> offset -> [key, value]. */
  acked = new Map<string, Map<number, readonly [string | null, string]>>()
  txns: Array<TxnModel> = []
  /** Partitions written since the last full check. */
  dirty = new Set<string>()
  /** The cleanup policy each topic was created with, acknowledged or not. */
  policies = new Map<string, Policy>()

  ack(topic: string, partition: number, baseOffset: number, records: ReadonlyArray<readonly [string | null, string]>): void {
    const key = `${topic}/${partition}`
    let m = this.acked.get(key)
    if (m === undefined) this.acked.set(key, (m = new Map()))
    records.forEach((r, i) => m!.set(baseOffset + i, r))
  }

  /** A copy, frozen at a crash image. */
  clone(): Model {
    const m = new Model()
    m.topics = new Map([...this.topics].map(([k, v]) => [k, { ...v }]))
    m.deleted = new Set(this.deleted)
    m.uncertain = new Set(this.uncertain)
    m.acked = new Map([...this.acked].map(([k, v]) => [k, new Map(v)]))
    m.txns = this.txns.map((t) => ({ ...t }))
    m.dirty = new Set(this.dirty)
    m.policies = this.policies
    return m
  }
}

const topicConfigs = (policy: Policy) => [
  { name: "segment.bytes", value: "2048" },
  ...(policy === "retention" ? [{ name: "retention.bytes", value: "4096" }] : []),
  ...(policy === "compact" ? [{ name: "cleanup.policy", value: "compact" }, { name: "min.cleanable.dirty.ratio", value: "0.01" }] : [])
]

/**
 * Where the data directories live: tmpfs when there is one. A SIGKILL (not a power loss)
 * leaves the page cache as it was, so a memory file system proves the same, without the
 * fsyncs of every restart and recovery costing disk time.
 */
const scratchRoot = (): string => {
  try {
    fs.accessSync("/dev/shm", fs.constants.W_OK)
    return "/dev/shm"
  } catch {
    return os.tmpdir()
  }
}

const BROKER_ARGS = [
  "--override", "log.retention.check.interval.ms=100",
  "--override", "num.partitions=1",
  "--override", "log.cleaner.backoff.ms=50",
  "--override", "transaction.abort.timed.out.transaction.cleanup.interval.ms=100",
  "--override", "http.listener=",
  // One partition per internal topic: recovery and crash images then cost per test topic, not per 50.
  "--override", "transaction.state.log.num.partitions=1",
  "--override", "offsets.topic.num.partitions=1"
]

/** Whether every thread of the process is stopped (state T in /proc; a thread may have exited meanwhile). */
const allThreadsStopped = (pid: number): boolean => {
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")
    } catch {
      continue
    }
    const state = stat.replace(/^.*\) /s, "")[0]
    if (state !== "T" && state !== "t") return false
  }
  return true
}

/**
 * Resolves once every thread of the process is stopped, so its files are what a kill would
 * leave (the thread pool's writes and fsyncs included). A thread in uninterruptible sleep (an
 * fsync on a busy disk) stops only when its system call returns, so the bound is generous
 * wall-clock time.
 */
const stopped = async (pid: number): Promise<void> => {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (allThreadsStopped(pid)) return
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  throw new Error(`process ${pid} did not stop within 60 s of SIGSTOP`)
}

/** CPU time of the broker processes, read just before each is killed. */
let brokerCpuMs = 0

interface CrashImage {
  readonly dir: string
  readonly model: Model
}

/** One round: pipelined operations on one connection; images at some responses, SIGKILL at the last. */
const runRound = async (broker: BrokerProcess, model: Model, round: number, random: () => number, images: number): Promise<Array<CrashImage>> => {
  const client = await WireClient.connect(broker.port)
  let correlationId = 0
  const call = async (api: Parameters<typeof encodeRequest>[0], version: number, body: unknown) => {
    client.write(encodeRequest(api, version, ++correlationId, body))
    return decodeResponse(api, version, await client.read()).body
  }
  // A transactional producer for the round (each round is a new producer process).
  const transactionalId = `txn-${round}`
  const init = await call(InitProducerId, 4, { transactionalId, transactionTimeoutMs: TXN_TIMEOUT_MS, producerId: -1n, producerEpoch: -1 })
  expect(init.errorCode).toBe(0)
  const producerId = Number(init.producerId)
  const producerEpoch = init.producerEpoch
  const txnSequence = new Map<string, number>()

  const pending: Array<(payload: Uint8Array) => void> = []
  const live = () => [...model.topics.keys()].filter((t) => !model.uncertain.has(t))

  for (let op = 0; op < OPS_PER_ROUND; op++) {
    const send = (api: Parameters<typeof encodeRequest>[0], version: number, body: unknown, onResponse?: (payload: Uint8Array) => void) => {
      client.write(encodeRequest(api, version, ++correlationId, body))
      if (onResponse !== undefined) pending.push(onResponse)
    }
    const dice = random()
    const topics = live()
    if (topics.length < 3 || dice < 0.06) {
      const name = `crash-${round}-${op}`
      const partitions = 1 + Math.floor(random() * 3)
      const policy: Policy = (["delete", "retention", "compact"] as const)[Math.floor(random() * 3)]!
      model.uncertain.add(name)
      model.policies.set(name, policy)
      send(CreateTopics, 7, {
        topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: topicConfigs(policy) }],
        timeoutMs: 30_000,
        validateOnly: false
      }, (payload) => {
        expect(decodeResponse(CreateTopics, 7, payload).body.topics[0].errorCode).toBe(0)
        model.uncertain.delete(name)
        model.topics.set(name, { partitions, policy })
      })
    } else if (dice < 0.1 && topics.length > 4) {
      const name = topics[Math.floor(random() * topics.length)]!
      model.uncertain.add(name)
      send(DeleteTopics, 6, { topics: [{ name, topicId: "AAAAAAAAAAAAAAAAAAAAAA" }], timeoutMs: 30_000 }, (payload) => {
        expect(decodeResponse(DeleteTopics, 6, payload).body.responses[0].errorCode).toBe(0)
        model.uncertain.delete(name)
        model.topics.delete(name)
        model.deleted.add(name)
      })
    } else if (dice < 0.13) {
      const name = topics[Math.floor(random() * topics.length)]!
      const t = model.topics.get(name)!
      const count = t.partitions + 1
      model.uncertain.add(name)
      send(CreatePartitions, 3, { topics: [{ name, count, assignments: null }], timeoutMs: 30_000, validateOnly: false }, (payload) => {
        expect(decodeResponse(CreatePartitions, 3, payload).body.results[0].errorCode).toBe(0)
        model.uncertain.delete(name)
        t.partitions = count
      })
    } else if (dice < 0.23) {
      // A transaction on one partition: AddPartitionsToTxn, a transactional produce, EndTxn.
      const candidates = topics.filter((t) => model.topics.get(t)!.policy === "delete")
      if (candidates.length === 0) continue
      const name = candidates[Math.floor(random() * candidates.length)]!
      const partition = Math.floor(random() * model.topics.get(name)!.partitions)
      const txn: TxnModel = { topic: name, partition, producerId, commit: random() < 0.7 }
      model.txns.push(txn)
      model.dirty.add(`${name}/${partition}`)
      send(AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: BigInt(producerId), v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name, partitions: [partition] }] }, (payload) => {
        expect(decodeResponse(AddPartitionsToTxn, 3, payload).body.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode).toBe(0)
      })
      const values = Array.from({ length: 1 + Math.floor(random() * 5) }, (_, i) => `txn/${name}/${partition}/${round}/${op}/${i}`.padEnd(40, "."))
      const key = `${name}/${partition}`
      const baseSequence = txnSequence.get(key) ?? 0
      txnSequence.set(key, baseSequence + values.length)
      const batch = buildRecordBatch({ records: values.map((value) => ({ key: null, value })), timestamp: Date.now(), producerId, producerEpoch, baseSequence, isTransactional: true })
      send(Produce, 9, { transactionalId, acks: -1, timeoutMs: 30_000, topicData: [{ name, partitionData: [{ index: partition, records: batch }] }] }, (payload) => {
        const p = decodeResponse(Produce, 9, payload).body.responses[0].partitionResponses[0]
        expect(p.errorCode, `transactional produce to ${name}-${partition}`).toBe(0)
        txn.records = values.map((v, i) => [Number(p.baseOffset) + i, v] as const)
        model.ack(name, partition, Number(p.baseOffset), values.map((v) => [null, v] as const))
      })
      send(EndTxn, 3, { transactionalId, producerId: BigInt(producerId), producerEpoch, committed: txn.commit }, (payload) => {
        expect(decodeResponse(EndTxn, 3, payload).body.errorCode, "EndTxn").toBe(0)
        txn.outcome = txn.commit
      })
    } else {
      const name = topics[Math.floor(random() * topics.length)]!
      const t = model.topics.get(name)!
      const partition = Math.floor(random() * t.partitions)
      const acks = [-1, -1, 1, 0][Math.floor(random() * 4)]!
      const records = Array.from({ length: 1 + Math.floor(random() * 20) }, (_, i) =>
        [t.policy === "compact" ? `k${Math.floor(random() * KEYS)}` : null, `${name}/${partition}/${round}/${op}/${i}`.padEnd(40, ".")] as const
      )
      model.dirty.add(`${name}/${partition}`)
      const batch = buildRecordBatch({ records: records.map(([key, value]) => ({ key, value })), timestamp: Date.now() })
      send(Produce, 9, { transactionalId: null, acks, timeoutMs: 30_000, topicData: [{ name, partitionData: [{ index: partition, records: batch }] }] }, acks === 0 ? undefined : (payload) => {
        const p = decodeResponse(Produce, 9, payload).body.responses[0].partitionResponses[0]
        expect(p.errorCode, `produce to ${name}-${partition}`).toBe(0)
        model.ack(name, partition, Number(p.baseOffset), records)
      })
    }
  }

  // Responses arrive in request order: crash images at some of them, the kill at the last.
  const points = new Set<number>()
  const total = pending.length
  // The kill comes after the images, anywhere from the first response to the last.
  const killAt = Math.min(total, images + 1 + Math.floor(random() * Math.max(1, total - images)))
  while (points.size < Math.min(images, killAt - 1)) points.add(1 + Math.floor(random() * (killAt - 1)))
  const taken: Array<CrashImage> = []
  for (let received = 1; received <= killAt; received++) {
    let payload: Uint8Array
    try {
      payload = await client.read()
    } catch {
      break
    }
    pending.shift()!(payload)
    if (points.has(received)) {
      const pid = broker.child.pid!
      broker.child.kill("SIGSTOP")
      await stopped(pid)
      const dir = fs.mkdtempSync(path.join(scratchRoot(), "kafka-crash-image-"))
      fs.cpSync(broker.logDir, dir, { recursive: true })
      broker.child.kill("SIGCONT")
      // A killed broker's lock is stale; its holder is still alive here, so the copy drops it.
      fs.rmSync(path.join(dir, ".lock"), { force: true })
      taken.push({ dir, model: model.clone() })
    }
  }
  brokerCpuMs += cpuMs(broker.child.pid!)
  broker.child.kill("SIGKILL")
  await broker.exited
  client.close()
  return taken
}

type Call = <T>(api: Parameters<typeof encodeRequest>[0], version: number, body: T) => Promise<any>

const connectCall = async (port: number): Promise<{ call: Call; close: () => void }> => {
  const client = await WireClient.connect(port)
  let id = 0
  const call: Call = async (api, version, body) => {
    client.write(encodeRequest(api, version, ++id, body))
    return decodeResponse(api, version, await client.read()).body
  }
  return { call, close: () => client.close() }
}

interface PartitionRead {
  readonly earliest: number
  readonly latest: number
  /** offset -> [key, value] of data records. */
  readonly records: Map<number, readonly [string | null, string]>
  /** Markers in offset order: [offset, producerId, commit]. */
  readonly markers: Array<readonly [number, number, boolean]>
}

const decoder = new TextDecoder()

/** Reads a whole partition (read_uncommitted), checking that offsets are dense (increasing when compacted). */
const readPartition = async (call: Call, name: string, partition: number, compacted: boolean): Promise<PartitionRead> => {
  const offsetAt = async (timestamp: number): Promise<number> => {
    const p = (await call(ListOffsets, 7, listOffsetsRequest([[name, [[partition, timestamp]]]]))).topics[0].partitions[0]
    expect(p.errorCode, `ListOffsets ${name}-${partition} ${timestamp}`).toBe(0)
    return Number(p.offset)
  }
  const earliest = await offsetAt(-2)
  const latest = await offsetAt(-1)
  const records = new Map<number, readonly [string | null, string]>()
  const markers: Array<readonly [number, number, boolean]> = []
  let next = earliest
  let last = earliest - 1
  while (next < latest) {
    const fetched = await call(Fetch, 12, fetchRequest([{ topic: name, partition, offset: next }]))
    const p = fetched.responses[0].partitions[0]
    expect(p.errorCode, `fetch ${name}-${partition} at ${next}`).toBe(0)
    const batches = batchesOf(p.records).batches
    expect(batches.length, `fetch ${name}-${partition} at ${next} returns batches`).toBeGreaterThan(0)
    for (const b of batches) {
      const header = readBatchHeader(b.bytes, 0)
      if (header.lastOffset < next) continue
      const marker = readTxnMarker(b.bytes)
      if (marker !== undefined) {
        expect(header.baseOffset, `${name}-${partition}: offsets are dense at a marker`).toBe(next)
        markers.push([header.baseOffset, marker.producerId, marker.commit])
        last = header.baseOffset
        next = header.lastOffset + 1
        continue
      }
      for (const r of readRecords(b.bytes)) {
        if (r.offset < next) continue
        if (compacted) expect(r.offset, `${name}-${partition}: offsets increase`).toBeGreaterThan(last)
        else expect(r.offset, `${name}-${partition}: offsets are dense`).toBe(next)
        records.set(r.offset, [r.key === null ? null : decoder.decode(r.key), decoder.decode(r.value!)])
        last = r.offset
        next = r.offset + 1
      }
      // A compacted batch keeps its offset range even where records were removed.
      next = Math.max(next, header.lastOffset + 1)
    }
  }
  return { earliest, latest, records, markers }
}

/** Acknowledged records against what a partition holds. */
const checkPartition = (model: Model, name: string, t: TopicModel, partition: number, read: PartitionRead): void => {
  const acked = model.acked.get(`${name}/${partition}`) ?? new Map<number, readonly [string | null, string]>()
  if (t.policy === "compact") {
    // The latest acknowledged value of each key stays, unless a later record of the key replaced it.
    const latestByKey = new Map<string, number>()
    for (const [offset, [key]] of acked) if (key !== null && offset >= (latestByKey.get(key) ?? -1)) latestByKey.set(key, offset)
    for (const [key, offset] of latestByKey) {
      const kept = read.records.get(offset)
      if (kept !== undefined) {
        expect(kept[1], `${name}-${partition}: acknowledged offset ${offset}`).toBe(acked.get(offset)![1])
        continue
      }
      const replaced = [...read.records].some(([o, [k]]) => k === key && o > offset)
      expect(replaced, `${name}-${partition}: key ${key} lost its latest acknowledged value at ${offset}`).toBe(true)
    }
    for (const [offset, value] of read.records) {
      const a = acked.get(offset)
      if (a !== undefined) expect(value[1], `${name}-${partition}: value at ${offset}`).toBe(a[1])
    }
    return
  }
  for (const [offset, [, value]] of acked) {
    if (offset < read.earliest) {
      expect(t.policy, `${name}-${partition}: offset ${offset} below the log start ${read.earliest} without retention`).toBe("retention")
      continue
    }
    expect(read.records.get(offset)?.[1], `${name}-${partition}: acknowledged offset ${offset}`).toBe(value)
  }
  // An acknowledged EndTxn left its marker after the transaction's records.
  for (const txn of model.txns) {
    if (txn.topic !== name || txn.partition !== partition || txn.outcome === undefined || txn.records === undefined) continue
    const lastOffset = txn.records[txn.records.length - 1]![0]
    if (lastOffset < read.earliest) continue
    const marker = read.markers.find(([offset, pid]) => pid === txn.producerId && offset > lastOffset)
    expect(marker, `${name}-${partition}: marker of the transaction ending at ${lastOffset}`).toBeDefined()
    expect(marker![2], `${name}-${partition}: the marker says what EndTxn was acknowledged as`).toBe(txn.outcome)
  }
}

/**
 * Checks a recovered broker against the model: topics, then the partitions in `only` (all if
 * undefined). With `learn`, what landed without an acknowledgement joins the model (the next
 * rounds continue from it); crash images are checked read-only.
 */
const verify = async (port: number, logDir: string, model: Model, options: { only?: ReadonlySet<string>; learn: boolean }): Promise<void> => {
  const { call, close } = await connectCall(port)
  try {
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
    if (options.learn) {
      // Topics that exist after all (an in-flight creation that landed) join the model.
      for (const [name, partitions] of present) {
        if (model.uncertain.has(name)) {
          model.uncertain.delete(name)
          model.deleted.delete(name)
          const existing = model.topics.get(name)
          if (existing) existing.partitions = partitions
          else model.topics.set(name, { partitions, policy: model.policies.get(name) ?? "retention" })
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
    }
    for (const [name, t] of model.topics) {
      if (model.uncertain.has(name) || !present.has(name)) continue
      for (let partition = 0; partition < t.partitions; partition++) {
        if (options.only !== undefined && !options.only.has(`${name}/${partition}`)) continue
        const read = await readPartition(call, name, partition, t.policy === "compact")
        checkPartition(model, name, t, partition, read)
        if (options.learn) {
          const acked = model.acked.get(`${name}/${partition}`)
          for (const [offset, record] of read.records) if (!acked?.has(offset)) model.ack(name, partition, offset, [record])
        }
      }
    }
    // On disk: a directory per partition of every topic, none for deleted topics.
    for (const entry of fs.readdirSync(logDir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith("__") || entry.name.endsWith("-delete")) continue
      const m = /^(.*)-(\d+)$/.exec(entry.name)
      if (m === null) continue
      const [, topic, partition] = m
      expect(present.has(topic!) && Number(partition) < present.get(topic!)!, `orphan partition directory ${entry.name}`).toBe(true)
      checkIndexes(path.join(logDir, entry.name))
    }
  } finally {
    close()
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

/** Recovers a crash image with an in-process broker and checks it read-only. */
const verifyImage = async (image: CrashImage): Promise<void> => {
  if (process.env["CRASH_KEEP_IMAGE"] !== undefined) fs.cpSync(image.dir, process.env["CRASH_KEEP_IMAGE"], { recursive: true })
  const broker = await phase("image start", () => startBroker({
    properties: {
      "log.dirs": image.dir,
      "http.listener": "",
      "log.cleaner.enable": "false",
      "log.retention.check.interval.ms": "3600000",
      "num.partitions": "1"
    },
    requestMetrics: false,
    logLevel: "Error"
  }))
  try {
    await phase("image verify", () => verify(broker.port, image.dir, image.model, { only: image.model.dirty, learn: false }))
  } finally {
    await phase("image stop", () => broker.stop())
    fs.rmSync(image.dir, { recursive: true, force: true })
  }
}

/** After the last restart: open transactions time out and abort; read_committed then shows exactly the committed ones. */
const verifyCommitted = async (port: number, model: Model): Promise<void> => {
  const { call, close } = await connectCall(port)
  try {
    const partitions = new Set(model.txns.map((t) => `${t.topic}/${t.partition}`))
    for (const key of partitions) {
      const [name, p] = key.split("/") as [string, string]
      const partition = Number(p)
      if (!model.topics.has(name) || model.uncertain.has(name)) continue
      // The last stable offset reaches the end once every open transaction is aborted on its timeout.
      let stable = false
      for (let i = 0; i < 200 && !stable; i++) {
        const lso = (await call(ListOffsets, 7, listOffsetsRequest([[name, [[partition, -1]]]], 1))).topics[0].partitions[0]
        const hw = (await call(ListOffsets, 7, listOffsetsRequest([[name, [[partition, -1]]]], 0))).topics[0].partitions[0]
        stable = Number(lso.offset) === Number(hw.offset)
        // Waits on the broker (a fetch at the end waits up to max_wait_ms for data), not on a timer here.
        if (!stable) await call(Fetch, 12, fetchRequest([{ topic: name, partition, offset: Number(hw.offset) }], { maxWaitMs: 50, minBytes: 1 }))
      }
      expect(stable, `${key}: open transactions are aborted on their timeout`).toBe(true)
      // As a read_committed consumer reads: a batch of a producer is dropped from the first
      // offset of an aborted transaction the broker lists up to that producer's ABORT marker.
      const visible = new Set<string>()
      const listed = new Map<number, readonly [number, number]>()
      const abortedNow = new Set<number>()
      let next = 0
      for (let i = 0; i < 10_000; i++) {
        const fetched = await call(Fetch, 12, fetchRequest([{ topic: name, partition, offset: next }], { isolationLevel: 1 }))
        const part = fetched.responses[0].partitions[0]
        for (const a of (part.abortedTransactions ?? []) as Array<{ producerId: bigint; firstOffset: bigint }>) {
          listed.set(Number(a.firstOffset), [Number(a.producerId), Number(a.firstOffset)])
        }
        const batches = batchesOf(part.records).batches
        if (batches.length === 0) break
        for (const b of batches) {
          const h = readBatchHeader(b.bytes, 0)
          if (h.lastOffset < next) continue
          next = h.lastOffset + 1
          for (const [first, [pid]] of listed) {
            if (first <= h.baseOffset) {
              abortedNow.add(pid)
              listed.delete(first)
            }
          }
          if (h.isControl) {
            const marker = readTxnMarker(b.bytes)
            if (marker !== undefined && !marker.commit) abortedNow.delete(marker.producerId)
            continue
          }
          if (h.isTransactional && abortedNow.has(h.producerId)) continue
          for (const r of readRecords(b.bytes)) visible.add(decoder.decode(r.value!))
        }
      }
      for (const txn of model.txns) {
        if (`${txn.topic}/${txn.partition}` !== key || txn.records === undefined) continue
        const shown = txn.records.filter(([, v]) => visible.has(v)).length
        if (txn.outcome === true) expect(shown, `${key}: committed transaction at ${txn.records[0]![0]} is read committed`).toBe(txn.records.length)
        else if (txn.outcome === false) expect(shown, `${key}: aborted transaction at ${txn.records[0]![0]} is never read committed`).toBe(0)
        else expect([0, txn.records.length], `${key}: a transaction whose EndTxn was unanswered is all or nothing`).toContain(shown)
      }
    }
  } finally {
    close()
  }
}

const debug = process.env["CRASH_DEBUG"] !== undefined
const phase = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
  const t = Date.now()
  try {
    return await f()
  } finally {
    if (debug) console.log(`crash phase ${name}: ${Date.now() - t} ms, cpu ${Math.round(process.cpuUsage().user / 1000)}`)
  }
}

const cpuMs = (pid: number): number => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10
}

describe.skipIf(!fs.existsSync("/proc/self/stat"))("crash consistency under SIGKILL", () => {
  it(`keeps every acknowledged record and change through ${ITERATIONS} crash points`, async () => {
    const logDir = fs.mkdtempSync(path.join(scratchRoot(), "kafka-crash-"))
    const random = prng(SEED)
    const model = new Model()
    const started = Date.now()
    const cpuBefore = process.cpuUsage()
    let images = 0
    let rounds = 0
    brokerCpuMs = 0
    // Each round is one broker process: its images, then its SIGKILL.
    while (images + rounds < ITERATIONS) {
      const broker = await phase("start", () => startBrokerProcess({ logDir, args: BROKER_ARGS }))
      let taken: Array<CrashImage> = []
      try {
        await phase("verify", () => verify(broker.port, logDir, model, { only: model.dirty, learn: true }))
        model.dirty.clear()
        const wanted = Math.min(IMAGES_PER_ROUND, ITERATIONS - images - rounds - 1)
        taken = await phase("round", () => runRound(broker, model, rounds, random, wanted))
      } finally {
        broker.child.kill("SIGKILL")
        await broker.exited
      }
      rounds++
      for (const image of taken) await phase("image", () => verifyImage(image))
      images += taken.length
    }
    const last = await startBrokerProcess({ logDir, args: BROKER_ARGS })
    try {
      await verify(last.port, logDir, model, { learn: true })
      await phase("committed", () => verifyCommitted(last.port, model))
    } finally {
      last.child.kill("SIGTERM")
      await last.exited
    }
    const cpu = process.cpuUsage(cpuBefore)
    const points = images + rounds
    console.log(
      `crash harness: ${points} crash points (${images} images, ${rounds} SIGKILLs), ${model.txns.length} transactions, ` +
        `${Date.now() - started} ms wall; CPU: test side ${Math.round((cpu.user + cpu.system) / 1000)} ms, broker processes ${brokerCpuMs} ms ` +
        `(${Math.round(((cpu.user + cpu.system) / 1000 + brokerCpuMs) / points)} ms per crash point)`
    )
    expect(points).toBe(ITERATIONS)
    fs.rmSync(logDir, { recursive: true, force: true })
  }, Number(process.env["CRASH_TIMEOUT_MS"] ?? 900_000))
})
