import type { BuildOptions } from "esbuild"

export declare const projectRoot: string
export declare const distDir: string
export declare const bundlePath: string
export declare const compileCacheDir: string
export declare const staleReason: () => string | undefined
export declare const build: () => Promise<void>
export declare const buildIfStale: () => Promise<boolean>
/** The function expression dist/broker.cjs's body sits in (see scripts/build.mjs). */
export declare const bundleWrapper: { readonly open: string; readonly close: string }
/** esbuild's options for a script scripts/run-bundle.cjs runs (see scripts/build.mjs). */
export declare const bundleOptions: BuildOptions
