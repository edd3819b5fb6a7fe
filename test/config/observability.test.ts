import { describe, expect, it } from "vitest"
import { parseBrokerConfig } from "../../src/config/broker-config.ts"
import { observabilityConfig, parseHttpListener } from "../../src/config/observability.ts"
import { configErrorOf } from "./helpers.ts"

describe("http.listener", () => {
  it("defaults to loopback port 9644 with a read-only console and no request logs", () => {
    const c = observabilityConfig(parseBrokerConfig([]).raw)
    expect(c).toEqual({ httpListener: { host: "127.0.0.1", port: 9644 }, consoleReadOnly: true, slowRequestMs: -1, debugRequests: false })
  })

  it("is off when empty, takes port 0, IPv6 and a missing host", () => {
    expect(parseHttpListener("")).toBeUndefined()
    expect(parseHttpListener("  ")).toBeUndefined()
    expect(parseHttpListener("http://127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 })
    expect(parseHttpListener("http://[::1]:9644/")).toEqual({ host: "::1", port: 9644 })
    expect(parseHttpListener("localhost:8080")).toEqual({ host: "localhost", port: 8080 })
    expect(parseHttpListener("http://:8080")).toEqual({ host: "0.0.0.0", port: 8080 })
  })

  it("stops start-up on a malformed address, naming the key", () => {
    for (const bad of ["https://127.0.0.1:1", "http://127.0.0.1", "http://127.0.0.1:70000", "127.0.0.1:1/x"]) {
      const e = configErrorOf(() => parseBrokerConfig([[["http.listener", bad]]]))
      expect(e.key).toBe("http.listener")
      expect(e.value).toBe(bad)
    }
  })
})
