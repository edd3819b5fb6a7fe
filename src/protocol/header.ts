/**
 * Which request/response header version goes with an API version, and the header codecs.
 * Flexible API versions use request header v2 and response header v1 (KIP-482), with two
 * exceptions Kafka keeps for compatibility: ApiVersions responses always use header v0, so
 * a client that does not yet know the broker's versions can parse the answer, and
 * ControlledShutdown v0 uses request header v0 (no client id).
 */
import type { AnyApi } from "./api.ts"
import { isFlexible } from "./api.ts"
import { decodeRequestHeader, type RequestHeader } from "./generated/message/RequestHeader.ts"
import { encodeResponseHeader } from "./generated/message/ResponseHeader.ts"
import { Reader, type Writer } from "./primitives.ts"

export const API_VERSIONS_KEY = 18
const CONTROLLED_SHUTDOWN_KEY = 7

export const requestHeaderVersion = (api: AnyApi, apiVersion: number): number =>
  api.apiKey === CONTROLLED_SHUTDOWN_KEY && apiVersion === 0 ? 0 : isFlexible(api, apiVersion) ? 2 : 1

export const responseHeaderVersion = (api: AnyApi, apiVersion: number): number =>
  api.apiKey === API_VERSIONS_KEY ? 0 : isFlexible(api, apiVersion) ? 1 : 0

/** The fixed start of every request header: enough to route the request before knowing its version's layout. */
export interface RequestPrefix {
  readonly apiKey: number
  readonly apiVersion: number
  readonly correlationId: number
}

/** Reads api key, version and correlation id, which every request header version begins with. */
export const peekRequestPrefix = (frame: Uint8Array): RequestPrefix | undefined => {
  if (frame.length < 8) return undefined
  const f = frame
  return {
    apiKey: ((f[0]! << 24) | (f[1]! << 16)) >> 16,
    apiVersion: ((f[2]! << 24) | (f[3]! << 16)) >> 16,
    correlationId: (f[4]! << 24) | (f[5]! << 16) | (f[6]! << 8) | f[7]!
  }
}

/** Decodes the full request header; the reader is left at the start of the body. */
export const readRequestHeader = (frame: Uint8Array, headerVersion: number): { header: RequestHeader; reader: Reader } => {
  const reader = new Reader(frame)
  const header = decodeRequestHeader(reader, headerVersion)
  return { header, reader }
}

export const writeResponseHeader = (w: Writer, correlationId: number, headerVersion: number): void =>
  encodeResponseHeader(w, headerVersion, { correlationId })
