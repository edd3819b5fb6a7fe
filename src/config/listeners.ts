/**
 * Listener lists (`listeners`, `advertised.listeners`) and the listener → security protocol map,
 * parsed the way Kafka writes them: `NAME://host:port[,NAME://host:port...]`.
 */
import { fail } from "./errors.ts"

export interface Listener {
  /** Upper-cased, as Kafka normalises listener names before comparing them. */
  readonly name: string
  /** "" = all interfaces when binding; "the host the client used" when advertised. IPv6 without brackets. */
  readonly host: string
  /** 0 = ephemeral when binding; "the port actually bound" when advertised. */
  readonly port: number
}

export const SECURITY_PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] as const
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number]

const isSecurityProtocol = (s: string): s is SecurityProtocol => (SECURITY_PROTOCOLS as ReadonlyArray<string>).includes(s)

// Kafka splits lists on commas with surrounding whitespace and treats a blank value as empty.
export const splitList = (value: string): Array<string> => {
  const trimmed = value.trim()
  return trimmed === "" ? [] : trimmed.split(/\s*,\s*/)
}

const LISTENER = /^([A-Za-z0-9_-]+):\/\/(?:\[([0-9A-Za-z:.%]+)\]|([0-9A-Za-z._-]*)):([0-9]+)$/

/** Parses one `NAME://host:port` entry; `key` and `whole` only serve the error message. */
export const parseListener = (entry: string, key = "listeners", whole = entry): Listener => {
  const m = LISTENER.exec(entry)
  if (m === null) {
    return fail(key, whole, `Invalid listener "${entry}" in ${key}: expected NAME://host:port (IPv6 hosts in brackets, e.g. PLAINTEXT://[::1]:9092)`)
  }
  const port = Number(m[4])
  if (port > 65535) return fail(key, whole, `Invalid port ${m[4]} in listener "${entry}" of ${key}: must be between 0 and 65535`)
  return { name: (m[1] as string).toUpperCase(), host: m[2] ?? m[3] ?? "", port }
}

/** Parses a comma-separated listener list; listener names must be unique within it. */
export const parseListeners = (value: string, key = "listeners"): Array<Listener> => {
  const listeners = splitList(value).map((entry) => parseListener(entry, key, value))
  const seen = new Set<string>()
  for (const l of listeners) {
    if (seen.has(l.name)) return fail(key, value, `Each listener must have a different name in ${key}, listener name ${l.name} is used more than once`)
    seen.add(l.name)
  }
  return listeners
}

export const formatListener = (l: Listener): string =>
  `${l.name}://${l.host.includes(":") ? `[${l.host}]` : l.host}:${l.port}`

/** The address to bind: Kafka's empty host means every interface. */
export const bindHost = (l: Listener): string => (l.host === "" ? "0.0.0.0" : l.host)

/** Parses `NAME:PROTOCOL,...` (listener.security.protocol.map). */
export const parseSecurityProtocolMap = (value: string, key = "listener.security.protocol.map"): Map<string, SecurityProtocol> => {
  const map = new Map<string, SecurityProtocol>()
  for (const entry of splitList(value)) {
    const m = /^([A-Za-z0-9_-]+)\s*:\s*([A-Za-z_]+)$/.exec(entry)
    if (m === null) return fail(key, value, `Invalid entry "${entry}" in ${key}: expected LISTENER_NAME:SECURITY_PROTOCOL`)
    const name = (m[1] as string).toUpperCase()
    const protocol = (m[2] as string).toUpperCase()
    if (!isSecurityProtocol(protocol)) {
      return fail(key, value, `Invalid security protocol ${m[2]} for listener ${name} in ${key}: must be one of ${SECURITY_PROTOCOLS.join(", ")}`)
    }
    if (map.has(name)) return fail(key, value, `Listener ${name} is mapped more than once in ${key}`)
    map.set(name, protocol)
  }
  return map
}

/**
 * The listeners this process accepts client connections on. Controller listeners are parsed and
 * validated but left unserved: there is no KRaft controller quorum to talk to.
 */
export const servedListeners = (config: {
  readonly listeners: ReadonlyArray<Listener>
  readonly controllerListenerNames: ReadonlyArray<string>
}): Array<Listener> => config.listeners.filter((l) => !config.controllerListenerNames.includes(l.name))
