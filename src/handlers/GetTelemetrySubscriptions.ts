/**
 * GetTelemetrySubscriptions (key 71), version 0 (KIP-714), answered as a Kafka broker
 * without a client telemetry receiver: the API is not advertised in ApiVersions, so clients
 * do not ask; one that asks anyway gets an empty subscription (no requested metrics, which
 * tells the client to push nothing) with a client instance id assigned if it had none.
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { GetTelemetrySubscriptions } from "../protocol/generated/apis/GetTelemetrySubscriptions.ts"
import type { GetTelemetrySubscriptionsResponseInit } from "../protocol/generated/message/GetTelemetrySubscriptionsResponse.ts"
import { ZERO_UUID } from "../protocol/primitives.ts"
import { randomUuid } from "../random-bytes.ts"
import { defineHandler } from "./handler.ts"

/** Kafka's ClientMetricsManager defaults: compression types it accepts (zstd, lz4, gzip, snappy), push interval, max bytes. */
const ACCEPTED_COMPRESSION_TYPES = [4, 3, 1, 2]
const PUSH_INTERVAL_MS = 300_000
const TELEMETRY_MAX_BYTES = 1024 * 1024

export const GetTelemetrySubscriptionsHandler = defineHandler(GetTelemetrySubscriptions, {
  minVersion: 0,
  maxVersion: 0,
  advertised: false,
  handle: (request) =>
    Effect.sync((): GetTelemetrySubscriptionsResponseInit => ({
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      clientInstanceId: request.clientInstanceId === ZERO_UUID ? randomUuid() : request.clientInstanceId,
      subscriptionId: 0,
      acceptedCompressionTypes: ACCEPTED_COMPRESSION_TYPES,
      pushIntervalMs: PUSH_INTERVAL_MS,
      telemetryMaxBytes: TELEMETRY_MAX_BYTES,
      deltaTemporality: true,
      requestedMetrics: []
    })),
  errorResponse: (request, errorCode) => ({ throttleTimeMs: 0, errorCode, clientInstanceId: request.clientInstanceId })
})
