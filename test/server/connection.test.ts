import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { ApiVersions } from "../../src/protocol/generated/apis.ts"
import { decodeResponse, encodeRequest, frame, WireClient } from "../support/wire-client.ts"

const MAX_REQUEST = 4096
let broker: EmbeddedBroker

beforeAll(async () => {
  broker = await startBroker({ properties: { "socket.request.max.bytes": String(MAX_REQUEST) }, logLevel: "None" })
})
afterAll(() => broker.stop())

const apiVersionsRoundTrip = async (client: WireClient, version: number, correlationId: number) => {
  client.write(encodeRequest(ApiVersions, version, correlationId, { clientSoftwareName: "wire-test", clientSoftwareVersion: "1.0" }))
  return decodeResponse(ApiVersions, version, await client.read())
}

/** After a rejected request, the broker still serves a fresh connection. */
const stillServing = async () => {
  const client = await WireClient.connect(broker.port)
  const { body } = await apiVersionsRoundTrip(client, 3, 1)
  client.close()
  return body.errorCode
}

describe("connection handling", () => {
  it("answers ApiVersions v0-v4 with the registry's APIs", async () => {
    const client = await WireClient.connect(broker.port)
    for (let v = 0; v <= 4; v++) {
      const { correlationId, body } = await apiVersionsRoundTrip(client, v, 100 + v)
      expect(correlationId).toBe(100 + v)
      expect(body.errorCode).toBe(ErrorCode.NONE)
      expect(body.apiKeys).toContainEqual(expect.objectContaining({ apiKey: 18, minVersion: 0, maxVersion: 4 }))
    }
    client.close()
  })

  it("answers an ApiVersions version above its range with UNSUPPORTED_VERSION in a v0 body and keeps the connection", async () => {
    const client = await WireClient.connect(broker.port)
    // Version 9 has a body layout we do not know; only the header prefix is meaningful.
    client.write(frame(Uint8Array.from([0, 18, 0, 9, 0, 0, 0, 42, 0, 0, 0xde, 0xad])))
    const { correlationId, body } = decodeResponse(ApiVersions, 0, await client.read())
    expect(correlationId).toBe(42)
    expect(body.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
    expect(body.apiKeys).toContainEqual(expect.objectContaining({ apiKey: 18, minVersion: 0, maxVersion: 4 }))
    const again = await apiVersionsRoundTrip(client, 3, 43)
    expect(again.body.errorCode).toBe(ErrorCode.NONE)
    client.close()
  })

  it("rejects a bad client software name in ApiVersions v3 with INVALID_REQUEST", async () => {
    const client = await WireClient.connect(broker.port)
    client.write(encodeRequest(ApiVersions, 3, 5, { clientSoftwareName: "bad name!", clientSoftwareVersion: "1" }))
    expect(decodeResponse(ApiVersions, 3, await client.read()).body.errorCode).toBe(ErrorCode.INVALID_REQUEST)
    client.close()
  })

  it("answers pipelined requests in request order", async () => {
    const client = await WireClient.connect(broker.port)
    const n = 200
    const batch = Buffer.concat(Array.from({ length: n }, (_, i) => encodeRequest(ApiVersions, i % 5, 1000 + i, {})))
    client.write(batch)
    for (let i = 0; i < n; i++) {
      expect(decodeResponse(ApiVersions, i % 5, await client.read()).correlationId).toBe(1000 + i)
    }
    client.close()
  })

  it("reassembles frames split at every byte boundary", async () => {
    const client = await WireClient.connect(broker.port)
    const bytes = encodeRequest(ApiVersions, 3, 77, { clientSoftwareName: "split", clientSoftwareVersion: "1" })
    for (const b of bytes) client.write(Uint8Array.of(b))
    expect(decodeResponse(ApiVersions, 3, await client.read()).correlationId).toBe(77)
    client.close()
  })

  const rejected: ReadonlyArray<[string, Uint8Array]> = [
    ["an oversized frame, refused from its size prefix alone", Uint8Array.from([0x7f, 0xff, 0xff, 0xff, 0, 18])],
    ["a frame just over socket.request.max.bytes", frame(new Uint8Array(MAX_REQUEST + 1))],
    ["a negative frame size", Uint8Array.from([0xff, 0xff, 0xff, 0xfe])],
    ["a frame too short for a request header", frame(Uint8Array.from([0, 18, 0]))],
    ["an unknown API key", frame(Uint8Array.from([0x27, 0x0f, 0, 0, 0, 0, 0, 1, 0, 0]))],
    ["a version the codec does not know for a served API", frame(Uint8Array.from([0, 18, 0xff, 0xff, 0, 0, 0, 1, 0, 0]))],
    ["an undecodable body", frame(Uint8Array.from([0, 18, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0x7f, 0x41]))]
  ]
  for (const [what, bytes] of rejected) {
    it(`closes the connection on ${what}, and keeps serving others`, async () => {
      const client = await WireClient.connect(broker.port)
      client.write(bytes)
      expect((await client.closedByBroker()).unreadFrames).toBe(0)
      expect(await stillServing()).toBe(ErrorCode.NONE)
    })
  }

  it("answers the requests before a bad one, then closes", async () => {
    const client = await WireClient.connect(broker.port)
    client.write(Buffer.concat([encodeRequest(ApiVersions, 2, 1, {}), encodeRequest(ApiVersions, 2, 2, {}), frame(Uint8Array.from([0x27, 0x0f, 0, 0, 0, 0, 0, 3]))]))
    expect(decodeResponse(ApiVersions, 2, await client.read()).correlationId).toBe(1)
    expect(decodeResponse(ApiVersions, 2, await client.read()).correlationId).toBe(2)
    expect((await client.closedByBroker()).unreadFrames).toBe(0)
  })
})
