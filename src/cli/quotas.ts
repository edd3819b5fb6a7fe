/**
 * `kafka quota describe|set|delete`: client quotas over DescribeClientQuotas and
 * AlterClientQuotas, with entities named as kafka-configs names them:
 *
 *   --user NAME | --user-default          (kafka-configs --entity-type users)
 *   --client-id NAME | --client-default   (kafka-configs --entity-type clients)
 *   --entity-type users|clients (--entity-name NAME | --entity-default)
 *
 * e.g. `kafka quota set --client-id app producer_byte_rate=1048576`, as
 * `kafka-configs --alter --entity-type clients --entity-name app --add-config producer_byte_rate=1048576`.
 */
import { ErrorCode } from "../protocol/error-codes.ts"
import { AlterClientQuotas } from "../protocol/generated/apis/AlterClientQuotas.ts"
import { DescribeClientQuotas } from "../protocol/generated/apis/DescribeClientQuotas.ts"
import { option } from "./args.ts"
import type { Context } from "./commands.ts"
import { KafkaError, print, UsageError } from "./output.ts"

interface EntityComponent {
  readonly entityType: string
  /** null: the default entity of the type. */
  readonly entityName: string | null
}

const ENTITY_TYPES: Readonly<Record<string, string>> = { users: "user", user: "user", clients: "client-id", "client-id": "client-id" }

/** The entity the options name, in kafka-configs' two spellings. */
const entityOf = (c: Context): Array<EntityComponent> => {
  const out: Array<EntityComponent> = []
  const user = option(c.args, "user")
  if (user !== undefined) out.push({ entityType: "user", entityName: user })
  else if (c.args.flags.has("user-default")) out.push({ entityType: "user", entityName: null })
  const client = option(c.args, "client-id")
  if (client !== undefined) out.push({ entityType: "client-id", entityName: client })
  else if (c.args.flags.has("client-default")) out.push({ entityType: "client-id", entityName: null })
  const typeName = option(c.args, "entity-type")
  if (typeName !== undefined) {
    const entityType = ENTITY_TYPES[typeName]
    if (entityType === undefined) throw new UsageError(`--entity-type must be users or clients, not ${typeName}`)
    const name = option(c.args, "entity-name")
    if (name === undefined && !c.args.flags.has("entity-default")) throw new UsageError("--entity-type needs --entity-name NAME or --entity-default")
    if (out.some((e) => e.entityType === entityType)) throw new UsageError(`${entityType} named twice`)
    out.push({ entityType, entityName: name ?? null })
  }
  return out
}

const entityLabel = (entity: ReadonlyArray<EntityComponent>): string =>
  entity.map((e) => `${e.entityType}=${e.entityName ?? "<default>"}`).join(",")

const requiredEntity = (c: Context): Array<EntityComponent> => {
  const entity = entityOf(c)
  if (entity.length === 0) throw new UsageError("name the entity: --user NAME|--user-default and/or --client-id NAME|--client-default (or --entity-type users|clients --entity-name NAME|--entity-default)")
  return entity
}

/** The quotas of the named entity (exact match), or of every entity when none is named. */
export const quotaDescribe = async (c: Context): Promise<void> => {
  const entity = entityOf(c)
  const { response } = await c.connection.request(DescribeClientQuotas, () => ({
    components: entity.map((e) => ({ entityType: e.entityType, matchType: e.entityName === null ? 1 : 0, match: e.entityName })),
    strict: entity.length > 0
  }))
  if (response.errorCode !== ErrorCode.NONE) throw new KafkaError(response.errorCode, response.errorMessage, "describe client quotas")
  const rows = (response.entries ?? []).flatMap((e) => e.values.map((v) => ({ entity: entityLabel(e.entity), key: v.key, value: v.value })))
  print(c, ["entity", "key", "value"], rows)
}

const alter = async (c: Context, entity: ReadonlyArray<EntityComponent>, ops: ReadonlyArray<{ key: string; value: number; remove: boolean }>) => {
  const { response } = await c.connection.request(AlterClientQuotas, () => ({
    entries: [{ entity, ops }],
    validateOnly: c.args.flags.has("validate-only")
  }))
  const r = response.entries[0]!
  if (r.errorCode !== ErrorCode.NONE) throw new KafkaError(r.errorCode, r.errorMessage, `alter client quotas of ${entityLabel(entity)}`)
  print(c, ["entity", "key", "operation", "value"], ops.map((o) => ({ entity: entityLabel(entity), key: o.key, operation: o.remove ? "DELETE" : "SET", value: o.remove ? null : o.value })))
}

/** `quota set ENTITY key=value...` (kafka-configs --add-config). */
export const quotaSet = (c: Context): Promise<void> => {
  const entity = requiredEntity(c)
  const ops = c.args.positionals.map((kv) => {
    const eq = kv.indexOf("=")
    const value = Number(kv.slice(eq + 1))
    if (eq <= 0 || kv.slice(eq + 1) === "" || !Number.isFinite(value)) throw new UsageError(`expected key=number, not ${kv}`)
    return { key: kv.slice(0, eq), value, remove: false }
  })
  if (ops.length === 0) throw new UsageError("nothing to set: give key=value pairs (producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate)")
  return alter(c, entity, ops)
}

/** `quota delete ENTITY KEY...` (kafka-configs --delete-config). */
export const quotaDelete = (c: Context): Promise<void> => {
  const entity = requiredEntity(c)
  if (c.args.positionals.length === 0) throw new UsageError("name the quota keys to delete")
  return alter(c, entity, c.args.positionals.map((key) => ({ key, value: 0, remove: true })))
}
