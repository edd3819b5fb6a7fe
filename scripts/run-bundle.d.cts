export declare const runBundle: (bundlePath: string, cacheDir: string, options?: { cacheAfterMs?: number }) => "accepted" | "rejected" | "absent"
