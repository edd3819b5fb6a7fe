/**
 * The console's JSON API under /api/. It calls the services the Kafka handlers use (Topics,
 * LogStore, GroupCoordinator), never a Kafka client. Inputs are validated as on the Kafka
 * port (topic rules are Topics' own); mutating endpoints answer 403 unless
 * `http.console.read.only=false`.
 */
import { Effect, Layer, Schema } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { Config } from "../config/Config.ts"
import { observabilityConfig } from "../config/observability.ts"
import { isInternalTopic } from "../coordinator/internal-topics.ts"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { LogStore } from "../log/LogStore.ts"
import { buildRecordBatch } from "../log/record-batch.ts"
import { RequestLog } from "../logging/RequestLog.ts"
import { BrokerMetrics } from "../metrics/BrokerMetrics.ts"
import { groupLag } from "../metrics/group-lag.ts"
import { decodeConsumerProtocolAssignment } from "../protocol/generated/message/ConsumerProtocolAssignment.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { Reader } from "../protocol/primitives.ts"
import { BrokerServer } from "../server/BrokerServer.ts"
import { Topics } from "../topics/Topics.ts"
import { browse } from "./browse.ts"
import { Throughput } from "./throughput.ts"

const VERSION = "0.1.0"
const MAX_BROWSE = 500

class ApiError extends Schema.TaggedError<ApiError>()("ApiError", { status: Schema.Number, message: Schema.String }) {}

const bad = (message: string) => new ApiError({ status: 400, message })

const json = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? Number(v) : v)), {
    status,
    contentType: "application/json; charset=utf-8",
    headers: { "cache-control": "no-store" }
  })

/** Runs a route, turning ApiErrors (and defects) into JSON error answers. */
const handle = <R>(route: Effect.Effect<unknown, ApiError, R>) =>
  route.pipe(
    Effect.map((body) => json(body)),
    Effect.catchTag("ApiError", (e) => Effect.succeed(json({ error: e.message }, e.status))),
    Effect.catchDefect((defect) =>
      Effect.as(Effect.logError("console API request failed", defect), json({ error: "internal error" }, 500)))
  )

const param = (name: string) =>
  Effect.flatMap(HttpRouter.params, (params) => {
    const value = params[name]
    return value === undefined ? Effect.fail(bad(`missing ${name}`)) : Effect.succeed(decodeURIComponent(value))
  })

const query = (request: HttpServerRequest.HttpServerRequest) => new URL(request.url, "http://console").searchParams

const integer = (text: string | null | undefined, what: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
  if (text === null || text === undefined || !/^-?\d+$/.test(text.trim())) return Effect.fail(bad(`${what} must be an integer`))
  const n = Number(text)
  return n < min || n > max ? Effect.fail(bad(`${what} must be between ${min} and ${max}`)) : Effect.succeed(n)
}

const body = (request: HttpServerRequest.HttpServerRequest) =>
  request.json.pipe(
    Effect.mapError(() => bad("the body must be JSON")),
    Effect.flatMap((b) => (typeof b === "object" && b !== null && !Array.isArray(b) ? Effect.succeed(b as Record<string, unknown>) : Effect.fail(bad("the body must be a JSON object"))))
  )

const stringField = (b: Record<string, unknown>, key: string, optional = false): Effect.Effect<string | null, ApiError> => {
  const v = b[key]
  if (v === undefined || v === null) return optional ? Effect.succeed(null) : Effect.fail(bad(`${key} is required`))
  return typeof v === "string" ? Effect.succeed(v) : Effect.fail(bad(`${key} must be a string`))
}

const topicAdminError = (e: { readonly message: string; readonly errorCode: number }) =>
  new ApiError({ status: e.errorCode === 3 ? 404 : 400, message: e.message })

