/**
 * DeleteGroups (key 42), v0-v2: each named group is deleted with its committed offsets
 * (tombstones in `__consumer_offsets`) if it is empty; a group with members answers
 * NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND.
 */
import { Effect } from "effect"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { DeleteGroups } from "../protocol/generated/apis/DeleteGroups.ts"
import { defineHandler } from "./handler.ts"

export const DeleteGroupsHandler = defineHandler(DeleteGroups, {
  minVersion: 0,
  maxVersion: 2,
  handle: (request) =>
    GroupCoordinator.use((coordinator) => coordinator.deleteGroups(request.groupsNames)).pipe(
      Effect.map((results) => ({ throttleTimeMs: 0, results: results.map((r) => ({ groupId: r.groupId, errorCode: r.errorCode })) }))
    ),
  errorResponse: (request, errorCode) => ({ throttleTimeMs: 0, results: request.groupsNames.map((groupId) => ({ groupId, errorCode })) })
})
