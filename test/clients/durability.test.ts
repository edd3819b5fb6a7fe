/**
 * Issue proof: data survives a clean restart (topics, ids, records, offsets continue) and a
 * `kill -9` in the middle of an acks=-1 producer (every acknowledged record readable after
 * restart, no duplicate offsets). The broker runs as a real process on a fixed data dir.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import { describe, expect, it } from "vitest"
import { Metadata } from "../../src/protocol/generated/apis.ts"
import { startBrokerProcess } from "../support/broker-process.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"
import { requireTool } from "../support/os-tools.ts"

/** The topic id Metadata v12 reports for `name`, and the name it reports back for that id. */
const topicIdRoundTrip = async (port: number, name: string): Promise<{ id: string; nameById: string | null }> => {
  const client = await WireClient.connect(port)
  client.write(encodeRequest(Metadata, 12, 1, { topics: [{ name }], allowAutoTopicCreation: false }))
  const id: string = decodeResponse(Metadata, 12, await client.read()).body.topics[0].topicId
  client.write(encodeRequest(Metadata, 12, 2, { topics: [{ topicId: id, name: null }], allowAutoTopicCreation: false }))
  const nameById: string | null = decodeResponse(Metadata, 12, await client.read()).body.topics[0].name
  client.close()
  return { id, nameById }
}

const kafkaFor = (port: number) =>
  new Kafka({ clientId: "durability-test", brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } })

/** All records of a topic, read with kcat (no consumer group involved). */
const readAll = (port: number, topic: string): Promise<Array<{ partition: number; offset: number; key: string; value: string }>> =>
  new Promise((resolve, reject) => {
    const child = spawn("kcat", ["-C", "-b", `127.0.0.1:${port}`, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p|%o|%k|%s\\n"])
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.on("error", reject)
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`kcat exited with ${code}`))
      resolve(out.trim() === "" ? [] : out.trim().split("\n").map((line) => {
        const [p, o, k, v] = line.split("|")
        return { partition: Number(p), offset: Number(o), key: k!, value: v! }
      }))
    })
  })

describe.skipIf(requireTool("kcat") === undefined)("durability", () => {
  it("keeps topics, topic ids, records and offsets across a clean restart", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-restart-"))
    const first = await startBrokerProcess({ logDir })
    const kafka = kafkaFor(first.port)
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: "durable", numPartitions: 2 }] })
    await admin.disconnect()
    const before = await topicIdRoundTrip(first.port, "durable")
    expect(before.id).not.toBe("AAAAAAAAAAAAAAAAAAAAAA")
    expect(before.nameById).toBe("durable")
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: "durable", messages: Array.from({ length: 500 }, (_, i) => ({ partition: i % 2, key: `k${i}`, value: `v${i}` })) })
    await producer.disconnect()
    first.child.kill("SIGTERM")
    expect((await first.exited).code).toBe(0)

    const second = await startBrokerProcess({ logDir })
    try {
      const kafka2 = kafkaFor(second.port)
      const admin2 = kafka2.admin()
      await admin2.connect()
      const [after] = (await admin2.fetchTopicMetadata({ topics: ["durable"] })).topics
      expect(after!.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1])
      const offsets = await admin2.fetchTopicOffsets("durable")
      expect(offsets.map((o) => Number(o.high)).sort()).toEqual([250, 250])
      await admin2.disconnect()
      // The topic id is the one the metadata log recorded: stable across the restart, and lookups by id work.
      expect(await topicIdRoundTrip(second.port, "durable")).toEqual(before)

      const producer2 = kafka2.producer()
      await producer2.connect()
      const [result] = await producer2.send({ topic: "durable", messages: [{ partition: 0, key: "after", value: "restart" }] })
      expect(result!.baseOffset).toBe("250")
      await producer2.disconnect()
      const records = await readAll(second.port, "durable")
      expect(records).toHaveLength(501)
      expect(records.filter((r) => r.partition === 0).map((r) => r.offset)).toEqual(Array.from({ length: 251 }, (_, i) => i))
    } finally {
      second.child.kill("SIGTERM")
      await second.exited
    }
  })

  it("loses no acknowledged record when killed with SIGKILL while an acks=-1 producer runs, nor when killed again right after recovering", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-kill9-"))
    const first = await startBrokerProcess({ logDir })
    const kafka = kafkaFor(first.port)
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: "crash", numPartitions: 3 }] })
    await admin.disconnect()

    const producer = kafka.producer({ retry: { retries: 0 } })
    await producer.connect()
    const acknowledged: Array<string> = []
    let killed = false
    // Bounded: at most 400 sends of 25 records; the broker is killed after the 40th acknowledgement.
    for (let batch = 0; batch < 400; batch++) {
      const messages = Array.from({ length: 25 }, (_, j) => ({ key: `b${batch}-r${j}`, value: `payload-${batch}-${j}` }))
      const send = producer.send({ topic: "crash", acks: -1, messages })
      if (batch === 40 && !killed) {
        killed = true
        first.child.kill("SIGKILL")
      }
      try {
        await send
        acknowledged.push(...messages.map((m) => m.key))
      } catch {
        break
      }
    }
    await producer.disconnect().catch(() => undefined)
    await first.exited
    expect(killed).toBe(true)
    expect(acknowledged.length).toBeGreaterThanOrEqual(40 * 25)

    const second = await startBrokerProcess({ logDir })
    let records: Awaited<ReturnType<typeof readAll>>
    try {
      records = await readAll(second.port, "crash")
      const keys = new Set(records.map((r) => r.key))
      const missing = acknowledged.filter((k) => !keys.has(k))
      expect(missing).toEqual([])
      expect(records.length).toBeGreaterThanOrEqual(acknowledged.length)
      const positions = new Set(records.map((r) => `${r.partition}:${r.offset}`))
      expect(positions.size).toBe(records.length)
    } finally {
      // Killed again before anything forced what its recovery validated (recovery forces nothing).
      second.child.kill("SIGKILL")
      await second.exited
    }

    const third = await startBrokerProcess({ logDir })
    try {
      const again = await readAll(third.port, "crash")
      const byPosition = (rs: typeof records) => rs.map((r) => `${r.partition}:${r.offset}:${r.key}`).sort()
      expect(byPosition(again)).toEqual(byPosition(records))
    } finally {
      third.child.kill("SIGTERM")
      await third.exited
    }
  })
})
