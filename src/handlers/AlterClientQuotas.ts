/**
 * AlterClientQuotas (key 49), versions 0-1: sets and removes client quotas, validated as
 * Kafka's ClientQuotaControlManager does (entity types user / client-id / ip, the keys valid
 * for them, positive and, for byte rates, integral values; INVALID_REQUEST with Kafka's
 * message otherwise), and written to the metadata log as ClientQuotaRecords (only values that
 * change), all valid entries in one batch. validate_only writes nothing. Quotas are stored,
 * described and kept across restarts; they are not enforced yet.
 */
import { Effect } from "effect"
import type { QuotaEntityComponent } from "../metadata/image.ts"
import { quotaEntityKey } from "../metadata/image.ts"
import { MetadataLog } from "../metadata/MetadataLog.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { AlterClientQuotas } from "../protocol/generated/apis/AlterClientQuotas.ts"
import type { AlterClientQuotasResponseEntryDataInit, AlterClientQuotasResponseInit } from "../protocol/generated/message/AlterClientQuotasResponse.ts"
import { describeEntity, QuotaError, validateEntity, validateQuotaValue } from "../quotas/client-quotas.ts"
import { defineHandler } from "./handler.ts"

type Change = { readonly entity: ReadonlyArray<QuotaEntityComponent>; readonly key: string; readonly value: number | null }

export const AlterClientQuotasHandler = defineHandler(AlterClientQuotas, {
  minVersion: 0,
  maxVersion: 1,
  handle: (request) =>
    Effect.gen(function*() {
      const metadata = yield* MetadataLog
      const image = metadata.current()
      const changes: Array<Change> = []
      const seen = new Set<string>()
      const results: Array<AlterClientQuotasResponseEntryDataInit> = request.entries.map((entry) => {
        const entity = entry.entity.map((c) => ({ entityType: c.entityType, entityName: c.entityName }))
        const answer = (error?: QuotaError) => ({ errorCode: error?.errorCode ?? ErrorCode.NONE, errorMessage: error?.message ?? null, entity })
        const entityKey = quotaEntityKey(entity)
        const duplicateKey = entry.ops.find((op, i) => entry.ops.findIndex((o) => o.key === op.key) !== i)
        if (seen.has(entityKey)) return answer(new QuotaError(ErrorCode.INVALID_REQUEST, `Ignoring duplicate entity ${describeEntity(entity)}`))
        seen.add(entityKey)
        if (duplicateKey !== undefined) {
          return answer(new QuotaError(ErrorCode.INVALID_REQUEST, `Duplicate quota key ${duplicateKey.key} not updating quota for this entity ${describeEntity(entity)}`))
        }
        const keys = validateEntity(entity)
        if (keys instanceof QuotaError) return answer(keys)
        const current = image.clientQuotas.get(entityKey)?.values
        const mine: Array<Change> = []
        for (const op of entry.ops) {
          if (op.remove) {
            if (current?.has(op.key) === true) mine.push({ entity, key: op.key, value: null })
            continue
          }
          const error = validateQuotaValue(keys, op.key, op.value)
          if (error !== undefined) return answer(error)
          if (current?.get(op.key) !== op.value) mine.push({ entity, key: op.key, value: op.value })
        }
        changes.push(...mine)
        return answer()
      })
      if (!request.validateOnly && changes.length > 0) {
        const failure = yield* metadata.alterClientQuotas(changes).pipe(Effect.match({ onFailure: (e) => e, onSuccess: () => undefined }))
        if (failure !== undefined) {
          return {
            throttleTimeMs: 0,
            entries: results.map((r) => (r.errorCode === ErrorCode.NONE ? { ...r, errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: failure.message } : r))
          } satisfies AlterClientQuotasResponseInit
        }
      }
      return { throttleTimeMs: 0, entries: results } satisfies AlterClientQuotasResponseInit
    }),
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    entries: request.entries.map((e) => ({ errorCode, errorMessage: null, entity: e.entity }))
  })
})
