/**
 * The KIP-848 heartbeat state machine over the wire, with @platformatic/kafka's own
 * encoders and decoders for ConsumerGroupHeartbeat v0, ConsumerGroupDescribe v0,
 * OffsetCommit v9, OffsetFetch v9 and ListGroups v5, against a real server: member ids
 * made by the coordinator, epochs, revocation before reassignment, fencing errors with
 * Kafka's messages, leave, and the member epoch on offsets.
 */
import * as platformatic from "@platformatic/kafka"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ApiVersions,
  ConsumerGroupDescribe,
  ConsumerGroupHeartbeat,
  DescribeGroups,
  JoinGroup,
  ListGroups,
  OffsetCommit,
  OffsetFetch
} from "../../src/protocol/generated/apis.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { fakeTopicId, type GroupServer, platformaticCall, type RawConnection, startGroupServer } from "./wire-support.ts"

let server: GroupServer
let conn: RawConnection
beforeAll(async () => {
  server = await startGroupServer({ orders: 4 }, { initialRebalanceDelayMs: 0, consumerHeartbeatIntervalMs: 1500 })
  conn = await server.connect()
})
afterAll(async () => {
  conn.close()
  await server.stop()
})

/** platformatic prints uuids as hex with dashes. */
const ORDERS = (() => {
  const hex = Buffer.from(fakeTopicId(0), "base64url").toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
})()

interface HeartbeatAnswer {
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly memberId: string | null
  readonly memberEpoch: number
  readonly heartbeatIntervalMs: number
  readonly assignment: { readonly topicPartitions: ReadonlyArray<{ readonly topicId: string; readonly partitions: ReadonlyArray<number> }> } | null
}

/** platformatic throws on an error code; the decoded response rides on the error. */
const answerOf = async (call: Promise<unknown>): Promise<any> => {
  try {
    return await call
  } catch (e) {
    const response = (e as { response?: unknown }).response
    if (response === undefined) throw e
    return response
  }
}

const heartbeat = (memberId: string, memberEpoch: number, owned: ReadonlyArray<number> | null, extra: { instanceId?: string | null; topics?: Array<string> | null } = {}): Promise<HeartbeatAnswer> =>
  answerOf(platformaticCall(
    conn,
    ConsumerGroupHeartbeat,
    platformatic.consumerGroupHeartbeatV0,
    "wire-group",
    memberId,
    memberEpoch,
    extra.instanceId ?? null,
    null,
    60_000,
    extra.topics === undefined ? ["orders"] : extra.topics,
    null,
    null,
    owned === null ? null : [{ topicId: ORDERS, partitions: [...owned] }].filter((tp) => tp.partitions.length > 0 || memberEpoch !== 0)
  ))

const partitionsOf = (answer: HeartbeatAnswer) => answer.assignment?.topicPartitions.flatMap((tp) => tp.partitions) ?? null

