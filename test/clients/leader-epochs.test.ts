/**
 * Issue 8 proof, leader epochs across a restart: a restarted broker starts a new leader epoch
 * for its partitions (as Kafka's controller does when the broker comes back), OffsetForLeaderEpoch
 * answers the old epoch's end offset from the leader-epoch cache (`leader-epoch-checkpoint`),
 * a request carrying the old epoch as current is fenced, and librdkafka consumers keep
 * consuming across the restart:
 * - kcat on librdkafka >= 2.1 (KIP-320; built by `pnpm build:librdkafka`): it sees the new
 *   epoch in Metadata, validates its position with OffsetForLeaderEpoch (asserted from its
 *   `-d protocol` log) and goes on from there;
 * - python confluent-kafka on Debian's librdkafka 2.0.2, which predates that validation and
 *   goes through FENCED_LEADER_EPOCH and a metadata refresh instead.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import { describe, expect, it } from "vitest"
import { Metadata, OffsetForLeaderEpoch } from "../../src/protocol/generated/apis.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.ts"
import { requireKip320Kcat, requireTool } from "../support/os-tools.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

const python = requireTool("python3-confluent-kafka")
const kcat = requireKip320Kcat()

/** Consumes partition 0 from the beginning, one "offset value" line per record, until killed. */
const CONSUMER = `
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "epochs", "enable.auto.commit": False,
              "topic.metadata.refresh.interval.ms": 200, "reconnect.backoff.max.ms": 100})
c.assign([TopicPartition(sys.argv[2], 0, 0)])
while True:
    m = c.poll(0.1)
    if m is None or m.error():
        continue
    print(m.offset(), m.value().decode(), flush=True)
`
const TOPIC = "epochs"

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

const produce = async (port: number, from: number, count: number) => {
  const kafka = new Kafka({ clientId: "leader-epochs-test", brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING })
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: count }, (_, i) => ({ value: `m${from + i}` })) })
  await producer.disconnect()
}

/** The partition's leader epoch in Metadata v12, and OffsetForLeaderEpoch v4 for `epoch` (with `current` as current_leader_epoch). */
const probe = async (port: number, epoch: number, current = -1) => {
  const wire = await WireClient.connect(port)
  try {
    wire.write(encodeRequest(Metadata, 12, 1, { topics: [{ name: TOPIC }], allowAutoTopicCreation: false }))
    const leaderEpoch: number = decodeResponse(Metadata, 12, await wire.read()).body.topics[0].partitions[0].leaderEpoch
    wire.write(encodeRequest(OffsetForLeaderEpoch, 4, 2, { replicaId: -1, topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: current, leaderEpoch: epoch }] }] }))
    const answer = decodeResponse(OffsetForLeaderEpoch, 4, await wire.read()).body.topics[0].partitions[0]
    return { leaderEpoch, answer: { errorCode: answer.errorCode as number, leaderEpoch: answer.leaderEpoch as number, endOffset: Number(answer.endOffset) } }
  } finally {
    wire.close()
  }
}

/** Resolves when the consumer has printed `n` lines (or rejects if it exits first). */
const linesFrom = (child: ChildProcess) => {
  let out = ""
  let err = ""
  child.stderr!.on("data", (d) => (err += d))
  let waiters: Array<() => void> = []
  child.stdout!.on("data", (d) => {
    out += d
    const w = waiters
    waiters = []
    for (const f of w) f()
  })
  const exited = new Promise<never>((_, reject) => child.once("close", (code) => reject(new Error(`the consumer exited with ${code} after ${out.split("\n").length - 1} line(s): ${err}`))))
  // Only a wait that is still running cares; the consumers are killed once they are done with.
  exited.catch(() => {})
  // Whole lines only: a line can arrive in two chunks ("19 " and then "m19\n").
  const lines = () => out.slice(0, out.lastIndexOf("\n") + 1).split("\n").filter((l) => l !== "")
  return {
    lines,
    /** Everything it wrote to stderr (kcat's debug log). */
    errors: () => err,
    waitFor: async (n: number) => {
      while (lines().length < n) {
        await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), exited])
      }
    }
  }
}

const stop = async (broker: BrokerProcess) => {
  if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill("SIGTERM")
  await broker.exited
}

