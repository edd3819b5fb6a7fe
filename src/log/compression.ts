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
import { createRequire } from "node:module"
import type * as Zlib from "node:zlib"
import type * as Lz4 from "lz4js"
import type * as Snappy from "snappyjs"
import {
  COMPRESSION_GZIP,
  COMPRESSION_LZ4,
  COMPRESSION_NONE,
  COMPRESSION_SNAPPY,
  COMPRESSION_ZSTD
} from "./record-batch.ts"

// The codecs are loaded on first use: most brokers never see an LZ4 or snappy batch, and lz4js
// alone allocates 5 MiB of buffers when it is loaded (5 MB of a ~80 MB idle broker). The require
// function is made on first use too.
const load = (id: string): unknown => createRequire(import.meta.url)(id)
let zlibModule: typeof Zlib | undefined
let lz4Module: typeof Lz4 | undefined
let snappyModule: typeof Snappy | undefined
const zlib = (): typeof Zlib => (zlibModule ??= process.getBuiltinModule("node:zlib"))
const lz4 = (): typeof Lz4 => (lz4Module ??= load("lz4js") as typeof Lz4)
const snappy = (): typeof Snappy => (snappyModule ??= load("snappyjs") as typeof Snappy)

export class UnsupportedCodecError extends Error {
  override readonly name = "UnsupportedCodecError"
}

/**
 * A records section that would inflate past the broker's bound. Kafka reads a compressed
 * batch as a stream, one record at a time; this broker inflates a batch whole, so the
 * inflated size is bounded instead: a batch of a few KiB that claims gigabytes (a
 * decompression bomb) fails before the memory is taken.
 */
export class DecompressedSizeError extends RangeError {
  override readonly name = "DecompressedSizeError"
  readonly limit: number
  constructor(limit: number) {
    super(`the records inflate to more than ${limit} bytes`)
    this.limit = limit
  }
}

/**
 * The default bound of one inflated records section: socket.request.max.bytes' default, so
 * one batch in memory never exceeds what one request frame may hold. Callers that know the
 * broker's configured frame limit pass that instead.
 */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 104_857_600

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

/** snappy's preamble: the uncompressed length as a uvarint, read before anything is allocated. */
const snappyDeclaredLength = (bytes: Uint8Array): number => {
  let result = 0
  for (let i = 0, shift = 0; i < 5 && i < bytes.length; i++, shift += 7) {
    const b = bytes[i]!
    result += (b & 0x7f) * 2 ** shift
    if ((b & 0x80) === 0) return result
  }
  throw new RangeError("invalid snappy length preamble")
}

/**
 * Walks a raw snappy block's tags without writing anything, refusing what snappyjs would
 * mishandle: a literal whose 32-bit length reads negative there moves its cursor backwards
 * and never ends (an endless loop on a 33-byte batch, found by the decompressors fuzz
 * target), and copies reaching before the start or past the declared length.
 */
const snappyWellFormed = (bytes: Uint8Array, declared: number): boolean => {
  let pos = 0
  while ((bytes[pos]! & 0x80) !== 0) pos++
  pos++
  let out = 0
  while (pos < bytes.length) {
    const c = bytes[pos++]!
    let len: number
    if ((c & 0x3) === 0) {
      len = (c >>> 2) + 1
      if (len > 60) {
        const extra = len - 60
        if (pos + extra > bytes.length) return false
        len = 0
        for (let i = extra - 1; i >= 0; i--) len = len * 256 + bytes[pos + i]!
        len += 1
        pos += extra
      }
      if (pos + len > bytes.length) return false
      pos += len
    } else {
      const tag = c & 0x3
      const width = tag === 1 ? 1 : tag === 2 ? 2 : 4
      if (pos + width > bytes.length) return false
      let offset = 0
      for (let i = width - 1; i >= 0; i--) offset = offset * 256 + bytes[pos + i]!
      if (tag === 1) {
        len = ((c >>> 2) & 0x7) + 4
        offset += (c >>> 5) << 8
      } else {
        len = (c >>> 2) + 1
      }
      pos += width
      if (offset === 0 || offset > out) return false
    }
    out += len
    if (out > declared) return false
  }
  return out === declared
}

const snappyBlock = (bytes: Uint8Array, budget: number, limit: number): Uint8Array => {
  const declared = snappyDeclaredLength(bytes)
  if (declared > budget) throw new DecompressedSizeError(limit)
  if (!snappyWellFormed(bytes, declared)) throw new RangeError("invalid snappy block")
  return snappy().uncompress(bytes, budget)
}

