/**
 * The composition root: which services make a broker and how they are wired. `main.ts`
 * runs it as a process; `startBroker` embeds it in another program (tests use that).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, ManagedRuntime, References } from "effect"
import type { LogLevel } from "effect/LogLevel"
import { Config } from "./config/Config.ts"
import { servedListeners } from "./config/listeners.ts"
import type { AnyHandler } from "./handlers/handler.ts"
import { makeRegistry } from "./handlers/registry.ts"
import { BrokerServer } from "./server/BrokerServer.ts"
import { Listeners } from "./server/Listeners.ts"

/** How long shutdown lets in-flight requests finish before closing connections anyway. */
const DRAIN_TIMEOUT = "10 seconds"

/** Every API the broker serves. ApiVersions is added by the registry itself. */
export const handlers: ReadonlyArray<AnyHandler<never>> = []

/** The broker, given a Config. */
export const BrokerLayer: Layer.Layer<BrokerServer, never, Config> = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* Config
    const registry = makeRegistry(handlers)
    const advertised = new Map(config.advertisedListeners.map((l) => [l.name, l]))
    const listeners = servedListeners(config).map((l) => ({
      name: l.name,
      host: l.host,
      port: l.port,
      advertisedHost: advertised.get(l.name)?.host ?? l.host,
      advertisedPort: advertised.get(l.name)?.port ?? l.port
    }))
    return BrokerServer.layer(registry, {
      listeners,
      maxRequestSize: config.socketRequestMaxBytes,
      drainTimeout: DRAIN_TIMEOUT
    })
  })
).pipe(Layer.provide(Listeners.node))

export interface EmbeddedBroker {
  /** host:port of the first listener, for a client's bootstrap servers. */
  readonly bootstrap: string
  readonly host: string
  readonly port: number
  readonly logDir: string
  readonly stop: () => Promise<void>
}

export interface EmbedOptions {
  /** Kafka properties on top of the defaults (e.g. "num.partitions": "3"). */
  readonly properties?: Readonly<Record<string, string>>
  readonly logLevel?: LogLevel
}

/**
 * Starts a broker inside this process on an ephemeral 127.0.0.1 port with a fresh data
 * directory (unless `listeners` / `log.dirs` are given), and returns its address.
 */
export const startBroker = async (options: EmbedOptions = {}): Promise<EmbeddedBroker> => {
  const properties: Record<string, string> = { ...options.properties }
  properties["listeners"] ??= "PLAINTEXT://127.0.0.1:0"
  const ownDir = properties["log.dirs"] === undefined
  if (ownDir) properties["log.dirs"] = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-broker-"))
  const layer = BrokerLayer.pipe(
    Layer.provide(Config.layerFromValues(properties)),
    Layer.provide(Layer.succeed(References.MinimumLogLevel, options.logLevel ?? "Warn"))
  )
  const runtime = ManagedRuntime.make(layer)
  const server = await runtime.runPromise(Effect.gen(function*() {
    return yield* BrokerServer
  }))
  const first = server.addresses[0]!
  return {
    bootstrap: `${first.host}:${first.port}`,
    host: first.host,
    port: first.port,
    logDir: properties["log.dirs"]!,
    stop: async () => {
      await runtime.dispose()
    }
  }
}
