/**
 * The `kafka` commands: each one a few protocol requests over a KafkaConnection and a table
 * (or JSON) of the answer. A Kafka error in an answer is thrown as KafkaError (exit code 1)
 * after whatever succeeded has been printed.
 */
import { ErrorCode } from "../protocol/error-codes.ts"
import { CreatePartitions } from "../protocol/generated/apis/CreatePartitions.ts"
import { CreateTopics } from "../protocol/generated/apis/CreateTopics.ts"
import { DeleteGroups } from "../protocol/generated/apis/DeleteGroups.ts"
import { DeleteRecords } from "../protocol/generated/apis/DeleteRecords.ts"
import { DeleteTopics } from "../protocol/generated/apis/DeleteTopics.ts"
import { DescribeConfigs } from "../protocol/generated/apis/DescribeConfigs.ts"
import { DescribeGroups } from "../protocol/generated/apis/DescribeGroups.ts"
import { Fetch } from "../protocol/generated/apis/Fetch.ts"
import { FindCoordinator } from "../protocol/generated/apis/FindCoordinator.ts"
import { IncrementalAlterConfigs } from "../protocol/generated/apis/IncrementalAlterConfigs.ts"
import { ListGroups } from "../protocol/generated/apis/ListGroups.ts"
import { ListOffsets } from "../protocol/generated/apis/ListOffsets.ts"
import { Metadata } from "../protocol/generated/apis/Metadata.ts"
import { OffsetCommit } from "../protocol/generated/apis/OffsetCommit.ts"
import { OffsetFetch } from "../protocol/generated/apis/OffsetFetch.ts"
import { Produce } from "../protocol/generated/apis/Produce.ts"
import { ZERO_UUID } from "../protocol/primitives.ts"
import {
  ATTRIBUTES_OFFSET,
  batchSizeAt,
  BATCH_LENGTH_OFFSET,
  buildRecordBatch,
  COMPRESSION_CODEC_MASK,
  COMPRESSION_GZIP,
  COMPRESSION_LZ4,
  COMPRESSION_NONE,
  COMPRESSION_SNAPPY,
  COMPRESSION_ZSTD,
  CONTROL_FLAG_MASK,
  LOG_OVERHEAD,
  RECORD_BATCH_OVERHEAD,
  readRecords,
  type RecordInput,
  viewOf,
  writeBatchCrc
} from "../log/record-batch.ts"
import { compressRecords, decompressRecords } from "../log/compression.ts"
import { intOption, option, pairs, type ParsedArgs } from "./args.ts"
import { KafkaConnection } from "./connection.ts"
import { type Format, KafkaError, print, printJson, type Row, UsageError } from "./output.ts"

export interface Context {
  readonly connection: KafkaConnection
  readonly bootstrap: string
  readonly format: Format
  readonly args: ParsedArgs
  /** Lines of standard input, for produce. */
  readonly stdinLines: () => AsyncIterable<string>
  /** Standard output and error. */
  readonly out: (text: string) => void
  readonly err: (text: string) => void
}

const TOPIC = 2
const BROKER = 4
const EARLIEST = -2n
const LATEST = -1n

const check = (errorCode: number, message: string | null | undefined, what: string): void => {
  if (errorCode !== ErrorCode.NONE) throw new KafkaError(errorCode, message, what)
}

const required = (value: string | undefined, what: string): string => {
  if (value === undefined || value === "") throw new UsageError(`missing ${what}`)
  return value
}

// ------------------------------------------------------------------------------------------
// Metadata
// ------------------------------------------------------------------------------------------

interface TopicInfo {
  readonly name: string
  readonly topicId: string
  readonly internal: boolean
  readonly partitions: ReadonlyArray<{ readonly partition: number; readonly leader: number; readonly leaderEpoch: number; readonly replicas: ReadonlyArray<number>; readonly isr: ReadonlyArray<number> }>
}

const metadata = async (c: Context, topics: ReadonlyArray<string> | null) => {
  const { response } = await c.connection.request(Metadata, (v) => ({
    topics: topics === null ? (v === 0 ? [] : null) : topics.map((name) => ({ name })),
    ...(v >= 4 ? { allowAutoTopicCreation: false } : {})
  }))
  return response
}

