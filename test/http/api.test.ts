/**
 * The console's JSON API: read-only by default (mutations refused with 403), inputs checked
 * (400 / 404 with a JSON error), changes made through the broker's own services and seen by
 * Kafka clients, request logging switchable at runtime.
 */
import { CompressionTypes, Kafka, logLevel } from "kafkajs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"

const call = async (broker: EmbeddedBroker, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${broker.httpUrl}/api/${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body)
  })
  return { status: response.status, body: (await response.json()) as any }
}

describe("console API, read-only (the default)", () => {
  let broker: EmbeddedBroker
  beforeAll(async () => {
    broker = await startBroker()
  })
  afterAll(() => broker?.stop())

  it("refuses every mutation with 403", async () => {
    expect((await call(broker, "POST", "topics", { name: "nope", partitions: 1 })).status).toBe(403)
    expect((await call(broker, "DELETE", "topics/nope")).status).toBe(403)
    expect((await call(broker, "POST", "topics/nope/messages", { value: "x" })).status).toBe(403)
    expect((await call(broker, "POST", "groups/g/reset", { topic: "t", to: "earliest" })).status).toBe(403)
    expect((await call(broker, "PUT", "logging", { debug: true })).status).toBe(403)
    const topics = await call(broker, "GET", "topics")
    expect(topics.body.map((t: { name: string }) => t.name)).not.toContain("nope")
  })

  it("answers reads, and 404 for what does not exist", async () => {
    const overview = await call(broker, "GET", "overview")
    expect(overview.status).toBe(200)
    expect(overview.body.broker).toMatchObject({ nodeId: 1, readOnly: true })
    expect(overview.body.listeners[0].address).toBe(broker.bootstrap)
    expect((await call(broker, "GET", "topics/missing")).status).toBe(404)
    expect((await call(broker, "GET", "groups/missing")).status).toBe(404)
    expect((await call(broker, "GET", "no/such/thing")).status).toBe(404)
    const config = await call(broker, "GET", "config")
    expect(config.body.find((c: { name: string }) => c.name === "http.console.read.only")).toMatchObject({ value: "true", source: "DEFAULT_CONFIG" })
  })

  it("serves the console page with a strict content security policy", async () => {
    const response = await fetch(`${broker.httpUrl}/`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/html")
    expect(response.headers.get("content-security-policy")).toContain("script-src 'self'")
    expect(await response.text()).toContain("/console/app.js")
  })
})

describe("console API, read-write", () => {
  let broker: EmbeddedBroker
  let kafka: Kafka
  beforeAll(async () => {
    broker = await startBroker({ properties: { "http.console.read.only": "false" } })
    kafka = new Kafka({ clientId: "api-test", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
  })
  afterAll(() => broker?.stop())

  it("validates input like the Kafka port does", async () => {
    expect((await call(broker, "POST", "topics", "not json")).status).toBe(400)
    expect((await call(broker, "POST", "topics", { name: "bad/name" })).body.error).toMatch(/illegal|invalid/i)
    expect((await call(broker, "POST", "topics", { name: "ok", partitions: 0 })).status).toBe(400)
    expect((await call(broker, "POST", "topics", { name: "ok", partitions: "many" })).status).toBe(400)
    expect((await call(broker, "POST", "topics", { name: "ok", configs: { "cleanup.policy": "sometimes" } })).status).toBe(400)
    expect((await call(broker, "GET", "topics/ok")).status).toBe(404)
  })

  it("creates a topic, adds partitions, produces and browses a message a Kafka client then reads", async () => {
    expect((await call(broker, "POST", "topics", { name: "api-made", partitions: 1 })).status).toBe(200)
    expect((await call(broker, "POST", "topics/api-made/partitions", { count: 2 })).body.partitions).toBe(2)
    const produced = await call(broker, "POST", "topics/api-made/messages", { partition: 1, key: "k1", value: "{\"a\":1}", headers: { h: "v" } })
    expect(produced).toEqual({ status: 200, body: { topic: "api-made", partition: 1, offset: 0 } })
    expect((await call(broker, "POST", "topics/api-made/messages", { partition: 5, value: "x" })).status).toBe(400)

    const page = await call(broker, "GET", "topics/api-made/partitions/1/messages?offset=0")
    expect(page.body.records).toHaveLength(1)
    expect(page.body.records[0]).toMatchObject({ offset: 0, key: { text: "k1", hex: "6b 31" }, value: { json: "{\n  \"a\": 1\n}" }, headers: [{ key: "h", value: { text: "v" } }] })
    const byTime = await call(broker, "GET", `topics/api-made/partitions/1/messages?timestamp=${Date.now() + 60_000}`)
    expect(byTime.body.records).toEqual([])

    const consumer = kafka.consumer({ groupId: "api-readers" })
    await consumer.connect()
    await consumer.subscribe({ topic: "api-made", fromBeginning: true })
    const seen = await new Promise<{ key: string; value: string }>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => resolve({ key: String(message.key), value: String(message.value) }) })
    })
    await consumer.disconnect()
    expect(seen).toEqual({ key: "k1", value: "{\"a\":1}" })

    const reset = await call(broker, "POST", "groups/api-readers/reset", { topic: "api-made", to: "earliest" })
    expect(reset.status).toBe(200)
    expect(reset.body.find((o: { partition: number }) => o.partition === 1)).toMatchObject({ committed: 0, lag: 1 })
    expect((await call(broker, "DELETE", "groups/api-readers")).body).toEqual({ deleted: "api-readers" })
    expect((await call(broker, "GET", "groups/api-readers")).status).toBe(404)
    expect((await call(broker, "DELETE", "groups/api-readers")).status).toBe(404)

    expect((await call(broker, "DELETE", "topics/api-made")).status).toBe(200)
    const admin = kafka.admin()
    await admin.connect()
    expect(await admin.listTopics()).not.toContain("api-made")
    await admin.disconnect()
  })

  it("browses records of compressed batches", async () => {
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: "api-gzipped", compression: CompressionTypes.GZIP, messages: [{ key: "g1", value: "zipped one" }, { key: "g2", value: "zipped two" }] })
    await producer.disconnect()
    const page = await call(broker, "GET", "topics/api-gzipped/partitions/0/messages?offset=1")
    expect(page.body.skipped).toEqual([])
    expect(page.body.records.map((r: { offset: number; key: { text: string } }) => [r.offset, r.key.text])).toEqual([[1, "g2"]])
    expect(page.body.nextOffset).toBe(2)
  })

  it("switches request logging at runtime", async () => {
    expect((await call(broker, "GET", "logging")).body).toEqual({ debug: false, slowMs: -1 })
    expect((await call(broker, "PUT", "logging", { debug: true, slowMs: 250 })).body).toEqual({ debug: true, slowMs: 250 })
    expect((await call(broker, "GET", "logging")).body).toEqual({ debug: true, slowMs: 250 })
    expect((await call(broker, "PUT", "logging", { debug: "yes" })).status).toBe(400)
  })
})
