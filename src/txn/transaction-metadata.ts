/**
 * The state of one transactional id and its legal transitions, as Kafka's
 * TransactionMetadata: pure code, no I/O. A transition is prepared first (the target is
 * recorded as `pendingState`, which makes concurrent requests wait with
 * CONCURRENT_TRANSACTIONS), written to the transaction log, and only then completed in
 * memory, so the in-memory state never runs ahead of what a restart would replay.
 *
 * Transaction version 2 (KIP-890 part 2: an epoch bump at every EndTxn) is not served, so
 * every transition here is Kafka's transaction version 0 behaviour.
 */
import type { TransactionLogValue, TransactionLogValueInit } from "../protocol/generated/coordinator/TransactionLogValue.ts"
import { ErrorCode } from "../protocol/error-codes.ts"

export const TxnState = {
  Empty: 0,
  Ongoing: 1,
  PrepareCommit: 2,
  PrepareAbort: 3,
  CompleteCommit: 4,
  CompleteAbort: 5,
  Dead: 6,
  PrepareEpochFence: 7
} as const
export type TxnState = (typeof TxnState)[keyof typeof TxnState]

/** Kafka's state names (DescribeTransactions, ListTransactions, their filters), indexed by id. */
export const TXN_STATE_NAMES: ReadonlyArray<string> = [
  "Empty",
  "Ongoing",
  "PrepareCommit",
  "PrepareAbort",
  "CompleteCommit",
  "CompleteAbort",
  "Dead",
  "PrepareEpochFence"
]

export const txnStateFromName = (name: string): TxnState | undefined => {
  const i = TXN_STATE_NAMES.indexOf(name)
  return i < 0 ? undefined : (i as TxnState)
}

/** Which states each state may be entered from (TransactionState.validPreviousStates). */
const VALID_PREVIOUS: ReadonlyArray<ReadonlyArray<TxnState>> = [
  [TxnState.Empty, TxnState.CompleteCommit, TxnState.CompleteAbort],
  [TxnState.Ongoing, TxnState.Empty, TxnState.CompleteCommit, TxnState.CompleteAbort],
  [TxnState.Ongoing],
  [TxnState.Ongoing, TxnState.PrepareEpochFence],
  [TxnState.PrepareCommit],
  [TxnState.PrepareAbort],
  [TxnState.Empty, TxnState.CompleteAbort, TxnState.CompleteCommit],
  [TxnState.Ongoing]
]

/** States in which an idle transactional id may be expired. */
export const isExpirationAllowed = (state: TxnState): boolean =>
  state === TxnState.Empty || state === TxnState.CompleteCommit || state === TxnState.CompleteAbort

export const NO_PRODUCER_ID = -1
export const NO_PRODUCER_EPOCH = -1
const SHORT_MAX = 32767

/** Kafka keeps the last epoch free: at MAX-1 a new producer id is handed out instead. */
export const isEpochExhausted = (epoch: number): boolean => epoch >= SHORT_MAX - 1

/** Partitions of a transaction, topic by topic. */
export type TopicPartitions = ReadonlyMap<string, ReadonlySet<number>>

const EMPTY_PARTITIONS: TopicPartitions = new Map()

export const copyPartitions = (p: TopicPartitions): Map<string, Set<number>> => {
  const copy = new Map<string, Set<number>>()
  for (const [topic, parts] of p) copy.set(topic, new Set(parts))
  return copy
}

export const unionPartitions = (a: TopicPartitions, b: TopicPartitions): Map<string, Set<number>> => {
  const out = copyPartitions(a)
  for (const [topic, parts] of b) {
    let set = out.get(topic)
    if (set === undefined) out.set(topic, (set = new Set()))
    for (const p of parts) set.add(p)
  }
  return out
}

export const containsAll = (outer: TopicPartitions, inner: TopicPartitions): boolean => {
  for (const [topic, parts] of inner) {
    const set = outer.get(topic)
    if (set === undefined) return false
    for (const p of parts) if (!set.has(p)) return false
  }
  return true
}

export const partitionCount = (p: TopicPartitions): number => {
  let n = 0
  for (const parts of p.values()) n += parts.size
  return n
}

/** The target of a prepared transition: what is written to the transaction log. */
export interface TxnTransit {
  readonly producerId: number
  readonly previousProducerId: number
  readonly nextProducerId: number
  readonly producerEpoch: number
  readonly lastProducerEpoch: number
  readonly txnTimeoutMs: number
  readonly state: TxnState
  readonly partitions: TopicPartitions
  readonly txnStartTimestamp: number
  readonly txnLastUpdateTimestamp: number
}

