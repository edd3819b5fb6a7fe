/**
 * Golden bytes written by hand from the Kafka protocol guide (kafka.apache.org/protocol):
 * each byte string below is laid out field by field, independently of the generator, and
 * must decode to the stated value and re-encode to the same bytes.
 */
import { describe, expect, it } from "vitest"
import { ApiVersions, Fetch, Metadata, Produce } from "../../src/protocol/generated/apis.ts"
import { decodeRequestHeader, encodeRequestHeader } from "../../src/protocol/generated/message/RequestHeader.ts"
import { Reader, Writer } from "../../src/protocol/primitives.ts"

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+|#[^\n]*/g, ""), "hex"))

const encodeWith = (encode: (w: Writer) => void): string => {
  const w = new Writer(8)
  encode(w)
  return Buffer.from(w.toBytes()).toString("hex")
}

// UUID 00010203-0405-0607-0809-0a0b0c0d0e0f in Kafka's base64url form.
const TOPIC_ID = Buffer.from("000102030405060708090a0b0c0d0e0f", "hex").toString("base64url")

describe("golden bytes", () => {
  it("request header v1 and v2", () => {
    const v1 = hex(`0012 0000 00000007 0003 616263`) // api 18, v0, correlation 7, client "abc" (int16 length)
    expect(decodeRequestHeader(new Reader(v1), 1)).toMatchObject({ requestApiKey: 18, requestApiVersion: 0, correlationId: 7, clientId: "abc" })
    const v2 = hex(`0003 000c 00000009 0003 616263 00`) // client id stays int16-length in v2, then empty tagged fields
    expect(decodeRequestHeader(new Reader(v2), 2)).toMatchObject({ requestApiKey: 3, requestApiVersion: 12, correlationId: 9, clientId: "abc" })
    expect(encodeWith((w) => encodeRequestHeader(w, 2, { requestApiKey: 3, requestApiVersion: 12, correlationId: 9, clientId: "abc" }))).toBe(
      Buffer.from(v2).toString("hex")
    )
  })

  it("ApiVersions v0 request and response", () => {
    expect(ApiVersions.decodeRequest(new Reader(new Uint8Array(0)), 0)).toMatchObject({})
    const response = hex(`
      0000                  # error_code
      00000002              # api_keys: int32 array length 2
        0000 0003 000b      # Produce 3-11
        0012 0000 0004      # ApiVersions 0-4
    `)
    const value = { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 11 }, { apiKey: 18, minVersion: 0, maxVersion: 4 }] }
    expect(ApiVersions.decodeResponse(new Reader(response), 0)).toMatchObject(value)
    expect(encodeWith((w) => ApiVersions.encodeResponse(w, 0, value))).toBe(Buffer.from(response).toString("hex"))
  })

  it("ApiVersions v3 request and response (flexible)", () => {
    const request = hex(`
      0b 6b61666b612d6a617661    # client_software_name: compact string "kafka-java" (length+1 = 11)
      06 332e372e30              # client_software_version: "3.7.0"
      00                         # tagged fields
    `)
    const req = { clientSoftwareName: "kafka-java", clientSoftwareVersion: "3.7.0" }
    expect(ApiVersions.decodeRequest(new Reader(request), 3)).toMatchObject(req)
    expect(encodeWith((w) => ApiVersions.encodeRequest(w, 3, req))).toBe(Buffer.from(request).toString("hex"))

    // Built field by field: tag 0 = SupportedFeatures [{ name "mv", min 1, max 21 }], tag 1 = FinalizedFeaturesEpoch 5.
    const flexResponse = hex(`
      0000 02 0012 0000 0004 00 00000000
      02
        00 09  02 03 6d76 0001 0015 00     # tag 0, 9 bytes: [ { "mv", 1, 21, no tags } ]
        01 08  0000000000000005            # tag 1, 8 bytes: epoch 5
    `)
    const value = {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
      throttleTimeMs: 0,
      supportedFeatures: [{ name: "mv", minVersion: 1, maxVersion: 21 }],
      finalizedFeaturesEpoch: 5n,
      finalizedFeatures: [],
      zkMigrationReady: false
    }
    expect(ApiVersions.decodeResponse(new Reader(flexResponse), 3)).toMatchObject(value)
    expect(encodeWith((w) => ApiVersions.encodeResponse(w, 3, value))).toBe(Buffer.from(flexResponse).toString("hex"))
  })

  it("Metadata v12 request", () => {
    const bytes = hex(`
      03                                   # topics: compact array, 2 entries
        000102030405060708090a0b0c0d0e0f 00 00   # topic_id, name null, tagged
        00000000000000000000000000000000 04 666f6f 00 # zero id, name "foo", tagged
      01                                   # allow_auto_topic_creation
      00                                   # include_topic_authorized_operations
      00                                   # tagged fields
    `)
    const value = {
      topics: [
        { topicId: TOPIC_ID, name: null },
        { topicId: "AAAAAAAAAAAAAAAAAAAAAA", name: "foo" }
      ],
      allowAutoTopicCreation: true,
      includeTopicAuthorizedOperations: false
    }
    expect(Metadata.decodeRequest(new Reader(bytes), 12)).toMatchObject(value)
    expect(encodeWith((w) => Metadata.encodeRequest(w, 12, value))).toBe(Buffer.from(bytes).toString("hex"))
    // topics = null means "all topics" in v1+: compact array length 0.
    expect(Metadata.decodeRequest(new Reader(hex("00 00 00 00")), 12)).toMatchObject({ topics: null })
  })

  it("Produce v9 request and response", () => {
    const bytes = hex(`
      00                 # transactional_id: null (compact nullable string)
      ffff               # acks: -1
      00007530           # timeout_ms: 30000
      02                 # topic_data: 1 entry
        04 666f6f        #   name "foo"
        02               #   partition_data: 1 entry
          00000002       #     index 2
          04 010203      #     records: 3 bytes (compact bytes, length+1)
          00             #     tagged
        00               #   tagged
      00                 # tagged
    `)
    const value = {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30000,
      topicData: [{ name: "foo", partitionData: [{ index: 2, records: Uint8Array.of(1, 2, 3) }] }]
    }
    expect(Produce.decodeRequest(new Reader(bytes), 9)).toMatchObject(value)
    expect(encodeWith((w) => Produce.encodeRequest(w, 9, value))).toBe(Buffer.from(bytes).toString("hex"))

    const response = hex(`
      02 04 666f6f               # responses: [ name "foo"
        02 00000002 0000         #   partition_responses: [ index 2, error 0,
           000000000000002a      #     base_offset 42
           ffffffffffffffff      #     log_append_time_ms -1
           0000000000000000      #     log_start_offset 0
           01                    #     record_errors: []
           00                    #     error_message: null
           00                    #   tagged ]
        00                       # tagged ]
      00000000                   # throttle_time_ms
      00                         # tagged
    `)
    const res = {
      responses: [{ name: "foo", partitionResponses: [{ index: 2, errorCode: 0, baseOffset: 42n, logAppendTimeMs: -1n, logStartOffset: 0n, recordErrors: [], errorMessage: null }] }],
      throttleTimeMs: 0
    }
    expect(Produce.decodeResponse(new Reader(response), 9)).toMatchObject(res)
    expect(encodeWith((w) => Produce.encodeResponse(w, 9, res))).toBe(Buffer.from(response).toString("hex"))
  })

  it("Fetch v13 request", () => {
    const bytes = hex(`
      ffffffff           # replica_id -1
      000001f4           # max_wait_ms 500
      00000001           # min_bytes 1
      03200000           # max_bytes 52428800
      00                 # isolation_level 0
      00000000           # session_id 0
      ffffffff           # session_epoch -1
      02                 # topics: 1 entry
        000102030405060708090a0b0c0d0e0f   # topic_id
        02                                 # partitions: 1 entry
          00000000                         #   partition 0
          ffffffff                         #   current_leader_epoch -1
          0000000000000064                 #   fetch_offset 100
          ffffffff                         #   last_fetched_epoch -1
          ffffffffffffffff                 #   log_start_offset -1
          00100000                         #   partition_max_bytes 1048576
          00                               #   tagged
        00                                 # tagged
      01                 # forgotten_topics_data: empty
      01                 # rack_id: ""
      00                 # tagged
    `)
    const value = {
      replicaId: -1,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 52428800,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{
        topicId: TOPIC_ID,
        partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 100n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1048576 }]
      }],
      forgottenTopicsData: [],
      rackId: ""
    }
    expect(Fetch.decodeRequest(new Reader(bytes), 13)).toMatchObject(value)
    expect(encodeWith((w) => Fetch.encodeRequest(w, 13, value))).toBe(Buffer.from(bytes).toString("hex"))
  })

  it("rejects truncated input instead of reading past it", () => {
    const whole = hex(`00 ffff 00007530 02 04 666f6f 02 00000002 04 010203 00 00 00`)
    expect(Produce.decodeRequest(new Reader(whole), 9).topicData[0]!.partitionData[0]!.index).toBe(2)
    for (let cut = 0; cut < whole.length; cut++) {
      expect(() => Produce.decodeRequest(new Reader(whole.subarray(0, cut)), 9), `cut at ${cut}`).toThrow(/underflow|exceeds remaining/)
    }
    // An array length larger than what remains is refused before allocating.
    expect(() => Metadata.decodeRequest(new Reader(hex("7fffffff")), 4)).toThrow(/exceeds remaining/)
  })
})
