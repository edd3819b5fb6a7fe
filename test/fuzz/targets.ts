/**
 * Fuzz targets: the code that reads bytes a client (or a damaged disk) controls. Each target
 * turns an input into a verdict; an input breaks a target when the code under test throws
 * anything but its own typed error, or builds a result far larger than its input (a length
 * field of 2^31 in a 100-byte frame must not allocate 2 GiB).
 *
 * Inputs are made from valid encodings (random messages from the committed specs) and then
 * mutated: bit flips, overwritten bytes, huge or negative length fields, truncation,
 * insertion. `pnpm test` runs each target a fixed number of times with a fixed seed;
 * `pnpm fuzz` runs many more with fresh seeds and saves what breaks to the corpus, which
 * `pnpm test` replays from then on.
 */
import fc from "fast-check"
import { generatedDir } from "../../scripts/generate-protocol.ts"
import { type MessageSpec, readCommittedSpecs } from "../../scripts/protocol-spec.ts"
import * as zlib from "node:zlib"
import { compressRecords, decompressRecords } from "../../src/log/compression.ts"
import { buildRecordBatch, RECORD_BATCH_OVERHEAD, readRecords, validateBatches, writeBatchCrc } from "../../src/log/record-batch.ts"
import { decodeMetadataRecord, encodeMetadataRecord, MetadataRecordFormatError } from "../../src/metadata/record-serde.ts"
import type { AnyApi } from "../../src/protocol/api.ts"
import { FrameReader, isFrameError } from "../../src/protocol/framing.ts"
import { API_BY_KEY } from "../../src/protocol/generated/apis.ts"
import { encodeRequestHeader } from "../../src/protocol/generated/message/RequestHeader.ts"
import { METADATA_RECORD_TYPES } from "../../src/protocol/generated/metadata-records.ts"
import { peekRequestPrefix, readRequestHeader, requestHeaderVersion } from "../../src/protocol/header.ts"
import { ProtocolDecodeError, Reader, Writer } from "../../src/protocol/primitives.ts"
import { prng, valueGenerator } from "../protocol/spec-values.ts"

/** A fuzz input: the bytes, and what the target needs besides (which API and version). */
export interface FuzzInput {
  readonly label: string
  readonly bytes: Uint8Array
}

export interface FuzzTarget {
  readonly name: string
  readonly arbitrary: fc.Arbitrary<FuzzInput>
  /** Runs the code under test on one input; throws an Error describing a violation. */
  readonly check: (input: FuzzInput) => void
}

/** How much larger than its input a decoded value may be (in counted parts, see `weigh`). */
const GROWTH_BOUND = 64
const GROWTH_SLACK = 256

/**
 * A rough size of a decoded value: one per array element, object field and scalar, plus
 * string and byte lengths. Views into the input count their length, as a copy would.
 */
export const weigh = (value: unknown, budget: number): number => {
  let total = 0
  const stack: Array<unknown> = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    total++
    if (total > budget) return total
    if (typeof v === "string") total += v.length
    else if (v instanceof Uint8Array) total += v.length
    else if (Array.isArray(v)) for (const x of v) stack.push(x)
    else if (v !== null && typeof v === "object") for (const x of Object.values(v)) stack.push(x)
  }
  return total
}

const assertBounded = (what: string, value: unknown, inputLength: number): void => {
  const budget = GROWTH_BOUND * inputLength + GROWTH_SLACK
  const weight = weigh(value, budget)
  if (weight > budget) throw new Error(`${what}: decoded value outweighs ${GROWTH_BOUND}x its ${inputLength}-byte input`)
}