/** A transition that cannot be made: Kafka's answer to the request. */
export interface TxnRefusal {
  readonly _tag: "Refused"
  readonly errorCode: number
}

export const refuse = (errorCode: number): TxnRefusal => ({ _tag: "Refused", errorCode })
export const isRefusal = (u: unknown): u is TxnRefusal => typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Refused"

/** A broken invariant: the coordinator asked for a transition the state machine forbids (a bug). */
export class IllegalTxnTransition extends Error {}

export class TxnMetadata {
  pendingState: TxnState | undefined = undefined
  /** A fence whose bumped epoch failed to reach the log: the next fence reuses that epoch. */
  hasFailedEpochFence = false
  partitions: Map<string, Set<number>>
  readonly transactionalId: string
  producerId: number
  previousProducerId: number
  nextProducerId: number
  producerEpoch: number
  lastProducerEpoch: number
  txnTimeoutMs: number
  state: TxnState
  txnStartTimestamp: number
  txnLastUpdateTimestamp: number

  constructor(transactionalId: string, fields: Omit<TxnTransit, "previousProducerId"> & { readonly previousProducerId?: number }) {
    this.transactionalId = transactionalId
    this.producerId = fields.producerId
    this.previousProducerId = fields.previousProducerId ?? NO_PRODUCER_ID
    this.nextProducerId = fields.nextProducerId
    this.producerEpoch = fields.producerEpoch
    this.lastProducerEpoch = fields.lastProducerEpoch
    this.txnTimeoutMs = fields.txnTimeoutMs
    this.state = fields.state
    this.partitions = copyPartitions(fields.partitions)
    this.txnStartTimestamp = fields.txnStartTimestamp
    this.txnLastUpdateTimestamp = fields.txnLastUpdateTimestamp
  }

  /** A new transactional id: no epoch yet, Empty. */
  static fresh(transactionalId: string, producerId: number, txnTimeoutMs: number, now: number): TxnMetadata {
    return new TxnMetadata(transactionalId, {
      producerId,
      nextProducerId: NO_PRODUCER_ID,
      producerEpoch: NO_PRODUCER_EPOCH,
      lastProducerEpoch: NO_PRODUCER_EPOCH,
      txnTimeoutMs,
      state: TxnState.Empty,
      partitions: EMPTY_PARTITIONS,
      txnStartTimestamp: -1,
      txnLastUpdateTimestamp: now
    })
  }

  get pendingTransitionInProgress(): boolean {
    return this.pendingState !== undefined
  }

  get isProducerEpochExhausted(): boolean {
    return isEpochExhausted(this.producerEpoch)
  }

  hasPartition(topic: string, partition: number): boolean {
    return this.partitions.get(topic)?.has(partition) === true
  }

  private prepareTransitionTo(
    state: TxnState,
    producerId: number,
    producerEpoch: number,
    lastProducerEpoch: number,
    txnTimeoutMs: number,
    partitions: TopicPartitions,
    txnStartTimestamp: number,
    updateTimestamp: number
  ): TxnTransit {
    if (this.pendingState !== undefined) {
      throw new IllegalTxnTransition(`${this.transactionalId}: preparing ${TXN_STATE_NAMES[state]} while ${TXN_STATE_NAMES[this.pendingState]} is pending`)
    }
    if (producerId < 0) throw new IllegalTxnTransition(`${this.transactionalId}: illegal producer id ${producerId}`)
    if (state !== TxnState.Dead && producerEpoch < 0) throw new IllegalTxnTransition(`${this.transactionalId}: illegal producer epoch ${producerEpoch}`)
    if (!VALID_PREVIOUS[state]!.includes(this.state)) {
      throw new IllegalTxnTransition(`${this.transactionalId}: ${TXN_STATE_NAMES[state]} cannot follow ${TXN_STATE_NAMES[this.state]}`)
    }
    this.pendingState = state
    return {
      producerId,
      previousProducerId: this.producerId,
      nextProducerId: NO_PRODUCER_ID,
      producerEpoch,
      lastProducerEpoch,
      txnTimeoutMs,
      state,
      partitions,
      txnStartTimestamp,
      txnLastUpdateTimestamp: updateTimestamp
    }
  }

  /** Fences the current producer: its epoch is bumped (once, even if a previous fence failed to be written). */
  prepareFenceProducerEpoch(): TxnTransit {
    if (this.producerEpoch === SHORT_MAX) throw new IllegalTxnTransition(`${this.transactionalId}: cannot fence epoch ${SHORT_MAX}`)
    const bumped = this.hasFailedEpochFence ? this.producerEpoch : this.producerEpoch + 1
    return this.prepareTransitionTo(
      TxnState.PrepareEpochFence,
      this.producerId,
      bumped,
      NO_PRODUCER_EPOCH,
      this.txnTimeoutMs,
      copyPartitions(this.partitions),
      this.txnStartTimestamp,
      this.txnLastUpdateTimestamp
    )
  }

