import { Schema } from "effect"

/**
 * A configuration value the broker cannot start with. `key` is the Kafka property name (or the
 * command-line flag / file path when the problem is not a property) and `value` the offending
 * text, so the operator can find the line to fix without reading a stack trace.
 */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  key: Schema.String,
  value: Schema.String,
  message: Schema.String
}) {}

/**
 * The pure parsers throw instead of returning a Result: validation is a long sequence of checks and
 * early exits read better than threaded results. The Effect boundary (Config.ts) turns the throw
 * back into a typed failure.
 */
export const fail = (key: string, value: string, message: string): never => {
  throw new ConfigError({ key, value, message })
}

/** Kafka's wording for a rejected value, so messages look familiar to Kafka operators. */
export const invalidValue = (key: string, value: string, reason: string): never =>
  fail(key, value, `Invalid value ${value} for configuration ${key}: ${reason}`)
