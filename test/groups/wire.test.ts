/**
 * The group APIs through a real server, with raw requests. The client-facing tests encode
 * requests and parse responses with the clients' own protocol code: KafkaJS 2.x (the
 * versions it picks against this broker: FindCoordinator v2, JoinGroup v5, SyncGroup v3,
 * Heartbeat v3, LeaveGroup v3, OffsetCommit v5, OffsetFetch v4, ListGroups v2,
 * DescribeGroups v2) and @platformatic/kafka (the highest versions we advertise). The
 * coordinator runs with no initial rebalance delay, so no test waits on time.
 */
import * as platformatic from "@platformatic/kafka"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  DeleteGroups,
  DescribeGroups,
  FindCoordinator,
  Heartbeat,
  JoinGroup,
  LeaveGroup,
  ListGroups,
  OffsetCommit,
  OffsetDelete,
  OffsetFetch,
  SyncGroup,
  TxnOffsetCommit
} from "../../src/protocol/generated/apis.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { GROUP_AUTHORIZED_OPERATIONS } from "../../src/handlers/DescribeGroups.ts"
import { type GroupServer, kafkajsCall, NODE_ID, platformaticCall, type RawConnection, startGroupServer } from "./wire-support.ts"

let server: GroupServer
beforeAll(async () => {
  server = await startGroupServer({ orders: 3, events: 1 })
})
afterAll(() => server.stop())

const subscription = (topic: string) => Buffer.from(`subscription:${topic}`)

/** KafkaJS's error for a response code, as its parse throws it. */
const kafkajsError = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected KafkaJS to throw")
    },
    (e: { type?: string; memberId?: string; name?: string }) => e
  )

