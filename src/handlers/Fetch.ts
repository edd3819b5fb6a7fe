/**
 * Fetch (key 1), versions 4-17, for consumers.
 *
 * A request is resolved against the fetch session cache (KIP-227, the FetchSessions
 * service): epoch -1 is a sessionless full fetch, epoch 0 opens a session, later epochs
 * add, update and forget partitions and are answered only for partitions with news. An
 * unknown session id or a wrong epoch is a top-level error with no partitions.
 *
 * Reading follows Kafka's ReplicaManager.readFromLog: partitions in request order share
 * the response budget min(max_bytes, fetch.max.bytes); each reads at most
 * partition_max_bytes of it; the first batch of the first partition that has data is
 * returned whole even beyond both limits (KIP-74), later partitions only get what fits
 * (the last batch may be cut short, which clients ignore); a fetch offset in the middle of
 * a batch returns that whole batch. read_uncommitted reads stop at the high watermark;
 * read_committed reads stop at the last stable offset (the first offset of the oldest open
 * transaction) and list the aborted transactions overlapping the returned batches (from
 * the segments' txnindex, Kafka's collectAbortedTransactions), which consumers use to drop
 * aborted records; read_uncommitted gets null there.
 *
 * Long polling: with fewer than min_bytes available (and no partition error), the fetch
 * waits until appends to its partitions (PartitionLog.onAppend: no polling loop) add up to
 * the bytes missing, or max_wait_ms, reading again after each wake-up; at the deadline it
 * answers with whatever there is. Timers come from Effect's Clock (one per wait, cleared
 * when an append answers it).
 *
 * Topics are named by name before v13 and by topic id from v13 (UNKNOWN_TOPIC_ID for an
 * id this broker does not know; the response echoes the requested id). Follower fields
 * (replica_id, replica_state) are ignored: there is no replication yet.
 */
import { Clock, Context, Effect, Option } from "effect"
import { FetchSessions, type FetchContext, type FetchPartitionRequest, type FetchSessionsShape } from "../fetch/FetchSessions.ts"
import { LogStore, type LogStoreShape } from "../log/LogStore.ts"
import { OffsetOutOfRangeError, type PartitionLog } from "../log/partition-log.ts"
import { BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD } from "../log/record-batch.ts"
import type { MetadataImage, TopicImage } from "../metadata/image.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { Fetch } from "../protocol/generated/apis/Fetch.ts"
import type { FetchRequest } from "../protocol/generated/message/FetchRequest.ts"
import type {
  FetchResponseAbortedTransactionInit,
  FetchResponseFetchableTopicResponseInit,
  FetchResponseInit,
  FetchResponsePartitionDataInit
} from "../protocol/generated/message/FetchResponse.ts"
import { Topics, type TopicsShape } from "../topics/Topics.ts"
import { errorCodeByName, isUnexpected, kafkaErrorOf } from "./errors.ts"
import { BrokerLifecycle } from "../lifecycle/Lifecycle.ts"
import { defineHandler, type RequestContext } from "./handler.ts"
import { ClientQuotas, type ClientQuotasShape, fetchMaxBytesUnderQuota, fetchThrottle, quotaClientId } from "../quotas/ClientQuotas.ts"

export const FETCH_MIN_VERSION = 4
export const FETCH_MAX_VERSION = 17
/** First version naming topics by id. */
const TOPIC_ID_VERSION = 13
const READ_COMMITTED = 1

const EMPTY_RECORDS = new Uint8Array(0)
const NO_ABORTED_TRANSACTIONS: ReadonlyArray<never> = Object.freeze([])

/** What one partition read gave. */
interface PartitionRead {
  readonly request: FetchPartitionRequest
  /** The topic's name (from the image when fetched by id; "" when unknown). */
  readonly topicName: string
  readonly errorCode: number
  readonly highWatermark: number
  readonly lastStableOffset: number
  readonly logStartOffset: number
  readonly records: Uint8Array
  /** read_committed only: the aborted transactions overlapping `records`. */
  readonly abortedTransactions: ReadonlyArray<FetchResponseAbortedTransactionInit> | null
}

interface ReadRound {
  readonly reads: ReadonlyArray<PartitionRead>
  readonly bytes: number
  readonly anyError: boolean
  /** Logs of the partitions read without error, and their version at read time. */
  readonly watched: ReadonlyArray<PartitionLog>
  readonly versions: ReadonlyArray<number>
  readonly unexpected: ReadonlyArray<unknown>
}

interface FetchPlan {
  readonly version: number
  readonly maxBytes: number
  readonly minBytes: number
  readonly readCommitted: boolean
}

