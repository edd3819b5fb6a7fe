/**
 * The bench's Kafka requests, encoded once with the project's generated codecs and record
 * batch encoder, plus the few admin round trips a scenario needs (create/delete topics,
 * Metadata, InitProducerId), decoded with the generated codecs.
 */
import { crc32c } from "../../src/log/crc32c.ts"
import { buildRecordBatch, ATTRIBUTES_OFFSET, BASE_SEQUENCE_OFFSET, CRC_OFFSET } from "../../src/log/record-batch.ts"
import type { AnyApi } from "../../src/protocol/api.ts"
import { CreateTopics, DeleteTopics, Fetch, InitProducerId, Metadata, Produce } from "../../src/protocol/generated/apis.ts"
import { decodeResponse, encodeRequest, WireClient } from "../../test/support/wire-client.ts"

export const PRODUCE_VERSION = 9
export const FETCH_VERSION = 12

export interface BatchShape {
  /** Bytes of each record's value. */
  readonly recordBytes: number
  /** Records per batch. */
  readonly records: number
}

/** 1 KiB records in 64 KiB batches, as issue 11 asks. */
export const KIB_RECORDS_64KIB_BATCHES: BatchShape = { recordBytes: 1024, records: 64 }

export const encodeBatch = (shape: BatchShape, producer?: { id: bigint; epoch: number }): Buffer => {
  const value = new Uint8Array(shape.recordBytes).fill(120)
  const now = Date.now()
  const records = Array.from({ length: shape.records }, () => ({ key: null, value, timestamp: now }))
  return Buffer.from(buildRecordBatch({
    records,
    ...(producer === undefined ? {} : { producerId: Number(producer.id), producerEpoch: producer.epoch, baseSequence: 0 })
  }))
}

/**
 * A Produce request of one batch for one partition, as three parts: prefix (size, header,
 * topic, partition, records length), the batch, suffix (tagged fields). Many requests share
 * one batch buffer; only the small prefix differs per partition.
 */
export interface ProduceParts {
  readonly prefix: Buffer
  readonly batch: Buffer
  readonly suffix: Buffer
}

export const produceParts = (topic: string, partition: number, batch: Buffer, acks: number): ProduceParts => {
  const whole = Buffer.from(encodeRequest(Produce, PRODUCE_VERSION, 0, {
    transactionalId: null,
    acks,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }]
  }, "bench"))
  const at = whole.indexOf(batch)
  if (at < 0) throw new Error("batch not found in its produce request")
  // Copies: a view would keep the whole request (batch included) alive per partition.
  return { prefix: Buffer.from(whole.subarray(0, at)), batch, suffix: Buffer.from(whole.subarray(at + batch.length)) }
}

export const partsPayload = (p: ProduceParts): ReadonlyArray<Buffer> => [p.prefix, p.batch, p.suffix]

/** A fresh copy of an idempotent produce request with its batch's base sequence set (CRC recomputed). */
export const withSequence = (p: ProduceParts, baseSequence: number): ReadonlyArray<Buffer> => {
  const batch = Buffer.from(p.batch)
  batch.writeInt32BE(baseSequence, BASE_SEQUENCE_OFFSET)
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)) >>> 0, CRC_OFFSET)
  return [p.prefix, batch, p.suffix]
}

export const fetchRequest = (options: {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly partitionMaxBytes: number
  readonly maxWaitMs?: number
  readonly minBytes?: number
}): Buffer =>
  Buffer.from(encodeRequest(Fetch, FETCH_VERSION, 0, {
    replicaId: -1,
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 0,
    maxBytes: 64 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic: options.topic, partitions: [{ partition: options.partition, fetchOffset: BigInt(options.offset), partitionMaxBytes: options.partitionMaxBytes }] }],
    forgottenTopicsData: [],
    rackId: ""
  }, "bench"))

/** One admin connection: request/response in order, decoded with the generated codecs. */
export class AdminClient {
  private correlationId = 0
  private readonly client: WireClient
  private constructor(client: WireClient) {
    this.client = client
  }

  static async connect(port: number): Promise<AdminClient> {
    return new AdminClient(await WireClient.connect(port))
  }

  // oxlint-disable-next-line no-explicit-any
  async call(api: AnyApi, version: number, body: unknown): Promise<any> {
    const id = ++this.correlationId
    this.client.write(encodeRequest(api, version, id, body, "bench-admin"))
    const response = decodeResponse(api, version, await this.client.read())
    if (response.correlationId !== id) throw new Error(`correlation id ${response.correlationId}, expected ${id}`)
    return response.body
  }

  async createTopics(topics: ReadonlyArray<{ name: string; partitions: number; configs?: Record<string, string> }>): Promise<void> {
    const body = await this.call(CreateTopics, 7, {
      topics: topics.map((t) => ({
        name: t.name,
        numPartitions: t.partitions,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value }))
      })),
      timeoutMs: 120_000,
      validateOnly: false
    })
    for (const t of body.topics as ReadonlyArray<{ name: string; errorCode: number; errorMessage: string | null }>) {
      if (t.errorCode !== 0) throw new Error(`CreateTopics ${t.name}: error ${t.errorCode} ${t.errorMessage ?? ""}`)
    }
  }

  async deleteTopics(names: ReadonlyArray<string>): Promise<void> {
    const body = await this.call(DeleteTopics, 4, { topicNames: names, timeoutMs: 60_000 })
    for (const t of body.responses as ReadonlyArray<{ name: string; errorCode: number }>) {
      if (t.errorCode !== 0) throw new Error(`DeleteTopics ${t.name}: error ${t.errorCode}`)
    }
  }

  /** Metadata for every topic; returns the number of partitions described. */
  async metadataAll(): Promise<number> {
    const body = await this.call(Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    let partitions = 0
    for (const t of body.topics as ReadonlyArray<{ partitions: ReadonlyArray<unknown> }>) partitions += t.partitions.length
    return partitions
  }

  async initProducerId(): Promise<{ id: bigint; epoch: number }> {
    const body = await this.call(InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 })
    if (body.errorCode !== 0) throw new Error(`InitProducerId: error ${body.errorCode}`)
    return { id: body.producerId, epoch: body.producerEpoch }
  }

  /** Sends one produce request and checks every partition answered without error. */
  async produceChecked(parts: ReadonlyArray<Buffer>): Promise<void> {
    const whole = Buffer.concat(parts)
    const id = ++this.correlationId
    whole.writeInt32BE(id, 8)
    this.client.write(whole)
    const response = decodeResponse(Produce, PRODUCE_VERSION, await this.client.read())
    for (const t of response.body.responses) {
      for (const p of t.partitionResponses) if (p.errorCode !== 0) throw new Error(`Produce ${t.name}/${p.index}: error ${p.errorCode}`)
    }
  }

  /** One Fetch; returns the records bytes of the first partition (error checked). */
  async fetchRecords(request: Buffer): Promise<Uint8Array> {
    const whole = Buffer.from(request)
    const id = ++this.correlationId
    whole.writeInt32BE(id, 8)
    this.client.write(whole)
    const body = decodeResponse(Fetch, FETCH_VERSION, await this.client.read()).body
    if (body.errorCode !== 0) throw new Error(`Fetch: error ${body.errorCode}`)
    const p = body.responses[0].partitions[0]
    if (p.errorCode !== 0) throw new Error(`Fetch partition: error ${p.errorCode}`)
    return p.records ?? new Uint8Array(0)
  }

  close(): void {
    this.client.close()
  }
}
