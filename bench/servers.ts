/**
 * The servers bench/api-versions.ts and bench/metrics-produce.ts compare, each run in its own process:
 *   node bench/servers.ts broker   the real broker (embedded, ephemeral port)
 *   node bench/servers.ts broker-no-metrics   the same without request metrics
 *   node bench/servers.ts bare     a bare node:net server answering every frame with a
 *                                  precomputed ApiVersions response (correlation id patched)
 * Each prints its port on stdout and runs until killed.
 */
import * as net from "node:net"
import { startBroker } from "../src/broker.ts"
import { handlers } from "../src/broker.ts"
import { makeRegistry } from "../src/handlers/registry.ts"
import { apiVersionsResponse } from "../src/handlers/ApiVersions.ts"
import { ApiVersions } from "../src/protocol/generated/apis.ts"
import { encodeResponseFrame } from "../src/server/dispatch.ts"

const mode = process.argv[2]

if (mode === "broker" || mode === "broker-no-metrics") {
  const broker = await startBroker({ logLevel: "None", requestMetrics: mode === "broker" })
  console.log(broker.port)
} else if (mode === "bare") {
  // Same bytes the broker sends for ApiVersions v3 (header v0 + body), built once.
  const template = encodeResponseFrame(ApiVersions, 3, 0, apiVersionsResponse(makeRegistry(handlers).supported))
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    let pending = Buffer.alloc(0)
    socket.on("data", (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      const out: Array<Buffer> = []
      let pos = 0
      while (pending.length - pos >= 4) {
        const size = pending.readInt32BE(pos)
        if (pending.length - pos < 4 + size) break
        const response = Buffer.from(template)
        response.writeInt32BE(pending.readInt32BE(pos + 8), 4) // correlation id
        out.push(response)
        pos += 4 + size
      }
      pending = pending.subarray(pos)
      if (out.length > 0) socket.write(out.length === 1 ? out[0]! : Buffer.concat(out))
    })
    socket.on("error", () => socket.destroy())
  })
  server.listen(0, "127.0.0.1", () => console.log((server.address() as net.AddressInfo).port))
} else {
  console.error("usage: node bench/servers.ts broker|broker-no-metrics|bare")
  process.exit(2)
}
