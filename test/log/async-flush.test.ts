/**
 * The periodic checkpoint and the flush of rolled segments run their fsyncs on libuv's
 * thread pool (src/log/LogStore.ts checkpointLater, PartitionLog.flushRolledLater). Under
 * FaultyFileIo's power-loss model: what they report done is durable, a synchronous write of
 * the same files while one is in flight is never overwritten by its older content, and an
 * I/O error on the thread pool takes the dir offline as the synchronous path does.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Fiber, Layer } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { FatalFault } from "../../src/lifecycle/FatalFault.ts"
import { LogStore, type LogStoreOptions } from "../../src/log/LogStore.ts"
import { FileIo, type FileIoShape } from "../../src/storage/FileIo.ts"
import { FaultyFileIo } from "../support/faulty-file-io.ts"
import { batchOf } from "./helpers.ts"

const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ"
const roots: Array<string> = []
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true })
})
// Durability is modelled by FaultyFileIo, not the real disk.
const scratch = fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir()

const setUp = () => {
  const root = fs.mkdtempSync(path.join(scratch, "async-flush-"))
  roots.push(root)
  const logDir = path.join(root, "logs")
  fs.mkdirSync(logDir)
  return { root, logDir, faulty: new FaultyFileIo(root) }
}

const run = <A>(
  io: FileIoShape,
  options: LogStoreOptions,
  body: (store: LogStore["Service"]) => Effect.Effect<A, unknown>,
  halts: Array<string> = []
): Promise<A> =>
  Effect.runPromise(
    Effect.gen(function*() {
      return yield* body(yield* LogStore)
    }).pipe(
      Effect.provide(LogStore.layer(options).pipe(
        Layer.provide(Layer.mergeAll(Layer.succeed(FileIo, io), Layer.succeed(FatalFault, { halt: (reason) => halts.push(reason) })))
      ))
    ) as Effect.Effect<A>
  )

const read = (file: string): string | null => fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null

/** A FileIo whose thread-pool truncates, writes and fsyncs (after the open) wait until the test releases them. */
const gated = (io: FileIoShape) => {
  const held: Array<() => void> = []
  const state = { open: false }
  const hold = <F extends (...args: Array<any>) => void>(f: F): F => ((...args: Array<unknown>) => {
    const call = () => (f as (...a: Array<unknown>) => void)(...args)
    if (state.open) call()
    else held.push(call)
  }) as F
  const gatedIo: FileIoShape = { ...io, fsync: hold(io.fsync), write: hold(io.write), ftruncate: hold(io.ftruncate) }
    /** Lets everything through from now on (the store's own shutdown must not wait on the test). */
  const openGate = () => {
    state.open = true
    for (const f of held.splice(0)) f()
  }
  return { io: gatedIo, held, openGate }
}

