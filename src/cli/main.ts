#!/usr/bin/env node
/**
 * `kafka`: a command line for any Kafka-protocol broker, in the spirit of rpk and Kafka's
 * scripts, speaking the wire protocol with the project's own codecs.
 *
 *   kafka [--bootstrap-server host:port] [--format table|json] COMMAND ...
 *
 * Exit codes: 0 success, 1 the broker answered with a Kafka error (its name is printed),
 * 2 a usage mistake, 3 the broker could not be reached.
 */
import * as readline from "node:readline"
import { option, parseArgs } from "./args.ts"
import * as commands from "./commands.ts"
import * as quotas from "./quotas.ts"
import { ConnectionError, KafkaConnection, UnsupportedApi } from "./connection.ts"
import { type Format, KafkaError, UsageError } from "./output.ts"

const USAGE = `usage: kafka [--bootstrap-server HOST:PORT] [--format table|json] COMMAND

  cluster info
  topic list
  topic describe NAME
  topic create NAME [--partitions N] [--replication-factor N] [--config k=v]... [--if-not-exists]
  topic delete NAME... [--if-exists]
  topic add-partitions NAME --partitions TOTAL
  topic alter-config NAME [--set k=v]... [--delete k]... [--append k=v]... [--subtract k=v]...
  config describe (--topic NAME | --broker ID) [--all]        (--broker "" = cluster-wide defaults)
  config set (--topic NAME | --broker ID) k=v...
  config delete (--topic NAME | --broker ID) KEY...
  records delete --topic NAME --offset N [--partition P]       (-1 = everything produced so far)
  produce TOPIC [--partition P] [--key-separator S] [--header k=v]... [--compression none|gzip|snappy|lz4|zstd] [--acks -1|1]
                (one record per line of standard input)
  consume TOPIC [--partition P] [--offset beginning|end|N | --timestamp ISO|MS] [--group G] [--num N]
                [--timeout-ms IDLE] [--print FORMAT]   (FORMAT: value, json, or %t %p %o %k %s %T)
  group list
  group describe GROUP
  group delete GROUP...
  group reset-offsets GROUP --topic NAME (--to-earliest | --to-latest | --to-offset N | --to-datetime ISO | --shift-by N) [--execute]
  quota describe [ENTITY]                 ENTITY: --user NAME|--user-default, --client-id NAME|--client-default,
  quota set ENTITY k=v...                   or --entity-type users|clients (--entity-name NAME | --entity-default)
  quota delete ENTITY KEY...              (keys: producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate)
`

export const EXIT = { OK: 0, KAFKA_ERROR: 1, USAGE: 2, CONNECTION: 3 } as const

async function* linesOf(input: NodeJS.ReadableStream): AsyncIterable<string> {
  const rl = readline.createInterface({ input, crlfDelay: Infinity })
  for await (const line of rl) if (line !== "") yield line
}

/** Where a run reads and writes: the process's streams, or a test's. */
export interface Io {
  readonly stdin: NodeJS.ReadableStream
  readonly out: (text: string) => void
  readonly err: (text: string) => void
}

const processIo: Io = {
  stdin: process.stdin,
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text)
}

/** Runs one command line; resolves with the exit code. */
export const run = async (argv: ReadonlyArray<string>, io: Io = processIo): Promise<number> => {
  let connection: KafkaConnection | undefined
  try {
    const args = parseArgs(argv)
    const [group, action, ...rest] = args.positionals
    if (args.flags.has("help") || group === undefined) {
      io.out(USAGE)
      return group === undefined && !args.flags.has("help") ? EXIT.USAGE : EXIT.OK
    }
    const format = (option(args, "format") ?? "table") as Format
    if (format !== "table" && format !== "json") throw new UsageError(`--format must be table or json, not ${format}`)
    const bootstrap = option(args, "bootstrap-server") ?? option(args, "brokers") ?? "127.0.0.1:9092"
    const name = (what: string) => {
      const v = group === "produce" || group === "consume" ? action : rest[0]
      if (v === undefined) throw new UsageError(`missing ${what}`)
      return v
    }
    const known: Record<string, ReadonlyArray<string | undefined>> = {
      cluster: ["info"],
      topic: ["list", "describe", "create", "delete", "add-partitions", "alter-config"],
      config: ["describe", "set", "delete"],
      records: ["delete"],
      group: ["list", "describe", "delete", "reset-offsets"],
      quota: ["describe", "set", "delete"],
      produce: [action],
      consume: [action]
    }
    if (!(group in known) || !known[group]!.includes(action)) throw new UsageError(`unknown command: ${[group, action].filter((w) => w !== undefined).join(" ")}\n\n${USAGE}`)
    connection = await KafkaConnection.open(bootstrap)
    // Positionals after the command words (config keys, key=value pairs) belong to the command.
    const context: commands.Context = { connection, bootstrap, format, args: { ...args, positionals: group === "produce" || group === "consume" ? [] : rest },
      stdinLines: () => linesOf(io.stdin),
      out: io.out,
      err: io.err
    }
    switch (`${group} ${group === "produce" || group === "consume" ? "" : action}`.trim()) {
      case "cluster info": await commands.clusterInfo(context); break
      case "topic list": await commands.topicList(context); break
      case "topic describe": await commands.topicDescribe(context, name("topic name")); break
      case "topic create": await commands.topicCreate(context, name("topic name")); break
      case "topic delete": await commands.topicDelete(context, rest.length > 0 ? rest : [name("topic name")]); break
      case "topic add-partitions": await commands.topicAddPartitions(context, name("topic name")); break
      case "topic alter-config": await commands.topicAlterConfig({ ...context, args: { ...context.args, positionals: rest.slice(1) } }, name("topic name")); break
      case "config describe": await commands.configDescribe(context); break
      case "config set": await commands.configSet(context); break
      case "config delete": await commands.configDelete(context); break
      case "records delete": await commands.recordsDelete(context); break
      case "produce": await commands.produce(context, name("topic name")); break
      case "consume": await commands.consume(context, name("topic name")); break
      case "group list": await commands.groupList(context); break
      case "group describe": await commands.groupDescribe(context, name("group id")); break
      case "group delete": await commands.groupDelete(context, rest); break
      case "quota describe": await quotas.quotaDescribe(context); break
      case "quota set": await quotas.quotaSet(context); break
      case "quota delete": await quotas.quotaDelete(context); break
      case "group reset-offsets": await commands.groupResetOffsets({ ...context, args: { ...context.args, positionals: rest.slice(1) } }, name("group id")); break
    }
    return EXIT.OK
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n`)
      return EXIT.USAGE
    }
    if (e instanceof KafkaError || e instanceof UnsupportedApi) {
      io.err(`error: ${e.message}\n`)
      return EXIT.KAFKA_ERROR
    }
    if (e instanceof ConnectionError) {
      io.err(`error: ${e.message}\n`)
      return EXIT.CONNECTION
    }
    throw e
  } finally {
    connection?.close()
  }
}

if (import.meta.main) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`)
      process.exit(4)
    }
  )
}
