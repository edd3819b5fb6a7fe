/**
 * Environment variables → broker properties, with the naming convention of the Apache Kafka
 * Docker image so the same compose files work: `KAFKA_` prefix, the rest lower-cased, and in it
 * `_` → `.`, `__` → `_`, `___` → `-` (e.g. KAFKA_LOG_DIRS → log.dirs).
 */

const PREFIX = "KAFKA_"

/**
 * Variables that configure Kafka's launcher scripts and JVM rather than the broker. The Docker
 * image excludes the same names (plus KAFKA_DEBUG and friends from kafka-run-class.sh); turning
 * them into properties would only produce bogus unknown keys like `heap.opts`.
 */
export const LAUNCHER_ENV_VARS: ReadonlySet<string> = new Set([
  "KAFKA_VERSION",
  "KAFKA_HOME",
  "KAFKA_HEAP_OPTS",
  "KAFKA_HEAP_OPT",
  "KAFKA_OPTS",
  "KAFKA_JVM_PERFORMANCE_OPTS",
  "KAFKA_GC_LOG_OPTS",
  "KAFKA_JMX_OPTS",
  "KAFKA_JMX_PORT",
  "KAFKA_JMX_HOSTNAME",
  "KAFKA_LOG4J_OPTS",
  "KAFKA_LOG4J_ROOT_LOGLEVEL",
  "KAFKA_LOG4J_LOGGERS",
  "KAFKA_TOOLS_LOG4J_LOGLEVEL",
  "KAFKA_DEBUG",
  "KAFKA_DEBUG_SUSPEND_FLAG"
])

const UNDERSCORE_RUN: Readonly<Record<number, string>> = { 1: ".", 2: "_", 3: "-" }

/**
 * The property an environment variable sets, or undefined when it is not one of ours. Runs of
 * four or more underscores are undefined in the Docker image; we decompose them greedily
 * (`___` first), which at least is deterministic.
 */
export const envVarToConfigKey = (name: string): string | undefined => {
  if (!name.startsWith(PREFIX) || LAUNCHER_ENV_VARS.has(name)) return undefined
  const rest = name.slice(PREFIX.length)
  if (rest === "") return undefined
  return rest.toLowerCase().replace(/_+/g, (run) => {
    let out = ""
    let left = run.length
    while (left > 0) {
      const take = Math.min(left, 3)
      out += UNDERSCORE_RUN[take]
      left -= take
    }
    return out
  })
}

/** The properties set by `env`, ordered by variable name so collisions resolve deterministically. */
export const configFromEnv = (env: Readonly<Record<string, string | undefined>>): Array<[string, string]> =>
  Object.keys(env)
    .sort()
    .flatMap((name) => {
      const key = envVarToConfigKey(name)
      const value = env[name]
      return key === undefined || value === undefined ? [] : [[key, value] as [string, string]]
    })
