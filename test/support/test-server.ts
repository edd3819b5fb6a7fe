/**
 * A real BrokerServer on an ephemeral loopback port, serving a registry of the test's
 * choosing, with logging off. The services the handlers need are the caller's to provide.
 */
import { Layer, References } from "effect"
import type { AnyHandler } from "../../src/handlers/handler.ts"
import { makeRegistry } from "../../src/handlers/registry.ts"
import { BrokerServer } from "../../src/server/BrokerServer.ts"
import { Listeners } from "../../src/server/Listeners.ts"

export const testServerLayer = <R>(
  handlers: ReadonlyArray<AnyHandler<R>>,
  advertised: { readonly host: string; readonly port: number } = { host: "", port: 0 }
): Layer.Layer<BrokerServer, never, R> =>
  BrokerServer.layer(makeRegistry(handlers), {
    listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 0, advertisedHost: advertised.host, advertisedPort: advertised.port }],
    maxRequestSize: 1 << 20,
    drainTimeout: "5 seconds"
  }).pipe(Layer.orDie, Layer.provide(Listeners.node), Layer.provide(Layer.succeed(References.MinimumLogLevel, "None")))
