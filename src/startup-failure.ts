/**
 * The one line a failed start prints: what (the file, directory or setting) and why. Every
 * typed start-up failure's message names its file or setting; this adds the context.
 */
import type { BrokerStartupError } from "./broker.ts"
import type { ConfigError } from "./config/errors.ts"

export const describeFailure = (e: BrokerStartupError | ConfigError): string => {
  switch (e._tag) {
    case "ConfigError":
      return `invalid configuration: ${e.message}`
    case "ListenerBindError":
      return `cannot start: ${e.message}`
    case "LogIoError":
      return `cannot start: ${e.operation} failed for ${e.path === "" ? "a log directory" : e.path}: ${e.message}`
    default:
      return `cannot start: ${e.message}${e.path !== "" && !e.message.includes(e.path) ? ` (${e.path})` : ""}`
  }
}
