/**
 * Every admin handler added for issue 8 can answer any request it will not serve (a version
 * out of range, a failure) at every version it serves: its error response encodes.
 */
import { describe, expect, it } from "vitest"
import type { AnyHandler } from "../../../src/handlers/handler.ts"
import { AlterClientQuotasHandler } from "../../../src/handlers/AlterClientQuotas.ts"
import { AlterConfigsHandler } from "../../../src/handlers/AlterConfigs.ts"
import { AlterPartitionReassignmentsHandler } from "../../../src/handlers/AlterPartitionReassignments.ts"
import { DeleteRecordsHandler } from "../../../src/handlers/DeleteRecords.ts"
import { DescribeClientQuotasHandler } from "../../../src/handlers/DescribeClientQuotas.ts"
import { DescribeLogDirsHandler } from "../../../src/handlers/DescribeLogDirs.ts"
import { ElectLeadersHandler } from "../../../src/handlers/ElectLeaders.ts"
import { GetTelemetrySubscriptionsHandler } from "../../../src/handlers/GetTelemetrySubscriptions.ts"
import { IncrementalAlterConfigsHandler } from "../../../src/handlers/IncrementalAlterConfigs.ts"
import { ListPartitionReassignmentsHandler } from "../../../src/handlers/ListPartitionReassignments.ts"
import { OffsetForLeaderEpochHandler } from "../../../src/handlers/OffsetForLeaderEpoch.ts"
import { UpdateFeaturesHandler } from "../../../src/handlers/UpdateFeatures.ts"
import { ErrorCode } from "../../../src/protocol/error-codes.ts"
import { contextFor, decodedRequest, encodeResponse, versions } from "./helpers.ts"

const HANDLERS: ReadonlyArray<AnyHandler> = [
  AlterConfigsHandler, IncrementalAlterConfigsHandler, DeleteRecordsHandler, OffsetForLeaderEpochHandler, DescribeLogDirsHandler,
  ElectLeadersHandler, AlterPartitionReassignmentsHandler, ListPartitionReassignmentsHandler, GetTelemetrySubscriptionsHandler,
  UpdateFeaturesHandler, DescribeClientQuotasHandler, AlterClientQuotasHandler
]

describe("admin handlers' error responses", () => {
  for (const handler of HANDLERS) {
    it(`${handler.api.name} ${handler.minVersion}-${handler.maxVersion}`, () => {
      for (const version of versions(handler.minVersion, handler.maxVersion)) {
        const request = decodedRequest(handler.api, version, {})
        const response = handler.errorResponse!(request, ErrorCode.UNSUPPORTED_VERSION, contextFor(handler.api.apiKey, version))
        expect(encodeResponse(handler.api, version, response).length).toBeGreaterThan(0)
      }
    })
  }
})
