/**
 * ConsumerGroupHeartbeat (key 68), v0 (the stable version of the definitions we generate
 * from; v1 adds the regex subscription and is still marked unstable there): the single API
 * of a KIP-848 consumer — join (member epoch 0), heartbeat, leave (-1, a static member's
 * temporary leave -2) — answered with the member's epoch and assignment. Subscribed topic
 * names are resolved against the current metadata image here, so the coordinator sees
 * topic ids and partition counts and notices created or grown topics.
 */
import { Effect } from "effect"
import { clientHostOf, clientIdOf } from "./client.ts"
import type { TopicLookup } from "../groups/consumer/types.ts"
import { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import { ConsumerGroupHeartbeat } from "../protocol/generated/apis/ConsumerGroupHeartbeat.ts"
import type { ConsumerGroupHeartbeatResponseInit } from "../protocol/generated/message/ConsumerGroupHeartbeatResponse.ts"
import { Topics } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"

export const ConsumerGroupHeartbeatHandler = defineHandler(ConsumerGroupHeartbeat, {
  minVersion: 0,
  maxVersion: 0,
  handle: (request, ctx): Effect.Effect<ConsumerGroupHeartbeatResponseInit, never, GroupCoordinator | Topics> =>
    Effect.gen(function*() {
      const topics = yield* Topics
      const coordinator = yield* GroupCoordinator
      const image = topics.image()
      const lookup: TopicLookup = (name) => {
        const topic = image.topicsByName.get(name)
        return topic === undefined ? undefined : { topicId: topic.topicId, numPartitions: topic.partitions.size }
      }
      const result = yield* coordinator.consumerGroupHeartbeat({
        groupId: request.groupId,
        memberId: request.memberId,
        memberEpoch: request.memberEpoch,
        instanceId: request.instanceId,
        rackId: request.rackId,
        rebalanceTimeoutMs: request.rebalanceTimeoutMs,
        subscribedTopicNames: request.subscribedTopicNames,
        subscribedTopicRegex: null,
        serverAssignor: request.serverAssignor,
        ownedTopicPartitions: request.topicPartitions,
        clientId: clientIdOf(ctx),
        clientHost: clientHostOf(ctx)
      }, lookup)
      return {
        throttleTimeMs: 0,
        errorCode: result.errorCode,
        errorMessage: result.errorMessage,
        memberId: result.memberId,
        memberEpoch: result.memberEpoch,
        heartbeatIntervalMs: result.heartbeatIntervalMs,
        assignment: result.assignment === null ? null : { topicPartitions: result.assignment }
      }
    }),
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode })
})