const topicInfo = async (c: Context, name: string): Promise<TopicInfo> => {
  const res = await metadata(c, [name])
  const t = res.topics[0]
  if (t === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null, `topic ${name}`)
  check(t.errorCode, null, `topic ${name}`)
  return {
    name,
    topicId: t.topicId,
    internal: t.isInternal,
    partitions: t.partitions.map((p) => ({ partition: p.partitionIndex, leader: p.leaderId, leaderEpoch: p.leaderEpoch, replicas: p.replicaNodes, isr: p.isrNodes }))
      .sort((a, b) => a.partition - b.partition)
  }
}

export const clusterInfo = async (c: Context): Promise<void> => {
  const res = await metadata(c, [])
  const rows = res.brokers.map((b) => ({ id: b.nodeId, host: b.host, port: b.port, rack: b.rack, controller: b.nodeId === res.controllerId }))
  if (c.format === "json") return printJson(c, { clusterId: res.clusterId, controllerId: res.controllerId, brokers: rows })
  c.out(`CLUSTER ID  ${res.clusterId ?? "-"}\nCONTROLLER  ${res.controllerId}\n\n`)
  print(c, ["id", "host", "port", "rack", "controller"], rows)
}

// ------------------------------------------------------------------------------------------
// Topics
// ------------------------------------------------------------------------------------------

export const topicList = async (c: Context): Promise<void> => {
  const res = await metadata(c, null)
  const rows = res.topics
    .map((t) => ({ name: t.name ?? "", partitions: t.partitions.length, replicas: t.partitions[0]?.replicaNodes.length ?? 0, internal: t.isInternal }))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
  print(c, ["name", "partitions", "replicas", "internal"], rows)
}

export const topicCreate = async (c: Context, name: string): Promise<void> => {
  const partitions = intOption(c.args, "partitions") ?? -1
  const replicationFactor = intOption(c.args, "replication-factor") ?? -1
  const configs = pairs(c.args, "config").map(([k, v]) => ({ name: k, value: v }))
  const { response } = await c.connection.request(CreateTopics, (v) => ({
    topics: [{ name, numPartitions: partitions, replicationFactor, assignments: [], configs }],
    timeoutMs: 30_000,
    ...(v >= 1 && c.args.flags.has("validate-only") ? { validateOnly: true } : {})
  }))
  const t = response.topics[0]!
  if (t.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && c.args.flags.has("if-not-exists")) return
  check(t.errorCode, t.errorMessage, `create topic ${name}`)
  print(c, ["name", "partitions", "replication_factor"], [{ name, partitions: t.numPartitions, replication_factor: t.replicationFactor }])
}

export const topicDelete = async (c: Context, names: ReadonlyArray<string>): Promise<void> => {
  const { response } = await c.connection.request(DeleteTopics, (v) => ({
    ...(v >= 6 ? { topics: names.map((name) => ({ name, topicId: ZERO_UUID })) } : { topicNames: names }),
    timeoutMs: 30_000
  }))
  const rows = response.responses.map((r) => ({ name: r.name, result: r.errorCode === ErrorCode.NONE ? "deleted" : errorNameOf(r.errorCode) }))
  print(c, ["name", "result"], rows)
  for (const r of response.responses) {
    if (r.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && c.args.flags.has("if-exists")) continue
    check(r.errorCode, r.errorMessage, `delete topic ${r.name}`)
  }
}

const errorNameOf = (code: number): string => new KafkaError(code, null, "").message.slice(2)

export const topicAddPartitions = async (c: Context, name: string): Promise<void> => {
  const count = intOption(c.args, "partitions") ?? intOption(c.args, "count")
  if (count === undefined) throw new UsageError("missing --partitions N (the new total)")
  const { response } = await c.connection.request(CreatePartitions, () => ({ topics: [{ name, count, assignments: null }], timeoutMs: 30_000 }))
  const r = response.results[0]!
  check(r.errorCode, r.errorMessage, `add partitions to ${name}`)
  print(c, ["name", "partitions"], [{ name, partitions: count }])
}

export const topicDescribe = async (c: Context, name: string): Promise<void> => {
  const info = await topicInfo(c, name)
  const configs = await describeConfigs(c, TOPIC, name, false)
  const overrides = configs.filter((e) => e.source === "DYNAMIC_TOPIC_CONFIG")
  const rows = info.partitions.map((p) => ({ partition: p.partition, leader: p.leader, epoch: p.leaderEpoch, replicas: p.replicas.join(","), isr: p.isr.join(",") }))
  if (c.format === "json") return printJson(c, { name, topicId: info.topicId, internal: info.internal, partitions: rows, configs: Object.fromEntries(overrides.map((e) => [e.name, e.value])) })
  c.out(`TOPIC     ${name}\nTOPIC ID  ${info.topicId}\nCONFIGS   ${overrides.map((e) => `${e.name}=${e.value}`).join(", ") || "-"}\n\n`)
  print(c, ["partition", "leader", "epoch", "replicas", "isr"], rows)
}

