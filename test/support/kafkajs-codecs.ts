/**
 * KafkaJS ships gzip only; the other Kafka codecs are plug-ins. Snappy comes from
 * kafkajs-snappy (pure JS), LZ4 (frame format, as Kafka uses) from @platformatic/wasm-utils,
 * zstd from Node's own zlib (Node ≥ 22.15).
 */
import * as zlib from "node:zlib"
import { lz4Compress, lz4Decompress } from "@platformatic/wasm-utils"
import { CompressionCodecs, CompressionTypes } from "kafkajs"
// @ts-expect-error: kafkajs-snappy has no type declarations
import SnappyCodec from "kafkajs-snappy"

interface Encoder {
  readonly buffer: Buffer
}

let registered = false

export const registerKafkaJsCodecs = (): void => {
  if (registered) return
  registered = true
  CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
  CompressionCodecs[CompressionTypes.LZ4] = () => ({
    compress: async (encoder: Encoder) => Buffer.from(lz4Compress(encoder.buffer)),
    decompress: async (buffer: Buffer) => Buffer.from(lz4Decompress(buffer))
  })
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    compress: async (encoder: Encoder) => zlib.zstdCompressSync(encoder.buffer),
    decompress: async (buffer: Buffer) => zlib.zstdDecompressSync(buffer)
  })
}
