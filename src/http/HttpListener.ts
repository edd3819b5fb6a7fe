/**
 * The operations HTTP listener (`http.listener`): /metrics, /health/*, the console and its
 * JSON API, served in-process by effect's HttpServer on Node's http module. It is started and
 * stopped with the broker's Layer; an empty `http.listener` leaves it out.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Context, Effect, Layer } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import { Config } from "../config/Config.ts"
import { observabilityConfig } from "../config/observability.ts"
import { ListenerBindError } from "../server/BrokerServer.ts"

export interface HttpListenerShape {
  /** `http://host:port` as bound (the real port when 0 was asked for); undefined when off. */
  readonly url: string | undefined
}

export class HttpListener extends Context.Service<HttpListener, HttpListenerShape>()("kafka-broker/http/HttpListener") {
  /** Serves `routes` (layers that add to the HttpRouter) on the configured address. */
  static readonly layer = <E, R>(routes: Layer.Layer<never, E, R>): Layer.Layer<HttpListener, E | ListenerBindError, Config | Exclude<R, HttpRouter.HttpRouter>> =>
    Layer.unwrap(Effect.gen(function*() {
      const config = yield* Config
      const address = observabilityConfig(config.raw).httpListener
      if (address === undefined) return Layer.succeed(HttpListener, HttpListener.of({ url: undefined }))
      const nodeServer = http.createServer()
      const serve = Effect.gen(function*() {
        const server = yield* HttpServer.HttpServer
        const app = yield* HttpRouter.toHttpEffect(routes)
        yield* server.serve(app)
        const bound = nodeServer.address() as AddressInfo
        const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address
        const url = `http://${host}:${bound.port}`
        yield* Effect.logInfo(`http listener on ${url}`)
        return HttpListener.of({ url })
      })
      const server = NodeHttpServer.layerServer(() => nodeServer, {
        host: address.host,
        port: address.port,
        // Scrapes and console pages are short; a stop should not wait for idle keep-alives.
        gracefulShutdownTimeout: "1 second"
      }).pipe(
        Layer.catchTag("ServeError", (e) =>
          Layer.effectDiscard(Effect.fail(new ListenerBindError({
            listener: "http.listener",
            message: `cannot listen on http.listener http://${address.host}:${address.port}: ${String((e.cause as Error | undefined)?.message ?? e.cause)}`
          }))))
      )
      return Layer.effect(HttpListener, serve as Effect.Effect<HttpListenerShape, E, R | HttpServer.HttpServer>).pipe(Layer.provide(server))
    })) as never
}
