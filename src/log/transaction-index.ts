/**
 * A segment's `.txnindex`: the aborted transactions whose markers lie in the segment, in
 * Kafka's format (TransactionIndex / AbortedTxn): 34-byte entries of version int16 (0),
 * producerId int64, firstOffset int64, lastOffset int64 (the marker's offset) and
 * lastStableOffset int64 (the LSO right after the abort). read_committed fetches list the
 * aborted transactions of the range they return from it, so consumers can drop their records.
 *
 * Like Kafka, the file exists only once a segment has an aborted transaction. Entries are
 * loaded lazily on first use and appended to the file as they come; recovery rebuilds the
 * entries of the replayed range from the log.
 */
import { type FileIoShape, nodeFileIo } from "../storage/FileIo.ts"
import { getInt64, setInt64 } from "./record-batch.ts"
import type { Deferred } from "./checkpoint.ts"

export const ABORTED_TXN_ENTRY_SIZE = 34
const ABORTED_TXN_VERSION = 0

export interface AbortedTxn {
  readonly producerId: number
  readonly firstOffset: number
  readonly lastOffset: number
  readonly lastStableOffset: number
}

export const encodeAbortedTxn = (txn: AbortedTxn, out = new Uint8Array(ABORTED_TXN_ENTRY_SIZE), at = 0): Uint8Array => {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  view.setInt16(at, ABORTED_TXN_VERSION)
  setInt64(view, at + 2, txn.producerId)
  setInt64(view, at + 10, txn.firstOffset)
  setInt64(view, at + 18, txn.lastOffset)
  setInt64(view, at + 26, txn.lastStableOffset)
  return out
}

/** Whole entries of a txnindex file; a torn tail (crash mid-write) is ignored. */
export const decodeAbortedTxns = (bytes: Uint8Array): Array<AbortedTxn> => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: Array<AbortedTxn> = []
  for (let p = 0; p + ABORTED_TXN_ENTRY_SIZE <= bytes.length; p += ABORTED_TXN_ENTRY_SIZE) {
    const version = view.getInt16(p)
    if (version !== ABORTED_TXN_VERSION) throw new Error(`unexpected aborted transaction version ${version} at position ${p}`)
    out.push({ producerId: getInt64(view, p + 2), firstOffset: getInt64(view, p + 10), lastOffset: getInt64(view, p + 18), lastStableOffset: getInt64(view, p + 26) })
  }
  return out
}

export interface AbortedTxnSearch {
  readonly abortedTransactions: ReadonlyArray<AbortedTxn>
  /** Whether no later segment can hold an aborted transaction overlapping the range. */
  readonly isComplete: boolean
}

export class TransactionIndex {
  readonly file: string
  private entries: Array<AbortedTxn> | null = null

  private readonly io: FileIoShape

  constructor(file: string, io: FileIoShape = nodeFileIo) {
    this.file = file
    this.io = io
  }

  private load(): Array<AbortedTxn> {
    if (this.entries === null) {
      let bytes: Uint8Array | null = null
      try {
        bytes = this.io.readFileSync(this.file)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
      }
      this.entries = bytes === null ? [] : decodeAbortedTxns(bytes)
    }
    return this.entries
  }

  all(): ReadonlyArray<AbortedTxn> {
    return this.load()
  }

  append(txn: AbortedTxn): void {
    const entries = this.load()
    const last = entries.at(-1)
    if (last !== undefined && last.lastOffset >= txn.lastOffset) {
      throw new Error(`The last offset of appended log entry must increase sequentially, but ${txn.lastOffset} is not greater than current last offset ${last.lastOffset} of index ${this.file}`)
    }
    this.io.appendFileSync(this.file, encodeAbortedTxn(txn))
    entries.push(txn)
  }

  /** Drops entries whose marker is at or after `offset` (recovery replays them). */
  truncateTo(offset: number): void {
    const entries = this.load()
    const keep = entries.filter((e) => e.lastOffset < offset)
    if (keep.length === entries.length) return
    this.entries = keep
    if (keep.length === 0) this.io.rmSync(this.file, { force: true })
    else {
      const bytes = new Uint8Array(keep.length * ABORTED_TXN_ENTRY_SIZE)
      keep.forEach((e, i) => encodeAbortedTxn(e, bytes, i * ABORTED_TXN_ENTRY_SIZE))
      this.io.writeFileSync(this.file, bytes)
    }
  }

  /** Kafka's collectAbortedTxns: the aborted transactions overlapping [fetchOffset, upperBoundOffset). */
  collectAbortedTxns(fetchOffset: number, upperBoundOffset: number): AbortedTxnSearch {
    const out: Array<AbortedTxn> = []
    for (const txn of this.load()) {
      if (txn.lastOffset >= fetchOffset && txn.firstOffset < upperBoundOffset) out.push(txn)
      if (txn.lastStableOffset >= upperBoundOffset) return { abortedTransactions: out, isComplete: true }
    }
    return { abortedTransactions: out, isComplete: false }
  }

  /** Leaves the fsync flush() would make to `later`. */
  flushLater(later: Deferred): void {
    if (this.entries === null || this.entries.length === 0) return
    later.batch.file(this.file, later.owner)
  }

  flush(): void {
    if (this.entries === null || this.entries.length === 0) return
    const fd = this.io.openSync(this.file, "r")
    try {
      this.io.fsyncSync(fd)
    } finally {
      this.io.closeSync(fd)
    }
  }
}
