/**
 * /health/live and /health/ready for orchestrators. Live: the process answers. Ready: the
 * metadata log is replayed and the Kafka listeners accept connections (the HTTP routes are
 * only added once the broker's server layer is built), and the broker is not shutting down.
 */
import { Effect, Layer } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { BrokerServer } from "../server/BrokerServer.ts"
import { BrokerLifecycle } from "../lifecycle/Lifecycle.ts"

export const HealthRoutes = Layer.effectDiscard(Effect.gen(function*() {
  const router = yield* HttpRouter.HttpRouter
  const server = yield* BrokerServer
  const lifecycle = yield* BrokerLifecycle
  let shuttingDown = false
  yield* Effect.forkScoped(Effect.andThen(lifecycle.shuttingDown, Effect.sync(() => {
    shuttingDown = true
  })))
  yield* router.add("GET", "/health/live", HttpServerResponse.jsonUnsafe({ status: "live" }))
  yield* router.add(
    "GET",
    "/health/ready",
    Effect.sync(() =>
      shuttingDown
        ? HttpServerResponse.jsonUnsafe({ status: "shutting down" }, { status: 503 })
        : HttpServerResponse.jsonUnsafe({ status: "ready", listeners: server.addresses })
    )
  )
}))
