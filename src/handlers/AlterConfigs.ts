/**
 * AlterConfigs (key 33), versions 0-2: the legacy whole-set replacement of a topic's or the
 * broker's dynamic configs (keys not given are deleted), written to the metadata log as
 * ConfigRecords and applied at once. See alter-configs.ts for the checks and their error codes.
 */
import { Effect } from "effect"
import { AlterConfigs } from "../protocol/generated/apis/AlterConfigs.ts"
import type { AlterConfigsRequest } from "../protocol/generated/message/AlterConfigsRequest.ts"
import type { AlterConfigsResponseInit } from "../protocol/generated/message/AlterConfigsResponse.ts"
import { Topics } from "../topics/Topics.ts"
import { alterConfigResources, OP_SET } from "./alter-configs.ts"
import { defineHandler } from "./handler.ts"

const changesOf = (request: AlterConfigsRequest) =>
  request.resources.map((r) => ({
    resourceType: r.resourceType,
    resourceName: r.resourceName,
    configs: r.configs.map((c) => ({ name: c.name, op: OP_SET, value: c.value }))
  }))

export const AlterConfigsHandler = defineHandler(AlterConfigs, {
  minVersion: 0,
  maxVersion: 2,
  handle: (request) =>
    Effect.flatMap(Topics, (topics) =>
      Effect.map(alterConfigResources(topics, changesOf(request), false, request.validateOnly), (responses): AlterConfigsResponseInit => ({
        throttleTimeMs: 0,
        responses
      }))),
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    responses: request.resources.map((r) => ({ errorCode, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName }))
  })
})
