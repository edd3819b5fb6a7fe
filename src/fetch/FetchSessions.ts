/**
 * The FetchSessions service: the broker's one KIP-227 fetch session cache, sized by
 * `max.incremental.fetch.session.cache.slots`, plus the broker's `fetch.max.bytes` cap on
 * a fetch response. The Fetch handler resolves every request against it (sessionless full
 * fetches included: epoch -1 closes a session the client names).
 *
 * `begin` is plain, synchronous code: the handler calls it once per request inside its one
 * Effect. The cache is only touched from the JavaScript thread, one request at a time.
 */
import { Context, Effect, Layer } from "effect"
import { Config } from "../config/Config.ts"
import {
  DEFAULT_EVICTION_MS,
  type FetchContext,
  type FetchPartitionRequest,
  FetchSessionCache,
  type SessionError
} from "./session-cache.ts"

export type { FetchContext, FetchPartitionRequest, PartitionOutcome, SessionError } from "./session-cache.ts"

/** Kafka's default fetch.max.bytes (55 MiB). */
export const DEFAULT_FETCH_MAX_BYTES = 55 * 1024 * 1024
/** Kafka's default max.incremental.fetch.session.cache.slots. */
export const DEFAULT_SESSION_SLOTS = 1000

export interface FetchSessionsOptions {
  /** max.incremental.fetch.session.cache.slots (0 disables sessions: clients fetch in full). */
  readonly slots: number
  /** fetch.max.bytes: the most a fetch response carries (KIP-74's first batch excepted). */
  readonly fetchMaxBytes?: number
  /** min.incremental.fetch.session.eviction.ms */
  readonly evictionMs?: number
}

export interface FetchSessionsShape {
  /** See FetchSessionCache.begin: the partitions to read and the response filter, or a session error. */
  readonly begin: (
    sessionId: number,
    epoch: number,
    partitions: ReadonlyArray<FetchPartitionRequest>,
    forgotten: ReadonlyArray<string>,
    now: number
  ) => FetchContext | SessionError
  /** Number of open sessions. */
  readonly size: () => number
  readonly fetchMaxBytes: number
}

const make = (options: FetchSessionsOptions): FetchSessionsShape => {
  const cache = new FetchSessionCache(options.slots, options.evictionMs ?? DEFAULT_EVICTION_MS)
  return {
    begin: (sessionId, epoch, partitions, forgotten, now) => cache.begin(sessionId, epoch, partitions, forgotten, now),
    size: () => cache.size,
    fetchMaxBytes: options.fetchMaxBytes ?? DEFAULT_FETCH_MAX_BYTES
  }
}

export class FetchSessions extends Context.Service<FetchSessions, FetchSessionsShape>()("kafka-broker/fetch/FetchSessions") {
  /** A fresh cache with the given limits (tests, embedding). */
  static readonly make = (options: FetchSessionsOptions): FetchSessionsShape => FetchSessions.of(make(options))

  static readonly layerWith = (options: FetchSessionsOptions): Layer.Layer<FetchSessions> =>
    Layer.sync(FetchSessions, () => FetchSessions.make(options))

  /** Sized by the broker config (max.incremental.fetch.session.cache.slots, fetch.max.bytes). */
  static readonly layer: Layer.Layer<FetchSessions, never, Config> = Layer.effect(
    FetchSessions,
    Effect.gen(function*() {
      const config = yield* Config
      return FetchSessions.make({ slots: config.maxIncrementalFetchSessionCacheSlots, fetchMaxBytes: config.fetchMaxBytes })
    })
  )
}