describe("group APIs with KafkaJS's encodings", () => {
  it("find coordinator, join (MEMBER_ID_REQUIRED first), sync, heartbeat, commit, fetch, list, describe, leave", async () => {
    const a = await server.connect()
    const b = await server.connect()
    try {
      const coordinator = await kafkajsCall(a, FindCoordinator, "GroupCoordinator", 2, { groupId: "kjs", coordinatorType: 0 })
      expect(coordinator).toMatchObject({ errorCode: 0, coordinator: { nodeId: NODE_ID, host: "127.0.0.1", port: server.port } })

      const joinArgs = (memberId: string, topic = "orders") => ({
        groupId: "kjs",
        sessionTimeout: 30_000,
        rebalanceTimeout: 60_000,
        memberId,
        protocolType: "consumer",
        groupProtocols: [{ name: "RoundRobinAssigner", metadata: subscription(topic) }]
      })
      const required = await kafkajsError(kafkajsCall(a, JoinGroup, "JoinGroup", 5, joinArgs("")))
      expect(required.name).toBe("KafkaJSMemberIdRequired")
      const memberA = required.memberId!
      expect(memberA).toMatch(/^kafkajs-[0-9a-f-]{36}$/)

      const joined = await kafkajsCall(a, JoinGroup, "JoinGroup", 5, joinArgs(memberA))
      expect(joined).toMatchObject({ errorCode: 0, generationId: 1, groupProtocol: "RoundRobinAssigner", leaderId: memberA, memberId: memberA })
      expect(joined.members).toEqual([{ memberId: memberA, groupInstanceId: null, memberMetadata: subscription("orders") }])

      const synced = await kafkajsCall(a, SyncGroup, "SyncGroup", 3, {
        groupId: "kjs",
        generationId: 1,
        memberId: memberA,
        groupAssignment: [{ memberId: memberA, memberAssignment: Buffer.from("all of orders") }]
      })
      expect(synced).toMatchObject({ errorCode: 0, memberAssignment: Buffer.from("all of orders") })
      expect(await kafkajsCall(a, Heartbeat, "Heartbeat", 3, { groupId: "kjs", groupGenerationId: 1, memberId: memberA })).toMatchObject({ errorCode: 0 })

      const commit = await kafkajsCall(a, OffsetCommit, "OffsetCommit", 5, {
        groupId: "kjs",
        groupGenerationId: 1,
        memberId: memberA,
        topics: [{ topic: "orders", partitions: [{ partition: 0, offset: "42" }, { partition: 2, offset: "7", metadata: "note" }] }]
      })
      expect(commit.responses).toEqual([{ topic: "orders", partitions: [{ partition: 0, errorCode: 0 }, { partition: 2, errorCode: 0 }] }])
      const unknownTopic = await kafkajsError(kafkajsCall(a, OffsetCommit, "OffsetCommit", 5, {
        groupId: "kjs",
        groupGenerationId: 1,
        memberId: memberA,
        topics: [{ topic: "nope", partitions: [{ partition: 0, offset: "1" }] }]
      }))
      expect(unknownTopic.type).toBe("UNKNOWN_TOPIC_OR_PARTITION")

      const fetched = await kafkajsCall(a, OffsetFetch, "OffsetFetch", 4, { groupId: "kjs", topics: [{ topic: "orders", partitions: [{ partition: 0 }, { partition: 1 }, { partition: 2 }] }] })
      expect(fetched).toMatchObject({ errorCode: 0 })
      expect(fetched.responses).toEqual([{
        topic: "orders",
        partitions: [
          { partition: 0, offset: "42", metadata: "", errorCode: 0 },
          { partition: 1, offset: "-1", metadata: "", errorCode: 0 },
          { partition: 2, offset: "7", metadata: "note", errorCode: 0 }
        ]
      }])

      // A second consumer: its join waits until the first rejoins, which it learns by heartbeat.
      const requiredB = await kafkajsError(kafkajsCall(b, JoinGroup, "JoinGroup", 5, joinArgs("", "events")))
      const memberB = requiredB.memberId!
      const joinB = kafkajsCall(b, JoinGroup, "JoinGroup", 5, joinArgs(memberB, "events"))
      let rebalancing: { type?: string } | undefined
      // The join of b is in flight on its own connection; a's heartbeat tells it to rejoin.
      for (let attempt = 0; attempt < 10_000 && rebalancing === undefined; attempt++) {
        rebalancing = await kafkajsCall(a, Heartbeat, "Heartbeat", 3, { groupId: "kjs", groupGenerationId: 1, memberId: memberA }).then(
          () => undefined,
          (e: { type?: string }) => e
        )
      }
      expect(rebalancing?.type).toBe("REBALANCE_IN_PROGRESS")
      const rejoinA = await kafkajsCall(a, JoinGroup, "JoinGroup", 5, joinArgs(memberA))
      const joinedB = await joinB
      expect(rejoinA).toMatchObject({ generationId: 2, leaderId: memberA })
      expect(rejoinA.members.map((m: { memberId: string }) => m.memberId)).toEqual([memberA, memberB])
      expect(rejoinA.members[1].memberMetadata).toEqual(subscription("events"))
      expect(joinedB).toMatchObject({ generationId: 2, leaderId: memberA, memberId: memberB, members: [] })

      const syncB = kafkajsCall(b, SyncGroup, "SyncGroup", 3, { groupId: "kjs", generationId: 2, memberId: memberB, groupAssignment: [] })
      await kafkajsCall(a, SyncGroup, "SyncGroup", 3, {
        groupId: "kjs",
        generationId: 2,
        memberId: memberA,
        groupAssignment: [{ memberId: memberA, memberAssignment: Buffer.from("a") }, { memberId: memberB, memberAssignment: Buffer.from("b") }]
      })
      expect((await syncB).memberAssignment).toEqual(Buffer.from("b"))

      const stale = await kafkajsError(kafkajsCall(a, Heartbeat, "Heartbeat", 3, { groupId: "kjs", groupGenerationId: 1, memberId: memberA }))
      expect(stale.type).toBe("ILLEGAL_GENERATION")

      const listed = await kafkajsCall(a, ListGroups, "ListGroups", 2, {})
      expect(listed.groups).toContainEqual({ groupId: "kjs", protocolType: "consumer" })
      const described = await kafkajsCall(a, DescribeGroups, "DescribeGroups", 2, { groupIds: ["kjs", "unknown"] })
      expect(described.groups[0]).toMatchObject({ errorCode: 0, groupId: "kjs", state: "Stable", protocolType: "consumer", protocol: "RoundRobinAssigner" })
      expect(described.groups[0].members).toEqual([
        { memberId: memberA, clientId: "kafkajs", clientHost: "/127.0.0.1", memberMetadata: subscription("orders"), memberAssignment: Buffer.from("a") },
        { memberId: memberB, clientId: "kafkajs", clientHost: "/127.0.0.1", memberMetadata: subscription("events"), memberAssignment: Buffer.from("b") }
      ])
      expect(described.groups[1]).toMatchObject({ errorCode: 0, groupId: "unknown", state: "Dead", members: [] })

      const left = await kafkajsCall(b, LeaveGroup, "LeaveGroup", 3, { groupId: "kjs", memberId: memberB })
      expect(left.members).toEqual([{ memberId: memberB, groupInstanceId: null, errorCode: 0 }])
      const leftAgain = await kafkajsError(kafkajsCall(b, LeaveGroup, "LeaveGroup", 3, { groupId: "kjs", memberId: memberB }))
      expect(leftAgain.type).toBe("UNKNOWN_MEMBER_ID")
      await kafkajsCall(a, LeaveGroup, "LeaveGroup", 3, { groupId: "kjs", memberId: memberA })
    } finally {
      a.close()
      b.close()
    }
  })
})

