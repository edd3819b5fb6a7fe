/**
 * The request quota (`request_percentage`) for every API that does not apply it itself, as
 * Kafka's RequestHandlerHelper.sendResponseMaybeThrottle does: the time spent handling the
 * request is recorded against the client's quota, and when that takes it over, the response
 * carries the throttle time and the connection is muted for it. Produce and Fetch combine it
 * with their byte-rate quotas in their handlers.
 *
 * Until a request quota is set, a handler runs exactly as unwrapped (no clock read, an
 * already-computed answer stays one).
 */
import { type Clock, Effect, Exit } from "effect"
import { type AnyHandler, isPreEncoded, type RequestContext } from "../handlers/handler.ts"
import { type ClientQuotasShape, quotaClientId, requestThrottle } from "./ClientQuotas.ts"

const PRODUCE_KEY = 0
const FETCH_KEY = 1

/**
 * Sets throttle_time_ms on a response (an encoder whose API has no such field ignores it).
 * A pre-encoded answer (ApiVersions) keeps its bytes: the mute still applies.
 */
const withThrottleTime = (body: unknown, throttleTimeMs: number): unknown =>
  typeof body === "object" && body !== null && !isPreEncoded(body) ? { ...body, throttleTimeMs } : body

export const withRequestQuota = <R>(handler: AnyHandler<R>, quotas: ClientQuotasShape, clock: Clock.Clock): AnyHandler<R> => {
  if (handler.api.apiKey === PRODUCE_KEY || handler.api.apiKey === FETCH_KEY) return handler
  const apply = (ctx: RequestContext, body: unknown, elapsedMs: number): unknown => {
    const throttleTimeMs = requestThrottle(quotas, quotaClientId(ctx.header.clientId), elapsedMs * 1e6, clock.currentTimeMillisUnsafe())
    if (throttleTimeMs <= 0) return body
    ctx.throttleChannel?.(throttleTimeMs)
    return withThrottleTime(body, throttleTimeMs)
  }
  return {
    ...handler,
    handle: (request, ctx) => {
      quotas.refresh()
      if (!quotas.request.enabled) return handler.handle(request, ctx)
      const startedAt = performance.now()
      const result = handler.handle(request, ctx)
      if (Exit.isExit(result)) {
        return Exit.isSuccess(result) ? Exit.succeed(apply(ctx, result.value, performance.now() - startedAt)) : result
      }
      // A blocking handler waits (a JoinGroup for its rebalance): only its work counts, not the wait.
      const syncMs = handler.blocking === true ? performance.now() - startedAt : -1
      return Effect.map(result, (body) => apply(ctx, body, syncMs >= 0 ? syncMs : performance.now() - startedAt))
    }
  }
}
