import { Effect } from "effect"

/**
 * A macrotask turn, not only a fiber switch: long background work (log cleaning, opening the
 * logs of a large directory) lets sockets get their reads in between its chunks.
 */
export const yieldToEventLoop: Effect.Effect<void> = Effect.callback<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})
