/**
 * Kafka wire primitives over a single buffer. These are the hot path of every codec:
 * plain methods on a cursor, no Effect, no per-field allocation beyond the values
 * themselves. Decoding failures throw `ProtocolDecodeError`; the Effect boundary
 * (Schema wrapper, connection) turns that into a typed failure.
 */

/** Thrown by `Reader` when the input is truncated or malformed. */
export class ProtocolDecodeError extends Error {
  override readonly name = "ProtocolDecodeError"
}

/** Thrown by generated encoders when a value cannot be represented in the requested version. */
export class ProtocolEncodeError extends Error {
  override readonly name = "ProtocolEncodeError"
}

/** A tagged field the decoder did not recognise; kept so that re-encoding preserves it. */
export interface UnknownTaggedField {
  readonly tag: number
  readonly data: Uint8Array
}

const textDecoder = new TextDecoder("utf-8", { fatal: false })

/** Strings up to this many bytes are decoded in JavaScript (and remembered, if ASCII). */
const SHORT_STRING_BYTES = 64
/**
 * Short ASCII strings decoded lately, by a hash of their bytes. A client sends its client id
 * with every request and a producer the same topic names with every batch: decoding hands back
 * the string it made last time for the same bytes, so a request builds none of them, and the
 * maps keyed by them find the hash V8 keeps on the string instead of hashing a new one.
 */
const RECENT_STRING_SLOTS = 1024
const recentStrings: Array<string | undefined> = new Array(RECENT_STRING_SLOTS)
const textEncoder = new TextEncoder()

/** Kafka prints UUIDs as URL-safe base64 without padding (22 characters). */
export const ZERO_UUID = "AAAAAAAAAAAAAAAAAAAAAA"

export const uuidToBytes = (uuid: string): Uint8Array => {
  const bytes = Buffer.from(uuid, "base64url")
  if (bytes.length !== 16) throw new ProtocolEncodeError(`invalid uuid ${JSON.stringify(uuid)}`)
  return bytes
}

/**
 * Kafka's Uuid.fromString: at most 24 characters of base64url, decoded as Java's
 * Base64.getUrlDecoder() does (padding optional, but if present it must be complete; bits
 * past the 16th byte are ignored), giving exactly 16 bytes. Returns the canonical unpadded
 * form, or throws a RangeError with Kafka's reason.
 */
export const uuidFromString = (str: string): string => {
  if (str.length > 24) {
    throw new RangeError(`Input string with prefix \`${str.slice(0, 24)}\` is too long to be decoded as a base64 UUID`)
  }
  const m = /^([A-Za-z0-9_-]*)(=*)$/.exec(str)
  const body = m?.[1] ?? ""
  const padding = m?.[2] ?? ""
  const rest = body.length % 4
  const paddingOk = padding.length === 0 ? rest !== 1 : (body.length + padding.length) % 4 === 0 && padding.length === 4 - rest && rest >= 2
  if (m === null || !paddingOk) throw new RangeError(`Input string \`${str}\` is not valid base64url`)
  const bytes = Buffer.from(body, "base64url")
  if (bytes.length !== 16) {
    throw new RangeError(
      `Input string \`${str}\` decoded as ${bytes.length} bytes, which is not equal to the expected 16 bytes of a base64-encoded UUID`
    )
  }
  return uuidFromBytes(bytes)
}

/**
 * The last UUIDs decoded, as bytes and as strings: a metadata log repeats its topic's id in the
 * record of every partition and the log dir's id in all of them, and requests repeat theirs.
 * Encoding one costs a Buffer and a call into C++ (~2 µs; 70 ms of a start on 10 000
 * partitions), comparing 16 bytes a few nanoseconds.
 */
const RECENT_UUIDS = 4
const recentUuidBytes = new Uint8Array(16 * RECENT_UUIDS)
const recentUuidStrings: Array<string | undefined> = new Array(RECENT_UUIDS).fill(undefined)
let nextRecentUuid = 0

