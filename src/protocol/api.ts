/**
 * The shape of one Kafka API as the generator describes it: key, the version range we
 * generate (stable versions only), where flexible versions start, and the codecs.
 */
import type { Reader, Writer } from "./primitives.ts"

export interface VersionBounds {
  readonly min: number
  readonly max: number
}

export interface ApiDefinition<Req, ReqInit, Res, ResInit> {
  readonly apiKey: number
  readonly name: string
  readonly minVersion: number
  readonly maxVersion: number
  /** The first flexible version (KIP-482), or null when the API has none. */
  readonly flexibleMinVersion: number | null
  readonly deprecatedVersions: VersionBounds | null
  readonly listeners: ReadonlyArray<string>
  readonly decodeRequest: (r: Reader, version: number) => Req
  readonly encodeRequest: (w: Writer, version: number, v: ReqInit) => void
  readonly decodeResponse: (r: Reader, version: number) => Res
  readonly encodeResponse: (w: Writer, version: number, v: ResInit) => void
}

// oxlint-disable-next-line no-explicit-any
export type AnyApi = ApiDefinition<any, any, any, any>

export const defineApi = <Req, ReqInit, Res, ResInit>(
  api: ApiDefinition<Req, ReqInit, Res, ResInit>
): ApiDefinition<Req, ReqInit, Res, ResInit> => api

export const isFlexible = (api: AnyApi, version: number): boolean =>
  api.flexibleMinVersion !== null && version >= api.flexibleMinVersion