const sessionKey = (topicOrId: string, partition: number): string => `${topicOrId}\u0000${partition}`

const failed = (request: FetchPartitionRequest, topicName: string, errorCode: number, highWatermark = -1, logStartOffset = -1, lastStableOffset = highWatermark): PartitionRead => ({
  request,
  topicName,
  errorCode,
  highWatermark,
  lastStableOffset,
  logStartOffset,
  records: EMPTY_RECORDS,
  abortedTransactions: null
})

/**
 * The offset after the last batch whose header is in `records` (header fields only, the
 * last batch may be cut short): the upper bound for collecting aborted transactions.
 */
const endOffsetOf = (records: Uint8Array): number => {
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength)
  let pos = 0
  let end = -1
  while (pos + RECORD_BATCH_OVERHEAD <= records.length) {
    end = view.getInt32(pos) * 4294967296 + view.getUint32(pos + 4) + view.getInt32(pos + LAST_OFFSET_DELTA_OFFSET) + 1
    pos += view.getInt32(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD
  }
  return end
}

const abortedTransactionsOf = (log: PartitionLog, fetchOffset: number, records: Uint8Array): ReadonlyArray<FetchResponseAbortedTransactionInit> => {
  if (records.length === 0) return NO_ABORTED_TRANSACTIONS
  const upperBound = endOffsetOf(records)
  if (upperBound < 0) return NO_ABORTED_TRANSACTIONS
  const found = log.collectAbortedTransactions(fetchOffset, upperBound)
  return found.length === 0 ? NO_ABORTED_TRANSACTIONS : found.map((t) => ({ producerId: BigInt(t.producerId), firstOffset: BigInt(t.firstOffset) }))
}

/**
 * The most a fetch reads of one partition at once, beyond a larger first batch (which KIP-74
 * returns whole). Reads run on the event loop: a consumer that asked for 8 MiB a partition
 * and fell behind had every other connection wait for its read, page faults of a fresh
 * buffer included (5-15 ms, and produce acks with them). A partition may always answer with
 * less than its maximum (Kafka's does at a segment's end); the consumer fetches the rest next.
 * Clients ask for 1 MiB a partition by default, which this leaves whole.
 */
export const PARTITION_READ_MAX_BYTES = 4 * 1024 * 1024

