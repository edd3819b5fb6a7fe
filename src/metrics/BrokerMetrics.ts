/**
 * The broker's instruments, as effect `Metric`s in a registry of its own (two brokers in one
 * process, as in the tests, count apart), named after what Kafka's JMX exporter produces from
 * Kafka's MBeans so existing Kafka dashboards work: kafka.server BrokerTopicMetrics
 * (`kafka_server_brokertopicmetrics_*`), kafka.network RequestMetrics
 * (`kafka_network_requestmetrics_*`, label `request` with Kafka's API names), socket server
 * connection counts. Counters and histograms move as requests finish (once per request, from
 * the connection's observer); gauges of state (logs, groups, sessions, process) are read when
 * /metrics is scraped (gauges.ts).
 */
import { Context, Effect, Layer, Metric } from "effect"
import { MetadataLog } from "../metadata/MetadataLog.ts"
import { PrometheusMetrics } from "effect/observability"
import { ErrorCode } from "../protocol/error-codes.ts"
import type { RequestObservation, RequestObserver } from "../server/observer.ts"
import { countFetch, countProduce, forEachErrorCode, type TopicTraffic } from "./traffic.ts"

const PRODUCE_KEY = 0
const FETCH_KEY = 1

/** Milliseconds, from sub-millisecond in-memory answers to long polls. */
export const LATENCY_BUCKETS_MS: ReadonlyArray<number> = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]

const ERROR_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(ErrorCode).map(([name, code]) => [code, name]))
const errorName = (code: number): string => ERROR_NAMES.get(code) ?? `ERROR_${code}`

interface RequestInstruments {
  readonly requests: Metric.Counter<number>
  readonly totalTime: Metric.Histogram<number>
  readonly queueTime: Metric.Histogram<number>
  readonly localTime: Metric.Histogram<number>
  readonly responseQueueTime: Metric.Histogram<number>
  readonly responseSendTime: Metric.Histogram<number>
  readonly errors: Map<number, Metric.Counter<number>>
}

interface TopicInstruments {
  readonly messagesIn: Metric.Counter<number>
  readonly bytesIn: Metric.Counter<number>
  readonly bytesOut: Metric.Counter<number>
  readonly totalProduce: Metric.Counter<number>
  readonly totalFetch: Metric.Counter<number>
  readonly failedProduce: Metric.Counter<number>
  readonly failedFetch: Metric.Counter<number>
}

/** BrokerTopicMetrics families: name suffix and help. */
export const TOPIC_FAMILIES = {
  messagesIn: ["messagesin_total", "Records appended (MessagesInPerSec)"],
  bytesIn: ["bytesin_total", "Bytes appended from clients (BytesInPerSec)"],
  bytesOut: ["bytesout_total", "Bytes sent to fetchers (BytesOutPerSec)"],
  totalProduce: ["totalproducerequests_total", "Produce requests, per partition (TotalProduceRequestsPerSec)"],
  totalFetch: ["totalfetchrequests_total", "Fetch requests, per partition (TotalFetchRequestsPerSec)"],
  failedProduce: ["failedproducerequests_total", "Produce requests failed, per partition (FailedProduceRequestsPerSec)"],
  failedFetch: ["failedfetchrequests_total", "Fetch requests failed, per partition (FailedFetchRequestsPerSec)"]
} as const satisfies Record<keyof TopicInstruments, readonly [string, string]>

const topicInstruments = (topic: string | undefined): TopicInstruments => {
  const attributes = topic === undefined ? undefined : { topic }
  const counter = ([suffix, description]: readonly [string, string]) =>
    Metric.counter(`kafka_server_brokertopicmetrics_${suffix}`, { description, attributes })
  return {
    messagesIn: counter(TOPIC_FAMILIES.messagesIn),
    bytesIn: counter(TOPIC_FAMILIES.bytesIn),
    bytesOut: counter(TOPIC_FAMILIES.bytesOut),
    totalProduce: counter(TOPIC_FAMILIES.totalProduce),
    totalFetch: counter(TOPIC_FAMILIES.totalFetch),
    failedProduce: counter(TOPIC_FAMILIES.failedProduce),
    failedFetch: counter(TOPIC_FAMILIES.failedFetch)
  }
}

