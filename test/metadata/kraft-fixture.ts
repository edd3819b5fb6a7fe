/**
 * Writes a KRaft log directory the way a Kafka 3.7+ combined-mode node leaves it, byte by
 * byte from Kafka's documented layouts, WITHOUT the project's encoders or batch writer: the
 * point is to check the broker against an independent rendering of the format.
 *
 * Layouts used (all integers big-endian; varints are protobuf-style, zigzag when signed):
 *
 * Record batch v2:
 *   baseOffset int64 | batchLength int32 (bytes after this field) | partitionLeaderEpoch int32
 *   | magic int8 = 2 | crc uint32 (CRC-32C of everything from attributes to the end)
 *   | attributes int16 (bit 5 = control) | lastOffsetDelta int32 | baseTimestamp int64
 *   | maxTimestamp int64 | producerId int64 | producerEpoch int16 | baseSequence int32
 *   | recordCount int32 | records
 * Record:
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
 *   | keyLength varint (-1 = null) | key | valueLength varint | value | headerCount varint
 * Metadata record value (MetadataRecordSerde):
 *   frameVersion uvarint = 1 | apiKey uvarint | version uvarint | flexible body
 * Control record: key = int16 version 0 | int16 type; value = the control message body.
 *
 * Flexible bodies: compact strings/arrays are uvarint(length + 1) then the items, a UUID is
 * 16 raw bytes, and every struct ends with a tagged-field section (uvarint count, then
 * uvarint tag, uvarint size, data per field).
 */
import { crc32c } from "@node-rs/crc32"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

// ---------------------------------------------------------------------------------------
// Byte helpers
// ---------------------------------------------------------------------------------------

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let pos = 0
  for (const p of parts) {
    out.set(p, pos)
    pos += p.length
  }
  return out
}

const u8 = (...bytes: Array<number>): Uint8Array => Uint8Array.from(bytes)

const int8 = (v: number): Uint8Array => u8(v & 0xff)
const int16 = (v: number): Uint8Array => {
  const b = new Uint8Array(2)
  new DataView(b.buffer).setInt16(0, v)
  return b
}
const uint16 = (v: number): Uint8Array => {
  const b = new Uint8Array(2)
  new DataView(b.buffer).setUint16(0, v)
  return b
}
const int32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setInt32(0, v)
  return b
}
const int64 = (v: bigint | number): Uint8Array => {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigInt64(0, BigInt(v))
  return b
}

export const uvarint = (v: number): Uint8Array => {
  const out: Array<number> = []
  let x = v >>> 0
  while (x >= 0x80) {
    out.push((x & 0x7f) | 0x80)
    x >>>= 7
  }
  out.push(x)
  return Uint8Array.from(out)
}
export const varint = (v: number): Uint8Array => uvarint(((v << 1) ^ (v >> 31)) >>> 0)
const varlong = (v: bigint): Uint8Array => {
  let x = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n))
  const out: Array<number> = []
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80)
    x >>= 7n
  }
  out.push(Number(x))
  return Uint8Array.from(out)
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const compactString = (s: string): Uint8Array => {
  const b = utf8(s)
  return concat([uvarint(b.length + 1), b])
}
const compactNullableString = (s: string | null): Uint8Array => (s === null ? uvarint(0) : compactString(s))
const compactInt32Array = (a: ReadonlyArray<number>): Uint8Array => concat([uvarint(a.length + 1), ...a.map(int32)])
const compactUuidArray = (a: ReadonlyArray<string>): Uint8Array => concat([uvarint(a.length + 1), ...a.map(uuidBytes)])
const noTaggedFields = (): Uint8Array => uvarint(0)
const taggedFields = (fields: ReadonlyArray<readonly [number, Uint8Array]>): Uint8Array =>
  concat([uvarint(fields.length), ...fields.flatMap(([tag, data]) => [uvarint(tag), uvarint(data.length), data])])

export const uuidBytes = (id: string): Uint8Array => {
  const b = Buffer.from(id, "base64url")
  if (b.length !== 16) throw new Error(`bad uuid ${id}`)
  return Uint8Array.from(b)
}
/** A random Kafka UUID (base64url, 22 chars), never zero and never the reserved low ids. */
export const randomKafkaUuid = (): string => {
  const b = randomBytes(16)
  b[0] = b[0]! | 0x10
  return b.toString("base64url")
}

// ---------------------------------------------------------------------------------------
// Metadata records (value = frame + body)
// ---------------------------------------------------------------------------------------

const FRAME_VERSION = 1
export const frame = (apiKey: number, version: number, body: Uint8Array): Uint8Array =>
  concat([uvarint(FRAME_VERSION), uvarint(apiKey), uvarint(version), body])

