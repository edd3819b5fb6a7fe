export declare const fingerprint: (root: string, rel: string) => string
export declare const staleReason: (root: string) => string | undefined
