/**
 * ElectLeaders (key 43), versions 0-2, as Kafka's controller answers on a one-broker cluster:
 * a partition that has its preferred leader (this node) needs no election and is answered
 * ELECTION_NOT_NEEDED; one without a leader (possible in a data directory Kafka wrote during
 * a controlled shutdown) gets this node elected, starting a new leader epoch. With
 * topic_partitions null every partition is considered and, as in Kafka, those that needed
 * no election are left out. Unknown topics and partitions are UNKNOWN_TOPIC_OR_PARTITION.
 * Election types: 0 PREFERRED, 1 UNCLEAN (v1+); anything else is INVALID_REQUEST.
 */
import { Effect } from "effect"
import type { TopicImage } from "../metadata/image.ts"
import { MetadataLog } from "../metadata/MetadataLog.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { ElectLeaders } from "../protocol/generated/apis/ElectLeaders.ts"
import type { ElectLeadersRequest } from "../protocol/generated/message/ElectLeadersRequest.ts"
import type { ElectLeadersResponseInit, ElectLeadersResponsePartitionResultInit } from "../protocol/generated/message/ElectLeadersResponse.ts"
import { defineHandler } from "./handler.ts"

const PREFERRED = 0
const UNCLEAN = 1
const NOT_NEEDED = "Leader election not needed for topic partition."

type PartitionResult = ElectLeadersResponsePartitionResultInit

export const electLeadersErrorResponse = (request: ElectLeadersRequest, errorCode: number): ElectLeadersResponseInit => ({
  throttleTimeMs: 0,
  errorCode,
  replicaElectionResults: (request.topicPartitions ?? []).map((t) => ({
    topic: t.topic,
    partitionResult: t.partitions.map((partitionId) => ({ partitionId, errorCode, errorMessage: null }))
  }))
})

export const ElectLeadersHandler = defineHandler(ElectLeaders, {
  minVersion: 0,
  maxVersion: 2,
  handle: (request) =>
    Effect.gen(function*() {
      const metadata = yield* MetadataLog
      if (request.electionType !== PREFERRED && request.electionType !== UNCLEAN) {
        return { ...electLeadersErrorResponse(request, ErrorCode.INVALID_REQUEST), replicaElectionResults: [] }
      }
      const image = metadata.current()
      const toElect: Array<{ topicId: string; partition: number }> = []
      const decide = (name: string, topic: TopicImage | undefined, partitionId: number): PartitionResult => {
        if (topic === undefined) return { partitionId, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such topic as ${name}` }
        const partition = topic.partitions.get(partitionId)
        if (partition === undefined) {
          return { partitionId, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such partition as ${name}-${partitionId}` }
        }
        const hasLeader = partition.leader !== -1
        const preferred = partition.replicas[0] === partition.leader
        if ((request.electionType === PREFERRED && preferred) || (request.electionType === UNCLEAN && hasLeader)) {
          return { partitionId, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: NOT_NEEDED }
        }
        if (!partition.replicas.includes(metadata.nodeId)) {
          return { partitionId, errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, errorMessage: `Failed to elect leader for partition ${name}-${partitionId}` }
        }
        toElect.push({ topicId: topic.topicId, partition: partitionId })
        return { partitionId, errorCode: ErrorCode.NONE, errorMessage: null }
      }
      const replicaElectionResults = request.topicPartitions === null
        ? [...image.topicsByName.values()].map((topic) => ({
          topic: topic.name,
          partitionResult: [...topic.partitions.keys()].sort((a, b) => a - b)
            .map((p) => decide(topic.name, topic, p))
            .filter((r) => r.errorCode !== ErrorCode.ELECTION_NOT_NEEDED)
        }))
        : request.topicPartitions.map((t) => ({
          topic: t.topic,
          partitionResult: t.partitions.map((p) => decide(t.topic, image.topicsByName.get(t.topic), p))
        }))
      const failure = yield* metadata.electLeaders(toElect).pipe(Effect.match({ onFailure: (e) => e, onSuccess: () => undefined }))
      if (failure !== undefined) {
        // Nothing was written: the elections asked for did not happen.
        for (const t of replicaElectionResults) {
          for (const r of t.partitionResult as Array<{ errorCode: number; errorMessage: string | null }>) {
            if (r.errorCode === ErrorCode.NONE) {
              r.errorCode = ErrorCode.KAFKA_STORAGE_ERROR
              r.errorMessage = failure.message
            }
          }
        }
      }
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults } satisfies ElectLeadersResponseInit
    }),
  errorResponse: (request, errorCode, ctx) => {
    const response = electLeadersErrorResponse(request, errorCode)
    // v0 has no top-level error code; the partitions carry it.
    return ctx.apiVersion >= 1 ? response : { ...response, errorCode: 0 }
  }
})