export const ApiRoutes = Layer.effectDiscard(Effect.gen(function*() {
  const router = yield* HttpRouter.HttpRouter
  const config = yield* Config
  const topics = yield* Topics
  const logs = yield* LogStore
  const groups = yield* GroupCoordinator
  const server = yield* BrokerServer
  const requestLog = yield* RequestLog
  const metrics = yield* BrokerMetrics
  const throughput = yield* Throughput
  const readOnly = observabilityConfig(config.raw).consoleReadOnly
  const startedAt = Date.now()

  const writable = readOnly
    ? Effect.fail(new ApiError({ status: 403, message: "the console is read-only (set http.console.read.only=false to allow changes)" }))
    : Effect.void

  const topicOrFail = (name: string) => {
    const t = topics.image().topicsByName.get(name)
    return t === undefined ? Effect.fail(new ApiError({ status: 404, message: `unknown topic ${name}` })) : Effect.succeed(t)
  }

  const partitionsOf = (name: string, count: number) =>
    Array.from({ length: count }, (_, p) => {
      const log = logs.findPartition(name, p)
      return {
        partition: p,
        leader: topics.image().topicsByName.get(name)?.partitions.get(p)?.leader ?? -1,
        leaderEpoch: topics.image().topicsByName.get(name)?.partitions.get(p)?.leaderEpoch ?? -1,
        logStartOffset: log?.logStartOffset ?? 0,
        logEndOffset: log?.logEndOffset ?? 0,
        highWatermark: log?.highWatermark ?? 0,
        size: log?.size() ?? 0,
        segments: log?.numberOfSegments ?? 0
      }
    })

  const topicSummary = (name: string) => {
    const t = topics.image().topicsByName.get(name)!
    const partitions = partitionsOf(name, t.partitions.size)
    return {
      name,
      topicId: t.topicId,
      internal: isInternalTopic(name),
      partitions: partitions.length,
      messages: partitions.reduce((n, p) => n + (p.highWatermark - p.logStartOffset), 0),
      size: partitions.reduce((n, p) => n + p.size, 0)
    }
  }

  const add = (method: "GET" | "POST" | "PUT" | "DELETE", path: `/api/${string}`, route: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<unknown, ApiError, HttpRouter.RouteContext>) =>
    router.add(method, path, (request) => handle(route(request)))

  yield* add("GET", "/api/overview", () =>
    Effect.gen(function*() {
      const listed = yield* groups.listGroups({ states: [], types: [] })
      const names = [...topics.image().topicsByName.keys()]
      return {
        broker: { nodeId: topics.nodeId, clusterId: topics.clusterId, version: VERSION, readOnly, uptimeMs: Date.now() - startedAt },
        listeners: server.addresses.map((a) => ({ name: a.listenerName, address: `${a.host}:${a.port}` })),
        topics: names.filter((n) => !isInternalTopic(n)).length,
        partitions: names.reduce((n, name) => n + (topics.image().topicsByName.get(name)?.partitions.size ?? 0), 0),
        groups: listed.length,
        totals: metrics.totals(),
        throughput: throughput.samples()
      }
    }))

  yield* add("GET", "/api/topics", () =>
    Effect.succeed([...topics.image().topicsByName.keys()].sort().map(topicSummary)))

  yield* add("POST", "/api/topics", (request) =>
    Effect.gen(function*() {
      yield* writable
      const b = yield* body(request)
      const name = (yield* stringField(b, "name"))!
      const partitions = yield* integer(String(b["partitions"] ?? "1"), "partitions", 1, 10_000)
      const configs = b["configs"] ?? {}
      if (typeof configs !== "object" || configs === null || Array.isArray(configs)) return yield* Effect.fail(bad("configs must be an object of strings"))
      const entries = Object.entries(configs as Record<string, unknown>)
      if (entries.some(([, v]) => typeof v !== "string")) return yield* Effect.fail(bad("configs must be an object of strings"))
      yield* topics.create({
        name,
        numPartitions: partitions,
        replicationFactor: -1,
        configs: entries.map(([k, v]) => ({ name: k, value: v as string })),
        validateOnly: false
      }).pipe(Effect.mapError(topicAdminError))
      return topicSummary(name)
    }))

  yield* add("GET", "/api/topics/:name", () =>
    Effect.gen(function*() {
      const name = yield* param("name")
      const t = yield* topicOrFail(name)
      const configs = yield* topics.describeTopicConfigs(name, null).pipe(Effect.mapError(topicAdminError))
      return {
        ...topicSummary(name),
        replicationFactor: t.partitions.get(0)?.replicas.length ?? 0,
        partitionDetails: partitionsOf(name, t.partitions.size),
        configs: configs.map((c) => ({ name: c.name, value: c.isSensitive ? null : c.value, source: c.source, readOnly: c.readOnly }))
      }
    }))

  yield* add("DELETE", "/api/topics/:name", () =>
    Effect.gen(function*() {
      yield* writable
      const name = yield* param("name")
      yield* topicOrFail(name)
      yield* topics.delete(name).pipe(Effect.mapError(topicAdminError))
      return { deleted: name }
    }))

  yield* add("POST", "/api/topics/:name/partitions", (request) =>
    Effect.gen(function*() {
      yield* writable
      const name = yield* param("name")
      yield* topicOrFail(name)
      const b = yield* body(request)
      const count = yield* integer(String(b["count"] ?? ""), "count", 1, 10_000)
      yield* topics.createPartitions(name, count, false).pipe(Effect.mapError(topicAdminError))
      return topicSummary(name)
    }))

  yield* add("GET", "/api/topics/:name/partitions/:partition/messages", (request) =>
    Effect.gen(function*() {
      const name = yield* param("name")
      const t = yield* topicOrFail(name)
      const partition = yield* integer(yield* param("partition"), "partition", 0, t.partitions.size - 1)
      const q = query(request)
      const limit = yield* integer(q.get("limit") ?? "50", "limit", 1, MAX_BROWSE)
      let from: number
      if (q.get("timestamp") !== null) {
        const timestamp = yield* integer(q.get("timestamp"), "timestamp", 0)
        const found = yield* logs.listOffsets(name, partition, timestamp).pipe(Effect.orDie)
        from = found.offset < 0 ? (logs.findPartition(name, partition)?.highWatermark ?? 0) : found.offset
      } else {
        from = yield* integer(q.get("offset") ?? "0", "offset", 0)
      }
      const log = logs.findPartition(name, partition)
      const page = yield* browse(logs, name, partition, from, limit).pipe(Effect.orDie)
      return { topic: name, partition, from, logStartOffset: log?.logStartOffset ?? 0, highWatermark: log?.highWatermark ?? 0, ...page }
    }))

  yield* add("POST", "/api/topics/:name/messages", (request) =>
    Effect.gen(function*() {
      yield* writable
      const name = yield* param("name")
      const t = yield* topicOrFail(name)
      if (isInternalTopic(name)) return yield* Effect.fail(bad(`cannot produce to internal topic ${name}`))
      const b = yield* body(request)
      const partition = yield* integer(String(b["partition"] ?? "0"), "partition", 0, t.partitions.size - 1)
      const key = yield* stringField(b, "key", true)
      const value = yield* stringField(b, "value", true)
      const rawHeaders = b["headers"] ?? {}
      if (typeof rawHeaders !== "object" || rawHeaders === null || Array.isArray(rawHeaders) || Object.values(rawHeaders).some((v) => typeof v !== "string")) {
        return yield* Effect.fail(bad("headers must be an object of strings"))
      }
      const records = buildRecordBatch({
        records: [{ key, value, timestamp: Date.now(), headers: Object.entries(rawHeaders as Record<string, string>).map(([k, v]) => ({ key: k, value: v })) }]
      })
      const result = yield* logs.append(name, partition, records).pipe(
        Effect.mapError((e) => bad(`produce failed: ${e._tag}: ${"message" in e ? String(e.message) : ""}`))
      )
      return { topic: name, partition, offset: result.baseOffset }
    }))

  yield* add("GET", "/api/groups", () =>
    Effect.gen(function*() {
      const listed = yield* groups.listGroups({ states: [], types: [] })
      const described = yield* groups.describeGroups(listed.map((g) => g.groupId))
      return yield* Effect.forEach(described, (g) =>
        Effect.map(groupLag(groups, logs, g.groupId), (lags) => ({
          groupId: g.groupId,
          state: g.state,
          protocolType: g.protocolType,
          protocol: listed.find((l) => l.groupId === g.groupId)?.groupType ?? "classic",
          members: g.members.length,
          lag: lags.reduce((n, l) => n + l.lag, 0)
        })))
    }))

  yield* add("GET", "/api/groups/:group", () =>
    Effect.gen(function*() {
      const groupId = yield* param("group")
      const [g] = yield* groups.describeGroups([groupId])
      if (g === undefined || g.state === "Dead") return yield* Effect.fail(new ApiError({ status: 404, message: `unknown group ${groupId}` }))
      const listed = (yield* groups.listGroups({ states: [], types: [] })).find((l) => l.groupId === groupId)
      return {
        groupId,
        state: g.state,
        protocolType: g.protocolType,
        protocol: listed?.groupType ?? "classic",
        assignor: g.protocolData,
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          assignment: decodeAssignment(m.assignment, g.protocolType)
        })),
        offsets: yield* groupLag(groups, logs, groupId)
      }
    }))

  yield* add("POST", "/api/groups/:group/reset", (request) =>
    Effect.gen(function*() {
      yield* writable
      const groupId = yield* param("group")
      const b = yield* body(request)
      const topic = (yield* stringField(b, "topic"))!
      const t = yield* topicOrFail(topic)
      const to = b["to"]
      const [g] = yield* groups.describeGroups([groupId])
      if (g !== undefined && g.state !== "Empty" && g.state !== "Dead") {
        return yield* Effect.fail(new ApiError({ status: 409, message: `group ${groupId} is ${g.state}: offsets can be reset only while it has no members` }))
      }
      const offsets = yield* Effect.forEach([...t.partitions.keys()], (p) => {
        const log = logs.findPartition(topic, p)
        if (to === "earliest") return Effect.succeed(log?.logStartOffset ?? 0)
        if (to === "latest") return Effect.succeed(log?.highWatermark ?? 0)
        return integer(String(to ?? ""), "to (earliest, latest or an offset)", 0)
      })
      const result = yield* groups.commitOffsets({
        groupId,
        generationId: -1,
        memberId: "",
        groupInstanceId: null,
        apiVersion: 9,
        offsets: offsets.map((offset, i) => ({ topic, partition: [...t.partitions.keys()][i]!, offset: BigInt(offset), leaderEpoch: -1, metadata: "", commitTimestampMs: -1 }))
      })
      if (result.some((code) => code !== 0)) return yield* Effect.fail(bad(`reset failed with error codes ${[...new Set(result)].join(", ")}`))
      return yield* groupLag(groups, logs, groupId)
    }))

  yield* add("DELETE", "/api/groups/:group", () =>
    Effect.gen(function*() {
      yield* writable
      const groupId = yield* param("group")
      const [result] = yield* groups.deleteGroups([groupId])
      const code = result?.errorCode ?? 0
      if (code === ErrorCode.GROUP_ID_NOT_FOUND) return yield* Effect.fail(new ApiError({ status: 404, message: `unknown group ${groupId}` }))
      if (code === ErrorCode.NON_EMPTY_GROUP) return yield* Effect.fail(new ApiError({ status: 409, message: `group ${groupId} has members: it can be deleted once it is empty` }))
      if (code !== 0) return yield* Effect.fail(bad(`delete failed with error code ${code}`))
      return { deleted: groupId }
    }))

  yield* add("GET", "/api/config", () =>
    Effect.succeed(topics.describeBrokerConfigs(null).map((c) => ({
      name: c.name,
      value: c.isSensitive ? null : c.value,
      source: SOURCE_NAMES[c.source] ?? String(c.source),
      readOnly: c.readOnly,
      doc: c.documentation
    }))))

  yield* add("GET", "/api/logging", () => Effect.succeed(requestLog.settings()))

  yield* add("PUT", "/api/logging", (request) =>
    Effect.gen(function*() {
      yield* writable
      const b = yield* body(request)
      const debug = b["debug"]
      if (debug !== undefined && typeof debug !== "boolean") return yield* Effect.fail(bad("debug must be true or false"))
      const slowMs = b["slowMs"] === undefined ? undefined : yield* integer(String(b["slowMs"]), "slowMs", -1)
      return requestLog.update({ ...(debug === undefined ? {} : { debug }), ...(slowMs === undefined ? {} : { slowMs }) })
    }))

  yield* router.add("*", "/api/*", handle(Effect.fail(new ApiError({ status: 404, message: "no such API" }))))
}))

/** DescribeConfigs sources by wire id. */
const SOURCE_NAMES: Readonly<Record<number, string>> = {
  1: "DYNAMIC_TOPIC_CONFIG",
  2: "DYNAMIC_BROKER_CONFIG",
  3: "DYNAMIC_DEFAULT_BROKER_CONFIG",
  4: "STATIC_BROKER_CONFIG",
  5: "DEFAULT_CONFIG",
  6: "DYNAMIC_BROKER_LOGGER_CONFIG"
}

/** A consumer's assignment (ConsumerProtocolAssignment: int16 version, then the body). */
const decodeAssignment = (bytes: Uint8Array, protocolType: string): Array<{ topic: string; partitions: Array<number> }> => {
  if (protocolType !== "consumer" || bytes.length < 2) return []
  try {
    const r = new Reader(bytes)
    const version = r.int16()
    return decodeConsumerProtocolAssignment(r, Math.min(version, 3)).assignedPartitions.map((a) => ({ topic: a.topic, partitions: a.partitions }))
  } catch {
    return []
  }
}
