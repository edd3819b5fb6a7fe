/**
 * One client connection, supervised by one fiber. It reads frames, dispatches them, and
 * writes responses strictly in request order, whatever order the handlers finish in
 * (clients pipeline; Kafka guarantees ordering per connection). It owns every way the
 * connection can end and logs it: client disconnect, rejected request, handler defect,
 * broker shutdown (stop reading, let in-flight requests finish, bounded, then close).
 */
import { Cause, Clock, type Context, Deferred, type Duration, Effect, Exit, Fiber, FiberSet, type Scope } from "effect"
import type * as Socket from "effect/socket/Socket"
import type { HandlerRegistry } from "../handlers/registry.ts"
import { type FrameError, FrameReader, isFrameError } from "../protocol/framing.ts"
import { peekRequestPrefix } from "../protocol/header.ts"
import type { Writer } from "../protocol/primitives.ts"
import { type ConnectionInfo, type Decision, dispatch } from "./dispatch.ts"
import type { DirectWriter } from "./Listeners.ts"
import { HandlerDefect, RequestRejected } from "./errors.ts"
import { noObserver, type RequestObservation, type RequestObserver } from "./observer.ts"
import { acquireReadBuffer, holdReadBuffer, holdsReadBuffers, releaseReadBuffers } from "../log/read-buffers.ts"
import { ResponseBuffer } from "./response-buffer.ts"

export interface ConnectionOptions extends ConnectionInfo {
  readonly maxRequestSize: number
  /** How long a shutting-down connection waits for its in-flight requests. */
  readonly drainTimeout: Duration.Input
  /** queued.max.requests: requests read and not yet answered before reading stops. */
  readonly maxQueuedRequests: number
  /** Drops the connection without flushing what is buffered for the client. */
  readonly abort: () => void
  /** Told about every request and about the connection's start and end (metrics, request logs). */
  readonly observer?: RequestObserver
  /** The socket written synchronously: responses go out in the turn that finished them, without a fiber per write. */
  readonly direct?: DirectWriter
}

/**
 * Unsent response bytes above which the connection stops reading requests until the
 * client reads: a client that pipelines and never reads cannot grow broker memory.
 */
export const OUTPUT_BACKLOG_LIMIT = 1 << 20

/**
 * A response that cannot be written yet because an earlier one is still being computed.
 * Filled with its frame (possibly empty: Kafka sends none) when its handler finishes.
 */
interface Slot {
  done: boolean
  chunks: Array<Uint8Array> | null
  obs: RequestObservation | undefined
}

/** Most requests handled together (see handleGroup): what was read at once, bounded. */
const MAX_GROUP = 32

/** Output buffers start at this size; a connection's next buffer is as large as its last batch. */
const MIN_OUT_CAPACITY = 4096

/** Bytes per request from which a connection's requests count as large (its turns read up to DIRECT_READ_LIMIT_LARGE_REQUESTS). */
const LARGE_REQUEST_BYTES = 16 * 1024

/** What the broker holds on to per connection, to stop it at shutdown or when it idles. */
export interface ConnectionHandle {
  /** Stop reading requests; the connection finishes what it has and closes. */
  readonly drain: Effect.Effect<void>
  readonly closed: Effect.Effect<void>
  /**
   * Why the connection counts as idle at `now` (ms) and for how long, or undefined while it
   * is working: a request is being handled and its response is not stuck behind a client
   * that does not read. Idle time runs from the last complete request read or response written.
   */
  readonly idleness: (now: number) => { readonly idleMs: number; readonly reason: string } | undefined
  /** Closes the connection at once (in-flight requests are abandoned), logging `reason`. */
  readonly close: (reason: string) => Effect.Effect<void>
}

