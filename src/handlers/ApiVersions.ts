/**
 * ApiVersions (key 18): the first request of every client. The answer lists exactly the
 * API keys and version ranges the handler registry serves, so clients never pick a version
 * we cannot decode. Versions above our range get UNSUPPORTED_VERSION in a v0 body (done by
 * the dispatcher, which cannot decode such a request), as Kafka does.
 */
import { Effect } from "effect"
import { ApiVersions } from "../protocol/generated/apis/ApiVersions.ts"
import type { ApiVersionsResponseInit } from "../protocol/generated/message/ApiVersionsResponse.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { Writer } from "../protocol/primitives.ts"
import { defineHandler, type PreEncoded } from "./handler.ts"

export interface SupportedApi {
  readonly apiKey: number
  readonly minVersion: number
  readonly maxVersion: number
}

/** The KRaft features this broker reports as supported (KIP-584). */
const SUPPORTED_FEATURES = [{ name: "metadata.version", minVersion: 1, maxVersion: 21 }] as const

export const apiVersionsResponse = (
  supported: ReadonlyArray<SupportedApi>,
  errorCode: number = ErrorCode.NONE
): ApiVersionsResponseInit => ({
  errorCode,
  apiKeys: supported,
  throttleTimeMs: 0,
  supportedFeatures: SUPPORTED_FEATURES,
  finalizedFeaturesEpoch: -1n
})

/** KIP-511: client software name and version must look like "apache-kafka-java" / "3.7.0". */
const SOFTWARE_FIELD = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/
const validSoftwareField = (s: string): boolean => SOFTWARE_FIELD.test(s)

export const makeApiVersionsHandler = (supported: () => ReadonlyArray<SupportedApi>) => {
  // The answer depends only on the registry and the version, so each version's body is encoded once.
  const encoded = new Map<number, PreEncoded>()
  const bodyFor = (version: number): PreEncoded => {
    let body = encoded.get(version)
    if (body === undefined) {
      const w = new Writer(512)
      ApiVersions.encodeResponse(w, version, apiVersionsResponse(supported()))
      body = { _tag: "PreEncoded", body: w.toBytes() }
      encoded.set(version, body)
    }
    return body
  }
  // Clients send the same software name on every connection: remember the last valid pair.
  let lastValid = ""
  const validSoftware = (name: string, version: string): boolean => {
    const key = `${name}\u0000${version}`
    if (key === lastValid) return true
    if (!validSoftwareField(name) || !validSoftwareField(version)) return false
    lastValid = key
    return true
  }
  return defineHandler(ApiVersions, {
    minVersion: 0,
    maxVersion: 4,
    handle: (request, ctx) =>
      Effect.succeed(
        ctx.apiVersion >= 3 && !validSoftware(request.clientSoftwareName, request.clientSoftwareVersion)
          ? apiVersionsResponse(supported(), ErrorCode.INVALID_REQUEST)
          : bodyFor(ctx.apiVersion)
      )
  })
}
