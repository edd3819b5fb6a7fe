/**
 * `pnpm bench:kcat`: kcat (librdkafka) produces 100 000 records of 1 KiB to the
 * broker with acks=-1, measured from kcat's start to its exit (all records acknowledged).
 * Baseline in the same run: a bare Node.js process appending the same bytes to a file on the
 * same disk in 1 MiB writes, the ceiling for any broker that stores them there.
 *
 * The same load is then produced idempotently (`enable.idempotence=true`: InitProducerId,
 * producer ids and sequence numbers checked by the partition's producer state), alternating
 * with plain runs; each figure is the median of ROUNDS runs, so the ratio idempotent/plain
 * says what idempotence costs on this machine.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startBroker } from "../src/broker.ts"

const RECORDS = 100_000
const RECORD_BYTES = 1024
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 3)

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-bench-"))
const input = path.join(workDir, "records.txt")
const value = "x".repeat(RECORD_BYTES - 1)
fs.writeFileSync(input, Array.from({ length: RECORDS }, () => value).join("\n") + "\n")

const diskBaseline = (): number => {
  const file = path.join(workDir, "baseline.bin")
  const chunk = Buffer.alloc(1 << 20, 120)
  const fd = fs.openSync(file, "w")
  const start = performance.now()
  for (let written = 0; written < RECORDS * RECORD_BYTES; written += chunk.length) fs.writeSync(fd, chunk)
  fs.fsyncSync(fd)
  const elapsed = performance.now() - start
  fs.closeSync(fd)
  return RECORDS / (elapsed / 1000)
}

// BENCH_REQUEST_METRICS=0 runs it without request metrics, to see what they cost here.
const requestMetrics = process.env["BENCH_REQUEST_METRICS"] !== "0"
const broker = await startBroker({ properties: { "log.dirs": path.join(workDir, "data") }, logLevel: "Warn", requestMetrics })
try {
  // The broker runs in this process: kcat must be spawned asynchronously, never with spawnSync.
  const kcat = (topic: string, args: ReadonlyArray<string>) =>
    new Promise<number | null>((resolve) => {
      const child = spawn("kcat", ["-P", "-b", broker.bootstrap, "-t", topic, "-X", "topic.request.required.acks=-1", ...args], { stdio: "inherit" })
      child.on("close", resolve)
    })
  fs.writeFileSync(path.join(workDir, "warm-up.txt"), "warm-up\n")
  const timed = async (topic: string, extra: ReadonlyArray<string>): Promise<number> => {
    // Warm-up: auto-creates the topic and opens its log.
    if ((await kcat(topic, ["-l", path.join(workDir, "warm-up.txt"), ...extra])) !== 0) throw new Error("kcat warm-up failed")
    const start = performance.now()
    const code = await kcat(topic, ["-l", input, "-X", "linger.ms=5", ...extra])
    const seconds = (performance.now() - start) / 1000
    if (code !== 0) throw new Error(`kcat exited with ${code}`)
    return RECORDS / seconds
  }
  const plain: Array<number> = []
  const plainInFlight5: Array<number> = []
  const idempotent: Array<number> = []
  for (let round = 0; round < ROUNDS; round++) {
    plain.push(await timed(`bench-${round}`, []))
    // librdkafka caps in-flight requests at 5 when idempotent: the like-for-like plain run.
    plainInFlight5.push(await timed(`bench-inflight5-${round}`, ["-X", "max.in.flight=5"]))
    idempotent.push(await timed(`bench-idempotent-${round}`, ["-X", "enable.idempotence=true"]))
  }
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const rate = median(plain)
  const inFlight5Rate = median(plainInFlight5)
  const idemRate = median(idempotent)
  const baseline = diskBaseline()
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
  console.log(`kcat produce, ${fmt(RECORDS)} x ${RECORD_BYTES} B records, acks=-1, 1 partition, median of ${ROUNDS}${requestMetrics ? "" : ", request metrics off"}`)
  console.log(`  broker                 : ${fmt(rate)} records/s (${(rate * RECORD_BYTES / 1048576).toFixed(1)} MiB/s)  [${plain.map(fmt).join(", ")}]`)
  console.log(`  broker, max.in.flight=5: ${fmt(inFlight5Rate)} records/s (${(inFlight5Rate * RECORD_BYTES / 1048576).toFixed(1)} MiB/s)  [${plainInFlight5.map(fmt).join(", ")}]`)
  console.log(`  broker, idempotent     : ${fmt(idemRate)} records/s (${(idemRate * RECORD_BYTES / 1048576).toFixed(1)} MiB/s)  [${idempotent.map(fmt).join(", ")}]`)
  console.log(`  ratio idempotent/plain : ${(idemRate / rate).toFixed(2)} (vs max.in.flight=5: ${(idemRate / inFlight5Rate).toFixed(2)})`)
  console.log(`  bare disk append (node): ${fmt(baseline)} records/s equivalent`)
  console.log(`  ratio broker/disk      : ${(rate / baseline).toFixed(2)}`)
} finally {
  await broker.stop()
  fs.rmSync(workDir, { recursive: true, force: true })
}
