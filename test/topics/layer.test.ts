/**
 * The Topics service over the real metadata log and log store: validation, the agreement
 * between the two across restarts, and topic configs reaching the partition logs.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, ManagedRuntime, References } from "effect"
import { describe, expect, it } from "vitest"
import { StorageLayer } from "../../src/broker.ts"
import { Config } from "../../src/config/Config.ts"
import { LogStore } from "../../src/log/LogStore.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { Topics } from "../../src/topics/Topics.ts"

const open = (logDir: string, extra: Record<string, string> = {}) =>
  ManagedRuntime.make(
    StorageLayer.pipe(
      Layer.provide(Config.layerFromValues({ "log.dirs": logDir, ...extra })),
      Layer.provide(Layer.succeed(References.MinimumLogLevel, "None")),
      Layer.orDie
    )
  )

const services = Effect.gen(function*() {
  return { topics: yield* Topics, logs: yield* LogStore }
})

const request = (name: string, numPartitions = 2, configs: Record<string, string> = {}) => ({
  name,
  numPartitions,
  replicationFactor: -1,
  configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })),
  validateOnly: false
})

const codeOf = (effect: Effect.Effect<unknown, { errorCode: number }>) =>
  Effect.runPromise(Effect.match(effect, { onFailure: (e) => e.errorCode, onSuccess: () => ErrorCode.NONE }))

describe("Topics", () => {
  it("validates names, partitions, replication factor and configs as Kafka does", async () => {
    const runtime = open(fs.mkdtempSync(path.join(os.tmpdir(), "topics-")))
    const { topics } = await runtime.runPromise(services)
    expect(await codeOf(topics.create(request("bad name")))).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION)
    expect(await codeOf(topics.create(request("..")))).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION)
    expect(await codeOf(topics.create(request("x".repeat(250))))).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION)
    expect(await codeOf(topics.create(request("zero", 0)))).toBe(ErrorCode.INVALID_PARTITIONS)
    expect(await codeOf(topics.create({ ...request("rf"), replicationFactor: 3 }))).toBe(ErrorCode.INVALID_REPLICATION_FACTOR)
    expect(await codeOf(topics.create(request("cfg", 1, { "no.such.config": "1" })))).toBe(ErrorCode.INVALID_CONFIG)
    expect(await codeOf(topics.create(request("cfg", 1, { "retention.ms": "soon" })))).toBe(ErrorCode.INVALID_CONFIG)
    expect(await codeOf(topics.create({ ...request("dry"), validateOnly: true }))).toBe(ErrorCode.NONE)
    expect(topics.image().topicsByName.has("dry")).toBe(false)
    expect(await codeOf(topics.create(request("ok")))).toBe(ErrorCode.NONE)
    expect(await codeOf(topics.create(request("ok")))).toBe(ErrorCode.TOPIC_ALREADY_EXISTS)
    expect(await codeOf(topics.createPartitions("ok", 2, false))).toBe(ErrorCode.INVALID_PARTITIONS)
    expect(await codeOf(topics.createPartitions("missing", 3, false))).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    await runtime.dispose()
  })

  it("applies topic configs to the partition logs, also after a restart", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "topics-"))
    const first = open(logDir)
    const a = await first.runPromise(services)
    await Effect.runPromise(a.topics.create(request("tuned", 1, { "segment.bytes": "1048576", "message.timestamp.type": "LogAppendTime", "retention.ms": "60000" })))
    expect(a.logs.findPartition("tuned", 0)!.config).toMatchObject({ segmentBytes: 1048576, messageTimestampType: "LogAppendTime", retentionMs: 60000 })
    await first.dispose()

    const second = open(logDir)
    const b = await second.runPromise(services)
    expect(b.logs.findPartition("tuned", 0)!.config).toMatchObject({ segmentBytes: 1048576, messageTimestampType: "LogAppendTime", retentionMs: 60000 })
    expect(b.topics.topicConfig("tuned").get("retention.ms")).toBe("60000")
    await second.dispose()
  })

  it("keeps metadata and logs in agreement: add partitions, delete, and orphan logs removed at start-up", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "topics-"))
    const first = open(logDir)
    const a = await first.runPromise(services)
    await Effect.runPromise(a.topics.create(request("grow", 1)))
    await Effect.runPromise(a.topics.createPartitions("grow", 3, false))
    expect([0, 1, 2].map((p) => a.logs.findPartition("grow", p) !== undefined)).toEqual([true, true, true])
    await Effect.runPromise(a.topics.create(request("gone", 2)))
    await Effect.runPromise(a.topics.delete("gone"))
    expect(fs.existsSync(path.join(logDir, "gone-0"))).toBe(false)
    await first.dispose()

    // A partition directory the metadata log knows nothing about (a delete cut short by a crash).
    fs.mkdirSync(path.join(logDir, "orphan-0"))
    const second = open(logDir)
    const b = await second.runPromise(services)
    expect(b.topics.image().topicsByName.get("grow")!.partitions.size).toBe(3)
    expect(b.logs.findPartition("orphan", 0)).toBeUndefined()
    expect(fs.existsSync(path.join(logDir, "orphan-0"))).toBe(false)
    await second.dispose()
  })

  it("auto-creates only when auto.create.topics.enable allows it", async () => {
    const on = open(fs.mkdtempSync(path.join(os.tmpdir(), "topics-")), { "num.partitions": "4" })
    const a = await on.runPromise(services)
    const created = await Effect.runPromise(a.topics.autoCreate("auto"))
    expect(created?.partitions.size).toBe(4)
    expect((await Effect.runPromise(a.topics.autoCreate("auto")))?.topicId).toBe(created?.topicId)
    await on.dispose()
    const off = open(fs.mkdtempSync(path.join(os.tmpdir(), "topics-")), { "auto.create.topics.enable": "false" })
    const b = await off.runPromise(services)
    expect(await Effect.runPromise(b.topics.autoCreate("auto"))).toBeUndefined()
    await off.dispose()
  })
})
