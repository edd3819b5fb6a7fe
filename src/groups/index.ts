/**
 * Consumer groups, for the composition root: the coordinator's layer and the handlers of
 * the group APIs. Handlers need GroupCoordinator; FindCoordinator and OffsetCommit also
 * need Topics (this node's id, and which partitions exist).
 */
import type { AnyHandler } from "../handlers/handler.ts"
import { ConsumerGroupDescribeHandler } from "../handlers/ConsumerGroupDescribe.ts"
import { ConsumerGroupHeartbeatHandler } from "../handlers/ConsumerGroupHeartbeat.ts"
import { DescribeGroupsHandler } from "../handlers/DescribeGroups.ts"
import { FindCoordinatorHandler } from "../handlers/FindCoordinator.ts"
import { HeartbeatHandler } from "../handlers/Heartbeat.ts"
import { JoinGroupHandler } from "../handlers/JoinGroup.ts"
import { LeaveGroupHandler } from "../handlers/LeaveGroup.ts"
import { ListGroupsHandler } from "../handlers/ListGroups.ts"
import { OffsetCommitHandler } from "../handlers/OffsetCommit.ts"
import { OffsetFetchHandler } from "../handlers/OffsetFetch.ts"
import { SyncGroupHandler } from "../handlers/SyncGroup.ts"
import type { Topics } from "../topics/Topics.ts"
import type { GroupCoordinator } from "./GroupCoordinator.ts"

export { GROUP_COORDINATOR_DEFAULTS, GroupCoordinator, type GroupCoordinatorOptions } from "./GroupCoordinator.ts"
export { OffsetStore, OffsetStoreError, type OffsetStoreShape } from "./OffsetStore.ts"
export {
  ConsumerGroupDescribeHandler,
  ConsumerGroupHeartbeatHandler,
  DescribeGroupsHandler,
  FindCoordinatorHandler,
  HeartbeatHandler,
  JoinGroupHandler,
  LeaveGroupHandler,
  ListGroupsHandler,
  OffsetCommitHandler,
  OffsetFetchHandler,
  SyncGroupHandler
}

/** Every group API handler, to register with makeRegistry. */
export const groupHandlers: ReadonlyArray<AnyHandler<GroupCoordinator | Topics>> = [
  FindCoordinatorHandler,
  JoinGroupHandler,
  SyncGroupHandler,
  HeartbeatHandler,
  LeaveGroupHandler,
  OffsetCommitHandler,
  OffsetFetchHandler,
  ListGroupsHandler,
  DescribeGroupsHandler,
  ConsumerGroupHeartbeatHandler,
  ConsumerGroupDescribeHandler
]
