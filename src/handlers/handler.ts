/**
 * What a request handler is: an Effect program from a decoded request to a response, for a
 * range of versions of one API. Each handler file declares its API and versions; the
 * registry collects them and ApiVersions advertises exactly what it holds.
 */
import type { Context, Effect } from "effect"
import type { ApiDefinition } from "../protocol/api.ts"
import type { RequestHeader } from "../protocol/generated/message/RequestHeader.ts"

export interface RequestContext {
  readonly apiKey: number
  readonly apiVersion: number
  readonly header: RequestHeader
  /** "host:port" of the client, for logs. */
  readonly clientAddress: string
  /** The listener the request arrived on (its name, e.g. PLAINTEXT). */
  readonly listenerName: string
  /** This broker's endpoint as clients on that listener must see it (Metadata, FindCoordinator). */
  readonly advertisedHost: string
  readonly advertisedPort: number
  /** The request's size on the wire, header and body (Kafka's request.sizeInBytes): what the produce quota counts. */
  readonly requestSize?: number | undefined
  /**
   * Mutes the connection for a throttle (KIP-219): its response goes out at once, then no
   * further request is read from it for `throttleTimeMs`.
   */
  readonly throttleChannel?: ((throttleTimeMs: number) => void) | undefined
}

/** Returned by a handler when Kafka sends no response (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol.for("kafka-broker/NoResponse")
export type NoResponse = typeof NO_RESPONSE

/**
 * A response body already in wire form, for answers that never change (ApiVersions): the
 * dispatcher frames it without encoding. Kafka caches its ApiVersions response the same way.
 */
export interface PreEncoded {
  readonly _tag: "PreEncoded"
  readonly body: Uint8Array
}

export const isPreEncoded = (u: unknown): u is PreEncoded =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "PreEncoded"

export interface Handler<Req, ResInit, R> {
  readonly api: ApiDefinition<Req, unknown, unknown, ResInit>
  readonly minVersion: number
  readonly maxVersion: number
  /**
   * True when the handler may wait (long-polling Fetch, Produce waiting for acks): it then
   * runs in its own fiber so later requests on the connection are read meanwhile; the
   * connection still writes responses in request order.
   */
  readonly blocking?: boolean
  /**
   * True when nothing holds on to the request's bytes once the handler's result is ready
   * (Produce: the batches are written by then, and the response holds none of them). The
   * connection may then reuse the buffer it copied a large request frame into for a later
   * frame instead of allocating one per request.
   */
  readonly releasesRequestBytes?: boolean
  /**
   * False for an API that is served but not listed in ApiVersions, as Kafka hides the
   * telemetry APIs when no client telemetry receiver is configured. Default true.
   */
  readonly advertised?: boolean
  /**
   * The lowest version ApiVersions lists, when it is below `minVersion`: Kafka 4 lists
   * Produce from v0 although it refuses v0-v2 (KAFKA-18659), because librdkafka before 2.10
   * compresses a batch with gzip, snappy or lz4 only for a broker that lists Produce v0.
   */
  readonly advertisedMinVersion?: number
  readonly handle: (request: Req, ctx: RequestContext) => Effect.Effect<ResInit | NoResponse | PreEncoded, never, R>
  /**
   * `handle` run against services already at hand (the connection's), for handlers whose
   * work is plain code: it then returns an Exit, which the connection's frame loop answers
   * in the same turn without running an Effect (Produce, per request on the hot path), or an
   * Effect that waits for little (Produce to a log that forces each append: its appends,
   * committed with the turn's).
   * Must mean exactly what `handle` means.
   */
  readonly handleWith?: (request: Req, ctx: RequestContext, services: Context.Context<R>) => Effect.Effect<ResInit | NoResponse | PreEncoded, never, R>
  /**
   * Several consecutive requests of one connection handled at once (their answers in order),
   * meaning exactly what handling them one after the other with `handleWith` means; Produce
   * writes a partition's batches of them in one system call. Each answer is asked for once
   * the one before it is done (the first at once). Undefined when they must be handled one
   * by one after all.
   */
  readonly handleManyWith?: (
    items: ReadonlyArray<{ readonly request: Req; readonly ctx: RequestContext }>,
    services: Context.Context<R>
  ) => ReadonlyArray<() => Effect.Effect<ResInit | NoResponse | PreEncoded, never, R>> | undefined
  /**
   * The response for a request this handler will not serve (its version is outside the
   * range, or it failed): the given error code in whatever error fields the API has.
   */
  readonly errorResponse?: (request: Req, errorCode: number, ctx: RequestContext) => ResInit
}

// oxlint-disable-next-line no-explicit-any
export type AnyHandler<R = any> = Handler<any, any, R>

export const defineHandler = <Req, ReqInit, Res, ResInit, R>(
  api: ApiDefinition<Req, ReqInit, Res, ResInit>,
  handler: Omit<Handler<Req, ResInit, R>, "api">
): Handler<Req, ResInit, R> => ({ ...handler, api: api as unknown as ApiDefinition<Req, unknown, unknown, ResInit> })
