/**
 * Real clients complete ApiVersions negotiation against the running broker: KafkaJS
 * (connects through ApiVersions before anything else) and kcat (librdkafka, from Debian).
 */
import { execFile } from "node:child_process"
import { Kafka, logLevel } from "kafkajs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import { requireTool } from "../support/os-tools.ts"

const kcat = requireTool("kcat")

let broker: EmbeddedBroker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

const run = (cmd: string, args: ReadonlyArray<string>): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }))
  })

describe("ApiVersions negotiation with real clients", () => {
  it("KafkaJS connects (its connect is the ApiVersions exchange)", async () => {
    const kafka = new Kafka({ clientId: "negotiation-test", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } })
    const admin = kafka.admin()
    const connected: Array<unknown> = []
    admin.on(admin.events.CONNECT, (e) => connected.push(e))
    await admin.connect()
    expect(connected).toHaveLength(1)
    await admin.disconnect()
  })

  it.skipIf(kcat === undefined)("kcat (librdkafka) negotiates ApiVersions v3 and learns the broker's API versions", async () => {
    const { stderr } = await run("kcat", ["-b", broker.bootstrap, "-L", "-d", "protocol,feature", "-m", "5"])
    expect(stderr).toMatch(/Sent ApiVersionRequest \(v3/)
    expect(stderr).toMatch(/Received ApiVersionResponse \(v3/)
    expect(stderr).not.toMatch(/ApiVersionRequest failed/)
  })
})
