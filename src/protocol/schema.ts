/**
 * Exposes a generated codec as an Effect Schema from wire bytes (`Uint8Array`) to the
 * decoded message. The codec itself is a plain function over one buffer; the Schema is a
 * single transformation around it, so a decode costs one Schema step, not one per field.
 */
import { Effect, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { Reader, Writer } from "./primitives.ts"

export const binarySchema = <T, I>(
  name: string,
  decode: (r: Reader) => T,
  encode: (w: Writer, v: I) => void
) =>
  Schema.Uint8Array.pipe(
    Schema.decodeTo(
      Schema.declare<T & I>((u): u is T & I => typeof u === "object" && u !== null, { identifier: name }),
      SchemaTransformation.transformEffect({
        decode: (bytes: Uint8Array) => {
          try {
            const r = new Reader(bytes)
            const value = decode(r)
            if (r.remaining !== 0) {
              return Effect.fail(new SchemaIssue.InvalidValue({ message: `${name}: ${r.remaining} trailing bytes` }, bytes))
            }
            return Effect.succeed(value as T & I)
          } catch (e) {
            return Effect.fail(new SchemaIssue.InvalidValue({ message: `${name}: ${(e as Error).message}` }, bytes))
          }
        },
        encode: (value: T & I) => {
          try {
            const w = new Writer()
            encode(w, value)
            return Effect.succeed(w.toBytes())
          } catch (e) {
            return Effect.fail(new SchemaIssue.InvalidValue({ message: `${name}: ${(e as Error).message}` }, value))
          }
        }
      })
    )
  )
