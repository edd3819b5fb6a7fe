/**
 * Shared set-up for the data-plane handler tests: a real LogStore on a temp dir, a fake
 * Topics service whose image lists the topics created here, a FetchSessions cache, and
 * helpers that send a request through the generated codecs (so the handler sees exactly
 * what the dispatcher would decode) and decode the response the way a client would (so
 * every response is also proven encodable at its version).
 */
import * as zlib from "node:zlib"
import { Effect, Layer } from "effect"
import { FetchSessions, type FetchSessionsOptions, type FetchSessionsShape } from "../../../src/fetch/FetchSessions.ts"
import { type AnyHandler, isPreEncoded, NO_RESPONSE, type RequestContext } from "../../../src/handlers/handler.ts"
import { LogStore, type LogStoreOptions } from "../../../src/log/LogStore.ts"
import type { LogConfig } from "../../../src/log/partition-log.ts"
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  buildRecordBatch,
  type BuildRecordBatchOptions,
  LOG_OVERHEAD,
  readBatchHeader,
  readRecords,
  RECORD_BATCH_OVERHEAD,
  writeBatchCrc
} from "../../../src/log/record-batch.ts"
import type { MetadataImage, PartitionImage, TopicImage } from "../../../src/metadata/image.ts"
import { EMPTY_IMAGE } from "../../../src/metadata/image.ts"
import type { AnyApi } from "../../../src/protocol/api.ts"
import { Reader, Writer } from "../../../src/protocol/primitives.ts"
import { Topics } from "../../../src/topics/Topics.ts"
import { makeTempDir } from "../../log/helpers.ts"

export { concat, makeTempDir, removeTempDirs } from "../../log/helpers.ts"

export interface TopicSpec {
  readonly name: string
  readonly partitions: number
  readonly topicId?: string
  readonly leaderEpoch?: number
  /** Topic-level configs as Topics.topicConfig reports them (max.message.bytes, message.timestamp.type, ...). */
  readonly configs?: Readonly<Record<string, string>>
  /** Partition-log settings (segment.bytes, ...) given to LogStore.createPartition. */
  readonly logConfig?: Partial<LogConfig>
}

/** A deterministic base64url topic id (22 characters) from a small number. */
export const topicIdOf = (n: number): string => {
  const bytes = new Uint8Array(16)
  bytes[15] = n
  bytes[0] = 0x40
  return Buffer.from(bytes).toString("base64url")
}

const partitionImage = (partition: number, leaderEpoch: number): PartitionImage => ({
  partition,
  replicas: [1],
  isr: [1],
  removingReplicas: [],
  addingReplicas: [],
  leader: 1,
  leaderRecoveryState: 0,
  leaderEpoch,
  partitionEpoch: 0,
  directories: [],
  eligibleLeaderReplicas: [],
  lastKnownElr: []
})

const unused = (what: string) => () => Effect.die(new Error(`fake Topics: ${what} is not used by data-plane tests`))

/** A fake Topics over a real LogStore: creates every partition log and serves a fixed image. */
export const fakeTopicsLayer = (specs: ReadonlyArray<TopicSpec>): Layer.Layer<Topics, never, LogStore> =>
  Layer.effect(
    Topics,
    Effect.gen(function*() {
      const logs = yield* LogStore
      const byName = new Map<string, TopicImage>()
      const byId = new Map<string, TopicImage>()
      const configs = new Map<string, ReadonlyMap<string, string>>()
      let n = 1
      for (const spec of specs) {
        const topicId = spec.topicId ?? topicIdOf(n++)
        const partitions = new Map<number, PartitionImage>()
        for (let p = 0; p < spec.partitions; p++) {
          partitions.set(p, partitionImage(p, spec.leaderEpoch ?? 0))
          yield* Effect.orDie(logs.createPartition(spec.name, p, topicId, spec.logConfig))
        }
        const topic: TopicImage = { name: spec.name, topicId, partitions }
        byName.set(spec.name, topic)
        byId.set(topicId, topic)
        configs.set(spec.name, new Map(Object.entries(spec.configs ?? {})))
      }
      const image: MetadataImage = { ...EMPTY_IMAGE, offset: 0, topicsByName: byName, topicsById: byId }
      return Topics.of({
        image: () => image,
        clusterId: "data-plane-test",
        nodeId: 1,
        topicConfig: (topic) => configs.get(topic) ?? new Map(),
        create: unused("create"),
        delete: unused("delete"),
        createPartitions: unused("createPartitions"),
        autoCreate: unused("autoCreate"),
        describeTopicConfigs: unused("describeTopicConfigs"),
        describeBrokerConfigs: () => [],
        dynamicConfigs: () => new Map(),
        alterTopicConfigs: unused("alterTopicConfigs"),
        alterBrokerConfigs: unused("alterBrokerConfigs")
      })
    })
  )