describe("group APIs with @platformatic/kafka's encodings (highest versions)", () => {
  it("find coordinator v6, join v9, sync v5, heartbeat v4, commit v9, fetch v9, list v5, describe v5, leave v5", async () => {
    const conn = await server.connect()
    try {
      const found = await platformaticCall(conn, FindCoordinator, platformatic.findCoordinatorV6, 0, ["plt", "other"])
      expect(found.coordinators).toEqual([
        { key: "plt", nodeId: NODE_ID, host: "127.0.0.1", port: server.port, errorCode: 0, errorMessage: null },
        { key: "other", nodeId: NODE_ID, host: "127.0.0.1", port: server.port, errorCode: 0, errorMessage: null }
      ])
      const txn = await platformaticCall(conn, FindCoordinator, platformatic.findCoordinatorV6, 1, ["my-transactional-id"])
      expect(txn.coordinators[0]).toMatchObject({ nodeId: NODE_ID, errorCode: 0 })

      const protocols = [{ name: "roundrobin", metadata: subscription("orders") }]
      const join = (memberId: string) =>
        platformaticCall(conn, JoinGroup, platformatic.joinGroupV9, "plt", 30_000, 60_000, memberId, null, "consumer", protocols, "")
      const required = await join("").then(() => undefined, (e: { response?: { memberId: string; errorCode: number } }) => e.response)
      expect(required?.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED)
      const memberId = required!.memberId
      expect(memberId).toMatch(/^platformatic-/)

      const joined = await join(memberId)
      expect(joined).toEqual({
        throttleTimeMs: 0,
        errorCode: 0,
        generationId: 1,
        protocolType: "consumer",
        protocolName: "roundrobin",
        leader: memberId,
        skipAssignment: false,
        memberId,
        members: [{ memberId, groupInstanceId: null, metadata: subscription("orders") }]
      })

      const synced = await platformaticCall(conn, SyncGroup, platformatic.syncGroupV5, "plt", 1, memberId, null, "consumer", "roundrobin", [{
        memberId,
        assignment: Buffer.from("mine")
      }])
      expect(synced).toEqual({ throttleTimeMs: 0, errorCode: 0, protocolType: "consumer", protocolName: "roundrobin", assignment: Buffer.from("mine") })
      expect(await platformaticCall(conn, Heartbeat, platformatic.heartbeatV4, "plt", 1, memberId, null)).toEqual({ throttleTimeMs: 0, errorCode: 0 })

      const committed = await platformaticCall(conn, OffsetCommit, platformatic.offsetCommitV9, "plt", 1, memberId, null, [
        { name: "orders", partitions: [{ partitionIndex: 1, committedOffset: 100n, committedLeaderEpoch: 4, committedMetadata: null }] }
      ])
      expect(committed).toEqual({ throttleTimeMs: 0, topics: [{ name: "orders", partitions: [{ partitionIndex: 1, errorCode: 0 }] }] })

      // OffsetFetch v8+: several groups at once, one of them unknown.
      const fetched = await platformaticCall(conn, OffsetFetch, platformatic.offsetFetchV9, [
        { groupId: "plt", memberId, memberEpoch: -1, topics: [{ name: "orders", partitionIndexes: [0, 1] }] },
        { groupId: "nobody", memberId: null, memberEpoch: -1, topics: [{ name: "orders", partitionIndexes: [0] }] }
      ], false)
      expect(fetched).toEqual({
        throttleTimeMs: 0,
        groups: [
          {
            groupId: "plt",
            errorCode: 0,
            topics: [{
              name: "orders",
              partitions: [
                { partitionIndex: 0, committedOffset: -1n, committedLeaderEpoch: -1, metadata: "", errorCode: 0 },
                { partitionIndex: 1, committedOffset: 100n, committedLeaderEpoch: 4, metadata: "", errorCode: 0 }
              ]
            }]
          },
          {
            groupId: "nobody",
            errorCode: 0,
            topics: [{ name: "orders", partitions: [{ partitionIndex: 0, committedOffset: -1n, committedLeaderEpoch: -1, metadata: "", errorCode: 0 }] }]
          }
        ]
      })

      const listed = await platformaticCall(conn, ListGroups, platformatic.listGroupsV5, ["Stable"], ["classic"])
      expect(listed.groups).toContainEqual({ groupId: "plt", protocolType: "consumer", groupState: "Stable", groupType: "classic" })
      const empty = await platformaticCall(conn, ListGroups, platformatic.listGroupsV5, ["PreparingRebalance"], [])
      expect(empty.groups.map((g: { groupId: string }) => g.groupId)).not.toContain("plt")

      const described = await platformaticCall(conn, DescribeGroups, platformatic.describeGroupsV5, ["plt"], true)
      expect(described.groups).toEqual([{
        errorCode: 0,
        groupId: "plt",
        groupState: "Stable",
        protocolType: "consumer",
        protocolData: "roundrobin",
        members: [{
          memberId,
          groupInstanceId: null,
          clientId: "platformatic",
          clientHost: "/127.0.0.1",
          memberMetadata: subscription("orders"),
          memberAssignment: Buffer.from("mine")
        }],
        authorizedOperations: GROUP_AUTHORIZED_OPERATIONS
      }])

      const left = await platformaticCall(conn, LeaveGroup, platformatic.leaveGroupV5, "plt", [{ memberId, groupInstanceId: null, reason: "closing" }])
      expect(left).toEqual({ throttleTimeMs: 0, errorCode: 0, members: [{ memberId, groupInstanceId: null, errorCode: 0 }] })
      // The group had offsets committed: it is still there, Empty.
      const after = await platformaticCall(conn, ListGroups, platformatic.listGroupsV5, ["empty"], [])
      expect(after.groups).toContainEqual({ groupId: "plt", protocolType: "consumer", groupState: "Empty", groupType: "classic" })
    } finally {
      conn.close()
    }
  })
})

