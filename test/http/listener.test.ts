import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"

const portAccepts = (url: string): Promise<boolean> => {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })
}

describe("HTTP listener", () => {
  let broker: EmbeddedBroker
  beforeAll(async () => {
    broker = await startBroker()
  })
  afterAll(() => broker?.stop())

  it("binds a free loopback port when asked for port 0 and reports it", () => {
    expect(broker.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(broker.httpUrl).not.toMatch(/:0$/)
  })

  it("answers /health/live and /health/ready once the Kafka listener accepts", async () => {
    const live = await fetch(`${broker.httpUrl}/health/live`)
    expect(live.status).toBe(200)
    const ready = await fetch(`${broker.httpUrl}/health/ready`)
    expect(ready.status).toBe(200)
    const body = (await ready.json()) as { status: string; listeners: Array<{ port: number }> }
    expect(body.status).toBe("ready")
    expect(body.listeners[0]!.port).toBe(broker.port)
    expect(await portAccepts(`http://${broker.bootstrap}`)).toBe(true)
  })

  it("answers 404 for unknown paths", async () => {
    expect((await fetch(`${broker.httpUrl}/no/such/page`)).status).toBe(404)
  })
})

describe("HTTP listener lifecycle", () => {
  it("is closed when the broker stops", async () => {
    const broker = await startBroker()
    const url = broker.httpUrl!
    expect(await portAccepts(url)).toBe(true)
    await broker.stop()
    expect(await portAccepts(url)).toBe(false)
  })

  it("stops start-up with a reason when its port is taken", async () => {
    const taken = net.createServer()
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
    const port = (taken.address() as net.AddressInfo).port
    try {
      const failure = await startBroker({ properties: { "http.listener": `http://127.0.0.1:${port}` } }).then(
        async (b) => {
          await b.stop()
          return "started"
        },
        (e: unknown) => String(e)
      )
      expect(failure).toMatch(new RegExp(`cannot listen on http.listener http://127.0.0.1:${port}`))
    } finally {
      taken.close()
    }
  })

  it("is not started when http.listener is empty", async () => {
    const broker = await startBroker({ properties: { "http.listener": "" } })
    try {
      expect(broker.httpUrl).toBeUndefined()
    } finally {
      await broker.stop()
    }
  })
})
