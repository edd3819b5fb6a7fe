import { describe, expect, it } from "vitest"
import { ErrorCode } from "../../src/protocol/error-codes.ts"
import { ApiVersions } from "../../src/protocol/generated/apis.ts"
import { startBrokerProcess } from "../support/broker-process.ts"
import { decodeResponse, encodeRequest, WireClient } from "../support/wire-client.ts"

describe("the broker process", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`serves until ${signal}, then drains and exits 0`, async () => {
      const broker = await startBrokerProcess()
      const client = await WireClient.connect(broker.port)
      client.write(encodeRequest(ApiVersions, 3, 1, { clientSoftwareName: "proc-test", clientSoftwareVersion: "1" }))
      expect(decodeResponse(ApiVersions, 3, await client.read()).body.errorCode).toBe(ErrorCode.NONE)
      broker.child.kill(signal)
      expect(await broker.exited).toEqual({ code: 0, signal: null })
      expect(broker.output()).toMatch(/shutting down: draining 1 connection/)
      await client.closedByBroker()
    })
  }

  it("refuses to start on a bad config value, naming the key and the value", async () => {
    const failure = await startBrokerProcess({ args: ["--override", "num.partitions=lots"] }).then(() => "started", (e: Error) => e.message)
    expect(failure).toMatch(/exited with 1/)
    expect(failure).toMatch(/Invalid value lots for configuration num\.partitions/)
  })
})
