/**
 * `node bench/admin-stall-probe.ts [--ab=<entryA>,<entryB>] [seconds]`: how long the broker
 * leaves its other connections unanswered while an admin changes metadata under produce load,
 * and while it deletes a topic holding gigabytes. Entries are `start` (`pnpm start`) or a
 * bundle inside dist/ (another build's, for an A/B run); ROUNDS (default 3) rounds alternate
 * over them. Each round, on a fresh topic:
 *
 * - "admin under load": the load generator floods Produce (acks=1, 4 connections x 8) to the
 *   topic (segment.bytes 256 MiB) for <seconds> (default 4) while an admin creates and deletes
 *   small topics one after another;
 * - "admin during writeback": the same admin loop while `sync` writes what the flood left in
 *   the page cache to the disk (as the kernel's writeback does under sustained load), so that
 *   each metadata record's fsync waits for a busy disk;
 * - "delete": DeleteTopics of the topic the flood filled (its segments now on the disk).
 *
 * Throughout, a pinger connection sends ApiVersions one at a time; its round trips are the
 * probe's figure: a round trip of tens of milliseconds is the broker's event loop held up.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { startBrokerProcess } from "./lib/broker-process.ts"
import { AdminClient, encodeBatch, KIB_RECORDS_64KIB_BATCHES, partsPayload, produceParts } from "./lib/kafka.ts"
import { runPipeline } from "./lib/load.ts"
import { percentileSorted } from "./lib/stats.ts"
import { ApiVersions } from "../src/protocol/generated/apis.ts"
import { raiseMallocTrimThreshold } from "../src/malloc-trim.ts"
import { encodeRequest } from "../test/support/wire-client.ts"

// As the broker does (src/malloc-trim.ts): this process's reads must not fault in freed heap.
raiseMallocTrimThreshold()

const seconds = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 4)
const entries = process.argv.find((a) => a.startsWith("--ab="))?.slice("--ab=".length).split(",") ?? ["start"]
const rounds = Number(process.env["ROUNDS"] ?? 3)
const root = fs.mkdtempSync(path.join(os.tmpdir(), "admin-stall-probe-"))

/** ApiVersions one at a time on its own connection; `take()` hands over the round trips since the last take. */
const startPinger = (port: number): Promise<{ take: () => Array<number>; stop: () => void }> =>
  new Promise((resolve, reject) => {
    const request = encodeRequest(ApiVersions, 3, 1, { clientSoftwareName: "probe", clientSoftwareVersion: "1" })
    let rtts: Array<number> = []
    let sentAt = 0
    let stopped = false
    let pending: Buffer = Buffer.alloc(0)
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.setNoDelay(true)
      send()
      resolve({
        take: () => {
          const got = rtts
          rtts = []
          return got
        },
        stop: () => {
          stopped = true
          socket.destroy()
        }
      })
    })
    const send = () => {
      sentAt = performance.now()
      socket.write(request)
    }
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        pending = pending.subarray(4 + pending.readInt32BE(0))
        rtts.push(performance.now() - sentAt)
        if (!stopped) send()
      }
    })
    socket.once("error", (e) => (stopped ? undefined : reject(e)))
  })

const describe = (rtts: Array<number>): string => {
  const s = [...rtts].sort((a, b) => a - b)
  const over = (ms: number) => s.filter((x) => x > ms).length
  return `${s.length} round trips, p50 ${percentileSorted(s, 0.5).toFixed(2)} / p99 ${percentileSorted(s, 0.99).toFixed(2)} / max ${(s.at(-1) ?? 0).toFixed(1)} ms, ${over(10)} over 10 ms, ${over(50)} over 50 ms`
}

try {
  const brokers = []
  for (const [i, e] of entries.entries()) {
    brokers.push(await startBrokerProcess({ dataDir: path.join(root, `broker${i}`), ...(e === "start" ? {} : { command: [e] }) }))
  }
  const maxima: Array<{ admin: Array<number>; writeback: Array<number>; del: Array<number> }> = entries.map(() => ({ admin: [], writeback: [], del: [] }))
  try {
    for (let round = 0; round < rounds; round++) {
      const order = [...brokers.entries()]
      if (round % 2 === 1) order.reverse()
      for (const [i, broker] of order) {
        const admin = await AdminClient.connect(broker.port)
        const topic = `load${round}`
        await admin.createTopics([{ name: topic, partitions: 1, configs: { "segment.bytes": String(256 << 20) } }])
        const request = partsPayload(produceParts(topic, 0, encodeBatch(KIB_RECORDS_64KIB_BATCHES), 1))
        const pinger = await startPinger(broker.port)
        let busy = true
        let pairs = 0
        /** Creates and deletes small topics one after another while `busy`; their durations. */
        const adminLoop = async () => {
          const took: Array<number> = []
          for (let n = 0; busy && n < 1000; n++) {
            const t = performance.now()
            await admin.createTopics([{ name: `small${round}-${pairs}`, partitions: 1 }])
            await admin.deleteTopics([`small${round}-${pairs++}`])
            took.push(performance.now() - t)
          }
          return took.sort((a, b) => a - b)
        }
        const loadOps = adminLoop()
        const flood = await runPipeline({ port: broker.port, connections: 4, window: 8, next: () => request, warmupMs: 0, durationMs: seconds * 1000 })
        busy = false
        const underLoadOps = await loadOps
        const underLoad = pinger.take()
        busy = true
        const writeback = spawn("sync", { stdio: "ignore" })
        const synced = new Promise((resolve) => writeback.once("close", resolve))
        const writebackStart = performance.now()
        const writebackOps = adminLoop()
        await synced
        const writebackMs = performance.now() - writebackStart
        busy = false
        const duringWritebackOps = await writebackOps
        const duringWriteback = pinger.take()
        const t = performance.now()
        await admin.deleteTopics([topic])
        const deleteMs = performance.now() - t
        // The deletion's work off the event loop goes on after the answer: keep pinging through it.
        for (let k = 0; k < 5; k++) await admin.call(ApiVersions, 3, { clientSoftwareName: "probe", clientSoftwareVersion: "1" })
        const during = pinger.take()
        pinger.stop()
        admin.close()
        const gb = flood.requestBytes / 1e9
        const pairsText = (ops: Array<number>) => `${ops.length} create+delete pairs (median ${percentileSorted(ops, 0.5).toFixed(1)} ms)`
        console.log(`${entries[i]} round ${round + 1}: produced ${gb.toFixed(2)} GB in ${seconds} s`)
        console.log(`  admin under load, ${pairsText(underLoadOps)}: ${describe(underLoad)}`)
        console.log(`  admin during writeback (sync took ${writebackMs.toFixed(0)} ms), ${pairsText(duringWritebackOps)}: ${describe(duringWriteback)}`)
        console.log(`  delete (${gb.toFixed(2)} GB, answered in ${deleteMs.toFixed(0)} ms): ${describe(during)}`)
        maxima[i]!.admin.push(Math.max(...underLoad))
        maxima[i]!.writeback.push(Math.max(...duringWriteback))
        maxima[i]!.del.push(Math.max(...during))
      }
    }
  } finally {
    for (const b of brokers) await b.stop()
  }
  for (const [i, e] of entries.entries()) {
    const m = maxima[i]!
    const ms = (xs: Array<number>) => `${xs.map((x) => x.toFixed(0)).join(", ")} ms`
    console.log(`${e}: longest round trip per round: admin under load ${ms(m.admin)}; during writeback ${ms(m.writeback)}; delete ${ms(m.del)}`)
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
