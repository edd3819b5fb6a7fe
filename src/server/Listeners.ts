/**
 * The Socket service the broker listens through: opens one SocketServer per Kafka
 * listener. The Node layer binds TCP with node:net; a test or another runtime can provide
 * a different implementation (in-memory sockets, TLS) without touching the broker.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { Context, Effect, Layer, type Scope } from "effect"
import * as Socket from "effect/socket/Socket"
import type * as SocketServer from "effect/socket/SocketServer"
import { acquireSharedReadBuffer, releaseReadBuffers } from "../log/read-buffers.ts"
import { readIntoOwnBuffers } from "./own-read-buffers.ts"

export interface ListenerSpec {
  readonly name: string
  /** What to tell clients: "" = the address they reached us on, 0 = the bound port. */
  readonly advertisedHost: string
  readonly advertisedPort: number
  /** The interface to bind; "" binds all interfaces, as in Kafka's `PLAINTEXT://:9092`. */
  readonly host: string
  /** 0 picks an ephemeral port. */
  readonly port: number
}

export interface BoundListener {
  readonly name: string
  readonly host: string
  readonly port: number
  readonly server: SocketServer.SocketServer["Service"]
}

export interface ConnectionEnds {
  /** "host:port" of the client, for logs. */
  readonly peer: string
  /** The client's IP address, for per-IP connection limits. */
  readonly peerIp: string
  /** The local address the client reached us on: what to advertise when the listener names no host. */
  readonly localHost: string
  /**
   * Drops the connection without flushing: closing a socket normally waits to send what is
   * buffered, which never happens for a client that does not read.
   */
  readonly abort: () => void
  /** Writes straight to the socket (see DirectWriter); absent where the transport has none. */
  readonly direct?: DirectWriter
}

/**
 * The connection's socket written without a fiber per write: `write` hands the bytes to the
 * socket at once and says whether it can take more; `onDrained` calls back once it can (a
 * plain callback: a large fetch response often fills the socket's buffer, and a fiber per
 * such wait showed in fetch profiles).
 */
export interface DirectWriter {
  /** `onWritten` runs once the socket has taken every chunk (not after a failed write). */
  readonly write: (chunks: ReadonlyArray<Uint8Array>, onWritten?: () => void) => boolean
  /** Calls `f` once, when the socket can take more or is closed (at once if it already can). */
  readonly onDrained: (f: () => void) => void
  /**
   * Whether everything written so far has gone to the kernel: the buffers written are then
   * no longer read and may be reused (a write the kernel took whole completes synchronously).
   */
  readonly flushed: () => boolean
  /**
   * Takes reading over from the Effect socket's reader (acquired first: it owns opening and
   * closing the socket) and returns a pull that hands out every chunk received since the
   * last one. The socket flows (Node delivers reads as they come, no read()/concat, no
   * read stop and start per request) and is paused only while `readLimit()` bytes wait
   * unpulled (DIRECT_READ_LIMIT by default), so a connection that stops pulling still stops
   * the client. Once `largeRequests()` says so, the limit is DIRECT_READ_LIMIT_LARGE_REQUESTS
   * and it reads into slabs of its own (see own-read-buffers.ts); a pull may then hold one
   * read of up to a slab past the limit. Given `unframedBytes` (how many of the bytes pulled
   * the caller has not yet cut into frames), a slab is reused once all its bytes are framed
   * and every frame cut from it, each held with holdReadBuffer, is given back with
   * releaseReadBuffers.
   */
  readonly takeOverReading: (
    largeRequests?: () => boolean,
    unframedBytes?: () => number
  ) => Effect.Effect<ReadonlyArray<Uint8Array>, Socket.SocketError>
  /** The read side's state, for a log line about a connection that stopped (bytes received, stream flags). */
  readonly readState: () => string
}

/** Received bytes not yet pulled above which a directly read socket is paused. */
export const DIRECT_READ_LIMIT = 256 * 1024

