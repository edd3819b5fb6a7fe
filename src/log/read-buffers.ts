/**
 * Buffers that segment reads fill, reused once the socket write that carried them is done.
 *
 * A fetch reads its record batches from a segment into a buffer of their own, which the
 * connection hands to the socket by reference (src/server/response-buffer.ts). A fresh
 * buffer per read costs a page fault per 4 KiB the kernel copies into: on the bench's VM
 * about 40 us per 64 KiB batch, as much as the rest of a long-poll fetch answered at the
 * log end. So reads of at least MIN_POOLED_BYTES take a buffer from a free list (one per
 * power-of-two size), and the connection gives it back (`releaseReadBuffers`) when the
 * write carrying it has completed; a buffer never given back (a read for any other
 * purpose, a response dropped) is simply garbage-collected. Only buffers lent here are
 * taken back, each once, and the free lists hold at most POOL_MAX_BYTES.
 *
 * The connection lends them for request frames too: a produce request that arrives in two
 * separate socket buffers (before its connection reads into slabs of its own, or across two
 * of them: src/server/Listeners.ts) is copied into one buffer, given back once its handler's
 * result is ready (Handler.releasesRequestBytes) and its observation finished.
 */

/** Smaller reads come from Node's allocator (its slab, or a young-generation buffer). */
const MIN_POOLED_BYTES = 16 * 1024
/** The smallest size class, and the largest: larger reads are not pooled. */
const MIN_CLASS_BYTES = 64 * 1024
const MAX_CLASS_BYTES = 16 * 1024 * 1024
/** Bytes the free lists keep at most (a few fetch responses in flight per connection). */
const POOL_MAX_BYTES = 32 * 1024 * 1024

const free = new Map<number, Array<ArrayBuffer>>()
let freeBytes = 0
/** Buffers lent and not yet given back. Weak: one never given back is collected as usual. */
const lent = new WeakSet<ArrayBuffer>()
/**
 * How many holders a shared lent buffer has: a connection's read slab is held by its reader
 * and by each request frame cut from it, and goes back to the free list when the last lets go.
 */
const holders = new WeakMap<ArrayBuffer, number>()

/** Pooled reads served by a new buffer and by a reused one, since the process started; of them, shared ones. */
const counts = { allocated: 0, reused: 0, sharedAllocated: 0, sharedReused: 0 }
export const readBufferCounts = (): {
  readonly allocated: number
  readonly reused: number
  readonly sharedAllocated: number
  readonly sharedReused: number
} => ({ ...counts })

const classOf = (n: number): number => {
  let c = MIN_CLASS_BYTES
  while (c < n) c *= 2
  return c
}

/** A buffer of `n` bytes for a segment read (uninitialised). */
export const acquireReadBuffer = (n: number): Buffer => {
  if (n < MIN_POOLED_BYTES || n > MAX_CLASS_BYTES) return Buffer.allocUnsafe(n)
  const size = classOf(n)
  const list = free.get(size)
  let ab = list?.pop()
  if (ab === undefined) {
    ab = new ArrayBuffer(size)
    counts.allocated++
  } else {
    freeBytes -= size
    counts.reused++
  }
  lent.add(ab)
  return Buffer.from(ab, 0, n)
}

/** A lent buffer of `n` bytes with one holder, which `holdReadBuffer` adds to (a read slab). */
export const acquireSharedReadBuffer = (n: number): Buffer => {
  const reusedBefore = counts.reused
  const b = acquireReadBuffer(n)
  if (!lent.has(b.buffer as ArrayBuffer)) return b
  holders.set(b.buffer as ArrayBuffer, 1)
  if (counts.reused > reusedBefore) counts.sharedReused++
  else counts.sharedAllocated++
  return b
}

/** Adds a holder to the shared lent buffer `view` lies in (nothing for any other buffer). */
export const holdReadBuffer = (view: Uint8Array): void => {
  const ab = view.buffer as ArrayBuffer
  const n = holders.get(ab)
  if (n !== undefined) holders.set(ab, n + 1)
}

/**
 * Gives back the lent read buffers among `chunks` (views into them included): called once
 * the socket has taken the bytes, never while a write may still read them. A shared one
 * loses a holder, and is given back with its last.
 */
export const releaseReadBuffers = (chunks: ReadonlyArray<Uint8Array>): void => {
  for (const c of chunks) {
    const ab = c.buffer as ArrayBuffer
    const n = holders.get(ab)
    if (n !== undefined) {
      if (n > 1) {
        holders.set(ab, n - 1)
        continue
      }
      holders.delete(ab)
    }
    if (!lent.delete(ab)) continue
    if (freeBytes + ab.byteLength > POOL_MAX_BYTES) continue
    let list = free.get(ab.byteLength)
    if (list === undefined) free.set(ab.byteLength, list = [])
    list.push(ab)
    freeBytes += ab.byteLength
  }
}

/** Whether any of `chunks` is a lent read buffer (a write then needs to give it back). */
export const holdsReadBuffers = (chunks: ReadonlyArray<Uint8Array>): boolean => {
  for (const c of chunks) if (lent.has(c.buffer as ArrayBuffer)) return true
  return false
}
