/**
 * Assignments of KIP-848 consumer groups: topic id -> partitions, as Kafka's `Assignment`
 * keeps them (topic ids, not names, so a re-created topic of the same name is a different
 * topic). Small value helpers shared by the assignors, the reconciliation and the group.
 */

/** topic id -> partition ids. Treated as immutable once built. */
export type Assignment = ReadonlyMap<string, ReadonlySet<number>>

export const EMPTY_ASSIGNMENT: Assignment = new Map()

export const assignmentOf = (entries: ReadonlyArray<readonly [string, ReadonlyArray<number>]>): Assignment => {
  const out = new Map<string, Set<number>>()
  for (const [topicId, partitions] of entries) {
    if (partitions.length === 0) continue
    let set = out.get(topicId)
    if (set === undefined) {
      set = new Set()
      out.set(topicId, set)
    }
    for (const p of partitions) set.add(p)
  }
  return out
}

export const partitionCount = (a: Assignment): number => {
  let n = 0
  for (const partitions of a.values()) n += partitions.size
  return n
}

export const sameAssignment = (a: Assignment, b: Assignment): boolean => {
  if (a.size !== b.size) return false
  for (const [topicId, partitions] of a) {
    const other = b.get(topicId)
    if (other === undefined || other.size !== partitions.size) return false
    for (const p of partitions) if (!other.has(p)) return false
  }
  return true
}

export const hasPartition = (a: Assignment, topicId: string, partition: number): boolean => a.get(topicId)?.has(partition) ?? false

/** `a` as sorted (topic id, sorted partitions) pairs: stable output for responses and tests. */
export const sortedEntries = (a: Assignment): Array<readonly [string, Array<number>]> =>
  [...a.entries()]
    .filter(([, partitions]) => partitions.size > 0)
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([topicId, partitions]) => [topicId, [...partitions].sort((p, q) => p - q)] as const)

/** Whether every partition of `owned` is in `assigned` (Kafka's isSubset for the lost-response case). */
export const isSubset = (owned: Assignment, assigned: Assignment): boolean => {
  for (const [topicId, partitions] of owned) {
    for (const p of partitions) if (!hasPartition(assigned, topicId, p)) return false
  }
  return true
}