/**
 * The same bound for a connection whose requests are large (Produce batches; see
 * connection.ts): what a pull holds in requests is what the turn allocates in responses, and
 * the bound keeps a burst of small requests with large answers (Metadata, Fetch) small; a
 * connection of 64 KiB produce requests gets 16 requests into 1 MiB and answers each with a
 * few dozen bytes. For it the larger turn halves the response writes, and with them the wake-ups
 * of its client: 5–13 % less broker CPU per GB produced in two A/Bs (docs/performance-log.md, "The turn size").
 */
export const DIRECT_READ_LIMIT_LARGE_REQUESTS = 1024 * 1024

/** A connection of large requests reads into slabs of this size (see takeOverReading)... */
const OWN_READ_SLAB_BYTES = 1024 * 1024
/** ...each read into at least this much of one (Node reads 64 KiB at a time). */
const MIN_OWN_READ_BYTES = 64 * 1024
/** A read of less than this (the client is between requests) is followed by one into a buffer of IDLE_READ_BYTES instead of a slab. */
const SMALL_READ_BYTES = 2 * 1024
const IDLE_READ_BYTES = 4 * 1024

interface ReadCounters {
  received: number
  pulled: number
  pulls: number
  waiting: boolean
}

/**
 * Reads of every connection in one event-loop poll are handed over in one check-phase
 * callback, in the order they arrived, rather than a setImmediate each: what runs after the
 * callback, before the next one (microtasks: the produce appends committed together, see
 * src/log/group-commit.ts), then follows every connection's handling of its input.
 */
let deliveries: Array<() => void> = []
const deliverAll = (): void => {
  const due = deliveries
  deliveries = []
  for (const deliver of due) deliver()
}
const deliverInCheckPhase = (deliver: () => void): void => {
  if (deliveries.push(deliver) === 1) setImmediate(deliverAll)
}

