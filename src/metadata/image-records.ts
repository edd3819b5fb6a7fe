/**
 * The image written back as metadata records: what a KRaft snapshot holds (Kafka's
 * MetadataImage.write). Replaying `imageToRecords(image)` from the empty image gives `image`
 * again; image.ts is its inverse, so whoever adds state to the image (MetadataImageBuilder)
 * adds its records here too. test/metadata/snapshot-property.test.ts checks the pair.
 *
 * Order as Kafka's image writer: features (metadata.version first), cluster (brokers),
 * topics (TopicRecord, then its PartitionRecords), configurations, producer ids.
 * Record versions follow the image's metadata.version, as Kafka picks them, so a snapshot
 * is readable by the Kafka release that wrote the log.
 *
 * Record types this broker does not model (ACLs, client quotas, SCRAM credentials,
 * delegation tokens, types of a later Kafka...) are kept in `image.retainedRecords` as they
 * were read and written last, verbatim and in log order, so a snapshot loses nothing a Kafka
 * reading the directory would use. (Each entry is a framed record value.)
 */
import type { MetadataRecordInit } from "../protocol/generated/metadata-records.ts"
import { ConfigResourceType, type MetadataImage, METADATA_VERSION_FEATURE, metadataVersionOf } from "./image.ts"

/** MetadataVersion feature levels that change the records written (Kafka's MetadataVersion). */
const MV_3_3_IV3 = 7 // RegisterBrokerRecord v1 (inControlledShutdown)
const MV_3_4_IV0 = 8 // RegisterBrokerRecord v2 (isMigratingZkBroker)
const MV_3_7_IV2 = 17 // RegisterBrokerRecord v3 (logDirs), PartitionRecord v1 (directories)

/** A record to write: a typed record, or an already framed value (kept verbatim). */
export type SnapshotRecord = MetadataRecordInit | Uint8Array

export const imageToRecords = (image: MetadataImage): Array<SnapshotRecord> => {
  const out: Array<SnapshotRecord> = []
  const mv = metadataVersionOf(image)

  // Features: metadata.version first, since it decides how later records are read.
  const mvLevel = image.features.get(METADATA_VERSION_FEATURE)
  if (mvLevel !== undefined) out.push({ type: "FeatureLevelRecord", version: 0, data: { name: METADATA_VERSION_FEATURE, featureLevel: mvLevel } })
  for (const [name, featureLevel] of image.features) {
    if (name !== METADATA_VERSION_FEATURE) out.push({ type: "FeatureLevelRecord", version: 0, data: { name, featureLevel } })
  }

  // Cluster: one RegisterBrokerRecord per broker, fencing and shutdown state included.
  const brokerVersion = mv >= MV_3_7_IV2 ? 3 : mv >= MV_3_4_IV0 ? 2 : mv >= MV_3_3_IV3 ? 1 : 0
  for (const b of image.brokers.values()) {
    out.push({
      type: "RegisterBrokerRecord",
      version: brokerVersion,
      data: {
        brokerId: b.id,
        isMigratingZkBroker: false,
        incarnationId: b.incarnationId,
        brokerEpoch: b.epoch,
        endPoints: b.endpoints.map((e) => ({ name: e.name, host: e.host, port: e.port, securityProtocol: e.securityProtocol })),
        features: [...b.features].map(([name, r]) => ({ name, minSupportedVersion: r.min, maxSupportedVersion: r.max })),
        rack: b.rack,
        fenced: b.fenced,
        inControlledShutdown: brokerVersion >= 1 && b.inControlledShutdown,
        logDirs: brokerVersion >= 3 ? b.logDirs : []
      }
    })
  }

  // Topics.
  for (const topic of image.topicsById.values()) {
    out.push({ type: "TopicRecord", version: 0, data: { name: topic.name, topicId: topic.topicId } })
    const partitions = [...topic.partitions.values()].sort((a, b) => a.partition - b.partition)
    for (const p of partitions) {
      const elr = p.eligibleLeaderReplicas.length > 0 || p.lastKnownElr.length > 0
      const version = elr ? 2 : mv >= MV_3_7_IV2 || p.directories.length > 0 ? 1 : 0
      out.push({
        type: "PartitionRecord",
        version,
        data: {
          partitionId: p.partition,
          topicId: topic.topicId,
          replicas: p.replicas,
          isr: p.isr,
          removingReplicas: p.removingReplicas,
          addingReplicas: p.addingReplicas,
          leader: p.leader,
          leaderRecoveryState: p.leaderRecoveryState,
          leaderEpoch: p.leaderEpoch,
          partitionEpoch: p.partitionEpoch,
          ...(version >= 1 ? { directories: p.directories } : {}),
          ...(version >= 2 ? { eligibleLeaderReplicas: p.eligibleLeaderReplicas, lastKnownElr: p.lastKnownElr } : {})
        }
      })
    }
  }

  // Configurations: broker resources, then topic resources.
  for (const [resourceType, resources] of [
    [ConfigResourceType.BROKER, image.brokerConfigs],
    [ConfigResourceType.TOPIC, image.topicConfigs]
  ] as const) {
    for (const [resourceName, configs] of resources) {
      for (const [name, value] of configs) {
        out.push({ type: "ConfigRecord", version: 0, data: { resourceType, resourceName, name, value } })
      }
    }
  }

  // Producer ids: Kafka's ProducerIdsImage writes the next block start with broker -1.
  // Producer-id state added to the image (ProducerIdsRecord blocks, issue 7) is written here.
  if (image.nextProducerId > 0n) {
    out.push({ type: "ProducerIdsRecord", version: 0, data: { brokerId: -1, brokerEpoch: -1n, nextProducerId: image.nextProducerId } })
  }

  // Everything else Kafka keeps, as it was read.
  for (const value of image.retainedRecords) out.push(value)

  return out
}
