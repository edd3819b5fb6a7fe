/**
 * `pnpm start [server.properties] [--override key=value]... [--log-level level] [--log-format text|json]`
 * Runs the broker until SIGINT/SIGTERM, then drains connections and exits 0.
 * `pnpm start --format [--cluster-id id] [--ignore-formatted] [server.properties] [--override ...]`
 * formats the log dirs (as `kafka-storage.sh format`) and exits.
 * Any start-up failure stops with one error line naming the file or setting and the reason,
 * exit 1.
 */
import * as path from "node:path"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit, Layer, References } from "effect"
import { EFFECT_LOG_LEVEL, parseArgs } from "./config/args.ts"
import { Config, loadBrokerConfig } from "./config/Config.ts"
import { ConfigError } from "./config/errors.ts"
import { makeBrokerLayer } from "./broker.ts"
import { BrokerServer } from "./server/BrokerServer.ts"
import { jsonLoggerLayer } from "./logging/json-logger.ts"
import { raiseMallocTrimThreshold } from "./malloc-trim.ts"
import { describeFailure } from "./startup-failure.ts"
import { formatStorage } from "./metadata/format.ts"
import { DEFAULT_BOOTSTRAP_METADATA_VERSION } from "./metadata/MetadataLog.ts"
import type { LogDirUnavailable, MetaPropertiesError } from "./metadata/errors.ts"

/** What a new user needs once the broker listens: where it keeps data and how to try it. */
const Welcome = Layer.effectDiscard(Effect.gen(function*() {
  const server = yield* BrokerServer
  const config = yield* Config
  const first = server.addresses[0]!
  const address = `${first.host}:${first.port}`
  const cli = address === "127.0.0.1:9092" ? "pnpm kafka" : `pnpm kafka --bootstrap-server ${address}`
  yield* Effect.logInfo(`data directory ${config.logDirs.map((d) => path.resolve(d)).join(", ")}`)
  yield* Effect.logInfo(`try it: ${cli} topic create demo && echo hello | ${cli} produce demo && ${cli} consume demo --offset beginning --num 1`)
}))

/**
 * The HTTP listener (metrics, health, console) starts this long after the Kafka listeners: its
 * start (node:http, effect's HttpServer and router) holds the event loop for 10-30 ms on a
 * small machine, and Kafka clients that connect as soon as the broker listens are answered first.
 */
const HTTP_LISTENER_START_AFTER = "100 millis"

/** The broker's (or the formatter's) whole run for a command line, until a signal or a failure ends it. */
const program = (argv: ReadonlyArray<string>) => Effect.gen(function*() {
  const args = yield* Effect.try({
    try: () => parseArgs(argv),
    catch: (e) => (e instanceof ConfigError ? e : new ConfigError({ key: "argv", value: argv.join(" "), message: String(e) }))
  })
  const level = args.logLevel === undefined ? "Info" : EFFECT_LOG_LEVEL[args.logLevel]
  if (args.format !== undefined) {
    const format = args.format
    const config = yield* loadBrokerConfig(args, process.env)
    const result = yield* Effect.try({
      try: () =>
        formatStorage({
          logDirs: config.logDirs,
          ...(config.metadataLogDir === undefined ? {} : { metadataLogDir: config.metadataLogDir }),
          nodeId: config.nodeId,
          ...(format.clusterId === undefined ? {} : { clusterId: format.clusterId }),
          ignoreFormatted: format.ignoreFormatted,
          metadataVersion: DEFAULT_BOOTSTRAP_METADATA_VERSION
        }),
      catch: (e) => e as MetaPropertiesError | LogDirUnavailable
    })
    for (const dir of result.alreadyFormatted) yield* Effect.logInfo(`log directory ${dir} is already formatted; left as it is`)
    for (const dir of result.formatted) yield* Effect.logInfo(`formatted ${dir} (cluster.id ${result.clusterId}, node.id ${config.nodeId})`)
    if (result.bootstrapFile !== null) {
      yield* Effect.logInfo(`wrote ${result.bootstrapFile} (metadata.version level ${DEFAULT_BOOTSTRAP_METADATA_VERSION})`)
    }
    if (result.formatted.length === 0) yield* Effect.logInfo("All of the log directories are already formatted.")
    return
  }
  const broker = Welcome.pipe(
    Layer.provideMerge(makeBrokerLayer({ httpListenerStartAfter: HTTP_LISTENER_START_AFTER })),
    Layer.provide(Config.layerFromArgs(argv, process.env))
  )
  return yield* Layer.launch(broker).pipe(
    Effect.provideService(References.MinimumLogLevel, level)
  )
}).pipe(
  Effect.tapError((e) => Effect.logError(describeFailure(e))),
  // From the first line on, a bad command line included (parseArgs validates the flag itself).
  Effect.provide(argv.some((a, i) => a === "--log-format=json" || (a === "--log-format" && argv[i + 1] === "json")) ? jsonLoggerLayer : Layer.empty)
)

/** Runs the broker for `argv` (the arguments after the script) and exits the process when it ends. */
const runMain = (argv: ReadonlyArray<string>): void => {
  // A clean shutdown forces every partition's files at once on libuv's thread pool
  // (src/log/sync-batch.ts), as Kafka flushes its logs over several threads; the default 4
  // threads leave a disk with a deep queue mostly waiting. libuv reads this when the pool first
  // starts: under `pnpm start` that is the launcher's read of the bundle, and scripts/start.cjs
  // sets it first; otherwise nothing before this line makes an asynchronous file system call.
  process.env["UV_THREADPOOL_SIZE"] ??= "16"
  // Not before the broker answers: V8 counts the block as external memory and may mark-compact
  // the heap for it (~10 ms). Under load within the first second, a few reads fault as before.
  setTimeout(raiseMallocTrimThreshold, 1_000).unref()
  NodeRuntime.runMain(program(argv), {
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
}

runMain(process.argv.slice(2))
