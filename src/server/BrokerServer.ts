/**
 * The broker's network front: binds every served listener, runs one supervised
 * connection per client, and on shutdown stops reading, lets in-flight requests finish
 * within a bound, and closes. Handlers come in through the registry.
 */
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import type { HandlerRegistry } from "../handlers/registry.ts"
import { type ConnectionHandle, serveConnection } from "./connection.ts"
import { type ConnectionLimits, ConnectionQuotas, UNLIMITED_CONNECTIONS } from "./connection-quotas.ts"
import { BrokerLifecycle } from "../lifecycle/Lifecycle.ts"
import { type ListenerSpec, Listeners } from "./Listeners.ts"
import type { RequestObserver } from "./observer.ts"

export interface BrokerServerOptions {
  readonly listeners: ReadonlyArray<ListenerSpec>
  /** socket.request.max.bytes: frames above it are refused before any allocation. */
  readonly maxRequestSize: number
  /** How long shutdown waits for in-flight requests. */
  readonly drainTimeout: Duration.Input
  /** connections.max.idle.ms (Kafka's default 600000). */
  readonly idleTimeoutMs?: number
  /** queued.max.requests, per connection (Kafka's default 500). */
  readonly maxQueuedRequests?: number
  readonly connectionLimits?: ConnectionLimits
  readonly observer?: RequestObserver
}

/** How often idle connections are looked for: often enough to close them near their deadline. */
const idleCheckIntervalMs = (idleTimeoutMs: number): number => Math.min(1000, Math.max(10, Math.floor(idleTimeoutMs / 4)))

export interface BoundAddress {
  readonly listenerName: string
  readonly host: string
  readonly port: number
}

/** A listener cannot be bound (port in use, address not local, no permission): fatal at start-up. */
export class ListenerBindError extends Schema.TaggedError<ListenerBindError>()("ListenerBindError", {
  listener: Schema.String,
  message: Schema.String
}) {}

export class BrokerServer extends Context.Service<BrokerServer, {
  readonly addresses: ReadonlyArray<BoundAddress>
}>()("kafka-broker/server/BrokerServer") {
  static readonly layer = <R>(registry: HandlerRegistry<R>, options: BrokerServerOptions): Layer.Layer<BrokerServer, ListenerBindError, Listeners | R> =>
    Layer.effect(
      BrokerServer,
      Effect.gen(function*() {
        const listeners = yield* Listeners
        const connections = new Set<ConnectionHandle>()
        const quotas = new ConnectionQuotas(options.connectionLimits ?? UNLIMITED_CONNECTIONS)
        const idleTimeoutMs = options.idleTimeoutMs ?? 600_000
        let draining = false
        const addresses: Array<BoundAddress> = []

        for (const spec of options.listeners) {
          const bound = yield* listeners.bind(spec).pipe(
            Effect.catchTag("SocketServerError", (e) =>
              Effect.fail(
                new ListenerBindError({
                  listener: `${spec.name}://${spec.host}:${spec.port}`,
                  message: `cannot listen on ${spec.name}://${spec.host}:${spec.port} (listeners): ${String(e.reason.cause ?? e.message)}`
                })
              ))
          )
          yield* Effect.forkScoped(
            bound.server.run((socket) =>
              Effect.gen(function*() {
                // Accepted while shutting down: closed at once, unread. (The socket is only
                // opened, and so only closed on scope exit, once its reader is acquired.)
                if (draining) return yield* Effect.scoped(Effect.ignore(socket.reader))
                const ends = yield* listeners.connectionEnds
                // max.connections: wait for a slot, as Kafka's acceptor does; closed only when
                // the wait queue (the listen backlog) is full.
                if (!quotas.tryTakeSlot()) {
                  if (!quotas.canWait) {
                    yield* Effect.logWarning(`refusing connection from ${ends.peer}: max.connections ${quotas.count} reached and ${quotas.waiting} connection(s) already wait for a slot`)
                    return yield* Effect.scoped(Effect.ignore(socket.reader))
                  }
                  yield* Effect.logInfo(`max.connections ${quotas.count} reached: connection from ${ends.peer} waits for a slot`)
                  yield* Effect.callback<void>((resume) => {
                    const cancel = quotas.waitForSlot(() => resume(Effect.void))
                    return Effect.sync(cancel)
                  })
                }
                const refused = quotas.acquireIp(ends.peerIp)
                if (refused !== undefined) {
                  quotas.releaseSlot()
                  yield* Effect.logWarning(refused)
                  return yield* Effect.scoped(Effect.ignore(socket.reader))
                }
                yield* serveConnection(
                  socket,
                  registry,
                  {
                    clientAddress: ends.peer,
                    listenerName: spec.name,
                    advertisedHost: spec.advertisedHost === "" ? ends.localHost : spec.advertisedHost,
                    advertisedPort: spec.advertisedPort === 0 ? bound.port : spec.advertisedPort,
                    maxRequestSize: options.maxRequestSize,
                    drainTimeout: options.drainTimeout,
                    maxQueuedRequests: options.maxQueuedRequests ?? 500,
                    abort: ends.abort,
                    ...(options.observer === undefined ? {} : { observer: options.observer })
                  },
                  (handle) =>
                    Effect.acquireRelease(
                      Effect.sync(() => connections.add(handle)),
                      () => Effect.sync(() => connections.delete(handle))
                    )
                ).pipe(Effect.ensuring(Effect.sync(() => {
                  quotas.releaseIp(ends.peerIp)
                  quotas.releaseSlot()
                })))
              })
            )
          )
          const host = bound.host === "" ? "0.0.0.0" : bound.host
          addresses.push({ listenerName: spec.name, host, port: bound.port })
          yield* Effect.logInfo(`listening on ${spec.name}://${host}:${bound.port}`)
        }

        // Kafka's Selector closes connections idle past connections.max.idle.ms; so does this sweep.
        yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
          yield* Effect.sleep(Duration.millis(idleCheckIntervalMs(idleTimeoutMs)))
          const now = yield* Clock.currentTimeMillis
          for (const c of connections) {
            const idle = c.idleness(now)
            if (idle !== undefined && idle.idleMs > idleTimeoutMs) {
              yield* c.close(`idle for ${idle.idleMs} ms (connections.max.idle.ms ${idleTimeoutMs}): ${idle.reason}`)
            }
          }
        })))

        const lifecycle = yield* Effect.serviceOption(BrokerLifecycle)
        yield* Effect.addFinalizer(() =>
          Effect.gen(function*() {
            draining = true
            if (lifecycle._tag === "Some") yield* lifecycle.value.beginShutdown
            const open = [...connections]
            yield* Effect.logInfo(`shutting down: draining ${open.length} connection(s)`)
            yield* Effect.forEach(open, (c) => c.drain, { concurrency: "unbounded", discard: true })
            yield* Effect.forEach(open, (c) => c.closed, { concurrency: "unbounded", discard: true }).pipe(
              Effect.timeoutOption(Duration.sum(Duration.fromInputUnsafe(options.drainTimeout), Duration.seconds(1)))
            )
          })
        )
        return BrokerServer.of({ addresses })
      })
    )
}
