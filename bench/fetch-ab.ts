/**
 * `node bench/fetch-ab.ts <bundleA> <bundleB> [rounds] [MiB]`: fetch CPU per GB of two broker
 * builds and the bare fetch reader, in short rounds that alternate A, B, bare, so that a
 * shared machine's changing load falls on all three alike (an A/B of a fetch-path change;
 * `pnpm bench --only=fetch` measures one build at a time). Each broker gets its own data
 * directory with the same bytes; the bare reader serves A's segment files.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startBrokerProcess } from "./lib/broker-process.ts"
import { startBare } from "./lib/harness.ts"
import { AdminClient, encodeBatch, fetchRequest, KIB_RECORDS_64KIB_BATCHES, partsPayload, produceParts } from "./lib/kafka.ts"
import { runPipeline } from "./lib/load.ts"
import { raiseMallocTrimThreshold } from "../src/malloc-trim.ts"

// As the broker does (src/malloc-trim.ts): this process's reads must not fault in freed heap.
raiseMallocTrimThreshold()

const [entryA, entryB, roundsArg, mibArg] = process.argv.slice(2)
if (entryA === undefined || entryB === undefined) {
  console.error("usage: node bench/fetch-ab.ts <bundleA> <bundleB> [rounds] [MiB]")
  process.exit(2)
}
const rounds = Number(roundsArg ?? 9)
const bytes = Number(mibArg ?? 256) << 20
const shape = KIB_RECORDS_64KIB_BATCHES
const batch = encodeBatch(shape)
const perResponse = 16
const topic = "fetch-data"
const root = fs.mkdtempSync(path.join(os.tmpdir(), "fetch-ab-"))
const batches = Math.ceil(bytes / batch.length)
const requests = Array.from({ length: Math.ceil(batches / perResponse) }, (_, i) =>
  fetchRequest({ topic, partition: 0, offset: i * perResponse * shape.records, partitionMaxBytes: perResponse * batch.length }))

const start = async (entry: string, name: string) => {
  const dir = path.join(root, name)
  const b = await startBrokerProcess({ dataDir: dir, command: [entry] })
  const admin = await AdminClient.connect(b.port)
  await admin.createTopics([{ name: topic, partitions: 1 }])
  const parts = partsPayload(produceParts(topic, 0, batch, 1))
  let left = batches
  await runPipeline({ port: b.port, connections: 1, window: 8, next: () => (left-- > 0 ? parts : undefined) })
  return { ...b, dir, admin }
}
const a = await start(entryA, "a")
const b = await start(entryB, "b")
const partitionDir = path.join(a.dir, `${topic}-0`)
const segments = fs.readdirSync(partitionDir).filter((f) => f.endsWith(".log")).sort().map((f) => path.join(partitionDir, f))
const bare = await startBare(["reader", String(perResponse * batch.length), ...segments])

/** User and system CPU ms of a process (/proc/<pid>/stat, in clock ticks of 10 ms). */
const cpuOf = (pid: number): [number, number] => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return [Number(fields[11]) * 10, Number(fields[12]) * 10]
}
const sys = { a: [] as Array<number>, b: [] as Array<number>, bare: [] as Array<number> }
const once = async (port: number, pid: number, who: keyof typeof sys) => {
  let next = 0
  let cpu0: [number, number] = [0, 0]
  let cpu1: [number, number] = [0, 0]
  const r = await runPipeline({
    port, connections: 1, window: 4, durationMs: 3000,
    next: () => requests[next++],
    onWindowStart: () => (cpu0 = cpuOf(pid)),
    onWindowEnd: () => (cpu1 = cpuOf(pid))
  })
  const gb = r.responseBytes / 1e9
  sys[who].push((cpu1[1] - cpu0[1]) / gb)
  return (cpu1[0] - cpu0[0] + cpu1[1] - cpu0[1]) / gb
}
const median = (xs: Array<number>) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
const got = { a: [] as Array<number>, b: [] as Array<number>, bare: [] as Array<number> }
for (let r = 0; r < rounds; r++) {
  got.a.push(await once(a.port, a.pid, "a"))
  got.b.push(await once(b.port, b.pid, "b"))
  got.bare.push(await once(bare.port, bare.pid, "bare"))
  console.log(`round ${r + 1}/${rounds}: A ${got.a.at(-1)!.toFixed(0)} | B ${got.b.at(-1)!.toFixed(0)} | bare ${got.bare.at(-1)!.toFixed(0)} CPU ms/GB; load ${os.loadavg()[0]!.toFixed(1)}`)
}
console.log(`median system CPU ms/GB (the rest is user): A ${median(sys.a).toFixed(0)}, B ${median(sys.b).toFixed(0)}, bare ${median(sys.bare).toFixed(0)}`)
const ratios = (xs: Array<number>) => xs.map((x, i) => x / got.bare[i]!)
console.log(`median CPU ms/GB: A ${median(got.a).toFixed(0)} (${entryA}), B ${median(got.b).toFixed(0)} (${entryB}), bare ${median(got.bare).toFixed(0)}`)
console.log(`median of per-round ratios to bare: A ${median(ratios(got.a)).toFixed(2)}, B ${median(ratios(got.b)).toFixed(2)}; B/A ${median(got.b.map((x, i) => x / got.a[i]!)).toFixed(2)}`)
a.admin.close()
b.admin.close()
await Promise.all([a.stop(), b.stop(), bare.stop()])
fs.rmSync(root, { recursive: true, force: true })
process.exit(0)
