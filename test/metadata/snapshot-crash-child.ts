/**
 * Child process of snapshot-crash.test.ts: creates topics through a MetadataLog that
 * snapshots often, printing "ACK <topic>" once each creation has returned (is acknowledged).
 * When the snapshot number CRASH_AT_SNAPSHOT has its `.part` file written, it prints
 * "PART <file>" and stops there, before the rename, for the parent to `kill -9` it.
 */
import * as fs from "node:fs"
import { Effect, Logger } from "effect"
import { MetadataLog } from "../../src/metadata/MetadataLog.ts"

const logDir = process.argv[2]!
const crashAt = Number(process.argv[3] ?? 3)
let snapshots = 0
const say = (line: string): void => {
  fs.writeSync(1, line + "\n")
}

const layer = MetadataLog.layer({
  logDirs: [logDir],
  nodeId: 1,
  maxRecordBytesBetweenSnapshots: 1500,
  maxRetentionBytes: 4000,
  maxRetentionMs: -1,
  segmentBytes: 2000,
  onSnapshotPartWritten: (part) => {
    if (++snapshots < crashAt) return
    say(`PART ${part}`)
    // Hold the process here, mid-snapshot, until the parent kills it (bounded: 60 s).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000)
    process.exit(3)
  }
})

await Effect.runPromise(
  Effect.gen(function*() {
    const m = yield* MetadataLog
    for (let i = 0; ; i++) {
      yield* m.createTopic({ name: `topic-${i}`, numPartitions: 1 + (i % 3), replicationFactor: 1 })
      say(`ACK topic-${i}`)
      if (i % 4 === 3) {
        yield* m.deleteTopic(`topic-${i - 1}`)
        say(`DELETED topic-${i - 1}`)
      }
    }
  }).pipe(Effect.provide(layer), Effect.provide(Logger.layer([])))
)
