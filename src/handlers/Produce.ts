/**
 * Produce (key 0), versions 3-11: appends each partition's record batch to its log.
 *
 * One Effect per request; the per-partition work is plain code on the request's bytes
 * (validation, offset assignment and the write are synchronous calls into the partition
 * log). The batch bytes are a view into the request frame and are rewritten in place by
 * the log (offsets, leader epoch, LogAppendTime), then written as they are: compressed
 * batches (gzip, snappy, lz4, zstd) are stored exactly as the client sent them.
 *
 * Each partition is answered on its own: an unknown partition or a rejected batch gets its
 * error code and never affects the other partitions of the request, nor what was appended
 * before. Only acks and transactions are decided for the whole request:
 * - acks other than 0, 1, -1: INVALID_REQUIRED_ACKS for every partition, nothing appended;
 * - acks 0: the batches are appended and no response is sent (NO_RESPONSE);
 * - acks 1 and -1: answered after the append. With a single node the in-sync replica set is
 *   this broker, so -1 is satisfied by the local append (flushing follows the log's
 *   flush.messages / flush.ms policy, as in Kafka).
 *
 * Idempotent and transactional batches (producer id >= 0) go through the partition's
 * producer state (see log/producer-state.ts): a retried batch is answered with the offsets it
 * was first written at and not written again; a gap in sequence numbers is
 * OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch INVALID_PRODUCER_EPOCH, a plain batch inside
 * an open transaction INVALID_TXN_STATE — per partition, as Kafka answers them.
 * Transactional batches without a transactional id get TRANSACTIONAL_ID_AUTHORIZATION_FAILED
 * for every partition, exactly as Kafka answers them. A transactional batch is checked
 * against the transaction coordinator's memory first (KIP-890 part 1, a synchronous lookup):
 * a partition that was not added to the transaction is refused as Kafka 3.6+ refuses it,
 * INVALID_TXN_STATE up to v10 and TRANSACTION_ABORTABLE from v11; a fenced epoch gets
 * INVALID_PRODUCER_EPOCH, an unknown producer id INVALID_PRODUCER_ID_MAPPING, a transaction
 * being completed NOT_ENOUGH_REPLICAS (retriable for every client), as ReplicaManager
 * translates the coordinator's answers.
 */
import { Clock, Context, Effect } from "effect"
import { Config } from "../config/Config.ts"
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from "../log/compression.ts"
import { afterQueuedAppends, appendNow, type QueuedAppend, queueAppend } from "../log/group-commit.ts"
import { LogStore, type LogStoreShape } from "../log/LogStore.ts"
import type { AppendOptions, AppendResult, PartitionLog } from "../log/partition-log.ts"
import { type InflateBudget, keylessRecordIndexes, keylessRecordMessage, recordErrorsSummary } from "../log/record-keys.ts"
import {
  ATTRIBUTES_OFFSET,
  COMPRESSION_CODEC_MASK,
  COMPRESSION_ZSTD,
  MAGIC_OFFSET,
  MAGIC_V2,
  NO_TIMESTAMP,
  RECORD_BATCH_OVERHEAD,
  TRANSACTIONAL_FLAG_MASK,
  type BatchInfo,
  validateBatches
} from "../log/record-batch.ts"
import type { MetadataImage, TopicImage } from "../metadata/image.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { Produce } from "../protocol/generated/apis/Produce.ts"
import type { ProduceRequest } from "../protocol/generated/message/ProduceRequest.ts"
import type {
  ProduceResponseInit,
  ProduceResponsePartitionProduceResponseInit,
  ProduceResponseTopicProduceResponseInit
} from "../protocol/generated/message/ProduceResponse.ts"
import { Topics, type TopicsShape } from "../topics/Topics.ts"
import { isInternalTopic } from "../coordinator/internal-topics.ts"
import { defaultMessageOf, errorCodeByName, isUnexpected, kafkaErrorOf } from "./errors.ts"
import { defineHandler, NO_RESPONSE, type NoResponse, type RequestContext } from "./handler.ts"
import { ClientQuotas, type ClientQuotasShape, produceQuotasEnabled, produceThrottle, quotaClientId } from "../quotas/ClientQuotas.ts"
import { TransactionCoordinator, type TransactionCoordinatorShape } from "../txn/TransactionCoordinator.ts"

