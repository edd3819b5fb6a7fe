/**
 * Random bytes from the operating system's CSPRNG for identifiers (cluster, directory and topic
 * ids, member ids). Read from /dev/urandom where there is one: node:crypto's randomFillSync draws
 * from the same source, but loading node:crypto brings ~15 internal modules, 10-25 ms of a start
 * that formats a fresh data directory (its cluster and directory ids are the only random values a
 * start needs). Elsewhere, node:crypto.
 */
import * as fs from "node:fs"
import { uuidFromBytes, ZERO_UUID } from "./protocol/primitives.ts"

let urandomMissing = false

/** Fills `bytes` with random bytes and returns it. */
export const fillRandom = (bytes: Uint8Array): Uint8Array => {
  if (!urandomMissing) {
    let fd: number | undefined
    try {
      fd = fs.openSync("/dev/urandom", "r")
      let filled = 0
      while (filled < bytes.length) {
        const n = fs.readSync(fd, bytes, filled, bytes.length - filled, null)
        if (n <= 0) throw new Error("/dev/urandom: end of file")
        filled += n
      }
      return bytes
    } catch {
      urandomMissing = true
    } finally {
      if (fd !== undefined) fs.closeSync(fd)
    }
  }
  return process.getBuiltinModule("node:crypto").randomFillSync(bytes)
}

/**
 * A random Kafka UUID (base64url, as Kafka prints them). Not the global (Web Crypto)
 * getRandomValues: its first use loads Node's webcrypto module (see fillRandom).
 */
export const randomUuid = (): string => {
  // Kafka never hands out the zero UUID or the sentinel 1 (METADATA_TOPIC_ID); a random one
  // hitting either is astronomically unlikely, but the check is free.
  const id = uuidFromBytes(fillRandom(new Uint8Array(16)))
  return id === ZERO_UUID ? randomUuid() : id
}
