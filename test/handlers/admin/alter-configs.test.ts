/**
 * AlterConfigs and IncrementalAlterConfigs over the real Topics service (metadata log + log
 * store in a temp dir), each request taken through the wire codecs at its version: the
 * operations' semantics, Kafka's checks and error codes, validate_only, and changes reaching
 * the partition logs.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, ManagedRuntime, References } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { StorageLayer } from "../../../src/broker.ts"
import { Config } from "../../../src/config/Config.ts"
import { AlterConfigsHandler } from "../../../src/handlers/AlterConfigs.ts"
import { DescribeConfigsHandler } from "../../../src/handlers/DescribeConfigs.ts"
import type { Handler } from "../../../src/handlers/handler.ts"
import { IncrementalAlterConfigsHandler } from "../../../src/handlers/IncrementalAlterConfigs.ts"
import { LogStore } from "../../../src/log/LogStore.ts"
import type { ApiDefinition } from "../../../src/protocol/api.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { AlterConfigs, DescribeConfigs, IncrementalAlterConfigs } from "../../../src/protocol/generated/apis.ts"
import { Reader } from "../../../src/protocol/primitives.ts"
import { Topics } from "../../../src/topics/Topics.ts"
import { contextFor, decodedRequest, encodeResponse, versions } from "./helpers.ts"

const TOPIC = 2
const BROKER = 4
const SET = 0
const DELETE = 1
const APPEND = 2
const SUBTRACT = 3

let runtime: ManagedRuntime.ManagedRuntime<Topics | LogStore, never>

beforeAll(async () => {
  runtime = ManagedRuntime.make(
    StorageLayer.pipe(
      Layer.provide(Config.layerFromValues({ "log.dirs": fs.mkdtempSync(path.join(os.tmpdir(), "alter-configs-")) })),
      Layer.provide(Layer.succeed(References.MinimumLogLevel, "None")),
      Layer.orDie
    )
  )
  await runtime.runPromise(Effect.flatMap(Topics, (t) =>
    Effect.forEach(["orders", "legacy", "lists"], (name) =>
      t.create({ name, numPartitions: 2, replicationFactor: -1, configs: [], validateOnly: false }))))
})

afterAll(() => runtime.dispose())

const call = async <Req, ReqInit, Res, ResInit>(
  api: ApiDefinition<Req, ReqInit, Res, ResInit>,
  handler: Handler<Req, ResInit, Topics>,
  version: number,
  request: ReqInit
): Promise<Res> => {
  const result = await runtime.runPromise(handler.handle(decodedRequest(api, version, request), contextFor(api.apiKey, version)))
  return api.decodeResponse(new Reader(encodeResponse(api, version, result as ResInit)), version)
}

const incremental = (version: number, resources: ReadonlyArray<{ resourceType: number; resourceName: string; configs: ReadonlyArray<{ name: string; configOperation: number; value: string | null }> }>, validateOnly = false) =>
  call(IncrementalAlterConfigs, IncrementalAlterConfigsHandler, version, { resources, validateOnly }).then((r) => r.responses)

const legacy = (version: number, resources: ReadonlyArray<{ resourceType: number; resourceName: string; configs: ReadonlyArray<{ name: string; value: string | null }> }>, validateOnly = false) =>
  call(AlterConfigs, AlterConfigsHandler, version, { resources, validateOnly }).then((r) => r.responses)

const overrides = (topic: string) => runtime.runPromise(Effect.map(Topics, (t) => Object.fromEntries(t.dynamicConfigs("topic", topic))))

const describeTopic = async (topic: string, keys: Array<string>) => {
  const res = await call(DescribeConfigs, DescribeConfigsHandler, 4, { resources: [{ resourceType: TOPIC, resourceName: topic, configurationKeys: keys }], includeSynonyms: true })
  return res.results[0]!.configs
}

describe("IncrementalAlterConfigs", () => {
  it("serves versions 0-1 and AlterConfigs 0-2", () => {
    expect([IncrementalAlterConfigsHandler.minVersion, IncrementalAlterConfigsHandler.maxVersion]).toEqual([0, 1])
    expect([AlterConfigsHandler.minVersion, AlterConfigsHandler.maxVersion]).toEqual([0, 2])
  })

  for (const version of versions(0, 1)) {
    it(`v${version}: SET and DELETE change the stored overrides and the partition logs`, async () => {
      const res = await incremental(version, [{ resourceType: TOPIC, resourceName: "orders", configs: [
        { name: "retention.ms", configOperation: SET, value: "12345" },
        { name: "segment.bytes", configOperation: SET, value: "65536" }
      ] }])
      expect(res).toEqual([expect.objectContaining({ errorCode: ErrorCode.NONE, errorMessage: null, resourceType: TOPIC, resourceName: "orders" })])
      expect(await overrides("orders")).toMatchObject({ "retention.ms": "12345", "segment.bytes": "65536" })
      const logs = await runtime.runPromise(Effect.map(LogStore, (l) => [l.findPartition("orders", 0)!, l.findPartition("orders", 1)!]))
      for (const log of logs) expect(log.config).toMatchObject({ retentionMs: 12345, segmentBytes: 65536 })

      await incremental(version, [{ resourceType: TOPIC, resourceName: "orders", configs: [{ name: "retention.ms", configOperation: DELETE, value: null }] }])
      expect(await overrides("orders")).not.toHaveProperty("retention.ms")
      for (const log of logs) expect(log.config.retentionMs).toBe(7 * 24 * 3600 * 1000)
    })
  }

  it("APPEND and SUBTRACT work on lists, starting from the default; on other types they are INVALID_CONFIG", async () => {
    await incremental(1, [{ resourceType: TOPIC, resourceName: "lists", configs: [{ name: "cleanup.policy", configOperation: APPEND, value: "compact" }] }])
    expect((await overrides("lists"))["cleanup.policy"]).toBe("delete,compact")
    await incremental(1, [{ resourceType: TOPIC, resourceName: "lists", configs: [{ name: "cleanup.policy", configOperation: APPEND, value: "compact" }] }])
    expect((await overrides("lists"))["cleanup.policy"]).toBe("delete,compact")
    await incremental(1, [{ resourceType: TOPIC, resourceName: "lists", configs: [{ name: "cleanup.policy", configOperation: SUBTRACT, value: "delete" }] }])
    expect((await overrides("lists"))["cleanup.policy"]).toBe("compact")
    const res = await incremental(1, [{ resourceType: TOPIC, resourceName: "lists", configs: [{ name: "retention.ms", configOperation: APPEND, value: "5" }] }])
    expect(res[0]).toMatchObject({ errorCode: ErrorCode.INVALID_CONFIG, errorMessage: "Can't APPEND to key retention.ms because its type is not LIST." })
  })

  it("refuses as Kafka does: bad values, unknown keys, unknown topics, duplicates, nulls, bad operations", async () => {
    const res = await incremental(1, [
      { resourceType: TOPIC, resourceName: "orders", configs: [{ name: "max.message.bytes", configOperation: SET, value: "big" }] },
      { resourceType: TOPIC, resourceName: "legacy", configs: [{ name: "retention.hours", configOperation: SET, value: "1" }] },
      { resourceType: TOPIC, resourceName: "missing", configs: [{ name: "retention.ms", configOperation: SET, value: "1" }] },
      { resourceType: TOPIC, resourceName: "lists", configs: [{ name: "retention.ms", configOperation: SET, value: "1" }, { name: "retention.ms", configOperation: DELETE, value: null }] },
      { resourceType: TOPIC, resourceName: "bad name", configs: [] },
      { resourceType: BROKER, resourceName: "1", configs: [{ name: "log.retention.ms", configOperation: SET, value: null }] },
      { resourceType: BROKER, resourceName: "", configs: [{ name: "log.retention.ms", configOperation: 9, value: "1" }] },
      { resourceType: 16, resourceName: "metrics", configs: [] }
    ])
    expect(res.map((r) => [r.resourceName, r.errorCode, r.errorMessage])).toEqual([
      ["orders", ErrorCode.INVALID_CONFIG, "Invalid value big for configuration max.message.bytes: Not a number of type INT"],
      ["legacy", ErrorCode.INVALID_CONFIG, "Unknown topic config name: retention.hours"],
      ["missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "The topic 'missing' does not exist."],
      ["lists", ErrorCode.INVALID_REQUEST, "Error due to duplicate config keys"],
      ["bad name", ErrorCode.INVALID_TOPIC_EXCEPTION, expect.stringContaining("illegal")],
      ["1", ErrorCode.INVALID_REQUEST, "Null value not supported for : log.retention.ms"],
      ["", ErrorCode.INVALID_REQUEST, "Unknown operations type 9"],
      ["metrics", ErrorCode.INVALID_REQUEST, "Unknown resource type 16"]
    ])
    const twice = await incremental(1, [
      { resourceType: TOPIC, resourceName: "orders", configs: [] },
      { resourceType: TOPIC, resourceName: "orders", configs: [] }
    ])
    expect(twice.map((r) => [r.errorCode, r.errorMessage])).toEqual([
      [ErrorCode.INVALID_REQUEST, "Each resource must appear at most once."],
      [ErrorCode.INVALID_REQUEST, "Each resource must appear at most once."]
    ])
  })

  it("broker resources: this node's id or \"\", dynamic keys only; validate_only writes nothing", async () => {
    const res = await incremental(1, [
      { resourceType: BROKER, resourceName: "2", configs: [{ name: "log.retention.ms", configOperation: SET, value: "1" }] },
      { resourceType: BROKER, resourceName: "x", configs: [{ name: "log.retention.ms", configOperation: SET, value: "1" }] },
      { resourceType: BROKER, resourceName: "1", configs: [{ name: "num.partitions", configOperation: SET, value: "3" }, { name: "log.dirs", configOperation: SET, value: "/x" }] },
      { resourceType: BROKER, resourceName: "", configs: [{ name: "log.retention.bytes", configOperation: SET, value: "many" }] }
    ])
    expect(res.map((r) => [r.errorCode, r.errorMessage])).toEqual([
      [ErrorCode.INVALID_REQUEST, "Unexpected broker id, expected 1, but received 2"],
      [ErrorCode.INVALID_REQUEST, "Node id must be an integer, but it is: x"],
      [ErrorCode.INVALID_REQUEST, "Cannot update these configs dynamically: Set(num.partitions, log.dirs)"],
      [ErrorCode.INVALID_REQUEST, "Invalid value many for configuration log.retention.bytes: Not a number of type LONG"]
    ])
    const dry = await incremental(1, [{ resourceType: BROKER, resourceName: "", configs: [{ name: "log.retention.bytes", configOperation: SET, value: "1000" }] }], true)
    expect(dry[0]!.errorCode).toBe(ErrorCode.NONE)
    expect((await describeTopic("legacy", ["retention.bytes"]))[0]).toMatchObject({ value: "-1", configSource: 5 })

    await incremental(1, [{ resourceType: BROKER, resourceName: "", configs: [{ name: "log.retention.bytes", configOperation: SET, value: "1000" }] }])
    expect((await describeTopic("legacy", ["retention.bytes"]))[0]).toMatchObject({ value: "1000", configSource: 3 })
    const log = await runtime.runPromise(Effect.map(LogStore, (l) => l.findPartition("legacy", 1)!))
    expect(log.config.retentionBytes).toBe(1000)
    await incremental(1, [{ resourceType: BROKER, resourceName: "", configs: [{ name: "log.retention.bytes", configOperation: DELETE, value: null }] }])
    expect(log.config.retentionBytes).toBe(-1)
  })
})

describe("AlterConfigs", () => {
  for (const version of versions(0, 2)) {
    it(`v${version}: replaces the whole set (keys not given are deleted); validate_only writes nothing`, async () => {
      await legacy(version, [{ resourceType: TOPIC, resourceName: "legacy", configs: [{ name: "retention.ms", value: "1000" }, { name: "flush.messages", value: "10" }] }])
      expect(await overrides("legacy")).toEqual({ "retention.ms": "1000", "flush.messages": "10" })
      const dry = await legacy(version, [{ resourceType: TOPIC, resourceName: "legacy", configs: [{ name: "segment.ms", value: "1000" }] }], true)
      expect(dry[0]!.errorCode).toBe(ErrorCode.NONE)
      expect(await overrides("legacy")).toEqual({ "retention.ms": "1000", "flush.messages": "10" })
      await legacy(version, [{ resourceType: TOPIC, resourceName: "legacy", configs: [{ name: "segment.ms", value: "1000" }] }])
      expect(await overrides("legacy")).toEqual({ "segment.ms": "1000" })
      const log = await runtime.runPromise(Effect.map(LogStore, (l) => l.findPartition("legacy", 0)!))
      expect(log.config).toMatchObject({ rollMs: 1000, flushIntervalMessages: Number.MAX_SAFE_INTEGER })
      const refused = await legacy(version, [{ resourceType: TOPIC, resourceName: "legacy", configs: [{ name: "segment.ms", value: null }] }, { resourceType: 8, resourceName: "1", configs: [] }])
      expect(refused.map((r) => [r.errorCode, r.errorMessage])).toEqual([
        [ErrorCode.INVALID_REQUEST, "Null value not supported for : segment.ms"],
        [ErrorCode.INVALID_REQUEST, "Unknown resource type 8"]
      ])
    })
  }
})
