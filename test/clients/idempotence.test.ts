/**
 * Issue 7 proof, log side: idempotent producers of three real clients deliver every record
 * exactly once; a raw client's retried batch is answered with its original offset and not
 * written twice; gaps and fenced epochs get Kafka's codes; producer state survives a clean
 * restart and a `kill -9` of the broker process.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Admin, Producer, stringSerializers } from "@platformatic/kafka"
import { Kafka, logLevel } from "kafkajs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import { buildRecordBatch } from "../../src/log/record-batch.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { CreateTopics, InitProducerId, ListOffsets, Produce } from "../../src/protocol/generated/apis.ts"
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.ts"
import { requireTool } from "../support/os-tools.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

const haveKcat = requireTool("kcat") !== undefined

let broker: EmbeddedBroker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

const run = (cmd: string, args: ReadonlyArray<string>, input?: string): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }))
    child.stdin.end(input ?? "")
  })

/** Every value of a topic, read with kcat. */
const valuesOf = async (bootstrap: string, topic: string): Promise<Array<string>> => {
  const out = await run("kcat", ["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\\n"])
  expect(out.code).toBe(0)
  return out.stdout.trim() === "" ? [] : out.stdout.trim().split("\n")
}

const expectExactlyOnce = (values: ReadonlyArray<string>, count: number, prefix: string) => {
  expect(values).toHaveLength(count)
  expect(new Set(values).size).toBe(count)
  for (let i = 0; i < count; i += Math.max(1, Math.floor(count / 100))) expect(values).toContain(`${prefix}${i}`)
}

/** Offsets taken in a topic (sum of high watermarks): every record written once adds one. */
const recordCount = async (kafka: Kafka, topic: string): Promise<number> => {
  const admin = kafka.admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  return offsets.reduce((n, o) => n + Number(o.high), 0)
}

// ---------------------------------------------------------------------------------------
// Raw wire helpers
// ---------------------------------------------------------------------------------------

class Wire {
  private correlation = 0
  private readonly client: WireClient
  constructor(client: WireClient) {
    this.client = client
  }
  static async connect(port: number): Promise<Wire> {
    return new Wire(await WireClient.connect(port))
  }
  // oxlint-disable-next-line no-explicit-any
  async call(api: any, version: number, body: unknown): Promise<any> {
    const id = ++this.correlation
    this.client.write(encodeRequest(api, version, id, body))
    const response = decodeResponse(api, version, await this.client.read())
    expect(response.correlationId).toBe(id)
    return response.body
  }
  async createTopic(name: string): Promise<void> {
    const r = await this.call(CreateTopics, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false })
    expect(r.topics[0].errorCode).toBe(0)
  }
  async initProducerId(): Promise<{ producerId: number; producerEpoch: number }> {
    const r = await this.call(InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1n, producerEpoch: -1 })
    expect(r.errorCode).toBe(0)
    return { producerId: Number(r.producerId), producerEpoch: r.producerEpoch }
  }
  async produce(topic: string, records: Uint8Array): Promise<{ errorCode: number; baseOffset: bigint }> {
    const r = await this.call(Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] })
    return r.responses[0].partitionResponses[0]
  }
  async latest(topic: string): Promise<bigint> {
    const r = await this.call(ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] })
    return r.topics[0].partitions[0].offset
  }
  close(): void {
    this.client.close()
  }
}

const idempotentBatch = (producerId: number, epoch: number, seq: number, count: number, tag: string) =>
  buildRecordBatch({
    records: Array.from({ length: count }, (_, i) => ({ value: `${tag}-${seq + i}`, timestamp: Date.now() })),
    producerId,
    producerEpoch: epoch,
    baseSequence: seq
  })

