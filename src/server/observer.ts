/**
 * What the network layer tells whoever watches it (metrics, request logs): one call per
 * request after its response is written, and one per connection opened or closed. Plain
 * functions called from the connection's loop: an observer must be cheap and never throw.
 */
import { Effect } from "effect"

/** One request's life, in `performance.now()` milliseconds. */
export interface RequestObservation {
  readonly apiKey: number
  readonly apiName: string
  readonly apiVersion: number
  readonly correlationId: number
  readonly clientId: string | null
  readonly clientAddress: string
  readonly listenerName: string
  /** The decoded request. */
  readonly request: unknown
  /** The response body as the handler returned it (NO_RESPONSE, a PreEncoded body, or an object). */
  response: unknown
  /** When the bytes holding the request were read from the socket. */
  readonly receivedAt: number
  /** When the handler was started. */
  readonly startedAt: number
  /** When the handler's response was ready. */
  completedAt: number
  /** When the response started to be written (written together with the others ready then). */
  sendStartedAt: number
  /** When the write of the response finished. */
  sentAt: number
}

export interface RequestObserver {
  /** False: the connection skips clock reads and observation objects altogether. */
  readonly enabled: boolean
  /** May return an Effect to run on the connection's fiber (a log line); undefined when there is nothing to do. */
  readonly requestDone: (observation: RequestObservation) => Effect.Effect<void> | undefined
  readonly connectionOpened: (listenerName: string) => void
  readonly connectionClosed: (listenerName: string) => void
}

export const noObserver: RequestObserver = {
  enabled: false,
  requestDone: () => undefined,
  connectionOpened: () => {},
  connectionClosed: () => {}
}

/** All of `observers`, in order; enabled when one of them is. */
export const combineObservers = (observers: ReadonlyArray<RequestObserver>): RequestObserver => {
  const active = observers.filter((o) => o.enabled)
  if (active.length === 0) return noObserver
  if (active.length === 1) return active[0]!
  return {
    enabled: true,
    requestDone: (o) => {
      let effects: Array<Effect.Effect<void>> | undefined
      for (const observer of active) {
        const e = observer.requestDone(o)
        if (e !== undefined) (effects ??= []).push(e)
      }
      return effects === undefined ? undefined : Effect.forEach(effects, (e) => e, { discard: true })
    },
    connectionOpened: (l) => active.forEach((o) => o.connectionOpened(l)),
    connectionClosed: (l) => active.forEach((o) => o.connectionClosed(l))
  }
}