export interface DataPlaneOptions {
  readonly log?: Omit<LogStoreOptions, "logDirs">
  readonly sessions?: Partial<FetchSessionsOptions>
  /** A cache the test holds on to (to observe it), instead of a fresh one. */
  readonly sessionsInstance?: FetchSessionsShape
}

/** LogStore (temp dir) + fake Topics + FetchSessions. */
export const dataPlaneLayer = (specs: ReadonlyArray<TopicSpec>, options: DataPlaneOptions = {}) =>
  Layer.mergeAll(
    fakeTopicsLayer(specs),
    options.sessionsInstance === undefined
      ? FetchSessions.layerWith({ slots: 10, ...options.sessions })
      : Layer.succeed(FetchSessions, options.sessionsInstance)
  ).pipe(Layer.provideMerge(Layer.orDie(LogStore.layer({ logDirs: [makeTempDir()], ...options.log }))))

export const requestContext = (api: AnyApi, version: number, correlationId = 1): RequestContext => ({
  apiKey: api.apiKey,
  apiVersion: version,
  header: { requestApiKey: api.apiKey, requestApiVersion: version, correlationId, clientId: "data-plane-test" },
  clientAddress: "127.0.0.1:1",
  listenerName: "PLAINTEXT",
  advertisedHost: "127.0.0.1",
  advertisedPort: 9092
})

/** The request as the dispatcher would hand it over: encoded, then decoded at `version`. */
export const decodedRequest = <Req>(api: AnyApi, version: number, init: unknown): Req => {
  const w = new Writer(256)
  api.encodeRequest(w, version, init)
  return api.decodeRequest(new Reader(w.toBytes()), version) as Req
}

/** A response as a client reads it: encoded at `version`, then decoded. */
// oxlint-disable-next-line no-explicit-any
export const roundTripResponse = (api: AnyApi, version: number, body: unknown): any => {
  const w = new Writer(256)
  api.encodeResponse(w, version, body)
  const r = new Reader(w.toBytes())
  const decoded = api.decodeResponse(r, version)
  if (r.pos !== r.end) throw new Error(`${api.name} v${version} response has ${r.end - r.pos} trailing bytes`)
  return decoded
}

/**
 * Runs a handler on a request given as an Init (encoded and decoded at `version` first),
 * returning the decoded response, or NO_RESPONSE.
 */
export const call = <R>(handler: AnyHandler<R>, version: number, init: unknown) =>
  Effect.map(handler.handle(decodedRequest(handler.api as AnyApi, version, init), requestContext(handler.api as AnyApi, version)), (body) => {
    if (body === NO_RESPONSE) return NO_RESPONSE
    if (isPreEncoded(body)) throw new Error("unexpected pre-encoded body")
    return roundTripResponse(handler.api as AnyApi, version, body)
  })

// ---------------------------------------------------------------------------------------
// Record batches
// ---------------------------------------------------------------------------------------

/** A batch of `count` records with values `${prefix}<i>` and timestamps ts, ts+1, ... */
export const batch = (count: number, options: { prefix?: string; timestamp?: number; valueSize?: number } & Partial<BuildRecordBatchOptions> = {}) => {
  const { prefix = "v", timestamp = 1_000, valueSize = 0, ...rest } = options
  return buildRecordBatch({
    ...rest,
    records: Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `${prefix}${i}`.padEnd(valueSize, "."), timestamp: timestamp + i }))
  })
}

/** Re-encodes an uncompressed batch with its records compressed by `codec` (1 gzip, 4 zstd), valid CRC. */
export const compressedBatch = (plain: Uint8Array, codec: 1 | 4): Uint8Array => {
  const body = plain.subarray(RECORD_BATCH_OVERHEAD)
  const compressed = codec === 1 ? zlib.gzipSync(body) : zlib.zstdCompressSync(body)
  const out = new Uint8Array(RECORD_BATCH_OVERHEAD + compressed.length)
  out.set(plain.subarray(0, RECORD_BATCH_OVERHEAD))
  out.set(compressed, RECORD_BATCH_OVERHEAD)
  const view = new DataView(out.buffer)
  view.setInt32(BATCH_LENGTH_OFFSET, out.length - LOG_OVERHEAD)
  view.setInt16(ATTRIBUTES_OFFSET, view.getInt16(ATTRIBUTES_OFFSET) | codec)
  writeBatchCrc(out, 0)
  return out
}

export interface FetchedBatch {
  readonly baseOffset: number
  readonly size: number
  readonly bytes: Uint8Array
}

