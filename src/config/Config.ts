/**
 * The broker configuration as an Effect service. Sources, lowest precedence first:
 * defaults < server.properties < KAFKA_* environment variables < --override flags.
 */
import { readFile } from "node:fs/promises"
import { Context, Effect, Layer } from "effect"
import { type ParsedArgs, parseArgs } from "./args.ts"
import { type BrokerConfig, type ConfigLayer, parseBrokerConfig } from "./broker-config.ts"
import { configFromEnv } from "./env.ts"
import { ConfigError } from "./errors.ts"
import { parseProperties, PropertiesSyntaxError } from "./properties.ts"

/** Runs a pure parser, keeping its ConfigError typed; anything else it throws is a bug (defect). */
const attempt = <A>(f: () => A): Effect.Effect<A, ConfigError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (error) {
      if (error instanceof ConfigError) return Effect.fail(error)
      throw error
    }
  })

const utf8 = new TextDecoder("utf-8", { fatal: true })
const latin1 = new TextDecoder("latin1")

/**
 * Java reads properties files as ISO-8859-1, but files written today are UTF-8. Decoding as
 * strict UTF-8 and falling back to Latin-1 reads both kinds correctly (ASCII is the same in both).
 */
const decode = (bytes: Uint8Array): string => {
  try {
    return utf8.decode(bytes)
  } catch {
    return latin1.decode(bytes)
  }
}

const readPropertiesFile = (path: string): Effect.Effect<Map<string, string>, ConfigError> =>
  Effect.tryPromise({
    try: () => readFile(path),
    catch: (error) =>
      new ConfigError({ key: "propertiesFile", value: path, message: `Cannot read properties file ${path}: ${(error as Error).message}` })
  }).pipe(
    Effect.flatMap((bytes) =>
      Effect.try({
        try: () => parseProperties(decode(bytes)),
        catch: (error) => {
          if (!(error instanceof PropertiesSyntaxError)) throw error
          return new ConfigError({ key: "propertiesFile", value: path, message: `Malformed properties file ${path}, ${error.message}` })
        }
      })
    )
  )

const build = Effect.fnUntraced(function*(layers: ReadonlyArray<ConfigLayer>) {
  const config = yield* attempt(() => parseBrokerConfig(layers))
  if (config.unknownKeys.length > 0) {
    yield* Effect.logDebug(`Ignoring unknown configuration keys: ${config.unknownKeys.join(", ")}`)
  }
  return config
})

/** Loads the config for a parsed command line and an environment (normally process.env). */
export const loadBrokerConfig = Effect.fnUntraced(function*(
  args: ParsedArgs,
  env: Readonly<Record<string, string | undefined>>
) {
  const file = args.propertiesFile === undefined ? new Map<string, string>() : yield* readPropertiesFile(args.propertiesFile)
  return yield* build([file, configFromEnv(env), args.overrides])
})

/**
 * The service holds the config itself. Named Config for brevity; this module deliberately does not
 * import effect's own `Config` module.
 */
export class Config extends Context.Service<Config, BrokerConfig>()("kafka-broker/config/Config") {
  /** From a command line (`[server.properties] [--override k=v]... [--log-level l]`) and environment. */
  static readonly layerFromArgs = (
    argv: ReadonlyArray<string>,
    env: Readonly<Record<string, string | undefined>>
  ): Layer.Layer<Config, ConfigError> =>
    Layer.effect(
      Config,
      attempt(() => parseArgs(argv)).pipe(
        Effect.flatMap((args) => loadBrokerConfig(args, env)),
        Effect.map((config) => Config.of(config))
      )
    )

  /** For tests and embedding: Kafka-named properties on top of the defaults, no file or environment. */
  static readonly layerFromValues = (values: Readonly<Record<string, string>>): Layer.Layer<Config, ConfigError> =>
    Layer.effect(Config, build([Object.entries(values)]).pipe(Effect.map((config) => Config.of(config))))
}