export const uuidFromBytes = (bytes: Uint8Array): string => {
  for (let slot = 0; slot < RECENT_UUIDS; slot++) {
    const base = slot * 16
    let i = 0
    while (i < 16 && recentUuidBytes[base + i] === bytes[i]) i++
    if (i === 16) {
      const known = recentUuidStrings[slot]
      if (known !== undefined) return known
    }
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString("base64url")
  const slot = nextRecentUuid
  nextRecentUuid = (slot + 1) % RECENT_UUIDS
  for (let i = 0; i < 16; i++) recentUuidBytes[slot * 16 + i] = bytes[i]!
  recentUuidStrings[slot] = text
  return text
}

export class Reader {
  readonly buf: Uint8Array
  pos: number
  readonly end: number
  // Only 64-bit and float fields need a DataView; most messages have none, so it is made on demand.
  private dataView: DataView | undefined

  constructor(buf: Uint8Array, offset = 0, end = buf.length) {
    this.buf = buf
    this.pos = offset
    this.end = end
  }

  get view(): DataView {
    return (this.dataView ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength))
  }

  get remaining(): number {
    return this.end - this.pos
  }

  private need(n: number): number {
    const p = this.pos
    if (n < 0 || p + n > this.end) {
      throw new ProtocolDecodeError(`buffer underflow: need ${n} bytes at ${p}, have ${this.end - p}`)
    }
    this.pos = p + n
    return p
  }

  bool(): boolean {
    return this.buf[this.need(1)] !== 0
  }
  int8(): number {
    return (this.buf[this.need(1)]! << 24) >> 24
  }
  int16(): number {
    const p = this.need(2)
    const b = this.buf
    return ((b[p]! << 24) | (b[p + 1]! << 16)) >> 16
  }
  uint16(): number {
    const p = this.need(2)
    const b = this.buf
    return (b[p]! << 8) | b[p + 1]!
  }
  int32(): number {
    const p = this.need(4)
    const b = this.buf
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!
  }
  uint32(): number {
    return this.int32() >>> 0
  }
  int64(): bigint {
    return this.view.getBigInt64(this.need(8))
  }
  float64(): number {
    return this.view.getFloat64(this.need(8))
  }

  uvarint(): number {
    let result = 0
    let shift = 0
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new ProtocolDecodeError("buffer underflow in varint")
      const b = this.buf[this.pos++]!
      result |= (b & 0x7f) << shift
      if ((b & 0x80) === 0) return result >>> 0
      shift += 7
    }
    throw new ProtocolDecodeError("varint is longer than 5 bytes")
  }

  varint(): number {
    const v = this.uvarint()
    return (v >>> 1) ^ -(v & 1)
  }

  uvarlong(): bigint {
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtocolDecodeError("buffer underflow in varlong")
      const b = this.buf[this.pos++]!
      result |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return result
      shift += 7n
    }
    throw new ProtocolDecodeError("varlong is longer than 10 bytes")
  }

  varlong(): bigint {
    const v = this.uvarlong()
    return (v >> 1n) ^ -(v & 1n)
  }

  uuid(): string {
    const p = this.need(16)
    return uuidFromBytes(this.buf.subarray(p, p + 16))
  }

  /** Raw bytes, as a view into the input (no copy). */
  raw(n: number): Uint8Array {
    const p = this.need(n)
    return this.buf.subarray(p, p + n)
  }

  private utf8(n: number): string {
    const p = this.need(n)
    const buf = this.buf
    // Protocol strings (client ids, topic names, config keys) are short and ASCII; building
    // them byte by byte beats a TextDecoder call. Anything else goes to the decoder.
    if (n <= SHORT_STRING_BYTES) {
      let h = n
      for (let i = p; i < p + n; i++) {
        const b = buf[i]!
        if (b >= 0x80) return textDecoder.decode(buf.subarray(p, p + n))
        h = Math.imul(h ^ b, 0x01000193)
      }
      const slot = (h ^ (h >>> 15)) & (RECENT_STRING_SLOTS - 1)
      const recent = recentStrings[slot]
      if (recent !== undefined && recent.length === n) {
        let i = 0
        while (i < n && recent.charCodeAt(i) === buf[p + i]) i++
        if (i === n) return recent
      }
      let s = ""
      for (let i = p; i < p + n; i++) s += String.fromCharCode(buf[i]!)
      recentStrings[slot] = s
      return s
    }
    return textDecoder.decode(buf.subarray(p, p + n))
  }

  string(): string {
    const n = this.int16()
    if (n < 0) throw new ProtocolDecodeError("non-nullable string is null")
    return this.utf8(n)
  }
  nullableString(): string | null {
    const n = this.int16()
    return n < 0 ? null : this.utf8(n)
  }
  compactString(): string {
    const n = this.uvarint() - 1
    if (n < 0) throw new ProtocolDecodeError("non-nullable compact string is null")
    return this.utf8(n)
  }
  compactNullableString(): string | null {
    const n = this.uvarint() - 1
    return n < 0 ? null : this.utf8(n)
  }

  bytes(): Uint8Array {
    const n = this.int32()
    if (n < 0) throw new ProtocolDecodeError("non-nullable bytes are null")
    return this.raw(n)
  }
  nullableBytes(): Uint8Array | null {
    const n = this.int32()
    return n < 0 ? null : this.raw(n)
  }
  compactBytes(): Uint8Array {
    const n = this.uvarint() - 1
    if (n < 0) throw new ProtocolDecodeError("non-nullable compact bytes are null")
    return this.raw(n)
  }
  compactNullableBytes(): Uint8Array | null {
    const n = this.uvarint() - 1
    return n < 0 ? null : this.raw(n)
  }

  /** Array length (int32, -1 = null). Guards against lengths the remaining input cannot hold. */
  arrayLength(): number {
    const n = this.int32()
    if (n > this.end - this.pos) throw new ProtocolDecodeError(`array length ${n} exceeds remaining input`)
    return n
  }
  /** Compact array length (uvarint N+1, 0 = null), returned as N (-1 = null). */
  compactArrayLength(): number {
    const n = this.uvarint() - 1
    if (n > this.end - this.pos) throw new ProtocolDecodeError(`array length ${n} exceeds remaining input`)
    return n
  }

  /** Skips a tagged-field section, returning the unknown fields (or undefined when there are none). */
  skipTaggedFields(): Array<UnknownTaggedField> | undefined {
    const count = this.uvarint()
    if (count === 0) return undefined
    const fields: Array<UnknownTaggedField> = []
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint()
      const size = this.uvarint()
      fields.push({ tag, data: this.raw(size) })
    }
    return fields
  }
}

