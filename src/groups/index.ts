/**
 * Consumer groups, for the composition root: the coordinator's layer and the handlers of
 * the group APIs. Handlers need GroupCoordinator; FindCoordinator and OffsetCommit also
 * need Topics (this node's id, and which partitions exist).
 */
import type { AnyHandler } from "../handlers/handler.ts"
import { ConsumerGroupDescribeHandler } from "../handlers/ConsumerGroupDescribe.ts"
import { ConsumerGroupHeartbeatHandler } from "../handlers/ConsumerGroupHeartbeat.ts"
import { DeleteGroupsHandler } from "../handlers/DeleteGroups.ts"
import { DescribeGroupsHandler } from "../handlers/DescribeGroups.ts"
import { FindCoordinatorHandler } from "../handlers/FindCoordinator.ts"
import { HeartbeatHandler } from "../handlers/Heartbeat.ts"
import { JoinGroupHandler } from "../handlers/JoinGroup.ts"
import { LeaveGroupHandler } from "../handlers/LeaveGroup.ts"
import { ListGroupsHandler } from "../handlers/ListGroups.ts"
import { OffsetCommitHandler } from "../handlers/OffsetCommit.ts"
import { OffsetDeleteHandler } from "../handlers/OffsetDelete.ts"
import { OffsetFetchHandler } from "../handlers/OffsetFetch.ts"
import { SyncGroupHandler } from "../handlers/SyncGroup.ts"
import { TxnOffsetCommitHandler } from "../handlers/TxnOffsetCommit.ts"
import type { Topics } from "../topics/Topics.ts"
import type { GroupCoordinator } from "./GroupCoordinator.ts"

export { GROUP_COORDINATOR_DEFAULTS, GroupCoordinator, type GroupCoordinatorOptions } from "./GroupCoordinator.ts"
export { OffsetStore, OffsetStoreError, type OffsetStoreShape } from "./OffsetStore.ts"
export { GroupLog, type GroupLogShape } from "./GroupLog.ts"
export {
  ConsumerGroupDescribeHandler,
  ConsumerGroupHeartbeatHandler,
  DeleteGroupsHandler,
  DescribeGroupsHandler,
  FindCoordinatorHandler,
  HeartbeatHandler,
  JoinGroupHandler,
  LeaveGroupHandler,
  ListGroupsHandler,
  OffsetCommitHandler,
  OffsetDeleteHandler,
  OffsetFetchHandler,
  SyncGroupHandler,
  TxnOffsetCommitHandler
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
  ConsumerGroupDescribeHandler,
  DeleteGroupsHandler,
  OffsetDeleteHandler,
  TxnOffsetCommitHandler
]