describe("checkpoints written on the thread pool", () => {
  it("are durable once the periodic checkpoint completes (a power loss right after keeps them)", async () => {
    const { logDir, faulty } = setUp()
    await run(faulty.io, { logDirs: [logDir], flushIntervalMessages: 1 }, (store) =>
      Effect.gen(function*() {
        yield* store.createPartition("orders", 0, TOPIC_ID)
        for (let i = 0; i < 3; i++) yield* store.append("orders", 0, batchOf(1, i))
        yield* store.checkpoint()
        // The machine dies before the shutdown could write anything.
        faulty.crash()
      }))
    faulty.powerLoss()
    expect(read(path.join(logDir, "recovery-point-offset-checkpoint"))).toBe("0\n1\norders 0 3\n")
    expect(read(path.join(logDir, "replication-offset-checkpoint"))).toBe("0\n1\norders 0 3\n")
  })

  it("make a DeleteRecords asked while one is in flight wait for it, then write its newer content before answering", async () => {
    const { logDir, faulty } = setUp()
    const gate = gated(faulty.io)
    const halts: Array<string> = []
    const file = path.join(logDir, "log-start-offset-checkpoint")
    await run(gate.io, { logDirs: [logDir], flushIntervalMessages: 1 }, (store) =>
      Effect.gen(function*() {
        yield* store.createPartition("orders", 0, TOPIC_ID)
        for (let i = 0; i < 5; i++) yield* store.append("orders", 0, batchOf(1, i))
        const periodic = yield* Effect.forkChild(store.checkpoint())
        yield* turnsUntil(() => gate.held.length > 0)
        expect(gate.held.length, "the periodic checkpoint's writes are in flight").toBeGreaterThan(0)
        const deleting = yield* Effect.forkChild(store.deleteRecords("orders", 0, 3))
        // Turns enough for it to answer, were it not waiting for a durable checkpoint after the run in flight.
        yield* turnsUntil(() => deleting.pollUnsafe() !== undefined, 200)
        expect(deleting.pollUnsafe(), "not answered before its log start offset is durable").toBeUndefined()
        gate.openGate()
        yield* Fiber.join(periodic)
        expect(yield* Fiber.join(deleting)).toBe(3)
        expect(read(file), "the newer content, not the run's older one").toBe("0\n1\norders 0 3\n")
        expect(store.offlineLogDirs()).toEqual([])
        expect(halts).toEqual([])
        faulty.crash()
      }).pipe(Effect.ensuring(Effect.sync(gate.openGate))), halts)
    faulty.powerLoss()
    expect(read(file)).toBe("0\n1\norders 0 3\n")
  })

  it.each(["fsync", "rename"] as const)("take the dir offline on an %s error, leaving the previous checkpoints in place", async (op) => {
    const { logDir, faulty } = setUp()
    const halts: Array<string> = []
    await run(faulty.io, { logDirs: [logDir], flushIntervalMessages: 1 }, (store) =>
      Effect.gen(function*() {
        yield* store.createPartition("orders", 0, TOPIC_ID)
        yield* store.append("orders", 0, batchOf(1, 0))
        yield* store.checkpoint()
        yield* store.append("orders", 0, batchOf(1, 1))
        faulty.fail({ code: "EIO", ops: [op], path: "recovery-point-offset-checkpoint.periodic.tmp" })
        yield* store.checkpoint()
        expect(faulty.injected.map((f) => f.op), "the fault was hit").toContain(op)
        expect(store.offlineLogDirs()).toEqual([logDir])
        expect(read(path.join(logDir, "recovery-point-offset-checkpoint"))).toBe("0\n1\norders 0 1\n")
        expect(read(path.join(logDir, "replication-offset-checkpoint")), "the run's later renames: never made").toBe("0\n1\norders 0 1\n")
      }), halts)
    expect(halts.length, "the only log dir failed: the broker halts").toBe(1)
  })
})

/** Lets event-loop turns pass (setImmediate, as the thread pool's answers) until `done`, a bounded number of them. */
const turnsUntil = (done: () => boolean, turns = 10_000): Effect.Effect<void> =>
  Effect.promise(async () => {
    for (let turn = 0; turn < turns && !done(); turn++) await new Promise((r) => setImmediate(r))
  })

