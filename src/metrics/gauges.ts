/**
 * Gauges of state, read when /metrics is scraped rather than kept up to date on every change:
 * partition logs (Kafka's kafka.log:type=Log), consumer groups (the kafka_exporter names Kafka
 * dashboards use for lag), fetch sessions, replica manager and the Node.js process. Each
 * scrape fills a fresh registry, so partitions and groups that went away disappear.
 */
import { type IntervalHistogram, monitorEventLoopDelay, PerformanceObserver, type EntryType } from "node:perf_hooks"
import { Clock, Context, Effect, Layer, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { FetchSessions } from "../fetch/FetchSessions.ts"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { GROUP_STATES } from "../groups/types.ts"
import { LogStore } from "../log/LogStore.ts"
import { isInternalTopic } from "../coordinator/internal-topics.ts"
import { BrokerMetrics, type BrokerMetricsShape } from "./BrokerMetrics.ts"
import { groupLag } from "./group-lag.ts"
import { ClientQuotas, type ClientQuotasShape } from "../quotas/ClientQuotas.ts"

type Attributes = Readonly<Record<string, string>>

/** A registry for one scrape. */
class Scrape {
  readonly context = Context.make(Metric.MetricRegistry, new Map()) as Context.Context<never>
  gauge(name: string, description: string, value: number, attributes?: Attributes): void {
    Metric.gauge(name, { description, attributes }).updateUnsafe(value, this.context)
  }
  counter(name: string, description: string, value: number, attributes?: Attributes): void {
    Metric.counter(name, { description, attributes }).updateUnsafe(value, this.context)
  }
  format(): string {
    return PrometheusMetrics.formatUnsafe(this.context)
  }
}

const GC_KINDS: Readonly<Record<number, string>> = { 1: "minor", 2: "major", 4: "incremental", 8: "weakcb" }

const observeGc = (metrics: BrokerMetricsShape): PerformanceObserver => {
  const histograms = new Map<string, Metric.Histogram<number>>()
  const histogram = (kind: string): Metric.Histogram<number> => {
    let h = histograms.get(kind)
    if (h === undefined) {
      h = Metric.histogram("nodejs_gc_duration_seconds", {
        description: "Garbage collection pauses of the Node.js process, by kind",
        attributes: { kind },
        boundaries: [0.001, 0.01, 0.1, 1, 2, 5]
      })
      histograms.set(kind, h)
    }
    return h
  }
  // Reading a series registers it: the family is there (at 0) before the first collection.
  for (const kind of ["minor", "major"]) histogram(kind).valueUnsafe(metrics.context)
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? "other"
      histogram(kind).updateUnsafe(entry.duration / 1000, metrics.context)
    }
  })
  observer.observe({ entryTypes: ["gc" as EntryType] })
  return observer
}

type EventLoopDelayMonitor = (options: { readonly resolution: number }) => IntervalHistogram
/** Starts observing GC pauses into the broker's metrics; the observer, to disconnect. */
type GcObserver = (metrics: BrokerMetricsShape) => { readonly disconnect: () => void }

/**
 * Process-wide samplers: event-loop delay and GC pauses, started when the metrics are first
 * read and stopped with the broker. The event-loop delay is sampled by a 10 ms timer, which
 * wakes an idle process 100 times a second (half of an idle broker's CPU time); a GC observer
 * costs every garbage collection a performance entry and a callback (0.45 % of the broker's
 * samples under produce load). A broker nobody watches, as one embedded in a test, pays for
 * neither.
 */
export class ProcessSamplers extends Context.Service<ProcessSamplers, {
  /** The event-loop delay histogram, sampling (and GC pauses observed) from the first call on. */
  readonly eventLoopDelay: () => IntervalHistogram
}>()("kafka-broker/metrics/ProcessSamplers") {
  /** With `monitor` and `gc` in place of node:perf_hooks' monitorEventLoopDelay and PerformanceObserver (tests). */
  static readonly make = (monitor: EventLoopDelayMonitor, gc: GcObserver = observeGc): Layer.Layer<ProcessSamplers, never, BrokerMetrics> =>
    Layer.effect(
      ProcessSamplers,
      Effect.gen(function*() {
        const metrics = yield* BrokerMetrics
        let histogram: IntervalHistogram | undefined
        let gcObserver: ReturnType<GcObserver> | undefined
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            histogram?.disable()
            gcObserver?.disconnect()
          })
        )
        return ProcessSamplers.of({
          eventLoopDelay: () => {
            if (histogram === undefined) {
              histogram = monitor({ resolution: 10 })
              histogram.enable()
              gcObserver = gc(metrics)
            }
            return histogram
          }
        })
      })
    )

  static readonly layer: Layer.Layer<ProcessSamplers, never, BrokerMetrics> = ProcessSamplers.make(monitorEventLoopDelay)
}

const processGauges = (s: Scrape, eventLoopDelay: IntervalHistogram): void => {
  const cpu = process.cpuUsage()
  s.counter("process_cpu_user_seconds_total", "User CPU time of the process", cpu.user / 1e6)
  s.counter("process_cpu_system_seconds_total", "System CPU time of the process", cpu.system / 1e6)
  s.counter("process_cpu_seconds_total", "User and system CPU time of the process", (cpu.user + cpu.system) / 1e6)
  const memory = process.memoryUsage()
  s.gauge("process_resident_memory_bytes", "Resident set size", memory.rss)
  s.gauge("nodejs_heap_size_total_bytes", "V8 heap size", memory.heapTotal)
  s.gauge("nodejs_heap_size_used_bytes", "V8 heap used", memory.heapUsed)
  s.gauge("nodejs_external_memory_bytes", "Memory of C++ objects bound to JavaScript (buffers included)", memory.external)
  s.gauge("process_start_time_seconds", "Start time of the process, in seconds since the epoch", Math.round((Date.now() - process.uptime() * 1000) / 1000))
  const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0)
  s.gauge("nodejs_eventloop_lag_mean_seconds", "Mean event-loop delay since the metrics were first read", seconds(eventLoopDelay.mean))
  s.gauge("nodejs_eventloop_lag_p50_seconds", "Median event-loop delay since the metrics were first read", seconds(eventLoopDelay.percentile(50)))
  s.gauge("nodejs_eventloop_lag_p99_seconds", "99th percentile event-loop delay since the metrics were first read", seconds(eventLoopDelay.percentile(99)))
  s.gauge("nodejs_eventloop_lag_max_seconds", "Largest event-loop delay since the metrics were first read", seconds(eventLoopDelay.max))
}