const untyped = (what: string, e: unknown): Error =>
  new Error(`${what} threw an untyped ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)

// --- Mutations -----------------------------------------------------------------------------

/** One change to an input; `at` is a fraction of its length, so a mutation fits inputs of any size. */
interface Mutation {
  readonly kind: "flip" | "set" | "int32" | "varint" | "truncate" | "insert" | "delete"
  readonly at: number
  /** The bit to flip, the byte or int32 or varint to write, or how many bytes to delete. */
  readonly n: number
  readonly bytes: Uint8Array
}

/** Values that make length fields interesting: huge, negative, off by one, the null marker. */
const lengthValue = fc.oneof(
  fc.constantFrom(0x7fffffff, -1, -2, 0, 1, 0x7fff, 0xffff, 0x10000, 0x40000000, -0x80000000),
  fc.integer({ min: -0x80000000, max: 0x7fffffff })
)

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom("flip", "set", "int32", "varint", "truncate", "insert", "delete"),
  at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
  n: lengthValue,
  bytes: fc.uint8Array({ maxLength: 8 })
})

const writeUvarint = (out: Array<number>, v: number): void => {
  let u = v >>> 0
  while (u >= 0x80) {
    out.push((u & 0x7f) | 0x80)
    u >>>= 7
  }
  out.push(u)
}

export const mutate = (input: Uint8Array, mutations: ReadonlyArray<Mutation>): Uint8Array => {
  let bytes = Uint8Array.from(input)
  for (const m of mutations) {
    const at = Math.floor(m.at * bytes.length)
    switch (m.kind) {
      case "flip":
        if (bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << (m.n & 7))
        break
      case "set":
        if (bytes.length > 0) bytes[at] = m.n & 0xff
        break
      case "int32":
        if (at + 4 <= bytes.length) new DataView(bytes.buffer).setInt32(at, m.n | 0)
        break
      case "varint": {
        const v: Array<number> = []
        writeUvarint(v, m.n)
        const next = new Uint8Array(bytes.length + v.length)
        next.set(bytes.subarray(0, at))
        next.set(v, at)
        next.set(bytes.subarray(at), at + v.length)
        bytes = next
        break
      }
      case "truncate":
        bytes = bytes.subarray(0, at)
        break
      case "insert": {
        const next = new Uint8Array(bytes.length + m.bytes.length)
        next.set(bytes.subarray(0, at))
        next.set(m.bytes, at)
        next.set(bytes.subarray(at), at + m.bytes.length)
        bytes = next
        break
      }
      case "delete": {
        const len = Math.min(Math.abs(m.n) % 16, bytes.length - at)
        const next = new Uint8Array(bytes.length - len)
        next.set(bytes.subarray(0, at))
        next.set(bytes.subarray(at + len), at)
        bytes = next
        break
      }
    }
  }
  return bytes
}

/** A valid encoding (from `encode`) or random bytes, then up to four mutations. */
const mutatedOr = (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
    { weight: 1, arbitrary: valid },
    { weight: 6, arbitrary: fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([b, ms]) => mutate(b, ms)) }
  )

// --- Messages from the committed specs ------------------------------------------------------

const specs: ReadonlyArray<MessageSpec> = readCommittedSpecs(generatedDir)
const specByName = new Map(specs.map((s) => [s.name, s]))

/** Every (request API, version) the generated codecs decode. */
const requestVersions: ReadonlyArray<{ readonly api: AnyApi; readonly version: number }> = [...API_BY_KEY.values()].flatMap((api) =>
  Array.from({ length: api.maxVersion - api.minVersion + 1 }, (_, i) => ({ api, version: api.minVersion + i }))
)

export const encodeRandomRequest = (api: AnyApi, version: number, seed: number): Uint8Array => {
  const spec = specByName.get(`${api.name}Request`)!
  const { init } = valueGenerator(spec, version, prng(seed))()
  const w = new Writer(64)
  api.encodeRequest(w, version, init)
  return w.toBytes()
}

/** Labels name the API key and version so a corpus file replays against the same decoder. */
const requestLabel = (api: AnyApi, version: number): string => `${api.apiKey}v${version}`
const parseRequestLabel = (label: string): { api: AnyApi; version: number } => {
  const [key, version] = label.split("v").map(Number)
  return { api: API_BY_KEY.get(key!)!, version: version! }
}

const requestBodies: fc.Arbitrary<FuzzInput> = fc.constantFrom(...requestVersions).chain(({ api, version }) =>
  mutatedOr(fc.integer({ min: 1, max: 0x7fffffff }).map((seed) => encodeRandomRequest(api, version, seed)))
    .map((bytes) => ({ label: requestLabel(api, version), bytes }))
)

const decodeRequestBody = (api: AnyApi, version: number, bytes: Uint8Array, r = new Reader(bytes)): void => {
  const what = `${api.name} v${version} request decoder`
  let decoded: unknown
  try {
    decoded = api.decodeRequest(r, version)
  } catch (e) {
    if (e instanceof ProtocolDecodeError) return
    throw untyped(what, e)
  }
  assertBounded(what, decoded, bytes.length)
}

/** Every generated request decoder, every version. */
const requestDecoders: FuzzTarget = {
  name: "request-decoders",
  arbitrary: requestBodies,
  check: ({ label, bytes }) => {
    const { api, version } = parseRequestLabel(label)
    decodeRequestBody(api, version, bytes)
  }
}

/** What the dispatcher does with a frame before a handler runs: prefix, header, body. */
const requestFrames: FuzzTarget = {
  name: "request-frames",
  arbitrary: fc.tuple(fc.constantFrom(...requestVersions), fc.integer({ min: 1, max: 0x7fffffff }), fc.string({ maxLength: 20 }))
    .chain(([{ api, version }, seed, clientId]) => {
      const w = new Writer(64)
      encodeRequestHeader(w, requestHeaderVersion(api, version), { requestApiKey: api.apiKey, requestApiVersion: version, correlationId: seed, clientId })
      const frame = new Uint8Array([...w.toBytes(), ...encodeRandomRequest(api, version, seed)])
      return mutatedOr(fc.constant(frame)).map((bytes) => ({ label: "frame", bytes }))
    }),
  check: ({ bytes }) => {
    const prefix = peekRequestPrefix(bytes)
    if (prefix === undefined) return
    const api = API_BY_KEY.get(prefix.apiKey)
    if (api === undefined || prefix.apiVersion < api.minVersion || prefix.apiVersion > api.maxVersion) return
    let reader: Reader
    try {
      const read = readRequestHeader(bytes, requestHeaderVersion(api, prefix.apiVersion))
      assertBounded("request header", read.header, bytes.length)
      reader = read.reader
    } catch (e) {
      if (e instanceof ProtocolDecodeError) return
      throw untyped("request header decoder", e)
    }
    decodeRequestBody(api, prefix.apiVersion, bytes, reader)
  }
}

const FRAME_LIMIT = 4096

/**
 * A byte stream of frames, some with sizes that are huge, negative or over the limit, cut
 * into arbitrary chunks: the reader returns exactly the frames before the first bad size,
 * then that error, and never holds more than one frame limit of bytes in a frame.
 */
const frameReader: FuzzTarget = {
  name: "frame-reader",
  arbitrary: fc.tuple(
    fc.array(fc.oneof({ weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ size: b.length, body: b })) }, {
      weight: 1,
      arbitrary: lengthValue.map((size) => ({ size, body: new Uint8Array(0) }))
    }), { maxLength: 8 }),
    fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 16 })
  ).map(([frames, cuts]) => {
    const parts: Array<number> = []
    for (const f of frames) {
      parts.push((f.size >>> 24) & 0xff, (f.size >>> 16) & 0xff, (f.size >>> 8) & 0xff, f.size & 0xff, ...f.body)
    }
    // The chunk sizes ride along after a marker byte count, so the corpus keeps them.
    return { label: cuts.join(","), bytes: Uint8Array.from(parts) }
  }),
  check: ({ label, bytes }) => {
    const cuts = label.split(",").map(Number).filter((n) => n > 0)
    const expected: Array<Uint8Array> = []
    let expectError = false
    for (let pos = 0; pos + 4 <= bytes.length;) {
      const size = new DataView(bytes.buffer, bytes.byteOffset).getInt32(pos)
      if (size < 0 || size > FRAME_LIMIT) {
        expectError = true
        break
      }
      if (pos + 4 + size > bytes.length) break
      expected.push(bytes.subarray(pos + 4, pos + 4 + size))
      pos += 4 + size
    }
    const reader = new FrameReader(FRAME_LIMIT)
    const got: Array<Uint8Array> = []
    let error = false
    let pos = 0
    for (let i = 0; pos < bytes.length && !error; i++) {
      const n = cuts[i % cuts.length]!
      reader.push(bytes.subarray(pos, pos + n))
      pos += n
      for (;;) {
        const f = reader.next()
        if (f === undefined) break
        if (isFrameError(f)) {
          error = true
          break
        }
        if (f.length > FRAME_LIMIT) throw new Error(`frame of ${f.length} bytes over the limit`)
        got.push(Uint8Array.from(f))
      }
    }
    if (error !== expectError) throw new Error(`frame reader error ${error}, expected ${expectError}`)
    if (got.length !== expected.length || got.some((f, i) => Buffer.compare(f, expected[i]!) !== 0)) {
      throw new Error(`frame reader returned ${got.length} frames, expected ${expected.length}`)
    }
  }
}

const recordInput = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 16 }), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 32 }), { nil: null }),
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 8 }), value: fc.option(fc.uint8Array({ maxLength: 8 }), { nil: null }) }), { maxLength: 2 }),
  timestamp: fc.integer({ min: 0, max: 2 ** 42 })
})

const validBatches: fc.Arbitrary<Uint8Array> = fc.array(
  fc.record({
    records: fc.array(recordInput, { minLength: 1, maxLength: 5 }),
    producerId: fc.constantFrom(-1, 0, 1000),
    transactional: fc.boolean()
  }).map((b) => buildRecordBatch({
    records: b.records,
    producerId: b.producerId,
    producerEpoch: b.producerId < 0 ? -1 : 0,
    baseSequence: b.producerId < 0 ? -1 : 0,
    isTransactional: b.transactional && b.producerId >= 0
  })),
  { minLength: 1, maxLength: 3 }
).map((batches) => Uint8Array.from(batches.flatMap((b) => [...b])))

/** Re-stamps each batch's CRC, so mutations reach past the checksum into the records. */
const withFreshCrcs = (bytes: Uint8Array): Uint8Array => {
  const out = Uint8Array.from(bytes)
  const view = new DataView(out.buffer)
  for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= out.length;) {
    const size = view.getInt32(pos + 8) + 12
    if (size < RECORD_BATCH_OVERHEAD || pos + size > out.length) break
    writeBatchCrc(out, pos)
    pos += size
  }
  return out
}

/** Produce payloads: validation never throws, and what it accepts can be read record by record. */
const recordBatches: FuzzTarget = {
  name: "record-batches",
  arbitrary: fc.tuple(mutatedOr(validBatches), fc.boolean(), fc.boolean()).map(([bytes, recrc, fromClient]) => ({
    label: fromClient ? "client" : "internal",
    bytes: recrc ? withFreshCrcs(bytes) : bytes
  })),
  check: ({ label, bytes }) => {
    let result: ReturnType<typeof validateBatches>
    try {
      result = validateBatches(bytes, { fromClient: label === "client", maxBatchBytes: 1 << 20 })
    } catch (e) {
      throw untyped("validateBatches", e)
    }
    if (!result.ok) return
    for (const b of result.batches) {
      if (b.compression !== 0) continue
      let n = 0
      try {
        for (const record of readRecords(bytes.subarray(b.position, b.position + b.sizeInBytes))) {
          n++
          assertBounded("record", record, b.sizeInBytes)
        }
      } catch (e) {
        throw new Error(`validateBatches accepted a batch that readRecords cannot read: ${(e as Error).message}`)
      }
      if (n !== b.recordCount) throw new Error(`validated batch has ${b.recordCount} records, readRecords found ${n}`)
    }
  }
}

const compressOnce = (codec: number, plain: Uint8Array): Uint8Array => (codec === 4 ? zlib.zstdCompressSync(plain) : compressRecords(codec, plain))

let bombs: Map<number, ReadonlyArray<readonly [number, Uint8Array]>> | undefined
const bombSeeds = (codec: number): ReadonlyArray<readonly [number, Uint8Array]> => {
  bombs ??= new Map([1, 2, 3, 4].map((c) => [c, [
    [c, compressOnce(c, new Uint8Array(1 << 20))] as const,
    [c, compressOnce(c, new Uint8Array(INFLATE_LIMIT + 1).fill(7))] as const
  ]]))
  return bombs.get(codec)!
}

/** What one inflated records section may grow to in the decompressor target. */
const INFLATE_LIMIT = 64 * 1024

/**
 * Compressed record sections (small ones, and bombs that claim far more than the limit),
 * valid or mutated: inflating never yields more than the limit and fails only with an
 * Error (never a TypeError of a bug, never a non-Error), however the stream lies.
 */
const decompressors: FuzzTarget = {
  name: "decompressors",
  arbitrary: fc.oneof(
    // Small sections, compressed per input.
    fc.tuple(fc.constantFrom(1, 2, 3, 4), fc.uint8Array({ maxLength: 512 })).map(([codec, plain]) => [codec, compressOnce(codec, plain)] as const),
    // Bombs, compressed once: 1 MiB of zeros, and just over the limit.
    fc.constantFrom(...[1, 2, 3, 4].flatMap((codec) => bombSeeds(codec)))
  ).chain(([codec, compressed]) => mutatedOr(fc.constant(compressed)).map((bytes) => ({ label: String(codec), bytes }))),
  check: ({ label, bytes }) => {
    let out: Uint8Array
    try {
      out = decompressRecords(Number(label), bytes, INFLATE_LIMIT)
    } catch (e) {
      if (!(e instanceof Error) || e instanceof TypeError) throw untyped(`decompress codec ${label}`, e)
      return
    }
    if (out.length > INFLATE_LIMIT) throw new Error(`codec ${label} inflated ${bytes.length} bytes to ${out.length}, over the ${INFLATE_LIMIT} limit`)
  }
}

const metadataRecordTypes = [...METADATA_RECORD_TYPES.values()]

/** Metadata log records, as read back from a possibly damaged `__cluster_metadata` log. */
const metadataRecords: FuzzTarget = {
  name: "metadata-records",
  arbitrary: fc.tuple(fc.constantFrom(...metadataRecordTypes), fc.integer({ min: 1, max: 0x7fffffff })).chain(([type, seed]) => {
    const spec = specByName.get(type.name)!
    const version = type.minVersion + (seed % (type.maxVersion - type.minVersion + 1))
    const { init } = valueGenerator(spec, version, prng(seed))()
    // oxlint-disable-next-line no-explicit-any
    const valid = encodeMetadataRecord({ type: type.name, version, data: init } as any)
    return mutatedOr(fc.constant(valid)).map((bytes) => ({ label: type.name, bytes }))
  }),
  check: ({ bytes }) => {
    try {
      const decoded = decodeMetadataRecord(bytes)
      assertBounded("metadata record", decoded, bytes.length)
    } catch (e) {
      if (e instanceof MetadataRecordFormatError) return
      throw untyped("decodeMetadataRecord", e)
    }
  }
}

export const FUZZ_TARGETS: ReadonlyArray<FuzzTarget> = [requestDecoders, requestFrames, frameReader, recordBatches, decompressors, metadataRecords]