describe("checkpoints on the thread pool asked for by changes", () => {
  const LOG_START = /log-start-offset-checkpoint$/

  it("are shared by the changes asked for while one waits: partitions deleted together write the files once after the run in flight", async () => {
    const { logDir, faulty } = setUp()
    const gate = gated(faulty.io)
    let logStartRenames = 0
    const io: FileIoShape = {
      ...gate.io,
      rename: ((from: fs.PathLike, to: fs.PathLike, callback: fs.NoParamCallback) => {
        if (LOG_START.test(String(to))) logStartRenames++
        gate.io.rename(from, to, callback)
      }) as typeof fs.rename
    }
    await run(io, { logDirs: [logDir], flushIntervalMessages: 1 }, (store) =>
      Effect.gen(function*() {
        for (let p = 0; p < 3; p++) {
          yield* store.createPartition("orders", p, TOPIC_ID)
          for (let i = 0; i < 5; i++) yield* store.append("orders", p, batchOf(1, i))
        }
        const periodic = yield* Effect.forkChild(store.checkpoint())
        yield* turnsUntil(() => gate.held.length > 0)
        const changes = yield* Effect.forkChild(Effect.all([
          store.deletePartition("orders", 1),
          store.deletePartition("orders", 2),
          store.deleteRecords("orders", 0, 3)
        ], { concurrency: "unbounded" }))
        yield* turnsUntil(() => changes.pollUnsafe() !== undefined, 200)
        expect(changes.pollUnsafe()).toBeUndefined()
        gate.openGate()
        yield* Fiber.join(periodic)
        yield* Fiber.join(changes)
        expect(logStartRenames, "the periodic run's and one shared run's").toBe(2)
        expect(read(path.join(logDir, "log-start-offset-checkpoint"))).toBe("0\n1\norders 0 3\n")
        expect(store.offlineLogDirs()).toEqual([])
      }).pipe(Effect.ensuring(Effect.sync(gate.openGate))))
  })

  it("make no synchronous file call: temporaries, writes, fsyncs and renames all go to the thread pool", async () => {
    const { logDir, faulty } = setUp()
    const syncCalls: Array<string> = []
    const watching = { on: false }
    const io: FileIoShape = { ...faulty.io }
    for (const name of ["openSync", "writeSync", "writevSync", "ftruncateSync", "fsyncSync", "renameSync", "unlinkSync", "closeSync", "writeFileSync"] as const) {
      const real = faulty.io[name] as (...args: Array<unknown>) => unknown
      ;(io as Record<string, unknown>)[name] = (...args: Array<unknown>) => {
        if (watching.on) syncCalls.push(`${name} ${String(args[0])}`)
        return real(...args)
      }
    }
    await run(io, { logDirs: [logDir], flushIntervalMessages: 1 }, (store) =>
      Effect.gen(function*() {
        yield* store.createPartition("orders", 0, TOPIC_ID)
        for (let i = 0; i < 3; i++) yield* store.append("orders", 0, batchOf(1, i))
        watching.on = true
        yield* store.checkpoint()
        watching.on = false
        expect(read(path.join(logDir, "recovery-point-offset-checkpoint"))).toBe("0\n1\norders 0 3\n")
        expect(syncCalls).toEqual([])
      }))
  })
})

