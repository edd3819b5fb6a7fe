/**
 * The baselines: what plain Node.js does with the same frames on the same disk, written as
 * well as Node allows so that a broker/baseline ratio does not flatter the broker.
 *
 *   node bench/lib/bare-server.ts sink <file> [fsync] [per-read]
 *     Produce sink: reads request frames, appends every byte read to <file> with one write
 *     per event-loop turn (what libuv read in one wake-up, up to 32 chunks: one writev;
 *     O_APPEND, synchronous: page-cache writes are fastest so), fsyncs after that write when
 *     "fsync" is given (log.flush.interval.messages=1), then answers each complete frame with
 *     a minimal 8-byte response (size, correlation id), all of a turn's responses in one
 *     socket write. It reads into 1 MiB buffers of its own, as the broker reads a connection of
 *     large requests. "per-read" writes and answers per chunk read instead (one 'data' event),
 *     as the sink did before the broker handled a turn's reads together.
 *   node bench/lib/bare-server.ts reader <chunkBytes> <file>...
 *     Fetch reader: answers each request frame with the next <chunkBytes> of the files
 *     (read in order, per connection, wrapping at the end), read straight into the response
 *     buffer (no intermediate copy, buffers reused once written); a turn's responses go out
 *     corked, in one writev.
 *   node bench/lib/bare-server.ts relay <file> [ringMiB]
 *     End-to-end relay, the floor of the end-to-end scenario: one partition per topic, its
 *     batches kept in memory (a ring of [ringMiB], 64 by default, allocated and touched up
 *     front) and appended to its file (<file>.<n>, the n-th topic's) with one write per batch
 *     of frames read, as the sink does; a new topic replaces the ones before it (the bench
 *     deletes each round's topic), their files removed off the event loop. A Produce request's batch gets the next offsets and is answered at once
 *     (Produce v9; a read's acks in one socket write); a Fetch (v12) at the log end waits,
 *     without a timer per wake-up, until the next append or its max wait, and is answered
 *     with the batches from its offset (up to its partition max bytes), corked: a head, the
 *     batches straight from the ring (from the file for a consumer a ring behind), a tail.
 *     It reads each connection straight into one input buffer of its own. Requests are
 *     parsed in place, responses patched into templates encoded once per
 *     topic: nothing allocated per record or per field. Only the request shapes the bench
 *     sends (one topic, one partition) are understood; anything else gets the sink's
 *     minimal response.
 *
 * Prints its port on stdout and runs until killed. Imports only node: modules and three small
 * files with no imports of their own, so it starts in milliseconds and its CPU time is the
 * server's own.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import { FrameCounter } from "./frames.ts"
import { raiseMallocTrimThreshold } from "../../src/malloc-trim.ts"
import { readIntoOwnBuffers } from "../../src/server/own-read-buffers.ts"

// As the broker does (src/malloc-trim.ts), so that the baselines keep the same allocator setting.
raiseMallocTrimThreshold()

const listen = (server: net.Server) =>
  server.listen(0, "127.0.0.1", () => console.log((server.address() as net.AddressInfo).port))

const SLAB_BYTES = 1024 * 1024
const MIN_READ_BYTES = 64 * 1024

const sink = (file: string, fsync: boolean, perRead: boolean) => {
  const fd = fs.openSync(file, "a")
  return net.createServer((socket) => {
    socket.setNoDelay(true)
    const frames = new FrameCounter(12)
    const done: Array<number> = []
    const answer = () => {
      if (done.length === 0) return
      if (fsync) fs.fsyncSync(fd)
      const out = Buffer.allocUnsafe(8 * done.length)
      for (let i = 0; i < done.length; i++) {
        out.writeInt32BE(4, i * 8)
        out.writeInt32BE(done[i]!, i * 8 + 4)
      }
      done.length = 0
      socket.write(out)
    }
    if (perRead) {
      socket.on("data", (chunk: Buffer) => {
        fs.writeSync(fd, chunk)
        frames.feed(chunk, done)
        answer()
      })
    } else {
      // What libuv read in one wake-up (up to 32 chunks, one 'data' event each) is written in
      // the check phase that follows: one writev and one response write per turn.
      let pending: Array<Buffer> = []
      const writeTurn = () => {
        const chunks = pending
        pending = []
        if (chunks.length === 1) fs.writeSync(fd, chunks[0]!)
        else fs.writevSync(fd, chunks)
        for (const c of chunks) frames.feed(c, done)
        answer()
      }
      const received = (chunk: Buffer) => {
        if (pending.push(chunk) === 1) setImmediate(writeTurn)
      }
      socket.on("data", received)
      // Read as the broker reads a connection of large requests (src/server/Listeners.ts):
      // into consecutive parts of 1 MiB slabs of its own, up to all that is left of one per
      // read, instead of a fresh 64 KiB buffer from Node per read.
      let slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
      let used = 0
      readIntoOwnBuffers(socket, () => {
        if (slab.length - used < MIN_READ_BYTES) {
          slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
          used = 0
        }
        return slab.subarray(used)
      }, (chunk) => {
        used = chunk.byteOffset + chunk.length
        received(chunk)
      })
    }
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

/** The relay's in-memory log (a ring): older batches are read back from its file. */
const RELAY_RING_BYTES = 64 << 20
/** A connection's receive buffer: frames are handled in place; a partial one moves to the front when a chunk would not fit after it. */
const RELAY_INPUT_BYTES = 4 << 20