/** One pass over the partitions, as Kafka's readFromLog. Plain code. */
const readAll = (
  logs: LogStoreShape,
  image: MetadataImage,
  partitions: ReadonlyArray<FetchPartitionRequest>,
  plan: FetchPlan
): ReadRound => {
  const byId = plan.version >= TOPIC_ID_VERSION
  const reads: Array<PartitionRead> = []
  const watched: Array<PartitionLog> = []
  const versions: Array<number> = []
  const unexpected: Array<unknown> = []
  let remaining = plan.maxBytes
  let minOneBatch = true
  let bytes = 0
  let anyError = false
  for (const req of partitions) {
    const topic: TopicImage | undefined = byId ? image.topicsById.get(req.topicId) : image.topicsByName.get(req.topic)
    if (topic === undefined) {
      anyError = true
      reads.push(failed(req, req.topic, byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
      continue
    }
    const partition = topic.partitions.get(req.partition)
    const log = partition === undefined ? undefined : logs.findPartition(topic.name, req.partition)
    if (log?.isOffline === true) {
      anyError = true
      reads.push(failed(req, topic.name, ErrorCode.KAFKA_STORAGE_ERROR))
      continue
    }
    if (partition === undefined || log === undefined || log.isClosed) {
      anyError = true
      reads.push(failed(req, topic.name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
      continue
    }
    if (req.currentLeaderEpoch >= 0 && req.currentLeaderEpoch !== partition.leaderEpoch) {
      anyError = true
      reads.push(failed(req, topic.name, req.currentLeaderEpoch > partition.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH))
      continue
    }
    const version = log.version
    try {
      const fetchOffset = Number(req.fetchOffset)
      const data = log.read(fetchOffset, Math.min(req.partitionMaxBytes, remaining, PARTITION_READ_MAX_BYTES), minOneBatch, plan.readCommitted ? log.lastStableOffset : undefined)
      const size = data.records.length
      if (size > 0) {
        minOneBatch = false
        remaining = Math.max(0, remaining - size)
        bytes += size
      }
      reads.push({
        request: req,
        topicName: topic.name,
        errorCode: ErrorCode.NONE,
        highWatermark: data.highWatermark,
        lastStableOffset: data.lastStableOffset,
        logStartOffset: data.logStartOffset,
        records: data.records,
        abortedTransactions: plan.readCommitted ? abortedTransactionsOf(log, fetchOffset, data.records) : null
      })
      watched.push(log)
      versions.push(version)
    } catch (e) {
      anyError = true
      if (e instanceof OffsetOutOfRangeError) {
        reads.push(failed(req, topic.name, ErrorCode.OFFSET_OUT_OF_RANGE, log.highWatermark, log.logStartOffset, log.lastStableOffset))
      } else {
        if (isUnexpected(e)) unexpected.push(e)
        reads.push(failed(req, topic.name, kafkaErrorOf(e).errorCode))
      }
    }
  }
  return { reads, bytes, anyError, watched, versions, unexpected }
}

/** The response for a final read; the session decides which partitions it includes. */
const respond = (round: ReadRound, context: FetchContext, plan: FetchPlan): FetchResponseInit => {
  const responses: Array<FetchResponseFetchableTopicResponseInit> = []
  let current: { topic: string; topicId: string; partitions: Array<FetchResponsePartitionDataInit> } | undefined
  for (const read of round.reads) {
    const ok = read.errorCode === ErrorCode.NONE
    const highWatermark = BigInt(read.highWatermark)
    const lastStableOffset = BigInt(read.lastStableOffset)
    const logStartOffset = BigInt(read.logStartOffset)
    const included = context.include(read.request.key, {
      errorCode: read.errorCode,
      highWatermark,
      lastStableOffset,
      logStartOffset,
      hasRecords: read.records.length > 0
    })
    if (!included) continue
    const data: FetchResponsePartitionDataInit = {
      partitionIndex: read.request.partition,
      errorCode: read.errorCode,
      highWatermark,
      lastStableOffset,
      logStartOffset,
      abortedTransactions: ok && plan.readCommitted ? read.abortedTransactions ?? NO_ABORTED_TRANSACTIONS : null,
      preferredReadReplica: -1,
      records: read.records
    }
    // Consecutive partitions of one topic share a topic entry, as Kafka builds them.
    if (current === undefined || current.topic !== read.topicName || current.topicId !== read.request.topicId) {
      current = { topic: read.topicName, topicId: read.request.topicId, partitions: [] }
      responses.push(current)
    }
    current.partitions.push(data)
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: context.sessionId, responses }
}

/**
 * Resolves once `logs` may hold `needed` bytes more than when they were read: appends count
 * by their size, as Kafka's DelayedFetch compares log positions, so that a fetch waiting for
 * min_bytes reads again when a read can satisfy it, not after every append. Any other change
 * (truncation, deletion, close) resolves it at the next one, and a change since the read at
 * once. Unsubscribes on wake-up and on interruption (timeout). Appended bytes may be more
 * than a read returns (past the last stable offset, beyond a partition's max bytes): the
 * caller reads again and waits again if so; never fewer.
 */
const changed = (logs: ReadonlyArray<PartitionLog>, versions: ReadonlyArray<number>, needed: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    for (let i = 0; i < logs.length; i++) {
      if (logs[i]!.version !== versions[i]) return resume(Effect.void)
    }
    const unsubscribes: Array<() => void> = []
    let done = false
    let appended = 0
    const stop = () => {
      done = true
      for (const u of unsubscribes) u()
    }
    const wake = (appendedBytes: number) => {
      if (done) return
      if (appendedBytes > 0 && (appended += appendedBytes) < needed) return
      stop()
      // Resuming runs the fiber synchronously, inside the appender's notification: yield
      // first, so the append completes and the fetch re-reads (and re-subscribes) after it.
      resume(Effect.yieldNow)
    }
    for (const log of logs) unsubscribes.push(log.onAppend(wake))
    return Effect.sync(stop)
  })

/** The request's partitions and forgotten partitions, keyed as the session cache keys them. */
const sessionInput = (request: FetchRequest, version: number) => {
  const byId = version >= TOPIC_ID_VERSION
  const partitions: Array<FetchPartitionRequest> = []
  for (const t of request.topics) {
    const keyBase = byId ? t.topicId : t.topic
    for (const p of t.partitions) {
      partitions.push({
        key: sessionKey(keyBase, p.partition),
        topic: t.topic,
        topicId: t.topicId,
        partition: p.partition,
        fetchOffset: p.fetchOffset,
        partitionMaxBytes: p.partitionMaxBytes,
        currentLeaderEpoch: p.currentLeaderEpoch
      })
    }
  }
  const forgotten: Array<string> = []
  for (const f of request.forgottenTopicsData) {
    const keyBase = byId ? f.topicId : f.topic
    for (const p of f.partitions) forgotten.push(sessionKey(keyBase, p))
  }
  return { partitions, forgotten }
}

/** A top-level error (session errors, unsupported versions): no partitions. */
export const fetchErrorResponse = (errorCode: number): FetchResponseInit => ({ throttleTimeMs: 0, errorCode, sessionId: 0, responses: [] })

/** Before v7 a Fetch response has no top-level error: the code goes to every partition. */
const fetchErrorResponseFor = (request: FetchRequest, version: number, errorCode: number): FetchResponseInit => {
  if (version >= 7) return fetchErrorResponse(errorCode)
  return {
    throttleTimeMs: 0,
    responses: request.topics.map((t) => ({
      topic: t.topic,
      topicId: t.topicId,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partition,
        errorCode,
        highWatermark: -1n,
        lastStableOffset: -1n,
        logStartOffset: -1n,
        abortedTransactions: null,
        records: EMPTY_RECORDS
      }))
    }))
  }
}