describe("rolled segments forced on the thread pool", () => {
  const options = (logDir: string): LogStoreOptions => ({ logDirs: [logDir], segmentBytes: 2 * batchOf(1, 0).length })
  /** Past the rolled segments' flush delay (their appends take the real clock). */
  const later = () => Date.now() + 31_000

  it("move the recovery point only once forced, and what they forced survives a power loss", async () => {
    const { logDir, faulty } = setUp()
    await run(faulty.io, options(logDir), (store) =>
      Effect.gen(function*() {
        yield* store.createPartition("orders", 0, TOPIC_ID)
        for (let i = 0; i < 5; i++) yield* store.append("orders", 0, batchOf(1, i))
        const log = yield* store.getPartition("orders", 0)
        expect(log.segmentList().length).toBe(3)
        yield* store.flushDue(later())
        expect(log.rolledFlushInFlight).not.toBe(null)
        expect(log.recoveryPoint).toBe(0)
        yield* Effect.promise(() => log.rolledFlushInFlight!)
        expect(log.recoveryPoint).toBe(4)
        faulty.crash()
      }))
    faulty.powerLoss()
    const offsets = await run(faulty.io, options(logDir), (store) =>
      Effect.gen(function*() {
        const log = yield* store.getPartition("orders", 0)
        return { start: log.logStartOffset, end: log.logEndOffset }
      }))
    expect(offsets.start).toBe(0)
    expect(offsets.end, "the two rolled segments' records survived").toBeGreaterThanOrEqual(4)
  })

  it("leave the producer snapshot written at each roll unforced until the rolled segment is forced (Kafka's roll), then durable", async () => {
    const snapshotsIn = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith(".snapshot")).sort()
    const rolled = async (force: boolean) => {
      const { logDir, faulty } = setUp()
      const dir = await run(faulty.io, options(logDir), (store) =>
        Effect.gen(function*() {
          yield* store.createPartition("orders", 0, TOPIC_ID)
          const log = yield* store.getPartition("orders", 0)
          // The partition's directory and first segment made durable: what follows is the rolls' doing.
          log.flush(Date.now())
          for (let i = 0; i < 5; i++) yield* store.append("orders", 0, batchOf(1, i))
          expect(snapshotsIn(log.dir)).toEqual(["00000000000000000002.snapshot", "00000000000000000004.snapshot"])
          if (force) {
            yield* store.flushDue(later())
            yield* Effect.promise(() => log.rolledFlushInFlight!)
          }
          faulty.crash()
          return log.dir
        }))
      faulty.powerLoss()
      return { logDir, faulty, dir }
    }
    const unforced = await rolled(false)
    expect(snapshotsIn(unforced.dir), "no fsync at the roll: a power loss takes them").toEqual([])
    const forced = await rolled(true)
    expect(snapshotsIn(forced.dir)).toEqual(["00000000000000000002.snapshot", "00000000000000000004.snapshot"])
    // The next open loads the latest one (nothing warned about, nothing deleted).
    const afterReopen = await run(forced.faulty.io, options(forced.logDir), (store) =>
      Effect.gen(function*() {
        const log = yield* store.getPartition("orders", 0)
        expect(log.logEndOffset).toBeGreaterThanOrEqual(4)
        return snapshotsIn(log.dir)
      }))
    expect(afterReopen).toContain("00000000000000000004.snapshot")
  })

  it("take the dir offline on an fsync error and keep the recovery point", async () => {
    const { logDir, faulty } = setUp()
    const halts: Array<string> = []
    await run(faulty.io, options(logDir), (store) =>
      Effect.gen(function*() {
        yield* store.createPartition("orders", 0, TOPIC_ID)
        for (let i = 0; i < 5; i++) yield* store.append("orders", 0, batchOf(1, i))
        const log = yield* store.getPartition("orders", 0)
        faulty.fail({ code: "EIO", ops: ["fsync"], path: /\.log$/ })
        yield* store.flushDue(later())
        yield* Effect.promise(() => log.rolledFlushInFlight ?? Promise.resolve())
        expect(faulty.injected.length, "the fault was hit").toBeGreaterThan(0)
        expect(log.recoveryPoint).toBe(0)
        expect(store.offlineLogDirs()).toEqual([logDir])
        expect(log.isOffline).toBe(true)
      }), halts)
    expect(halts.length).toBe(1)
  })
})

describe("flush.ms flushes on the thread pool", () => {
  it("make the records durable once done, and take the dir offline on an fsync error", async () => {
    const { logDir, faulty } = setUp()
    const halts: Array<string> = []
    await run(faulty.io, { logDirs: [logDir], flushIntervalMs: 1000 }, (store) =>
      Effect.gen(function*() {
        yield* store.createPartition("orders", 0, TOPIC_ID)
        yield* store.createPartition("failing", 0, TOPIC_ID)
        const log = yield* store.getPartition("orders", 0)
        for (let i = 0; i < 3; i++) yield* store.append("orders", 0, batchOf(1, i))
        yield* store.flushDue(Date.now() + 2000)
        expect(log.activeFlushInFlight).not.toBe(null)
        yield* Effect.promise(() => log.activeFlushInFlight!)
        expect(log.recoveryPoint).toBe(3)
        // The same dir: the other partition's failing flush takes it offline (after the first is durable).
        const failing = yield* store.getPartition("failing", 0)
        yield* store.append("failing", 0, batchOf(1, 0))
        faulty.fail({ code: "EIO", ops: ["fsync"], path: /failing-0\/.*\.log$/ })
        yield* store.flushDue(Date.now() + 4000)
        yield* Effect.promise(() => failing.activeFlushInFlight ?? Promise.resolve())
        expect(faulty.injected.length, "the fault was hit").toBeGreaterThan(0)
        expect(failing.recoveryPoint).toBe(0)
        expect(store.offlineLogDirs()).toEqual([logDir])
        faulty.crash()
      }), halts)
    expect(halts.length).toBe(1)
    faulty.powerLoss()
    const end = await run(faulty.io, { logDirs: [logDir] }, (store) => Effect.map(store.getPartition("orders", 0), (log) => log.logEndOffset))
    expect(end, "the flushed records survived the power loss").toBe(3)
  })
})
