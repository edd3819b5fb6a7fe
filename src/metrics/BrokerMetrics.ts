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
import { Count, Histogram, Level, type Registered, registerCount, registerHistogram, registerLevel } from "./instruments.ts"
import { countFetch, countProduce, forEachErrorCode, type TopicTraffic } from "./traffic.ts"

const PRODUCE_KEY = 0
const FETCH_KEY = 1

/** Milliseconds, from sub-millisecond in-memory answers to long polls. */
export const LATENCY_BUCKETS_MS: ReadonlyArray<number> = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]

const ERROR_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(ErrorCode).map(([name, code]) => [code, name]))
const errorName = (code: number): string => ERROR_NAMES.get(code) ?? `ERROR_${code}`

interface RequestInstruments {
  readonly name: string
  readonly requests: Count
  readonly totalTime: Histogram
  readonly queueTime: Histogram
  readonly localTime: Histogram
  readonly responseQueueTime: Histogram
  readonly responseSendTime: Histogram
  readonly errors: Map<number, Count>
}

interface TopicInstruments {
  readonly messagesIn: Count
  readonly bytesIn: Count
  readonly bytesOut: Count
  readonly totalProduce: Count
  readonly totalFetch: Count
  readonly failedProduce: Count
  readonly failedFetch: Count
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

const REQUEST_FAMILIES = {
  totalTime: ["totaltimems", "Milliseconds from reading the request to writing its response (TotalTimeMs)"],
  queueTime: ["requestqueuetimems", "Milliseconds between reading the request and starting its handler (RequestQueueTimeMs)"],
  localTime: ["localtimems", "Milliseconds in the handler, long-poll waits included (LocalTimeMs)"],
  responseQueueTime: ["responsequeuetimems", "Milliseconds a finished response waited to be written (ResponseQueueTimeMs)"],
  responseSendTime: ["responsesendtimems", "Milliseconds writing the response to the socket (ResponseSendTimeMs)"]
} as const

const topicInstruments = (context: Context.Context<never>, topic: string | undefined): { instruments: TopicInstruments; registered: Array<Registered> } => {
  const attributes = topic === undefined ? undefined : { topic }
  const registered: Array<Registered> = []
  const instruments = {} as Record<keyof TopicInstruments, Count>
  for (const [key, [suffix, description]] of Object.entries(TOPIC_FAMILIES)) {
    const count = new Count()
    instruments[key as keyof TopicInstruments] = count
    registered.push(registerCount(context, `kafka_server_brokertopicmetrics_${suffix}`, description, attributes, count))
  }
  return { instruments, registered }
}

const requestInstruments = (context: Context.Context<never>, request: string): RequestInstruments => {
  const attributes = { request }
  const requests = new Count()
  registerCount(context, "kafka_network_requestmetrics_requests_total", "Requests served (RequestsPerSec)", attributes, requests)
  const histograms = {} as Record<keyof typeof REQUEST_FAMILIES, Histogram>
  for (const [key, [name, description]] of Object.entries(REQUEST_FAMILIES)) {
    const h = new Histogram(LATENCY_BUCKETS_MS)
    histograms[key as keyof typeof REQUEST_FAMILIES] = h
    registerHistogram(context, `kafka_network_requestmetrics_${name}`, description, attributes, h)
  }
  return { name: request, requests, ...histograms, errors: new Map() }
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
  // The all-topics series exist before the first request, as in Kafka.
  const allTopics = topicInstruments(context, undefined).instruments
  const byTopic = new Map<string, { instruments: TopicInstruments; registered: Array<Registered> }>()
  const byRequest = new Map<string, RequestInstruments>()
  const byListener = new Map<string, { open: Level; created: Count; closed: Count }>()

  const topic = (name: string): TopicInstruments => {
    let t = byTopic.get(name)
    if (t === undefined) {
      t = topicInstruments(context, name)
      byTopic.set(name, t)
    }
    return t.instruments
  }

  // The request whose response is being counted (plain state: no closure per request).
  let current: RequestInstruments | undefined
  const countError = (code: number): void => {
    const r = current!
    let count = r.errors.get(code)
    if (count === undefined) {
      count = new Count()
      registerCount(context, "kafka_network_requestmetrics_errors_total", "Error codes in responses, NONE included (ErrorsPerSec)", { request: r.name, error: errorName(code) }, count)
      r.errors.set(code, count)
    }
    count.value++
  }

  const traffic: TopicTraffic = {
    error: countError,
    produced: (name, messages, bytes) => {
      const t = topic(name)
      t.totalProduce.value++
      t.messagesIn.value += messages
      t.bytesIn.value += bytes
      allTopics.totalProduce.value++
      allTopics.messagesIn.value += messages
      allTopics.bytesIn.value += bytes
    },
    produceFailed: (name) => {
      const t = topic(name)
      t.totalProduce.value++
      t.failedProduce.value++
      allTopics.totalProduce.value++
      allTopics.failedProduce.value++
    },
    fetched: (name, bytes) => {
      const t = topic(name)
      t.totalFetch.value++
      t.bytesOut.value += bytes
      allTopics.totalFetch.value++
      allTopics.bytesOut.value += bytes
    },
    fetchFailed: (name) => {
      const t = topic(name)
      t.totalFetch.value++
      t.failedFetch.value++
      allTopics.totalFetch.value++
      allTopics.failedFetch.value++
    }
  }

  const listener = (name: string) => {
    let l = byListener.get(name)
    if (l === undefined) {
      const attributes = { listener: name }
      l = { open: new Level(), created: new Count(), closed: new Count() }
      registerLevel(context, "kafka_server_socket_server_metrics_connection_count", "Open client connections", attributes, l.open)
      registerCount(context, "kafka_server_socket_server_metrics_connection_creation_total", "Connections accepted (connection-creation-rate)", attributes, l.created)
      registerCount(context, "kafka_server_socket_server_metrics_connection_close_total", "Connections closed (connection-close-rate)", attributes, l.closed)
      byListener.set(name, l)
    }
    return l
  }

  const requestDone = (o: RequestObservation): undefined => {
    let r = byRequest.get(o.apiName)
    if (r === undefined) {
      r = requestInstruments(context, o.apiName)
      byRequest.set(o.apiName, r)
    }
    r.requests.value++
    r.totalTime.observe(o.sentAt - o.receivedAt)
    r.queueTime.observe(o.startedAt - o.receivedAt)
    r.localTime.observe(o.completedAt - o.startedAt)
    r.responseQueueTime.observe(o.sendStartedAt - o.completedAt)
    r.responseSendTime.observe(o.sentAt - o.sendStartedAt)
    current = r
    // Produce and Fetch count their errors while walking their partitions.
    if (o.apiKey === PRODUCE_KEY && o.request !== undefined) countProduce(o.request as never, o.response, traffic)
    else if (o.apiKey === FETCH_KEY) countFetch(o.response, traffic)
    else forEachErrorCode(o.response, countError)
    current = undefined
    return undefined
  }

  return {
    observer: {
      enabled: options.enabled,
      requestDone,
      connectionOpened: (name) => {
        const l = listener(name)
        l.open.value++
        l.created.value++
      },
      connectionClosed: (name) => {
        const l = listener(name)
        l.open.value--
        l.closed.value++
      }
    },
    context,
    format: () => PrometheusMetrics.formatUnsafe(context),
    totals: () => ({
      time: Date.now(),
      bytesIn: allTopics.bytesIn.value,
      bytesOut: allTopics.bytesOut.value,
      messagesIn: allTopics.messagesIn.value
    }),
    removeTopic: (name) => {
      const t = byTopic.get(name)
      if (t === undefined) return
      byTopic.delete(name)
      for (const r of t.registered) r.remove()
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
