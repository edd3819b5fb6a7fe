/**
 * What the command line prints: aligned tables for people, JSON for scripts, and Kafka's
 * error names for failures.
 */
import { ErrorCode } from "../protocol/error-codes.ts"

export type Format = "table" | "json"

const NAMES: ReadonlyMap<number, string> = new Map(Object.entries(ErrorCode).map(([name, code]) => [code as number, name]))

/** Kafka's name of an error code (UNKNOWN_TOPIC_OR_PARTITION, ...). */
export const errorName = (code: number): string => NAMES.get(code) ?? `ERROR_${code}`

/** A Kafka error answered by the broker: exit code 1. */
export class KafkaError extends Error {
  readonly errorCode: number
  constructor(errorCode: number, message: string | null | undefined, what: string) {
    super(`${what}: ${errorName(errorCode)}${message ? ` (${message})` : ""}`)
    this.errorCode = errorCode
  }
}

/** A mistake on the command line: exit code 2. */
export class UsageError extends Error {}

export type Row = Readonly<Record<string, string | number | boolean | null>>

const cell = (v: string | number | boolean | null | undefined): string => (v === null || v === undefined ? "-" : String(v))

/** Rows as an aligned table with upper-case headings, columns in the given order. */
export const table = (columns: ReadonlyArray<string>, rows: ReadonlyArray<Row>): string => {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)))
  const line = (values: ReadonlyArray<string>) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join("  ").trimEnd()
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join("\n") + "\n"
}

const toJson = (value: unknown): string => JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? Number(v) : v), 2) + "\n"

export interface Output {
  readonly format: Format
  readonly out: (text: string) => void
}

/** Prints `rows` as a table, or as JSON (`json` if given, else the rows). */
export const print = (o: Output, columns: ReadonlyArray<string>, rows: ReadonlyArray<Row>, json?: unknown): void => {
  o.out(o.format === "json" ? toJson(json ?? rows) : table(columns, rows))
}

export const printJson = (o: Output, value: unknown): void => {
  o.out(toJson(value))
}