describe("KIP-848 over the wire with @platformatic/kafka's codecs", () => {
  it("is advertised: ConsumerGroupHeartbeat and ConsumerGroupDescribe v0", async () => {
    const versions = await conn.call(ApiVersions, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" })
    const byKey = new Map(versions.apiKeys.map((k: { apiKey: number; minVersion: number; maxVersion: number }) => [k.apiKey, k]))
    expect(byKey.get(68)).toMatchObject({ minVersion: 0, maxVersion: 0 })
    expect(byKey.get(69)).toMatchObject({ minVersion: 0, maxVersion: 0 })
  })

  it("join, split with revocation first, describe, fencing errors, commit with the epoch, leave", async () => {
    const a1 = await heartbeat("", 0, [])
    expect(a1).toMatchObject({ errorCode: 0, memberEpoch: 1, heartbeatIntervalMs: 1500 })
    expect(a1.memberId).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(a1.assignment?.topicPartitions).toEqual([{ topicId: ORDERS, partitions: [0, 1, 2, 3] }])
    const a = a1.memberId!

    const b1 = await heartbeat("", 0, [])
    const b = b1.memberId!
    expect(b1).toMatchObject({ errorCode: 0, memberEpoch: 2 })
    expect(partitionsOf(b1)).toEqual([])

    const a2 = await heartbeat(a, 1, [0, 1, 2, 3])
    expect(a2.memberEpoch).toBe(1)
    expect(partitionsOf(a2)).toEqual([0, 1])
    expect(partitionsOf(await heartbeat(b, 2, []))).toEqual([])
    expect((await heartbeat(a, 1, [0, 1])).memberEpoch).toBe(2)
    expect(partitionsOf(await heartbeat(b, 2, []))).toEqual([2, 3])

    const described = await answerOf(platformaticCall(conn, ConsumerGroupDescribe, platformatic.consumerGroupDescribeV0, ["wire-group", "no-such-group"], true))
    expect(described.groups[0]).toMatchObject({ errorCode: 0, groupId: "wire-group", groupState: "Stable", groupEpoch: 2, assignmentEpoch: 2, assignorName: "uniform" })
    expect(described.groups[0].members.map((m: any) => [m.memberId, m.memberEpoch, m.assignment.topicPartitions[0].topicName, m.assignment.topicPartitions[0].partitions])).toEqual([
      [a, 2, "orders", [0, 1]],
      [b, 2, "orders", [2, 3]]
    ])
    expect(described.groups[1]).toMatchObject({ groupId: "no-such-group", errorCode: ErrorCode.GROUP_ID_NOT_FOUND })

    const fenced = await heartbeat(a, 7, [0, 1])
    expect(fenced).toMatchObject({ errorCode: ErrorCode.FENCED_MEMBER_EPOCH, memberId: null, memberEpoch: 0, assignment: null })
    expect(fenced.errorMessage).toContain("greater member epoch (7)")
    expect((await heartbeat("nobody", 2, [])).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    expect((await heartbeat("", 0, [], { topics: [] })).errorCode).toBe(ErrorCode.INVALID_REQUEST)

    // OffsetCommit v9 and OffsetFetch v9 carry the member epoch.
    const commit = (epoch: number) =>
      answerOf(platformaticCall(conn, OffsetCommit, platformatic.offsetCommitV9, "wire-group", epoch, a, null, [
        { name: "orders", partitions: [{ partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: -1, committedMetadata: null }] }
      ]))
    expect((await commit(1)).topics[0].partitions[0].errorCode).toBe(ErrorCode.STALE_MEMBER_EPOCH)
    expect((await commit(2)).topics[0].partitions[0].errorCode).toBe(0)
    const fetch = (epoch: number) =>
      answerOf(platformaticCall(conn, OffsetFetch, platformatic.offsetFetchV9, [{ groupId: "wire-group", memberId: a, memberEpoch: epoch, topics: [{ name: "orders", partitionIndexes: [0] }] }], false))
    expect((await fetch(2)).groups[0].topics[0].partitions[0]).toMatchObject({ partitionIndex: 0, committedOffset: 42n })
    expect((await fetch(1)).groups[0].errorCode).toBe(ErrorCode.STALE_MEMBER_EPOCH)

    // ListGroups v5 shows it as a consumer group; DescribeGroups (classic) v5 does not know it, as Kafka.
    const listed = await answerOf(platformaticCall(conn, ListGroups, platformatic.listGroupsV5, [], ["consumer"]))
    expect(listed.groups).toEqual([{ groupId: "wire-group", protocolType: "consumer", groupState: "Stable", groupType: "consumer" }])
    const classic = await conn.call(DescribeGroups, 5, { groups: ["wire-group"], includeAuthorizedOperations: false })
    expect(classic.groups[0]).toMatchObject({ errorCode: 0, groupState: "Dead", members: [] })
    // A classic member cannot join it.
    const join = await conn.call(JoinGroup, 9, {
      groupId: "wire-group",
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 60_000,
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: new Uint8Array(0) }],
      reason: null
    })
    expect(join.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)

    // a leaves; b is given everything at the next epoch.
    expect(await heartbeat(a, -1, [])).toMatchObject({ errorCode: 0, memberId: a, memberEpoch: -1 })
    const b3 = await heartbeat(b, 2, [2, 3])
    expect(b3.memberEpoch).toBe(3)
    expect(partitionsOf(b3)).toEqual([0, 1, 2, 3])
  })
})