export const PRODUCE_MIN_VERSION = 3
export const PRODUCE_MAX_VERSION = 11

/**
 * Kafka's internal topics: written by the broker's coordinators, never by clients (Kafka
 * answers INVALID_TOPIC_EXCEPTION unless the client id is its admin tools' "__admin_client").
 */
const ADMIN_CLIENT_ID = "__admin_client"

/** Kafka's default message.max.bytes, for a topic config that lacks max.message.bytes. */
const DEFAULT_MAX_MESSAGE_BYTES = 1048588

type PartitionResponse = ProduceResponsePartitionProduceResponseInit

const NO_RECORD_ERRORS: ReadonlyArray<never> = Object.freeze([])

const partitionError = (index: number, errorCode: number, message: string | null): PartitionResponse => ({
  index,
  errorCode,
  baseOffset: -1n,
  logAppendTimeMs: -1n,
  logStartOffset: -1n,
  recordErrors: NO_RECORD_ERRORS,
  errorMessage: message
})

/** The same error for every partition of the request. */
export const produceErrorResponse = (request: ProduceRequest, errorCode: number, message: string | null = null): ProduceResponseInit => ({
  responses: request.topicData.map((t) => ({
    name: t.name,
    partitionResponses: t.partitionData.map((p) => partitionError(p.index, errorCode, message))
  })),
  throttleTimeMs: 0
})

/** Whether any partition's (first) batch is transactional: attributes bit 4, in the low byte of the big-endian int16. */
const hasTransactionalRecords = (request: ProduceRequest): boolean => {
  for (const t of request.topicData) {
    for (const p of t.partitionData) {
      const r = p.records
      if (r !== null && r.length >= RECORD_BATCH_OVERHEAD && r[MAGIC_OFFSET] === MAGIC_V2 && (r[ATTRIBUTES_OFFSET + 1]! & TRANSACTIONAL_FLAG_MASK) !== 0) return true
    }
  }
  return false
}

/** Topic-level settings read once per topic and request. */
interface TopicSettings {
  readonly maxMessageBytes: number
  readonly timestampType: "CreateTime" | "LogAppendTime" | undefined
  readonly timestampBeforeMaxMs: number
  readonly timestampAfterMaxMs: number
}

const numberConfig = (config: ReadonlyMap<string, string>, key: string, fallback: number): number => {
  const raw = config.get(key)
  if (raw === undefined) return fallback
  const n = Number(raw)
  return Number.isFinite(n) ? n : fallback
}

// Topics hands out the same map until a topic's config changes: parse each one once.
const settingsByConfig = new WeakMap<ReadonlyMap<string, string>, TopicSettings>()

const settingsOf = (topics: TopicsShape, topic: string): TopicSettings => {
  const config = topics.topicConfig(topic)
  let settings = settingsByConfig.get(config)
  if (settings === undefined) settingsByConfig.set(config, (settings = parseSettings(config)))
  return settings
}

const parseSettings = (config: ReadonlyMap<string, string>): TopicSettings => {
  const ts = config.get("message.timestamp.type")
  return {
    maxMessageBytes: numberConfig(config, "max.message.bytes", DEFAULT_MAX_MESSAGE_BYTES),
    timestampType: ts === "CreateTime" || ts === "LogAppendTime" ? ts : undefined,
    timestampBeforeMaxMs: numberConfig(config, "message.timestamp.before.max.ms", Number.POSITIVE_INFINITY),
    timestampAfterMaxMs: numberConfig(config, "message.timestamp.after.max.ms", Number.POSITIVE_INFINITY)
  }
}

export interface UnexpectedFailure {
  readonly topic: string
  readonly partition: number
  readonly error: unknown
}

export interface ProduceOutcome {
  readonly response: ProduceResponseInit | NoResponse
  /** Failures that are bugs rather than bad input or disk errors (answered UNKNOWN_SERVER_ERROR), for the error log. */
  readonly unexpected: ReadonlyArray<UnexpectedFailure>
}

/** What a transactional produce is checked against (KIP-890 part 1). */
interface TxnVerification {
  readonly transactionalId: string
  readonly coordinator: TransactionCoordinatorShape
}

