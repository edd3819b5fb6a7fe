/**
 * Client quotas as Kafka's controller keeps them (ClientQuotaControlManager, ClientQuotasImage):
 * which entities and keys are valid, and which stored entities a DescribeClientQuotas filter
 * matches. Pure; the records live in the metadata log. Quotas are stored and described, not
 * yet enforced.
 */
import { ErrorCode } from "../protocol/error-codes.ts"
import type { ClientQuotaImage, QuotaEntityComponent } from "../metadata/image.ts"
import * as net from "node:net"

export const USER = "user"
export const CLIENT_ID = "client-id"
export const IP = "ip"

/** Quota keys and their types (Kafka's QuotaConfig): integral LONG/INT, or DOUBLE. */
const USER_AND_CLIENT_KEYS: ReadonlyMap<string, "LONG" | "DOUBLE"> = new Map([
  ["producer_byte_rate", "LONG"],
  ["consumer_byte_rate", "LONG"],
  ["request_percentage", "DOUBLE"],
  ["controller_mutation_rate", "DOUBLE"]
])
const IP_KEYS: ReadonlyMap<string, "INT"> = new Map([["connection_creation_rate", "INT"]])

export class QuotaError {
  readonly errorCode: number
  readonly message: string
  constructor(errorCode: number, message: string) {
    this.errorCode = errorCode
    this.message = message
  }
}

const invalid = (message: string) => new QuotaError(ErrorCode.INVALID_REQUEST, message)

/** Kafka's ClientQuotaEntity.toString, which its messages show. */
export const describeEntity = (entity: ReadonlyArray<QuotaEntityComponent>): string =>
  `ClientQuotaEntity(entries={${entity.map((c) => `${c.entityType}=${c.entityName}`).join(", ")}})`

/** The valid keys for an entity, or why the entity is invalid. */
export const validateEntity = (entity: ReadonlyArray<QuotaEntityComponent>): ReadonlyMap<string, string> | QuotaError => {
  if (entity.length === 0) return invalid("Invalid empty client quota entity")
  const seen = new Set<string>()
  for (const { entityType, entityName } of entity) {
    if (seen.has(entityType)) return invalid(`Invalid client quota entity, duplicate entity entry ${entityType}`)
    if (entityType !== USER && entityType !== CLIENT_ID && entityType !== IP) return invalid(`Unhandled client quota entity type: ${entityType}`)
    if (entityName !== null && entityName === "") return invalid(`Empty ${entityType} not supported`)
    seen.add(entityType)
  }
  if (seen.has(IP)) {
    if (seen.has(USER) || seen.has(CLIENT_ID)) {
      return invalid("Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId")
    }
    const ip = entity.find((c) => c.entityType === IP)!.entityName
    // Kafka accepts any resolvable host name; without a resolver here, literal addresses only.
    if (ip !== null && net.isIP(ip) === 0) return invalid(`${ip} is not a valid IP or resolvable host.`)
    return IP_KEYS
  }
  return USER_AND_CLIENT_KEYS
}

/** Kafka's validateQuotaKeyValue. */
export const validateQuotaValue = (keys: ReadonlyMap<string, string>, key: string, value: number): QuotaError | undefined => {
  const type = keys.get(key)
  if (type === undefined) return invalid(`Invalid configuration key ${key}`)
  if (!(value > 0)) return invalid(`Quota ${key} must be greater than 0`)
  if (type === "DOUBLE") return undefined
  if (type === "INT" && value > 2 ** 31 - 1) return invalid(`Proposed value for ${key} is too large for an INT.`)
  if (Math.abs(value % 1) > 1e-6) return invalid(`${key} cannot be a fractional value.`)
  return undefined
}

export interface FilterComponent {
  readonly entityType: string
  /** 0 EXACT (match names the entity), 1 DEFAULT (the default entity), 2 SPECIFIED (any entity of the type). */
  readonly matchType: number
  readonly match: string | null
}

/** Which stored entities a DescribeClientQuotas filter selects (ClientQuotasImage.describe), or why the filter is invalid. */
export const matchingQuotas = (
  quotas: Iterable<ClientQuotaImage>,
  components: ReadonlyArray<FilterComponent>,
  strict: boolean
): Array<ClientQuotaImage> | QuotaError => {
  const exact = new Map<string, string | null>()
  const typed = new Set<string>()
  for (const c of components) {
    if (c.entityType === "") return invalid("Invalid empty entity type.")
    if (exact.has(c.entityType) || typed.has(c.entityType)) return invalid(`Entity type ${c.entityType} cannot appear more than once in the filter.`)
    if (c.entityType !== IP && c.entityType !== USER && c.entityType !== CLIENT_ID) {
      return new QuotaError(ErrorCode.UNSUPPORTED_VERSION, `Unsupported entity type ${c.entityType}`)
    }
    switch (c.matchType) {
      case 0:
        if (c.match === null) return invalid("Request specified MATCH_TYPE_EXACT, but set match string to null.")
        exact.set(c.entityType, c.match)
        break
      case 1:
        if (c.match !== null) return invalid("Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
        exact.set(c.entityType, null)
        break
      case 2:
        if (c.match !== null) return invalid("Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
        typed.add(c.entityType)
        break
      default:
        return invalid(`Unknown match type ${c.matchType}`)
    }
  }
  const has = (t: string) => exact.has(t) || typed.has(t)
  if (has(IP) && (has(USER) || has(CLIENT_ID))) {
    return invalid("Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.")
  }
  const out: Array<ClientQuotaImage> = []
  for (const q of quotas) {
    const byType = new Map(q.entity.map((c) => [c.entityType, c.entityName]))
    if (strict && byType.size !== exact.size + typed.size) continue
    let ok = true
    for (const [t, name] of exact) if (!byType.has(t) || byType.get(t) !== name) ok = false
    for (const t of typed) if (!byType.has(t)) ok = false
    if (ok) out.push(q)
  }
  return out
}