  /**
   * InitProducerId on an idle transactional id: the epoch goes up by one (KIP-360: a producer
   * passing its current epoch continues; passing the previous one is a retry of a bump it never
   * heard about and gets the current epoch back; anything else is fenced).
   */
  prepareIncrementProducerEpoch(newTxnTimeoutMs: number, expectedEpoch: number | undefined, now: number): TxnTransit | TxnRefusal {
    if (this.isProducerEpochExhausted) throw new IllegalTxnTransition(`${this.transactionalId}: producer epochs exhausted`)
    const bumped = this.producerEpoch + 1
    let next: number
    let last: number
    if (expectedEpoch === undefined) {
      next = bumped
      last = NO_PRODUCER_EPOCH
    } else if (this.producerEpoch === NO_PRODUCER_EPOCH || expectedEpoch === this.producerEpoch) {
      next = bumped
      last = this.producerEpoch
    } else if (expectedEpoch === this.lastProducerEpoch) {
      next = this.producerEpoch
      last = this.lastProducerEpoch
    } else {
      return refuse(ErrorCode.PRODUCER_FENCED)
    }
    return this.prepareTransitionTo(TxnState.Empty, this.producerId, next, last, newTxnTimeoutMs, EMPTY_PARTITIONS, -1, now)
  }

  /** InitProducerId when the epoch is exhausted: a new producer id at epoch 0. */
  prepareProducerIdRotation(newProducerId: number, newTxnTimeoutMs: number, now: number, recordLastEpoch: boolean): TxnTransit {
    if (this.state === TxnState.Ongoing || this.state === TxnState.PrepareCommit || this.state === TxnState.PrepareAbort) {
      throw new IllegalTxnTransition(`${this.transactionalId}: cannot rotate producer ids while a transaction is pending`)
    }
    return this.prepareTransitionTo(
      TxnState.Empty,
      newProducerId,
      0,
      recordLastEpoch ? this.producerEpoch : NO_PRODUCER_EPOCH,
      newTxnTimeoutMs,
      EMPTY_PARTITIONS,
      -1,
      now
    )
  }

  prepareAddPartitions(added: TopicPartitions, now: number): TxnTransit {
    const start = this.state === TxnState.Empty || this.state === TxnState.CompleteAbort || this.state === TxnState.CompleteCommit
      ? now
      : this.txnStartTimestamp
    return this.prepareTransitionTo(
      TxnState.Ongoing,
      this.producerId,
      this.producerEpoch,
      this.lastProducerEpoch,
      this.txnTimeoutMs,
      unionPartitions(this.partitions, added),
      start,
      now
    )
  }

  prepareAbortOrCommit(state: typeof TxnState.PrepareCommit | typeof TxnState.PrepareAbort, now: number): TxnTransit {
    return this.prepareTransitionTo(
      state,
      this.producerId,
      this.producerEpoch,
      this.lastProducerEpoch,
      this.txnTimeoutMs,
      copyPartitions(this.partitions),
      this.txnStartTimestamp,
      now
    )
  }

  /** After every marker is written. */
  prepareComplete(now: number): TxnTransit {
    const state = this.state === TxnState.PrepareCommit ? TxnState.CompleteCommit : TxnState.CompleteAbort
    this.hasFailedEpochFence = false
    return this.prepareTransitionTo(state, this.producerId, this.producerEpoch, this.producerEpoch, this.txnTimeoutMs, EMPTY_PARTITIONS, this.txnStartTimestamp, now)
  }

  /** Expiration of an idle transactional id: written as a tombstone. */
  prepareDead(): TxnTransit {
    return this.prepareTransitionTo(
      TxnState.Dead,
      this.producerId,
      this.producerEpoch,
      this.lastProducerEpoch,
      this.txnTimeoutMs,
      EMPTY_PARTITIONS,
      this.txnStartTimestamp,
      this.txnLastUpdateTimestamp
    )
  }

  /**
   * The fence of an open transaction turns into its abort at once: the bumped epoch is taken
   * now (so the fenced producer is refused from here on) and the pending fence gives way to
   * the pending PrepareAbort.
   */
  convertFenceToAbort(bumpedEpoch: number, now: number): TxnTransit {
    this.pendingState = undefined
    this.producerEpoch = bumpedEpoch
    this.lastProducerEpoch = NO_PRODUCER_EPOCH
    return this.prepareAbortOrCommit(TxnState.PrepareAbort, now)
  }

