/**
 * LeaveGroup (key 13), v0-v5: a member leaves (v0-v2, one member id), or several members
 * leave at once, named by member id and/or group instance id (v3+, KIP-345). Before v3
 * the member's own error is the response's error.
 */
import { Effect } from "effect"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { LeaveGroup } from "../protocol/generated/apis/LeaveGroup.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { defineHandler } from "./handler.ts"

export const LeaveGroupHandler = defineHandler(LeaveGroup, {
  minVersion: 0,
  maxVersion: 5,
  handle: (request, ctx) => {
    const batch = ctx.apiVersion >= 3
    const members = batch
      ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: ctx.apiVersion >= 5 ? m.reason : null }))
      : [{ memberId: request.memberId, groupInstanceId: null, reason: null }]
    return GroupCoordinator.use((coordinator) => coordinator.leaveGroup(request.groupId, members)).pipe(
      Effect.map((result) =>
        batch
          ? { throttleTimeMs: 0, errorCode: result.errorCode, members: result.errorCode === ErrorCode.NONE ? result.members : [] }
          : { throttleTimeMs: 0, errorCode: result.errorCode !== ErrorCode.NONE ? result.errorCode : result.members[0]?.errorCode ?? ErrorCode.NONE }
      )
    )
  }
})