/**
 * Client quota sensors as Kafka's JMX exporter names them (kafka.server type=Produce/Fetch/
 * Request, user and client-id tags). Only entities with a sensor appear: none until a quota
 * of that kind is set, and Kafka's sharing by quota entity plus hourly expiry bound them.
 */
const quotaGauges = (s: Scrape, quotas: ClientQuotasShape, now: number): void => {
  quotas.refresh()
  const kinds = [["produce", quotas.produce, "byte_rate"], ["fetch", quotas.fetch, "byte_rate"], ["request", quotas.request, "request_time"]] as const
  for (const [type, manager, rateName] of kinds) {
    for (const u of manager.usage(now)) {
      const attributes = { user: u.user, client_id: u.clientId }
      s.gauge(`kafka_server_${type}_${rateName}`, `Rate of the quota entity over the quota windows (${type === "request" ? "percent of one thread's time" : "bytes per second"})`, u.rate, attributes)
      if (u.quota !== undefined) s.gauge(`kafka_server_${type}_quota`, "The quota in force for the entity", u.quota, attributes)
      s.gauge(`kafka_server_${type}_throttle_time_ms_total`, "Throttle time handed to the entity since start (ms)", u.throttleTimeMsTotal, attributes)
      s.gauge(`kafka_server_${type}_throttled_responses_total`, "Responses throttled for the entity since start", u.throttleCount, attributes)
    }
  }
}

/** The whole /metrics exposition: the broker's instruments, then the gauges read now. */
export const scrapeMetrics: Effect.Effect<string, never, BrokerMetrics | ProcessSamplers | LogStore | GroupCoordinator | FetchSessions> = Effect.gen(
  function*() {
    const metrics = yield* BrokerMetrics
    const samplers = yield* ProcessSamplers
    const logs = yield* LogStore
    const groups = yield* GroupCoordinator
    const sessions = yield* FetchSessions
    const s = new Scrape()

    let partitions = 0
    for (const log of logs.partitions()) {
      if (log.isClosed) continue
      partitions++
      const attributes = { topic: log.topic, partition: String(log.partition) }
      s.gauge("kafka_log_log_size", "Bytes of the partition's segments (Log Size)", log.size(), attributes)
      s.gauge("kafka_log_log_logstartoffset", "First offset of the partition (Log LogStartOffset)", log.logStartOffset, attributes)
      s.gauge("kafka_log_log_logendoffset", "Next offset to be written (Log LogEndOffset)", log.logEndOffset, attributes)
      s.gauge("kafka_log_log_numlogsegments", "Segments of the partition (Log NumLogSegments)", log.numberOfSegments, attributes)
    }
    const indexes = logs.indexMemory()
    s.gauge("kafka_log_index_memory_bytes", "Bytes of sealed segments' offset and time index entries held in memory (at most log.index.memory.max.bytes)", indexes.bytes)
    s.gauge("kafka_log_index_memory_segments", "Sealed segments whose index entries are held in memory", indexes.segments)
    s.gauge("kafka_server_replicamanager_partitioncount", "Partitions on this broker (ReplicaManager PartitionCount)", partitions)
    s.gauge("kafka_server_replicamanager_leadercount", "Partitions this broker leads (ReplicaManager LeaderCount)", partitions)
    s.gauge("kafka_server_replicamanager_underreplicatedpartitions", "Partitions with fewer in-sync replicas than replicas: 0 on a single node (ReplicaManager UnderReplicatedPartitions)", 0)
    s.gauge("kafka_server_fetchsessioncache_numincrementalfetchsessions", "Open incremental fetch sessions (FetchSessionCache NumIncrementalFetchSessions)", sessions.size())

    const listed = yield* groups.listGroups({ states: [], types: [] })
    const described = yield* groups.describeGroups(listed.map((g) => g.groupId))
    for (const g of described) {
      const consumergroup = g.groupId
      s.gauge("kafka_consumergroup_members", "Members of the consumer group", g.members.length, { consumergroup })
      for (const state of GROUP_STATES) {
        s.gauge("kafka_consumergroup_state", "1 for the group's current state, else 0", g.state === state ? 1 : 0, { consumergroup, state })
      }
      for (const p of yield* groupLag(groups, logs, consumergroup)) {
        if (isInternalTopic(p.topic)) continue
        const attributes = { consumergroup, topic: p.topic, partition: String(p.partition) }
        s.gauge("kafka_consumergroup_current_offset", "Committed offset of the group for the partition (-1: none)", p.committed, attributes)
        s.gauge("kafka_consumergroup_lag", "High watermark minus the committed offset", p.lag, attributes)
      }
    }

    const quotas = yield* Effect.serviceOption(ClientQuotas)
    if (quotas._tag === "Some") quotaGauges(s, quotas.value, yield* Clock.currentTimeMillis)

    processGauges(s, samplers.eventLoopDelay())
    return metrics.format() + s.format()
  }
)
