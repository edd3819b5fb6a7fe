/**
 * Why a connection ends. Each is logged once with the client's address; none of them
 * affects any other connection.
 */
import { Data } from "effect"

/** The client sent something we will not serve: oversized or truncated frame, unknown API, bad body. */
export class RequestRejected extends Data.TaggedError("RequestRejected")<{ readonly reason: string }> {}

/** A handler died (a bug): the client gets a closed connection rather than a wrong answer. */
export class HandlerDefect extends Data.TaggedError("HandlerDefect")<{
  readonly apiName: string
  readonly correlationId: number
  readonly cause: unknown
}> {}