describe("every served version encodes and decodes", () => {
  const range = (min: number, max: number) => Array.from({ length: max - min + 1 }, (_, i) => min + i)

  it.each(range(0, 6))("FindCoordinator v%i answers this broker; unknown key types get INVALID_REQUEST", async (v) => {
    const conn = await server.connect()
    try {
      if (v >= 4) {
        const ok = await conn.call(FindCoordinator, v, { keyType: 0, coordinatorKeys: ["g1", "g2"] })
        expect(ok.coordinators.map((c: { key: string; nodeId: number; port: number; errorCode: number }) => [c.key, c.nodeId, c.port, c.errorCode]))
          .toEqual([["g1", NODE_ID, server.port, 0], ["g2", NODE_ID, server.port, 0]])
        const bad = await conn.call(FindCoordinator, v, { keyType: 2, coordinatorKeys: ["s"] })
        expect(bad.coordinators[0]).toMatchObject({ key: "s", nodeId: -1, errorCode: ErrorCode.INVALID_REQUEST })
      } else {
        const ok = await conn.call(FindCoordinator, v, { key: "g1", keyType: v >= 1 ? 1 : 0 })
        expect(ok).toMatchObject({ errorCode: 0, nodeId: NODE_ID, host: "127.0.0.1", port: server.port })
        if (v >= 1) {
          const bad = await conn.call(FindCoordinator, v, { key: "s", keyType: 2 })
          expect(bad).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, nodeId: -1, host: "", port: -1 })
        }
      }
    } finally {
      conn.close()
    }
  })

  it.each(range(0, 9))("JoinGroup v%i, then SyncGroup, Heartbeat, OffsetCommit, OffsetFetch, DescribeGroups, LeaveGroup", async (v) => {
    const conn = await server.connect()
    const group = `versions-${v}`
    const sync = Math.min(v, 5)
    const heartbeat = Math.min(v, 4)
    const leave = Math.min(v, 5)
    const commit = v
    const describe = Math.min(v, 5)
    try {
      const joinBody = (memberId: string) => ({
        groupId: group,
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 20_000,
        memberId,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: new Uint8Array([v]) }],
        ...(v >= 8 ? { reason: "test" } : {})
      })
      let memberId = ""
      if (v >= 4) {
        const required = await conn.call(JoinGroup, v, joinBody(""))
        expect(required).toMatchObject({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, generationId: -1, leader: "", members: [] })
        expect(required.protocolName).toBe(v >= 7 ? null : "")
        memberId = required.memberId
      }
      const joined = await conn.call(JoinGroup, v, joinBody(memberId))
      memberId = joined.memberId
      expect(joined).toMatchObject({ errorCode: 0, generationId: 1, protocolName: "range", leader: memberId, skipAssignment: false })
      expect(joined.protocolType).toBe(v >= 7 ? "consumer" : null)
      expect(joined.members).toEqual([{ memberId, groupInstanceId: null, metadata: new Uint8Array([v]) }])

      const synced = await conn.call(SyncGroup, sync, {
        groupId: group,
        generationId: 1,
        memberId,
        ...(sync >= 5 ? { protocolType: "consumer", protocolName: "range" } : {}),
        assignments: [{ memberId, assignment: new Uint8Array([1, 2, 3]) }]
      })
      expect(synced).toMatchObject({ errorCode: 0, assignment: new Uint8Array([1, 2, 3]) })
      expect(synced.protocolName).toBe(sync >= 5 ? "range" : null)

      expect((await conn.call(Heartbeat, heartbeat, { groupId: group, generationId: 1, memberId })).errorCode).toBe(0)
      expect((await conn.call(Heartbeat, heartbeat, { groupId: group, generationId: 2, memberId })).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)

      // v0 commits carry no generation: refused while the group has members.
      const committed = await conn.call(OffsetCommit, commit, {
        groupId: group,
        ...(commit >= 1 ? { generationIdOrMemberEpoch: 1, memberId } : {}),
        topics: [{ name: "orders", partitions: [{ partitionIndex: 0, committedOffset: 5n, committedMetadata: `v${v}` }] }]
      })
      expect(committed.topics[0].partitions[0].errorCode).toBe(commit >= 1 ? 0 : ErrorCode.UNKNOWN_MEMBER_ID)

      const fetchBody = v >= 8
        ? { groups: [{ groupId: group, topics: [{ name: "orders", partitionIndexes: [0] }] }] }
        : { groupId: group, topics: [{ name: "orders", partitionIndexes: [0] }] }
      const fetched = await conn.call(OffsetFetch, v, fetchBody)
      const partitions = v >= 8 ? fetched.groups[0].topics[0].partitions : fetched.topics[0].partitions
      expect(partitions[0]).toMatchObject(commit >= 1 ? { committedOffset: 5n, metadata: `v${v}`, errorCode: 0 } : { committedOffset: -1n, errorCode: 0 })
      if (v >= 2) {
        // topics null: everything the group committed.
        const all = await conn.call(OffsetFetch, v, v >= 8 ? { groups: [{ groupId: group, topics: null }] } : { groupId: group, topics: null })
        const topics = v >= 8 ? all.groups[0].topics : all.topics
        expect(topics.map((t: { name: string }) => t.name)).toEqual(commit >= 1 ? ["orders"] : [])
      }

      const described = await conn.call(DescribeGroups, describe, { groups: [group] })
      expect(described.groups[0]).toMatchObject({ errorCode: 0, groupState: "Stable", protocolType: "consumer", protocolData: "range" })
      expect(described.groups[0].members[0]).toMatchObject({ memberId, clientId: "group-test", clientHost: "/127.0.0.1", memberAssignment: new Uint8Array([1, 2, 3]) })

      const leaveBody = leave >= 3 ? { groupId: group, members: [{ memberId }, { memberId: "ghost" }] } : { groupId: group, memberId }
      const left = await conn.call(LeaveGroup, leave, leaveBody)
      if (leave >= 3) {
        expect(left.errorCode).toBe(0)
        expect(left.members.map((m: { memberId: string; errorCode: number }) => [m.memberId, m.errorCode])).toEqual([[memberId, 0], ["ghost", ErrorCode.UNKNOWN_MEMBER_ID]])
      } else {
        expect(left.errorCode).toBe(0)
        const again = await conn.call(LeaveGroup, leave, leaveBody)
        expect(again.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
      }
    } finally {
      conn.close()
    }
  })

  it.each(range(0, 9))("OffsetCommit/OffsetFetch v%i outside group management (generation -1)", async (v) => {
    const conn = await server.connect()
    const group = `simple-${v}`
    try {
      const committed = await conn.call(OffsetCommit, v, {
        groupId: group,
        ...(v >= 1 ? { generationIdOrMemberEpoch: -1, memberId: "" } : {}),
        topics: [
          { name: "orders", partitions: [{ partitionIndex: 2, committedOffset: 9n, ...(v >= 6 ? { committedLeaderEpoch: 3 } : {}), committedMetadata: null }, { partitionIndex: 3, committedOffset: 1n }] },
          { name: "missing", partitions: [{ partitionIndex: 0, committedOffset: 1n }] }
        ]
      })
      expect(committed.topics.map((t: { name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]))
        .toEqual([["orders", [[2, 0], [3, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]], ["missing", [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]])
      const fetchBody = v >= 8
        ? { groups: [{ groupId: group, topics: [{ name: "orders", partitionIndexes: [2] }] }] }
        : { groupId: group, topics: [{ name: "orders", partitionIndexes: [2] }] }
      const fetched = await conn.call(OffsetFetch, v, fetchBody)
      const partition = (v >= 8 ? fetched.groups[0].topics[0] : fetched.topics[0]).partitions[0]
      expect(partition).toMatchObject({ partitionIndex: 2, committedOffset: 9n, metadata: "", errorCode: 0 })
      expect(partition.committedLeaderEpoch).toBe(v >= 6 ? 3 : -1)
    } finally {
      conn.close()
    }
  })

  it("OffsetFetch v8 answers several groups in one request, each with its own offsets", async () => {
    const conn = await server.connect()
    try {
      for (const [group, offset] of [["multi-a", 11n], ["multi-b", 22n]] as const) {
        await conn.call(OffsetCommit, 8, {
          groupId: group,
          generationIdOrMemberEpoch: -1,
          memberId: "",
          topics: [{ name: "orders", partitions: [{ partitionIndex: 1, committedOffset: offset, committedLeaderEpoch: 2, committedMetadata: group }] }]
        })
      }
      const fetched = await conn.call(OffsetFetch, 8, {
        groups: [
          { groupId: "multi-a", topics: [{ name: "orders", partitionIndexes: [0, 1] }] },
          { groupId: "multi-b", topics: null },
          { groupId: "multi-none", topics: null }
        ],
        requireStable: true
      })
      expect(fetched.groups).toEqual([
        {
          groupId: "multi-a",
          errorCode: 0,
          topics: [{
            name: "orders",
            partitions: [
              { partitionIndex: 0, committedOffset: -1n, committedLeaderEpoch: -1, metadata: "", errorCode: 0 },
              { partitionIndex: 1, committedOffset: 11n, committedLeaderEpoch: 2, metadata: "multi-a", errorCode: 0 }
            ]
          }]
        },
        {
          groupId: "multi-b",
          errorCode: 0,
          topics: [{ name: "orders", partitions: [{ partitionIndex: 1, committedOffset: 22n, committedLeaderEpoch: 2, metadata: "multi-b", errorCode: 0 }] }]
        },
        { groupId: "multi-none", errorCode: 0, topics: [] }
      ])
    } finally {
      conn.close()
    }
  })

  it.each(range(0, 5))("ListGroups and DescribeGroups v%i", async (v) => {
    const conn = await server.connect()
    try {
      await conn.call(OffsetCommit, 2, { groupId: `listed-${v}`, generationIdOrMemberEpoch: -1, memberId: "", topics: [{ name: "events", partitions: [{ partitionIndex: 0, committedOffset: 1n }] }] })
      const listed = await conn.call(ListGroups, v, v >= 4 ? { statesFilter: ["Empty"], ...(v >= 5 ? { typesFilter: ["classic"] } : {}) } : {})
      expect(listed.errorCode).toBe(0)
      const entry = listed.groups.find((g: { groupId: string }) => g.groupId === `listed-${v}`)
      expect(entry).toMatchObject({ protocolType: "", groupState: v >= 4 ? "Empty" : "", groupType: v >= 5 ? "classic" : "" })
      const described = await conn.call(DescribeGroups, v, { groups: [`listed-${v}`, "never-seen"], ...(v >= 3 ? { includeAuthorizedOperations: true } : {}) })
      expect(described.groups.map((g: { groupId: string; groupState: string; errorCode: number }) => [g.groupId, g.groupState, g.errorCode]))
        .toEqual([[`listed-${v}`, "Empty", 0], ["never-seen", "Dead", 0]])
      expect(described.groups[0].authorizedOperations).toBe(v >= 3 ? GROUP_AUTHORIZED_OPERATIONS : -2147483648)
    } finally {
      conn.close()
    }
  })

  it.each(range(0, 4))("TxnOffsetCommit v%i: pending offsets are invisible, UNSTABLE_OFFSET_COMMIT under require_stable", async (v) => {
    const conn = await server.connect()
    const group = `txn-${v}`
    try {
      await conn.call(OffsetCommit, 8, { groupId: group, generationIdOrMemberEpoch: -1, memberId: "", topics: [{ name: "orders", partitions: [{ partitionIndex: 0, committedOffset: 4n }] }] })
      const committed = await conn.call(TxnOffsetCommit, v, {
        transactionalId: "tx",
        groupId: group,
        producerId: 1000n + BigInt(v),
        producerEpoch: 0,
        ...(v >= 3 ? { generationId: -1, memberId: "", groupInstanceId: null } : {}),
        topics: [
          { name: "orders", partitions: [{ partitionIndex: 0, committedOffset: 40n, ...(v >= 2 ? { committedLeaderEpoch: 1 } : {}), committedMetadata: "t" }] },
          { name: "missing", partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }] }
        ]
      })
      expect(committed.topics.map((t: { name: string; partitions: Array<{ errorCode: number }> }) => [t.name, t.partitions.map((p) => p.errorCode)]))
        .toEqual([["orders", [0]], ["missing", [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]])
      const fetch = (requireStable: boolean) =>
        conn.call(OffsetFetch, 7, { groupId: group, topics: [{ name: "orders", partitionIndexes: [0] }], requireStable })
      expect((await fetch(false)).topics[0].partitions[0]).toMatchObject({ committedOffset: 4n, errorCode: 0 })
      expect((await fetch(true)).topics[0].partitions[0]).toMatchObject({ committedOffset: -1n, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT })
      if (v >= 3) {
        const stale = await conn.call(TxnOffsetCommit, v, {
          transactionalId: "tx", groupId: "txn-no-group", producerId: 1n, producerEpoch: 0, generationId: 3, memberId: "m", groupInstanceId: null,
          topics: [{ name: "orders", partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }] }]
        })
        expect(stale.topics[0].partitions[0].errorCode).toBe(ErrorCode.ILLEGAL_GENERATION)
      }
    } finally {
      conn.close()
    }
  })

  it.each(range(0, 2))("DeleteGroups v%i: deleted, GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP", async (v) => {
    const conn = await server.connect()
    try {
      await conn.call(OffsetCommit, 8, { groupId: `del-${v}`, generationIdOrMemberEpoch: -1, memberId: "", topics: [{ name: "orders", partitions: [{ partitionIndex: 0, committedOffset: 4n }] }] })
      const joined = await conn.call(JoinGroup, 3, {
        groupId: `busy-${v}`, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: "", protocolType: "consumer", protocols: [{ name: "range", metadata: new Uint8Array([0]) }]
      })
      expect(joined.errorCode).toBe(0)
      const deleted = await conn.call(DeleteGroups, v, { groupsNames: [`del-${v}`, `del-${v}`, "never", `busy-${v}`] })
      expect(deleted.results.map((r: { groupId: string; errorCode: number }) => [r.groupId, r.errorCode])).toEqual([
        [`del-${v}`, 0],
        [`del-${v}`, ErrorCode.GROUP_ID_NOT_FOUND],
        ["never", ErrorCode.GROUP_ID_NOT_FOUND],
        [`busy-${v}`, ErrorCode.NON_EMPTY_GROUP]
      ])
      const fetched = await conn.call(OffsetFetch, 5, { groupId: `del-${v}`, topics: null })
      expect(fetched.topics).toEqual([])
      await conn.call(LeaveGroup, 3, { groupId: `busy-${v}`, members: [{ memberId: joined.memberId }] })
    } finally {
      conn.close()
    }
  })

  it("OffsetDelete v0: offsets go per partition; unknown partitions, unknown groups and groups with members are refused", async () => {
    const conn = await server.connect()
    try {
      await conn.call(OffsetCommit, 8, {
        groupId: "offdel", generationIdOrMemberEpoch: -1, memberId: "",
        topics: [{ name: "orders", partitions: [{ partitionIndex: 0, committedOffset: 4n }, { partitionIndex: 1, committedOffset: 5n }] }]
      })
      const deleted = await conn.call(OffsetDelete, 0, { groupId: "offdel", topics: [{ name: "orders", partitions: [{ partitionIndex: 0 }, { partitionIndex: 9 }] }] })
      expect(deleted.errorCode).toBe(0)
      expect(deleted.topics[0].partitions.map((p: { partitionIndex: number; errorCode: number }) => [p.partitionIndex, p.errorCode]))
        .toEqual([[0, 0], [9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]])
      const left = await conn.call(OffsetFetch, 5, { groupId: "offdel", topics: null })
      expect(left.topics[0].partitions.map((p: { partitionIndex: number }) => p.partitionIndex)).toEqual([1])
      expect((await conn.call(OffsetDelete, 0, { groupId: "offdel-none", topics: [{ name: "orders", partitions: [{ partitionIndex: 0 }] }] })).errorCode)
        .toBe(ErrorCode.GROUP_ID_NOT_FOUND)
      // A group of another protocol type with members: NON_EMPTY_GROUP (only consumer groups are checked per topic).
      const joined = await conn.call(JoinGroup, 3, {
        groupId: "offdel-connect", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: "", protocolType: "connect", protocols: [{ name: "default", metadata: new Uint8Array([0]) }]
      })
      expect((await conn.call(OffsetDelete, 0, { groupId: "offdel-connect", topics: [{ name: "orders", partitions: [{ partitionIndex: 0 }] }] })).errorCode)
        .toBe(ErrorCode.NON_EMPTY_GROUP)
      await conn.call(LeaveGroup, 3, { groupId: "offdel-connect", members: [{ memberId: joined.memberId }] })
    } finally {
      conn.close()
    }
  })
})
