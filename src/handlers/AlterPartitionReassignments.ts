/**
 * AlterPartitionReassignments (key 45), version 0, as Kafka's controller answers on a
 * one-broker cluster: the only valid target is this node, which is where every replica
 * already is, so a valid request changes nothing and succeeds; a cancellation (replicas null)
 * finds no reassignment (NO_REASSIGNMENT_IN_PROGRESS); other brokers, empty or repeated
 * replica lists are INVALID_REPLICA_ASSIGNMENT; unknown topics and partitions are
 * UNKNOWN_TOPIC_OR_PARTITION. Messages are Kafka's.
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { AlterPartitionReassignments } from "../protocol/generated/apis/AlterPartitionReassignments.ts"
import type { AlterPartitionReassignmentsRequest } from "../protocol/generated/message/AlterPartitionReassignmentsRequest.ts"
import type { AlterPartitionReassignmentsResponseInit } from "../protocol/generated/message/AlterPartitionReassignmentsResponse.ts"
import { Topics } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"

const NO_REASSIGNMENT = "No partition reassignment is in progress for this topic-partition."

const problemWith = (replicas: ReadonlyArray<number>, nodeId: number): string | undefined => {
  if (replicas.length === 0) return "The manual partition assignment includes an empty replica list."
  const sorted = [...replicas].sort((a, b) => a - b)
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i] !== nodeId) return `The manual partition assignment includes broker ${sorted[i]}, but no such broker is registered.`
    if (i > 0 && sorted[i] === sorted[i - 1]) return `The manual partition assignment includes the broker ${sorted[i]} more than once.`
  }
  return undefined
}

export const alterPartitionReassignmentsErrorResponse = (request: AlterPartitionReassignmentsRequest, errorCode: number): AlterPartitionReassignmentsResponseInit => ({
  throttleTimeMs: 0,
  errorCode,
  errorMessage: null,
  responses: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode, errorMessage: null })) }))
})

export const AlterPartitionReassignmentsHandler = defineHandler(AlterPartitionReassignments, {
  minVersion: 0,
  maxVersion: 0,
  handle: (request) =>
    Effect.map(Topics, (topics): AlterPartitionReassignmentsResponseInit => {
      const image = topics.image()
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        responses: request.topics.map((t) => {
          const topic = image.topicsByName.get(t.name)
          return {
            name: t.name,
            partitions: t.partitions.map((p) => {
              const fail = (errorCode: number, errorMessage: string) => ({ partitionIndex: p.partitionIndex, errorCode, errorMessage })
              if (topic === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find a topic named ${t.name}.`)
              if (!topic.partitions.has(p.partitionIndex)) {
                return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find partition ${t.name}:${p.partitionIndex}.`)
              }
              if (p.replicas === null) return fail(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, NO_REASSIGNMENT)
              const problem = problemWith(p.replicas, topics.nodeId)
              if (problem !== undefined) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem)
              return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null }
            })
          }
        })
      }
    }),
  errorResponse: (request, errorCode) => alterPartitionReassignmentsErrorResponse(request, errorCode)
})
