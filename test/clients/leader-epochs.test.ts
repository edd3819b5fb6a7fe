/**
 * Issue 8 proof, leader epochs across a restart: a restarted broker starts a new leader epoch
 * for its partitions (as Kafka's controller does when the broker comes back), OffsetForLeaderEpoch
 * answers the old epoch's end offset from the leader-epoch cache (`leader-epoch-checkpoint`),
 * a request carrying the old epoch as current is fenced, and a librdkafka consumer (python
 * confluent-kafka; kcat exits when its only broker goes away) keeps consuming across the
 * restart, going through FENCED_LEADER_EPOCH and a metadata refresh.
 *
 * librdkafka 2.0.2 (the one installed) predates its KIP-320 offset validation (2.1.0), so it
 * does not send OffsetForLeaderEpoch itself; the protocol-level assertions stand in for it.
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
import { requireTool } from "../support/os-tools.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

const python = requireTool("python3-confluent-kafka")

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
  return {
    lines: () => out.split("\n").filter((l) => l !== ""),
    waitFor: async (n: number) => {
      while (out.split("\n").filter((l) => l !== "").length < n) {
        await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), exited])
      }
    }
  }
}

const stop = async (broker: BrokerProcess) => {
  if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill("SIGTERM")
  await broker.exited
}

describe.skipIf(python === undefined)("leader epochs across a restart", () => {
  it("starts a new epoch, answers OffsetForLeaderEpoch from the epoch cache, and librdkafka consumes straight through", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-epochs-"))
    const port = await freePort()
    const args = ["--override", `listeners=PLAINTEXT://127.0.0.1:${port}`]
    const first = await startBrokerProcess({ logDir, args })
    try {
    const kafka = new Kafka({ clientId: "leader-epochs-admin", brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] })
    await admin.disconnect()
    await produce(port, 0, 10)
    const before = await probe(port, 0)
    expect(before.answer).toEqual({ errorCode: ErrorCode.NONE, leaderEpoch: before.leaderEpoch, endOffset: 10 })

    const consumer = spawn(python!, ["-c", CONSUMER, `127.0.0.1:${port}`, TOPIC])
    try {
      const consumed = linesFrom(consumer)
      await consumed.waitFor(10)

      await stop(first)
      const second = await startBrokerProcess({ logDir, args })
      try {
        const after = await probe(port, before.leaderEpoch)
        expect(after.leaderEpoch).toBe(before.leaderEpoch + 1)
        // The old epoch ended where the new one began: the log end offset at the restart.
        expect(after.answer).toEqual({ errorCode: ErrorCode.NONE, leaderEpoch: before.leaderEpoch, endOffset: 10 })
        expect((await probe(port, before.leaderEpoch, before.leaderEpoch)).answer.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH)

        await produce(port, 10, 10)
        // The new epoch reaches the checkpoint with its first records (an entry at the log end
        // with no records is written then, not at start-up: see LeaderEpochCache.assign).
        expect(fs.readFileSync(path.join(logDir, `${TOPIC}-0`, "leader-epoch-checkpoint"), "utf8"))
          .toBe(`0\n2\n${before.leaderEpoch} 0\n${after.leaderEpoch} 10\n`)
        expect((await probe(port, after.leaderEpoch)).answer).toEqual({ errorCode: ErrorCode.NONE, leaderEpoch: after.leaderEpoch, endOffset: 20 })
        await consumed.waitFor(20)
        expect(consumed.lines()).toEqual(Array.from({ length: 20 }, (_, i) => `${i} m${i}`))
      } finally {
        await stop(second)
      }
    } finally {
      consumer.kill("SIGKILL")
    }
    } finally {
      await stop(first)
    }
  }, 60_000)
})
