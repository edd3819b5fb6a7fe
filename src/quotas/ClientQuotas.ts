/**
 * The ClientQuotas service: the broker's produce, fetch and request quota managers (Kafka's
 * QuotaFactory.QuotaManagers), their quotas taken from the ClientQuotaRecords in the metadata
 * image, so AlterClientQuotas changes them at once. It computes throttle times as KafkaApis
 * does for each kind of request; muting the connection for that time is the connection's job.
 *
 * Without authentication every request's principal is User:ANONYMOUS, as in Kafka on a
 * PLAINTEXT listener: user quotas apply through the entity `user=ANONYMOUS` or the default user.
 */
import { Context, Effect, Layer } from "effect"
import { Config } from "../config/Config.ts"
import type { ClientQuotaImage } from "../metadata/image.ts"
import { MetadataLog } from "../metadata/MetadataLog.ts"
import { CLIENT_ID, USER } from "./client-quotas.ts"
import { ClientQuotaManager, DEFAULT_ENTITY, entityKey } from "./quota-manager.ts"
import type { RateConfig } from "./rate.ts"

/** Kafka's principal for unauthenticated connections (KafkaPrincipal.ANONYMOUS). */
export const ANONYMOUS_USER = "ANONYMOUS"

/** Kafka's ClientRequestQuotaManager.NanosToPercentagePerSecond: request time as % of one second. */
const NANOS_TO_PERCENTAGE = 100 / 1e9

export const PRODUCER_BYTE_RATE = "producer_byte_rate"
export const CONSUMER_BYTE_RATE = "consumer_byte_rate"
export const REQUEST_PERCENTAGE = "request_percentage"

export interface ClientQuotasShape {
  readonly produce: ClientQuotaManager
  readonly fetch: ClientQuotaManager
  readonly request: ClientQuotaManager
  /** Takes quotas changed in the metadata log since the last call; cheap when none changed. */
  readonly refresh: () => void
}

type Entries = Map<string, { user: string | undefined; clientId: string | undefined; bound: number }>

/** The user and client-id quotas of the image, by kind (ip entities are connection quotas, not these). */
export const quotasByKind = (quotas: Iterable<ClientQuotaImage>): Record<string, Entries> => {
  const out: Record<string, Entries> = { [PRODUCER_BYTE_RATE]: new Map(), [CONSUMER_BYTE_RATE]: new Map(), [REQUEST_PERCENTAGE]: new Map() }
  for (const q of quotas) {
    let user: string | undefined
    let clientId: string | undefined
    let other = false
    for (const c of q.entity) {
      const name = c.entityName ?? DEFAULT_ENTITY
      if (c.entityType === USER) user = name
      else if (c.entityType === CLIENT_ID) clientId = name
      else other = true
    }
    if (other || (user === undefined && clientId === undefined)) continue
    for (const [key, value] of q.values) {
      out[key]?.set(entityKey(user, clientId), { user, clientId, bound: value })
    }
  }
  return out
}

export const makeClientQuotas = (config: RateConfig, current: () => ReadonlyMap<string, ClientQuotaImage>): ClientQuotasShape => {
  const produce = new ClientQuotaManager(config)
  const fetch = new ClientQuotaManager(config)
  // Kafka caps request-quota throttles at one window (ClientRequestQuotaManager.maxThrottleTimeMs).
  const request = new ClientQuotaManager(config, config.windowMs)
  let seen: ReadonlyMap<string, ClientQuotaImage> | undefined
  const refresh = (): void => {
    const quotas = current()
    if (quotas === seen) return
    seen = quotas
    const kinds = quotasByKind(quotas.values())
    produce.setQuotas(kinds[PRODUCER_BYTE_RATE]!)
    fetch.setQuotas(kinds[CONSUMER_BYTE_RATE]!)
    request.setQuotas(kinds[REQUEST_PERCENTAGE]!)
  }
  refresh()
  return { produce, fetch, request, refresh }
}

/** Whether Produce must be quota-checked: a produce or request quota was set at some point (Kafka's quotasEnabled). */
export const produceQuotasEnabled = (quotas: ClientQuotasShape): boolean => {
  quotas.refresh()
  return quotas.produce.enabled || quotas.request.enabled
}