describe("idempotent produce on the wire", () => {
  it("answers a resent acknowledged batch with its original offset and writes nothing twice; gaps and old epochs get Kafka's codes", async () => {
    const wire = await Wire.connect(broker.port)
    await wire.createTopic("wire-dedup")
    const { producerId, producerEpoch } = await wire.initProducerId()
    expect(producerEpoch).toBe(0)
    const other = await wire.initProducerId()
    expect(other.producerId).not.toBe(producerId)

    const first = idempotentBatch(producerId, 0, 0, 3, "a")
    const second = idempotentBatch(producerId, 0, 3, 2, "a")
    expect(await wire.produce("wire-dedup", Uint8Array.from(first))).toMatchObject({ errorCode: 0, baseOffset: 0n })
    expect(await wire.produce("wire-dedup", Uint8Array.from(second))).toMatchObject({ errorCode: 0, baseOffset: 3n })
    // The retry of the first batch: same offset, nothing appended.
    expect(await wire.produce("wire-dedup", Uint8Array.from(first))).toMatchObject({ errorCode: 0, baseOffset: 0n })
    expect(await wire.latest("wire-dedup")).toBe(5n)
    // A gap in sequence numbers.
    expect((await wire.produce("wire-dedup", idempotentBatch(producerId, 0, 7, 1, "a"))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    // A bumped epoch (starting again at 0) fences the old one.
    expect((await wire.produce("wire-dedup", idempotentBatch(producerId, 1, 0, 1, "b"))).errorCode).toBe(0)
    expect((await wire.produce("wire-dedup", idempotentBatch(producerId, 0, 5, 1, "a"))).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
    expect(await wire.latest("wire-dedup")).toBe(6n)
    // InitProducerId: an id without an epoch is INVALID_REQUEST; a transactional id awaits the coordinator.
    const bad = await wire.call(InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: 5n, producerEpoch: -1 })
    expect(bad.errorCode).toBe(ErrorCode.INVALID_REQUEST)
    const kip360 = await wire.call(InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: BigInt(producerId), producerEpoch: 1 })
    expect([kip360.errorCode, kip360.producerEpoch]).toEqual([0, 0])
    expect(Number(kip360.producerId)).not.toBe(producerId)
    wire.close()
  })
})

describe("idempotent producers of real clients", () => {
  it("KafkaJS (idempotent: true) delivers each record exactly once", async () => {
    const kafka = new Kafka({ clientId: "kafkajs-idempotent", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: "kafkajs-idempotent", numPartitions: 3 }] })
    await admin.disconnect()
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
    await producer.connect()
    for (let start = 0; start < 3000; start += 500) {
      await producer.send({ topic: "kafkajs-idempotent", messages: Array.from({ length: 500 }, (_, j) => ({ key: `k${start + j}`, value: `kjs-${start + j}` })) })
    }
    await producer.disconnect()
    expect(await recordCount(kafka, "kafkajs-idempotent")).toBe(3000)
    if (haveKcat) expectExactlyOnce(await valuesOf(broker.bootstrap, "kafkajs-idempotent"), 3000, "kjs-")
  })

  it("@platformatic/kafka (idempotent: true) delivers each record exactly once", async () => {
    const admin = new Admin({ clientId: "platformatic-admin", bootstrapBrokers: [broker.bootstrap] })
    await admin.createTopics({ topics: ["platformatic-idempotent"], partitions: 3, replicas: 1 })
    await admin.close()
    const producer = new Producer({ clientId: "platformatic-idempotent", bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers, idempotent: true })
    for (let start = 0; start < 3000; start += 500) {
      await producer.send({ messages: Array.from({ length: 500 }, (_, j) => ({ topic: "platformatic-idempotent", key: `k${start + j}`, value: `plat-${start + j}` })) })
    }
    await producer.close()
    expect(await recordCount(new Kafka({ clientId: "count", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }), "platformatic-idempotent")).toBe(3000)
    if (haveKcat) expectExactlyOnce(await valuesOf(broker.bootstrap, "platformatic-idempotent"), 3000, "plat-")
  })

  it.skipIf(!haveKcat)("kcat -X enable.idempotence=true produces 100 000 records with no loss and no duplicates", async () => {
    const admin = new Admin({ clientId: "kcat-admin", bootstrapBrokers: [broker.bootstrap] })
    await admin.createTopics({ topics: ["kcat-idempotent"], partitions: 3, replicas: 1 })
    await admin.close()
    const count = 100_000
    const lines = Array.from({ length: count }, (_, i) => `kc-${i}`).join("\n") + "\n"
    const produced = await run("kcat", ["-P", "-b", broker.bootstrap, "-t", "kcat-idempotent", "-X", "enable.idempotence=true", "-X", "linger.ms=5"], lines)
    expect(produced.stderr).toBe("")
    expect(produced.code).toBe(0)
    expectExactlyOnce(await valuesOf(broker.bootstrap, "kcat-idempotent"), count, "kc-")
  })
})

describe("producer state across broker restarts (real process)", () => {
  const stop = async (proc: BrokerProcess, signal: NodeJS.Signals) => {
    proc.child.kill(signal)
    return await proc.exited
  }

  it("a retry after a clean restart and after kill -9 is still deduplicated; producer ids never repeat", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-idempotence-"))
    try {
      let proc = await startBrokerProcess({ logDir })
      let wire = await Wire.connect(proc.port)
      await wire.createTopic("durable-dedup")
      const { producerId } = await wire.initProducerId()
      const b0 = idempotentBatch(producerId, 0, 0, 4, "r")
      const b1 = idempotentBatch(producerId, 0, 4, 4, "r")
      expect((await wire.produce("durable-dedup", Uint8Array.from(b0))).baseOffset).toBe(0n)
      expect((await wire.produce("durable-dedup", Uint8Array.from(b1))).baseOffset).toBe(4n)
      wire.close()
      expect((await stop(proc, "SIGTERM")).code).toBe(0)
      expect(fs.existsSync(path.join(logDir, "durable-dedup-0", "00000000000000000008.snapshot"))).toBe(true)

      proc = await startBrokerProcess({ logDir })
      wire = await Wire.connect(proc.port)
      expect(await wire.produce("durable-dedup", Uint8Array.from(b1))).toMatchObject({ errorCode: 0, baseOffset: 4n })
      const b2 = idempotentBatch(producerId, 0, 8, 4, "r")
      expect((await wire.produce("durable-dedup", Uint8Array.from(b2))).baseOffset).toBe(8n)
      const second = await wire.initProducerId()
      expect(second.producerId).toBeGreaterThanOrEqual(1000)
      wire.close()
      // Crash: no shutdown snapshot for b2; recovery replays the log after the last snapshot.
      expect((await stop(proc, "SIGKILL")).signal).toBe("SIGKILL")

      proc = await startBrokerProcess({ logDir })
      wire = await Wire.connect(proc.port)
      expect(await wire.produce("durable-dedup", Uint8Array.from(b2))).toMatchObject({ errorCode: 0, baseOffset: 8n })
      expect((await wire.produce("durable-dedup", idempotentBatch(producerId, 0, 13, 1, "r"))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
      expect(await wire.latest("durable-dedup")).toBe(12n)
      const third = await wire.initProducerId()
      expect(third.producerId).toBeGreaterThanOrEqual(2000)
      wire.close()
      await stop(proc, "SIGTERM")
    } finally {
      fs.rmSync(logDir, { recursive: true, force: true })
    }
  })
})
