/**
 * ListPartitionReassignments (key 46), version 0: the ongoing reassignments. A one-broker
 * cluster never has one (AlterPartitionReassignments can only confirm the current replica),
 * so the answer is always empty, as Kafka's is when nothing is moving: topics listed in the
 * request without a reassignment, or unknown, are left out.
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { ListPartitionReassignments } from "../protocol/generated/apis/ListPartitionReassignments.ts"
import type { ListPartitionReassignmentsResponseInit } from "../protocol/generated/message/ListPartitionReassignmentsResponse.ts"
import { defineHandler } from "./handler.ts"

export const ListPartitionReassignmentsHandler = defineHandler(ListPartitionReassignments, {
  minVersion: 0,
  maxVersion: 0,
  handle: () => Effect.succeed<ListPartitionReassignmentsResponseInit>({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [] }),
  errorResponse: (_request, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, topics: [] })
})