export const nanosToPercentage = (nanos: number): number => nanos * NANOS_TO_PERCENTAGE

/** The client id quotas see: Kafka's header client id, "" when the request has none. */
export const quotaClientId = (clientId: string | null): string => clientId ?? ""

export interface Throttle {
  /** The throttle_time_ms to answer with and to mute the connection for (0: none). */
  readonly throttleTimeMs: number
}

/**
 * A Produce request's throttle (KafkaApis.handleProduceRequest): its size against the
 * produce quota, its handling time against the request quota (not for acks=0), the larger
 * of the two, counted against the quota that imposed it.
 */
export const produceThrottle = (
  quotas: ClientQuotasShape,
  clientId: string,
  requestBytes: number,
  requestTimeNanos: number,
  acks: number,
  now: number
): number => {
  quotas.refresh()
  const bandwidth = quotas.produce.record(ANONYMOUS_USER, clientId, requestBytes, now)
  const request = acks === 0 ? 0 : quotas.request.record(ANONYMOUS_USER, clientId, nanosToPercentage(requestTimeNanos), now)
  if (bandwidth > request) quotas.produce.recordThrottle(ANONYMOUS_USER, clientId, bandwidth, now)
  else quotas.request.recordThrottle(ANONYMOUS_USER, clientId, request, now)
  return Math.max(bandwidth, request)
}

/**
 * A Fetch response's throttle (KafkaApis.handleFetchRequest, consumer fetches): its size
 * against the fetch quota and its handling time against the request quota. When either
 * throttles, the response bytes are taken back from the fetch quota: the client gets an
 * empty response instead.
 */
export const fetchThrottle = (
  quotas: ClientQuotasShape,
  clientId: string,
  responseBytes: number,
  requestTimeNanos: number,
  now: number
): number => {
  quotas.refresh()
  const request = quotas.request.record(ANONYMOUS_USER, clientId, nanosToPercentage(requestTimeNanos), now)
  const bandwidth = quotas.fetch.record(ANONYMOUS_USER, clientId, responseBytes, now)
  const throttle = Math.max(bandwidth, request)
  if (throttle > 0) {
    quotas.fetch.unrecord(ANONYMOUS_USER, clientId, responseBytes, now)
    if (bandwidth > request) quotas.fetch.recordThrottle(ANONYMOUS_USER, clientId, bandwidth, now)
    else quotas.request.recordThrottle(ANONYMOUS_USER, clientId, request, now)
  }
  return throttle
}

/**
 * The most a consumer fetch may return (getMaxValueInQuotaWindow): what the quota allows
 * over the window's full samples, so one fetch is never throttled for sure.
 */
export const fetchMaxBytesUnderQuota = (quotas: ClientQuotasShape, clientId: string, now: number): number => {
  quotas.refresh()
  const max = quotas.fetch.maxValueInQuotaWindow(ANONYMOUS_USER, clientId, now)
  return max >= 0x7fffffff ? 0x7fffffff : Math.trunc(max)
}

/** Any other request's throttle (RequestHandlerHelper.sendResponseMaybeThrottle): its handling time against the request quota. */
export const requestThrottle = (quotas: ClientQuotasShape, clientId: string, requestTimeNanos: number, now: number): number => {
  quotas.refresh()
  const throttle = quotas.request.record(ANONYMOUS_USER, clientId, nanosToPercentage(requestTimeNanos), now)
  quotas.request.recordThrottle(ANONYMOUS_USER, clientId, throttle, now)
  return throttle
}

export class ClientQuotas extends Context.Service<ClientQuotas, ClientQuotasShape>()("kafka-broker/quotas/ClientQuotas") {
  /** Quotas from the metadata log, windows from quota.window.num and quota.window.size.seconds. */
  static readonly layer: Layer.Layer<ClientQuotas, never, Config | MetadataLog> = Layer.effect(
    ClientQuotas,
    Effect.gen(function*() {
      const config = yield* Config
      const metadata = yield* MetadataLog
      return ClientQuotas.of(makeClientQuotas(
        { samples: config.quotaWindowNum, windowMs: config.quotaWindowSizeSeconds * 1000 },
        () => metadata.current().clientQuotas
      ))
    })
  )
}