/** The coordinator's verdict on a transactional batch, as Kafka's ReplicaManager answers the producer; undefined if accepted. */
const verifyTransactional = (v: TxnVerification, batch: BatchInfo, topic: string, index: number, version: number): PartitionResponse | undefined => {
  const code = v.coordinator.verifyProduce(v.transactionalId, batch.producerId, batch.producerEpoch, topic, index)
  switch (code) {
    case ErrorCode.NONE:
      return undefined
    case ErrorCode.TRANSACTION_ABORTABLE:
      return version > 10
        ? partitionError(index, ErrorCode.TRANSACTION_ABORTABLE, "The server encountered an error with the transaction. The client can abort the transaction to continue using this transactional ID.")
        : partitionError(index, ErrorCode.INVALID_TXN_STATE, "Partition was not added to the transaction")
    case ErrorCode.PRODUCER_FENCED:
      return partitionError(index, ErrorCode.INVALID_PRODUCER_EPOCH, "Producer attempted to produce with an old epoch.")
    case ErrorCode.CONCURRENT_TRANSACTIONS:
      return partitionError(index, ErrorCode.NOT_ENOUGH_REPLICAS, "Unable to verify the partition has been added to the transaction. Underlying error: CONCURRENT_TRANSACTIONS")
    default:
      return partitionError(index, code, null)
  }
}

/** A partition's payload that passed every check: what to append, and to which log. */
interface ReadyAppend {
  readonly log: PartitionLog
  readonly records: Uint8Array
  readonly options: AppendOptions
}

/** Checks one partition's payload (everything Kafka checks before the append); plain code. */
const checkPartition = (
  log: PartitionLog,
  settings: TopicSettings,
  leaderEpoch: number,
  index: number,
  records: Uint8Array | null,
  version: number,
  now: number,
  topicName: string,
  txn: TxnVerification | undefined,
  inflateBudget: InflateBudget
): PartitionResponse | ReadyAppend => {
  if (records === null || records.length === 0) {
    return partitionError(index, ErrorCode.INVALID_RECORD, "Produce request contains no record batch")
  }
  const validated = validateBatches(records, { fromClient: true, maxBatchBytes: settings.maxMessageBytes })
  if (!validated.ok) return partitionError(index, errorCodeByName(validated.code), validated.message)
  if (validated.count !== 1) {
    return partitionError(
      index,
      ErrorCode.INVALID_RECORD,
      `Produce requests with version ${version} are only allowed to contain exactly one record batch per partition`
    )
  }
  const batch = validated.batches[0]!
  if (txn !== undefined && batch.isTransactional) {
    const refused = verifyTransactional(txn, batch, topicName, index, version)
    if (refused !== undefined) return refused
  }
  if (version < 7 && (batch.attributes & COMPRESSION_CODEC_MASK) === COMPRESSION_ZSTD) {
    return partitionError(index, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `Produce requests with version ${version} are not allowed to use ZStandard compression`)
  }
  const timestampType = settings.timestampType ?? log.config.messageTimestampType
  if (timestampType === "CreateTime") {
    // Kafka's message.timestamp.before/after.max.ms bounds (unbounded by default).
    if (batch.maxTimestamp !== NO_TIMESTAMP && batch.maxTimestamp > now + settings.timestampAfterMaxMs) {
      return partitionError(index, ErrorCode.INVALID_TIMESTAMP, `Timestamp ${batch.maxTimestamp} of a record is after the allowed time range (message.timestamp.after.max.ms ${settings.timestampAfterMaxMs})`)
    }
    if (batch.minTimestamp !== NO_TIMESTAMP && batch.minTimestamp < now - settings.timestampBeforeMaxMs) {
      return partitionError(index, ErrorCode.INVALID_TIMESTAMP, `Timestamp ${batch.minTimestamp} of a record is before the allowed time range (message.timestamp.before.max.ms ${settings.timestampBeforeMaxMs})`)
    }
  }
  if (log.config.cleanupPolicy.includes("compact")) {
    // Kafka's LogValidator.validateKey: nothing of the batch is appended.
    let keyless: Array<number>
    try {
      keyless = keylessRecordIndexes(records, batch.position, inflateBudget)
    } catch (e) {
      return partitionError(index, ErrorCode.CORRUPT_MESSAGE, `Record batch could not be decompressed: ${(e as Error).message}`)
    }
    if (keyless.length > 0) {
      const message = keylessRecordMessage(topicName, index)
      const errors = keyless.map((batchIndex) => ({ batchIndex, message }))
      return {
        ...partitionError(index, ErrorCode.INVALID_RECORD, recordErrorsSummary(errors)),
        logStartOffset: BigInt(log.logStartOffset),
        recordErrors: errors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message }))
      }
    }
  }
  // The topic's message.timestamp.type is authoritative; the log applies what its config says.
  if (log.config.messageTimestampType !== timestampType) log.config = { ...log.config, messageTimestampType: timestampType }
  return { log, records, options: { now, validated, leaderEpoch } }
}

