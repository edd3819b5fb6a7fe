/**
 * SyncGroup (key 14), v0-v5: after a rebalance the leader sends every member's assignment,
 * followers send nothing and wait for theirs, so the handler is blocking. v5 names the
 * protocol type and name on both sides.
 */
import { Effect } from "effect"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { SyncGroup } from "../protocol/generated/apis/SyncGroup.ts"
import { defineHandler } from "./handler.ts"

export const SyncGroupHandler = defineHandler(SyncGroup, {
  minVersion: 0,
  maxVersion: 5,
  blocking: true,
  handle: (request, ctx) =>
    GroupCoordinator.use((coordinator) =>
      coordinator.syncGroup({
        groupId: request.groupId,
        generationId: request.generationId,
        memberId: request.memberId,
        groupInstanceId: ctx.apiVersion >= 3 ? request.groupInstanceId : null,
        protocolType: ctx.apiVersion >= 5 ? request.protocolType : null,
        protocolName: ctx.apiVersion >= 5 ? request.protocolName : null,
        assignments: request.assignments
      })
    ).pipe(Effect.map((result) => ({
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      protocolType: result.protocolType,
      protocolName: result.protocolName,
      assignment: result.assignment
    })))
})
