/**
 * DescribeGroups (key 15), v0-v5: state, protocol and members of each named group. An
 * unknown group is described as "Dead" with no error, as Kafka does before v6. Members'
 * metadata and assignments are shown only while the group is Stable. With no ACLs here,
 * the authorized operations (v3+, on request) are everything a group supports.
 */
import { Effect } from "effect"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { DescribeGroups } from "../protocol/generated/apis/DescribeGroups.ts"
import { defineHandler } from "./handler.ts"

/** Kafka's AclOperation codes a group supports: READ (3), DELETE (6), DESCRIBE (8). */
export const GROUP_AUTHORIZED_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8)
/** "Not requested" in authorized_operations. */
const OPERATIONS_OMITTED = -2147483648

export const DescribeGroupsHandler = defineHandler(DescribeGroups, {
  minVersion: 0,
  maxVersion: 5,
  handle: (request, ctx) =>
    GroupCoordinator.use((coordinator) => coordinator.describeGroups(request.groups)).pipe(
      Effect.map((groups) => ({
        throttleTimeMs: 0,
        groups: groups.map((g) => ({
          errorCode: g.errorCode,
          groupId: g.groupId,
          groupState: g.state,
          protocolType: g.protocolType,
          protocolData: g.protocolData,
          members: g.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.metadata,
            memberAssignment: m.assignment
          })),
          authorizedOperations: ctx.apiVersion >= 3 && request.includeAuthorizedOperations ? GROUP_AUTHORIZED_OPERATIONS : OPERATIONS_OMITTED
        }))
      }))
    )
})
