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
 *     buffer (no intermediate copy, buffers reused once written); a turn's responses go out
 *     corked, in one writev.
 *   node bench/lib/bare-server.ts relay <file> [ringMiB]
 *     End-to-end relay, the floor of the end-to-end scenario: one partition kept in memory
 *     per topic (in a ring of [ringMiB], 256 by default, allocated up front), and appended to
 *     <file> as the sink does. A Produce request's batch gets the next
 *     offsets and is answered at once (Produce v9); a Fetch (v12) at the log end waits,
 *     without a timer per wake-up, until the next append or its max wait, and is answered
 *     with the batches from its offset (up to its partition max bytes). Only the request
 *     shapes the bench sends (one topic, one partition) are understood; anything else gets
 *     the sink's minimal response.
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
  // Response buffers reused once written, as the broker reuses its read buffers: a fresh
  // buffer per response costs a page fault per 4 KiB.
  const spare: Array<Buffer> = []
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
        const response = spare.pop() ?? Buffer.allocUnsafe(8 + chunkBytes)
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
        socket.write(filled === chunkBytes ? response : response.subarray(0, 8 + filled), (error) => {
          if (error == null && spare.length < 64) spare.push(response)
        })
      }
      socket.uncork()
    })
    socket.on("error", () => socket.destroy())
  })
}

/** The relay's in-memory log: batches older than this many bytes are forgotten. */
const RELAY_RING_BYTES = 256 << 20

/** Unsigned varint at `pos`: [value, next position]. */
const uvarint = (b: Buffer, pos: number): [number, number] => {
  let v = 0
  let shift = 0
  while (true) {
    const x = b[pos++]!
    v += (x & 0x7f) * 2 ** shift
    if (x < 0x80) return [v, pos]
    shift += 7
  }
}

const writeUvarint = (out: Array<number>, v: number) => {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
}

/** Skips the request header v2 (api key, version, correlation id, client id, tagged fields); returns the body's position. */
const bodyAt = (frame: Buffer): number => {
  const clientIdLength = frame.readInt16BE(8)
  const [tagged, pos] = uvarint(frame, 10 + Math.max(0, clientIdLength))
  if (tagged !== 0) throw new Error("tagged fields in a request header")
  return pos
}