export const featureLevelRecord = (name: string, level: number): Uint8Array =>
  frame(12, 0, concat([compactString(name), int16(level), noTaggedFields()]))

export const topicRecord = (name: string, topicId: string): Uint8Array =>
  frame(2, 0, concat([compactString(name), uuidBytes(topicId), noTaggedFields()]))

export interface HandPartition {
  readonly partitionId: number
  readonly topicId: string
  readonly replicas: ReadonlyArray<number>
  readonly isr: ReadonlyArray<number>
  readonly leader: number
  readonly leaderEpoch: number
  readonly partitionEpoch: number
  /** Present from version 1 on. */
  readonly directories?: ReadonlyArray<string>
}

export const partitionRecord = (p: HandPartition, version: 0 | 1): Uint8Array =>
  frame(3, version, concat([
    int32(p.partitionId),
    uuidBytes(p.topicId),
    compactInt32Array(p.replicas),
    compactInt32Array(p.isr),
    compactInt32Array([]), // removingReplicas
    compactInt32Array([]), // addingReplicas
    int32(p.leader),
    int32(p.leaderEpoch),
    int32(p.partitionEpoch),
    ...(version >= 1 ? [compactUuidArray(p.directories ?? [])] : []),
    noTaggedFields()
  ]))

export const configRecord = (resourceType: number, resourceName: string, name: string, value: string | null): Uint8Array =>
  frame(4, 0, concat([int8(resourceType), compactString(resourceName), compactString(name), compactNullableString(value), noTaggedFields()]))

export const removeTopicRecord = (topicId: string): Uint8Array => frame(9, 0, concat([uuidBytes(topicId), noTaggedFields()]))

/** PartitionChangeRecord v0 with a new ISR (tag 0) and/or leader (tag 1). */
export const partitionChangeRecord = (topicId: string, partitionId: number, change: { isr?: ReadonlyArray<number>; leader?: number }): Uint8Array => {
  const tags: Array<readonly [number, Uint8Array]> = []
  if (change.isr !== undefined) tags.push([0, compactInt32Array(change.isr)])
  if (change.leader !== undefined) tags.push([1, int32(change.leader)])
  return frame(5, 0, concat([int32(partitionId), uuidBytes(topicId), taggedFields(tags)]))
}

export const noOpRecord = (): Uint8Array => frame(20, 0, noTaggedFields())
export const beginTransactionRecord = (name: string): Uint8Array => frame(23, 0, taggedFields([[0, compactNullableString(name)]]))
export const endTransactionRecord = (): Uint8Array => frame(24, 0, noTaggedFields())
export const zkMigrationStateRecord = (state: number): Uint8Array => frame(21, 0, concat([int8(state), noTaggedFields()]))
/** A record type no Kafka defines (yet): apiKey 99, an opaque body. */
export const futureRecord = (): Uint8Array => frame(99, 0, concat([int32(42), noTaggedFields()]))

/** RegisterBrokerRecord v3 as a 3.7+ controller writes it for a combined node. */
export const registerBrokerRecord = (b: {
  brokerId: number
  brokerEpoch: bigint
  incarnationId: string
  host: string
  port: number
  directoryId: string
  metadataVersionMax: number
}): Uint8Array =>
  frame(0, 3, concat([
    int32(b.brokerId),
    int8(0), // isMigratingZkBroker (v2+)
    uuidBytes(b.incarnationId),
    int64(b.brokerEpoch),
    uvarint(2), // one endpoint
    compactString("PLAINTEXT"),
    compactString(b.host),
    uint16(b.port),
    int16(0), // SecurityProtocol PLAINTEXT
    noTaggedFields(),
    uvarint(2), // one feature
    compactString("metadata.version"),
    int16(1),
    int16(b.metadataVersionMax),
    noTaggedFields(),
    uvarint(0), // rack: null
    int8(1), // fenced
    int8(0), // inControlledShutdown (v1+)
    taggedFields([[0, compactUuidArray([b.directoryId])]]) // LogDirs (v3+, tag 0)
  ]))

/** BrokerRegistrationChangeRecord v0 unfencing the broker (Fenced = -1, tag 0). */
export const unfenceBrokerChangeRecord = (brokerId: number, brokerEpoch: bigint): Uint8Array =>
  frame(17, 0, concat([int32(brokerId), int64(brokerEpoch), taggedFields([[0, int8(-1)]])]))

// ---------------------------------------------------------------------------------------
// Control records (key, value)
// ---------------------------------------------------------------------------------------

export interface HandRecord {
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
}

