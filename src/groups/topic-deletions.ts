/**
 * Deleted topics take their committed offsets with them, as in Kafka (the group coordinator's
 * onPartitionsDeleted, driven by the metadata log): every committed change that removes a
 * topic (or replaces it with a new topic id) is handed to the GroupCoordinator, which writes
 * tombstones for every group's offsets of it.
 */
import { Effect, Layer, Stream } from "effect"
import { MetadataLog } from "../metadata/MetadataLog.ts"
import type { MetadataImage } from "../metadata/image.ts"
import { GroupCoordinator } from "./GroupCoordinator.ts"

export const deletedTopics = (previous: MetadataImage, image: MetadataImage): ReadonlySet<string> => {
  const gone = new Set<string>()
  for (const [name, topic] of previous.topicsByName) {
    if (image.topicsByName.get(name)?.topicId !== topic.topicId) gone.add(name)
  }
  return gone
}

export const GroupTopicDeletions: Layer.Layer<never, never, MetadataLog | GroupCoordinator> = Layer.effectDiscard(
  Effect.gen(function*() {
    const metadata = yield* MetadataLog
    const coordinator = yield* GroupCoordinator
    const subscription = yield* metadata.subscribe
    yield* Effect.forkScoped(
      Stream.fromSubscription(subscription).pipe(
        Stream.runForEach((change) => {
          const gone = deletedTopics(change.previous, change.image)
          return gone.size === 0 ? Effect.void : coordinator.onTopicsDeleted(gone)
        })
      )
    )
  })
)
