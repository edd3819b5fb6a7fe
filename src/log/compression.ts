/**
 * The record-set codecs of Kafka's batches: the bytes after the 61-byte v2 header are one
 * compressed stream of the records. Used where the broker must look inside a compressed
 * batch (the log cleaner, the compacted-topic key check on produce); appends store
 * compressed batches as sent.
 *
 * - gzip and zstd: node:zlib.
 * - snappy: Kafka (Java) writes xerial's framed stream (a magic header, then length-prefixed
 *   raw snappy blocks); some clients write one raw snappy block. Both are read; xerial
 *   framing is written, as the Java client and broker do.
 * - lz4: the LZ4 frame format (Kafka's KafkaLZ4BlockOutputStream, with a correct header
 *   checksum since KIP-57), via lz4js.
 */
import * as zlib from "node:zlib"
import * as lz4 from "lz4js"
import * as snappy from "snappyjs"
import {
  COMPRESSION_GZIP,
  COMPRESSION_LZ4,
  COMPRESSION_NONE,
  COMPRESSION_SNAPPY,
  COMPRESSION_ZSTD
} from "./record-batch.ts"

export class UnsupportedCodecError extends Error {
  override readonly name = "UnsupportedCodecError"
}

const XERIAL_MAGIC = Uint8Array.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
const XERIAL_HEADER_SIZE = 16
/** snappy-java's default block size. */
const XERIAL_BLOCK_SIZE = 32 * 1024

const isXerial = (bytes: Uint8Array): boolean => {
  if (bytes.length < XERIAL_HEADER_SIZE) return false
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (bytes[i] !== XERIAL_MAGIC[i]) return false
  return true
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  return Buffer.concat(parts)
}

const snappyDecompress = (bytes: Uint8Array): Uint8Array => {
  if (!isXerial(bytes)) return snappy.uncompress(bytes)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const parts: Array<Uint8Array> = []
  let pos = XERIAL_HEADER_SIZE
  while (pos + 4 <= bytes.length) {
    const length = view.getInt32(pos)
    pos += 4
    if (length < 0 || pos + length > bytes.length) throw new RangeError(`snappy block of ${length} bytes runs past the end`)
    parts.push(snappy.uncompress(bytes.subarray(pos, pos + length)))
    pos += length
  }
  return concat(parts)
}

const snappyCompress = (bytes: Uint8Array): Uint8Array => {
  const parts: Array<Uint8Array> = []
  const header = new Uint8Array(XERIAL_HEADER_SIZE)
  header.set(XERIAL_MAGIC, 0)
  const hv = new DataView(header.buffer)
  hv.setInt32(8, 1) // version
  hv.setInt32(12, 1) // minimum compatible version
  parts.push(header)
  for (let pos = 0; pos < bytes.length; pos += XERIAL_BLOCK_SIZE) {
    const block: Uint8Array = snappy.compress(bytes.subarray(pos, Math.min(bytes.length, pos + XERIAL_BLOCK_SIZE)))
    const length = new Uint8Array(4)
    new DataView(length.buffer).setInt32(0, block.length)
    parts.push(length, block)
  }
  return Buffer.concat(parts)
}

/** LZ4 frame block maximum sizes by the BD byte's block-size id. */
const LZ4_BLOCK_MAX: Readonly<Record<number, number>> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 }

/**
 * An upper bound of an LZ4 frame's content size. lz4js would reserve the block maximum
 * (up to 4 MiB) for every block, which makes small batches slow; an LZ4 block expands at
 * most 255-fold, so a small compressed block bounds its output far tighter.
 */
const lz4DecompressBound = (src: Uint8Array): number => {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength)
  if (src.length < 7 || view.getUint32(0, true) !== 0x184d2204) throw new RangeError("not an LZ4 frame")
  const flags = src[4]!
  const blockMax = LZ4_BLOCK_MAX[(src[5]! >> 4) & 0x07]
  if (blockMax === undefined) throw new RangeError("invalid LZ4 block size")
  let pos = 6 + ((flags & 0x08) !== 0 ? 8 : 0) + 1
  const blockChecksums = (flags & 0x10) !== 0
  let total = 0
  while (pos + 4 <= src.length) {
    const word = view.getUint32(pos, true)
    pos += 4
    if (word === 0) return total
    const size = word & 0x7fffffff
    total += (word & 0x80000000) !== 0 ? size : Math.min(blockMax, size * 255 + 16)
    pos += size + (blockChecksums ? 4 : 0)
  }
  throw new RangeError("LZ4 frame without an end mark")
}

/** The uncompressed records section of a batch whose records section is `bytes`. */
export const decompressRecords = (codec: number, bytes: Uint8Array): Uint8Array => {
  switch (codec) {
    case COMPRESSION_NONE:
      return bytes
    case COMPRESSION_GZIP:
      return zlib.gunzipSync(bytes)
    case COMPRESSION_SNAPPY:
      return snappyDecompress(bytes)
    case COMPRESSION_LZ4:
      return Uint8Array.from(lz4.decompress(bytes, lz4DecompressBound(bytes)))
    case COMPRESSION_ZSTD:
      return zlib.zstdDecompressSync(bytes)
    default:
      throw new UnsupportedCodecError(`unknown compression codec ${codec}`)
  }
}

/** Compresses a records section with `codec`, as a producer of that codec would. */
export const compressRecords = (codec: number, bytes: Uint8Array): Uint8Array => {
  switch (codec) {
    case COMPRESSION_NONE:
      return bytes
    case COMPRESSION_GZIP:
      return zlib.gzipSync(bytes)
    case COMPRESSION_SNAPPY:
      return snappyCompress(bytes)
    case COMPRESSION_LZ4:
      return Uint8Array.from(lz4.compress(bytes))
    case COMPRESSION_ZSTD:
      return zlib.zstdCompressSync(bytes)
    default:
      throw new UnsupportedCodecError(`unknown compression codec ${codec}`)
  }
}
