import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { MetaPropertiesError } from "../../src/metadata/errors.ts"
import {
  ensureMetaProperties,
  formatMetaProperties,
  isReservedDirectoryId,
  parseMetaProperties,
  readMetaProperties
} from "../../src/metadata/meta-properties.ts"
import {
  parseSnapshotFileName,
  readLeaderEpochCheckpoint,
  readQuorumState,
  snapshotFileName
} from "../../src/metadata/quorum-files.ts"
import { removeTempDirs, tempDir } from "./helpers.ts"

afterAll(removeTempDirs)

const CLUSTER = "MkU3OEVBNTcwNTJENDM2Qk"
const DIR_ID = "PyHojDTSTnFipupEoEdo7w"

describe("meta.properties", () => {
  it("parses the v1 file Kafka 3.7+ writes, whatever the key order", () => {
    const p = parseMetaProperties(`#\n#Tue Mar 05 10:00:00 UTC 2024\nnode.id=1\ndirectory.id=${DIR_ID}\nversion=1\ncluster.id=${CLUSTER}\n`)
    expect(p).toMatchObject({ version: 1, nodeId: 1, clusterId: CLUSTER, directoryId: DIR_ID })
  })

  it("formats like Properties.store: blank comment, date comment, then the keys", () => {
    const text = formatMetaProperties({ clusterId: CLUSTER, nodeId: 3, directoryId: DIR_ID }, new Date(Date.UTC(2024, 2, 5, 10, 0, 0)))
    expect(text).toBe(`#\n#Tue Mar 05 10:00:00 UTC 2024\ncluster.id=${CLUSTER}\ndirectory.id=${DIR_ID}\nnode.id=3\nversion=1\n`)
    expect(parseMetaProperties(text)).toMatchObject({ version: 1, nodeId: 3, clusterId: CLUSTER, directoryId: DIR_ID })
  })

  it("reads version 0 (ZooKeeper era) with broker.id", () => {
    expect(parseMetaProperties(`version=0\nbroker.id=4\ncluster.id=${CLUSTER}\n`)).toMatchObject({ version: 0, nodeId: 4, clusterId: CLUSTER, directoryId: null })
    expect(parseMetaProperties("version=0\n")).toMatchObject({ version: 0, nodeId: null, clusterId: null })
  })

  it("rejects files Kafka would reject", () => {
    expect(() => parseMetaProperties(`node.id=1\ncluster.id=${CLUSTER}\n`)).toThrow(MetaPropertiesError)
    expect(() => parseMetaProperties(`version=2\nnode.id=1\ncluster.id=${CLUSTER}\n`)).toThrow(/version 2/)
    expect(() => parseMetaProperties("version=1\nnode.id=1\n")).toThrow(/cluster.id/)
    expect(() => parseMetaProperties(`version=1\ncluster.id=${CLUSTER}\n`)).toThrow(/node.id/)
    expect(() => parseMetaProperties(`version=1\nnode.id=x\ncluster.id=${CLUSTER}\n`)).toThrow(/not an integer/)
    expect(() => parseMetaProperties(`version=1\nnode.id=1\ncluster.id=${CLUSTER}\ndirectory.id=nope\n`)).toThrow(/directory.id/)
  })

  it("treats the low directory ids as reserved", () => {
    expect(isReservedDirectoryId("AAAAAAAAAAAAAAAAAAAAAA")).toBe(true)
    expect(isReservedDirectoryId("AAAAAAAAAAAAAAAAAAAAAQ")).toBe(true)
    expect(isReservedDirectoryId(DIR_ID)).toBe(false)
  })

  it("formats empty dirs with the given cluster id and keeps existing identities", () => {
    const a = tempDir()
    const b = tempDir()
    const first = ensureMetaProperties([a, b], 9, CLUSTER)
    expect(first.clusterId).toBe(CLUSTER)
    expect(first.written).toEqual([a, b])
    const again = ensureMetaProperties([a, b], 9, "SomethingElseEntirely0")
    expect(again).toEqual({ ...first, written: [] })
    expect(readMetaProperties(b)).toMatchObject({ version: 1, nodeId: 9, clusterId: CLUSTER, directoryId: first.directoryIds[1] })
  })

  it("upgrades a version 0 file to version 1 and adds a missing directory.id", () => {
    const a = tempDir()
    fs.writeFileSync(path.join(a, "meta.properties"), `version=0\nbroker.id=2\ncluster.id=${CLUSTER}\n`)
    const b = tempDir()
    fs.writeFileSync(path.join(b, "meta.properties"), `version=1\nnode.id=2\ncluster.id=${CLUSTER}\n`)
    const identity = ensureMetaProperties([a, b], 2)
    expect(identity.clusterId).toBe(CLUSTER)
    expect(identity.written).toEqual([a, b])
    expect(readMetaProperties(a)).toMatchObject({ version: 1, nodeId: 2, clusterId: CLUSTER, directoryId: identity.directoryIds[0] })
    expect(readMetaProperties(b)!.directoryId).toBe(identity.directoryIds[1])
  })

  it("rejects a node.id mismatch (also from a v0 broker.id) and duplicate directory ids", () => {
    const a = tempDir()
    fs.writeFileSync(path.join(a, "meta.properties"), `version=0\nbroker.id=2\n`)
    expect(() => ensureMetaProperties([a], 3)).toThrow(/Stored node id 2/)
    const b = tempDir()
    const c = tempDir()
    for (const d of [b, c]) fs.writeFileSync(path.join(d, "meta.properties"), `version=1\nnode.id=1\ncluster.id=${CLUSTER}\ndirectory.id=${DIR_ID}\n`)
    expect(() => ensureMetaProperties([b, c], 1)).toThrow(/Duplicate directory.id/)
  })
})

