/**
 * DescribeLogDirs (key 35), versions 0-4: every log directory with the partitions it holds
 * and their sizes in bytes (offset lag 0: no future logs being moved), plus, v4+, the
 * directory's file system total and usable bytes. topics null means every partition;
 * requested partitions this broker does not have are left out, as Kafka does.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { LogStore } from "../log/LogStore.ts"
import { MetadataLog } from "../metadata/MetadataLog.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { DescribeLogDirs } from "../protocol/generated/apis/DescribeLogDirs.ts"
import type { DescribeLogDirsRequest } from "../protocol/generated/message/DescribeLogDirsRequest.ts"
import type { DescribeLogDirsResponseDescribeLogDirsPartitionInit, DescribeLogDirsResponseInit } from "../protocol/generated/message/DescribeLogDirsResponse.ts"
import { defineHandler } from "./handler.ts"

/** Total and usable bytes of the file system holding `dir`; -1 when unknown (Kafka's default). */
const fileSystemSpace = (dir: string): { totalBytes: bigint; usableBytes: bigint } => {
  try {
    const s = fs.statfsSync(dir)
    return { totalBytes: BigInt(s.blocks) * BigInt(s.bsize), usableBytes: BigInt(s.bavail) * BigInt(s.bsize) }
  } catch {
    return { totalBytes: -1n, usableBytes: -1n }
  }
}

const wanted = (request: DescribeLogDirsRequest): ((topic: string, partition: number) => boolean) => {
  if (request.topics === null) return () => true
  const byTopic = new Map<string, Set<number>>()
  for (const t of request.topics) {
    const set = byTopic.get(t.topic) ?? new Set<number>()
    for (const p of t.partitions) set.add(p)
    byTopic.set(t.topic, set)
  }
  return (topic, partition) => byTopic.get(topic)?.has(partition) ?? false
}

export const DescribeLogDirsHandler = defineHandler(DescribeLogDirs, {
  minVersion: 0,
  maxVersion: 4,
  handle: (request) =>
    Effect.gen(function*() {
      const logs = yield* LogStore
      const metadata = yield* MetadataLog
      const include = wanted(request)
      const byDir = new Map<string, Map<string, Array<DescribeLogDirsResponseDescribeLogDirsPartitionInit>>>()
      for (const log of logs.partitions()) {
        if (log.isClosed || !include(log.topic, log.partition)) continue
        const dir = path.dirname(path.resolve(log.dir))
        const topics = byDir.get(dir) ?? new Map()
        byDir.set(dir, topics)
        const partitions = topics.get(log.topic) ?? []
        topics.set(log.topic, partitions)
        partitions.push({ partitionIndex: log.partition, partitionSize: BigInt(log.size()), offsetLag: 0n, isFutureKey: false })
      }
      const offline = new Set(logs.offlineLogDirs())
      const results = metadata.logDirs.map(({ logDir }) => {
        const dir = path.resolve(logDir)
        // Kafka answers an offline dir with KAFKA_STORAGE_ERROR alone: no topics, no space figures.
        if (offline.has(dir)) return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, logDir: dir, topics: [] }
        const topics = [...(byDir.get(dir) ?? new Map<string, Array<DescribeLogDirsResponseDescribeLogDirsPartitionInit>>())]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, partitions]) => ({ name, partitions: partitions.sort((a, b) => a.partitionIndex! - b.partitionIndex!) }))
        return { errorCode: ErrorCode.NONE, logDir: dir, topics, ...fileSystemSpace(dir) }
      })
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results } satisfies DescribeLogDirsResponseInit
    }),
  // v0-2 have no top-level error code: the error goes on an entry for each log dir instead.
  errorResponse: (_request, errorCode, ctx) =>
    ctx.apiVersion >= 3
      ? { throttleTimeMs: 0, errorCode, results: [] }
      : { throttleTimeMs: 0, results: [{ errorCode, logDir: "", topics: [] }] }
})