/** The pull of DirectWriter.takeOverReading, over `socket` (exported for its tests). */
export const takeOverReading = (
  socket: NodeSocket.NetSocket["Service"],
  counters: ReadCounters = { received: 0, pulled: 0, pulls: 0, waiting: false },
  readLimit: () => number = () => DIRECT_READ_LIMIT,
  largeRequests: () => boolean = () => false,
  unframedBytes?: () => number
): Effect.Effect<ReadonlyArray<Uint8Array>, Socket.SocketError> => {
  let chunks: Array<Uint8Array> = []
  let bytes = 0
  let error: Socket.SocketError | undefined
  let waiter: ((effect: Effect.Effect<ReadonlyArray<Uint8Array>, Socket.SocketError>) => void) | undefined
  const deliver = () => {
    if (waiter === undefined) return
    if (chunks.length > 0) {
      const got = chunks
      counters.pulled += bytes
      chunks = []
      bytes = 0
      const resume = waiter
      waiter = undefined
      counters.waiting = false
      resume(Effect.succeed(got))
    } else if (error !== undefined) {
      const resume = waiter
      waiter = undefined
      counters.waiting = false
      resume(Effect.fail(error))
    }
  }
  const closeError = (code: number) => new Socket.SocketError({ reason: new Socket.SocketCloseError({ code }) })
  // The Effect reader's `readable` listener would keep the stream from flowing.
  socket.removeAllListeners("readable")
  // A waiting pull gets what was read in the event loop's poll phase at once, in its check
  // phase: libuv reads up to 32 chunks of 64 KiB from a socket per wake-up, each its own
  // 'data' event, and handling them together writes their batches and responses in one
  // write each instead of one per chunk. Reading pauses at the read limit, so one pull
  // takes at most that and a chunk: a client's burst of small requests answered with large
  // responses (Metadata for many topics) grew the broker's memory by twice as much unbounded.
  let scheduled = false
  const deliverScheduled = () => {
    scheduled = false
    deliver()
  }
  const received = (chunk: Buffer): void => {
    chunks.push(chunk)
    bytes += chunk.length
    counters.received += chunk.length
    if (waiter !== undefined && !scheduled) {
      scheduled = true
      deliverInCheckPhase(deliverScheduled)
    }
    // Bounds what one pull takes (a burst of requests handled in one go) as well as what waits unpulled.
    if (bytes >= readLimit()) socket.pause()
  }
  socket.on("data", received)
  // A connection of large requests reads into consecutive parts of a slab of its own (see
  // own-read-buffers.ts): its requests then lie in one piece each, except the one that
  // straddles two slabs. The socket holds the buffer of its next read while it waits, so a
  // read that found little (the client is between requests, or idle) drops the slab and the
  // next read goes into a small buffer: an idle connection holds that, not a slab. Slabs are
  // lent read buffers (src/log/read-buffers.ts), held by this reader until the connection has
  // framed every byte read into them (`unframedBytes` left of what was pulled) and by each
  // frame cut from them until its request lets it go: then they are reused. A slab one of
  // whose frames is never given back is collected once nothing refers to it.
  let ownBuffers = false
  let slab: Buffer | undefined
  let slabUsed = 0
  // The switch comes with a large request in flight: its first read goes into a slab.
  let lastRead = SMALL_READ_BYTES
  // Slabs no longer read into, each with the stream offset its last read ended at, oldest first.
  const dropped: Array<{ readonly slab: Buffer; readonly end: number }> = []
  const dropSlab = (): void => {
    // Without `unframedBytes` a slab is never reused: the caller may hold on to any chunk.
    if (slab !== undefined && unframedBytes !== undefined) dropped.push({ slab, end: counters.received })
    slab = undefined
  }
  const releaseFramedSlabs = (): void => {
    const framed = counters.pulled - unframedBytes!()
    while (dropped.length > 0 && dropped[0]!.end <= framed) releaseReadBuffers([dropped.shift()!.slab])
  }
  const nextReadBuffer = (): Buffer => {
    if (lastRead < SMALL_READ_BYTES) {
      dropSlab()
      return Buffer.allocUnsafeSlow(IDLE_READ_BYTES)
    }
    if (slab === undefined || slab.length - slabUsed < MIN_OWN_READ_BYTES) {
      dropSlab()
      slab = acquireSharedReadBuffer(OWN_READ_SLAB_BYTES)
      slabUsed = 0
    }
    return slab.subarray(slabUsed)
  }
  const receivedIntoOwnBuffer = (chunk: Buffer): void => {
    lastRead = chunk.length
    if (slab !== undefined && chunk.buffer === slab.buffer) slabUsed = chunk.byteOffset - slab.byteOffset + chunk.length
    received(chunk)
  }
  // End of stream: bytes already received are pulled before the error.
  socket.on("end", () => {
    error ??= closeError(1000)
    deliver()
  })
  socket.on("error", (cause) => {
    error ??= new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })
    chunks = []
    deliver()
  })
  socket.on("close", (hadError) => {
    error ??= closeError(hadError ? 1006 : 1000)
    deliver()
  })
  socket.resume()
  return Effect.callback((resume) => {
    counters.pulls++
    counters.waiting = true
    if (!ownBuffers && largeRequests()) ownBuffers = readIntoOwnBuffers(socket, nextReadBuffer, receivedIntoOwnBuffer)
    if (dropped.length > 0) releaseFramedSlabs()
    if (chunks.length > 0 || error !== undefined) {
      waiter = resume
      deliver()
      if (socket.isPaused() && error === undefined) socket.resume()
      return
    }
    waiter = resume
    if (socket.isPaused()) socket.resume()
    return Effect.sync(() => {
      if (waiter === resume) {
        waiter = undefined
        counters.waiting = false
      }
    })
  })
}

