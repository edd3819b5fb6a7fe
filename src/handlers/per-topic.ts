/**
 * Admin requests name topics in a list and answer per topic. Kafka answers a name given
 * more than once with one INVALID_REQUEST ("Duplicate topic name.") instead of acting on it;
 * every other name gets its own result, in request order.
 */
import { Effect } from "effect"

export const perDistinctTopic = <T extends { readonly name: string }, Result>(
  items: ReadonlyArray<T>,
  duplicate: (name: string) => Result,
  each: (item: T) => Effect.Effect<Result>
): Effect.Effect<Array<Result>> => {
  const counts = new Map<string, number>()
  for (const t of items) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)
  const answered = new Set<string>()
  const work: Array<Effect.Effect<Result>> = []
  for (const t of items) {
    if (answered.has(t.name)) continue
    answered.add(t.name)
    work.push(counts.get(t.name)! > 1 ? Effect.succeed(duplicate(t.name)) : each(t))
  }
  return Effect.all(work)
}
