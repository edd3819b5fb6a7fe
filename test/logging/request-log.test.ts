import { Effect, Layer, Logger, References } from "effect"
import { Kafka, logLevel } from "kafkajs"
import { describe, expect, it } from "vitest"
import { makeRequestLog, topicsOf } from "../../src/logging/RequestLog.ts"
import type { RequestObservation } from "../../src/server/observer.ts"
import { startBrokerProcess } from "../support/broker-process.ts"

const observation = (totalMs: number): RequestObservation => ({
  apiKey: 0,
  apiName: "Produce",
  apiVersion: 9,
  correlationId: 17,
  clientId: "app",
  clientAddress: "127.0.0.1:40000",
  listenerName: "PLAINTEXT",
  request: { topicData: [{ name: "orders" }, { name: "payments" }] },
  response: {},
  receivedAt: 100,
  startedAt: 100,
  completedAt: 100 + totalMs / 2,
  sendStartedAt: 100 + totalMs / 2,
  sentAt: 100 + totalMs
})

/** The lines `effect` logs at minimum level Info, as structured entries. */
const logged = async (effect: Effect.Effect<void> | undefined) => {
  const lines: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
  if (effect === undefined) return lines
  const capture = Logger.map(Logger.formatStructured, (e) => {
    lines.push(e)
  })
  await Effect.runPromise(effect.pipe(
    Effect.provide(Logger.layer([capture])),
    Effect.provideService(References.MinimumLogLevel, "Info")
  ))
  return lines
}

describe("request log", () => {
  it("names the topics of produce, fetch and metadata requests", () => {
    expect(topicsOf({ topicData: [{ name: "a" }, { name: "b" }, { name: "a" }] })).toEqual(["a", "b"])
    expect(topicsOf({ topics: [{ topic: "f" }] })).toEqual(["f"])
    expect(topicsOf({ topics: null })).toEqual([])
    expect(topicsOf(undefined)).toEqual([])
  })

  it("logs nothing by default, slow requests above the threshold, every request when switched on", async () => {
    const log = makeRequestLog({ debug: false, slowMs: -1 })
    expect(log.observer.requestDone(observation(500))).toBeUndefined()

    log.update({ slowMs: 100 })
    expect(log.observer.requestDone(observation(50))).toBeUndefined()
    const slow = await logged(log.observer.requestDone(observation(500)))
    expect(slow).toHaveLength(1)
    expect(slow[0]!.level).toBe("INFO")
    expect(String(slow[0]!.message)).toMatch(/^Slow request: Completed request Produce v9 \(correlation id 17\) from 127\.0\.0\.1:40000 in 500 ms/)
    expect(slow[0]!.annotations).toMatchObject({ api: "Produce", correlationId: 17, client: "127.0.0.1:40000", topics: "orders,payments", totalTimeMs: 500 })

    // Switched on at runtime: shown although the minimum level is Info.
    log.update({ debug: true })
    const debug = await logged(log.observer.requestDone(observation(1)))
    expect(debug.map((l) => l.level)).toEqual(["DEBUG"])
    log.update({ debug: false, slowMs: -1 })
    expect(log.observer.requestDone(observation(1))).toBeUndefined()
  })
})

describe("--log-format json", () => {
  it("prints one JSON object a line with time, level, message and request annotations", async () => {
    const broker = await startBrokerProcess({ args: ["--log-format", "json", "--override", "request.log.slow.ms=0"] })
    try {
      const kafka = new Kafka({ clientId: "json-log-test", brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING })
      const producer = kafka.producer()
      await producer.connect()
      await producer.send({ topic: "json-logged", messages: [{ value: "x" }] })
      await producer.disconnect()
      const produceLine = async () => {
        for (let i = 0; i < 200; i++) {
          const found = broker.output().split("\n").find((l) => l.includes("Slow request: Completed request Produce"))
          if (found !== undefined) return found
          await new Promise<void>((resolve) => broker.child.stdout!.once("data", () => resolve()))
        }
        throw new Error("no produce request line")
      }
      const line = JSON.parse(await produceLine()) as Record<string, unknown>
      expect(Object.keys(line).slice(0, 3)).toEqual(["time", "level", "message"])
      expect(Number.isNaN(Date.parse(String(line["time"])))).toBe(false)
      expect(line).toMatchObject({ level: "INFO", api: "Produce", topics: "json-logged", clientId: "json-log-test", listener: "PLAINTEXT" })
      expect(line["client"]).toMatch(/^127\.0\.0\.1:\d+$/)
      expect(typeof line["correlationId"]).toBe("number")
    } finally {
      broker.child.kill("SIGTERM")
      await broker.exited
    }
    for (const l of broker.output().split("\n").filter((l) => l.trim() !== "")) expect(() => JSON.parse(l)).not.toThrow()
  })
})
