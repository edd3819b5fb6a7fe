/**
 * Removing files and directories off the event loop. Freeing a large file's blocks is slow:
 * unlinking a 1 GiB segment that was fsynced took 336 ms on this project's test VM (ext4
 * mounted with `discard`), and a deleted topic's partition directory costs that per segment.
 * Done synchronously, every connection's requests waited for it. Kafka renames what it deletes
 * (`<segment>.log.deleted`, `<partition>.<id>-delete`) and removes it later on a background
 * thread (file.delete.delay.ms); here the caller renames synchronously, which is quick and is
 * what makes the deletion visible (and crash safe: start-up removes such leftovers), and the
 * removal runs on libuv's thread pool.
 *
 * A failed removal is not an error of the operation that asked for it (that is done once the
 * rename is); what is left is removed at the next start, as after a crash.
 */
import type { FileIoShape } from "../storage/FileIo.ts"

let inFlight = 0
let waiters: Array<() => void> = []

/** Removes `target` (a file, or a directory with everything in it) on the thread pool. */
export const removeInBackground = (io: FileIoShape, target: string): void => {
  inFlight++
  io.rm(target, { recursive: true, force: true }, () => {
    inFlight--
    if (inFlight > 0) return
    const wake = waiters
    waiters = []
    for (const w of wake) w()
  })
}

/** Resolves once no background removal is in flight (tests, and a bench that measures the disk after). */
export const backgroundRemovalsSettled = (): Promise<void> =>
  inFlight === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve))
