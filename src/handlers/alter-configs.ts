/**
 * What AlterConfigs and IncrementalAlterConfigs share: the checks Kafka's broker makes before
 * a change reaches the controller (ConfigAdminManager.preprocess), turning incremental
 * operations (SET, DELETE, APPEND, SUBTRACT) into new values, and one result per resource in
 * request order.
 *
 * Resource types: TOPIC (2) and BROKER (4, named by this node's id or "" for the cluster-wide
 * default). Broker loggers (8), client metrics (16) and groups (32) have no configs here and
 * are answered INVALID_REQUEST.
 */
import { Effect } from "effect"
import { isListBrokerKey } from "../config/dynamic-broker.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { isListTopicConfig } from "../topics/topic-configs.ts"
import type { TopicAdminError, TopicsShape } from "../topics/Topics.ts"

export const RESOURCE_TYPE_TOPIC = 2
export const RESOURCE_TYPE_BROKER = 4
export const RESOURCE_TYPE_BROKER_LOGGER = 8

/** AlterConfigOp.OpType ids. */
export const OP_SET = 0
export const OP_DELETE = 1
export const OP_APPEND = 2
export const OP_SUBTRACT = 3
const OP_NAMES = ["SET", "DELETE", "APPEND", "SUBTRACT"] as const

export interface ConfigOperation {
  readonly name: string
  /** OP_SET .. OP_SUBTRACT; legacy AlterConfigs is all SET plus implicit deletes. */
  readonly op: number
  readonly value: string | null
}

export interface ResourceChange {
  readonly resourceType: number
  readonly resourceName: string
  readonly configs: ReadonlyArray<ConfigOperation>
}

export interface ResourceResult {
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly resourceType: number
  readonly resourceName: string
}

class Refused {
  readonly errorCode: number
  readonly message: string
  constructor(errorCode: number, message: string) {
    this.errorCode = errorCode
    this.message = message
  }
}

const refuse = (errorCode: number, message: string): never => {
  throw new Refused(errorCode, message)
}

const splitList = (value: string | undefined | null): Array<string> =>
  value === undefined || value === null ? [] : value.split(",").filter((s) => s !== "")

/**
 * Incremental operations applied to the current values: the new value of every touched key
 * (null = deleted). Kafka's semantics: APPEND adds missing items, SUBTRACT removes them, both
 * starting from the current value or, when unset, the default.
 */
const applyOperations = (
  ops: ReadonlyArray<ConfigOperation>,
  current: ReadonlyMap<string, string>,
  isList: (name: string) => boolean,
  defaultOf: (name: string) => string | undefined,
  listError: (op: string, name: string) => string
): Map<string, string | null> => {
  const changes = new Map<string, string | null>()
  for (const { name, op, value } of ops) {
    switch (op) {
      case OP_SET:
        changes.set(name, value)
        break
      case OP_DELETE:
        changes.set(name, null)
        break
      case OP_APPEND:
      case OP_SUBTRACT: {
        if (!isList(name)) refuse(ErrorCode.INVALID_CONFIG, listError(OP_NAMES[op], name))
        const items = splitList(current.get(name) ?? defaultOf(name))
        for (const item of splitList(value)) {
          if (op === OP_APPEND && !items.includes(item)) items.push(item)
          if (op === OP_SUBTRACT) {
            const at = items.indexOf(item)
            if (at >= 0) items.splice(at, 1)
          }
        }
        changes.set(name, items.join(","))
        break
      }
      default:
        refuse(ErrorCode.INVALID_REQUEST, `Unknown operations type ${op}`)
    }
  }
  return changes
}

/** Legacy AlterConfigs replaces the whole set: keys not given are deleted. */
const replaceAll = (ops: ReadonlyArray<ConfigOperation>, current: ReadonlyMap<string, string>): Map<string, string | null> => {
  const changes = new Map<string, string | null>(ops.map((c) => [c.name, c.value]))
  for (const key of current.keys()) if (!changes.has(key)) changes.set(key, null)
  return changes
}

const checkBrokerName = (topics: TopicsShape, name: string): void => {
  if (name === "") return
  if (!/^[+-]?\d+$/.test(name)) refuse(ErrorCode.INVALID_REQUEST, `Node id must be an integer, but it is: ${name}`)
  if (Number(name) !== topics.nodeId) refuse(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${topics.nodeId}, but received ${name}`)
}

const alterOne = (topics: TopicsShape, resource: ResourceChange, incremental: boolean, validateOnly: boolean): Effect.Effect<void, TopicAdminError | Refused> =>
  Effect.suspend(() => {
    try {
      const names = resource.configs.map((c) => c.name)
      if (new Set(names).size !== names.length) refuse(ErrorCode.INVALID_REQUEST, "Error due to duplicate config keys")
      const nulls = resource.configs.filter((c) => c.value === null && (!incremental || c.op !== OP_DELETE)).map((c) => c.name)
      if (nulls.length > 0) refuse(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${nulls.join(", ")}`)
      switch (resource.resourceType) {
        case RESOURCE_TYPE_TOPIC: {
          const current = topics.dynamicConfigs("topic", resource.resourceName)
          const changes = incremental
            ? applyOperations(resource.configs, current, isListTopicConfig, (n) => topics.topicConfig(resource.resourceName).get(n),
              (op, n) => `Can't ${op} to key ${n} because its type is not LIST.`)
            : replaceAll(resource.configs, current)
          return topics.alterTopicConfigs(resource.resourceName, changes, validateOnly)
        }
        case RESOURCE_TYPE_BROKER: {
          checkBrokerName(topics, resource.resourceName)
          const current = topics.dynamicConfigs("broker", resource.resourceName)
          const changes = incremental
            ? applyOperations(resource.configs, current, isListBrokerKey, (n) => topics.describeBrokerConfigs([n])[0]?.value ?? undefined,
              (op, n) => `Config value ${op.toLowerCase()} is not allowed for config key: ${n}`)
            : replaceAll(resource.configs, current)
          return topics.alterBrokerConfigs(resource.resourceName, changes, validateOnly)
        }
        case RESOURCE_TYPE_BROKER_LOGGER:
          return refuse(ErrorCode.INVALID_REQUEST, incremental ? "Broker logger levels cannot be changed on this broker" : "Unknown resource type 8")
        default:
          return refuse(ErrorCode.INVALID_REQUEST, `Unknown resource type ${resource.resourceType}`)
      }
    } catch (e) {
      if (e instanceof Refused) return Effect.fail(e)
      throw e
    }
  })

/** Every resource's result, in request order. */
export const alterConfigResources = (
  topics: TopicsShape,
  resources: ReadonlyArray<ResourceChange>,
  incremental: boolean,
  validateOnly: boolean
): Effect.Effect<Array<ResourceResult>> => {
  const seen = new Map<string, number>()
  for (const r of resources) {
    const id = `${r.resourceType}:${r.resourceName}`
    seen.set(id, (seen.get(id) ?? 0) + 1)
  }
  return Effect.forEach(resources, (r) => {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName }
    if (seen.get(`${r.resourceType}:${r.resourceName}`)! > 1) {
      return Effect.succeed({ ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: "Each resource must appear at most once." })
    }
    return alterOne(topics, r, incremental, validateOnly).pipe(
      Effect.match({
        onFailure: (e) => ({ ...base, errorCode: e.errorCode, errorMessage: e.message }),
        onSuccess: () => ({ ...base, errorCode: ErrorCode.NONE, errorMessage: null })
      })
    )
  })
}