/** The answer for an append: its offsets, or its error (bugs are pushed to `unexpected`). */
const appendedResponse = (
  index: number,
  outcome: AppendResult | unknown,
  topicName: string,
  unexpected: Array<UnexpectedFailure>
): PartitionResponse => {
  if (!isAppendResult(outcome)) {
    if (isUnexpected(outcome)) unexpected.push({ topic: topicName, partition: index, error: outcome })
    const error = kafkaErrorOf(outcome)
    return partitionError(index, error.errorCode, error.message)
  }
  return {
    index,
    errorCode: ErrorCode.NONE,
    baseOffset: BigInt(outcome.baseOffset),
    logAppendTimeMs: BigInt(outcome.logAppendTime),
    logStartOffset: BigInt(outcome.logStartOffset),
    recordErrors: NO_RECORD_ERRORS,
    errorMessage: null
  }
}

const isAppendResult = (u: unknown): u is AppendResult =>
  typeof u === "object" && u !== null && typeof (u as AppendResult).baseOffset === "number"

/** One Produce request, as `produceMany` takes it. */
export interface ProduceInput {
  readonly request: ProduceRequest
  readonly version: number
  readonly clientId: string | null
}

/** The whole request as plain code: what to answer, given the services and the time. */
export const produce = (
  logs: LogStoreShape,
  topics: TopicsShape,
  request: ProduceRequest,
  version: number,
  now: number,
  clientId: string | null = null,
  transactions?: TransactionCoordinatorShape,
  maxDecompressedBytes: number = DEFAULT_MAX_DECOMPRESSED_BYTES
): ProduceOutcome => produceMany(logs, topics, [{ request, version, clientId }], now, transactions, maxDecompressedBytes)[0]!

/**
 * Requests read one after the other on a connection, answered exactly as `produce` would
 * answer them in turn, except that the batches they append to one partition are written to
 * it in one system call (PartitionLog.appendMany): each request is checked in full first,
 * then every partition's appends run in request order. With `groupCommit`, the appends to a
 * log whose appends force it to disk (flush.messages) are queued for the end of the turn
 * instead (src/log/group-commit.ts), with those of every other connection, and `queued` is
 * set: the outcomes are then complete only once `afterQueuedAppends` resumes.
 */
