/**
 * Incremental fetch sessions (KIP-227). A consumer that fetches the same partitions again
 * and again opens a session with a full fetch (epoch 0); later fetches (epoch 1, 2, ...)
 * name only the partitions whose fetch state changed, and the broker answers only for
 * partitions with something new. The cache is bounded
 * (`max.incremental.fetch.session.cache.slots`); a full cache evicts an idle or smaller
 * session, as Kafka does, or declines to open a session (the client then fetches in full).
 *
 * A session's fetch offsets change only through requests (a client names a partition again
 * once it has consumed from it), never by what the broker sent, exactly as in Kafka.
 *
 * Plain data structure, no Effect: the Fetch handler calls it once per request.
 */

export const INITIAL_EPOCH = 0
export const FINAL_EPOCH = -1
/** Kafka's min.incremental.fetch.session.eviction.ms. */
export const DEFAULT_EVICTION_MS = 120_000

/** One partition a fetch names: its key identifies it within a session (topic id, or name before v13). */
export interface FetchPartitionRequest {
  readonly key: string
  readonly topic: string
  readonly topicId: string
  readonly partition: number
  readonly fetchOffset: bigint
  readonly partitionMaxBytes: number
  readonly currentLeaderEpoch: number
}

/** What the fetch found for a partition, used to decide whether an incremental response includes it. */
export interface PartitionOutcome {
  readonly errorCode: number
  readonly highWatermark: bigint
  readonly lastStableOffset: bigint
  readonly logStartOffset: bigint
  readonly hasRecords: boolean
}

interface CachedPartition {
  request: FetchPartitionRequest
  // Last values sent to the client; -1 before the first response, so new partitions are always sent.
  highWatermark: bigint
  lastStableOffset: bigint
  logStartOffset: bigint
}

interface Session {
  readonly id: number
  /** The epoch the next request must carry. */
  nextEpoch: number
  readonly partitions: Map<string, CachedPartition>
  lastUsedMs: number
}

export type SessionError = "FETCH_SESSION_ID_NOT_FOUND" | "INVALID_FETCH_SESSION_EPOCH"

export interface FetchContext {
  /** The session id to put in the response: 0 when the fetch is sessionless. */
  readonly sessionId: number
  /** True for an incremental fetch of an existing session (a throttled response then keeps its id). */
  readonly incremental?: boolean
  /** The partitions to read, in the order their responses should appear. */
  readonly partitions: ReadonlyArray<FetchPartitionRequest>
  /** Whether the response includes this partition (always, for full fetches); records what was sent. */
  readonly include: (key: string, outcome: PartitionOutcome) => boolean
}

const nextEpochAfter = (epoch: number): number => (epoch === 0x7fffffff ? 1 : epoch + 1)

export class FetchSessionCache {
  private readonly sessions = new Map<number, Session>()
  private readonly maxSlots: number
  private readonly evictionMs: number

  constructor(maxSlots: number, evictionMs = DEFAULT_EVICTION_MS) {
    this.maxSlots = maxSlots
    this.evictionMs = evictionMs
  }

  get size(): number {
    return this.sessions.size
  }

  /**
   * Resolves a fetch request against the cache: which partitions to read, and a filter for
   * the response. `partitions` and `forgotten` are the request's, keyed like the session.
   */
  begin(
    sessionId: number,
    epoch: number,
    partitions: ReadonlyArray<FetchPartitionRequest>,
    forgotten: ReadonlyArray<string>,
    now: number
  ): FetchContext | SessionError {
    if (epoch === FINAL_EPOCH) {
      // Closing a session (if any) and fetching in full without one.
      if (sessionId !== 0) this.sessions.delete(sessionId)
      return fullContext(0, partitions, undefined)
    }
    if (epoch === INITIAL_EPOCH) {
      if (sessionId !== 0) this.sessions.delete(sessionId)
      const session = this.create(partitions, now)
      return fullContext(session?.id ?? 0, partitions, session)
    }
    const session = this.sessions.get(sessionId)
    if (session === undefined) return "FETCH_SESSION_ID_NOT_FOUND"
    if (session.nextEpoch !== epoch) return "INVALID_FETCH_SESSION_EPOCH"
    session.nextEpoch = nextEpochAfter(epoch)
    session.lastUsedMs = now
    // Touch for LRU order: Map iteration order is insertion order.
    this.sessions.delete(session.id)
    this.sessions.set(session.id, session)

    for (const p of partitions) {
      const cached = session.partitions.get(p.key)
      if (cached === undefined) session.partitions.set(p.key, { request: p, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n })
      else cached.request = p
    }
    for (const key of forgotten) session.partitions.delete(key)
    return {
      sessionId: session.id,
      incremental: true,
      partitions: [...session.partitions.values()].map((c) => c.request),
      include: (key, outcome) => {
        const cached = session.partitions.get(key)
        if (cached === undefined) return true
        // Kafka's rule (CachedPartition.maybeUpdateResponseData): only news is sent, even for
        // partitions the request just named; a new partition's -1 marks make its first answer news.
        const changed =
          outcome.hasRecords ||
          outcome.errorCode !== 0 ||
          outcome.highWatermark !== cached.highWatermark ||
          outcome.lastStableOffset !== cached.lastStableOffset ||
          outcome.logStartOffset !== cached.logStartOffset
        remember(cached, outcome)
        return changed
      }
    }
  }

  private create(partitions: ReadonlyArray<FetchPartitionRequest>, now: number): Session | undefined {
    if (this.maxSlots <= 0) return undefined
    if (this.sessions.size >= this.maxSlots && !this.evictOne(partitions.length, now)) return undefined
    let id: number
    do id = 1 + Math.floor(Math.random() * 0x7ffffffe)
    while (this.sessions.has(id))
    const session: Session = {
      id,
      nextEpoch: 1,
      partitions: new Map(partitions.map((p) => [p.key, { request: p, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n }])),
      lastUsedMs: now
    }
    this.sessions.set(id, session)
    return session
  }

  /** Frees a slot: the least recently used session if idle long enough, else one smaller than the newcomer. */
  private evictOne(newSize: number, now: number): boolean {
    const lru = this.sessions.values().next().value
    if (lru !== undefined && now - lru.lastUsedMs >= this.evictionMs) {
      this.sessions.delete(lru.id)
      return true
    }
    for (const s of this.sessions.values()) {
      if (s.partitions.size < newSize) {
        this.sessions.delete(s.id)
        return true
      }
    }
    return false
  }
}

const remember = (cached: CachedPartition, outcome: PartitionOutcome): void => {
  cached.highWatermark = outcome.highWatermark
  cached.lastStableOffset = outcome.lastStableOffset
  cached.logStartOffset = outcome.logStartOffset
}

const fullContext = (sessionId: number, partitions: ReadonlyArray<FetchPartitionRequest>, session: Session | undefined): FetchContext => ({
  sessionId,
  partitions,
  include: (key, outcome) => {
    const cached = session?.partitions.get(key)
    if (cached !== undefined) remember(cached, outcome)
    return true
  }
})
