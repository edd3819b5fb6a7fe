/**
 * Heartbeat (key 12), v0-v4: keeps a member's session alive and tells it when the group is
 * rebalancing (REBALANCE_IN_PROGRESS: rejoin).
 */
import { Effect } from "effect"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { Heartbeat } from "../protocol/generated/apis/Heartbeat.ts"
import { defineHandler } from "./handler.ts"

export const HeartbeatHandler = defineHandler(Heartbeat, {
  minVersion: 0,
  maxVersion: 4,
  handle: (request, ctx) =>
    GroupCoordinator.use((coordinator) =>
      coordinator.heartbeat({
        groupId: request.groupId,
        generationId: request.generationId,
        memberId: request.memberId,
        groupInstanceId: ctx.apiVersion >= 3 ? request.groupInstanceId : null
      })
    ).pipe(Effect.map((errorCode) => ({ throttleTimeMs: 0, errorCode })))
})
