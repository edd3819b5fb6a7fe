/**
 * Keeps glibc's malloc from handing freed heap memory back to the kernel between reads.
 *
 * Every socket read lands in a fresh 64 KiB buffer from malloc, freed when V8 collects it.
 * At produce rates a collection frees tens of MB at once; with glibc's default trim threshold
 * (128 KiB) the top of that heap goes back to the kernel, and the next reads fault it in again,
 * 4 KiB at a time (`perf record -e page-faults` on the broker under produce load: 91 % of its
 * faults were the kernel copying socket data into such pages; up to 1.8 faults per request,
 * each 16.5 µs on the bench's VM, and 20 % more CPU per GB produced in an A/B of the broker
 * started without --initial-old-space-size, whose heap layout makes it fault most).
 *
 * glibc raises its thresholds by itself when a block it had to mmap is freed: the mmap
 * threshold to that block's size and the trim threshold to twice it, for blocks of up to 32 MiB
 * on 64-bit (mallopt(3), M_MMAP_THRESHOLD). One such block, allocated and dropped once the
 * broker runs (never touched, so it costs no resident memory), sets them to 30 and 60 MiB: up
 * to 60 MiB freed at the top of the heap stays mapped, and blocks below 30 MiB come from the
 * heap rather than their own mappings. A user's MALLOC_TRIM_THRESHOLD_ or MALLOC_MMAP_THRESHOLD_
 * turns this adjustment off in glibc, and it does nothing under another C library. Called by the
 * standalone broker (src/main.ts), not by an embedded one (the host process keeps its allocator's
 * behaviour), and by the bench's load generators and baselines.
 */
const BLOCK_BYTES = 30 * 1024 * 1024

export const raiseMallocTrimThreshold = (): void => {
  // Buffer.allocUnsafeSlow is one malloc of exactly this size (no pool, no zero-filling). The
  // block is freed when V8 next collects young objects: under load within milliseconds; an idle
  // broker keeps it as an untouched mapping until then.
  Buffer.allocUnsafeSlow(BLOCK_BYTES)
}
