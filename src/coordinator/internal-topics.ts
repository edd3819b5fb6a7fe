/**
 * Kafka's internal topics, where the coordinators keep their state, and how a coordinator
 * key (a group id, a transactional id) maps to one of their partitions. The mapping must be
 * Kafka's exactly, so that a data directory written by Kafka finds each group's and each
 * transaction's records in the partition Kafka put them in.
 */

export const CONSUMER_OFFSETS_TOPIC = "__consumer_offsets"
export const TRANSACTION_STATE_TOPIC = "__transaction_state"
export const SHARE_GROUP_STATE_TOPIC = "__share_group_state"

/** Written by the broker's coordinators, never by clients; Metadata reports them as internal. */
export const INTERNAL_TOPICS: ReadonlySet<string> = new Set([CONSUMER_OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC, SHARE_GROUP_STATE_TOPIC])

export const isInternalTopic = (name: string): boolean => INTERNAL_TOPICS.has(name)

/** Java's String.hashCode: 31-based polynomial over UTF-16 code units, in 32-bit arithmetic. */
export const javaStringHashCode = (s: string): number => {
  let h = 0
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0
  return h
}

/**
 * The partition of an internal topic that owns `key`: Kafka's `Utils.abs(key.hashCode()) % n`
 * (Utils.abs maps Integer.MIN_VALUE to 0).
 */
export const coordinatorPartitionFor = (key: string, numPartitions: number): number => {
  const h = javaStringHashCode(key)
  const abs = h === -2147483648 ? 0 : Math.abs(h)
  return abs % numPartitions
}
