import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { buildRecordBatch, type RecordInput } from "../../src/log/record-batch.ts"
import { type FileIoShape, nodeFileIo } from "../../src/storage/FileIo.ts"

/** Bitwise CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): independent of @node-rs/crc32. */
export const referenceCrc32c = (data: Uint8Array): number => {
  let crc = 0xffffffff
  for (const b of data) {
    crc ^= b
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"))

const created: Array<string> = []

export const makeTempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-log-test-"))
  created.push(dir)
  return dir
}

export const removeTempDirs = (): void => {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

/** A batch of `count` records "v<i>" with timestamps ts, ts+1, ... */
export const batchOf = (count: number, timestamp: number, valueSize = 10): Uint8Array => {
  const records: Array<RecordInput> = []
  for (let i = 0; i < count; i++) {
    records.push({ key: `k${i}`, value: `v${i}`.padEnd(valueSize, "x"), timestamp: timestamp + i })
  }
  return buildRecordBatch({ records })
}

export const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let pos = 0
  for (const p of parts) {
    out.set(p, pos)
    pos += p.length
  }
  return out
}

/**
 * `io` remembering the path of each descriptor its openSync returns, and every path opened in
 * order: for FileIo wrappers that watch calls per file (fsyncs, writes, reads by descriptor).
 */
export const trackingPaths = (io: FileIoShape = nodeFileIo) => {
  const paths = new Map<number, string>()
  const opened: Array<string> = []
  const tracked: FileIoShape = {
    ...io,
    openSync: ((file: fs.PathLike, ...rest: Array<unknown>) => {
      const fd = (io.openSync as (f: fs.PathLike, ...r: Array<unknown>) => number)(file, ...rest)
      paths.set(fd, String(file))
      opened.push(String(file))
      return fd
    }) as FileIoShape["openSync"]
  }
  return { io: tracked, opened, pathOf: (fd: number): string => paths.get(fd) ?? `fd ${fd}` }
}
