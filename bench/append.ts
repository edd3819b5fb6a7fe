/**
 * `pnpm bench:append`: the broker's own cost of idempotence, without network or
 * client. Appends the same 16-record batches of 100 B values to a partition log, plain
 * (producer id -1) and idempotent (one producer, consecutive sequences), alternating rounds;
 * reports appends per second (median) and the ratio. The idempotent path adds the header
 * checks of the producer state, no per-record work.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { defaultLogConfig, PartitionLog } from "../src/log/partition-log.ts"
import { buildRecordBatch, validateBatches } from "../src/log/record-batch.ts"

const BATCHES = 50_000
const RECORDS_PER_BATCH = 16
const ROUNDS = 5

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-bench-append-"))
const records = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ key: `k${i}`, value: "x".repeat(100), timestamp: 1_700_000_000_000 + i }))
const plainTemplate = buildRecordBatch({ records })
const idempotentTemplate = (seq: number) => buildRecordBatch({ records, producerId: 1000, producerEpoch: 0, baseSequence: seq })

const run = (name: string, idempotent: boolean): number => {
  const log = PartitionLog.create(workDir, name, 0, "AAAAAAAAAAAAAAAAAAAAAQ", { ...defaultLogConfig, segmentBytes: 1 << 30 }, 0)
  // Batches are built up front: what is timed is validation plus the append, as in Produce.
  const batches = Array.from({ length: BATCHES }, (_, i) => idempotent ? idempotentTemplate(i * RECORDS_PER_BATCH) : Uint8Array.from(plainTemplate))
  const start = performance.now()
  for (const bytes of batches) {
    const validated = validateBatches(bytes, { fromClient: true })
    if (!validated.ok) throw new Error(validated.message)
    log.append(bytes, { now: 0, validated })
  }
  const elapsed = performance.now() - start
  log.close()
  return BATCHES / (elapsed / 1000)
}

try {
  const plain: Array<number> = []
  const idempotent: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    plain.push(run(`plain${r}`, false))
    idempotent.push(run(`idempotent${r}`, true))
  }
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
  console.log(`partition log append, ${fmt(BATCHES)} batches x ${RECORDS_PER_BATCH} records, median of ${ROUNDS}`)
  console.log(`  plain                  : ${fmt(median(plain))} batches/s`)
  console.log(`  idempotent             : ${fmt(median(idempotent))} batches/s`)
  console.log(`  ratio idempotent/plain : ${(median(idempotent) / median(plain)).toFixed(2)}`)
} finally {
  fs.rmSync(workDir, { recursive: true, force: true })
}
