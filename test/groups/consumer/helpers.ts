/** Fixtures shared by the KIP-848 consumer group tests. */
import type { ConsumerHeartbeatInput } from "../../../src/groups/consumer/types.ts"

export const ORDERS = "orders-topic-id-AAAAAA"

/** A joining member's first heartbeat (epoch 0, subscribed to "orders"), with overrides. */
export const hb = (overrides: Partial<ConsumerHeartbeatInput> = {}): ConsumerHeartbeatInput => ({
  groupId: "g",
  memberId: "",
  memberEpoch: 0,
  instanceId: null,
  rackId: null,
  rebalanceTimeoutMs: 30_000,
  subscribedTopicNames: ["orders"],
  subscribedTopicRegex: null,
  serverAssignor: null,
  ownedTopicPartitions: [],
  clientId: "client",
  clientHost: "/127.0.0.1",
  ...overrides
})

/** Partitions of "orders" a member says it owns. */
export const owned = (...partitions: Array<number>) => [{ topicId: ORDERS, partitions }]
