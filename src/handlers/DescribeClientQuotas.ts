/**
 * DescribeClientQuotas (key 48), versions 0-1: the quotas stored in the metadata log
 * (ClientQuotaRecords) for the entities a filter selects, as Kafka's ClientQuotasImage.describe
 * answers. An invalid filter is answered with its error for the whole request and null entries.
 */
import { Effect } from "effect"
import { MetadataLog } from "../metadata/MetadataLog.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { DescribeClientQuotas } from "../protocol/generated/apis/DescribeClientQuotas.ts"
import type { DescribeClientQuotasResponseInit } from "../protocol/generated/message/DescribeClientQuotasResponse.ts"
import { matchingQuotas, QuotaError } from "../quotas/client-quotas.ts"
import { defineHandler } from "./handler.ts"

export const DescribeClientQuotasHandler = defineHandler(DescribeClientQuotas, {
  minVersion: 0,
  maxVersion: 1,
  handle: (request) =>
    Effect.map(MetadataLog, (metadata): DescribeClientQuotasResponseInit => {
      const matched = matchingQuotas(metadata.current().clientQuotas.values(), request.components, request.strict)
      if (matched instanceof QuotaError) return { throttleTimeMs: 0, errorCode: matched.errorCode, errorMessage: matched.message, entries: null }
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        entries: matched.map((q) => ({ entity: q.entity, values: [...q.values].map(([key, value]) => ({ key, value })) }))
      }
    }),
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, entries: null })
})
