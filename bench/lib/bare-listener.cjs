/**
 * The start-up floor: the least a Node.js process does to answer a Kafka request. Plain CommonJS
 * (no type-stripping, nothing loaded but node:net), listening on 127.0.0.1 on an ephemeral port,
 * printing that port, answering each request frame with an 8-byte response (size, correlation
 * id). The bench's start-to-ready and idle RSS figures are the broker's against this process's.
 */
const net = require("node:net")

const server = net.createServer((socket) => {
  let pending = Buffer.alloc(0)
  socket.on("data", (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    while (pending.length >= 12 && pending.length >= 4 + pending.readInt32BE(0)) {
      const response = Buffer.alloc(8)
      response.writeInt32BE(4, 0)
      pending.copy(response, 4, 8, 12)
      socket.write(response)
      pending = pending.subarray(4 + pending.readInt32BE(0))
    }
  })
  socket.on("error", () => socket.destroy())
})
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`))
