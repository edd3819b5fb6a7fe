/**
 * DescribeCluster (key 60), versions 0-1: the cluster id, this broker as the only broker (at
 * the address clients on this listener must use) and as the controller id, as a KRaft broker
 * answers (it reports a random live broker as controller: here, itself). Endpoint type
 * (v1+) must be BROKERS (1): CONTROLLERS is MISMATCHED_ENDPOINT_TYPE, anything else
 * UNSUPPORTED_ENDPOINT_TYPE; v0 answers both with INVALID_REQUEST.
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { DescribeCluster } from "../protocol/generated/apis/DescribeCluster.ts"
import type { DescribeClusterResponseInit } from "../protocol/generated/message/DescribeClusterResponse.ts"
import { Topics } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_AUTHORIZED_OPERATIONS } from "./Metadata.ts"

const ENDPOINT_BROKERS = 1
const ENDPOINT_CONTROLLERS = 2

export const DescribeClusterHandler = defineHandler(DescribeCluster, {
  minVersion: 0,
  maxVersion: 1,
  handle: (request, ctx) =>
    Effect.map(Topics, (topics): DescribeClusterResponseInit => {
      const v0 = ctx.apiVersion === 0
      if (request.endpointType !== ENDPOINT_BROKERS) {
        const known = request.endpointType === ENDPOINT_CONTROLLERS
        return {
          throttleTimeMs: 0,
          errorCode: v0 ? ErrorCode.INVALID_REQUEST : known ? ErrorCode.MISMATCHED_ENDPOINT_TYPE : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
          errorMessage: known
            ? "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
            : `Unsupported endpoint type ${request.endpointType}`,
          endpointType: request.endpointType,
          clusterId: "",
          controllerId: -1,
          brokers: [],
          clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED
        }
      }
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        endpointType: ENDPOINT_BROKERS,
        clusterId: topics.clusterId,
        controllerId: topics.nodeId,
        brokers: [{ brokerId: topics.nodeId, host: ctx.advertisedHost, port: ctx.advertisedPort, rack: null }],
        clusterAuthorizedOperations: request.includeClusterAuthorizedOperations ? CLUSTER_AUTHORIZED_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED
      }
    })
})
