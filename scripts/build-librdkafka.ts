/**
 * Builds a librdkafka recent enough for KIP-320 (offset validation with OffsetForLeaderEpoch,
 * librdkafka >= 2.1.0) into node_modules/.librdkafka/, for the tests that run the machine's
 * kcat against it (LD_LIBRARY_PATH; kcat links librdkafka.so.1, whose ABI librdkafka keeps).
 * Debian's kcat and python3-confluent-kafka come with librdkafka 2.0.2, which never sends
 * OffsetForLeaderEpoch.
 *
 * The source is the librdkafka tree that the node-rdkafka package ships in deps/librdkafka
 * (a dev dependency taken only for that tree: pnpm-workspace.yaml keeps pnpm from running its
 * own node-gyp build, which needs Node's headers from the network). Only the C library is
 * built, with a C compiler and make: about 3 CPU-minutes. Idempotent: a finished build is kept.
 *
 * `pnpm build:librdkafka`; `.ci/run` runs it before the tests. Exit code 0 when the library is
 * there (built now or before), 1 with the reason otherwise.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const source = path.join(root, "node_modules", "node-rdkafka", "deps", "librdkafka")
const LIBRDKAFKA_DIR = path.join(root, "node_modules", ".librdkafka")
const lib = path.join(LIBRDKAFKA_DIR, "lib", "librdkafka.so.1")
const stamp = path.join(LIBRDKAFKA_DIR, "version")

const fail = (why: string): never => {
  console.error(`build-librdkafka: ${why}`)
  process.exit(1)
}

/** librdkafka's version string from its public header (RD_KAFKA_VERSION 0xMMmmrrxx). */
const sourceVersion = (): string => {
  const header = fs.readFileSync(path.join(source, "src", "rdkafka.h"), "utf8")
  const m = /#define RD_KAFKA_VERSION\s+0x([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})/.exec(header)
  if (m === null) return fail("no RD_KAFKA_VERSION in rdkafka.h")
  return [m[1], m[2], m[3]].map((h) => parseInt(h!, 16)).join(".")
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string, log: string): void => {
  const out = fs.openSync(log, "a")
  const r = spawnSync(command, args, { cwd, stdio: ["ignore", out, out] })
  fs.closeSync(out)
  if (r.error !== undefined) fail(`${command}: ${r.error.message}`)
  if (r.status !== 0) fail(`${command} ${args.join(" ")} failed (exit ${r.status}); see ${log}`)
}

if (!fs.existsSync(source)) fail(`no librdkafka source at ${path.relative(root, source)} (run pnpm install)`)
const version = sourceVersion()
if (fs.existsSync(lib) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8").trim() === version) {
  console.log(`librdkafka ${version} already built: ${path.relative(root, lib)}`)
  process.exit(0)
}

const started = Date.now()
fs.rmSync(LIBRDKAFKA_DIR, { recursive: true, force: true })
const work = path.join(LIBRDKAFKA_DIR, "src")
fs.mkdirSync(path.dirname(work), { recursive: true })
// A copy: the package's files are links into pnpm's store and must stay as shipped.
fs.cpSync(source, work, { recursive: true })
const log = path.join(LIBRDKAFKA_DIR, "build.log")
console.log(`building librdkafka ${version} (log: ${path.relative(root, log)})`)
// Only what a plaintext test client needs; gzip, snappy and lz4 are built in (zlib if present).
run("./configure", [`--prefix=${LIBRDKAFKA_DIR}`, "--disable-ssl", "--disable-sasl", "--disable-gssapi", "--disable-zstd", "--disable-curl"], work, log)
run("make", [`-j${Math.max(1, os.availableParallelism())}`, "-C", "src", "librdkafka.so.1"], work, log)
fs.mkdirSync(path.dirname(lib), { recursive: true })
fs.copyFileSync(path.join(work, "src", "librdkafka.so.1"), lib)
fs.rmSync(work, { recursive: true, force: true })
fs.writeFileSync(stamp, `${version}\n`)
console.log(`built librdkafka ${version} in ${Math.round((Date.now() - started) / 1000)} s: ${path.relative(root, lib)}`)