// ------------------------------------------------------------------------------------------
// Configs
// ------------------------------------------------------------------------------------------

const SOURCES = ["UNKNOWN", "DYNAMIC_TOPIC_CONFIG", "DYNAMIC_BROKER_CONFIG", "DYNAMIC_DEFAULT_BROKER_CONFIG", "STATIC_BROKER_CONFIG", "DEFAULT_CONFIG", "DYNAMIC_BROKER_LOGGER_CONFIG", "CLIENT_METRICS_CONFIG", "GROUP_CONFIG"]

interface ConfigEntry {
  readonly name: string
  readonly value: string | null
  readonly source: string
  readonly readOnly: boolean
  readonly sensitive: boolean
}

const describeConfigs = async (c: Context, resourceType: number, resourceName: string, documentation: boolean): Promise<Array<ConfigEntry & { doc: string | null }>> => {
  const { version, response } = await c.connection.request(DescribeConfigs, (v) => ({
    resources: [{ resourceType, resourceName, configurationKeys: null }],
    ...(v >= 3 && documentation ? { includeDocumentation: true } : {})
  }))
  const r = response.results[0]!
  check(r.errorCode, r.errorMessage, `describe configs of ${resourceType === TOPIC ? "topic" : "broker"} ${resourceName}`)
  return r.configs.map((e) => ({
    name: e.name,
    value: e.isSensitive ? null : e.value,
    source: version === 0 ? (e.isDefault ? "DEFAULT_CONFIG" : "STATIC_BROKER_CONFIG") : (SOURCES[e.configSource] ?? String(e.configSource)),
    readOnly: e.readOnly,
    sensitive: e.isSensitive,
    doc: e.documentation ?? null
  }))
}

/** The resource a config command is about: --topic NAME, --broker ID, or --broker-defaults. */
const configResource = (c: Context): { type: number; name: string; label: string } => {
  const topic = option(c.args, "topic")
  const broker = option(c.args, "broker")
  if (topic !== undefined) return { type: TOPIC, name: topic, label: `topic ${topic}` }
  if (broker !== undefined) return { type: BROKER, name: broker, label: `broker ${broker}` }
  throw new UsageError("name the resource: --topic NAME or --broker ID (--broker \"\" for the cluster-wide defaults)")
}

export const configDescribe = async (c: Context): Promise<void> => {
  const resource = configResource(c)
  const entries = await describeConfigs(c, resource.type, resource.name, c.args.flags.has("all") && c.format === "json")
  // Like kafka-configs --describe: only what was set, unless --all.
  const shown = c.args.flags.has("all") ? entries : entries.filter((e) => e.source !== "DEFAULT_CONFIG" && e.source !== "STATIC_BROKER_CONFIG" || resource.type === BROKER && e.source === "STATIC_BROKER_CONFIG")
  print(c, ["name", "value", "source", "read_only"], shown.map((e) => ({ name: e.name, value: e.value, source: e.source, read_only: e.readOnly })))
}

const alterConfigs = async (c: Context, resource: { type: number; name: string; label: string }, ops: ReadonlyArray<{ name: string; op: number; value: string | null }>) => {
  const { response } = await c.connection.request(IncrementalAlterConfigs, () => ({
    resources: [{ resourceType: resource.type, resourceName: resource.name, configs: ops.map((o) => ({ name: o.name, configOperation: o.op, value: o.value })) }],
    validateOnly: c.args.flags.has("validate-only")
  }))
  const r = response.responses[0]!
  check(r.errorCode, r.errorMessage, `alter configs of ${resource.label}`)
  print(c, ["resource", "name", "operation", "value"], ops.map((o) => ({ resource: resource.label, name: o.name, operation: ["SET", "DELETE", "APPEND", "SUBTRACT"][o.op]!, value: o.value })))
}