describe("quorum state files", () => {
  it("reads quorum-state of data version 0 and 1 tolerantly", () => {
    const d = tempDir()
    fs.writeFileSync(path.join(d, "quorum-state"), `{"clusterId":"","leaderId":1,"leaderEpoch":7,"votedId":-1,"appliedOffset":0,"currentVoters":[{"voterId":1}],"data_version":0}`)
    expect(readQuorumState(d).state).toEqual({ leaderId: 1, leaderEpoch: 7, votedId: -1, dataVersion: 0, currentVoters: [1] })
    fs.writeFileSync(path.join(d, "quorum-state"), `{"leaderId":2,"leaderEpoch":3,"votedId":-1,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":1,"future":true}`)
    expect(readQuorumState(d).state).toMatchObject({ leaderId: 2, leaderEpoch: 3, dataVersion: 1, currentVoters: [] })
    fs.writeFileSync(path.join(d, "quorum-state"), "{not json")
    expect(readQuorumState(d)).toMatchObject({ state: null, problem: expect.stringContaining("not valid JSON") })
  })

  it("reads leader-epoch-checkpoint and reports malformed ones", () => {
    const d = tempDir()
    fs.writeFileSync(path.join(d, "leader-epoch-checkpoint"), "0\n2\n1 0\n3 17\n")
    expect(readLeaderEpochCheckpoint(d)).toEqual({ entries: [{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 17 }], problem: null })
    fs.writeFileSync(path.join(d, "leader-epoch-checkpoint"), "0\n3\n1 0\n")
    expect(readLeaderEpochCheckpoint(d).problem).toContain("expected 3 entries, found 1")
  })

  it("names snapshots <offset 20 digits>-<epoch 10 digits>.checkpoint", () => {
    expect(snapshotFileName({ offset: 1234, epoch: 5 })).toBe("00000000000000001234-0000000005.checkpoint")
    expect(parseSnapshotFileName("00000000000000001234-0000000005.checkpoint")).toEqual({ offset: 1234, epoch: 5 })
    expect(parseSnapshotFileName("00000000000000001234-0000000005.checkpoint.part")).toBeNull()
    expect(parseSnapshotFileName("00000000000000001234-0000000005.checkpoint.deleted")).toBeNull()
  })
})
