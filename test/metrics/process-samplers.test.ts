/**
 * The event-loop delay sampler wakes the process every 10 ms while it runs, and a GC observer
 * costs every collection a callback, so both start only when the metrics are first read, and
 * stop with the broker.
 */
import type { IntervalHistogram } from "node:perf_hooks"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { BrokerMetrics } from "../../src/metrics/BrokerMetrics.ts"
import { ProcessSamplers } from "../../src/metrics/gauges.ts"

const fakeMonitor = () => {
  const calls = { created: 0, enabled: 0, disabled: 0, resolution: 0 }
  const monitor = (options: { readonly resolution: number }): IntervalHistogram => {
    calls.created++
    calls.resolution = options.resolution
    return {
      enable: () => {
        calls.enabled++
        return true
      },
      disable: () => {
        calls.disabled++
        return true
      }
    } as unknown as IntervalHistogram
  }
  return { calls, monitor }
}

const fakeGc = () => {
  const calls = { observed: 0, disconnected: 0 }
  const gc = () => {
    calls.observed++
    return { disconnect: () => void calls.disconnected++ }
  }
  return { calls, gc }
}

describe("ProcessSamplers", () => {
  it.effect("samples the event-loop delay and observes GC from the first read of the metrics on, once, until the broker stops", () =>
    Effect.gen(function*() {
      const { calls, monitor } = fakeMonitor()
      const gc = fakeGc()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(ProcessSamplers.make(monitor, gc.gc).pipe(Layer.provide(BrokerMetrics.layer())), scope)
      const samplers = Context.get(context, ProcessSamplers)
      // Started and idle: no sampling timer, no GC observer.
      expect(calls).toEqual({ created: 0, enabled: 0, disabled: 0, resolution: 0 })
      expect(gc.calls).toEqual({ observed: 0, disconnected: 0 })
      const first = samplers.eventLoopDelay()
      expect(calls).toEqual({ created: 1, enabled: 1, disabled: 0, resolution: 10 })
      expect(gc.calls).toEqual({ observed: 1, disconnected: 0 })
      expect(samplers.eventLoopDelay()).toBe(first)
      expect(calls.created).toBe(1)
      expect(gc.calls.observed).toBe(1)
      yield* Scope.close(scope, Exit.void)
      expect(calls.disabled).toBe(1)
      expect(gc.calls.disconnected).toBe(1)
    }))

  it.effect("a broker whose metrics were never read stops without a sampler to stop", () =>
    Effect.gen(function*() {
      const { calls, monitor } = fakeMonitor()
      const gc = fakeGc()
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(ProcessSamplers.make(monitor, gc.gc).pipe(Layer.provide(BrokerMetrics.layer())), scope)
      yield* Scope.close(scope, Exit.void)
      expect(calls).toEqual({ created: 0, enabled: 0, disabled: 0, resolution: 0 })
      expect(gc.calls).toEqual({ observed: 0, disconnected: 0 })
    }))
})
