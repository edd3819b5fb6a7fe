/**
 * The baselines: what plain Node.js does with the same frames on the same disk, written as
 * well as Node allows so that a broker/baseline ratio does not flatter the broker.
 *
 *   node bench/lib/bare-server.ts sink <file> [fsync]
 *     Produce sink: reads request frames, appends every byte read to <file> with one write
 *     per batch of bytes read (O_APPEND, synchronous: page-cache writes are fastest so),
 *     fsyncs after that write when "fsync" is given (log.flush.interval.messages=1), then
 *     answers each complete frame with a minimal 8-byte response (size, correlation id),
 *     all of a turn's responses in one socket write.
 *   node bench/lib/bare-server.ts reader <chunkBytes> <file>...
 *     Fetch reader: answers each request frame with the next <chunkBytes> of the files
 *     (read in order, per connection, wrapping at the end), read straight into the response
 *     buffer (no intermediate copy); a turn's responses go out corked, in one writev.
 *
 * Prints its port on stdout and runs until killed. Imports only node: modules, so it starts
 * in milliseconds and its CPU time is the server's own.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import { FrameCounter } from "./frames.ts"

const listen = (server: net.Server) =>
  server.listen(0, "127.0.0.1", () => console.log((server.address() as net.AddressInfo).port))

const sink = (file: string, fsync: boolean) => {
  const fd = fs.openSync(file, "a")
  return net.createServer((socket) => {
    socket.setNoDelay(true)
    const frames = new FrameCounter(12)
    const done: Array<number> = []
    socket.on("data", (chunk: Buffer) => {
      fs.writeSync(fd, chunk)
      done.length = 0
      frames.feed(chunk, done)
      if (done.length === 0) return
      if (fsync) fs.fsyncSync(fd)
      const out = Buffer.allocUnsafe(8 * done.length)
      for (let i = 0; i < done.length; i++) {
        out.writeInt32BE(4, i * 8)
        out.writeInt32BE(done[i]!, i * 8 + 4)
      }
      socket.write(out)
    })
    socket.on("error", () => socket.destroy())
  })
}

const reader = (chunkBytes: number, files: ReadonlyArray<string>) => {
  const fds = files.map((f) => fs.openSync(f, "r"))
  const sizes = files.map((f) => fs.statSync(f).size)
  return net.createServer((socket) => {
    socket.setNoDelay(true)
    const frames = new FrameCounter(12)
    const done: Array<number> = []
    let file = 0
    let position = 0
    socket.on("data", (chunk: Buffer) => {
      done.length = 0
      frames.feed(chunk, done)
      if (done.length === 0) return
      socket.cork()
      for (const correlationId of done) {
        const response = Buffer.allocUnsafe(8 + chunkBytes)
        let filled = 0
        while (filled < chunkBytes) {
          if (position >= sizes[file]!) {
            file = (file + 1) % fds.length
            position = 0
          }
          const n = fs.readSync(fds[file]!, response, 8 + filled, Math.min(chunkBytes - filled, sizes[file]! - position), position)
          if (n <= 0) break
          filled += n
          position += n
        }
        response.writeInt32BE(4 + filled, 0)
        response.writeInt32BE(correlationId, 4)
        socket.write(filled === chunkBytes ? response : response.subarray(0, 8 + filled))
      }
      socket.uncork()
    })
    socket.on("error", () => socket.destroy())
  })
}

const [mode, ...rest] = process.argv.slice(2)
if (mode === "sink" && rest[0] !== undefined) listen(sink(rest[0], rest[1] === "fsync"))
else if (mode === "reader" && rest.length >= 2) listen(reader(Number(rest[0]), rest.slice(1)))
else {
  console.error("usage: node bench/lib/bare-server.ts sink <file> [fsync] | reader <chunkBytes> <file>...")
  process.exit(2)
}
