/**
 * Command-line parsing: positional words, `--name value` / `--name=value` options (some may
 * repeat), and flags. `--bootstrap-server` and `--format` may appear anywhere on the line.
 */
import { UsageError } from "./output.ts"

export interface ParsedArgs {
  readonly positionals: ReadonlyArray<string>
  readonly options: ReadonlyMap<string, ReadonlyArray<string>>
  readonly flags: ReadonlySet<string>
}

/** Options that take no value. */
const FLAGS = new Set(["execute", "dry-run", "help", "all", "print-key", "print-offset", "from-beginning", "validate-only", "if-exists", "if-not-exists", "to-earliest", "to-latest", "user-default", "client-default", "entity-default"])

export const parseArgs = (argv: ReadonlyArray<string>): ParsedArgs => {
  const positionals: Array<string> = []
  const options = new Map<string, Array<string>>()
  const flags = new Set<string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "-h") {
      flags.add("help")
      continue
    }
    if (!arg.startsWith("--") || arg === "--") {
      positionals.push(arg)
      continue
    }
    const eq = arg.indexOf("=")
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2)
    if (FLAGS.has(name) && eq < 0) {
      flags.add(name)
      continue
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i]
    if (value === undefined) throw new UsageError(`--${name} needs a value`)
    const list = options.get(name) ?? []
    list.push(value)
    options.set(name, list)
  }
  return { positionals, options, flags }
}

export const option = (args: ParsedArgs, name: string): string | undefined => {
  const values = args.options.get(name)
  return values === undefined ? undefined : values[values.length - 1]
}

export const intOption = (args: ParsedArgs, name: string): number | undefined => {
  const v = option(args, name)
  if (v === undefined) return undefined
  if (!/^-?\d+$/.test(v)) throw new UsageError(`--${name} must be an integer, not ${v}`)
  return Number(v)
}

/** `k=v` pairs of a repeatable option. */
export const pairs = (args: ParsedArgs, name: string): Array<[string, string]> =>
  (args.options.get(name) ?? []).map((kv) => {
    const eq = kv.indexOf("=")
    if (eq <= 0) throw new UsageError(`--${name} expects key=value, not ${kv}`)
    return [kv.slice(0, eq), kv.slice(eq + 1)]
  })
