/**
 * The one list of what this broker serves. ApiVersions answers from it, the dispatcher
 * routes by it; a handler not listed here does not exist for clients.
 */
import type { AnyHandler } from "./handler.ts"
import { type FinalizedFeatures, makeApiVersionsHandler, type SupportedApi } from "./ApiVersions.ts"

export interface HandlerRegistry<R> {
  readonly byKey: ReadonlyMap<number, AnyHandler<R>>
  readonly supported: ReadonlyArray<SupportedApi>
}

export const makeRegistry = <R>(
  handlers: ReadonlyArray<AnyHandler<R>>,
  finalizedFeatures?: () => FinalizedFeatures
): HandlerRegistry<R> => {
  const byKey = new Map<number, AnyHandler<R>>()
  const apiVersions = makeApiVersionsHandler(() => supported, finalizedFeatures)
  for (const h of [apiVersions as AnyHandler<R>, ...handlers]) {
    if (byKey.has(h.api.apiKey)) throw new Error(`two handlers for API key ${h.api.apiKey}`)
    if (h.minVersion < h.api.minVersion || h.maxVersion > h.api.maxVersion) {
      throw new Error(`${h.api.name} handler versions ${h.minVersion}-${h.maxVersion} exceed the generated codec's ${h.api.minVersion}-${h.api.maxVersion}`)
    }
    byKey.set(h.api.apiKey, h)
  }
  const supported: ReadonlyArray<SupportedApi> = [...byKey.values()]
    .filter((h) => h.advertised !== false)
    .map((h) => ({ apiKey: h.api.apiKey, minVersion: h.advertisedMinVersion ?? h.minVersion, maxVersion: h.maxVersion }))
    .sort((a, b) => a.apiKey - b.apiKey)
  return { byKey, supported }
}
