/**
 * CRC-32C (Castagnoli), the checksum of Kafka's record batches and producer-state snapshots.
 *
 * Large inputs go to a native addon, loaded once JavaScript has checksummed JS_BUDGET_BYTES:
 * opening it costs ~50 ms (below), as much as ~20 MB through the byte table here (2.5 ns a byte),
 * so a start that replays a metadata log of a few hundred KB never pays it (a restart after 60
 * topics were created and deleted spent 55 ms of its ~215 in `dlopen` before this budget), and
 * a broker under produce load pays ~20 ms of table work at most before switching. Small inputs
 * are always computed here: below a few hundred bytes the call into an addon costs as much as
 * the loop.
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

const TABLE = (() => {
  const table = new Int32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    table[n] = c
  }
  return table
})()

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
export const JS_BUDGET_BYTES = 8 * 1024 * 1024

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
    let c = -1
    for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
    return ~c
  }
}

/** The CRC-32C of `bytes`, as a signed 32-bit integer (`>>> 0` for unsigned). */
export const crc32c: (bytes: Uint8Array) => number = makeCrc32c(() => loadNativeCrc32c(), JS_BUDGET_BYTES)