  /** The log append of a prepared transition failed: forget it. */
  abandonTransition(): void {
    this.pendingState = undefined
  }

  /** The prepared transition is in the log: make it the current state. */
  completeTransitionTo(t: TxnTransit): void {
    const to = this.pendingState
    if (to === undefined || to !== t.state) {
      throw new IllegalTxnTransition(`${this.transactionalId}: completing ${TXN_STATE_NAMES[t.state]} but pending is ${to === undefined ? "nothing" : TXN_STATE_NAMES[to]}`)
    }
    switch (to) {
      case TxnState.Empty:
        this.txnTimeoutMs = t.txnTimeoutMs
        this.producerEpoch = t.producerEpoch
        this.lastProducerEpoch = t.lastProducerEpoch
        this.producerId = t.producerId
        this.previousProducerId = t.previousProducerId
        this.txnStartTimestamp = -1
        this.partitions = new Map()
        break
      case TxnState.Ongoing:
        if (!containsAll(t.partitions, this.partitions)) throw new IllegalTxnTransition(`${this.transactionalId}: partitions may only grow`)
        this.txnStartTimestamp = t.txnStartTimestamp
        this.partitions = copyPartitions(t.partitions)
        break
      case TxnState.PrepareCommit:
      case TxnState.PrepareAbort:
        break
      case TxnState.CompleteCommit:
      case TxnState.CompleteAbort:
        this.txnStartTimestamp = t.txnStartTimestamp
        this.partitions = new Map()
        break
      case TxnState.PrepareEpochFence:
      case TxnState.Dead:
        throw new IllegalTxnTransition(`${this.transactionalId}: ${TXN_STATE_NAMES[to]} is never completed`)
    }
    this.txnLastUpdateTimestamp = t.txnLastUpdateTimestamp
    this.pendingState = undefined
    this.state = to
  }
}

/** The record value Kafka writes for a transition (TransactionLogValue v0). */
export const toLogValue = (t: TxnTransit): TransactionLogValueInit => {
  if (t.state === TxnState.Empty && t.partitions.size > 0) {
    throw new IllegalTxnTransition(`an Empty transaction cannot hold partitions`)
  }
  return {
    producerId: BigInt(t.producerId),
    producerEpoch: t.producerEpoch,
    transactionTimeoutMs: t.txnTimeoutMs,
    transactionStatus: t.state,
    transactionPartitions: t.state === TxnState.Empty
      ? null
      : [...t.partitions].map(([topic, parts]) => ({ topic, partitionIds: [...parts] })),
    transactionLastUpdateTimestampMs: BigInt(t.txnLastUpdateTimestamp),
    transactionStartTimestampMs: BigInt(t.txnStartTimestamp)
  }
}

/** The state a replayed record value describes (the last epoch is not in the record: -1). */
export const fromLogValue = (transactionalId: string, v: TransactionLogValue): TxnMetadata => {
  if (v.transactionStatus < 0 || v.transactionStatus > 7) {
    throw new IllegalTxnTransition(`unknown transaction state id ${v.transactionStatus} for ${transactionalId}`)
  }
  const state = v.transactionStatus as TxnState
  const partitions = new Map<string, Set<number>>()
  if (state !== TxnState.Empty) {
    for (const p of v.transactionPartitions ?? []) {
      let set = partitions.get(p.topic)
      if (set === undefined) partitions.set(p.topic, (set = new Set()))
      for (const id of p.partitionIds) set.add(id)
    }
  }
  return new TxnMetadata(transactionalId, {
    producerId: Number(v.producerId),
    previousProducerId: Number(v.previousProducerId),
    nextProducerId: Number(v.nextProducerId),
    producerEpoch: v.producerEpoch,
    lastProducerEpoch: NO_PRODUCER_EPOCH,
    txnTimeoutMs: v.transactionTimeoutMs,
    state,
    partitions,
    txnStartTimestamp: Number(v.transactionStartTimestampMs),
    txnLastUpdateTimestamp: Number(v.transactionLastUpdateTimestampMs)
  })
}

/** The state a transit describes, as a fresh object (replay of the in-memory log, tests). */
export const metadataOfTransit = (transactionalId: string, t: TxnTransit): TxnMetadata =>
  new TxnMetadata(transactionalId, {
    ...t,
    // The record does not hold the last epoch (Kafka's value format has no field for it).
    lastProducerEpoch: NO_PRODUCER_EPOCH,
    partitions: t.state === TxnState.Empty ? EMPTY_PARTITIONS : t.partitions
  })
