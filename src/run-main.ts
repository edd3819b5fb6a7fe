/**
 * The broker's process: the program `pnpm start` runs (see src/main.ts for its command line),
 * as a function of the command line so that it can be evaluated ahead of the run (the start-up
 * snapshot, scripts/snapshot-entry.mjs) and called when a process starts.
 */
import * as net from "node:net"
import * as path from "node:path"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit, Layer, References } from "effect"
import * as Socket from "effect/socket/Socket"
import { EFFECT_LOG_LEVEL, parseArgs } from "./config/args.ts"
import { Config, loadBrokerConfig } from "./config/Config.ts"
import { ConfigError } from "./config/errors.ts"
import { BrokerLayer } from "./broker.ts"
import { BrokerServer } from "./server/BrokerServer.ts"
import { jsonLoggerLayer } from "./logging/json-logger.ts"
import { describeFailure } from "./startup-failure.ts"
import { formatStorage } from "./metadata/format.ts"
import { DEFAULT_BOOTSTRAP_METADATA_VERSION } from "./metadata/MetadataLog.ts"
import type { LogDirUnavailable, MetaPropertiesError } from "./metadata/errors.ts"
import { apiVersionsResponse } from "./handlers/ApiVersions.ts"
import { ApiVersions } from "./protocol/generated/apis/ApiVersions.ts"
import { encodeRequestHeader } from "./protocol/generated/message/RequestHeader.ts"
import { readRequestHeader, requestHeaderVersion } from "./protocol/header.ts"
import { Writer } from "./protocol/primitives.ts"

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
  const broker = Welcome.pipe(Layer.provideMerge(BrokerLayer), Layer.provide(Config.layerFromArgs(argv, process.env)))
  return yield* Layer.launch(broker).pipe(
    Effect.provideService(References.MinimumLogLevel, level)
  )
}).pipe(
  Effect.tapError((e) => Effect.logError(describeFailure(e))),
  // From the first line on, a bad command line included (parseArgs validates the flag itself).
  Effect.provide(argv.some((a, i) => a === "--log-format=json" || (a === "--log-format" && argv[i + 1] === "json")) ? jsonLoggerLayer : Layer.empty)
)

/**
 * Runs once, while the start-up snapshot is built (scripts/broker-entry.mjs), the pure part of
 * what every start does: V8 keeps the bytecode of functions that have run, and compiled regular
 * expressions, in the snapshot, so a start from it does not compile them again (a function
 * first called at run time is compiled then, without the code cache Node has for its own
 * modules). Only computations whose results are dropped: no I/O, nothing kept, no clock.
 */
export const warmUp = (): void => {
  // listen() on a host name passes the address through isIPv6 (net's lookupAndListen): the
  // first call compiles its regular expression, ~15 ms. It loads node:dns and node:cluster
  // (listenInCluster) on first use too.
  process.getBuiltinModule("node:dns")
  process.getBuiltinModule("node:cluster")
  net.isIP("127.0.0.1")
  net.isIP("::1")
  net.isIPv6("fe80::1")
  // The command line and the config, as `pnpm start --override ...` parses them.
  const args = parseArgs(["--override", "listeners=PLAINTEXT://127.0.0.1:0", "--override", "log.dirs=/nonexistent", "--log-level", "info"])
  Effect.runSync(loadBrokerConfig(args, {}))
  // A client's first request and its answer, through the codecs.
  const w = new Writer(64)
  const version = 3
  encodeRequestHeader(w, requestHeaderVersion(ApiVersions, version), { requestApiKey: ApiVersions.apiKey, requestApiVersion: version, correlationId: 1, clientId: "warm-up" })
  ApiVersions.encodeRequest(w, version, { clientSoftwareName: "warm-up", clientSoftwareVersion: "1" })
  const { header, reader } = readRequestHeader(w.toBytes(), requestHeaderVersion(ApiVersions, version))
  ApiVersions.decodeRequest(reader, header.requestApiVersion)
  ApiVersions.encodeResponse(new Writer(512), version, apiVersionsResponse([{ apiKey: 18, minVersion: 0, maxVersion: 4 }]))
  // A client's connection ends with a SocketError: the first one built compiles the Schema
  // parsers of its fields, ~9 ms.
  void new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 1000 }) })
  void new Socket.SocketError({ reason: new Socket.SocketReadError({ cause: new Error("warm-up") }) })
}

/** Runs the broker for `argv` (the arguments after the script) and exits the process when it ends. */
export const runMain = (argv: ReadonlyArray<string>): void => {
  // A clean shutdown forces every partition's files at once on libuv's thread pool
  // (src/log/sync-batch.ts), as Kafka flushes its logs over several threads; the default 4
  // threads leave a disk with a deep queue mostly waiting. libuv reads this when the pool first
  // starts, which is after this line: nothing before a run makes an asynchronous file system call.
  process.env["UV_THREADPOOL_SIZE"] ??= "16"
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
