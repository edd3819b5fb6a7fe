import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { MetadataLog } from "../../src/metadata/MetadataLog.ts"
import { PRODUCER_ID_BLOCK_SIZE, ProducerIdManager } from "../../src/txn/ProducerIdManager.ts"
import { removeTempDirs, tempDir } from "../metadata/helpers.ts"

afterAll(removeTempDirs)

/** One broker run: the ProducerIdManager over a MetadataLog in `dir`. */
const run = <A>(dir: string, f: (ids: ProducerIdManager["Service"], metadata: MetadataLog["Service"]) => Effect.Effect<A, unknown>) =>
  Effect.gen(function*() {
    return yield* f(yield* ProducerIdManager, yield* MetadataLog)
  }).pipe(
    Effect.provide(ProducerIdManager.layerMetadataLog.pipe(Layer.provideMerge(MetadataLog.layer({ logDirs: [dir], nodeId: 1 }))))
  )

const take = (ids: ProducerIdManager["Service"], n: number) =>
  Effect.forEach(Array.from({ length: n }), () => ids.generateProducerId)

describe("ProducerIdManager over the metadata log", () => {
  it.effect("reserves blocks of 1000 as ProducerIdsRecords and never repeats an id across restarts", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const first = yield* run(dir, (ids, metadata) =>
        Effect.gen(function*() {
          const got = yield* take(ids, PRODUCER_ID_BLOCK_SIZE + 5)
          // Two blocks reserved: the image's next block starts after both.
          expect(metadata.current().nextProducerId).toBe(2000n)
          return got
        }))
      expect(first[0]).toBe(0)
      expect(first.at(-1)).toBe(PRODUCER_ID_BLOCK_SIZE + 4)
      expect(new Set(first).size).toBe(first.length)
      // Restart: the replayed image resumes after the last reserved block.
      const second = yield* run(dir, (ids, metadata) =>
        Effect.gen(function*() {
          expect(metadata.current().nextProducerId).toBe(2000n)
          return yield* take(ids, 3)
        }))
      expect(second).toEqual([2000, 2001, 2002])
    }))

  it.effect("concurrent callers share one reservation", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const got = yield* run(dir, (ids, metadata) =>
        Effect.gen(function*() {
          const all = yield* Effect.forEach(Array.from({ length: 50 }), () => ids.generateProducerId, { concurrency: "unbounded" })
          expect(metadata.current().nextProducerId).toBe(1000n)
          return all
        }))
      expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    }))
})
