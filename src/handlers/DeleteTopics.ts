/**
 * DeleteTopics (key 20), versions 0-6.
 *
 * Topics are named by topic_names (v0-5) or by topics (v6: a name or a topic id each).
 * Each is deleted on its own through Topics.delete and gets its own result, as Kafka's
 * ControllerApis.deleteTopics answers:
 * - unknown name: UNKNOWN_TOPIC_OR_PARTITION; unknown id: UNKNOWN_TOPIC_ID (name null);
 * - a name (or id) given more than once: one INVALID_REQUEST result, nothing deleted;
 * - v6 entries with both a name and an id, or neither: INVALID_REQUEST;
 * - delete.topic.enable=false: TOPIC_DELETION_DISABLED (v3+), INVALID_REQUEST before v3
 *   (the older clients do not know the newer code, Kafka answers them that way too).
 * Results carry the topic id (v6) and an error message (v5+, null on success).
 */
import { Effect } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { DeleteTopics } from "../protocol/generated/apis/DeleteTopics.ts"
import type { DeleteTopicsRequest } from "../protocol/generated/message/DeleteTopicsRequest.ts"
import type { DeleteTopicsResponseDeletableTopicResultInit, DeleteTopicsResponseInit } from "../protocol/generated/message/DeleteTopicsResponse.ts"
import { ZERO_UUID } from "../protocol/primitives.ts"
import { type TopicAdminError, Topics, type TopicsShape } from "../topics/Topics.ts"
import { defineHandler } from "./handler.ts"

export const DELETE_TOPICS_MIN_VERSION = 0
export const DELETE_TOPICS_MAX_VERSION = 6
/** First version that may name topics by id (the `topics` field). */
const TOPIC_ID_VERSION = 6
/** First version that knows TOPIC_DELETION_DISABLED. */
const DELETION_DISABLED_VERSION = 3

/** Kafka's messages (Errors.java) for the codes answered without a more specific one. */
const UNKNOWN_TOPIC_MESSAGE = "This server does not host this topic-partition."
const UNKNOWN_TOPIC_ID_MESSAGE = "This server does not host this topic ID."

type TopicResult = DeleteTopicsResponseDeletableTopicResultInit

const result = (name: string | null, topicId: string, errorCode: number, errorMessage: string | null): TopicResult => ({
  name,
  topicId,
  errorCode,
  errorMessage
})

/** One entry of the request: by name, by id, or a request error already decided. */
type Target =
  | { readonly _tag: "Name"; readonly name: string }
  | { readonly _tag: "Id"; readonly topicId: string }
  | { readonly _tag: "Answered"; readonly result: TopicResult }

/** The request's entries in order, duplicates answered once with INVALID_REQUEST. */
const targetsOf = (request: DeleteTopicsRequest, version: number): Array<Target> => {
  const entries: Array<Target> = version >= TOPIC_ID_VERSION
    ? request.topics.map((t): Target => {
      if (t.name === null) {
        return t.topicId === ZERO_UUID
          ? { _tag: "Answered", result: result(null, ZERO_UUID, ErrorCode.INVALID_REQUEST, "Neither topic name nor id were specified.") }
          : { _tag: "Id", topicId: t.topicId }
      }
      return t.topicId === ZERO_UUID
        ? { _tag: "Name", name: t.name }
        : { _tag: "Answered", result: result(t.name, t.topicId, ErrorCode.INVALID_REQUEST, "You may not specify both topic name and topic id.") }
    })
    : request.topicNames.map((name): Target => ({ _tag: "Name", name }))
  const keyOf = (t: Target) => (t._tag === "Name" ? `n:${t.name}` : t._tag === "Id" ? `i:${t.topicId}` : undefined)
  const counts = new Map<string, number>()
  for (const t of entries) {
    const key = keyOf(t)
    if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  const seen = new Set<string>()
  const out: Array<Target> = []
  for (const t of entries) {
    const key = keyOf(t)
    if (key === undefined) {
      out.push(t)
      continue
    }
    if (seen.has(key)) continue
    seen.add(key)
    if (counts.get(key)! === 1) out.push(t)
    else if (t._tag === "Name") out.push({ _tag: "Answered", result: result(t.name, ZERO_UUID, ErrorCode.INVALID_REQUEST, "Duplicate topic name.") })
    else if (t._tag === "Id") out.push({ _tag: "Answered", result: result(null, t.topicId, ErrorCode.INVALID_REQUEST, "Duplicate topic id.") })
  }
  return out
}

/** Kafka's DeleteTopicsRequest.getErrorResponse: the error for every named topic. */
export const deleteTopicsErrorResponse = (request: DeleteTopicsRequest, errorCode: number, version: number): DeleteTopicsResponseInit => ({
  throttleTimeMs: 0,
  responses: version >= TOPIC_ID_VERSION
    ? request.topics.map((t) => result(t.name, t.topicId, errorCode, null))
    : request.topicNames.map((name) => result(name, ZERO_UUID, errorCode, null))
})

const deleteByName = (topics: TopicsShape, name: string, version: number, requestedId: string | null): Effect.Effect<TopicResult> => {
  const topic = topics.image().topicsByName.get(name)
  if (topic === undefined) {
    return Effect.succeed(
      requestedId === null
        ? result(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_MESSAGE)
        : result(null, requestedId, ErrorCode.UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_ID_MESSAGE)
    )
  }
  return topics.delete(name).pipe(
    Effect.match({
      onFailure: (e: TopicAdminError) => {
        const errorCode = e.errorCode === ErrorCode.TOPIC_DELETION_DISABLED && version < DELETION_DISABLED_VERSION ? ErrorCode.INVALID_REQUEST : e.errorCode
        return result(name, topic.topicId, errorCode, e.message)
      },
      onSuccess: () => result(name, topic.topicId, ErrorCode.NONE, null)
    })
  )
}

export const deleteTopics = (topics: TopicsShape, request: DeleteTopicsRequest, version: number): Effect.Effect<DeleteTopicsResponseInit> =>
  Effect.map(
    Effect.forEach(targetsOf(request, version), (t) => {
      switch (t._tag) {
        case "Answered":
          return Effect.succeed(t.result)
        case "Name":
          return deleteByName(topics, t.name, version, null)
        case "Id": {
          const topic = topics.image().topicsById.get(t.topicId)
          return topic === undefined
            ? Effect.succeed(result(null, t.topicId, ErrorCode.UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_ID_MESSAGE))
            : deleteByName(topics, topic.name, version, t.topicId)
        }
      }
    }),
    (responses) => ({ throttleTimeMs: 0, responses })
  )

export const DeleteTopicsHandler = defineHandler(DeleteTopics, {
  minVersion: DELETE_TOPICS_MIN_VERSION,
  maxVersion: DELETE_TOPICS_MAX_VERSION,
  handle: (request, ctx) => Effect.flatMap(Topics, (topics) => deleteTopics(topics, request, ctx.apiVersion)),
  errorResponse: (request, errorCode, ctx) => deleteTopicsErrorResponse(request, errorCode, ctx.apiVersion)
})
