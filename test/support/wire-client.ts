/**
 * A minimal raw Kafka-wire client for tests: sends frames as bytes and reads responses
 * back by size prefix, so tests can send exactly the malformed input they mean to.
 */
import * as net from "node:net"
import type { AnyApi } from "../../src/protocol/api.ts"
import { encodeRequestHeader } from "../../src/protocol/generated/message/RequestHeader.ts"
import { requestHeaderVersion, responseHeaderVersion } from "../../src/protocol/header.ts"
import { decodeResponseHeader } from "../../src/protocol/generated/message/ResponseHeader.ts"
import { Reader, Writer } from "../../src/protocol/primitives.ts"

export const encodeRequest = <ReqInit>(api: AnyApi, version: number, correlationId: number, body: ReqInit, clientId = "wire-test"): Uint8Array => {
  const w = new Writer(64)
  const sizeAt = w.reserveInt32()
  encodeRequestHeader(w, requestHeaderVersion(api, version), { requestApiKey: api.apiKey, requestApiVersion: version, correlationId, clientId })
  api.encodeRequest(w, version, body)
  w.setInt32At(sizeAt, w.pos - 4)
  return w.toBytes()
}

export const frame = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + payload.length)
  new DataView(out.buffer).setInt32(0, payload.length)
  out.set(payload, 4)
  return out
}

export const decodeResponse = (api: AnyApi, version: number, payload: Uint8Array) => {
  const r = new Reader(payload)
  const header = decodeResponseHeader(r, responseHeaderVersion(api, version))
  // oxlint-disable-next-line no-explicit-any
  return { correlationId: header.correlationId, body: api.decodeResponse(r, version) as any }
}

export class WireClient {
  private readonly socket: net.Socket
  // Received bytes not yet framed, joined only once a whole frame is there: joining per chunk
  // would copy a large response once per chunk it arrives in.
  private pending: Array<Buffer> = []
  private pendingBytes = 0
  private needed = 4
  private readonly frames: Array<Uint8Array> = []
  private waiters: Array<() => void> = []
  private ended = false

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      this.pending.push(chunk)
      this.pendingBytes += chunk.length
      if (this.pendingBytes < this.needed) return
      let buffered = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes)
      this.needed = 4
      while (buffered.length >= 4) {
        const size = buffered.readInt32BE(0)
        if (buffered.length < 4 + size) {
          this.needed = 4 + size
          break
        }
        this.frames.push(Uint8Array.from(buffered.subarray(4, 4 + size)))
        buffered = buffered.subarray(4 + size)
      }
      this.pending = buffered.length === 0 ? [] : [buffered]
      this.pendingBytes = buffered.length
      this.wake()
    })
    const end = () => {
      this.ended = true
      this.wake()
    }
    socket.on("end", end)
    socket.on("close", end)
    socket.on("error", end)
  }

  static connect(port: number, host = "127.0.0.1"): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new WireClient(socket)))
      socket.once("error", reject)
    })
  }

  private wake(): void {
    const ws = this.waiters
    this.waiters = []
    for (const w of ws) w()
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  /** The next response frame (without size prefix); rejects if the broker closes first. */
  async read(): Promise<Uint8Array> {
    while (this.frames.length === 0) {
      if (this.ended) throw new Error("connection closed by broker")
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
    return this.frames.shift()!
  }

  /** Resolves when the broker has closed the connection (and no response came first). */
  async closedByBroker(): Promise<{ unreadFrames: number }> {
    while (!this.ended) await new Promise<void>((resolve) => this.waiters.push(resolve))
    return { unreadFrames: this.frames.length }
  }

  close(): void {
    this.socket.destroy()
  }
}