/** `config set --topic T k=v ...` / `topic alter-config T --set k=v --delete k`. */
export const configSet = (c: Context, resource = configResource(c)) => {
  const ops = [
    ...c.args.positionals.filter((p) => p.includes("=")).map((kv) => ({ name: kv.slice(0, kv.indexOf("=")), op: 0, value: kv.slice(kv.indexOf("=") + 1) })),
    ...pairs(c.args, "set").map(([k, v]) => ({ name: k, op: 0, value: v as string | null })),
    ...pairs(c.args, "append").map(([k, v]) => ({ name: k, op: 2, value: v as string | null })),
    ...pairs(c.args, "subtract").map(([k, v]) => ({ name: k, op: 3, value: v as string | null })),
    ...(c.args.options.get("delete") ?? []).map((k) => ({ name: k, op: 1, value: null }))
  ]
  if (ops.length === 0) throw new UsageError("nothing to change: give key=value pairs, --set k=v, --delete k, --append k=v or --subtract k=v")
  return alterConfigs(c, resource, ops)
}

export const configDelete = (c: Context) => {
  const resource = configResource(c)
  const keys = [...c.args.positionals, ...(c.args.options.get("delete") ?? [])]
  if (keys.length === 0) throw new UsageError("name the keys to delete")
  return alterConfigs(c, resource, keys.map((k) => ({ name: k, op: 1, value: null })))
}

export const topicAlterConfig = (c: Context, name: string) => configSet(c, { type: TOPIC, name, label: `topic ${name}` })

// ------------------------------------------------------------------------------------------
// Offsets and records
// ------------------------------------------------------------------------------------------

/** ListOffsets for every partition of a topic at `timestamp` (-2 earliest, -1 latest, or a time). */
const listOffsets = async (c: Context, info: TopicInfo, timestamp: bigint, partitions = info.partitions.map((p) => p.partition)): Promise<Map<number, bigint>> => {
  const { response } = await c.connection.request(ListOffsets, (v) => ({
    replicaId: -1,
    topics: [{ name: info.name, partitions: partitions.map((p) => ({ partitionIndex: p, timestamp, ...(v === 0 ? { maxNumOffsets: 1 } : {}) })) }]
  }))
  const out = new Map<number, bigint>()
  for (const p of response.topics[0]?.partitions ?? []) {
    check(p.errorCode, null, `list offsets of ${info.name}-${p.partitionIndex}`)
    out.set(p.partitionIndex, p.offset)
  }
  return out
}

export const recordsDelete = async (c: Context): Promise<void> => {
  const topic = required(option(c.args, "topic"), "--topic NAME")
  const offset = intOption(c.args, "offset")
  if (offset === undefined) throw new UsageError("missing --offset N (records below it are deleted; -1 = up to the end)")
  const info = await topicInfo(c, topic)
  const only = intOption(c.args, "partition")
  const partitions = only === undefined ? info.partitions.map((p) => p.partition) : [only]
  const { response } = await c.connection.request(DeleteRecords, () => ({
    topics: [{ name: topic, partitions: partitions.map((p) => ({ partitionIndex: p, offset: BigInt(offset) })) }],
    timeoutMs: 30_000
  }))
  const results = response.topics[0]?.partitions ?? []
  print(c, ["topic", "partition", "low_watermark", "error"], results.map((p) => ({
    topic,
    partition: p.partitionIndex,
    low_watermark: Number(p.lowWatermark),
    error: p.errorCode === ErrorCode.NONE ? null : errorNameOf(p.errorCode)
  })))
  for (const p of results) check(p.errorCode, null, `delete records of ${topic}-${p.partitionIndex}`)
}

// ------------------------------------------------------------------------------------------
// Produce
// ------------------------------------------------------------------------------------------

