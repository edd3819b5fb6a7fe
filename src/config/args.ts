/**
 * Command line of the broker, shaped like `kafka-server-start.sh`:
 *   broker [server.properties] [--override key=value]... [--log-level level] [--log-format text|json]
 * so Kafka muscle memory (and scripts) carry over. `--format [--cluster-id id]
 * [--ignore-formatted]` formats the log dirs instead of running, as
 * `kafka-storage.sh format -c server.properties` does.
 */
import { fail } from "./errors.ts"

export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal", "none"] as const
export type LogLevelName = (typeof LOG_LEVELS)[number]
export const LOG_FORMATS = ["text", "json"] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

export interface ParsedArgs {
  readonly propertiesFile?: string
  /** In command-line order; later ones win. */
  readonly overrides: Array<[key: string, value: string]>
  readonly logLevel?: LogLevelName
  readonly logFormat?: LogFormat
  /** Present when the command is `--format`: format the storage directories and exit. */
  readonly format?: FormatArgs
}

export interface FormatArgs {
  /** --cluster-id; a random one is generated when absent. */
  readonly clusterId?: string
  /** --ignore-formatted: a directory already formatted is left as it is instead of failing. */
  readonly ignoreFormatted: boolean
}

const USAGE = "usage is [server.properties] [--override key=value]... [--log-level level] [--log-format text|json] " +
  "| --format [--cluster-id id] [--ignore-formatted] [server.properties] [--override key=value]..."

/** Effect's spelling of each level, for References.MinimumLogLevel. */
export const EFFECT_LOG_LEVEL = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warning: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None"
} as const satisfies Record<LogLevelName, string>

const parseLogLevel = (text: string): LogLevelName => {
  const lower = text.trim().toLowerCase()
  const level = lower === "warn" ? "warning" : lower
  if ((LOG_LEVELS as ReadonlyArray<string>).includes(level)) return level as LogLevelName
  return fail("--log-level", text, `Unknown log level "${text}": expected one of ${LOG_LEVELS.join(", ")}`)
}

const parseLogFormat = (text: string): LogFormat => {
  const lower = text.trim().toLowerCase()
  if ((LOG_FORMATS as ReadonlyArray<string>).includes(lower)) return lower as LogFormat
  return fail("--log-format", text, `Unknown log format "${text}": expected one of ${LOG_FORMATS.join(", ")}`)
}

// Kafka splits an override on the first "=" only: values such as listener lists may contain more.
const parseOverride = (text: string): [string, string] => {
  const eq = text.indexOf("=")
  const key = eq < 0 ? "" : text.slice(0, eq).trim()
  if (key === "") return fail("--override", text, `Invalid --override "${text}": expected key=value`)
  return [key, text.slice(eq + 1)]
}

/** Parses argv (without the node binary and script). Throws ConfigError on a malformed command line. */
export const parseArgs = (argv: ReadonlyArray<string>): ParsedArgs => {
  let propertiesFile: string | undefined
  let logLevel: LogLevelName | undefined
  let logFormat: LogFormat | undefined
  const overrides: Array<[string, string]> = []
  let format = false
  let clusterId: string | undefined
  let ignoreFormatted = false

  let i = 0
  // Accepts both "--flag value" and "--flag=value", as Kafka's option parser does.
  const valueOf = (flag: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline
    const next = argv[i++]
    if (next === undefined) return fail(flag, "", `Option ${flag} requires a value`)
    return next
  }

  while (i < argv.length) {
    const arg = argv[i++] as string
    if (arg.startsWith("-") && arg !== "-") {
      const eq = arg.indexOf("=")
      const flag = eq < 0 ? arg : arg.slice(0, eq)
      const inline = eq < 0 ? undefined : arg.slice(eq + 1)
      switch (flag) {
        case "--override":
          overrides.push(parseOverride(valueOf(flag, inline)))
          break
        case "--log-level":
          logLevel = parseLogLevel(valueOf(flag, inline))
          break
        case "--log-format":
          logFormat = parseLogFormat(valueOf(flag, inline))
          break
        case "--format":
          format = true
          break
        case "--cluster-id":
          clusterId = valueOf(flag, inline).trim()
          if (clusterId === "") return fail(flag, arg, "Option --cluster-id requires a non-empty value")
          break
        case "--ignore-formatted":
          ignoreFormatted = true
          break
        default:
          return fail(flag, arg, `Unknown option ${flag}: ${USAGE}`)
      }
    } else if (propertiesFile === undefined) {
      if (arg === "") return fail("propertiesFile", arg, "The properties file path is empty")
      propertiesFile = arg
    } else {
      return fail("propertiesFile", arg, `Unexpected argument "${arg}": only one properties file may be given (already have ${propertiesFile})`)
    }
  }

  if (!format && (clusterId !== undefined || ignoreFormatted)) {
    const flag = clusterId !== undefined ? "--cluster-id" : "--ignore-formatted"
    return fail(flag, flag, `Option ${flag} is only valid with --format: ${USAGE}`)
  }
  return {
    ...(propertiesFile === undefined ? {} : { propertiesFile }),
    overrides,
    ...(logLevel === undefined ? {} : { logLevel }),
    ...(logFormat === undefined ? {} : { logFormat }),
    ...(format ? { format: { ...(clusterId === undefined ? {} : { clusterId }), ignoreFormatted } } : {})
  }
}
