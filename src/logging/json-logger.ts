/**
 * `--log-format json`: one JSON object a line on stdout, for log collectors. Fields: time
 * (ISO 8601), level, message, the log annotations as fields of their own (client, api,
 * correlationId, topics...), and cause when there is one.
 */
import { Logger } from "effect"

const RESERVED = new Set(["time", "level", "message", "cause"])

export const jsonLineLogger = Logger.map(Logger.formatStructured, (entry): string => {
  const line: Record<string, unknown> = { time: entry.timestamp, level: entry.level, message: entry.message }
  for (const [key, value] of Object.entries(entry.annotations)) line[RESERVED.has(key) ? `annotation.${key}` : key] = value
  if (entry.cause !== undefined) line["cause"] = entry.cause
  return JSON.stringify(line, (_key, value) => (typeof value === "bigint" ? value.toString() : value))
})

/** Replaces the default logger with JSON lines on stdout. */
export const jsonLoggerLayer = Logger.layer([Logger.withConsoleLog(jsonLineLogger)])
