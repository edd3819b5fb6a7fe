/**
 * JoinGroup (key 11), v0-v9: a consumer joins (or rejoins) a group and waits until the
 * rebalance completes, so the handler is blocking. v4+ first joins are answered
 * MEMBER_ID_REQUIRED with the member's id (KIP-394); v5+ carry group.instance.id (KIP-345).
 */
import { Effect } from "effect"
import { clientHostOf, clientIdOf } from "./client.ts"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import type { JoinGroupResult } from "../groups/types.ts"
import { JoinGroup } from "../protocol/generated/apis/JoinGroup.ts"
import type { JoinGroupResponseInit } from "../protocol/generated/message/JoinGroupResponse.ts"
import { defineHandler } from "./handler.ts"

export const joinGroupResponse = (result: JoinGroupResult, version: number): JoinGroupResponseInit => ({
  throttleTimeMs: 0,
  errorCode: result.errorCode,
  generationId: result.generationId,
  protocolType: result.protocolType,
  // Nullable only from v7; older clients get "" where there is no protocol.
  protocolName: result.protocolName ?? (version >= 7 ? null : ""),
  leader: result.leader,
  skipAssignment: version >= 9 && result.skipAssignment,
  memberId: result.memberId,
  members: result.members
})

export const JoinGroupHandler = defineHandler(JoinGroup, {
  minVersion: 0,
  maxVersion: 9,
  blocking: true,
  handle: (request, ctx) =>
    GroupCoordinator.use((coordinator) =>
      coordinator.joinGroup({
        groupId: request.groupId,
        memberId: request.memberId,
        groupInstanceId: ctx.apiVersion >= 5 ? request.groupInstanceId : null,
        clientId: clientIdOf(ctx),
        clientHost: clientHostOf(ctx),
        sessionTimeoutMs: request.sessionTimeoutMs,
        // v0 has no rebalance timeout: the session timeout bounds the rebalance.
        rebalanceTimeoutMs: ctx.apiVersion >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
        protocolType: request.protocolType,
        protocols: request.protocols,
        requireKnownMemberId: ctx.apiVersion >= 4,
        supportsSkipAssignment: ctx.apiVersion >= 9,
        reason: ctx.apiVersion >= 8 ? request.reason : null
      })
    ).pipe(Effect.map((result) => joinGroupResponse(result, ctx.apiVersion)))
})