/** Kafka's murmur2, as its default partitioner hashes keys. */
const murmur2 = (data: Uint8Array): number => {
  const m = 0x5bd1e995
  let h = (0x9747b28c ^ data.length) | 0
  let i = 0
  for (; i + 4 <= data.length; i += 4) {
    let k = (data[i]! & 0xff) | ((data[i + 1]! & 0xff) << 8) | ((data[i + 2]! & 0xff) << 16) | ((data[i + 3]! & 0xff) << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const tail = data.length - i
  if (tail === 3) h ^= (data[i + 2]! & 0xff) << 16
  if (tail >= 2) h ^= (data[i + 1]! & 0xff) << 8
  if (tail >= 1) {
    h ^= data[i]! & 0xff
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h
}

const BATCH_RECORDS = 500

export const produce = async (c: Context, topic: string): Promise<void> => {
  const info = await topicInfo(c, topic)
  const fixedPartition = intOption(c.args, "partition")
  const separator = option(c.args, "key-separator")
  const acks = intOption(c.args, "acks") ?? -1
  // acks=0 has no response to wait for; the command line always wants to know the records landed.
  if (acks !== -1 && acks !== 1) throw new UsageError("--acks must be -1 (all) or 1")
  const headers = pairs(c.args, "header").map(([key, value]) => ({ key, value }))
  const compression = option(c.args, "compression") ?? "none"
  const codec = CODECS[compression]
  if (codec === undefined) throw new UsageError(`--compression must be one of ${Object.keys(CODECS).join(", ")}, not ${compression}`)
  const count = info.partitions.length
  let roundRobin = 0
  const pending = new Map<number, Array<RecordInput>>()
  let produced = 0

  const flush = async () => {
    if (pending.size === 0) return
    const now = Date.now()
    const partitionData = [...pending].map(([index, records]) => ({ index, records: compress(buildRecordBatch({ records, timestamp: now }), codec) }))
    pending.clear()
    const { response } = await c.connection.request(Produce, () => ({ transactionalId: null, acks, timeoutMs: 30_000, topicData: [{ name: topic, partitionData }] }))
    for (const p of response.responses[0]?.partitionResponses ?? []) check(p.errorCode, p.errorMessage, `produce to ${topic}-${p.index}`)
  }

  for await (const line of c.stdinLines()) {
    let key: string | null = null
    let value = line
    if (separator !== undefined) {
      const at = line.indexOf(separator)
      if (at >= 0) {
        key = line.slice(0, at)
        value = line.slice(at + separator.length)
      }
    }
    const partition = fixedPartition ?? (key === null ? roundRobin++ % count : (murmur2(new TextEncoder().encode(key)) & 0x7fffffff) % count)
    const list = pending.get(partition) ?? []
    list.push({ key, value, headers })
    pending.set(partition, list)
    produced++
    if (list.length >= BATCH_RECORDS) await flush()
  }
  await flush()
  if (c.format === "json") printJson(c, { topic, records: produced })
  else c.err(`produced ${produced} record(s) to ${topic}\n`)
}

/** `--compression` names: Kafka's compression.type values and their batch codec ids. */
const CODECS: Readonly<Record<string, number>> = {
  none: COMPRESSION_NONE,
  gzip: COMPRESSION_GZIP,
  snappy: COMPRESSION_SNAPPY,
  lz4: COMPRESSION_LZ4,
  zstd: COMPRESSION_ZSTD
}

/** A batch built uncompressed, its records section compressed and the header fixed up (v2 layout). */
const compress = (batch: Uint8Array, codec: number): Uint8Array => {
  if (codec === COMPRESSION_NONE) return batch
  const packed = compressRecords(codec, batch.subarray(RECORD_BATCH_OVERHEAD))
  const out = new Uint8Array(RECORD_BATCH_OVERHEAD + packed.length)
  out.set(batch.subarray(0, RECORD_BATCH_OVERHEAD))
  out.set(packed, RECORD_BATCH_OVERHEAD)
  const view = viewOf(out)
  view.setInt32(BATCH_LENGTH_OFFSET, out.length - LOG_OVERHEAD)
  view.setInt16(ATTRIBUTES_OFFSET, (view.getInt16(ATTRIBUTES_OFFSET) & ~COMPRESSION_CODEC_MASK) | codec)
  // CRC-32C covers everything from the attributes on.
  writeBatchCrc(out, 0)
  return out
}

// ------------------------------------------------------------------------------------------
// Consume
// ------------------------------------------------------------------------------------------

interface ConsumedRecord {
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
  readonly key: string | null
  readonly value: string | null
  readonly headers: Record<string, string | null>
}

const decoder = new TextDecoder()

/** The records of the batches in `bytes`, decompressed with whichever of Kafka's codecs they use. */
const recordsOf = (partition: number, bytes: Uint8Array, from: number): Array<ConsumedRecord> => {
  const out: Array<ConsumedRecord> = []
  const view = viewOf(bytes)
  let pos = 0
  while (pos + RECORD_BATCH_OVERHEAD <= bytes.length) {
    const size = batchSizeAt(view, pos)
    if (pos + size > bytes.length) break
    let batch = bytes.subarray(pos, pos + size)
    pos += size
    const attributes = viewOf(batch).getInt16(ATTRIBUTES_OFFSET)
    if ((attributes & CONTROL_FLAG_MASK) !== 0) continue
    const codec = attributes & COMPRESSION_CODEC_MASK
    if (codec !== COMPRESSION_NONE) {
      let plain: Uint8Array
      try {
        plain = decompressRecords(codec, batch.subarray(RECORD_BATCH_OVERHEAD))
      } catch (e) {
        throw new UsageError(`cannot decompress a batch at offset ${viewOf(batch).getBigInt64(0)} (codec ${codec}): ${(e as Error).message}`)
      }
      const copy = new Uint8Array(RECORD_BATCH_OVERHEAD + plain.length)
      copy.set(batch.subarray(0, RECORD_BATCH_OVERHEAD))
      copy.set(plain, RECORD_BATCH_OVERHEAD)
      const v = viewOf(copy)
      v.setInt32(BATCH_LENGTH_OFFSET, copy.length - LOG_OVERHEAD)
      v.setInt16(ATTRIBUTES_OFFSET, attributes & ~COMPRESSION_CODEC_MASK)
      batch = copy
    }
    for (const r of readRecords(batch)) {
      if (r.offset < from) continue
      out.push({
        partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key === null ? null : decoder.decode(r.key),
        value: r.value === null ? null : decoder.decode(r.value),
        headers: Object.fromEntries(r.headers.map((h) => [h.key, h.value === null ? null : decoder.decode(h.value)]))
      })
    }
  }
  return out
}

/** Where consumption starts per partition: --offset beginning|end|N, --timestamp MS, else the group's committed offset, else the end. */
const startOffsets = async (c: Context, info: TopicInfo, partitions: ReadonlyArray<number>, group: string | undefined): Promise<Map<number, bigint>> => {
  const offset = option(c.args, "offset") ?? (c.args.flags.has("from-beginning") ? "beginning" : undefined)
  const timestamp = option(c.args, "timestamp")
  if (timestamp !== undefined) {
    const at = await listOffsets(c, info, BigInt(Date.parse(timestamp) || Number(timestamp)), [...partitions])
    const end = await listOffsets(c, info, LATEST, [...partitions])
    return new Map(partitions.map((p) => [p, at.get(p)! < 0n ? end.get(p)! : at.get(p)!]))
  }
  if (offset !== undefined && offset !== "beginning" && offset !== "end" && offset !== "earliest" && offset !== "latest") {
    if (!/^\d+$/.test(offset)) throw new UsageError(`--offset must be beginning, end or a number, not ${offset}`)
    return new Map(partitions.map((p) => [p, BigInt(offset)]))
  }
  const fallback = offset === "beginning" || offset === "earliest" ? EARLIEST : LATEST
  const base = await listOffsets(c, info, fallback, [...partitions])
  if (group !== undefined && offset === undefined) {
    const committed = await committedOffsets(c, group, [info.name])
    for (const p of partitions) {
      const o = committed.get(`${info.name}\u0000${p}`)
      if (o !== undefined && o >= 0n) base.set(p, o)
    }
  }
  return base
}

export const consume = async (c: Context, topic: string): Promise<void> => {
  const info = await topicInfo(c, topic)
  const only = intOption(c.args, "partition")
  const partitions = only === undefined ? info.partitions.map((p) => p.partition) : [only]
  const limit = intOption(c.args, "num") ?? intOption(c.args, "max-messages")
  const idleMs = intOption(c.args, "timeout-ms") ?? 1000
  const group = option(c.args, "group")
  const positions = await startOffsets(c, info, partitions, group)
  const fmt = option(c.args, "print") ?? (c.format === "json" ? "json" : "value")
  let count = 0
  let idleSince = Date.now()
  const emit = (r: ConsumedRecord) => {
    if (fmt === "json") c.out(JSON.stringify({ topic, ...r }) + "\n")
    else if (fmt === "value") c.out(`${r.value ?? ""}\n`)
    else c.out(fmt.replaceAll("%t", topic).replaceAll("%p", String(r.partition)).replaceAll("%o", String(r.offset))
      .replaceAll("%k", r.key ?? "").replaceAll("%s", r.value ?? "").replaceAll("%T", String(r.timestamp)).replaceAll("\\n", "\n").replaceAll("\\t", "\t"))
  }
  while (limit === undefined || count < limit) {
    const { response } = await c.connection.request(Fetch, (v) => ({
      replicaId: -1,
      maxWaitMs: 200,
      minBytes: 1,
      maxBytes: 8 * 1024 * 1024,
      ...(v >= 4 ? { isolationLevel: 1 } : {}),
      ...(v >= 7 ? { sessionId: 0, sessionEpoch: -1 } : {}),
      topics: [{
        ...(v >= 13 ? { topicId: info.topicId } : { topic }),
        partitions: partitions.map((p) => ({ partition: p, fetchOffset: positions.get(p)!, partitionMaxBytes: 1024 * 1024 }))
      }]
    }))
    let got = 0
    for (const t of response.responses) {
      for (const p of t.partitions) {
        if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
          const reset = await listOffsets(c, info, EARLIEST, [p.partitionIndex])
          positions.set(p.partitionIndex, reset.get(p.partitionIndex)!)
          continue
        }
        check(p.errorCode, null, `fetch from ${topic}-${p.partitionIndex}`)
        if (p.records === null) continue
        const from = Number(positions.get(p.partitionIndex)!)
        for (const r of recordsOf(p.partitionIndex, p.records, from)) {
          if (limit !== undefined && count >= limit) break
          emit(r)
          count++
          got++
          positions.set(p.partitionIndex, BigInt(r.offset + 1))
        }
      }
    }
    if (got > 0) idleSince = Date.now()
    else if (Date.now() - idleSince >= idleMs) break
  }
  if (group !== undefined) await commit(c, group, topic, positions)
  if (c.format !== "json") c.err(`consumed ${count} record(s)\n`)
}

// ------------------------------------------------------------------------------------------
// Groups
// ------------------------------------------------------------------------------------------

/** A connection to the group's coordinator (this one when the coordinator is the broker we talk to). */
const coordinator = async (c: Context, group: string): Promise<KafkaConnection> => {
  const { version, response } = await c.connection.request(FindCoordinator, (v) => (v >= 4 ? { keyType: 0, coordinatorKeys: [group] } : { key: group }))
  const found = version >= 4 ? response.coordinators[0]! : response
  check(found.errorCode, found.errorMessage, `find the coordinator of group ${group}`)
  const here = c.bootstrap.replace(/^localhost:/, "127.0.0.1:")
  const there = `${found.host}:${found.port}`.replace(/^localhost:/, "127.0.0.1:")
  return there === here ? c.connection : KafkaConnection.open(there)
}

/** Committed offsets of a group by "topic\0partition" (only `topics` when given). */
const committedOffsets = async (c: Context, group: string, topics: ReadonlyArray<string> | null): Promise<Map<string, bigint>> => {
  const conn = await coordinator(c, group)
  const { version, response } = await conn.request(OffsetFetch, (v) =>
    v >= 8 ? { groups: [{ groupId: group, topics: null }] } : { groupId: group, topics: v >= 2 ? null : [] }
  )
  const out = new Map<string, bigint>()
  const groupTopics = version >= 8 ? (response.groups[0]?.topics ?? []) : response.topics
  const errorCode = version >= 8 ? (response.groups[0]?.errorCode ?? 0) : response.errorCode
  check(errorCode, null, `fetch the offsets of group ${group}`)
  for (const t of groupTopics) {
    if (topics !== null && !topics.includes(t.name)) continue
    for (const p of t.partitions) if (p.committedOffset >= 0n) out.set(`${t.name}\u0000${p.partitionIndex}`, p.committedOffset)
  }
  return out
}

/** Commits offsets as a consumer outside the group's generation (as Kafka's tools do for an empty group). */
const commit = async (c: Context, group: string, topic: string, offsets: ReadonlyMap<number, bigint>): Promise<void> => {
  const conn = await coordinator(c, group)
  const { response } = await conn.request(OffsetCommit, () => ({
    groupId: group,
    generationIdOrMemberEpoch: -1,
    memberId: "",
    topics: [{ name: topic, partitions: [...offsets].map(([partitionIndex, committedOffset]) => ({ partitionIndex, committedOffset })) }]
  }))
  for (const t of response.topics) for (const p of t.partitions) check(p.errorCode, null, `commit offsets of group ${group} for ${t.name}-${p.partitionIndex}`)
}

export const groupList = async (c: Context): Promise<void> => {
  const { response } = await c.connection.request(ListGroups, () => ({}))
  check(response.errorCode, null, "list groups")
  print(c, ["group", "protocol_type", "state"], response.groups.map((g) => ({ group: g.groupId, protocol_type: g.protocolType, state: g.groupState || null }))
    .sort((a, b) => (a.group < b.group ? -1 : 1)))
}

export const groupDescribe = async (c: Context, group: string): Promise<void> => {
  const conn = await coordinator(c, group)
  const { response } = await conn.request(DescribeGroups, () => ({ groups: [group] }))
  const g = response.groups[0]!
  check(g.errorCode, null, `describe group ${group}`)
  const committed = await committedOffsets(c, group, null)
  const byTopic = new Map<string, Array<[number, bigint]>>()
  for (const [k, offset] of committed) {
    const [topic, partition] = k.split("\u0000") as [string, string]
    byTopic.set(topic, [...(byTopic.get(topic) ?? []), [Number(partition), offset]])
  }
  const rows: Array<Row> = []
  for (const [topic, parts] of [...byTopic].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const info = await topicInfo(c, topic)
    const ends = await listOffsets(c, info, LATEST, parts.map(([p]) => p))
    for (const [partition, offset] of parts.sort((a, b) => a[0] - b[0])) {
      const end = ends.get(partition)!
      rows.push({ group, topic, partition, current_offset: Number(offset), log_end_offset: Number(end), lag: Number(end - offset) })
    }
  }
  if (c.format === "json") return printJson(c, { group, state: g.groupState, protocolType: g.protocolType, members: g.members.length, offsets: rows })
  c.out(`GROUP    ${group}\nSTATE    ${g.groupState}\nMEMBERS  ${g.members.length}\n\n`)
  print(c, ["topic", "partition", "current_offset", "log_end_offset", "lag"], rows)
}

export const groupDelete = async (c: Context, groups: ReadonlyArray<string>): Promise<void> => {
  const { response } = await c.connection.request(DeleteGroups, () => ({ groupsNames: groups }))
  print(c, ["group", "result"], response.results.map((r) => ({ group: r.groupId, result: r.errorCode === ErrorCode.NONE ? "deleted" : errorNameOf(r.errorCode) })))
  for (const r of response.results) check(r.errorCode, null, `delete group ${r.groupId}`)
}

/**
 * Like kafka-consumer-groups --reset-offsets: computes new offsets for a topic's partitions
 * (--to-earliest, --to-latest, --to-offset N, --to-datetime ISO, --shift-by N), prints them,
 * and commits them only with --execute (a dry run by default).
 */
export const groupResetOffsets = async (c: Context, group: string): Promise<void> => {
  const topic = required(option(c.args, "topic"), "--topic NAME")
  const info = await topicInfo(c, topic)
  const partitions = info.partitions.map((p) => p.partition)
  const earliest = await listOffsets(c, info, EARLIEST)
  const latest = await listOffsets(c, info, LATEST)
  const clamp = (p: number, o: bigint) => (o < earliest.get(p)! ? earliest.get(p)! : o > latest.get(p)! ? latest.get(p)! : o)
  let target = new Map<number, bigint>()
  const mode = ["to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by"].filter((m) => c.args.options.has(m) || c.args.flags.has(m))
  if (mode.length !== 1) throw new UsageError("choose one of --to-earliest, --to-latest, --to-offset N, --to-datetime ISO-8601, --shift-by N")
  switch (mode[0]) {
    case "to-earliest":
      target = earliest
      break
    case "to-latest":
      target = latest
      break
    case "to-offset": {
      const o = BigInt(required(option(c.args, "to-offset"), "--to-offset N"))
      target = new Map(partitions.map((p) => [p, clamp(p, o)]))
      break
    }
    case "to-datetime": {
      const text = required(option(c.args, "to-datetime"), "--to-datetime")
      const ms = Date.parse(text)
      if (Number.isNaN(ms)) throw new UsageError(`--to-datetime expects an ISO-8601 time, not ${text}`)
      const at = await listOffsets(c, info, BigInt(ms))
      target = new Map(partitions.map((p) => [p, at.get(p)! < 0n ? latest.get(p)! : at.get(p)!]))
      break
    }
    case "shift-by": {
      const by = BigInt(intOption(c.args, "shift-by")!)
      const committed = await committedOffsets(c, group, [topic])
      target = new Map(partitions.map((p) => [p, clamp(p, (committed.get(`${topic}\u0000${p}`) ?? latest.get(p)!) + by)]))
      break
    }
  }
  const rows = partitions.map((p) => ({ group, topic, partition: p, new_offset: Number(target.get(p)!) }))
  print(c, ["group", "topic", "partition", "new_offset"], rows)
  if (!c.args.flags.has("execute")) {
    if (c.format !== "json") c.err("dry run: nothing committed (add --execute to commit these offsets)\n")
    return
  }
  await commit(c, group, topic, target)
}
