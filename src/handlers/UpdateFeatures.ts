/**
 * UpdateFeatures (key 57), versions 0-2: finalizes feature levels as FeatureLevelRecords in
 * the metadata log, checked as Kafka's FeatureControlManager checks them. Only features this
 * broker supports (ApiVersions' supported features: metadata.version 1-21) can be set; an
 * upgrade needs upgrade type UPGRADE (1), a lower level SAFE_DOWNGRADE (2) or UNSAFE_DOWNGRADE
 * (3), and a metadata.version downgrade is refused, as Kafka 3.9 refuses it. The whole request
 * succeeds or fails together: one error for every feature, INVALID_UPDATE_VERSION with Kafka's
 * message. v0 has allow_downgrade instead of an upgrade type; validate_only is v1+.
 */
import { Effect } from "effect"
import { METADATA_VERSION_FEATURE } from "../metadata/image.ts"
import { MetadataLog } from "../metadata/MetadataLog.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { UpdateFeatures } from "../protocol/generated/apis/UpdateFeatures.ts"
import type { UpdateFeaturesRequest, UpdateFeaturesRequestFeatureUpdateKey } from "../protocol/generated/message/UpdateFeaturesRequest.ts"
import type { UpdateFeaturesResponseInit } from "../protocol/generated/message/UpdateFeaturesResponse.ts"
import { SUPPORTED_FEATURES } from "./ApiVersions.ts"
import { defineHandler } from "./handler.ts"

const UPGRADE = 1
const SAFE_DOWNGRADE = 2
const UNSAFE_DOWNGRADE = 3

interface Outcome {
  readonly errorCode: number
  readonly errorMessage: string | null
}

const OK: Outcome = { errorCode: ErrorCode.NONE, errorMessage: null }

const respond = (request: UpdateFeaturesRequest, outcome: Outcome): UpdateFeaturesResponseInit => ({
  throttleTimeMs: 0,
  ...outcome,
  results: request.featureUpdates.map((u) => ({ feature: u.feature, ...outcome }))
})

const upgradeTypeOf = (update: UpdateFeaturesRequestFeatureUpdateKey, version: number): number =>
  version === 0 ? (update.allowDowngrade ? SAFE_DOWNGRADE : UPGRADE) : update.upgradeType

const invalid = (feature: string, level: number, reason: string): Outcome => ({
  errorCode: ErrorCode.INVALID_UPDATE_VERSION,
  errorMessage: `Invalid update version ${level} for feature ${feature}. ${reason}`
})

export const UpdateFeaturesHandler = defineHandler(UpdateFeatures, {
  minVersion: 0,
  maxVersion: 2,
  handle: (request, ctx) =>
    Effect.gen(function*() {
      const metadata = yield* MetadataLog
      const finalized = metadata.current().features
      const names = request.featureUpdates.map((u) => u.feature)
      if (names.some((n, i) => names.indexOf(n) !== i)) {
        return respond(request, { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: "Duplicate feature names in the request." })
      }
      const records: Array<{ name: string; level: number }> = []
      for (const update of request.featureUpdates) {
        const { feature, maxVersionLevel: level } = update
        const type = upgradeTypeOf(update, ctx.apiVersion)
        if (type < UPGRADE || type > UNSAFE_DOWNGRADE) return respond(request, invalid(feature, level, "The controller does not support the given upgrade type."))
        if (level < 0) return respond(request, invalid(feature, level, "A feature version cannot be less than 0."))
        const supported = SUPPORTED_FEATURES.find((f) => f.name === feature)
        if (supported === undefined) return respond(request, invalid(feature, level, `Local controller ${metadata.nodeId} does not support this feature.`))
        if (level < supported.minVersion || level > supported.maxVersion) {
          return respond(request, invalid(feature, level, `Local controller ${metadata.nodeId} only supports versions ${supported.minVersion}-${supported.maxVersion}`))
        }
        const current = finalized.get(feature) ?? 0
        if (level < current && type === UPGRADE) {
          return respond(request, invalid(feature, level, "Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade."))
        }
        if (level > current && type !== UPGRADE) return respond(request, invalid(feature, level, "Can't downgrade to a newer version."))
        if (feature === METADATA_VERSION_FEATURE && level < current) {
          return respond(request, invalid(feature, level, type === UNSAFE_DOWNGRADE
            ? "Unsafe metadata downgrade is not supported in this version."
            : `Refusing to perform the requested downgrade because it might delete metadata information.`))
        }
        if (level !== current) records.push({ name: feature, level })
      }
      if (request.validateOnly) return respond(request, OK)
      for (const r of records) {
        const failure = yield* metadata.setFeatureLevel(r.name, r.level).pipe(Effect.match({ onFailure: (e) => e, onSuccess: () => undefined }))
        if (failure !== undefined) return respond(request, { errorCode: ErrorCode.FEATURE_UPDATE_FAILED, errorMessage: failure.message })
      }
      return respond(request, OK)
    }),
  errorResponse: (request, errorCode) => respond(request, { errorCode, errorMessage: null })
})
