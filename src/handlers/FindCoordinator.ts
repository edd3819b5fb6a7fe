/**
 * FindCoordinator (key 10), v0-v6: which broker coordinates a consumer group (key type 0)
 * or a transactional id (key type 1). A single node owns every coordinator partition, so
 * the answer is always this broker, at the address the client reached it on. v4+ asks for
 * several keys at once (coordinator_keys). Other key types (share groups, KIP-932) are
 * not served: INVALID_REQUEST.
 */
import { Effect } from "effect"
import { FindCoordinator } from "../protocol/generated/apis/FindCoordinator.ts"
import type { FindCoordinatorResponseInit } from "../protocol/generated/message/FindCoordinatorResponse.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { Topics } from "../topics/Topics.ts"
import { defineHandler, type RequestContext } from "./handler.ts"

export const COORDINATOR_KEY_TYPE_GROUP = 0
export const COORDINATOR_KEY_TYPE_TRANSACTION = 1

interface Coordinator {
  readonly nodeId: number
  readonly host: string
  readonly port: number
  readonly errorCode: number
  readonly errorMessage: string | null
}

const coordinatorFor = (keyType: number, nodeId: number, ctx: RequestContext): Coordinator =>
  keyType === COORDINATOR_KEY_TYPE_GROUP || keyType === COORDINATOR_KEY_TYPE_TRANSACTION
    ? { nodeId, host: ctx.advertisedHost, port: ctx.advertisedPort, errorCode: ErrorCode.NONE, errorMessage: null }
    : { nodeId: -1, host: "", port: -1, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown coordinator type ${keyType}` }

export const FindCoordinatorHandler = defineHandler(FindCoordinator, {
  minVersion: 0,
  maxVersion: 6,
  handle: (request, ctx): Effect.Effect<FindCoordinatorResponseInit, never, Topics> =>
    Topics.useSync((topics) => {
      const keyType = ctx.apiVersion >= 1 ? request.keyType : COORDINATOR_KEY_TYPE_GROUP
      if (ctx.apiVersion >= 4) {
        return {
          throttleTimeMs: 0,
          coordinators: request.coordinatorKeys.map((key) => ({ key, ...coordinatorFor(keyType, topics.nodeId, ctx) }))
        }
      }
      const c = coordinatorFor(keyType, topics.nodeId, ctx)
      return {
        throttleTimeMs: 0,
        errorCode: c.errorCode,
        errorMessage: c.errorMessage,
        nodeId: c.nodeId,
        host: c.host,
        port: c.port
      }
    })
})
