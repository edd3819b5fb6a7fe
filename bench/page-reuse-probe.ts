/**
 * `node bench/page-reuse-probe.ts [GiB] [idle ms,...]`: writes GiB into a file in 1 MiB writes,
 * deletes it, stays idle for the next given time, and writes again; prints the CPU each write
 * cost per GiB. On a VM whose host reclaims free guest pages (free page reporting), page cache
 * written into memory freed long enough ago costs far more than into memory freed just now: the
 * bench's rounds start right after the data before them is gone for that reason.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const gib = Number(process.argv[2] ?? 3)
const idles = (process.argv[3] ?? "0,0,10000,0,10000,0").split(",").map(Number)
const file = path.join(os.tmpdir(), `page-reuse-probe-${process.pid}`)
const chunk = Buffer.alloc(1 << 20, 7)
const idle = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
let idleBefore = 0
for (const next of idles) {
  const fd = fs.openSync(file, "w")
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < gib * 1024; i++) fs.writeSync(fd, chunk)
  const cpu = process.cpuUsage(cpu0)
  fs.closeSync(fd)
  fs.unlinkSync(file)
  console.log(`after ${idleBefore} ms idle: ${((cpu.user + cpu.system) / 1000 / gib).toFixed(0)} ms of CPU per GiB (sys ${(cpu.system / 1000 / gib).toFixed(0)})`)
  idle(next)
  idleBefore = next
}
