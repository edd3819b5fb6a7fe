/**
 * The small state files next to the segments of `__cluster_metadata-0`, in Kafka's formats:
 *
 * - `quorum-state`: the raft election state, JSON (Kafka's QuorumStateData), e.g.
 *   {"clusterId":"","leaderId":1,"leaderEpoch":3,"votedId":-1,"appliedOffset":0,
 *    "currentVoters":[{"voterId":1}],"data_version":0}
 *   Version 1 (Kafka 3.9+, KIP-853) drops currentVoters/appliedOffset and adds votedDirectoryId.
 * - `leader-epoch-checkpoint`: "0" (format version), the entry count, then "epoch startOffset"
 *   per line.
 * - `partition.metadata`: "version: 0" and "topic_id: <uuid>"; for __cluster_metadata the id is
 *   Kafka's sentinel METADATA_TOPIC_ID (bytes 0…01).
 *
 * All writes go through a temporary file and a rename, as Kafka's do.
 */
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import * as path from "node:path"
import {
  CheckpointFormatError,
  type EpochEntry,
  LEADER_EPOCH_CHECKPOINT_FILE,
  PARTITION_METADATA_FILE,
  readLeaderEpochCheckpoint as readEpochFile,
  readPartitionMetadata as readPartitionMetadataFile,
  writeFileAtomically,
  writeLeaderEpochCheckpoint as writeEpochFile,
  writePartitionMetadata
} from "../log/checkpoint.ts"

export { LEADER_EPOCH_CHECKPOINT_FILE, PARTITION_METADATA_FILE, writeFileAtomically, writePartitionMetadata }

export const QUORUM_STATE_FILE = "quorum-state"

/** Kafka's Topic.METADATA_TOPIC_ID: the UUID with most significant bits 0 and least significant bits 1. */
export const METADATA_TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"
const ZERO_DIRECTORY_ID = "AAAAAAAAAAAAAAAAAAAAAA"


const readIfExists = (file: string, io: FileIoShape = nodeFileIo): string | null => {
  try {
    return io.readFileSync(file, "utf8")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null
    throw e
  }
}

// ---------------------------------------------------------------------------------------
// quorum-state
// ---------------------------------------------------------------------------------------

export interface QuorumState {
  readonly leaderId: number
  readonly leaderEpoch: number
  readonly votedId: number
  readonly dataVersion: number
  /** Voter ids (data version 0 only; empty otherwise). */
  readonly currentVoters: ReadonlyArray<number>
}

const intField = (o: Record<string, unknown>, key: string, fallback: number): number => {
  const v = o[key]
  return typeof v === "number" && Number.isInteger(v) ? v : fallback
}

/**
 * Reads quorum-state tolerantly: unknown fields are ignored, missing ones take Kafka's
 * defaults. Returns a `problem` instead of throwing for an unreadable file: the election
 * state only seeds the next epoch, which the log's batches also tell.
 */
export const readQuorumState = (dir: string, io: FileIoShape = nodeFileIo): { readonly state: QuorumState | null; readonly problem: string | null } => {
  const file = path.join(dir, QUORUM_STATE_FILE)
  const text = readIfExists(file, io)
  if (text === null) return { state: null, problem: null }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return { state: null, problem: `${file} is not valid JSON: ${(e as Error).message}` }
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { state: null, problem: `${file} does not hold a JSON object` }
  }
  const o = json as Record<string, unknown>
  const voters = Array.isArray(o["currentVoters"]) ? o["currentVoters"] : []
  const currentVoters: Array<number> = []
  for (const v of voters) {
    if (typeof v === "object" && v !== null && typeof (v as Record<string, unknown>)["voterId"] === "number") {
      currentVoters.push((v as Record<string, number>)["voterId"]!)
    }
  }
  return {
    state: {
      leaderId: intField(o, "leaderId", -1),
      leaderEpoch: intField(o, "leaderEpoch", 0),
      votedId: intField(o, "votedId", -1),
      dataVersion: intField(o, "data_version", 0),
      currentVoters
    },
    problem: null
  }
}

/**
 * Writes the state of a leader elected in `leaderEpoch`. Version 1 is kept when the file
 * already used it (a Kafka 3.9+ dynamic quorum), otherwise version 0, which every Kafka from
 * 3.x on reads and whose voter set must match controller.quorum.voters = this node.
 */
export const writeQuorumState = (dir: string, s: { leaderId: number; leaderEpoch: number; voters: ReadonlyArray<number>; dataVersion: number }, io: FileIoShape = nodeFileIo): void => {
  const json = s.dataVersion >= 1
    ? { leaderId: s.leaderId, leaderEpoch: s.leaderEpoch, votedId: -1, votedDirectoryId: ZERO_DIRECTORY_ID, data_version: 1 }
    : {
      clusterId: "",
      leaderId: s.leaderId,
      leaderEpoch: s.leaderEpoch,
      votedId: -1,
      appliedOffset: 0,
      currentVoters: s.voters.map((voterId) => ({ voterId })),
      data_version: 0
    }
  writeFileAtomically(path.join(dir, QUORUM_STATE_FILE), JSON.stringify(json), io)
}

// ---------------------------------------------------------------------------------------
// leader-epoch-checkpoint
// ---------------------------------------------------------------------------------------

export type { EpochEntry }

/** Reads the checkpoint; a malformed file yields a `problem` and no entries (Kafka rebuilds it too). */
export const readLeaderEpochCheckpoint = (dir: string, io: FileIoShape = nodeFileIo): { readonly entries: ReadonlyArray<EpochEntry>; readonly problem: string | null } => {
  try {
    return { entries: readEpochFile(path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE), io), problem: null }
  } catch (e) {
    if (e instanceof CheckpointFormatError) return { entries: [], problem: e.message }
    throw e
  }
}

export const writeLeaderEpochCheckpoint = (dir: string, entries: ReadonlyArray<EpochEntry>, io: FileIoShape = nodeFileIo): void =>
  writeEpochFile(path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE), entries, io)

// ---------------------------------------------------------------------------------------
// partition.metadata
// ---------------------------------------------------------------------------------------

/** The topic id in partition.metadata; null when the file is absent, a null id when it is malformed. */
export const readPartitionMetadata = (dir: string, io: FileIoShape = nodeFileIo): { readonly topicId: string | null } | null => {
  try {
    const read = readPartitionMetadataFile(dir, io)
    return read === null ? null : { topicId: read.topicId }
  } catch (e) {
    if (e instanceof CheckpointFormatError) return { topicId: null }
    throw e
  }
}

// ---------------------------------------------------------------------------------------
// Snapshot file names
// ---------------------------------------------------------------------------------------

export const SNAPSHOT_SUFFIX = ".checkpoint"

export interface SnapshotId {
  /** End offset (exclusive): the snapshot holds the state after every record below it. */
  readonly offset: number
  readonly epoch: number
}

/** Kafka's name: `<offset, 20 digits>-<epoch, 10 digits>.checkpoint`. */
export const snapshotFileName = (id: SnapshotId): string =>
  `${String(id.offset).padStart(20, "0")}-${String(id.epoch).padStart(10, "0")}${SNAPSHOT_SUFFIX}`

/** Parses a complete snapshot's file name (`.checkpoint.part` and `.deleted` files do not match). */
export const parseSnapshotFileName = (name: string): SnapshotId | null => {
  const m = /^(\d{20})-(\d{10})\.checkpoint$/.exec(name)
  return m === null ? null : { offset: Number(m[1]), epoch: Number(m[2]) }
}
