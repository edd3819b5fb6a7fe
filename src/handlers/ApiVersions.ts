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

/** The KRaft features this broker reports as supported (KIP-584); UpdateFeatures accepts levels in these ranges. */
export const SUPPORTED_FEATURES = [{ name: "metadata.version", minVersion: 1, maxVersion: 21 }] as const

/**
 * The cluster's finalized features (FeatureLevelRecords) and their epoch, which ApiVersions
 * v3+ reports (Kafka's DescribeFeatures is this part of the ApiVersions answer). `source`
 * changes identity whenever they may have changed, so encoded answers can be reused until then.
 */
export interface FinalizedFeatures {
  readonly source: object
  readonly epoch: bigint
  readonly features: ReadonlyMap<string, number>
}

const NO_FINALIZED_FEATURES: FinalizedFeatures = { source: {}, epoch: -1n, features: new Map() }

export const apiVersionsResponse = (
  supported: ReadonlyArray<SupportedApi>,
  errorCode: number = ErrorCode.NONE,
  finalized: FinalizedFeatures = NO_FINALIZED_FEATURES
): ApiVersionsResponseInit => ({
  errorCode,
  apiKeys: supported,
  throttleTimeMs: 0,
  supportedFeatures: SUPPORTED_FEATURES,
  finalizedFeaturesEpoch: finalized.epoch,
  // Kafka reports a finalized level as both its min and max level.
  finalizedFeatures: [...finalized.features].map(([name, level]) => ({ name, minVersionLevel: level, maxVersionLevel: level }))
})

/** KIP-511: client software name and version must look like "apache-kafka-java" / "3.7.0". */
const SOFTWARE_FIELD = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/
const validSoftwareField = (s: string): boolean => SOFTWARE_FIELD.test(s)

export const makeApiVersionsHandler = (
  supported: () => ReadonlyArray<SupportedApi>,
  finalized: () => FinalizedFeatures = () => NO_FINALIZED_FEATURES
) => {
  // The answer depends only on the registry, the finalized features and the version, so each
  // version's body is encoded once per state of the features.
  let encodedFor: object | undefined
  const encoded = new Map<number, PreEncoded>()
  const bodyFor = (version: number): PreEncoded => {
    const features = finalized()
    if (features.source !== encodedFor) {
      encoded.clear()
      encodedFor = features.source
    }
    let body = encoded.get(version)
    if (body === undefined) {
      const w = new Writer(512)
      ApiVersions.encodeResponse(w, version, apiVersionsResponse(supported(), ErrorCode.NONE, features))
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
          ? apiVersionsResponse(supported(), ErrorCode.INVALID_REQUEST, finalized())
          : bodyFor(ctx.apiVersion)
      )
  })
}
