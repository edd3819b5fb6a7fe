/**
 * `pnpm start [server.properties] [--override key=value]... [--log-level level] [--log-format text|json]`
 * Runs the broker until SIGINT/SIGTERM, then drains connections and exits 0.
 * A bad configuration stops start-up with one line naming the key and value, exit 1.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit, Layer, References } from "effect"
import { EFFECT_LOG_LEVEL, parseArgs } from "./config/args.ts"
import { Config } from "./config/Config.ts"
import { ConfigError } from "./config/errors.ts"
import { BrokerLayer } from "./broker.ts"
import { jsonLoggerLayer } from "./logging/json-logger.ts"

const argv = process.argv.slice(2)

const program = Effect.gen(function*() {
  const args = yield* Effect.try({
    try: () => parseArgs(argv),
    catch: (e) => (e instanceof ConfigError ? e : new ConfigError({ key: "argv", value: argv.join(" "), message: String(e) }))
  })
  const level = args.logLevel === undefined ? "Info" : EFFECT_LOG_LEVEL[args.logLevel]
  return yield* Layer.launch(BrokerLayer.pipe(Layer.provide(Config.layerFromArgs(argv, process.env)))).pipe(
    Effect.provideService(References.MinimumLogLevel, level)
  )
}).pipe(
  Effect.catchTag("ConfigError", (e) => Effect.andThen(Effect.logError(`invalid configuration: ${e.message}`), Effect.fail(e))),
  // From the first line on, a bad command line included (parseArgs validates the flag itself).
  Effect.provide(argv.some((a, i) => a === "--log-format=json" || (a === "--log-format" && argv[i + 1] === "json")) ? jsonLoggerLayer : Layer.empty)
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  // A signal-driven stop is the normal way to end a broker: exit 0 after the drain.
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return onExit(0)
    if (!Cause.hasFails(exit.cause)) console.error(Cause.pretty(exit.cause))
    // Not onExit(1): that calls process.exit at once, which drops log lines still queued
    // for a piped stdout. Setting the code and letting the loop empty keeps them.
    process.exitCode = 1
    return onExit(0)
  }
})