/** kcat from the beginning of partition 0: "offset value" lines; -E: a broker going away is not fatal. */
const kcatConsumer = (port: number) =>
  spawn(kcat!.kcat, [
    "-E", "-u", "-C", "-b", `127.0.0.1:${port}`, "-t", TOPIC, "-p", "0", "-o", "beginning", "-f", "%o %s\\n", "-d", "protocol",
    "-X", "topic.metadata.refresh.interval.ms=200", "-X", "reconnect.backoff.ms=50", "-X", "reconnect.backoff.max.ms=100"
  ], { env: kcat!.env, stdio: ["ignore", "pipe", "pipe"] })

describe.skipIf(python === undefined && kcat === undefined)("leader epochs across a restart", () => {
  it("starts a new epoch, answers OffsetForLeaderEpoch from the epoch cache, and librdkafka validates its position and consumes straight through", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-epochs-"))
    const port = await freePort()
    const args = ["--override", `listeners=PLAINTEXT://127.0.0.1:${port}`]
    const first = await startBrokerProcess({ logDir, args })
    const consumers: Array<{ readonly name: string; readonly child: ChildProcess; readonly consumed: ReturnType<typeof linesFrom> }> = []
    try {
      const kafka = new Kafka({ clientId: "leader-epochs-admin", brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING })
      const admin = kafka.admin()
      await admin.connect()
      await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] })
      await admin.disconnect()
      await produce(port, 0, 10)
      const before = await probe(port, 0)
      expect(before.answer).toEqual({ errorCode: ErrorCode.NONE, leaderEpoch: before.leaderEpoch, endOffset: 10 })

      if (kcat !== undefined) {
        const child = kcatConsumer(port)
        consumers.push({ name: `kcat (librdkafka ${kcat.librdkafka})`, child, consumed: linesFrom(child) })
      }
      if (python !== undefined) {
        const child = spawn(python, ["-c", CONSUMER, `127.0.0.1:${port}`, TOPIC])
        consumers.push({ name: "python confluent-kafka", child, consumed: linesFrom(child) })
      }
      for (const c of consumers) await c.consumed.waitFor(10)
      const validations = () => kcatLog().split("\n").filter((l) => l.includes("Sent OffsetForLeaderEpochRequest")).length
      const kcatLog = () => consumers.find((c) => c.name.startsWith("kcat"))?.consumed.errors() ?? ""
      // Nothing to validate while the epoch stands still.
      expect(validations()).toBe(0)

      await stop(first)
      const second = await startBrokerProcess({ logDir, args })
      try {
        const after = await probe(port, before.leaderEpoch)
        expect(after.leaderEpoch).toBe(before.leaderEpoch + 1)
        // The old epoch ended where the new one began: the log end offset at the restart.
        expect(after.answer).toEqual({ errorCode: ErrorCode.NONE, leaderEpoch: before.leaderEpoch, endOffset: 10 })
        expect((await probe(port, before.leaderEpoch, before.leaderEpoch)).answer.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH)

        await produce(port, 10, 10)
        expect((await probe(port, after.leaderEpoch)).answer).toEqual({ errorCode: ErrorCode.NONE, leaderEpoch: after.leaderEpoch, endOffset: 20 })
        for (const c of consumers) {
          await c.consumed.waitFor(20)
          expect(c.consumed.lines(), c.name).toEqual(Array.from({ length: 20 }, (_, i) => `${i} m${i}`))
        }
        if (kcat !== undefined) {
          // librdkafka saw the epoch move in Metadata and asked where its epoch ended before
          // fetching on (KIP-320); the answer (epoch ${before}, end offset 10) showed no truncation.
          expect(validations()).toBeGreaterThanOrEqual(1)
          expect(kcatLog()).toContain("Received OffsetForLeaderEpochResponse")
          expect(kcatLog()).not.toMatch(/truncat/i)
        }
      } finally {
        await stop(second)
      }
      // The new epoch reached the checkpoint once its first records were flushed (at the
      // latest at shutdown; not at start-up, when it had no records: see LeaderEpochCache).
      expect(fs.readFileSync(path.join(logDir, `${TOPIC}-0`, "leader-epoch-checkpoint"), "utf8"))
        .toBe(`0\n2\n${before.leaderEpoch} 0\n${before.leaderEpoch + 1} 10\n`)
    } finally {
      for (const c of consumers) c.child.kill("SIGKILL")
      await stop(first)
    }
  }, 60_000)
})