const relay = (file: string, ringBytes: number) => {
  const fd = fs.openSync(file, "a")
  // Batches live in one ring allocated and touched up front: fresh memory per batch costs a
  // page fault per 4 KiB (tens of microseconds per batch on a VM), which a floor must not pay.
  const ring = Buffer.alloc(ringBytes)
  let ringAt = 0
  let appended = 0
  /** A topic's partition 0 (the bench's scenarios use one partition per topic). */
  interface Log {
    readonly name: Buffer
    readonly batches: Array<{ baseOffset: number; bytes: Buffer; appendedAt: number }>
    logEnd: number
    parked: Array<Parked>
  }
  const logs = new Map<string, Log>()
  const logOf = (name: Buffer): Log => {
    const key = name.toString("latin1")
    let log = logs.get(key)
    if (log === undefined) logs.set(key, log = { name: Buffer.from(name), batches: [], logEnd: 0, parked: [] })
    return log
  }
  // Ring bytes older than this may be overwritten while a response still holds them.
  const servable = (appendedAt: number) => appended - appendedAt <= ring.length - (8 << 20)
  const parked = new Set<Log>()
  interface Parked {
    readonly socket: net.Socket
    readonly correlationId: number
    readonly offset: number
    readonly maxBytes: number
    readonly deadline: number
  }
  // One timer for every parked fetch (the earliest deadline), re-armed only when it fires.
  let timer: NodeJS.Timeout | undefined

  const fetchResponse = (log: Log, p: Omit<Parked, "deadline">): void => {
    const { batches, name: topicName, logEnd } = log
    const chosen: Array<Buffer> = []
    let bytes = 0
    // Binary search for the first batch at or after the offset.
    let lo = 0
    let hi = batches.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (batches[mid]!.baseOffset < p.offset) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < batches.length; i++) {
      if (!servable(batches[i]!.appendedAt)) continue
      const b = batches[i]!.bytes
      if (chosen.length > 0 && bytes + b.length > p.maxBytes) break
      chosen.push(b)
      bytes += b.length
    }
    const head: Array<number> = []
    const int = (v: number, n: number) => {
      for (let i = n - 1; i >= 0; i--) head.push(Math.floor(v / 2 ** (8 * i)) & 0xff)
    }
    int(p.correlationId, 4)
    head.push(0) // header tagged fields
    int(0, 4) // throttle
    int(0, 2) // error
    int(0, 4) // session id
    writeUvarint(head, 2) // one topic
    writeUvarint(head, topicName.length + 1)
    head.push(...topicName)
    writeUvarint(head, 2) // one partition
    int(0, 4) // index
    int(0, 2) // error
    int(logEnd, 8) // high watermark
    int(logEnd, 8) // last stable offset
    int(0, 8) // log start offset
    head.push(0) // aborted transactions: null
    int(0xffffffff, 4) // preferred read replica -1
    writeUvarint(head, bytes + 1)
    const tail = Buffer.from([0, 0, 0]) // partition, topic and response tagged fields
    const size = head.length + bytes + tail.length
    const frame = Buffer.allocUnsafe(4 + head.length)
    frame.writeInt32BE(size, 0)
    Buffer.from(head).copy(frame, 4)
    p.socket.cork()
    p.socket.write(frame)
    for (const c of chosen) p.socket.write(c)
    p.socket.write(tail)
    p.socket.uncork()
  }

  const expire = () => {
    timer = undefined
    const now = performance.now()
    for (const log of parked) {
      const keep: Array<Parked> = []
      for (const p of log.parked) {
        if (p.deadline <= now) fetchResponse(log, p)
        else keep.push(p)
      }
      log.parked = keep
      if (keep.length === 0) parked.delete(log)
    }
    arm()
  }
  const arm = () => {
    if (timer !== undefined || parked.size === 0) return
    let earliest = Infinity
    for (const log of parked) for (const p of log.parked) earliest = Math.min(earliest, p.deadline)
    timer = setTimeout(expire, Math.max(0, earliest - performance.now()))
  }

  /** Appends the request's batch and queues its response; returns the log appended to. */
  const produce = (frame: Buffer, correlationId: number, out: Array<Buffer>): Log => {
    let pos = bodyAt(frame)
    const [txn, afterTxn] = uvarint(frame, pos)
    pos = afterTxn + Math.max(0, txn - 1) + 2 + 4 // transactional id, acks, timeout
    ;[, pos] = uvarint(frame, pos) // topics
    const [nameLength, afterName] = uvarint(frame, pos)
    const log = logOf(frame.subarray(afterName, afterName + nameLength - 1))
    const { batches, name: topicName } = log
    pos = afterName + nameLength - 1
    ;[, pos] = uvarint(frame, pos) // partitions
    pos += 4 // index
    const [recordsLength, recordsAt] = uvarint(frame, pos)
    const received = frame.subarray(recordsAt, recordsAt + recordsLength - 1)
    if (ringAt + received.length > ring.length) ringAt = 0
    const batch = ring.subarray(ringAt, ringAt + received.length)
    received.copy(batch)
    ringAt += batch.length
    appended += batch.length
    // Batches the ring has since overwritten (or is about to) are no longer served.
    let drop = 0
    while (drop < batches.length && !servable(batches[drop]!.appendedAt)) drop++
    if (drop > 0) batches.splice(0, drop)
    const baseOffset = log.logEnd
    batch.writeBigInt64BE(BigInt(baseOffset), 0)
    log.logEnd += batch.readInt32BE(23) + 1
    fs.writeSync(fd, batch)
    batches.push({ baseOffset, bytes: batch, appendedAt: appended })
    const r: Array<number> = []
    const int = (v: number, n: number) => {
      for (let i = n - 1; i >= 0; i--) r.push(Math.floor(v / 2 ** (8 * i)) & 0xff)
    }
    int(correlationId, 4)
    r.push(0)
    writeUvarint(r, 2)
    writeUvarint(r, topicName.length + 1)
    r.push(...topicName)
    writeUvarint(r, 2)
    int(0, 4) // index
    int(0, 2) // error
    int(baseOffset, 8)
    int(0xffffffff, 4)
    int(0xffffffff, 4) // log append time -1
    int(0, 8) // log start offset
    r.push(1, 0, 0) // record errors: empty; error message: null; partition tagged fields
    r.push(0) // topic tagged fields
    int(0, 4) // throttle
    r.push(0)
    const response = Buffer.allocUnsafe(4 + r.length)
    response.writeInt32BE(r.length, 0)
    Buffer.from(r).copy(response, 4)
    out.push(response)
    return log
  }

  const fetch = (socket: net.Socket, frame: Buffer, correlationId: number) => {
    let pos = bodyAt(frame)
    const maxWait = frame.readInt32BE(pos + 4)
    pos += 4 + 4 + 4 + 4 + 1 + 4 + 4 // replica, max wait, min bytes, max bytes, isolation, session id, epoch
    ;[, pos] = uvarint(frame, pos) // topics
    const [nameLength, afterName] = uvarint(frame, pos)
    const log = logOf(frame.subarray(afterName, afterName + nameLength - 1))
    pos = afterName + nameLength - 1
    ;[, pos] = uvarint(frame, pos) // partitions
    const offset = Number(frame.readBigInt64BE(pos + 8))
    const maxBytes = frame.readInt32BE(pos + 8 + 8 + 4 + 8)
    const p = { socket, correlationId, offset, maxBytes }
    if (offset < log.logEnd || maxWait <= 0) return fetchResponse(log, p)
    log.parked.push({ ...p, deadline: performance.now() + maxWait })
    parked.add(log)
    arm()
  }

  return net.createServer((socket) => {
    socket.setNoDelay(true)
    // Received bytes not yet handled, in one buffer reused for the connection's life (no
    // fresh memory per frame; frames are handled before the next read overwrites them).
    let input = Buffer.alloc(1 << 20)
    let have = 0
    socket.on("data", (chunk: Buffer) => {
      if (have + chunk.length > input.length) {
        const grown = Buffer.alloc(Math.max(2 * input.length, have + chunk.length))
        input.copy(grown, 0, 0, have)
        input = grown
      }
      chunk.copy(input, have)
      have += chunk.length
      let buffered = input.subarray(0, have)
      const out: Array<Buffer> = []
      let appendedTo: Log | undefined
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0))
        buffered = buffered.subarray(4 + frame.length)
        const apiKey = frame.readInt16BE(0)
        const correlationId = frame.readInt32BE(4)
        if (apiKey === 0) {
          appendedTo = produce(frame, correlationId, out)
        } else if (apiKey === 1) fetch(socket, frame, correlationId)
        else {
          const r = Buffer.allocUnsafe(8)
          r.writeInt32BE(4, 0)
          r.writeInt32BE(correlationId, 4)
          out.push(r)
        }
      }
      buffered.copy(input, 0)
      have = buffered.length
      if (out.length > 0) socket.write(out.length === 1 ? out[0]! : Buffer.concat(out))
      // A fetch waiting on the log answers in the turn its data arrived (one topic per connection here).
      if (appendedTo !== undefined && appendedTo.parked.length > 0) {
        const woken = appendedTo.parked
        appendedTo.parked = []
        parked.delete(appendedTo)
        for (const p of woken) fetchResponse(appendedTo, p)
      }
    })
    socket.on("error", () => socket.destroy())
  })
}

// SIGTERM exits normally (so that --cpu-prof writes its profile); the bench itself kills with SIGKILL.
process.once("SIGTERM", () => process.exit(0))

const [mode, ...rest] = process.argv.slice(2)
if (mode === "sink" && rest[0] !== undefined) listen(sink(rest[0], rest[1] === "fsync"))
else if (mode === "reader" && rest.length >= 2) listen(reader(Number(rest[0]), rest.slice(1)))
else if (mode === "relay" && rest[0] !== undefined) listen(relay(rest[0], rest[1] === undefined ? RELAY_RING_BYTES : Number(rest[1]) << 20))
else {
  console.error("usage: node bench/lib/bare-server.ts sink <file> [fsync] | reader <chunkBytes> <file>... | relay <file> [ringMiB]")
  process.exit(2)
}
