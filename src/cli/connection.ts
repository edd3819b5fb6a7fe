/**
 * A Kafka protocol connection for the command line, built on the project's generated codecs
 * (no client library): frames requests, matches responses by correlation id, and negotiates
 * each API's version with ApiVersions, as real clients do, so it works against any broker.
 */
import * as net from "node:net"
import type { ApiDefinition } from "../protocol/api.ts"
import { ApiVersions } from "../protocol/generated/apis/ApiVersions.ts"
import { encodeRequestHeader } from "../protocol/generated/message/RequestHeader.ts"
import { decodeResponseHeader } from "../protocol/generated/message/ResponseHeader.ts"
import { requestHeaderVersion, responseHeaderVersion } from "../protocol/header.ts"
import { Reader, Writer } from "../protocol/primitives.ts"

/** A failure the command line reports and exits on (exit code 3: the broker could not be reached or answered nonsense). */
export class ConnectionError extends Error {}

/** The broker does not serve an API the command needs (exit code 1, as Kafka's UNSUPPORTED_VERSION). */
export class UnsupportedApi extends Error {}

const CLIENT_ID = "kafka-cli"

export class KafkaConnection {
  private readonly socket: net.Socket
  private buffered: Buffer = Buffer.alloc(0)
  private nextCorrelationId = 1
  private readonly pending = new Map<number, { resolve: (frame: Uint8Array) => void; reject: (e: Error) => void }>()
  private brokerVersions = new Map<number, { min: number; max: number }>()
  private closed: Error | undefined

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
      while (this.buffered.length >= 4) {
        const size = this.buffered.readInt32BE(0)
        if (this.buffered.length < 4 + size) break
        const frame = Uint8Array.from(this.buffered.subarray(4, 4 + size))
        this.buffered = this.buffered.subarray(4 + size)
        const correlationId = new DataView(frame.buffer).getInt32(0)
        const waiter = this.pending.get(correlationId)
        this.pending.delete(correlationId)
        waiter?.resolve(frame)
      }
    })
    const fail = (e: Error) => {
      this.closed ??= e
      for (const w of this.pending.values()) w.reject(e)
      this.pending.clear()
    }
    socket.on("error", (e) => fail(new ConnectionError(e.message)))
    socket.on("close", () => fail(new ConnectionError("the broker closed the connection")))
  }

  /** Connects to `host:port` and negotiates API versions. */
  static async open(bootstrap: string, timeoutMs = 10_000): Promise<KafkaConnection> {
    const at = bootstrap.lastIndexOf(":")
    const host = at > 0 ? bootstrap.slice(0, at).replace(/^\[|\]$/g, "") : bootstrap
    const port = at > 0 ? Number(bootstrap.slice(at + 1)) : 9092
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new ConnectionError(`bad bootstrap server ${bootstrap} (expected host:port)`)
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port })
      const timer = setTimeout(() => {
        s.destroy()
        reject(new ConnectionError(`cannot connect to ${bootstrap}: timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      s.once("connect", () => {
        clearTimeout(timer)
        resolve(s)
      })
      s.once("error", (e) => {
        clearTimeout(timer)
        reject(new ConnectionError(`cannot connect to ${bootstrap}: ${e.message}`))
      })
    })
    socket.setNoDelay(true)
    const connection = new KafkaConnection(socket)
    await connection.negotiate()
    return connection
  }

  private async negotiate(): Promise<void> {
    // v3 first (flexible, tells the broker who we are); a broker that does not know it answers v0.
    let response = await this.send(ApiVersions, 3, { clientSoftwareName: CLIENT_ID, clientSoftwareVersion: "1.0.0" })
    if (response.errorCode === 35 /* UNSUPPORTED_VERSION */) response = await this.send(ApiVersions, 0, {})
    if (response.errorCode !== 0) throw new ConnectionError(`ApiVersions failed with error code ${response.errorCode}`)
    this.brokerVersions = new Map(response.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]))
  }

  /** The highest version of `api` both sides speak, or undefined when there is none. */
  versionOf(api: ApiDefinition<unknown, unknown, unknown, unknown>): number | undefined {
    const broker = this.brokerVersions.get(api.apiKey)
    if (broker === undefined) return undefined
    const max = Math.min(broker.max, api.maxVersion)
    return max >= Math.max(broker.min, api.minVersion) ? max : undefined
  }

  /** Sends at the negotiated version; `body` may depend on it. */
  async request<Req, ReqInit, Res, ResInit>(
    api: ApiDefinition<Req, ReqInit, Res, ResInit>,
    body: (version: number) => ReqInit
  ): Promise<{ version: number; response: Res }> {
    const version = this.versionOf(api as ApiDefinition<unknown, unknown, unknown, unknown>)
    if (version === undefined) throw new UnsupportedApi(`the broker does not support ${api.name}`)
    return { version, response: await this.send(api, version, body(version)) }
  }

  async send<Req, ReqInit, Res, ResInit>(api: ApiDefinition<Req, ReqInit, Res, ResInit>, version: number, body: ReqInit): Promise<Res> {
    if (this.closed !== undefined) throw this.closed
    const correlationId = this.nextCorrelationId++
    const w = new Writer(256)
    const sizeAt = w.reserveInt32()
    encodeRequestHeader(w, requestHeaderVersion(api, version), { requestApiKey: api.apiKey, requestApiVersion: version, correlationId, clientId: CLIENT_ID })
    api.encodeRequest(w, version, body)
    w.setInt32At(sizeAt, w.pos - 4)
    const frame = await new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(correlationId, { resolve, reject })
      this.socket.write(w.toBytes())
    })
    const r = new Reader(frame)
    decodeResponseHeader(r, responseHeaderVersion(api, version))
    return api.decodeResponse(r, version)
  }

  close(): void {
    this.socket.destroy()
  }
}
