/**
 * CRC-32C (Castagnoli), the checksum of Kafka's record batches and producer-state snapshots.
 *
 * Large inputs go to a native addon, loaded once JavaScript has checksummed JS_BUDGET_BYTES:
 * opening it costs ~50 ms (below), as much as ~70 MB through the tables here (0.7 ns a byte),
 * so a start that replays a metadata log of a few MB never pays it (a restart after 60 topics
 * were created and deleted spent 55 ms of its ~215 in `dlopen` before this budget; the 3.7 MB
 * log of 10 000 partitions takes 2.6 ms here), and a broker under produce load pays ~23 ms of
 * table work at most before switching. Small inputs are always computed here: below a few
 * hundred bytes the call into an addon costs as much as the loop.
 *
 * The addon is aws-crt's (the aws-checksums library): it folds with carry-less multiplication
 * (VPCLMULQDQ where the CPU has it) and checksums 64 KiB batches at 25 GB/s on the bench machine,
 * where @node-rs/crc32 (the SSE4.2 crc32 instruction) does 6.6 — 115 ms of CPU per
 * produced GB. Its binary is opened directly: the package's entry module would load its whole
 * JavaScript API first (+30 ms). Opening it still costs ~50 ms once (the library initialises
 * itself and starts one idle event-loop thread) and ~8 MB, which the input that spends the
 * budget pays. Where aws-crt has no binary for the platform, @node-rs/crc32 does it.
 */
import { createRequire } from "node:module"

/** Inputs up to this many bytes are checksummed in JavaScript. */
export const SMALL_INPUT_BYTES = 256

/**
 * Slicing-by-8 tables: TABLES[k * 256 + n] is the CRC of byte n followed by k zero bytes, so
 * eight bytes fold in with eight lookups (0.7 ns a byte here against 2.3 for one table).
 */
const TABLES = (() => {
  const tables = new Int32Array(8 * 256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    tables[n] = c
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const previous = tables[(k - 1) * 256 + n]!
      tables[k * 256 + n] = (previous >>> 8) ^ tables[previous & 0xff]!
    }
  }
  return tables
})()

/** The CRC-32C of `bytes` in JavaScript. */
const crc32cTables = (bytes: Uint8Array): number => {
  const t = TABLES
  let c = -1
  let i = 0
  for (const end8 = bytes.length - 7; i < end8; i += 8) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)
    c = t[1792 + (c & 0xff)]! ^ t[1536 + ((c >>> 8) & 0xff)]! ^ t[1280 + ((c >>> 16) & 0xff)]! ^ t[1024 + (c >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^ t[bytes[i + 7]!]!
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return ~c
}

type NativeCrc32c = (bytes: Uint8Array) => number

/** The fastest native CRC-32C `requireAddon` can load (exported for the fallback's test). */
export const loadNativeCrc32c = (requireAddon: (id: string) => unknown = createRequire(import.meta.url)): NativeCrc32c => {
  const cRuntimes = process.platform === "linux" ? ["glibc", "musl"] : ["cruntime"]
  for (const cRuntime of cRuntimes) {
    try {
      const addon = requireAddon(`aws-crt/dist/bin/${process.platform}-${process.arch}-${cRuntime}/aws-crt-nodejs.node`) as {
        checksums_crc32c: (bytes: Uint8Array, previous: number) => number
      }
      return (bytes) => addon.checksums_crc32c(bytes, 0) | 0
    } catch {
      // No binary for this platform, or one for the other C library: try the next.
    }
  }
  const fallback = requireAddon("@node-rs/crc32") as { crc32c: (bytes: Uint8Array) => number }
  return (bytes) => fallback.crc32c(bytes)
}

/** Bytes of inputs over SMALL_INPUT_BYTES checksummed in JavaScript before the addon is loaded. */
export const JS_BUDGET_BYTES = 32 * 1024 * 1024

/**
 * A CRC-32C that checksums inputs over SMALL_INPUT_BYTES with `load`'s function once they have
 * added up to more than `budgetBytes` (exported for its tests; `crc32c` is the broker's).
 */
export const makeCrc32c = (load: () => NativeCrc32c, budgetBytes: number) => {
  let native: NativeCrc32c | undefined
  let tableBytes = 0
  return (bytes: Uint8Array): number => {
    if (bytes.length > SMALL_INPUT_BYTES) {
      if (native !== undefined) return native(bytes)
      if ((tableBytes += bytes.length) > budgetBytes) return (native = load())(bytes)
    }
    return crc32cTables(bytes)
  }
}

/** The CRC-32C of `bytes`, as a signed 32-bit integer (`>>> 0` for unsigned). */
export const crc32c: (bytes: Uint8Array) => number = makeCrc32c(() => loadNativeCrc32c(), JS_BUDGET_BYTES)
