/**
 * One client connection, supervised by one fiber. It reads frames, dispatches them, and
 * writes responses strictly in request order, whatever order the handlers finish in
 * (clients pipeline; Kafka guarantees ordering per connection). It owns every way the
 * connection can end and logs it: client disconnect, rejected request, handler defect,
 * broker shutdown (stop reading, let in-flight requests finish, bounded, then close).
 */
import { Cause, Deferred, type Duration, Effect, Exit, Fiber, FiberSet, type Scope } from "effect"
import type * as Socket from "effect/socket/Socket"
import type { HandlerRegistry } from "../handlers/registry.ts"
import { FrameReader, isFrameError } from "../protocol/framing.ts"
import { type ConnectionInfo, dispatch } from "./dispatch.ts"
import { HandlerDefect, RequestRejected } from "./errors.ts"

export interface ConnectionOptions extends ConnectionInfo {
  readonly maxRequestSize: number
  /** How long a shutting-down connection waits for its in-flight requests. */
  readonly drainTimeout: Duration.Input
}

/** A response slot: filled (bytes, or null for no response) when its handler finishes. */
interface Slot {
  done: boolean
  bytes: Uint8Array | null
}

/** What the broker holds on to per connection, to stop it at shutdown. */
export interface ConnectionHandle {
  /** Stop reading requests; the connection finishes what it has and closes. */
  readonly drain: Effect.Effect<void>
  readonly closed: Effect.Effect<void>
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
      const writer = yield* socket.writer
      const frames = new FrameReader(options.maxRequestSize)
      const blockingFibers = yield* FiberSet.make<void, never>()
      const queue: Array<Slot> = []
      let writing = false
      let writeAgain = false

      // Writes every finished response at the head of the queue. Only one fiber writes at a
      // time; a flush requested meanwhile is picked up by the writer's loop.
      const flush: Effect.Effect<void, Socket.SocketError> = Effect.suspend(() => {
        if (writing) {
          writeAgain = true
          return Effect.void
        }
        const ready: Array<Uint8Array> = []
        while (queue.length > 0 && queue[0]!.done) {
          const slot = queue.shift()!
          if (slot.bytes !== null) ready.push(slot.bytes)
        }
        if (ready.length === 0) return Effect.void
        writing = true
        return writer.writeAll(ready as [Uint8Array, ...Array<Uint8Array>]).pipe(
          Effect.ensuring(Effect.sync(() => {
            writing = false
          })),
          Effect.andThen(Effect.suspend(() => {
            if (!writeAgain) return Effect.void
            writeAgain = false
            return flush
          }))
        )
      })

      // Requests before a rejected one are answered (Kafka handles them one by one), then the connection closes.
      const rejectAfterFlush = (reason: string) => Effect.andThen(flush, Effect.fail(new RequestRejected({ reason })))

      const handleFrame = (frame: Uint8Array): Effect.Effect<void, RequestRejected | Socket.SocketError, R> => {
        const decision = dispatch(registry, frame, options)
        if (decision._tag === "Reject") return rejectAfterFlush(decision.reason)
        const slot: Slot = { done: false, bytes: null }
        queue.push(slot)
        const fill = (bytes: Uint8Array | null) => {
          slot.done = true
          slot.bytes = bytes
        }
        if (!decision.blocking) return Effect.map(decision.response, fill)
        // A blocking handler runs beside the read loop; a defect in it ends the connection.
        const run = decision.response.pipe(
          Effect.map(fill),
          Effect.andThen(flush),
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.void
              : Effect.andThen(
                logEnd(new HandlerDefect({ apiName: decision.apiName, correlationId: decision.correlationId, cause: Cause.squash(cause) })),
                Fiber.interrupt(readFiber!)
              )
          )
        )
        return Effect.asVoid(FiberSet.run(blockingFibers, run))
      }

      const readLoop: Effect.Effect<never, RequestRejected | Socket.SocketError, R> = Effect.forever(
        Effect.gen(function*() {
          const chunks = yield* reader.pull
          for (const chunk of chunks) {
            frames.push(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk)
          }
          while (true) {
            const next = frames.next()
            if (next === undefined) break
            if (isFrameError(next)) {
              return yield* rejectAfterFlush(
                next._tag === "FrameTooLarge"
                  ? `request size ${next.size} exceeds socket.request.max.bytes ${next.max}`
                  : `negative request size ${next.size}`
              )
            }
            yield* handleFrame(next)
          }
          yield* flush
        })
      )

      const logEnd = (reason: RequestRejected | HandlerDefect | Socket.SocketError | "drained") => {
        if (reason === "drained") return Effect.logInfo(`connection from ${options.clientAddress} closed for shutdown`)
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

      yield* Effect.logDebug(`connection from ${options.clientAddress} on ${options.listenerName} opened`)
      let draining = false
      const readFiber: Fiber.Fiber<never, RequestRejected | Socket.SocketError> = yield* Effect.forkScoped(
        Effect.catchCause(readLoop, (cause) => {
          if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
          const error = Cause.squash(cause)
          if (error instanceof RequestRejected || (error as Socket.SocketError)?._tag === "SocketError") {
            return Effect.andThen(logEnd(error as RequestRejected | Socket.SocketError), Effect.failCause(cause))
          }
          return Effect.andThen(logEnd(new HandlerDefect({ apiName: "?", correlationId: -1, cause: error })), Effect.failCause(cause))
        })
      )
      const closed = yield* Deferred.make<void>()
      yield* Effect.addFinalizer(() => Deferred.succeed(closed, undefined))
      yield* register({
        drain: Effect.suspend(() => {
          draining = true
          return Fiber.interrupt(readFiber)
        }),
        closed: Deferred.await(closed)
      })
      const exit = yield* Fiber.await(readFiber)
      if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) && draining) {
        // Shutdown: everything already read gets its response, within the drain bound.
        yield* FiberSet.awaitEmpty(blockingFibers).pipe(
          Effect.andThen(flush),
          Effect.timeoutOption(options.drainTimeout),
          Effect.ignore
        )
        yield* logEnd("drained")
      }
    })
  ).pipe(
    Effect.catchTag("SocketError", (error) => Effect.logDebug(`connection from ${options.clientAddress} failed: ${error.message}`))
  )
