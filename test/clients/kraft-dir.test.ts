/**
 * Issue proof: a KRaft data directory built byte by byte from the documented layouts (not
 * by this project's writers: see test/metadata/kraft-fixture.ts) opens, and its topics are
 * served through DescribeTopicPartitions, Metadata and Fetch. The directory is one a Kafka
 * node leaves after a while: a snapshot `<offset>-<epoch>.checkpoint` holding topics, a log
 * after it that adds and removes topics, a meta.properties from another implementation
 * (padded base64 directory.id, an unknown key) and a `.kafka_cleanshutdown` marker.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import { describe, expect, it } from "vitest"
import { DescribeTopicPartitions } from "../../src/protocol/generated/apis.ts"
import { startBrokerProcess } from "../support/broker-process.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"
import { buildBatch, data, removeTopicRecord, writeKraftLogDir } from "../metadata/kraft-fixture.ts"
import { requireTool } from "../support/os-tools.ts"

const utf8 = (s: string) => new TextEncoder().encode(s)

describe.skipIf(requireTool("kcat") === undefined)("a KRaft data directory written by hand", () => {
  it("opens, and its topics are served through DescribeTopicPartitions, Metadata and Fetch", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-kraft-dir-"))
    const doomedId = "ZG9vbWVkVG9waWNJZDAxMg"
    const removedFromLog = "cmVtb3ZlZEZyb21Mb2cwMQ"
    const kraft = writeKraftLogDir(logDir, {
      nodeId: 1,
      directoryId: "EAAAAAAAQACAAAAAAAAAAQ",
      snapshotTopics: [{ name: "legacy", partitions: 2 }, { name: "doomed", topicId: doomedId, partitions: 1 }],
      topics: [{ name: "orders", partitions: 1 }, { name: "short-lived", topicId: removedFromLog, partitions: 1 }],
      extraBatches: [{ records: data(removeTopicRecord(doomedId)) }, { records: data(removeTopicRecord(removedFromLog)) }]
    })
    const legacy = kraft.snapshotTopics.find((t) => t.name === "legacy")!
    fs.writeFileSync(
      path.join(logDir, "meta.properties"),
      `#\n#Tue Mar 05 10:00:00 UTC 2024\ncluster.id=${kraft.clusterId}\ndirectory.id=EAAAAAAAQACAAAAAAAAAAQ==\nnode.id=1\nversion=1\nvendor.extra=1\n`
    )
    fs.writeFileSync(path.join(logDir, ".kafka_cleanshutdown"), `{"version":0,"brokerEpoch":2}`)

    // Partition legacy-0 as Kafka lays it out: a segment with one batch, and partition.metadata.
    const partitionDir = path.join(logDir, "legacy-0")
    fs.mkdirSync(partitionDir)
    const batch = buildBatch({
      baseOffset: 0,
      leaderEpoch: 0,
      records: [0, 1, 2].map((i) => ({ key: utf8(`key-${i}`), value: utf8(`value-${i}`) }))
    })
    fs.writeFileSync(path.join(partitionDir, "00000000000000000000.log"), batch)
    fs.writeFileSync(path.join(partitionDir, "partition.metadata"), `version: 0\ntopic_id: ${legacy.topicId}\n`)

    const broker = await startBrokerProcess({ logDir })
    try {
      // DescribeTopicPartitions v0, over the wire.
      const client = await WireClient.connect(broker.port)
      client.write(encodeRequest(DescribeTopicPartitions, 0, 1, { topics: [{ name: "legacy" }, { name: "doomed" }], responsePartitionLimit: 100 }))
      const { body } = decodeResponse(DescribeTopicPartitions, 0, await client.read())
      client.close()
      // Sorted by name, as Kafka answers.
      expect(body.topics.map((t: { name: string }) => t.name)).toEqual(["doomed", "legacy"])
      expect(body.topics[1]).toMatchObject({ errorCode: 0, topicId: legacy.topicId })
      expect(body.topics[1].partitions.map((p: { partitionIndex: number; leaderId: number }) => [p.partitionIndex, p.leaderId])).toEqual([[0, 1], [1, 1]])
      // In the snapshot, removed by the log after it.
      expect(body.topics[0]).toMatchObject({ errorCode: 3, topicId: "AAAAAAAAAAAAAAAAAAAAAA" })

      // Metadata, through KafkaJS.
      const kafka = new Kafka({ clientId: "kraft-dir-test", brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING })
      const admin = kafka.admin()
      await admin.connect()
      const metadata = await admin.fetchTopicMetadata()
      await admin.disconnect()
      expect(metadata.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual([["legacy", 2], ["orders", 1]])

      // Fetch, through kcat: the records Kafka's layout put in legacy-0.
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn("kcat", ["-C", "-b", `127.0.0.1:${broker.port}`, "-t", "legacy", "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%o %k %s\\n"])
        let stdout = ""
        child.stdout.on("data", (d) => (stdout += d))
        child.on("error", reject)
        child.on("close", () => resolve(stdout))
      })
      expect(out.trim().split("\n")).toEqual(["0 key-0 value-0", "1 key-1 value-1", "2 key-2 value-2"])
    } finally {
      broker.child.kill("SIGTERM")
      await broker.exited
    }
  })
})
