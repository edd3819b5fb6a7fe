/**
 * From one request frame to the Effect that produces its response frame. Everything up
 * to running the handler is plain code on the frame's bytes: routing by the 8-byte header
 * prefix, then one generated decode of header and body. A request that cannot be served is
 * a `Reject`: the connection logs it and closes, as Kafka does.
 */
import { type Context, Effect } from "effect"
import { apiVersionsResponse } from "../handlers/ApiVersions.ts"
import { type AnyHandler, isPreEncoded, NO_RESPONSE, type RequestContext } from "../handlers/handler.ts"
import type { HandlerRegistry } from "../handlers/registry.ts"
import type { AnyApi } from "../protocol/api.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { ApiVersions } from "../protocol/generated/apis/ApiVersions.ts"
import { API_VERSIONS_KEY, peekRequestPrefix, readRequestHeader, requestHeaderVersion, responseHeaderVersion, writeResponseHeader } from "../protocol/header.ts"
import { Writer } from "../protocol/primitives.ts"

export interface ConnectionInfo {
  readonly clientAddress: string
  readonly listenerName: string
  /** The endpoint clients on this listener are told to use for this broker. */
  readonly advertisedHost: string
  readonly advertisedPort: number
  /** Mutes the connection after a throttled response (client quotas, KIP-219). */
  readonly throttleChannel?: ((throttleTimeMs: number) => void) | undefined
  /** The connection's services: handlers with a `handleWith` answer from them without a fiber. */
  readonly services?: Context.Context<never> | undefined
}

export type Decision<R> =
  | {
    readonly _tag: "Handle"
    readonly apiName: string
    readonly apiKey: number
    readonly apiVersion: number
    readonly correlationId: number
    /** The decoded request (undefined when it was answered without decoding), for observers. */
    readonly request: unknown
    readonly clientId: string | null
    readonly blocking: boolean
    /** The request frame when it is free once the handler's result is ready and answered (Handler.releasesRequestBytes). */
    readonly releasableFrame?: Uint8Array
    /** The handler's program. Often already an Exit (a computed answer), which needs no fiber to run. */
    readonly result: Effect.Effect<unknown, never, R>
    /**
     * Appends the response frame (size prefix included) for the handler's result to `w`;
     * appends nothing when Kafka sends no response.
     */
    readonly respond: (body: unknown, w: Writer) => void
    /**
     * Set when the handler can take this request together with the next ones of its API
     * (`handleManyWith`): the request decoded and not yet handled (`result` then only
     * defers to `handleWith`).
     */
    readonly many?: Groupable<R>
  }
  | { readonly _tag: "Reject"; readonly reason: string }

export interface Groupable<R> {
  readonly handler: AnyHandler<R>
  readonly item: { readonly request: unknown; readonly ctx: RequestContext }
}

const reject = (reason: string): Decision<never> => ({ _tag: "Reject", reason })

/** Appends a whole response frame to `w`: size, header, body (pre-encoded or encoded now). */
export const writeResponseFrame = (api: AnyApi, version: number, correlationId: number, body: unknown, w: Writer): void => {
  const sizeAt = w.reserveInt32()
  // byteLength, not pos: a ResponseBuffer keeps large byte strings out of its buffer.
  const start = w.byteLength
  writeResponseHeader(w, correlationId, responseHeaderVersion(api, version))
  if (isPreEncoded(body)) w.raw(body.body)
  else api.encodeResponse(w, version, body)
  w.setInt32At(sizeAt, w.byteLength - start)
}

/** A response frame as its own bytes (tests, benchmarks). */
export const encodeResponseFrame = (api: AnyApi, version: number, correlationId: number, body: unknown): Uint8Array => {
  const w = new Writer(256)
  writeResponseFrame(api, version, correlationId, body, w)
  return w.toBytes()
}

/** With `group`, a request whose handler takes several at once is decoded only (see `many`). */
export const dispatch = <R>(registry: HandlerRegistry<R>, frame: Uint8Array, conn: ConnectionInfo, group = false): Decision<R> => {
  const prefix = peekRequestPrefix(frame)
  if (prefix === undefined) return reject(`truncated request header (${frame.length} bytes)`)
  const { apiKey, apiVersion, correlationId } = prefix
  const handler = registry.byKey.get(apiKey)
  if (handler === undefined) return reject(`unknown or unsupported API key ${apiKey} (version ${apiVersion})`)
  const api = handler.api as AnyApi

  // A client newer than us asks ApiVersions at a version we cannot parse. Kafka answers with
  // UNSUPPORTED_VERSION in a v0 body that lists what it supports, so the client can retry lower.
  if (apiKey === API_VERSIONS_KEY && apiVersion > handler.maxVersion) {
    const body = apiVersionsResponse(registry.supported, ErrorCode.UNSUPPORTED_VERSION)
    return {
      _tag: "Handle",
      apiName: api.name,
      apiKey,
      apiVersion,
      correlationId,
      request: undefined,
      clientId: null,
      blocking: false,
      result: Effect.succeed(body),
      respond: (b, w) => writeResponseFrame(ApiVersions, 0, correlationId, b, w)
    }
  }
  if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
    return reject(`unsupported ${api.name} version ${apiVersion} (supported ${handler.minVersion}-${handler.maxVersion})`)
  }

  let request: unknown
  let ctx: RequestContext
  try {
    const { header, reader } = readRequestHeader(frame, requestHeaderVersion(api, apiVersion))
    request = api.decodeRequest(reader, apiVersion)
    ctx = {
      apiKey,
      apiVersion,
      header,
      clientAddress: conn.clientAddress,
      listenerName: conn.listenerName,
      advertisedHost: conn.advertisedHost,
      advertisedPort: conn.advertisedPort,
      requestSize: frame.length,
      throttleChannel: conn.throttleChannel
    }
  } catch (e) {
    return reject(`malformed ${api.name} v${apiVersion} request (correlation id ${correlationId}): ${(e as Error).message}`)
  }

  const respond = (body: unknown, w: Writer): void => {
    if (body !== NO_RESPONSE) writeResponseFrame(api, apiVersion, correlationId, body, w)
  }

  if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
    if (handler.errorResponse === undefined) {
      return reject(`unsupported ${api.name} version ${apiVersion} (supported ${handler.minVersion}-${handler.maxVersion})`)
    }
    const body = handler.errorResponse(request, ErrorCode.UNSUPPORTED_VERSION, ctx)
    return { _tag: "Handle", apiName: api.name, apiKey, apiVersion, correlationId, request, clientId: ctx.header.clientId, blocking: false, result: Effect.succeed(body), respond }
  }

  const services = conn.services as Context.Context<R> | undefined
  const handleWith = services === undefined ? undefined : handler.handleWith
  // Grouped: decoded only; `result` defers to handleWith in case the group falls apart.
  const many: Groupable<R> | undefined = group && handleWith !== undefined && handler.handleManyWith !== undefined
    ? { handler, item: { request, ctx } }
    : undefined
  return {
    _tag: "Handle",
    apiName: api.name,
    apiKey,
    apiVersion,
    correlationId,
    request,
    clientId: ctx.header.clientId,
    blocking: handler.blocking === true,
    releasableFrame: handler.releasesRequestBytes === true ? frame : undefined,
    result: handleWith === undefined
      ? handler.handle(request, ctx)
      : many !== undefined
      ? Effect.suspend(() => handleWith(request, ctx, services!))
      : handleWith(request, ctx, services!),
    respond,
    many
  }
}
