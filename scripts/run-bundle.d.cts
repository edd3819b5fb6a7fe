export interface PrefetchedBundle {
  readonly buffer: Buffer
  readonly size: number
  readonly mtimeMs: number
}
export declare const prefetchBundle: (bundlePath: string, done: (prefetched: PrefetchedBundle | undefined) => void) => void
export declare const runBundle: (
  bundlePath: string,
  cacheDir: string,
  options?: { cacheAfterMs?: number; prefetched?: PrefetchedBundle | undefined }
) => "accepted" | "rejected" | "absent"
