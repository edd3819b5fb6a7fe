/**
 * The start-up floor of the broker's stack: effect's runtime and @effect/platform-node's socket
 * server, listening on 127.0.0.1 on an ephemeral port and answering each request frame with an
 * 8-byte response (size, correlation id), with nothing of the broker (no configuration, data
 * directory, protocol or handlers). `bench/lib/stack-floor.ts` bundles it and runs it with a code
 * cache as `pnpm start` runs the broker, so that start-to-ready splits into Node's own start (the
 * bare node:net listener), what the stack adds to it (this program), and what the broker adds.
 * It logs the line the bench waits for, as the broker does.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as Effect from "effect/Effect"

const EMPTY: Uint8Array = new Uint8Array(0)

/** The 8-byte responses to the complete frames at the front of `pending`, and what is left after them. */
const answerFrames = (pending: Uint8Array): { readonly responses: Array<Uint8Array>; readonly rest: Uint8Array } => {
  const responses: Array<Uint8Array> = []
  let at = 0
  while (pending.length - at >= 12) {
    const view = new DataView(pending.buffer, pending.byteOffset + at)
    const size = view.getInt32(0)
    if (pending.length - at < 4 + size) break
    const response = new Uint8Array(8)
    new DataView(response.buffer).setInt32(0, 4)
    response.set(pending.subarray(at + 8, at + 12), 4)
    responses.push(response)
    at += 4 + size
  }
  return { responses, rest: pending.subarray(at) }
}

const program = Effect.gen(function*() {
  const server = yield* NodeSocketServer.make({ host: "127.0.0.1", port: 0, noDelay: true })
  const port = server.address._tag === "UnixPathAddress" ? 0 : server.address.port
  yield* Effect.logInfo(`listening on PLAINTEXT://127.0.0.1:${port}`)
  return yield* server.run((socket) =>
    Effect.scoped(Effect.gen(function*() {
      const reader = yield* socket.reader
      const writer = yield* socket.writer
      let pending = EMPTY
      while (true) {
        for (const chunk of yield* reader.pull) {
          if (typeof chunk === "string") continue
          const merged = new Uint8Array(pending.length + chunk.length)
          merged.set(pending, 0)
          merged.set(chunk, pending.length)
          pending = merged
        }
        const { responses, rest } = answerFrames(pending)
        pending = rest
        for (const response of responses) yield* writer.write(response)
      }
    })).pipe(Effect.ignore)
  )
})

NodeRuntime.runMain(Effect.scoped(program))
