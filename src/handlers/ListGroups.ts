/**
 * ListGroups (key 16), v0-v5: every group this coordinator has, with its protocol type;
 * v4+ filters by state (case-insensitive) and reports it, v5+ filters by group type and
 * reports it (all groups here are "classic").
 */
import { Effect } from "effect"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { ListGroups } from "../protocol/generated/apis/ListGroups.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { defineHandler } from "./handler.ts"

export const ListGroupsHandler = defineHandler(ListGroups, {
  minVersion: 0,
  maxVersion: 5,
  handle: (request, ctx) =>
    GroupCoordinator.use((coordinator) =>
      coordinator.listGroups({
        states: ctx.apiVersion >= 4 ? request.statesFilter : [],
        types: ctx.apiVersion >= 5 ? request.typesFilter : []
      })
    ).pipe(Effect.map((groups) => ({
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      groups: groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: g.groupType }))
    })))
})
