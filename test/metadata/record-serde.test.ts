import { describe, expect, it } from "vitest"
import {
  controlRecordType,
  decodeMetadataRecord,
  encodeControlRecordKey,
  encodeMetadataRecord,
  MetadataRecordFormatError
} from "../../src/metadata/record-serde.ts"
import { configRecord, featureLevelRecord, futureRecord, partitionChangeRecord, partitionRecord, randomKafkaUuid, registerBrokerRecord, topicRecord, unfenceBrokerChangeRecord } from "./kraft-fixture.ts"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

describe("metadata record framing", () => {
  it("encodes exactly the hand-encoded Kafka bytes (frame version 1, apiKey, version, body)", () => {
    const id = randomKafkaUuid()
    expect(hex(encodeMetadataRecord({ type: "TopicRecord", version: 0, data: { name: "orders", topicId: id } }))).toBe(hex(topicRecord("orders", id)))
    expect(hex(encodeMetadataRecord({ type: "FeatureLevelRecord", version: 0, data: { name: "metadata.version", featureLevel: 21 } })))
      .toBe(hex(featureLevelRecord("metadata.version", 21)))
    // "01 0c 00": frame 1, FeatureLevelRecord = 12, version 0
    expect(hex(featureLevelRecord("metadata.version", 21)).slice(0, 6)).toBe("010c00")
    expect(hex(encodeMetadataRecord({ type: "ConfigRecord", version: 0, data: { resourceType: 2, resourceName: "t", name: "k", value: null } })))
      .toBe(hex(configRecord(2, "t", "k", null)))
    const p = { partitionId: 4, topicId: id, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0, directories: [randomKafkaUuid()] }
    expect(hex(encodeMetadataRecord({ type: "PartitionRecord", version: 1, data: p }))).toBe(hex(partitionRecord(p, 1)))
  })

  it("decodes hand-encoded records, including tagged fields", () => {
    const id = randomKafkaUuid()
    const change = decodeMetadataRecord(partitionChangeRecord(id, 2, { isr: [1, 2], leader: 2 }))
    expect(change).toMatchObject({ known: true, record: { type: "PartitionChangeRecord", version: 0, data: { topicId: id, partitionId: 2, isr: [1, 2], leader: 2, replicas: null } } })
    const dir = randomKafkaUuid()
    const reg = decodeMetadataRecord(registerBrokerRecord({ brokerId: 3, brokerEpoch: 9n, incarnationId: id, host: "h", port: 9092, directoryId: dir, metadataVersionMax: 21 }))
    expect(reg).toMatchObject({ known: true, record: { type: "RegisterBrokerRecord", version: 3, data: { brokerId: 3, brokerEpoch: 9n, fenced: true, logDirs: [dir], rack: null } } })
    const unfence = decodeMetadataRecord(unfenceBrokerChangeRecord(3, 9n))
    expect(unfence).toMatchObject({ known: true, record: { data: { fenced: -1 } } })
  })

  it("reports unknown record types and versions instead of failing", () => {
    expect(decodeMetadataRecord(futureRecord())).toMatchObject({ known: false, apiKey: 99, version: 0 })
    // TopicRecord version 1 does not exist (yet)
    expect(decodeMetadataRecord(Uint8Array.from([1, 2, 1, 0]))).toMatchObject({ known: false, apiKey: 2, version: 1 })
  })

  it("rejects frame version 0 (Kafka 2.8 preview), unknown frame versions, truncation and trailing garbage", () => {
    expect(() => decodeMetadataRecord(Uint8Array.from([0, 12, 0]))).toThrow(/frame version 0/)
    expect(() => decodeMetadataRecord(Uint8Array.from([2, 12, 0]))).toThrow(MetadataRecordFormatError)
    const ok = topicRecord("x", randomKafkaUuid())
    expect(() => decodeMetadataRecord(ok.subarray(0, ok.length - 3))).toThrow(MetadataRecordFormatError)
    expect(() => decodeMetadataRecord(Uint8Array.from([...ok, 0]))).toThrow(/garbage/)
    expect(() => decodeMetadataRecord(new Uint8Array(0))).toThrow(MetadataRecordFormatError)
  })

  it("control record keys are int16 version 0 + int16 type", () => {
    expect(hex(encodeControlRecordKey(2))).toBe("00000002")
    expect(controlRecordType(Uint8Array.from([0, 0, 0, 4]))).toBe(4)
    expect(controlRecordType(null)).toBe(-1)
  })
})
