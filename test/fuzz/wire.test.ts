/**
 * Wire-level fuzzing of a live broker: connections send valid request frames of every API
 * the broker serves, mutated, while a well-behaved client keeps asking ApiVersions and
 * Metadata on its own connection. The broker must answer the good client after every bad
 * connection, and stay up: a bad frame costs at most its own connection.
 */
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, handlers, startBroker } from "../../src/broker.ts"
import { ApiVersions, Metadata } from "../../src/protocol/generated/apis.ts"
import { encodeRequestHeader } from "../../src/protocol/generated/message/RequestHeader.ts"
import { requestHeaderVersion } from "../../src/protocol/header.ts"
import { Writer } from "../../src/protocol/primitives.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"
import { encodeRandomRequest, mutate, mutation } from "./targets.ts"

const CONNECTIONS = Number(process.env["FUZZ_WIRE_CONNECTIONS"] ?? 300)
const SEED = 20261130

const served = [ApiVersions, ...handlers.map((h) => h.api)].flatMap((api) => {
  const handler = handlers.find((h) => h.api === api)
  const lo = handler?.minVersion ?? api.minVersion
  const hi = handler?.maxVersion ?? api.maxVersion
  return Array.from({ length: hi - lo + 1 }, (_, i) => ({ api, version: lo + i }))
})

/** A whole request frame (size prefix included) of a random valid request, then mutated. */
const badFrame = fc.tuple(fc.constantFrom(...served), fc.integer({ min: 1, max: 0x7fffffff }), fc.array(mutation, { maxLength: 3 }))
  .map(([{ api, version }, seed, mutations]) => {
    const w = new Writer(64)
    encodeRequestHeader(w, requestHeaderVersion(api, version), { requestApiKey: api.apiKey, requestApiVersion: version, correlationId: seed, clientId: "fuzz" })
    const payload = mutate(new Uint8Array([...w.toBytes(), ...encodeRandomRequest(api, version, seed)]), mutations)
    // Half keep a correct size prefix (the damage is inside the frame), half are raw bytes.
    if (seed % 2 === 0) return payload
    const framed = new Uint8Array(4 + payload.length)
    new DataView(framed.buffer).setInt32(0, payload.length)
    framed.set(payload, 4)
    return framed
  })

let broker: EmbeddedBroker
beforeAll(async () => {
  // Small limits keep what a mutated request can ask for (partitions, bytes) small.
  broker = await startBroker({ properties: { "socket.request.max.bytes": "65536", "num.partitions": "1" } })
})
afterAll(() => broker.stop())

describe("a live broker under mutated frames", () => {
  it(`answers a well-behaved client after each of ${CONNECTIONS} connections of bad frames`, async () => {
    const good = await WireClient.connect(broker.port)
    let correlationId = 0
    const goodRoundTrip = async () => {
      const id = ++correlationId
      good.write(encodeRequest(ApiVersions, 3, id, { clientSoftwareName: "good", clientSoftwareVersion: "1" }))
      expect(decodeResponse(ApiVersions, 3, await good.read()).correlationId).toBe(id)
      const mid = ++correlationId
      good.write(encodeRequest(Metadata, 12, mid, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }))
      expect(decodeResponse(Metadata, 12, await good.read()).body.errorCode ?? 0).toBe(0)
    }
    const cases = fc.sample(fc.array(badFrame, { minLength: 1, maxLength: 3 }), { seed: SEED, numRuns: CONNECTIONS })
    for (const frames of cases) {
      const bad = await WireClient.connect(broker.port)
      for (const f of frames) bad.write(f)
      await goodRoundTrip()
      bad.close()
    }
    await goodRoundTrip()
    good.close()
  })
})
