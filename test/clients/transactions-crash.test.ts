/**
 * Issue 7 fault proofs on a real broker process, killed with SIGKILL:
 * - a transaction whose EndTxn(commit) was acknowledged before the kill is visible to
 *   read_committed consumers after the restart, and the group offsets it committed with
 *   sendOffsets are the group's committed offsets;
 * - a transaction left open by the kill is aborted by the restarted coordinator when its
 *   timeout (short here) expires, its producer fenced, and a read_committed consumer never
 *   sees its records. The consumer reads up to a committed end record written after the
 *   restart, which it can only reach once the open transaction is aborted (the last stable
 *   offset holds it back until then): no sleep, the abort itself is what the test waits for.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import { describe, expect, it } from "vitest"
import type { AnyApi } from "../../src/protocol/api.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { DescribeTransactions } from "../../src/protocol/generated/apis/DescribeTransactions.ts"
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

const PARTITIONS = 2
const END = "end"
const TXN_TIMEOUT_MS = 1500

const ARGS = [
  "--override", "transaction.state.log.num.partitions=3",
  "--override", "offsets.topic.num.partitions=3",
  "--override", "transaction.abort.timed.out.transaction.cleanup.interval.ms=200",
  "--override", "group.initial.rebalance.delay.ms=0"
]

const kafkaOf = (broker: BrokerProcess, clientId: string) =>
  new Kafka({ clientId, brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING })

const describeTxn = async (broker: BrokerProcess, transactionalId: string) => {
  const wire = await WireClient.connect(broker.port)
  try {
    wire.write(encodeRequest(DescribeTransactions as AnyApi, 0, 1, { transactionalIds: [transactionalId] }))
    return decodeResponse(DescribeTransactions as AnyApi, 0, await wire.read()).body.transactionStates[0]
  } finally {
    wire.close()
  }
}

describe("transactions across kill -9", () => {
  it("an acknowledged commit survives; an open transaction is aborted on timeout and never read committed", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-txn-kill9-"))
    const topic = "txn-crash"
    const first = await startBrokerProcess({ logDir, args: ARGS })
    let firstProducerId: bigint
    try {
      const kafka = kafkaOf(first, "before-crash")
      const admin = kafka.admin()
      await admin.connect()
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] })
      await admin.disconnect()

      const committer = kafka.producer({ transactionalId: "committed-before-crash", maxInFlightRequests: 1, idempotent: true })
      await committer.connect()
      const committed = await committer.transaction()
      await committed.send({ topic, messages: [{ partition: 0, value: "committed-0" }, { partition: 1, value: "committed-1" }] })
      await committed.sendOffsets({ consumerGroupId: "eos-committed", topics: [{ topic, partitions: [{ partition: 0, offset: "42" }, { partition: 1, offset: "7" }] }] })
      await committed.commit()

      const opener = kafka.producer({ transactionalId: "open-at-crash", maxInFlightRequests: 1, idempotent: true, transactionTimeout: TXN_TIMEOUT_MS })
      await opener.connect()
      const open = await opener.transaction()
      await open.send({ topic, messages: [{ partition: 0, value: "open-0" }, { partition: 1, value: "open-1" }] })
      await open.sendOffsets({ consumerGroupId: "eos-open", topics: [{ topic, partitions: [{ partition: 0, offset: "99" }] }] })
      firstProducerId = (await describeTxn(first, "open-at-crash")).producerId
      expect((await describeTxn(first, "open-at-crash")).transactionState).toBe("Ongoing")
    } finally {
      first.child.kill("SIGKILL")
      await first.exited
    }

    const second = await startBrokerProcess({ logDir, args: ARGS })
    try {
      const kafka = kafkaOf(second, "after-crash")
      const ender = kafka.producer({ transactionalId: "after-crash", maxInFlightRequests: 1, idempotent: true })
      await ender.connect()
      const last = await ender.transaction()
      await last.send({ topic, messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, value: END })) })
      await last.commit()
      await ender.disconnect()

      const consumer = kafka.consumer({ groupId: "read-committed-after-crash", maxWaitTimeInMs: 50 })
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning: true })
      const values: Array<string> = []
      let ends = 0
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            const value = message.value!.toString()
            if (value === END) {
              if (++ends === PARTITIONS) resolve()
            } else {
              values.push(value)
            }
          }
        })
      })
      await consumer.disconnect()
      expect(values.sort()).toEqual(["committed-0", "committed-1"])

      // The coordinator aborted it and fenced its producer (epoch + 1).
      const aborted = await describeTxn(second, "open-at-crash")
      expect(aborted).toMatchObject({ errorCode: ErrorCode.NONE, transactionState: "CompleteAbort", producerId: firstProducerId, producerEpoch: 1 })
      expect((await describeTxn(second, "committed-before-crash")).transactionState).toBe("CompleteCommit")

      // Offsets sent in the committed transaction are committed; those of the aborted one never are.
      const admin = kafka.admin()
      await admin.connect()
      const offsetsOf = async (groupId: string) =>
        (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.map((p) => [p.partition, p.offset]).sort()
      expect(await offsetsOf("eos-committed")).toEqual([[0, "42"], [1, "7"]])
      expect(await offsetsOf("eos-open")).toEqual([[0, "-1"], [1, "-1"]])
      await admin.disconnect()
    } finally {
      second.child.kill("SIGKILL")
      await second.exited
    }
  })
})
