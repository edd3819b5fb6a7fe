/**
 * DescribeConfigs (key 32), versions 0-4.
 *
 * One result per requested resource, in request order, as Kafka's ConfigHelper answers:
 * - topic (type 2): Topics.describeTopicConfigs; an illegal name gets
 *   INVALID_TOPIC_EXCEPTION, an unknown topic UNKNOWN_TOPIC_OR_PARTITION;
 * - broker (type 4) named by this node's id, or "" for the cluster-wide defaults:
 *   Topics.describeBrokerConfigs; any other broker id is INVALID_REQUEST (Kafka answers that
 *   for another broker's id, since each broker describes only itself);
 * - any other resource type (broker loggers, client metrics, groups): INVALID_REQUEST.
 * configuration_keys null (or empty, as Kafka reads it) means every config. Synonyms are
 * sent only with include_synonyms (v1+), documentation only with include_documentation
 * (v3+); config_type is v3+. v0 has no config_source: is_default says whether the value is
 * Kafka's default instead. Values of sensitive configs are never sent.
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { DescribeConfigs } from "../protocol/generated/apis/DescribeConfigs.ts"
import type { DescribeConfigsRequest, DescribeConfigsRequestDescribeConfigsResource } from "../protocol/generated/message/DescribeConfigsRequest.ts"
import type {
  DescribeConfigsResponseDescribeConfigsResourceResultInit,
  DescribeConfigsResponseDescribeConfigsResultInit,
  DescribeConfigsResponseInit
} from "../protocol/generated/message/DescribeConfigsResponse.ts"
import { type DescribedConfig, type TopicAdminError, Topics, topicNameError, type TopicsShape } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"

export const DESCRIBE_CONFIGS_MIN_VERSION = 0
export const DESCRIBE_CONFIGS_MAX_VERSION = 4

/** Kafka's ConfigResource.Type ids. */
export const RESOURCE_TYPE_TOPIC = 2
export const RESOURCE_TYPE_BROKER = 4
/** Kafka's ConfigSource DEFAULT_CONFIG id. */
const DEFAULT_CONFIG_SOURCE = 5

/** First versions of the fields that depend on the version. */
const CONFIG_SOURCE_VERSION = 1
const DOCUMENTATION_VERSION = 3

type ResourceResult = DescribeConfigsResponseDescribeConfigsResultInit
type ConfigEntry = DescribeConfigsResponseDescribeConfigsResourceResultInit

interface Options {
  readonly version: number
  readonly includeSynonyms: boolean
  readonly includeDocumentation: boolean
}

const NO_CONFIGS: ReadonlyArray<ConfigEntry> = Object.freeze([])

const entryOf = (c: DescribedConfig, options: Options): ConfigEntry => {
  const base = {
    name: c.name,
    value: c.isSensitive ? null : c.value,
    readOnly: c.readOnly,
    isSensitive: c.isSensitive,
    configType: c.configType,
    documentation: options.includeDocumentation ? c.documentation : null
  }
  if (options.version < CONFIG_SOURCE_VERSION) return { ...base, isDefault: c.source === DEFAULT_CONFIG_SOURCE }
  return {
    ...base,
    configSource: c.source,
    synonyms: options.includeSynonyms
      ? c.synonyms.map((s) => ({ name: s.name, value: c.isSensitive ? null : s.value, source: s.source }))
      : []
  }
}

const failed = (resource: DescribeConfigsRequestDescribeConfigsResource, errorCode: number, errorMessage: string | null): ResourceResult => ({
  errorCode,
  errorMessage,
  resourceType: resource.resourceType,
  resourceName: resource.resourceName,
  configs: NO_CONFIGS
})

const described = (resource: DescribeConfigsRequestDescribeConfigsResource, configs: ReadonlyArray<DescribedConfig>, options: Options): ResourceResult => ({
  errorCode: ErrorCode.NONE,
  errorMessage: null,
  resourceType: resource.resourceType,
  resourceName: resource.resourceName,
  configs: configs.map((c) => entryOf(c, options))
})

/** Kafka's DescribeConfigsRequest.getErrorResponse: the error for every resource. */
export const describeConfigsErrorResponse = (request: DescribeConfigsRequest, errorCode: number): DescribeConfigsResponseInit => ({
  throttleTimeMs: 0,
  results: request.resources.map((r) => failed(r, errorCode, null))
})

const describeOne = (topics: TopicsShape, resource: DescribeConfigsRequestDescribeConfigsResource, options: Options): Effect.Effect<ResourceResult> => {
  const keys = resource.configurationKeys === null || resource.configurationKeys.length === 0 ? null : resource.configurationKeys
  const name = resource.resourceName
  switch (resource.resourceType) {
    case RESOURCE_TYPE_TOPIC: {
      const nameError = topicNameError(name)
      if (nameError !== undefined) return Effect.succeed(failed(resource, ErrorCode.INVALID_TOPIC_EXCEPTION, nameError))
      return topics.describeTopicConfigs(name, keys).pipe(
        Effect.match({
          onFailure: (e: TopicAdminError) => failed(resource, e.errorCode, e.message),
          onSuccess: (configs) => described(resource, configs, options)
        })
      )
    }
    case RESOURCE_TYPE_BROKER: {
      if (name !== "" && !/^[+-]?\d+$/.test(name)) {
        return Effect.succeed(failed(resource, ErrorCode.INVALID_REQUEST, `Broker id must be an integer, but it is: ${name}`))
      }
      if (name !== "" && Number(name) !== topics.nodeId) {
        return Effect.succeed(failed(resource, ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${topics.nodeId} or empty string, but received ${name}`))
      }
      return Effect.succeed(described(resource, topics.describeBrokerConfigs(keys, name === ""), options))
    }
    default:
      return Effect.succeed(failed(resource, ErrorCode.INVALID_REQUEST, `Unsupported resource type: ${resource.resourceType}`))
  }
}

export const describeConfigs = (topics: TopicsShape, request: DescribeConfigsRequest, version: number): Effect.Effect<DescribeConfigsResponseInit> => {
  const options: Options = {
    version,
    includeSynonyms: version >= CONFIG_SOURCE_VERSION && request.includeSynonyms,
    includeDocumentation: version >= DOCUMENTATION_VERSION && request.includeDocumentation
  }
  return Effect.map(
    Effect.forEach(request.resources, (r) => describeOne(topics, r, options)),
    (results) => ({ throttleTimeMs: 0, results })
  )
}

export const DescribeConfigsHandler = defineHandler(DescribeConfigs, {
  minVersion: DESCRIBE_CONFIGS_MIN_VERSION,
  maxVersion: DESCRIBE_CONFIGS_MAX_VERSION,
  handle: (request, ctx) => Effect.flatMap(Topics, (topics) => describeConfigs(topics, request, ctx.apiVersion)),
  errorResponse: (request, errorCode) => describeConfigsErrorResponse(request, errorCode)
})