const MIN_CAPACITY = 256

export class Writer {
  buf: Uint8Array
  view: DataView
  pos = 0

  constructor(capacity = MIN_CAPACITY) {
    // Not zero-filled: every byte up to `pos` is written before it is read.
    this.buf = Buffer.allocUnsafe(capacity)
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
  }

  /** Bytes written so far (a writer that keeps some bytes by reference counts them too). */
  get byteLength(): number {
    return this.pos
  }

  /** Drops the contents and keeps the allocation, for writers reused across messages. */
  reset(): this {
    this.pos = 0
    return this
  }

  private ensure(n: number): number {
    const p = this.pos
    if (p + n > this.buf.length) {
      let cap = this.buf.length * 2
      while (cap < p + n) cap *= 2
      const next = Buffer.allocUnsafe(cap)
      next.set(this.buf.subarray(0, p))
      this.buf = next
      this.view = new DataView(next.buffer, next.byteOffset, next.byteLength)
    }
    this.pos = p + n
    return p
  }

  /** A copy of what was written. */
  toBytes(): Uint8Array {
    // Buffer.allocUnsafe takes small sizes from Node's shared slab: far cheaper than the fresh
    // ArrayBuffer Uint8Array.slice allocates, which showed at the top of response encoding.
    const out = Buffer.allocUnsafe(this.pos)
    out.set(this.buf.subarray(0, this.pos))
    return out
  }
  /** A view of what was written; valid until the next write or reset. */
  written(): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }

  bool(v: boolean): void {
    const p = this.ensure(1)
    this.view.setInt8(p, v ? 1 : 0)
  }
  int8(v: number): void {
    const p = this.ensure(1)
    this.view.setInt8(p, v)
  }
  int16(v: number): void {
    const p = this.ensure(2)
    this.view.setInt16(p, v)
  }
  uint16(v: number): void {
    const p = this.ensure(2)
    this.view.setUint16(p, v)
  }
  int32(v: number): void {
    const p = this.ensure(4)
    this.view.setInt32(p, v)
  }
  uint32(v: number): void {
    const p = this.ensure(4)
    this.view.setUint32(p, v)
  }
  int64(v: bigint): void {
    const p = this.ensure(8)
    this.view.setBigInt64(p, v)
  }
  float64(v: number): void {
    const p = this.ensure(8)
    this.view.setFloat64(p, v)
  }

  uvarint(v: number): void {
    v >>>= 0
    while (v >= 0x80) {
      const p = this.ensure(1)
      this.buf[p] = (v & 0x7f) | 0x80
      v >>>= 7
    }
    const p = this.ensure(1)
    this.buf[p] = v
  }
  varint(v: number): void {
    this.uvarint((v << 1) ^ (v >> 31))
  }
  uvarlong(v: bigint): void {
    v = BigInt.asUintN(64, v)
    while (v >= 0x80n) {
      const p = this.ensure(1)
      this.buf[p] = Number(v & 0x7fn) | 0x80
      v >>= 7n
    }
    const p = this.ensure(1)
    this.buf[p] = Number(v)
  }
  varlong(v: bigint): void {
    this.uvarlong((v << 1n) ^ (v >> 63n))
  }

  uuid(v: string): void {
    this.raw(uuidToBytes(v))
  }

  raw(bytes: Uint8Array): void {
    const p = this.ensure(bytes.length)
    this.buf.set(bytes, p)
  }

  /** UTF-8 of `v` at the current position, `prefix` written first with the byte length. */
  private utf8(v: string, prefix: (n: number) => void): void {
    const len = v.length
    if (len <= 64) {
      // ASCII fast path: write the bytes directly, no encoder call, no intermediate array.
      let ascii = true
      for (let i = 0; i < len; i++) {
        if (v.charCodeAt(i) >= 0x80) {
          ascii = false
          break
        }
      }
      if (ascii) {
        prefix(len)
        const p = this.ensure(len)
        const buf = this.buf
        for (let i = 0; i < len; i++) buf[p + i] = v.charCodeAt(i)
        return
      }
    }
    const n = Buffer.byteLength(v, "utf8")
    prefix(n)
    const p = this.ensure(n)
    textEncoder.encodeInto(v, this.buf.subarray(p, p + n))
  }

  string(v: string): void {
    this.utf8(v, (n) => this.int16(n))
  }
  nullableString(v: string | null): void {
    if (v === null) this.int16(-1)
    else this.string(v)
  }
  compactString(v: string): void {
    this.utf8(v, (n) => this.uvarint(n + 1))
  }
  compactNullableString(v: string | null): void {
    if (v === null) this.uvarint(0)
    else this.compactString(v)
  }

  bytes(v: Uint8Array): void {
    this.int32(v.length)
    this.raw(v)
  }
  nullableBytes(v: Uint8Array | null): void {
    if (v === null) this.int32(-1)
    else this.bytes(v)
  }
  compactBytes(v: Uint8Array): void {
    this.uvarint(v.length + 1)
    this.raw(v)
  }
  compactNullableBytes(v: Uint8Array | null): void {
    if (v === null) this.uvarint(0)
    else this.compactBytes(v)
  }

  /** Reserves an int32 to be filled in later (sizes, CRCs); returns its position. */
  reserveInt32(): number {
    return this.ensure(4)
  }
  setInt32At(pos: number, v: number): void {
    this.view.setInt32(pos, v)
  }
}

/** Size in bytes of `v` as an unsigned varint. */
export const uvarintSize = (v: number): number => {
  v >>>= 0
  let n = 1
  while (v >= 0x80) {
    v >>>= 7
    n++
  }
  return n
}