const logUnexpected = (round: ReadRound, response: FetchResponseInit): Effect.Effect<FetchResponseInit> =>
  round.unexpected.length === 0
    ? Effect.succeed(response)
    : Effect.as(Effect.forEach(round.unexpected, (e) => Effect.logError("fetch read failed unexpectedly", e), { discard: true }), response)

/** The client's quotas for a consumer fetch, and how to mute its connection. */
export interface FetchQuota {
  readonly quotas: ClientQuotasShape
  readonly clientId: string
  readonly throttleChannel: ((throttleTimeMs: number) => void) | undefined
}

/** Fixed bytes a partition adds to a Fetch response besides its records (index, error, offsets, lengths). */
const PARTITION_RESPONSE_OVERHEAD = 42
/** Fixed bytes of a Fetch response besides its partitions (throttle, error, session id, topic entry). */
const RESPONSE_OVERHEAD = 32

/** The response's size as the fetch quota counts it (Kafka's FetchContext.getResponseSize), estimated from what was read. */
const responseSizeOf = (round: ReadRound): number => RESPONSE_OVERHEAD + round.bytes + round.reads.length * PARTITION_RESPONSE_OVERHEAD

/** The whole fetch, given the services: one Effect, which waits only for long polling. */
export const fetch = (
  logs: LogStoreShape,
  topics: TopicsShape,
  sessions: FetchSessionsShape,
  clock: Clock.Clock,
  request: FetchRequest,
  version: number,
  /** Completes when the broker begins to shut down: a waiting fetch then answers with what it has. */
  shuttingDown: Effect.Effect<void> = Effect.never,
  quota?: FetchQuota
): Effect.Effect<FetchResponseInit> => {
  const start = clock.currentTimeMillisUnsafe()
  // Request-quota time: the plain work done for this fetch, not its long-poll wait.
  let workMs = 0
  let workStart = quota === undefined ? 0 : performance.now()
  const { partitions, forgotten } = sessionInput(request, version)
  const context = sessions.begin(request.sessionId, request.sessionEpoch, partitions, forgotten, start)
  if (typeof context === "string") return Effect.succeed(fetchErrorResponse(errorCodeByName(context)))

  // Kafka caps a consumer fetch at what its quota allows in the window's full samples, so
  // a single fetch is never throttled for its size alone.
  const quotaMaxBytes = quota === undefined ? Number.MAX_SAFE_INTEGER : fetchMaxBytesUnderQuota(quota.quotas, quota.clientId, start)
  const maxBytes = Math.min(request.maxBytes, sessions.fetchMaxBytes, quotaMaxBytes)
  const plan: FetchPlan = {
    version,
    maxBytes,
    minBytes: Math.min(request.minBytes, maxBytes),
    readCommitted: request.isolationLevel === READ_COMMITTED
  }
  const read = () => {
    if (quota === undefined) return readAll(logs, topics.image(), context.partitions, plan)
    if (workStart === 0) workStart = performance.now()
    const round = readAll(logs, topics.image(), context.partitions, plan)
    workMs += performance.now() - workStart
    workStart = 0
    return round
  }
  // Kafka's processResponseCallback: a throttled consumer gets an empty response (the session
  // is not advanced past it) and the bytes read are not counted against its fetch quota.
  const answer = (round: ReadRound): Effect.Effect<FetchResponseInit> => {
    if (quota === undefined) return logUnexpected(round, respond(round, context, plan))
    const throttleTimeMs = fetchThrottle(quota.quotas, quota.clientId, responseSizeOf(round), workMs * 1e6, clock.currentTimeMillisUnsafe())
    if (throttleTimeMs <= 0) return logUnexpected(round, respond(round, context, plan))
    quota.throttleChannel?.(throttleTimeMs)
    return logUnexpected(round, { throttleTimeMs, errorCode: ErrorCode.NONE, sessionId: context.incremental === true ? context.sessionId : 0, responses: [] })
  }
  const done = (round: ReadRound) => round.anyError || round.bytes >= plan.minBytes || context.partitions.length === 0
  // read_committed: a small commit marker can make many bytes readable (the last stable
  // offset moves past them), so every append is worth a read.
  const bytesMissing = (round: ReadRound) => (plan.readCommitted ? 1 : plan.minBytes - round.bytes)
  const first = read()
  const deadline = start + request.maxWaitMs
  if (request.maxWaitMs <= 0 || done(first)) return answer(first)

  const poll = (round: ReadRound): Effect.Effect<FetchResponseInit> =>
    Effect.flatMap(Effect.timeoutOption(Effect.raceFirst(Effect.as(changed(round.watched, round.versions, bytesMissing(round)), false), Effect.as(shuttingDown, true)), Math.max(0, deadline - clock.currentTimeMillisUnsafe())), (woken) => {
      const next = read()
      const stopping = woken._tag === "Some" && woken.value
      if (stopping || done(next) || clock.currentTimeMillisUnsafe() >= deadline) return answer(next)
      return poll(next)
    })
  return poll(first)
}

