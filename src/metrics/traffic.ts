/**
 * Per-topic traffic read off a finished Produce or Fetch: what Kafka's BrokerTopicMetrics
 * count (messages and bytes in, bytes out, total and failed requests, per partition). Plain
 * code on the decoded request and the response object, once per request.
 */
import { NO_RESPONSE } from "../handlers/handler.ts"
import { RECORDS_COUNT_OFFSET, RECORD_BATCH_OVERHEAD } from "../log/record-batch.ts"
import type { FetchResponseInit } from "../protocol/generated/message/FetchResponse.ts"
import type { ProduceRequest } from "../protocol/generated/message/ProduceRequest.ts"
import type { ProduceResponseInit } from "../protocol/generated/message/ProduceResponse.ts"

export interface TopicTraffic {
  /** An error code of the response (NONE included), as ErrorsPerSec counts them. */
  readonly error: (code: number) => void
  readonly produced: (topic: string, messages: number, bytes: number) => void
  readonly produceFailed: (topic: string) => void
  readonly fetched: (topic: string, bytes: number) => void
  readonly fetchFailed: (topic: string) => void
}

/** Records in a v2 batch, from its header (Kafka counts records, not batches). */
const recordCount = (batch: Uint8Array): number =>
  batch.length >= RECORD_BATCH_OVERHEAD
    ? ((batch[RECORDS_COUNT_OFFSET]! << 24) | (batch[RECORDS_COUNT_OFFSET + 1]! << 16) | (batch[RECORDS_COUNT_OFFSET + 2]! << 8) | batch[RECORDS_COUNT_OFFSET + 3]!)
    : 0

/**
 * A partition answered NONE was appended. With acks=0 there is no answer: every partition
 * that carried records is counted as appended (the broker does not say otherwise).
 */
export const countProduce = (request: ProduceRequest, response: unknown, traffic: TopicTraffic): void => {
  const answered = response === NO_RESPONSE ? undefined : (response as ProduceResponseInit).responses
  for (let t = 0; t < request.topicData.length; t++) {
    const topic = request.topicData[t]!
    const topicResponse = answered?.[t]
    const aligned = topicResponse !== undefined && topicResponse.name === topic.name
    for (let p = 0; p < topic.partitionData.length; p++) {
      const partition = topic.partitionData[p]!
      const errorCode = aligned ? (topicResponse.partitionResponses?.[p]?.errorCode ?? 0) : answered === undefined ? 0 : -1
      if (answered !== undefined) traffic.error(errorCode)
      if (errorCode !== 0 || partition.records === null) traffic.produceFailed(topic.name)
      else traffic.produced(topic.name, recordCount(partition.records), partition.records.length)
    }
  }
}

export const countFetch = (response: unknown, traffic: TopicTraffic): void => {
  if (typeof response !== "object" || response === null || !("responses" in response)) return
  const body = response as FetchResponseInit
  traffic.error(body.errorCode ?? 0)
  const responses = body.responses
  if (responses === undefined) return
  for (const topic of responses) {
    const name = topic.topic ?? ""
    for (const partition of topic.partitions ?? []) {
      const errorCode = partition.errorCode ?? 0
      traffic.error(errorCode)
      if (errorCode !== 0) traffic.fetchFailed(name)
      else traffic.fetched(name, partition.records?.length ?? 0)
    }
  }
}

/**
 * Every `errorCode` in a response, as Kafka's ErrorsPerSec counts them (NONE included): the
 * top-level one and those of its topics, partitions, groups... Records are not walked.
 */
export const forEachErrorCode = (response: unknown, f: (code: number) => void, depth = 0): void => {
  if (typeof response !== "object" || response === null || depth > 4) return
  if (ArrayBuffer.isView(response)) return
  if (Array.isArray(response)) {
    for (const item of response) forEachErrorCode(item, f, depth + 1)
    return
  }
  const record = response as Record<string, unknown>
  const code = record["errorCode"]
  if (typeof code === "number") f(code)
  for (const key in record) {
    const value = record[key]
    if (typeof value === "object" && value !== null && !ArrayBuffer.isView(value)) forEachErrorCode(value, f, depth + 1)
  }
}
