/** GET /metrics: the Prometheus text exposition (format 0.0.4) of the broker's metrics. */
import { Context, Effect, Layer } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type { FetchSessions } from "../fetch/FetchSessions.ts"
import type { GroupCoordinator } from "../groups/GroupCoordinator.ts"
import type { LogStore } from "../log/LogStore.ts"
import type { BrokerMetrics } from "../metrics/BrokerMetrics.ts"
import { type ProcessSamplers, scrapeMetrics } from "../metrics/gauges.ts"

export const MetricsRoutes = Layer.effectDiscard(Effect.gen(function*() {
  const router = yield* HttpRouter.HttpRouter
  const services = yield* Effect.context<BrokerMetrics | ProcessSamplers | LogStore | GroupCoordinator | FetchSessions>()
  yield* router.add(
    "GET",
    "/metrics",
    Effect.map(Effect.provideContext(scrapeMetrics, services), (body) =>
      HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
  )
}))
