/**
 * What the cleaner knows about transactions while it walks a log in offset order (Kafka's
 * CleanedTransactionMetadata): which producers are inside an aborted transaction (from the
 * aborted transactions the txnindex files list) and which inside a committed one.
 *
 * - A data batch of an aborted transaction is discarded (its keys never enter the offset
 *   map, so an aborted record never hides a committed value).
 * - A transaction marker may go once no batch of its transaction is left: an ABORT marker
 *   whose transaction had no batch in the range read, a COMMIT marker whose transaction had
 *   none. The caller removes such a marker only after its delete horizon (delete.retention.ms
 *   after the round that found it removable), as Kafka piggybacks on tombstone retention.
 * - The aborted transactions that still have batches in the range are collected, to be the
 *   txnindex of the cleaned segment.
 */
import { ControlRecordType } from "../control-records.ts"
import type { AbortedTxn } from "../transaction-index.ts"

export class CleanedTransactionMetadata {
  /** The aborted transactions overlapping the range read, by first offset; `next` is the first not reached yet. */
  private readonly pending: Array<AbortedTxn>
  private next = 0
  /** Producers inside an aborted transaction: the transaction, and whether a batch of it was seen. */
  private readonly ongoingAborted = new Map<number, { txn: AbortedTxn; sawBatch: boolean }>()
  /** Producers inside a committed transaction of which a batch was seen. */
  private readonly ongoingCommitted = new Set<number>()
  /** Aborted transactions whose marker was read after some of their batches: the cleaned txnindex. */
  readonly keptAborted: Array<AbortedTxn> = []

  constructor(aborted: ReadonlyArray<AbortedTxn> = []) {
    this.pending = [...aborted].sort((a, b) => a.firstOffset - b.firstOffset)
  }

  private consumeUpTo(offset: number): void {
    while (this.next < this.pending.length && this.pending[this.next]!.firstOffset <= offset) {
      const txn = this.pending[this.next++]!
      if (!this.ongoingAborted.has(txn.producerId)) this.ongoingAborted.set(txn.producerId, { txn, sawBatch: false })
    }
  }

  /** A data batch was read; true when it belongs to an aborted transaction (discard it). */
  onBatchRead(producerId: number, lastOffset: number, isTransactional: boolean): boolean {
    this.consumeUpTo(lastOffset)
    if (!isTransactional) return false
    const aborted = this.ongoingAborted.get(producerId)
    if (aborted !== undefined) {
      aborted.sawBatch = true
      return true
    }
    this.ongoingCommitted.add(producerId)
    return false
  }

  /** A control batch was read; true when its marker may be removed (no batch of its transaction is left). */
  onControlBatchRead(producerId: number, lastOffset: number, controlType: number): boolean {
    this.consumeUpTo(lastOffset)
    switch (controlType) {
      case ControlRecordType.ABORT: {
        const aborted = this.ongoingAborted.get(producerId)
        this.ongoingAborted.delete(producerId)
        if (aborted !== undefined && aborted.sawBatch) {
          this.keptAborted.push(aborted.txn)
          return false
        }
        return true
      }
      case ControlRecordType.COMMIT:
        return !this.ongoingCommitted.delete(producerId)
      default:
        return false
    }
  }
}