export const controlKey = (type: number): Uint8Array => concat([int16(0), int16(type)])

const voters = (ids: ReadonlyArray<number>): Uint8Array => concat([uvarint(ids.length + 1), ...ids.flatMap((id) => [int32(id), noTaggedFields()])])

export const leaderChangeControl = (leaderId: number, voterIds: ReadonlyArray<number>): HandRecord => ({
  key: controlKey(2),
  value: concat([int16(0), int32(leaderId), voters(voterIds), voters(voterIds), noTaggedFields()])
})
export const snapshotHeaderControl = (lastContainedLogTimestamp: number): HandRecord => ({
  key: controlKey(3),
  value: concat([int16(0), int64(lastContainedLogTimestamp), noTaggedFields()])
})
export const snapshotFooterControl = (): HandRecord => ({ key: controlKey(4), value: concat([int16(0), noTaggedFields()]) })
export const kraftVersionControl = (kraftVersion: number): HandRecord => ({
  key: controlKey(5),
  value: concat([int16(0), int16(kraftVersion), noTaggedFields()])
})

// ---------------------------------------------------------------------------------------
// Record batch v2
// ---------------------------------------------------------------------------------------

export interface HandBatchOptions {
  readonly baseOffset: number
  readonly leaderEpoch: number
  readonly records: ReadonlyArray<HandRecord>
  readonly control?: boolean
  readonly timestamp?: number
}

const encodeRecord = (r: HandRecord, offsetDelta: number): Uint8Array => {
  const body = concat([
    int8(0),
    varlong(0n),
    varint(offsetDelta),
    r.key === null ? varint(-1) : concat([varint(r.key.length), r.key]),
    r.value === null ? varint(-1) : concat([varint(r.value.length), r.value]),
    varint(0)
  ])
  return concat([varint(body.length), body])
}

export const buildBatch = (o: HandBatchOptions): Uint8Array => {
  const ts = o.timestamp ?? 1_700_000_000_000
  const afterCrc = concat([
    int16(o.control ? 0x20 : 0),
    int32(o.records.length - 1),
    int64(ts),
    int64(ts),
    int64(-1), // producerId
    int16(-1), // producerEpoch
    int32(-1), // baseSequence
    int32(o.records.length),
    ...o.records.map(encodeRecord)
  ])
  const crc = int32(crc32c(afterCrc) | 0)
  const afterLength = concat([int32(o.leaderEpoch), int8(2), crc, afterCrc])
  return concat([int64(o.baseOffset), int32(afterLength.length), afterLength])
}

/** Data records: the metadata record values, null keys. */
export const data = (...values: ReadonlyArray<Uint8Array>): Array<HandRecord> => values.map((value) => ({ key: null, value }))

export interface ParsedRecord {
  readonly offset: number
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
}
export interface ParsedBatch {
  readonly position: number
  readonly size: number
  readonly baseOffset: number
  readonly partitionLeaderEpoch: number
  readonly magic: number
  readonly crcValid: boolean
  readonly attributes: number
  readonly producerId: bigint
  readonly records: ReadonlyArray<ParsedRecord>
}

/** An independent reader of a log file's batches (uncompressed), for checking what the broker wrote. */
export const parseBatches = (bytes: Uint8Array): Array<ParsedBatch> => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: Array<ParsedBatch> = []
  let pos = 0
  while (pos + 61 <= bytes.length) {
    const length = view.getInt32(pos + 8)
    const end = pos + 12 + length
    if (end > bytes.length) break
    const baseOffset = Number(view.getBigInt64(pos))
    const crcValid = view.getUint32(pos + 17) === crc32c(bytes.subarray(pos + 21, end)) >>> 0
    const count = view.getInt32(pos + 57)
    let p = pos + 61
    const readUvarint = (): number => {
      let result = 0
      let shift = 0
      for (;;) {
        const b = bytes[p++]!
        result |= (b & 0x7f) << shift
        if ((b & 0x80) === 0) return result >>> 0
        shift += 7
      }
    }
    const readVarint = (): number => {
      const u = readUvarint()
      return (u >>> 1) ^ -(u & 1)
    }
    const records: Array<ParsedRecord> = []
    for (let i = 0; i < count; i++) {
      readVarint() // length
      p += 1 // attributes
      readVarint() // timestamp delta (small in these files)
      const offsetDelta = readVarint()
      const keyLength = readVarint()
      const key = keyLength < 0 ? null : bytes.slice(p, p + keyLength)
      if (keyLength > 0) p += keyLength
      const valueLength = readVarint()
      const value = valueLength < 0 ? null : bytes.slice(p, p + valueLength)
      if (valueLength > 0) p += valueLength
      const headers = readVarint()
      if (headers !== 0) throw new Error("unexpected record headers")
      records.push({ offset: baseOffset + offsetDelta, key, value })
    }
    out.push({
      position: pos,
      size: end - pos,
      baseOffset,
      partitionLeaderEpoch: view.getInt32(pos + 12),
      magic: view.getInt8(pos + 16),
      crcValid,
      attributes: view.getInt16(pos + 21),
      producerId: view.getBigInt64(pos + 43),
      records
    })
    pos = end
  }
  return out
}

