/**
 * Group commit: the produce appends of one event-loop turn, from every connection, written
 * together, one write (and, under a flush.messages policy, one force) per partition instead of
 * one per connection's read. Produce uses it for logs that force every append to disk
 * (flush.messages=1 and the like), where one fsync then covers every producer's batches of the
 * turn: 388-564 MB/s (1.28-1.45 of the bench's sink) against 349 (0.93) in its
 * `flush.messages=1` scenario.
 *
 * Not for other logs: it also took 8-partition produce from 0.99 to 0.45 writes per request
 * and 791 to 689 ms of CPU per GB, but paced producers (the end-to-end scenario, one request per
 * read) then waited for every other connection's turn, consumers' reads included: their
 * end-to-end p99 was 2-3x the old path's in 3 of 4 paired runs at 200 MB/s.
 *
 * Appends queued during a turn run at its end, in the order they were queued; then every
 * caller waiting for the turn is resumed. The end is a microtask: connections are handed what
 * they read in one callback (src/server/Listeners.ts delivers a poll's reads together), so
 * it runs once every connection has handled its input, and the answers still leave in the
 * same event-loop turn. Nothing is acknowledged before its bytes are written (and forced): a
 * caller answers its requests only once resumed, and an append that failed (I/O error, a log
 * closed meanwhile) answers with its error, as it would have at once.
 */
import type { AppendOptions, AppendResult, PartitionLog } from "./partition-log.ts"

export interface QueuedAppend {
  readonly bytes: Uint8Array
  readonly options: AppendOptions
  /** Gets the append's result, or the error `PartitionLog.append` would have thrown. */
  readonly done: (outcome: AppendResult | unknown) => void
}

let queued = new Map<PartitionLog, Array<QueuedAppend>>()
let waiting: Array<() => void> = []
let scheduled = false

/** Appends `entries` to `log` now, in order (one write for all of them), each `done` with its outcome. */
export const appendNow = (log: PartitionLog, entries: ReadonlyArray<QueuedAppend>): void => {
  if (entries.length === 1) {
    const only = entries[0]!
    let outcome: AppendResult | unknown
    try {
      outcome = log.append(only.bytes, only.options)
    } catch (e) {
      outcome = e
    }
    only.done(outcome)
    return
  }
  const results = log.appendMany(entries)
  for (let i = 0; i < entries.length; i++) entries[i]!.done(results[i])
}

const writeTurn = (): void => {
  scheduled = false
  const appends = queued
  const resumes = waiting
  queued = new Map()
  waiting = []
  for (const [log, entries] of appends) appendNow(log, entries)
  for (const resume of resumes) resume()
}

const schedule = (): void => {
  if (scheduled) return
  scheduled = true
  queueMicrotask(writeTurn)
}

/** Queues `append` to `log` for the end of this turn. */
export const queueAppend = (log: PartitionLog, append: QueuedAppend): void => {
  let entries = queued.get(log)
  if (entries === undefined) queued.set(log, entries = [])
  entries.push(append)
  schedule()
}

/** Calls `resume` once the appends queued so far have run (each has had its `done`). */
export const afterQueuedAppends = (resume: () => void): void => {
  waiting.push(resume)
  schedule()
}