export const produceMany = (
  logs: LogStoreShape,
  topics: TopicsShape,
  inputs: ReadonlyArray<ProduceInput>,
  now: number,
  transactions?: TransactionCoordinatorShape,
  maxDecompressedBytes: number = DEFAULT_MAX_DECOMPRESSED_BYTES,
  groupCommit?: { queued: boolean }
): Array<ProduceOutcome> => {
  const image: MetadataImage = topics.image()
  const outcomes: Array<ProduceOutcome> = new Array(inputs.length)
  // Per log, in request order: the appends and where their answers go.
  const appends = new Map<PartitionLog, Array<QueuedAppend>>()
  for (let r = 0; r < inputs.length; r++) {
    const { request, version, clientId } = inputs[r]!
    const acks = request.acks
    if (acks !== 0 && acks !== 1 && acks !== -1) {
      outcomes[r] = { response: produceErrorResponse(request, ErrorCode.INVALID_REQUIRED_ACKS, defaultMessageOf(ErrorCode.INVALID_REQUIRED_ACKS)), unexpected: [] }
      continue
    }
    // Kafka's KafkaApis: transactional records need a transactional id (the authorization of
    // which is the check); the transaction coordinator's KIP-890 verification follows.
    if (request.transactionalId === null && hasTransactionalRecords(request)) {
      const early = produceErrorResponse(request, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, defaultMessageOf(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED))
      outcomes[r] = { response: acks === 0 ? NO_RESPONSE : early, unexpected: [] }
      continue
    }
    const txn: TxnVerification | undefined = request.transactionalId !== null && transactions !== undefined && transactions.verificationEnabled
      ? { transactionalId: request.transactionalId, coordinator: transactions }
      : undefined
    const inflateBudget: InflateBudget = { limit: maxDecompressedBytes, remaining: maxDecompressedBytes }
    const unexpected: Array<UnexpectedFailure> = []
    const responses: Array<ProduceResponseTopicProduceResponseInit> = []
    for (const t of request.topicData) {
      const topic: TopicImage | undefined = image.topicsByName.get(t.name)
      let settings: TopicSettings | undefined
      const partitionResponses: Array<PartitionResponse> = []
      if (isInternalTopic(t.name) && clientId !== ADMIN_CLIENT_ID) {
        for (const p of t.partitionData) {
          partitionResponses.push(partitionError(p.index, ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${t.name}`))
        }
        responses.push({ name: t.name, partitionResponses })
        continue
      }
      for (const p of t.partitionData) {
        const partition = topic?.partitions.get(p.index)
        const log = partition === undefined ? undefined : logs.findPartition(t.name, p.index)
        if (log?.isOffline === true) {
          // Kafka's HostedPartition.Offline: the partition's log dir failed.
          partitionResponses.push(partitionError(p.index, ErrorCode.KAFKA_STORAGE_ERROR, `Partition ${t.name}-${p.index} is in an offline log directory`))
          continue
        }
        if (partition === undefined || log === undefined || log.isClosed) {
          partitionResponses.push(partitionError(p.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, defaultMessageOf(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)))
          continue
        }
        settings ??= settingsOf(topics, t.name)
        const checked = checkPartition(log, settings, partition.leaderEpoch, p.index, p.records, version, now, t.name, txn, inflateBudget)
        if (!("log" in checked)) {
          partitionResponses.push(checked)
          continue
        }
        // Answered once the append ran: its place is kept.
        const at = partitionResponses.length
        partitionResponses.push(undefined as unknown as PartitionResponse)
        const index = p.index
        const name = t.name
        let queue = appends.get(log)
        if (queue === undefined) appends.set(log, (queue = []))
        queue.push({ bytes: checked.records, options: checked.options, done: (outcome) => (partitionResponses[at] = appendedResponse(index, outcome, name, unexpected)) })
      }
      responses.push({ name: t.name, partitionResponses })
    }
    outcomes[r] = { response: acks === 0 ? NO_RESPONSE : { responses, throttleTimeMs: 0 }, unexpected }
  }
  for (const [log, queue] of appends) {
    if (groupCommit !== undefined && log.forcesAppends) {
      for (const q of queue) queueAppend(log, q)
      groupCommit.queued = true
    } else {
      appendNow(log, queue)
    }
  }
  return outcomes
}

/**
 * The response with the client's quota throttle (KafkaApis: produce bytes and request time,
 * the larger), the connection muted for it. acks=0 gets no response but may still be muted.
 */
const throttled = (
  quotas: ClientQuotasShape,
  acks: number,
  response: ProduceResponseInit | NoResponse,
  ctx: RequestContext,
  startedAt: number,
  now: number
): ProduceResponseInit | NoResponse => {
  const throttleTimeMs = produceThrottle(
    quotas,
    quotaClientId(ctx.header.clientId),
    ctx.requestSize ?? 0,
    (performance.now() - startedAt) * 1e6,
    acks,
    now
  )
  if (throttleTimeMs <= 0) return response
  ctx.throttleChannel?.(throttleTimeMs)
  return response === NO_RESPONSE ? response : { ...response, throttleTimeMs }
}

/** What the handler needs from its services, looked up once per request or group of requests. */
const servicesOf = (services: Context.Context<LogStore | Topics>) => {
  const available = Context.getOrUndefined(services, ClientQuotas)
  return {
    clock: Context.getUnsafe(services, Clock.Clock),
    logs: Context.get(services, LogStore),
    topics: Context.get(services, Topics),
    // Until a produce or request quota is set, nothing is measured (as Kafka records nothing).
    quotas: available !== undefined && produceQuotasEnabled(available) ? available : undefined,
    // The broker always has a coordinator; handler tests without one produce unverified.
    transactions: Context.getOrUndefined(services, TransactionCoordinator),
    // Compressed batches are inflated (compacted topics' key check) to at most one frame's worth per request.
    maxDecompressedBytes: Context.getOrUndefined(services, Config)?.socketRequestMaxBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES
  }
}

/** The answer, with the unexpected failures logged first (the rare case that needs an Effect). */
const answer = (outcome: ProduceOutcome, response: ProduceResponseInit | NoResponse): Effect.Effect<ProduceResponseInit | NoResponse> => {
  if (outcome.unexpected.length === 0) return Effect.succeed(response)
  return Effect.as(
    Effect.forEach(outcome.unexpected, (u) => Effect.logError(`produce to ${u.topic}-${u.partition} failed unexpectedly`, u.error), { discard: true }),
    response
  )
}

/** Resumes once this turn's queued appends are written (src/log/group-commit.ts). */
const appendsWritten: Effect.Effect<void> = Effect.callback<void>((resume) => afterQueuedAppends(() => resume(Effect.void)))

/**
 * The handler against given services. With a produce quota set, the request is appended and
 * answered at once (an Exit unless an unexpected failure is to be logged): its throttle is
 * measured on that work, and mutes the connection before its next request. Otherwise the
 * same, except that appends to a log that forces each append to disk are committed with the
 * turn's (src/log/group-commit.ts) and the request is answered then.
 */
const handleWith = (request: ProduceRequest, ctx: RequestContext, services: Context.Context<LogStore | Topics>): Effect.Effect<ProduceResponseInit | NoResponse> => {
  const s = servicesOf(services)
  const now = s.clock.currentTimeMillisUnsafe()
  if (s.quotas === undefined) {
    const commit = { queued: false }
    const [outcome] = produceMany(s.logs, s.topics, [{ request, version: ctx.apiVersion, clientId: ctx.header.clientId }], now, s.transactions, s.maxDecompressedBytes, commit)
    return commit.queued ? Effect.flatMap(appendsWritten, () => answer(outcome!, outcome!.response)) : answer(outcome!, outcome!.response)
  }
  const startedAt = performance.now()
  const outcome = produce(s.logs, s.topics, request, ctx.apiVersion, now, ctx.header.clientId, s.transactions, s.maxDecompressedBytes)
  return answer(outcome, throttled(s.quotas, request.acks, outcome.response, ctx, startedAt, s.clock.currentTimeMillisUnsafe()))
}

/**
 * Consecutive requests of one connection at once (see produceMany), when no produce quota
 * is set: a throttled response mutes the connection before its next request is handled,
 * so with quotas every request is handled on its own.
 */
const handleManyWith = (
  items: ReadonlyArray<{ readonly request: ProduceRequest; readonly ctx: RequestContext }>,
  services: Context.Context<LogStore | Topics>
): ReadonlyArray<() => Effect.Effect<ProduceResponseInit | NoResponse>> | undefined => {
  const s = servicesOf(services)
  if (s.quotas !== undefined) return undefined
  const inputs = items.map((i) => ({ request: i.request, version: i.ctx.apiVersion, clientId: i.ctx.header.clientId }))
  const commit = { queued: false }
  const outcomes = produceMany(s.logs, s.topics, inputs, s.clock.currentTimeMillisUnsafe(), s.transactions, s.maxDecompressedBytes, commit)
  // With appends queued, the first answer waits for the turn's; the others are asked for after it, complete by then.
  return outcomes.map((o, i) => i === 0 && commit.queued ? () => Effect.flatMap(appendsWritten, () => answer(o, o.response)) : () => answer(o, o.response))
}

export const ProduceHandler = defineHandler(Produce, {
  minVersion: PRODUCE_MIN_VERSION,
  maxVersion: PRODUCE_MAX_VERSION,
  // As Kafka 4 (KAFKA-18659): listed from v0 so that librdkafka < 2.10 compresses; v0-v2 are still refused.
  advertisedMinVersion: 0,
  // Appends are synchronous, or wait only for the end of the turn (group commit): no fiber of its own.
  blocking: false,
  // The batches are written before the result is ready, and the response holds no view of them.
  releasesRequestBytes: true,
  handle: (request, ctx) => Effect.contextWith((services: Context.Context<LogStore | Topics>) => handleWith(request, ctx, services)),
  // Plain code all the way: the connection answers it in its frame loop, no fiber per request,
  // and the requests it has read together are appended together.
  handleWith,
  handleManyWith,
  errorResponse: (request, errorCode) => produceErrorResponse(request, errorCode, defaultMessageOf(errorCode) || null)
})
