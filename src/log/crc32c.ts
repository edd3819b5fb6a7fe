/**
 * CRC-32C (Castagnoli), the checksum of Kafka's record batches and producer-state snapshots.
 * Large inputs go to the native addon (@node-rs/crc32, SSE4.2/ARMv8 CRC instructions). Small
 * ones are computed here with a byte table: below a few hundred bytes the call into the addon
 * costs as much as the loop, and a broker that has only written its own metadata records (two
 * ~90-byte batches on a fresh data directory) never loads the addon before it answers — loading
 * it (resolution, dlopen) is ~10 ms of a start (the bundle loads it on first use, scripts/build.mjs).
 */
import { crc32c as nativeCrc32c } from "@node-rs/crc32"

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

/** The CRC-32C of `bytes`, as a signed 32-bit integer (as the addon returns it; `>>> 0` for unsigned). */
export const crc32c = (bytes: Uint8Array): number => {
  if (bytes.length > SMALL_INPUT_BYTES) return nativeCrc32c(bytes)
  let c = -1
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return ~c
}