const snappyDecompress = (bytes: Uint8Array, limit: number): Uint8Array => {
  if (!isXerial(bytes)) return snappyBlock(bytes, limit, limit)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const parts: Array<Uint8Array> = []
  let pos = XERIAL_HEADER_SIZE
  let total = 0
  while (pos + 4 <= bytes.length) {
    const length = view.getInt32(pos)
    pos += 4
    if (length < 0 || pos + length > bytes.length) throw new RangeError(`snappy block of ${length} bytes runs past the end`)
    const block = snappyBlock(bytes.subarray(pos, pos + length), limit - total, limit)
    total += block.length
    parts.push(block)
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
    const block: Uint8Array = snappy().compress(bytes.subarray(pos, Math.min(bytes.length, pos + XERIAL_BLOCK_SIZE)))
    const length = new Uint8Array(4)
    new DataView(length.buffer).setInt32(0, block.length)
    parts.push(length, block)
  }
  return Buffer.concat(parts)
}

/** LZ4 frame block maximum sizes by the BD byte's block-size id. */
const LZ4_BLOCK_MAX: Readonly<Record<number, number>> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 }

/**
 * An LZ4 frame's content, inflated block by block into a buffer no larger than `limit`.
 * lz4js's own frame reader would reserve the block maximum (up to 4 MiB) for every block and
 * trusts the frame; here the output is sized by an upper bound of the content (an LZ4
 * block expands at most 255-fold, stored blocks not at all), capped at `limit`, and a frame
 * whose blocks run past it fails with DecompressedSizeError.
 */
const lz4Decompress = (src: Uint8Array, limit: number): Uint8Array => {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength)
  if (src.length < 7 || view.getUint32(0, true) !== 0x184d2204) throw new RangeError("not an LZ4 frame")
  const flags = src[4]!
  const blockMax = LZ4_BLOCK_MAX[(src[5]! >> 4) & 0x07]
  if (blockMax === undefined) throw new RangeError("invalid LZ4 block size")
  const start = 6 + ((flags & 0x08) !== 0 ? 8 : 0) + 1
  const blockChecksums = (flags & 0x10) !== 0
  const blocks: Array<readonly [number, number, boolean]> = []
  let bound = 0
  let pos = start
  for (;;) {
    if (pos + 4 > src.length) throw new RangeError("LZ4 frame without an end mark")
    const word = view.getUint32(pos, true)
    pos += 4
    if (word === 0) break
    const size = word & 0x7fffffff
    const stored = (word & 0x80000000) !== 0
    if (pos + size > src.length) throw new RangeError("LZ4 block runs past the end of the frame")
    blocks.push([pos, size, stored])
    bound += stored ? size : Math.min(blockMax, size * 255 + 16)
    pos += size + (blockChecksums ? 4 : 0)
  }
  const dst = new Uint8Array(Math.min(bound, limit))
  let out = 0
  for (const [at, size, stored] of blocks) {
    if (stored) {
      if (out + size > dst.length) throw new DecompressedSizeError(limit)
      dst.set(src.subarray(at, at + size), out)
      out += size
    } else {
      out = lz4().decompressBlock(src, dst, at, size, out)
      if (out > dst.length) throw new DecompressedSizeError(limit)
    }
  }
  return dst.subarray(0, out)
}

/** zlib's refusal to grow its output past maxOutputLength, as the typed error. */
const zlibBounded = (inflate: () => Uint8Array, limit: number): Uint8Array => {
  try {
    return inflate()
  } catch (e) {
    if ((e as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") throw new DecompressedSizeError(limit)
    throw e
  }
}

/**
 * The uncompressed records section of a batch whose records section is `bytes`, refusing
 * (DecompressedSizeError) to inflate past `maxBytes`: the bound is checked from the stream's
 * declared sizes where it has them (snappy, lz4) and enforced while inflating otherwise.
 */
export const decompressRecords = (codec: number, bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_DECOMPRESSED_BYTES): Uint8Array => {
  // Nothing left to inflate into (zlib would read a maxOutputLength of 0 as "no limit").
  if (codec !== COMPRESSION_NONE && maxBytes < 1) throw new DecompressedSizeError(maxBytes)
  switch (codec) {
    case COMPRESSION_NONE:
      return bytes
    case COMPRESSION_GZIP:
      return zlibBounded(() => zlib().gunzipSync(bytes, { maxOutputLength: maxBytes }), maxBytes)
    case COMPRESSION_SNAPPY:
      return snappyDecompress(bytes, maxBytes)
    case COMPRESSION_LZ4:
      return lz4Decompress(bytes, maxBytes)
    case COMPRESSION_ZSTD:
      return zlibBounded(() => zlib().zstdDecompressSync(bytes, { maxOutputLength: maxBytes }), maxBytes)
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
      return zlib().gzipSync(bytes)
    case COMPRESSION_SNAPPY:
      return snappyCompress(bytes)
    case COMPRESSION_LZ4:
      return Uint8Array.from(lz4().compress(bytes))
    case COMPRESSION_ZSTD:
      return zlib().zstdCompressSync(bytes)
    default:
      throw new UnsupportedCodecError(`unknown compression codec ${codec}`)
  }
}
