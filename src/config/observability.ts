/**
 * The observability settings (ours, not Kafka's): the HTTP listener that serves /metrics,
 * /health and the console, and the request logs. Read from the validated raw values so a
 * bad `http.listener` stops start-up like any other bad property.
 */
import { fail } from "./errors.ts"

export interface HttpListenerAddress {
  readonly host: string
  readonly port: number
}

/**
 * `http://host:port` (the scheme may be left out); "" turns the listener off. IPv6 hosts are
 * bracketed as in URLs. Port 0 asks the OS for a free port.
 */
export const parseHttpListener = (value: string): HttpListenerAddress | undefined => {
  const text = value.trim()
  if (text === "") return undefined
  const m = /^(?:http:\/\/)?(\[[0-9a-fA-F:.]+\]|[^:/\s[\]]*):(\d{1,5})\/?$/.exec(text)
  const port = m === null ? NaN : Number(m[2])
  if (m === null || port > 65535) {
    return fail("http.listener", value, `Invalid value ${value} for configuration http.listener: expected http://host:port (or empty to turn it off)`)
  }
  const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!
  return { host: host === "" ? "0.0.0.0" : host, port }
}

export interface ObservabilityConfig {
  readonly httpListener: HttpListenerAddress | undefined
  readonly consoleReadOnly: boolean
  /** -1: off. */
  readonly slowRequestMs: number
  readonly debugRequests: boolean
}

export const observabilityConfig = (raw: ReadonlyMap<string, string>): ObservabilityConfig => ({
  httpListener: parseHttpListener(raw.get("http.listener") ?? ""),
  consoleReadOnly: raw.get("http.console.read.only") !== "false",
  slowRequestMs: Number(raw.get("request.log.slow.ms") ?? "-1"),
  debugRequests: raw.get("request.log.debug") === "true"
})