const requestInstruments = (request: string): RequestInstruments => {
  const attributes = { request }
  const histogram = (name: string, description: string) =>
    Metric.histogram(`kafka_network_requestmetrics_${name}`, { description, attributes, boundaries: LATENCY_BUCKETS_MS })
  return {
    requests: Metric.counter("kafka_network_requestmetrics_requests_total", { description: "Requests served (RequestsPerSec)", attributes }),
    totalTime: histogram("totaltimems", "Milliseconds from reading the request to writing its response (TotalTimeMs)"),
    queueTime: histogram("requestqueuetimems", "Milliseconds between reading the request and starting its handler (RequestQueueTimeMs)"),
    localTime: histogram("localtimems", "Milliseconds in the handler, long-poll waits included (LocalTimeMs)"),
    responseQueueTime: histogram("responsequeuetimems", "Milliseconds a finished response waited to be written (ResponseQueueTimeMs)"),
    responseSendTime: histogram("responsesendtimems", "Milliseconds writing the response to the socket (ResponseSendTimeMs)"),
    errors: new Map()
  }
}

/** One sample of the all-topics byte counters, for the console's throughput chart. */
export interface ThroughputSample {
  readonly time: number
  readonly bytesIn: number
  readonly bytesOut: number
  readonly messagesIn: number
}

export interface BrokerMetricsShape {
  readonly observer: RequestObserver
  /** The registry's context, to update or read instruments from plain code. */
  readonly context: Context.Context<never>
  /** The Prometheus text exposition of the event-driven instruments. */
  readonly format: () => string
  /** All-topics totals now. */
  readonly totals: () => ThroughputSample
  /** Forgets the series of a deleted topic, as Kafka removes its topic metrics. */
  readonly removeTopic: (topic: string) => void
}

export interface BrokerMetricsOptions {
  /** False: requests are not observed at all (for the benchmark's baseline). */
  readonly enabled: boolean
}