/** Unsigned varint at `pos`; sets `varintEnd` to the position after it. */
let varintEnd = 0
const uvarint = (b: Buffer, pos: number): number => {
  let v = 0
  let shift = 0
  while (true) {
    const x = b[pos++]!
    v += (x & 0x7f) * 2 ** shift
    if (x < 0x80) {
      varintEnd = pos
      return v
    }
    shift += 7
  }
}

/** Writes an unsigned varint at `pos`; returns the position after it. */
const writeUvarint = (b: Buffer, pos: number, v: number): number => {
  while (v >= 0x80) {
    b[pos++] = (v & 0x7f) | 0x80
    v = Math.floor(v / 128)
  }
  b[pos++] = v
  return pos
}

/** Skips the request header v2 (api key, version, correlation id, client id, tagged fields); returns the body's position. */
const bodyAt = (b: Buffer, at: number): number => {
  const clientIdLength = b.readInt16BE(at + 8)
  if (uvarint(b, at + 10 + Math.max(0, clientIdLength)) !== 0) throw new Error("tagged fields in a request header")
  return varintEnd
}

const relay = (file: string, ringBytes: number) => {
  // Batches live in one ring allocated and touched up front: fresh memory per batch costs a
  // page fault per 4 KiB (tens of microseconds per batch on a VM), which a floor must not pay.
  // Buffer.alloc alone does not touch it (the zeroed pages come from calloc, lazily): fill does.
  const ring = Buffer.allocUnsafeSlow(ringBytes).fill(0)
  const L = ring.length
  /**
   * Bytes put in the ring since the start, counting the tail skipped at each wrap, so a
   * batch's ring position is its start in these coordinates modulo the ring's length, and
   * the batch is intact while fewer than L bytes came after its start.
   */
  let ringAppended = 0
  /** Topics seen so far (each has its file, `<file>.<n>`). */
  let topicsSeen = 0
  /**
   * Ring bytes a response still holds (the socket has not taken them yet), by where they
   * start: a batch that would overwrite them goes to the file only (a consumer that slow is
   * served from the file), so no response ever sends bytes the ring reused.
   */
  const pins = new Set<{ readonly from: number }>()
  const pinnedFrom = (): number => {
    let min = Infinity
    for (const p of pins) min = Math.min(min, p.from)
    return min
  }
  const inRing = (ringStart: number) => ringStart >= 0 && ringAppended - ringStart <= L
  /** The file write pending for this read: ring bytes [runFrom, runTo) of `runLog` (one write per run of batches). */
  let runFrom = 0
  let runTo = 0
  let runLog: Log | undefined
  const flushRun = () => {
    if (runLog !== undefined && runTo > runFrom) fs.writeSync(runLog.fd, ring, runFrom % L, runTo - runFrom)
    runFrom = runTo = 0
    runLog = undefined
  }

  /** A topic's partition 0 (the bench's scenarios use one partition per topic). */
  interface Log {
    readonly name: Buffer
    /** Its file (every batch appended in order) and the bytes in it. */
    readonly path: string
    readonly fd: number
    fileAt: number
    /** Its batches, by base offset: start in ring coordinates (-1: in the file only), position in the file, size. */
    readonly baseOffsets: Array<number>
    readonly ringStarts: Array<number>
    readonly filePositions: Array<number>
    readonly sizes: Array<number>
    logEnd: number
    parked: Array<Parked>
    /** The produce response and fetch response head for this topic, encoded once (ids and offsets patched per use). */
    readonly produceResponse: Buffer
    readonly fetchHead: Buffer
    /** Where the fetch head's high watermark, last stable offset and records length go. */
    readonly fetchOffsetsAt: number
  }
  interface Parked {
    readonly socket: net.Socket
    readonly correlationId: number
    readonly offset: number
    readonly maxBytes: number
    readonly deadline: number
  }

  const logs = new Map<string, Log>()
  const logOf = (b: Buffer, at: number, length: number): Log => {
    const key = b.toString("latin1", at, at + length)
    let log = logs.get(key)
    if (log !== undefined) return log
    const name = Buffer.from(key, "latin1")
    // Produce v9 response: size, correlation id, header tags; one topic (name), one partition:
    // index, error, base offset, log append time -1, log start offset 0, record errors [],
    // error message null, tags; topic tags; throttle 0; response tags.
    const produceResponse = Buffer.alloc(4 + 4 + 1 + 1 + 5 + name.length + 1 + 4 + 2 + 8 + 8 + 8 + 3 + 1 + 4 + 1)
    let p = 9
    p = writeUvarint(produceResponse, p, 2)
    p = writeUvarint(produceResponse, p, name.length + 1)
    p += name.copy(produceResponse, p)
    p = writeUvarint(produceResponse, p, 2)
    p += 4 + 2 + 8 // index 0, error 0, base offset (patched)
    produceResponse.writeBigInt64BE(-1n, p)
    p += 8 + 8 // log append time, log start offset 0
    produceResponse[p++] = 1 // record errors: empty
    produceResponse[p++] = 0 // error message: null
    produceResponse[p++] = 0 // partition tags
    produceResponse[p++] = 0 // topic tags
    p += 4 // throttle
    produceResponse[p++] = 0 // response tags
    const sized = produceResponse.subarray(0, p)
    sized.writeInt32BE(p - 4, 0)
    // Fetch v12 response head, up to the records' length: size, correlation id, header tags,
    // throttle, error, session id; one topic (name), one partition: index, error, high
    // watermark, last stable offset, log start offset, aborted null, preferred replica -1.
    const fetchHead = Buffer.alloc(4 + 4 + 1 + 4 + 2 + 4 + 5 + name.length + 1 + 4 + 2 + 8 + 8 + 8 + 1 + 4 + 5)
    let f = 4 + 4 + 1 + 4 + 2 + 4
    f = writeUvarint(fetchHead, f, 2)
    f = writeUvarint(fetchHead, f, name.length + 1)
    f += name.copy(fetchHead, f)
    f = writeUvarint(fetchHead, f, 2)
    f += 4 + 2
    const fetchOffsetsAt = f
    // The bench deletes each round's topic before the next round's: the relay forgets the
    // topics before a new one, and removes their files off the event loop (as a broker's
    // deleted partition leaves no data behind to hold disk and page cache).
    flushRun()
    for (const old of logs.values()) {
      for (const p of old.parked) fetchResponse(old, p)
      parked.delete(old)
      fs.closeSync(old.fd)
      fs.rm(old.path, { force: true }, () => {})
    }
    logs.clear()
    const logPath = `${file}.${topicsSeen++}`
    const fd = fs.openSync(logPath, "w+")
    log = {
      name, path: logPath, fd, fileAt: 0, baseOffsets: [], ringStarts: [], filePositions: [], sizes: [], logEnd: 0, parked: [],
      produceResponse: sized, fetchHead, fetchOffsetsAt
    }
    logs.set(key, log)
    return log
  }

  const parked = new Set<Log>()
  // One timer for every parked fetch (the earliest deadline), re-armed only when it fires.
  let timer: NodeJS.Timeout | undefined
  /** A fetch response's last bytes: partition, topic and response tags. */
  const fetchTail = Buffer.from([0, 0, 0])

  const fetchResponse = (log: Log, p: Omit<Parked, "deadline">): void => {
    const { baseOffsets, logEnd } = log
    // Binary search for the first batch at or after the offset.
    let lo = 0
    let hi = baseOffsets.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (baseOffsets[mid]! < p.offset) lo = mid + 1
      else hi = mid
    }
    let bytes = 0
    let to = lo
    while (to < baseOffsets.length && (to === lo || bytes + log.sizes[to]! <= p.maxBytes)) bytes += log.sizes[to++]!
    const h = log.fetchHead
    h.writeInt32BE(p.correlationId, 4)
    let at = log.fetchOffsetsAt
    h.writeBigInt64BE(BigInt(logEnd), at)
    h.writeBigInt64BE(BigInt(logEnd), at + 8)
    at += 8 + 8 + 8 // log start offset 0
    h[at++] = 0 // aborted transactions: null
    h.writeInt32BE(-1, at)
    at = writeUvarint(h, at + 4, bytes + 1)
    h.writeInt32BE(at - 4 + bytes + fetchTail.length, 0)
    p.socket.cork()
    // The head is rewritten by the next response: it goes to the socket as a copy.
    p.socket.write(Buffer.from(h.subarray(0, at)))
    // Batches appended back to back sit next to each other in the ring: one write per run.
    // A consumer that fell a ring behind is served from the file (one read per run).
    let pinFrom = Infinity
    let i = lo
    while (i < to) {
      const fromRing = inRing(log.ringStarts[i]!)
      const starts = fromRing ? log.ringStarts : log.filePositions
      let end = starts[i]! + log.sizes[i]!
      let j = i + 1
      while (j < to && starts[j] === end && inRing(log.ringStarts[j]!) === fromRing) end += log.sizes[j++]!
      if (fromRing) {
        pinFrom = Math.min(pinFrom, starts[i]!)
        p.socket.write(ring.subarray(starts[i]! % L, starts[i]! % L + end - starts[i]!))
      } else {
        const old = Buffer.allocUnsafe(end - starts[i]!)
        fs.readSync(log.fd, old, 0, old.length, starts[i]!)
        p.socket.write(old)
      }
      i = j
    }
    if (pinFrom === Infinity) p.socket.write(fetchTail)
    else {
      const pin = { from: pinFrom }
      pins.add(pin)
      p.socket.write(fetchTail, () => pins.delete(pin))
    }
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

  /** Appends the request's batch to the ring; returns the log appended to. Its response is `log.produceResponse` with `baseOffset`. */
  let baseOffset = 0
  const produce = (b: Buffer, at: number): Log => {
    let pos = bodyAt(b, at)
    const txn = uvarint(b, pos)
    pos = varintEnd + Math.max(0, txn - 1) + 2 + 4 // transactional id, acks, timeout
    uvarint(b, pos) // topics (one)
    const nameLength = uvarint(b, varintEnd) - 1
    const log = logOf(b, varintEnd, nameLength)
    uvarint(b, varintEnd + nameLength) // partitions (one)
    const n = uvarint(b, varintEnd + 4) - 1
    const recordsAt = varintEnd
    baseOffset = log.logEnd
    b.writeBigInt64BE(BigInt(baseOffset), recordsAt)
    log.logEnd += b.readInt32BE(recordsAt + 23) + 1
    log.baseOffsets.push(baseOffset)
    log.sizes.push(n)
    log.filePositions.push(log.fileAt)
    log.fileAt += n
    let slot = ringAppended % L
    if (slot + n > L) {
      ringAppended += L - slot
      slot = 0
    }
    if (n > L || pinnedFrom() < ringAppended + n - L) {
      // The ring's next bytes are still on their way to a slow consumer: file only.
      log.ringStarts.push(-1)
      flushRun()
      fs.writeSync(log.fd, b, recordsAt, n)
      return log
    }
    b.copy(ring, slot, recordsAt, recordsAt + n)
    log.ringStarts.push(ringAppended)
    if (runTo !== ringAppended || runLog !== log) {
      flushRun()
      runFrom = ringAppended
      runLog = log
    }
    ringAppended += n
    runTo = ringAppended
    return log
  }

  const fetch = (socket: net.Socket, b: Buffer, at: number, correlationId: number) => {
    let pos = bodyAt(b, at)
    const maxWait = b.readInt32BE(pos + 4)
    pos += 4 + 4 + 4 + 4 + 1 + 4 + 4 // replica, max wait, min bytes, max bytes, isolation, session id, epoch
    uvarint(b, pos) // topics (one)
    const nameLength = uvarint(b, varintEnd) - 1
    const log = logOf(b, varintEnd, nameLength)
    uvarint(b, varintEnd + nameLength) // partitions (one)
    pos = varintEnd
    const offset = Number(b.readBigInt64BE(pos + 4 + 4))
    const maxBytes = b.readInt32BE(pos + 4 + 4 + 8 + 4 + 8)
    const p = { socket, correlationId, offset, maxBytes }
    if (offset < log.logEnd || maxWait <= 0) return fetchResponse(log, p)
    log.parked.push({ ...p, deadline: performance.now() + maxWait })
    parked.add(log)
    arm()
  }

  /** Responses of one read, written at once: produce acks, and the minimal answer to anything else. */
  const minimal = Buffer.alloc(8)
  minimal.writeInt32BE(4, 0)

  return net.createServer((socket) => {
    socket.setNoDelay(true)
    // Received bytes not yet handled, in one buffer reused for the connection's life (no
    // fresh memory per frame; a partial frame moves to the front only when space runs short).
    // The socket reads straight into it (src/server/own-read-buffers.ts, as the broker reads a
    // connection of large requests); where it cannot, each chunk is copied in once.
    const input = Buffer.alloc(RELAY_INPUT_BYTES)
    let start = 0
    let end = 0
    const out: Array<Buffer> = []
    const compact = () => {
      input.copy(input, 0, start, end)
      end -= start
      start = 0
    }
    const onRead = (chunk: Buffer) => {
      if (input.length - end < chunk.length) {
        if (end - start + chunk.length > input.length) throw new Error(`a frame longer than ${input.length} bytes`)
        compact()
      }
      end += chunk.copy(input, end)
      handleInput()
    }
    const readStraightIn = readIntoOwnBuffers(socket, () => {
      if (input.length - end < MIN_READ_BYTES) compact()
      if (end === input.length) throw new Error(`a frame longer than ${input.length} bytes`)
      return input.subarray(end)
    }, (chunk) => {
      end += chunk.length
      handleInput()
    })
    const handleInput = () => {
      let appendedTo: Log | undefined
      let outBytes = 0
      while (end - start >= 4 && end - start >= 4 + input.readInt32BE(start)) {
        const size = input.readInt32BE(start)
        const at = start + 4
        start = at + size
        const apiKey = input.readInt16BE(at)
        const correlationId = input.readInt32BE(at + 4)
        if (apiKey === 0) {
          const log = produce(input, at)
          appendedTo = log
          const r = log.produceResponse
          r.writeInt32BE(correlationId, 4)
          r.writeBigInt64BE(BigInt(baseOffset), r.length - 4 - 1 - 1 - 3 - 8 - 8 - 8)
          out.push(Buffer.from(r))
          outBytes += r.length
        } else if (apiKey === 1) fetch(socket, input, at, correlationId)
        else {
          minimal.writeInt32BE(correlationId, 4)
          out.push(Buffer.from(minimal))
          outBytes += 8
        }
      }
      // One file write per run of batches this read appended (a wrap starts a new run).
      flushRun()
      if (start === end) start = end = 0
      if (out.length > 0) {
        socket.write(out.length === 1 ? out[0]! : Buffer.concat(out, outBytes))
        out.length = 0
      }
      // A fetch waiting on the log answers in the turn its data arrived (one topic per connection here).
      if (appendedTo !== undefined && appendedTo.parked.length > 0) {
        const woken = appendedTo.parked
        appendedTo.parked = []
        parked.delete(appendedTo)
        for (const p of woken) fetchResponse(appendedTo, p)
      }
    }
    if (!readStraightIn) socket.on("data", onRead)
    socket.on("error", () => socket.destroy())
  })
}

// SIGTERM exits normally (so that --cpu-prof writes its profile); the bench itself kills with SIGKILL.
process.once("SIGTERM", () => process.exit(0))

const [mode, ...rest] = process.argv.slice(2)
if (mode === "sink" && rest[0] !== undefined) listen(sink(rest[0], rest.includes("fsync"), rest.includes("per-read")))
else if (mode === "reader" && rest.length >= 2) listen(reader(Number(rest[0]), rest.slice(1)))
else if (mode === "relay" && rest[0] !== undefined) listen(relay(rest[0], rest[1] === undefined ? RELAY_RING_BYTES : Number(rest[1]) << 20))
else {
  console.error("usage: node bench/lib/bare-server.ts sink <file> [fsync] | reader <chunkBytes> <file>... | relay <file> [ringMiB]")
  process.exit(2)
}
