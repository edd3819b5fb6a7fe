/**
 * Consumer groups, for the composition root: the coordinator, the committed-offsets store and
 * the `__consumer_offsets` log. The group APIs' handlers live in src/handlers/ and are listed
 * by the composition root (src/broker.ts), so this module knows no handler.
 */
export { GROUP_COORDINATOR_DEFAULTS, GroupCoordinator, type GroupCoordinatorOptions } from "./GroupCoordinator.ts"
export { OffsetStore, OffsetStoreError, type OffsetStoreShape } from "./OffsetStore.ts"
export { GroupLog, type GroupLogShape } from "./GroupLog.ts"