const directWriter = (socket: NodeSocket.NetSocket["Service"]): DirectWriter => {
  const counters: ReadCounters = { received: 0, pulled: 0, pulls: 0, waiting: false }
  // One drain wait at a time (the connection's write in progress), on listeners added once.
  let waiting: (() => void) | undefined
  const wake = () => {
    const f = waiting
    if (f === undefined) return
    waiting = undefined
    f()
  }
  socket.on("drain", wake)
  socket.on("close", wake)
  return {
    write: (chunks, onWritten) => {
      if (socket.destroyed) return true
      const done = onWritten === undefined ? undefined : (error?: Error | null) => {
        if (error == null) onWritten()
      }
      if (chunks.length === 1) return socket.write(chunks[0]!, done)
      socket.cork()
      let ok = true
      const last = chunks.length - 1
      // Corked: one writev, whose completion runs the last chunk's callback.
      for (let i = 0; i <= last; i++) ok = socket.write(chunks[i]!, i === last ? done : undefined) && ok
      socket.uncork()
      return ok
    },
    onDrained: (f) => {
      if (socket.destroyed || !socket.writableNeedDrain) return f()
      const before = waiting
      waiting = before === undefined ? f : () => {
        before()
        f()
      }
    },
    flushed: () => socket.writableLength === 0,
    takeOverReading: (largeRequests = () => false, unframedBytes) =>
      takeOverReading(
        socket,
        counters,
        () => largeRequests() ? DIRECT_READ_LIMIT_LARGE_REQUESTS : DIRECT_READ_LIMIT,
        largeRequests,
        unframedBytes
      ),
    readState: () =>
      `read ${counters.received} bytes, pulled ${counters.pulled} in ${counters.pulls} pulls (${counters.waiting ? "a pull waits" : "no pull waits"}); ` +
      `socket flowing ${socket.readableFlowing}, paused ${socket.isPaused()}, ${socket.readableLength} bytes buffered; ` +
      `${socket.writableLength} bytes unsent, needs drain ${socket.writableNeedDrain}, destroyed ${socket.destroyed}`
  }
}

/** Dual-stack sockets report IPv4 peers as "::ffff:a.b.c.d"; clients want the plain form. */
const unmapIpv4 = (address: string): string => (address.startsWith("::ffff:") ? address.slice(7) : address)

export class Listeners extends Context.Service<Listeners, {
  readonly bind: (spec: ListenerSpec) => Effect.Effect<BoundListener, SocketServer.SocketServerError, Scope.Scope>
  /** The two ends of the connection being served (read from the connection's context). */
  readonly connectionEnds: Effect.Effect<ConnectionEnds>
}>()("kafka-broker/server/Listeners") {
  static readonly node: Layer.Layer<Listeners> = Layer.succeed(Listeners, Listeners.of({
    bind: (spec) =>
      // TCP_NODELAY as Kafka's acceptor sets it: with Nagle, a small response written while an
      // earlier one is unacknowledged waits for the client's delayed ACK (up to 40 ms on Linux).
      Effect.map(NodeSocketServer.make({ host: spec.host === "" ? "0.0.0.0" : spec.host, port: spec.port, noDelay: true }), (server) => ({
        name: spec.name,
        host: spec.host,
        port: server.address._tag === "UnixPathAddress" ? spec.port : server.address.port,
        server
      })),
    connectionEnds: Effect.map(Effect.serviceOption(NodeSocket.NetSocket), (socket) =>
      socket._tag === "Some"
        ? {
          peer: `${socket.value.remoteAddress}:${socket.value.remotePort}`,
          peerIp: unmapIpv4(socket.value.remoteAddress ?? ""),
          localHost: unmapIpv4(socket.value.localAddress ?? ""),
          abort: () => socket.value.destroy(),
          direct: directWriter(socket.value)
        }
        : { peer: "unknown", peerIp: "", localHost: "", abort: () => undefined })
  }))
}
