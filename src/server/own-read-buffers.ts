/**
 * Reads an accepted Node socket into buffers the broker chooses, as Node's `onread` socket
 * option does for sockets Node connects (net.connect). Node offers no such option for the
 * sockets its servers accept, so this sets the same three fields that option sets, on a
 * socket Node has already made: found by their symbols' names, used only when each is there
 * and unset, and left alone otherwise (the socket then keeps Node's reads: a fresh 64 KiB
 * buffer per read). Node's own code takes it from there (src/net.js: `onStreamRead` hands
 * each read to the callback and asks the generator for the next read's buffer; `pause` and
 * `resume` stop and start the handle's reads).
 *
 * Why: a produce request of a 64 KiB batch arrives over two or more of Node's buffers and was
 * copied into one. Read into consecutive parts of one large buffer, a request lies in one
 * piece (FrameReader joins adjacent views), with no copy and one allocation per buffer
 * instead of one per read.
 */
import type * as net from "node:net"

interface StreamHandle {
  reading: boolean
  readStart(): number
  readStop(): number
  useUserBuffer(buffer: Uint8Array): void
}

const symbolNamed = (o: object, name: string): symbol | undefined =>
  Object.getOwnPropertySymbols(o).find((s) => s.description === name)

/**
 * From now on every read of `socket` goes into the buffer `nextBuffer` returned last (asked
 * once now and again after each read) and is handed to `onRead` as a view of the bytes read,
 * instead of being emitted as 'data'; end of stream, errors and close are emitted as before,
 * and `pause`/`resume` still stop and start reading. Only while nothing waits unread in the
 * socket's stream buffer. Returns whether the socket now reads this way.
 */
export const readIntoOwnBuffers = (
  socket: net.Socket,
  nextBuffer: () => Buffer,
  onRead: (chunk: Buffer) => void
): boolean => {
  const handle = (socket as unknown as { _handle?: Partial<StreamHandle> | null })._handle
  if (handle == null || typeof handle.useUserBuffer !== "function" || typeof handle.readStop !== "function") return false
  if (socket.destroyed || socket.readableLength > 0) return false
  const kBuffer = symbolNamed(socket, "kBuffer")
  const kBufferCb = symbolNamed(socket, "kBufferCb")
  const kBufferGen = symbolNamed(socket, "kBufferGen")
  if (kBuffer === undefined || kBufferCb === undefined || kBufferGen === undefined) return false
  const fields = socket as unknown as Record<symbol, unknown>
  if (fields[kBuffer] != null || fields[kBufferCb] != null || fields[kBufferGen] != null) return false
  const h = handle as StreamHandle
  const wasReading = h.reading
  // The handle's buffer changes between reads only.
  if (wasReading) h.readStop()
  const first = nextBuffer()
  fields[kBuffer] = first
  fields[kBufferGen] = nextBuffer
  fields[kBufferCb] = (nread: number, buffer: Buffer): boolean => {
    onRead(buffer.subarray(0, nread))
    return true
  }
  h.useUserBuffer(first)
  // A flowing socket reads; a paused one starts again on `resume`.
  if (wasReading || !socket.isPaused()) {
    h.reading = true
    const err = h.readStart()
    if (err !== 0) socket.destroy(new Error(`restarting reads failed (libuv error ${err})`))
  }
  return true
}