/** Consumer fetches are quota-checked once a fetch or request quota was ever set; follower fetches never (there are none here). */
const fetchQuotaOf = (quotas: ClientQuotasShape | undefined, request: FetchRequest, ctx: RequestContext): FetchQuota | undefined => {
  if (quotas === undefined || request.replicaId >= 0 || (request.replicaState?.replicaId ?? -1) >= 0) return undefined
  quotas.refresh()
  if (!quotas.fetch.enabled && !quotas.request.enabled) return undefined
  return { quotas, clientId: quotaClientId(ctx.header.clientId), throttleChannel: ctx.throttleChannel }
}

/** What the handler needs from a connection's services, looked up once per connection (the services never change under it). */
interface FetchServices {
  readonly logs: LogStoreShape
  readonly topics: TopicsShape
  readonly sessions: FetchSessionsShape
  readonly clock: Clock.Clock
  readonly shuttingDown: Effect.Effect<void>
  readonly quotas: ClientQuotasShape | undefined
}

const servicesCache = new WeakMap<Context.Context<never>, FetchServices>()

const servicesOf = (services: Context.Context<LogStore | Topics | FetchSessions>): FetchServices => {
  let s = servicesCache.get(services as Context.Context<never>)
  if (s === undefined) {
    s = {
      logs: Context.get(services, LogStore),
      topics: Context.get(services, Topics),
      sessions: Context.get(services, FetchSessions),
      clock: Context.getUnsafe(services, Clock.Clock),
      shuttingDown: Option.match(Context.getOption(services, BrokerLifecycle), { onNone: () => Effect.never, onSome: (l) => l.shuttingDown }),
      quotas: Context.getOrUndefined(services, ClientQuotas)
    }
    servicesCache.set(services as Context.Context<never>, s)
  }
  return s
}

/**
 * The handler against given services. A fetch its first read answers (min_bytes met,
 * max_wait_ms 0, an error, a session error, a throttle) comes back as an Exit, which the
 * connection's frame loop answers in the same turn: no fiber, no Effect run per request.
 * Only a fetch that must wait for appends is an Effect to run (in its own fiber, as
 * `blocking` says).
 */
const handleWith = (request: FetchRequest, ctx: RequestContext, services: Context.Context<LogStore | Topics | FetchSessions>): Effect.Effect<FetchResponseInit> => {
  const s = servicesOf(services)
  return fetch(s.logs, s.topics, s.sessions, s.clock, request, ctx.apiVersion, s.shuttingDown, fetchQuotaOf(s.quotas, request, ctx))
}

export const FetchHandler = defineHandler(Fetch, {
  minVersion: FETCH_MIN_VERSION,
  maxVersion: FETCH_MAX_VERSION,
  // Long polling: a fetch that waits up to max_wait_ms runs in its own fiber.
  blocking: true,
  handle: (request, ctx) => Effect.contextWith((services: Context.Context<LogStore | Topics | FetchSessions>) => handleWith(request, ctx, services)),
  handleWith,
  errorResponse: (request, errorCode, ctx) => fetchErrorResponseFor(request, ctx.apiVersion, errorCode)
})