// ---------------------------------------------------------------------------------------
// The directory
// ---------------------------------------------------------------------------------------

export interface FixtureTopic {
  readonly name: string
  /** Default: random. */
  readonly topicId?: string
  readonly partitions: number
  /** Dynamic topic configs, as ConfigRecords after the TopicRecord. */
  readonly configs?: Readonly<Record<string, string>>
  /** Default: the node itself. */
  readonly leader?: number
}

export interface KraftDirOptions {
  readonly nodeId: number
  /** Default: random. */
  readonly clusterId?: string
  /** directory.id of the log dir. Default: random. */
  readonly directoryId?: string
  /** Topics created in the log (each as TopicRecord, ConfigRecords, PartitionRecords in one batch). */
  readonly topics: ReadonlyArray<FixtureTopic>
  /**
   * Topics held only in a snapshot `<offset>-<epoch>.checkpoint`. When given, the log's single
   * segment starts at the snapshot's end offset (older segments deleted, as after Kafka's
   * log cleaning) and `topics` follow in it.
   */
  readonly snapshotTopics?: ReadonlyArray<FixtureTopic>
  /** metadata.version feature level. Default 19 (3.7-IV4, what a 3.7 node formats). */
  readonly metadataVersion?: number
  /** Raft epoch of every batch. Default 1. */
  readonly leaderEpoch?: number
  /** Extra batches appended at the end (offsets continue from the fixture's). */
  readonly extraBatches?: ReadonlyArray<{ readonly records: ReadonlyArray<HandRecord>; readonly control?: boolean }>
  /** Write meta.properties (default true). */
  readonly metaProperties?: boolean
  /** Zero-filled index files as a running or crashed Kafka leaves them (default true). */
  readonly preallocatedIndexes?: boolean
}

export interface FixtureTopicResult {
  readonly name: string
  readonly topicId: string
  readonly partitions: number
  readonly leader: number
  readonly configs: Readonly<Record<string, string>>
}