export const makeBrokerMetrics = (options: BrokerMetricsOptions): BrokerMetricsShape => {
  const registry: Metric.MetricRegistry = new Map()
  const context = Context.make(Metric.MetricRegistry, registry) as Context.Context<never>
  const allTopics = topicInstruments(undefined)
  const byTopic = new Map<string, TopicInstruments>()
  const byRequest = new Map<string, RequestInstruments>()
  const connectionCount = new Map<string, number>()

  const topic = (name: string): TopicInstruments => {
    let t = byTopic.get(name)
    if (t === undefined) {
      t = topicInstruments(name)
      byTopic.set(name, t)
    }
    return t
  }

  const traffic: TopicTraffic = {
    produced: (name, messages, bytes) => {
      const t = topic(name)
      t.totalProduce.updateUnsafe(1, context)
      t.messagesIn.updateUnsafe(messages, context)
      t.bytesIn.updateUnsafe(bytes, context)
      allTopics.totalProduce.updateUnsafe(1, context)
      allTopics.messagesIn.updateUnsafe(messages, context)
      allTopics.bytesIn.updateUnsafe(bytes, context)
    },
    produceFailed: (name) => {
      const t = topic(name)
      t.totalProduce.updateUnsafe(1, context)
      t.failedProduce.updateUnsafe(1, context)
      allTopics.totalProduce.updateUnsafe(1, context)
      allTopics.failedProduce.updateUnsafe(1, context)
    },
    fetched: (name, bytes) => {
      const t = topic(name)
      t.totalFetch.updateUnsafe(1, context)
      t.bytesOut.updateUnsafe(bytes, context)
      allTopics.totalFetch.updateUnsafe(1, context)
      allTopics.bytesOut.updateUnsafe(bytes, context)
    },
    fetchFailed: (name) => {
      const t = topic(name)
      t.totalFetch.updateUnsafe(1, context)
      t.failedFetch.updateUnsafe(1, context)
      allTopics.totalFetch.updateUnsafe(1, context)
      allTopics.failedFetch.updateUnsafe(1, context)
    }
  }

  const connections = (listener: string, delta: number) => {
    const count = (connectionCount.get(listener) ?? 0) + delta
    connectionCount.set(listener, count)
    const attributes = { listener }
    Metric.gauge("kafka_server_socket_server_metrics_connection_count", { description: "Open client connections", attributes })
      .updateUnsafe(count, context)
    const counter = delta > 0 ? "connection_creation_total" : "connection_close_total"
    Metric.counter(`kafka_server_socket_server_metrics_${counter}`, {
      description: delta > 0 ? "Connections accepted (connection-creation-rate)" : "Connections closed (connection-close-rate)",
      attributes
    }).updateUnsafe(1, context)
  }
  const requestDone = (o: RequestObservation): undefined => {
    let r = byRequest.get(o.apiName)
    if (r === undefined) {
      r = requestInstruments(o.apiName)
      byRequest.set(o.apiName, r)
    }
    r.requests.updateUnsafe(1, context)
    r.totalTime.updateUnsafe(o.sentAt - o.receivedAt, context)
    r.queueTime.updateUnsafe(o.startedAt - o.receivedAt, context)
    r.localTime.updateUnsafe(o.completedAt - o.startedAt, context)
    r.responseQueueTime.updateUnsafe(o.sendStartedAt - o.completedAt, context)
    r.responseSendTime.updateUnsafe(o.sentAt - o.sendStartedAt, context)
    const errors = r.errors
    const request = o.apiName
    forEachErrorCode(o.response, (code) => {
      let counter = errors.get(code)
      if (counter === undefined) {
        counter = Metric.counter("kafka_network_requestmetrics_errors_total", {
          description: "Error codes in responses, NONE included (ErrorsPerSec)",
          attributes: { request, error: errorName(code) }
        })
        errors.set(code, counter)
      }
      counter.updateUnsafe(1, context)
    })
    if (o.apiKey === PRODUCE_KEY && o.request !== undefined) countProduce(o.request as never, o.response, traffic)
    else if (o.apiKey === FETCH_KEY) countFetch(o.response, traffic)
    return undefined
  }

  // The all-topics series exist before the first request, as in Kafka.
  for (const m of Object.values(allTopics)) m.updateUnsafe(0, context)

  return {
    observer: {
      enabled: options.enabled,
      requestDone,
      connectionOpened: (listener) => connections(listener, 1),
      connectionClosed: (listener) => connections(listener, -1)
    },
    context,
    format: () => PrometheusMetrics.formatUnsafe(context),
    totals: () => ({
      time: Date.now(),
      bytesIn: allTopics.bytesIn.valueUnsafe(context).count,
      bytesOut: allTopics.bytesOut.valueUnsafe(context).count,
      messagesIn: allTopics.messagesIn.valueUnsafe(context).count
    }),
    removeTopic: (name) => {
      const t = byTopic.get(name)
      if (t === undefined) return
      byTopic.delete(name)
      for (const m of Object.values(t)) Metric.removeUnsafe(m, context)
    }
  }
}

export class BrokerMetrics extends Context.Service<BrokerMetrics, BrokerMetricsShape>()("kafka-broker/metrics/BrokerMetrics") {
  static readonly layer = (options: BrokerMetricsOptions = { enabled: true }): Layer.Layer<BrokerMetrics> =>
    Layer.sync(BrokerMetrics, () => BrokerMetrics.of(makeBrokerMetrics(options)))

  /** Drops the series of deleted topics, as Kafka removes a topic's metrics with it. */
  static readonly forgetDeletedTopics: Layer.Layer<never, never, BrokerMetrics | MetadataLog> = Layer.effectDiscard(
    Effect.gen(function*() {
      const metrics = yield* BrokerMetrics
      const metadata = yield* MetadataLog
      yield* metadata.addListener((change) => {
        for (const name of change.previous.topicsByName.keys()) {
          if (!change.image.topicsByName.has(name)) metrics.removeTopic(name)
        }
      })
    })
  )
}
