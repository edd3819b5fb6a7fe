/**
 * Request logs, switchable while the broker runs: every request at debug level
 * (`request.log.debug`, also on when the broker starts with `--log-level debug` or trace), and
 * requests slower than `request.log.slow.ms` at info level, like Kafka's kafka.request.logger.
 * Both settings follow dynamic broker configs (cluster-wide default or this node's, as
 * written to the metadata log by AlterConfigs) and the console's /api/logging.
 * Each line carries annotations: client, listener, api, apiVersion, correlationId, clientId,
 * topics, and the timings in milliseconds.
 */
import { Context, Effect, Layer, References } from "effect"
import { Config } from "../config/Config.ts"
import { observabilityConfig } from "../config/observability.ts"
import type { MetadataImage } from "../metadata/image.ts"
import { MetadataLog } from "../metadata/MetadataLog.ts"
import type { RequestObservation, RequestObserver } from "../server/observer.ts"

export interface RequestLogSettings {
  readonly debug: boolean
  /** -1: no slow-request log. */
  readonly slowMs: number
}

export interface RequestLogShape {
  readonly settings: () => RequestLogSettings
  /** Runtime switch (console API); a later dynamic config change overrides it again. */
  readonly update: (settings: Partial<RequestLogSettings>) => RequestLogSettings
  readonly observer: RequestObserver
}

/** Topic names a request names (Produce, Fetch, ListOffsets, Metadata, OffsetCommit...). */
export const topicsOf = (request: unknown): Array<string> => {
  if (typeof request !== "object" || request === null) return []
  const r = request as { topicData?: ReadonlyArray<{ name?: unknown }>; topics?: ReadonlyArray<{ name?: unknown; topic?: unknown }> | null }
  const list = r.topicData ?? r.topics
  if (!Array.isArray(list)) return []
  const names: Array<string> = []
  for (const t of list) {
    const name = typeof t?.name === "string" ? t.name : typeof t?.topic === "string" ? t.topic : undefined
    if (name !== undefined && name !== "" && !names.includes(name)) names.push(name)
  }
  return names
}

const round = (ms: number) => Math.round(ms * 1000) / 1000

const describe = (o: RequestObservation) => {
  const total = o.sentAt - o.receivedAt
  const annotations: Record<string, unknown> = {
    client: o.clientAddress,
    listener: o.listenerName,
    api: o.apiName,
    apiVersion: o.apiVersion,
    correlationId: o.correlationId,
    clientId: o.clientId,
    totalTimeMs: round(total),
    requestQueueTimeMs: round(o.startedAt - o.receivedAt),
    localTimeMs: round(o.completedAt - o.startedAt),
    responseQueueTimeMs: round(o.sendStartedAt - o.completedAt),
    responseSendTimeMs: round(o.sentAt - o.sendStartedAt)
  }
  const topics = topicsOf(o.request)
  if (topics.length > 0) annotations["topics"] = topics.join(",")
  return { total, annotations }
}

const fromConfigs = (image: MetadataImage, nodeId: number, base: RequestLogSettings): RequestLogSettings => {
  let { debug, slowMs } = base
  // The node's own dynamic config wins over the cluster-wide default, as in Kafka.
  for (const resource of ["", String(nodeId)]) {
    const configs = image.brokerConfigs.get(resource)
    const d = configs?.get("request.log.debug")
    if (d !== undefined) debug = d.trim().toLowerCase() === "true"
    const s = configs?.get("request.log.slow.ms")
    if (s !== undefined && Number.isFinite(Number(s))) slowMs = Number(s)
  }
  return { debug, slowMs }
}

export const makeRequestLog = (initial: RequestLogSettings): RequestLogShape & { replaceBase: (s: RequestLogSettings) => void } => {
  let settings = initial
  const requestDone = (o: RequestObservation): Effect.Effect<void> | undefined => {
    const { debug, slowMs } = settings
    if (!debug && slowMs < 0) return undefined
    const total = o.sentAt - o.receivedAt
    const slow = slowMs >= 0 && total > slowMs
    if (!debug && !slow) return undefined
    const { annotations } = describe(o)
    const text = `Completed request ${o.apiName} v${o.apiVersion} (correlation id ${o.correlationId}) from ${o.clientAddress} in ${round(total)} ms`
    if (slow) return Effect.annotateLogs(Effect.logInfo(`Slow request: ${text}`), annotations)
    // Shown whatever the minimum log level: switching it on is the ask.
    return Effect.annotateLogs(Effect.logDebug(text), annotations).pipe(Effect.provideService(References.MinimumLogLevel, "Debug"))
  }
  return {
    settings: () => settings,
    update: (partial) => {
      settings = { ...settings, ...partial }
      return settings
    },
    replaceBase: (s) => {
      settings = s
    },
    observer: { enabled: true, requestDone, connectionOpened: () => {}, connectionClosed: () => {} }
  }
}

export class RequestLog extends Context.Service<RequestLog, RequestLogShape>()("kafka-broker/logging/RequestLog") {
  static readonly layer: Layer.Layer<RequestLog, never, Config | MetadataLog> = Layer.effect(
    RequestLog,
    Effect.gen(function*() {
      const config = yield* Config
      const metadata = yield* MetadataLog
      const minimum = yield* References.MinimumLogLevel
      const o = observabilityConfig(config.raw)
      const base: RequestLogSettings = { debug: o.debugRequests || minimum === "Debug" || minimum === "Trace" || minimum === "All", slowMs: o.slowRequestMs }
      const log = makeRequestLog(fromConfigs(metadata.current(), config.nodeId, base))
      yield* metadata.addListener((change) => {
        if (change.image.brokerConfigs !== change.previous.brokerConfigs) log.replaceBase(fromConfigs(change.image, config.nodeId, base))
      })
      return RequestLog.of(log)
    })
  )
}
