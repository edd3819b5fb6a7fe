/**
 * Issue 7 proof with librdkafka (python's confluent-kafka): a transactional
 * consume-transform-produce loop over 10 000 records, committing the consumed offsets with
 * send_offsets_to_transaction, one transaction aborted on purpose along the way; the output
 * topic, read committed, holds each input exactly once.
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, handlers, startBroker } from "../../src/broker.ts"
import { TxnOffsetCommit } from "../../src/protocol/generated/apis/TxnOffsetCommit.ts"
import { requireTool } from "../support/os-tools.ts"

const RECORDS = 10_000
const python = requireTool("python3-confluent-kafka")
/** TxnOffsetCommit is the group coordinator's; without it the loop runs without committing offsets. */
const withOffsets = handlers.some((h) => h.api.apiKey === TxnOffsetCommit.apiKey)

const run = (cmd: string, args: ReadonlyArray<string>): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }))
  })

describe.runIf(python !== undefined)("confluent-kafka (librdkafka) exactly-once", () => {
  let broker: EmbeddedBroker
  beforeAll(async () => {
    broker = await startBroker({
      properties: { "group.initial.rebalance.delay.ms": "0", "num.partitions": "3", "transaction.state.log.num.partitions": "5", "offsets.topic.num.partitions": "5" }
    })
  })
  afterAll(() => broker?.stop())

  it(`consume-transform-produce over ${RECORDS} records: the output holds each input exactly once`, async () => {
    const script = path.join(import.meta.dirname, "python", "eos_transform.py")
    const result = await run(python!, [script, broker.bootstrap, "eos-in", "eos-out", String(RECORDS), withOffsets ? "1" : "0"])
    expect(result.stderr.split("\n").filter((l) => /Traceback|Error/.test(l))).toEqual([])
    expect(result.code).toBe(0)
    const findings = JSON.parse(result.stdout.trim().split("\n").at(-1)!)
    expect(findings).toMatchObject({ abortedOnPurpose: true, outputRecords: RECORDS, distinct: RECORDS, duplicates: [], missing: [] })
    expect(findings.transactions).toBeGreaterThan(3)
    if (withOffsets) {
      // The committed group offsets cover the whole input (3 partitions, RECORDS in all).
      const total = Object.values(findings.groupOffsets as Record<string, number>).reduce((a, b) => a + b, 0)
      expect(total).toBe(RECORDS)
    }
  }, 180_000)
})
