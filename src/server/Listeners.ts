/**
 * The Socket service the broker listens through: opens one SocketServer per Kafka
 * listener. The Node layer binds TCP with node:net; a test or another runtime can provide
 * a different implementation (in-memory sockets, TLS) without touching the broker.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { Context, Effect, Layer, type Scope } from "effect"
import type * as SocketServer from "effect/socket/SocketServer"

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
          abort: () => socket.value.destroy()
        }
        : { peer: "unknown", peerIp: "", localHost: "", abort: () => undefined })
  }))
}
