/**
 * IncrementalAlterConfigs (key 44), versions 0-1: SET, DELETE, APPEND and SUBTRACT on topic
 * and broker configs, written to the metadata log as ConfigRecords and applied at once.
 * See alter-configs.ts for the checks and their error codes.
 */
import { Effect } from "effect"
import { IncrementalAlterConfigs } from "../protocol/generated/apis/IncrementalAlterConfigs.ts"
import type { IncrementalAlterConfigsRequest } from "../protocol/generated/message/IncrementalAlterConfigsRequest.ts"
import type { IncrementalAlterConfigsResponseInit } from "../protocol/generated/message/IncrementalAlterConfigsResponse.ts"
import { Topics } from "../topics/Topics.ts"
import { alterConfigResources } from "./alter-configs.ts"
import { defineHandler } from "./handler.ts"

const changesOf = (request: IncrementalAlterConfigsRequest) =>
  request.resources.map((r) => ({
    resourceType: r.resourceType,
    resourceName: r.resourceName,
    configs: r.configs.map((c) => ({ name: c.name, op: c.configOperation, value: c.value }))
  }))

export const IncrementalAlterConfigsHandler = defineHandler(IncrementalAlterConfigs, {
  minVersion: 0,
  maxVersion: 1,
  handle: (request) =>
    Effect.flatMap(Topics, (topics) =>
      Effect.map(alterConfigResources(topics, changesOf(request), true, request.validateOnly), (responses): IncrementalAlterConfigsResponseInit => ({
        throttleTimeMs: 0,
        responses
      }))),
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    responses: request.resources.map((r) => ({ errorCode, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName }))
  })
})