export const serveConnection = <R>(
  socket: Socket.Socket,
  registry: HandlerRegistry<R>,
  options: ConnectionOptions,
  register: (handle: ConnectionHandle) => Effect.Effect<void, never, Scope.Scope>
): Effect.Effect<void, never, R> =>
  Effect.scoped(
    Effect.gen(function*() {
      const reader = yield* socket.reader
      // Acquiring the reader opens the socket (and closes it with this scope); reading itself is direct where the transport allows.
      // Whether this connection's requests are large (Produce batches): its turns may then read
      // more (DIRECT_READ_LIMIT_LARGE_REQUESTS), into slabs of its own from then on. Judged on
      // each pull: its bytes per request read.
      let largeRequests = false
      const pull: Effect.Effect<ReadonlyArray<Uint8Array | string>, Socket.SocketError> = options.direct === undefined
        ? reader.pull
        : options.direct.takeOverReading(() => largeRequests, () => frames.pendingBytes)
      const writer = yield* socket.writer
      // A frame spread over separate socket buffers is copied into a lent buffer, given back once
      // its request is done when its handler keeps none of its bytes (Produce; see releaseFrame).
      // Once its requests count as large, the connection reads into slabs of its own, where
      // frames lie in one piece (see Listeners.takeOverReading).
      const frames = new FrameReader(options.maxRequestSize, acquireReadBuffer)
      /** The next frame; one cut from a read slab holds it until its request gives it back (releaseFrame). */
      const nextFrame = (): ReturnType<FrameReader["next"]> => {
        const frame = frames.next()
        if (frame instanceof Uint8Array) holdReadBuffer(frame)
        return frame
      }
      const clock = yield* Clock.Clock
      const blockingFibers = yield* FiberSet.make<void, never>()
      // Writes run in their own fiber: the frame loop never waits on the network, so a client
      // that stops reading can still be closed (the loop runs uninterruptibly).
      const writeFibers = yield* FiberSet.make<void, Socket.SocketError>()
      // Runs, from a plain callback (a drained socket), what a finished observation asks for (a log line).
      const runWriteFiber = yield* FiberSet.runtime(writeFibers)()
      let lastActivity = clock.currentTimeMillisUnsafe()
      // Requests read and not yet answered; requests read in all.
      let unanswered = 0
      let requestsRead = 0
      // Completed when a write finishes or a response is ready: what a backpressured reader waits for.
      let progress: Deferred.Deferred<void> | undefined
      const signalProgress = (): void => {
        const waited = progress
        if (waited === undefined) return
        // Cleared first: completing it resumes the frame loop synchronously (from a drained
        // socket's callback), which may read, answer, and wait again on a new `progress` before
        // doneUnsafe returns. Cleared after, that new one was lost and the connection stalled.
        progress = undefined
        Deferred.doneUnsafe(waited, Effect.void)
      }
      // Responses in request order: `out` holds every finished response not yet written, in
      // order; `queue` holds the responses from the first unfinished one on. A response with
      // nothing unfinished before it is encoded straight into `out`: no copy, no allocation.
      let out = new ResponseBuffer(MIN_OUT_CAPACITY)
      const queue: Array<Slot> = []
      const scratch = new ResponseBuffer(MIN_OUT_CAPACITY)
      let writing = false
      let writeAgain = false
      const observer = options.observer ?? noObserver
      // Observations of the responses in `out`, finished when the write carrying them is done.
      let outObs: Array<RequestObservation> = []
      // Clock reads are rationed (one per request, plus one per read and per write): a handler
      // run in the frame loop starts when the previous one finished or the bytes arrived.
      let receivedAt = 0
      let lastClock = 0
      // Client quotas (KIP-219): a throttled response is sent at once, then no request is
      // handled (nor, once the ones buffered are held, read) until `mutedUntil` (Clock ms).
      let mutedUntil = 0
      // Frames read and left unhandled (muted, or backpressured: see handleFrames), handled before reading more.
      let heldFrames = false
      const services = yield* Effect.context<R>()
      const connection = {
        ...options,
        services: services as Context.Context<never>,
        throttleChannel: (throttleTimeMs: number): void => {
          const until = clock.currentTimeMillisUnsafe() + throttleTimeMs
          if (until > mutedUntil) mutedUntil = until
        }
      }
      const muted = (): boolean => {
        if (clock.currentTimeMillisUnsafe() < mutedUntil) return true
        mutedUntil = 0
        return false
      }

      const observe = (d: Extract<ReturnType<typeof dispatch>, { _tag: "Handle" }>): RequestObservation | undefined =>
        observer.enabled
          ? {
            apiKey: d.apiKey,
            apiName: d.apiName,
            apiVersion: d.apiVersion,
            correlationId: d.correlationId,
            clientId: d.clientId,
            clientAddress: options.clientAddress,
            listenerName: options.listenerName,
            request: d.request,
            response: undefined,
            receivedAt,
            startedAt: lastClock,
            completedAt: 0,
            sendStartedAt: 0,
            sentAt: 0
          }
          : undefined

      // Request frames that go back to the buffer pool once their observation is finished:
      // observers read the decoded request (views into the frame) when told it is done.
      const framesObserved = new Map<RequestObservation, Uint8Array>()
      /** Gives back the frame of a request whose handler released it, now or after its observation. */
      const releaseFrame = (frame: Uint8Array, obs: RequestObservation | undefined): void => {
        if (!holdsReadBuffers([frame])) return
        if (obs === undefined) releaseReadBuffers([frame])
        else framesObserved.set(obs, frame)
      }

      const finishObservations = (done: Array<RequestObservation>, sendStartedAt: number): Effect.Effect<void> => {
        const now = performance.now()
        let effects: Array<Effect.Effect<void>> | undefined
        for (const o of done) {
          o.sendStartedAt = sendStartedAt
          o.sentAt = now
          // Observers read what they need now; the Effects they return (log lines) hold no request bytes.
          const e = observer.requestDone(o)
          if (e !== undefined) (effects ??= []).push(e)
          if (framesObserved.size > 0) {
            const frame = framesObserved.get(o)
            if (frame !== undefined) {
              framesObserved.delete(o)
              releaseReadBuffers([frame])
            }
          }
        }
        return effects === undefined ? Effect.void : Effect.forEach(effects, (e) => e, { discard: true })
      }

      /** Encodes into `w`, leaving it as it was if encoding throws (a bug: the connection then closes). */
      const writeInto = (w: ResponseBuffer, respond: (w: Writer) => void): void => {
        const mark = w.mark()
        try {
          respond(w)
        } catch (e) {
          w.rewind(mark)
          throw e
        }
      }

      /** Records the response of `slot` (or of a request with no slot: nothing pending before it). */
      const complete = (slot: Slot | undefined, obs: RequestObservation | undefined, body: unknown, respond: (w: Writer) => void): void => {
        unanswered--
        signalProgress()
        if (obs !== undefined) {
          obs.completedAt = lastClock = performance.now()
          obs.response = body
        }
        if (slot === undefined) {
          writeInto(out, respond)
          if (obs !== undefined) outObs.push(obs)
          return
        }
        if (queue[0] !== slot) {
          respond(scratch.reset())
          slot.chunks = scratch.byteLength === 0 ? null : scratch.chunks(true)
          slot.done = true
          slot.obs = obs
          return
        }
        writeInto(out, respond)
        if (obs !== undefined) outObs.push(obs)
        queue.shift()
        while (queue.length > 0 && queue[0]!.done) {
          const next = queue.shift()!
          if (next.chunks !== null) for (const c of next.chunks) out.raw(c)
          if (next.obs !== undefined) outObs.push(next.obs)
        }
      }

      // Writes what `out` holds as one buffer, in a fiber of its own. Only one write runs at
      // a time; a flush requested meanwhile is picked up by the writer's loop.
      const writeOut: Effect.Effect<void, Socket.SocketError> = Effect.suspend(() => {
        // The socket keeps the buffer until it is sent: the next responses go to a new one.
        const chunks = out.chunks()
        out = new ResponseBuffer(Math.max(MIN_OUT_CAPACITY, out.pos))
        const sending = outObs
        const sendStartedAt = sending.length > 0 ? performance.now() : 0
        if (sending.length > 0) outObs = []
        return (chunks.length === 1 ? writer.write(chunks[0]!) : writer.writeAll(chunks as [Uint8Array, ...Array<Uint8Array>])).pipe(
          Effect.andThen(Effect.suspend(() => (sending.length > 0 ? finishObservations(sending, sendStartedAt) : Effect.void))),
          Effect.andThen(Effect.suspend(() => {
            lastActivity = clock.currentTimeMillisUnsafe()
            signalProgress()
            if (!writeAgain || out.byteLength === 0) return Effect.void
            writeAgain = false
            return writeOut
          }))
        )
      })
      const direct = options.direct
      // Hands what `out` holds to the socket now; whether the socket can take more at once.
      const writeDirect = (d: DirectWriter): { readonly drained: boolean; readonly done: Effect.Effect<void> } => {
        const chunks = out.chunks()
        const sending = outObs
        const sendStartedAt = sending.length > 0 ? performance.now() : 0
        if (sending.length > 0) outObs = []
        // Segment read buffers spliced into the responses go back to their pool once written.
        const drained = holdsReadBuffers(chunks) ? d.write(chunks, () => releaseReadBuffers(chunks)) : d.write(chunks)
        // The kernel took it all: `out` is free again. Else the socket still holds its bytes.
        if (d.flushed()) out.reset()
        else out = new ResponseBuffer(Math.max(MIN_OUT_CAPACITY, out.pos))
        lastActivity = clock.currentTimeMillisUnsafe()
        signalProgress()
        return { drained, done: sending.length > 0 ? finishObservations(sending, sendStartedAt) : Effect.void }
      }
      // Called when no write is in progress any more; wakes whoever waits for that (shutdown, a rejection).
      let writeWaiters: Array<() => void> = []
      const writeSettled = (): void => {
        writing = false
        signalProgress()
        if (writeWaiters.length === 0) return
        const waiters = writeWaiters
        writeWaiters = []
        for (const f of waiters) f()
      }
      /** Completes once no write is in progress (the direct writes' drain waits are not fibers). */
      const writesSettled: Effect.Effect<void> = Effect.callback<void>((resume) => {
        if (!writing) return resume(Effect.void)
        const f = () => resume(Effect.void)
        writeWaiters.push(f)
        return Effect.sync(() => {
          writeWaiters = writeWaiters.filter((w) => w !== f)
        })
      })
      // The socket's buffer is full: once it drains, write what was finished meanwhile. Plain
      // callbacks: a large fetch response fills the socket's buffer more often than not.
      // A loop: writing signals progress, which may run the frame loop right here and leave
      // new responses in `out` (its own flush saw this write in progress and left them).
      const awaitDrain = (d: DirectWriter): void =>
        d.onDrained(() => {
          lastActivity = clock.currentTimeMillisUnsafe()
          while (out.byteLength > 0) {
            const w = writeDirect(d)
            if (w.done !== Effect.void) runWriteFiber(w.done)
            if (!w.drained) return awaitDrain(d)
          }
          writeSettled()
        })
      const flush: Effect.Effect<void> = Effect.suspend(() => {
        if (writing) {
          writeAgain = true
          return Effect.void
        }
        if (out.byteLength === 0) {
          // Only responses Kafka does not send (acks=0): they are done now.
          if (outObs.length > 0) {
            const done = outObs
            outObs = []
            return finishObservations(done, performance.now())
          }
          return Effect.void
        }
        if (direct !== undefined) {
          const w = writeDirect(direct)
          if (!w.drained) {
            writing = true
            awaitDrain(direct)
          }
          return w.done
        }
        writing = true
        writeAgain = false
        return Effect.asVoid(FiberSet.run(writeFibers, Effect.ensuring(writeOut, Effect.sync(writeSettled))))
      })

      // Backpressure: too many requests unanswered, or too many response bytes the client has not taken.
      const mustWait = (): boolean => unanswered >= options.maxQueuedRequests || (writing && out.byteLength >= OUTPUT_BACKLOG_LIMIT)
      // Whether the frame loop waits for progress (for the idle-close line: a wait no signal can reach shows as such).
      let loopAwaitsProgress = false
      const resumedFromProgress: Effect.Effect<void> = Effect.suspend(() => {
        loopAwaitsProgress = false
        return awaitProgress
      })
      const awaitProgress: Effect.Effect<void> = Effect.suspend(() => {
        if (!mustWait()) return Effect.void
        progress ??= Deferred.makeUnsafe<void>()
        loopAwaitsProgress = true
        return Effect.andThen(Deferred.await(progress), resumedFromProgress)
      })

      // Requests before a rejected one are answered (Kafka handles them one by one), then the connection closes.
      const rejectAfterFlush = (reason: string) => Effect.andThen(flush, Effect.fail(new RequestRejected({ reason })))

      const defect = (apiName: string, correlationId: number, cause: unknown) =>
        Effect.fail(new HandlerDefect({ apiName, correlationId, cause }))

      // Requests handled together with the one before them, waiting for their turn to be
      // answered; and a frame read while looking for them that was not one of them.
      const grouped: Array<{ readonly decision: Extract<Decision<R>, { _tag: "Handle" }>; readonly result: () => Effect.Effect<unknown, never, R> }> = []
      let carried: Uint8Array | FrameError | undefined
      /**
       * The requests of `first`'s API that directly follow it in what was read are handled
       * with it in one call (Produce: one write per partition for all of them). Their
       * results wait in `grouped`; `first`'s is returned. Not across a mute (client quotas).
       */
      const handleGroup = (first: Extract<Decision<R>, { _tag: "Handle" }>): Effect.Effect<unknown, never, R> => {
        const many = first.many!
        const group = [first]
        while (group.length < MAX_GROUP && mutedUntil === 0) {
          const next = nextFrame()
          if (next === undefined) break
          if (isFrameError(next) || peekRequestPrefix(next)?.apiKey !== first.apiKey) {
            carried = next
            break
          }
          const d = dispatch(registry, next, connection, true)
          if (d._tag !== "Handle" || d.many === undefined) {
            // Answered (or rejected) on its own turn: dispatched again then.
            carried = next
            break
          }
          group.push(d)
        }
        // Alone: answered as handleWith answers it, without a deferred Effect.
        if (group.length === 1) return many.handler.handleWith!(many.item.request, many.item.ctx, services)
        const results = many.handler.handleManyWith!(group.map((d) => d.many!.item), services)
        if (results === undefined) {
          for (let i = 1; i < group.length; i++) {
            const d = group[i]!
            grouped.push({ decision: d, result: () => d.result })
          }
          return first.result
        }
        for (let i = 1; i < group.length; i++) grouped.push({ decision: group[i]!, result: results[i]! })
        return results[0]!()
      }

      // Handles every complete frame buffered so far, then flushes. Plain code as long as
      // handlers answer with an already-computed Exit (most do); a handler that needs to
      // run is run, and the loop resumes after it. Blocking handlers get their own fiber.
      const handleFrames = (): Effect.Effect<void, RequestRejected | HandlerDefect | Socket.SocketError, R> => {
        while (true) {
          // Backpressure per request, not per read: one pull may deliver a wake-up's worth of
          // requests, whose responses must not pile up past the limits.
          // A full output buffer is written first; the rest waits if the socket does not take it.
          if ((mutedUntil !== 0 && muted()) || unanswered >= options.maxQueuedRequests || out.byteLength >= OUTPUT_BACKLOG_LIMIT) {
            heldFrames = true
            return flush
          }
          let decision: Decision<R>
          let result: Effect.Effect<unknown, never, R>
          const ready = grouped.shift()
          if (ready !== undefined) {
            decision = ready.decision
            result = ready.result()
          } else {
            const next = carried ?? nextFrame()
            carried = undefined
            if (next === undefined) return flush
            if (isFrameError(next)) {
              return rejectAfterFlush(
                next._tag === "FrameTooLarge"
                  ? `request size ${next.size} exceeds socket.request.max.bytes ${next.max}`
                  : `negative request size ${next.size}`
              )
            }
            decision = dispatch(registry, next, connection, true)
            if (decision._tag === "Reject") return rejectAfterFlush(decision.reason)
            result = decision.many === undefined ? decision.result : handleGroup(decision)
          }
          unanswered++
          requestsRead++
          const { apiName, correlationId, respond } = decision
          // Only a response behind an unfinished one, or one that will wait (a blocking handler
          // that did not answer at once), needs a slot to wait in.
          const slot: Slot | undefined = queue.length > 0 || (decision.blocking && !Exit.isExit(result)) ? { done: false, chunks: null, obs: undefined } : undefined
          if (slot !== undefined) queue.push(slot)
          const obs = observe(decision)
          if (Exit.isExit(result)) {
            if (Exit.isFailure(result)) return defect(apiName, correlationId, Cause.squash(result.cause))
            try {
              complete(slot, obs, result.value, (w) => respond(result.value, w))
            } catch (e) {
              return defect(apiName, correlationId, e)
            }
            if (decision.releasableFrame !== undefined) releaseFrame(decision.releasableFrame, obs)
            continue
          }
          if (decision.blocking) {
            const run = result.pipe(
              Effect.flatMap((body) =>
                Effect.sync(() => {
                  complete(slot, obs, body, (w) => respond(body, w))
                  if (decision.releasableFrame !== undefined) releaseFrame(decision.releasableFrame, obs)
                })
              ),
              Effect.andThen(flush),
              Effect.catchCause((cause) =>
                Cause.hasInterruptsOnly(cause)
                  ? Effect.void
                  : Effect.andThen(
                    logEnd(new HandlerDefect({ apiName, correlationId, cause: Cause.squash(cause) })),
                    Fiber.interrupt(readFiber!)
                  )
              )
            )
            // Interruptible although forked from the uninterruptible frame loop: a client that
            // goes away must not leave its long poll running.
            return Effect.andThen(FiberSet.run(blockingFibers, Effect.interruptible(run)), Effect.suspend(handleFrames))
          }
          return result.pipe(
            Effect.flatMap((body) => {
              try {
                complete(slot, obs, body, (w) => respond(body, w))
              } catch (e) {
                return defect(apiName, correlationId, e)
              }
              if (decision.releasableFrame !== undefined) releaseFrame(decision.releasableFrame, obs)
              return handleFrames()
            }),
            Effect.catchDefect((cause) => defect(apiName, correlationId, cause))
          )
        }
      }

      // Shutdown interrupts this loop only while it waits for input: requests already read
      // are handled to the end (a CreateTopics is never cut between its metadata and its logs).
      const awaitUnmuted: Effect.Effect<void> = Effect.suspend(() => {
        const wait = mutedUntil - clock.currentTimeMillisUnsafe()
        return wait > 0 ? Effect.andThen(Effect.sleep(wait), awaitUnmuted) : Effect.void
      })
      // Requests read before the connection was muted or backpressured are handled once it no longer is, before reading more.
      const handleHeld = Effect.suspend(() => {
        heldFrames = false
        lastActivity = clock.currentTimeMillisUnsafe()
        return Effect.uninterruptible(handleFrames())
      })
      const readLoop: Effect.Effect<never, RequestRejected | HandlerDefect | Socket.SocketError, R> = Effect.forever(
        Effect.andThen(
          Effect.andThen(awaitProgress, awaitUnmuted),
          Effect.suspend(() => heldFrames ? handleHeld : Effect.flatMap(pull, (chunks) => {
            if (observer.enabled) receivedAt = lastClock = performance.now()
            let pulled = 0
            for (const chunk of chunks) {
              const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk
              pulled += bytes.length
              frames.push(bytes)
            }
            const before = requestsRead
            return Effect.uninterruptible(handleFrames()).pipe(
              Effect.andThen(Effect.sync(() => {
                const read = requestsRead - before
                // A pull that completed no request is part of a large one.
                largeRequests = pulled >= LARGE_REQUEST_BYTES * Math.max(1, read)
                if (read !== 0) lastActivity = clock.currentTimeMillisUnsafe()
              }))
            )
          }))
        ),
        // No scheduler hop (a setImmediate) per read: the loop waits on the socket between
        // reads anyway, and the runtime still yields after its operation budget.
        { disableYield: true }
      )

      const logEnd = (reason: RequestRejected | HandlerDefect | Socket.SocketError | "drained") => {
        if (reason === "drained") return Effect.logInfo(`connection from ${options.clientAddress} closed for shutdown`)
        if (closeReason !== undefined) return Effect.void
        switch (reason._tag) {
          case "RequestRejected":
            return Effect.logWarning(`closing connection from ${options.clientAddress}: ${reason.reason}`)
          case "HandlerDefect":
            return Effect.logError(
              `closing connection from ${options.clientAddress}: ${reason.apiName} handler failed (correlation id ${reason.correlationId})`,
              reason.cause
            )
          default:
            return Effect.logDebug(`connection from ${options.clientAddress} closed by client`)
        }
      }

      // For the log line of a connection closed as idle, so that a stalled one explains itself:
      // what was read, answered and written, and the socket's own state.
      const connectionState = (): string =>
        `${requestsRead} requests read, ${unanswered} unanswered, ${queue.length} queued, ${frames.pendingBytes} bytes of a frame pending, ` +
        `${!loopAwaitsProgress ? "frame loop not waiting for progress" : progress === undefined ? "frame loop waiting for progress that nothing will signal" : "frame loop waiting for progress"}; writing ${writing}, ${out.byteLength} response bytes unwritten` +
        (direct === undefined ? "" : `; ${direct.readState()}`)

      yield* Effect.logDebug(`connection from ${options.clientAddress} on ${options.listenerName} opened`)
      observer.connectionOpened(options.listenerName)
      yield* Effect.addFinalizer(() => Effect.sync(() => observer.connectionClosed(options.listenerName)))
      let draining = false
      let closeReason: string | undefined
      const readFiber: Fiber.Fiber<never, RequestRejected | HandlerDefect | Socket.SocketError> = yield* Effect.forkScoped(
        Effect.catchCause(readLoop, (cause) => {
          if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
          const error = Cause.squash(cause)
          const known = error instanceof RequestRejected || error instanceof HandlerDefect || (error as Socket.SocketError)?._tag === "SocketError"
          return Effect.andThen(
            logEnd(known ? (error as RequestRejected | HandlerDefect | Socket.SocketError) : new HandlerDefect({ apiName: "?", correlationId: -1, cause: error })),
            Effect.failCause(cause)
          )
        })
      )
      const closed = yield* Deferred.make<void>()
      yield* Effect.addFinalizer(() => Deferred.succeed(closed, undefined))
      yield* register({
        drain: Effect.suspend(() => {
          draining = true
          return Fiber.interrupt(readFiber)
        }),
        closed: Deferred.await(closed),
        idleness: (now) => {
          // Working: a request is being handled and no response waits on the client.
          if (unanswered > 0 && !writing) return undefined
          // Muted for a quota: the broker, not the client, holds its requests back.
          if (mutedUntil !== 0 && muted()) return undefined
          const reason = writing
            ? "the client has not read its responses"
            : frames.pendingBytes > 0
            ? `a request was not completed (${frames.pendingBytes} bytes of it received)`
            : "no requests"
          return { idleMs: now - lastActivity, reason: `${reason} [${connectionState()}]` }
        },
        // Does not wait for the read loop to stop (it may be finishing a request): the sweep
        // that calls this must not stall on one connection.
        close: (reason) =>
          Effect.sync(() => {
            closeReason ??= reason
            readFiber.interruptUnsafe()
          })
      })
      const exit = yield* Fiber.await(readFiber)
      if (closeReason !== undefined) {
        yield* Effect.logWarning(`closing connection from ${options.clientAddress}: ${closeReason}`)
        options.abort()
        return
      }
      if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) && draining) {
        // Shutdown: everything already read gets its response, within the drain bound.
        yield* FiberSet.awaitEmpty(blockingFibers).pipe(
          Effect.andThen(flush),
          Effect.andThen(writesSettled),
          Effect.andThen(FiberSet.awaitEmpty(writeFibers)),
          Effect.timeoutOption(options.drainTimeout),
          Effect.ignore
        )
        yield* logEnd("drained")
      } else if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
        // Responses to the requests before a rejected one go out before the close, within the drain bound.
        yield* Effect.andThen(writesSettled, FiberSet.awaitEmpty(writeFibers)).pipe(Effect.timeoutOption(options.drainTimeout), Effect.ignore)
      }
    })
  ).pipe(
    Effect.catchTag("SocketError", (error) => Effect.logDebug(`connection from ${options.clientAddress} failed: ${error.message}`))
  )
