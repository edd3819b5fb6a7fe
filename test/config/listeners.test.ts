import { describe, expect, it } from "vitest"
import {
  bindHost,
  formatListener,
  parseListener,
  parseListeners,
  parseSecurityProtocolMap,
  servedListeners
} from "../../src/config/listeners.ts"
import { configErrorOf } from "./helpers.ts"

describe("parseListeners", () => {
  it("parses Kafka's empty-host form for several listeners", () => {
    expect(parseListeners("PLAINTEXT://:9092,CONTROLLER://:9093")).toEqual([
      { name: "PLAINTEXT", host: "", port: 9092 },
      { name: "CONTROLLER", host: "", port: 9093 }
    ])
  })

  it("takes IPv6 hosts from brackets", () => {
    expect(parseListeners("PLAINTEXT://[::1]:9092,SSL://[fe80::1%eth0]:9093")).toEqual([
      { name: "PLAINTEXT", host: "::1", port: 9092 },
      { name: "SSL", host: "fe80::1%eth0", port: 9093 }
    ])
  })

  it("accepts host names, port 0, surrounding whitespace, and upper-cases names", () => {
    expect(parseListeners("  plaintext://broker-1.example.com:0 ,  internal://10.0.0.1:65535 ")).toEqual([
      { name: "PLAINTEXT", host: "broker-1.example.com", port: 0 },
      { name: "INTERNAL", host: "10.0.0.1", port: 65535 }
    ])
  })

  it("treats an empty value as no listeners", () => {
    expect(parseListeners("   ")).toEqual([])
  })

  it.each([
    ["localhost:9092"],
    ["PLAINTEXT://localhost"],
    ["PLAINTEXT://localhost:"],
    ["PLAINTEXT://host:99999"],
    ["PLAINTEXT://host:-1"],
    ["PLAINTEXT://::1:9092"],
    ["PLAINTEXT://[::1:9092"],
    ["://:9092"],
    ["PLAINTEXT://:9092,,SSL://:9093"]
  ])("rejects %j with a ConfigError naming key and value", (value) => {
    const error = configErrorOf(() => parseListeners(value, "advertised.listeners"))
    expect(error.key).toBe("advertised.listeners")
    expect(error.value).toBe(value)
    expect(error.message).toContain("advertised.listeners")
  })

  it("rejects duplicate listener names (case-insensitively)", () => {
    const error = configErrorOf(() => parseListeners("PLAINTEXT://:9092,plaintext://:9093"))
    expect(error.key).toBe("listeners")
    expect(error.message).toContain("PLAINTEXT is used more than once")
  })

  it("formats listeners back, bracketing IPv6 hosts", () => {
    expect(formatListener(parseListener("PLAINTEXT://[::1]:9092"))).toBe("PLAINTEXT://[::1]:9092")
    expect(formatListener(parseListener("PLAINTEXT://:9092"))).toBe("PLAINTEXT://:9092")
  })
})

describe("bindHost", () => {
  it("binds all interfaces for an empty host and the given host otherwise", () => {
    expect(bindHost({ name: "PLAINTEXT", host: "", port: 9092 })).toBe("0.0.0.0")
    expect(bindHost({ name: "PLAINTEXT", host: "127.0.0.1", port: 9092 })).toBe("127.0.0.1")
    expect(bindHost({ name: "PLAINTEXT", host: "::1", port: 9092 })).toBe("::1")
  })
})

describe("parseSecurityProtocolMap", () => {
  it("maps listener names to protocols, normalising case", () => {
    expect([...parseSecurityProtocolMap("CONTROLLER:PLAINTEXT, internal : sasl_ssl")]).toEqual([
      ["CONTROLLER", "PLAINTEXT"],
      ["INTERNAL", "SASL_SSL"]
    ])
  })

  it("rejects unknown protocols, malformed entries and duplicates", () => {
    expect(configErrorOf(() => parseSecurityProtocolMap("A:TLS")).message).toContain("Invalid security protocol TLS")
    expect(configErrorOf(() => parseSecurityProtocolMap("A")).key).toBe("listener.security.protocol.map")
    expect(configErrorOf(() => parseSecurityProtocolMap("A:SSL,a:PLAINTEXT")).message).toContain("more than once")
  })
})

describe("servedListeners", () => {
  it("leaves controller listeners unserved", () => {
    const listeners = parseListeners("PLAINTEXT://:9092,CONTROLLER://:9093")
    expect(servedListeners({ listeners, controllerListenerNames: ["CONTROLLER"] })).toEqual([
      { name: "PLAINTEXT", host: "", port: 9092 }
    ])
    expect(servedListeners({ listeners, controllerListenerNames: [] })).toHaveLength(2)
  })
})