export interface KraftDir {
  readonly logDir: string
  readonly partitionDir: string
  /** The segment file written. */
  readonly logFile: string
  readonly snapshotFile: string | null
  readonly clusterId: string
  readonly directoryId: string
  readonly nodeId: number
  readonly leaderEpoch: number
  readonly metadataVersion: number
  readonly topics: ReadonlyArray<FixtureTopicResult>
  readonly snapshotTopics: ReadonlyArray<FixtureTopicResult>
  /** Offset after the last batch written. */
  readonly endOffset: number
  readonly brokerEpoch: bigint
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

const topicBatchRecords = (t: FixtureTopicResult, nodeId: number, directoryId: string, mv: number): Array<HandRecord> => {
  const version = mv >= 17 ? 1 : 0
  return data(
    topicRecord(t.name, t.topicId),
    ...Object.entries(t.configs).map(([k, v]) => configRecord(2, t.name, k, v)),
    ...Array.from({ length: t.partitions }, (_, p) =>
      partitionRecord({
        partitionId: p,
        topicId: t.topicId,
        replicas: [nodeId],
        isr: [nodeId],
        leader: t.leader,
        leaderEpoch: 0,
        partitionEpoch: 0,
        directories: [directoryId]
      }, version))
  )
}

const resolveTopics = (topics: ReadonlyArray<FixtureTopic>, nodeId: number): Array<FixtureTopicResult> =>
  topics.map((t) => ({
    name: t.name,
    topicId: t.topicId ?? randomKafkaUuid(),
    partitions: t.partitions,
    leader: t.leader ?? nodeId,
    configs: { ...t.configs }
  }))

const writeFile = (file: string, content: string | Uint8Array): void => fs.writeFileSync(file, content)

/** Writes `<logDir>/meta.properties` and `<logDir>/__cluster_metadata-0/…`. */
export const writeKraftLogDir = (logDir: string, options: KraftDirOptions): KraftDir => {
  const nodeId = options.nodeId
  const clusterId = options.clusterId ?? randomKafkaUuid()
  const directoryId = options.directoryId ?? randomKafkaUuid()
  const epoch = options.leaderEpoch ?? 1
  const mv = options.metadataVersion ?? 19
  const partitionDir = path.join(logDir, "__cluster_metadata-0")
  fs.mkdirSync(partitionDir, { recursive: true })

  if (options.metaProperties ?? true) {
    writeFile(
      path.join(logDir, "meta.properties"),
      `#\n#Tue Mar 05 10:00:00 UTC 2024\nnode.id=${nodeId}\ndirectory.id=${directoryId}\nversion=1\ncluster.id=${clusterId}\n`
    )
  }

  const topics = resolveTopics(options.topics, nodeId)
  const snapshotTopics = resolveTopics(options.snapshotTopics ?? [], nodeId)
  const brokerEpoch = 2n
  const bootstrap = data(
    beginTransactionRecord("Bootstrap records"),
    featureLevelRecord("metadata.version", mv),
    zkMigrationStateRecord(0),
    endTransactionRecord()
  )
  const registration = data(registerBrokerRecord({
    brokerId: nodeId,
    brokerEpoch,
    incarnationId: randomKafkaUuid(),
    host: "localhost",
    port: 9092,
    directoryId,
    metadataVersionMax: mv
  }))

  const batches: Array<Uint8Array> = []
  let offset = 0
  const add = (records: ReadonlyArray<HandRecord>, control = false): void => {
    batches.push(buildBatch({ baseOffset: offset, leaderEpoch: epoch, records, control }))
    offset += records.length
  }

  let snapshotFile: string | null = null
  if (snapshotTopics.length > 0) {
    // Offsets 0..S-1 are represented only by the snapshot. Its data batches restart at
    // offset 0, as Kafka's snapshot writer does; their offsets are not log offsets.
    const snapshotEnd = 100
    const snap: Array<Uint8Array> = []
    let o = 0
    const addSnap = (records: ReadonlyArray<HandRecord>, control = false): void => {
      snap.push(buildBatch({ baseOffset: o, leaderEpoch: epoch, records, control }))
      o += records.length
    }
    addSnap([snapshotHeaderControl(1_700_000_000_000)], true)
    addSnap(data(featureLevelRecord("metadata.version", mv), zkMigrationStateRecord(0)))
    addSnap(registration)
    for (const t of snapshotTopics) addSnap(topicBatchRecords(t, nodeId, directoryId, mv))
    addSnap([snapshotFooterControl()], true)
    snapshotFile = path.join(partitionDir, `${pad(snapshotEnd, 20)}-${pad(epoch, 10)}.checkpoint`)
    writeFile(snapshotFile, concat(snap))
    offset = snapshotEnd
  } else {
    add([leaderChangeControl(nodeId, [nodeId])], true)
    add(bootstrap)
    add(registration)
    add(data(unfenceBrokerChangeRecord(nodeId, brokerEpoch)))
    add(data(noOpRecord()))
  }
  const segmentBase = snapshotTopics.length > 0 ? offset : 0
  if (snapshotTopics.length > 0) add([leaderChangeControl(nodeId, [nodeId])], true)
  for (const t of topics) add(topicBatchRecords(t, nodeId, directoryId, mv))
  add(data(noOpRecord()))
  for (const extra of options.extraBatches ?? []) add(extra.records, extra.control ?? false)

  const stem = path.join(partitionDir, pad(segmentBase, 20))
  const logFile = stem + ".log"
  writeFile(logFile, concat(batches))
  const preallocated = options.preallocatedIndexes ?? true
  // A running Kafka preallocates index files (segment.index.bytes) filled with zeros.
  writeFile(stem + ".index", preallocated ? new Uint8Array(8 * 128) : new Uint8Array(0))
  writeFile(stem + ".timeindex", preallocated ? new Uint8Array(12 * 128) : new Uint8Array(0))
  writeFile(path.join(partitionDir, "partition.metadata"), "version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n")
  writeFile(
    path.join(partitionDir, "quorum-state"),
    JSON.stringify({ clusterId: "", leaderId: nodeId, leaderEpoch: epoch, votedId: -1, appliedOffset: 0, currentVoters: [{ voterId: nodeId }], data_version: 0 })
  )
  writeFile(path.join(partitionDir, "leader-epoch-checkpoint"), `0\n1\n${epoch} ${segmentBase}\n`)

  return {
    logDir,
    partitionDir,
    logFile,
    snapshotFile,
    clusterId,
    directoryId,
    nodeId,
    leaderEpoch: epoch,
    metadataVersion: mv,
    topics,
    snapshotTopics,
    endOffset: offset,
    brokerEpoch
  }
}