/** The whole batches in fetched bytes (a cut-short trailing batch is left out, as clients do), and the leftover byte count. */
export const batchesOf = (records: Uint8Array | null): { batches: Array<FetchedBatch>; partialBytes: number } => {
  const batches: Array<FetchedBatch> = []
  if (records === null) return { batches, partialBytes: 0 }
  let pos = 0
  while (pos + RECORD_BATCH_OVERHEAD <= records.length) {
    const h = readBatchHeader(records, pos)
    if (pos + h.sizeInBytes > records.length) break
    batches.push({ baseOffset: h.baseOffset, size: h.sizeInBytes, bytes: records.subarray(pos, pos + h.sizeInBytes) })
    pos += h.sizeInBytes
  }
  return { batches, partialBytes: records.length - pos }
}

/** Offsets and values of every record in the whole batches of fetched bytes (uncompressed only). */
export const recordsOf = (records: Uint8Array | null): Array<{ offset: number; value: string; timestamp: number }> =>
  batchesOf(records).batches.flatMap((b) =>
    [...readRecords(b.bytes)].map((r) => ({ offset: r.offset, value: new TextDecoder().decode(r.value!), timestamp: r.timestamp }))
  )

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

export type ProducePartitions = ReadonlyArray<readonly [partition: number, records: Uint8Array | null]>

export const produceRequest = (
  topics: ReadonlyArray<readonly [topic: string, partitions: ProducePartitions]>,
  options: { acks?: number; transactionalId?: string | null } = {}
) => ({
  transactionalId: options.transactionalId ?? null,
  acks: options.acks ?? -1,
  timeoutMs: 30_000,
  topicData: topics.map(([name, partitions]) => ({ name, partitionData: partitions.map(([index, records]) => ({ index, records })) }))
})

export interface FetchPartitionSpec {
  readonly topic?: string
  readonly topicId?: string
  readonly partition: number
  readonly offset?: number
  readonly partitionMaxBytes?: number
  readonly currentLeaderEpoch?: number
}

export interface FetchOptions {
  readonly maxWaitMs?: number
  readonly minBytes?: number
  readonly maxBytes?: number
  readonly isolationLevel?: number
  readonly sessionId?: number
  readonly sessionEpoch?: number
  readonly forgotten?: ReadonlyArray<{ readonly topic?: string; readonly topicId?: string; readonly partitions: ReadonlyArray<number> }>
}

/** A consumer fetch; consecutive partitions of one topic are grouped as clients do. */
export const fetchRequest = (partitions: ReadonlyArray<FetchPartitionSpec>, options: FetchOptions = {}) => {
  const topics: Array<{ topic: string; topicId: string; partitions: Array<unknown> }> = []
  for (const p of partitions) {
    const topic = p.topic ?? ""
    const topicId = p.topicId ?? "AAAAAAAAAAAAAAAAAAAAAA"
    let last = topics[topics.length - 1]
    if (last === undefined || last.topic !== topic || last.topicId !== topicId) {
      last = { topic, topicId, partitions: [] }
      topics.push(last)
    }
    last.partitions.push({
      partition: p.partition,
      currentLeaderEpoch: p.currentLeaderEpoch ?? -1,
      fetchOffset: BigInt(p.offset ?? 0),
      lastFetchedEpoch: -1,
      logStartOffset: -1n,
      partitionMaxBytes: p.partitionMaxBytes ?? 1 << 20
    })
  }
  return {
    replicaId: -1,
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 1,
    maxBytes: options.maxBytes ?? 50 << 20,
    isolationLevel: options.isolationLevel ?? 0,
    sessionId: options.sessionId ?? 0,
    sessionEpoch: options.sessionEpoch ?? -1,
    topics,
    forgottenTopicsData: (options.forgotten ?? []).map((f) => ({ topic: f.topic ?? "", topicId: f.topicId ?? "AAAAAAAAAAAAAAAAAAAAAA", partitions: f.partitions })),
    rackId: ""
  }
}

export const listOffsetsRequest = (
  topics: ReadonlyArray<readonly [topic: string, partitions: ReadonlyArray<readonly [partition: number, timestamp: number, currentLeaderEpoch?: number]>]>,
  isolationLevel = 0
) => ({
  replicaId: -1,
  isolationLevel,
  topics: topics.map(([name, partitions]) => ({
    name,
    partitions: partitions.map(([partitionIndex, timestamp, currentLeaderEpoch]) => ({ partitionIndex, timestamp: BigInt(timestamp), currentLeaderEpoch: currentLeaderEpoch ?? -1 }))
  })),
  timeoutMs: 30_000
})
