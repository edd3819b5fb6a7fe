/**
 * ConsumerGroupDescribe (key 69), v0: KIP-848 consumer groups with their epochs, assignor,
 * and every member's subscription, current and target assignment (topic names resolved
 * from the metadata image). A group id that is not a consumer group answers
 * GROUP_ID_NOT_FOUND, an empty one INVALID_GROUP_ID, as Kafka's.
 */
import { Effect } from "effect"
import type { TopicPartitions } from "../groups/consumer/types.ts"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { ConsumerGroupDescribe } from "../protocol/generated/apis/ConsumerGroupDescribe.ts"
import type { ConsumerGroupDescribeResponseInit } from "../protocol/generated/message/ConsumerGroupDescribeResponse.ts"
import { Topics } from "../topics/Topics.ts"
import { GROUP_AUTHORIZED_OPERATIONS } from "./DescribeGroups.ts"
import { defineHandler } from "./handler.ts"

/** "Not requested" in authorized_operations. */
const OPERATIONS_OMITTED = -2147483648

export const ConsumerGroupDescribeHandler = defineHandler(ConsumerGroupDescribe, {
  minVersion: 0,
  maxVersion: 0,
  handle: (request): Effect.Effect<ConsumerGroupDescribeResponseInit, never, GroupCoordinator | Topics> =>
    Effect.gen(function*() {
      const topics = yield* Topics
      const coordinator = yield* GroupCoordinator
      const image = topics.image()
      // Partitions of a topic deleted since are not shown (Kafka skips topics missing from its image).
      const named = (assignment: ReadonlyArray<TopicPartitions>) => ({
        topicPartitions: assignment.flatMap((tp) => {
          const topic = image.topicsById.get(tp.topicId)
          return topic === undefined ? [] : [{ topicId: tp.topicId, topicName: topic.name, partitions: tp.partitions }]
        })
      })
      const valid = request.groupIds.filter((id) => id !== "")
      const described = yield* coordinator.consumerGroupDescribe(valid)
      const byId = new Map(described.map((g) => [g.groupId, g]))
      return {
        throttleTimeMs: 0,
        groups: request.groupIds.map((groupId) => {
          const g = byId.get(groupId)
          if (groupId === "" || g === undefined) return { groupId, errorCode: ErrorCode.INVALID_GROUP_ID }
          if (g.errorCode !== ErrorCode.NONE) return { groupId, errorCode: g.errorCode, errorMessage: g.errorMessage }
          return {
            errorCode: ErrorCode.NONE,
            groupId,
            groupState: g.state,
            groupEpoch: g.groupEpoch,
            assignmentEpoch: g.assignmentEpoch,
            assignorName: g.assignorName,
            members: g.members.map((m) => ({
              memberId: m.memberId,
              instanceId: m.instanceId,
              rackId: m.rackId,
              memberEpoch: m.memberEpoch,
              clientId: m.clientId,
              clientHost: m.clientHost,
              subscribedTopicNames: m.subscribedTopicNames,
              subscribedTopicRegex: m.subscribedTopicRegex,
              assignment: named(m.assignment),
              targetAssignment: named(m.targetAssignment)
            })),
            authorizedOperations: request.includeAuthorizedOperations ? GROUP_AUTHORIZED_OPERATIONS : OPERATIONS_OMITTED
          }
        })
      }
    }),
  errorResponse: (request, errorCode) => ({ throttleTimeMs: 0, groups: request.groupIds.map((groupId) => ({ groupId, errorCode })) })
})
