/**
 * Runs the broker as a real child process with the command `pnpm start` runs (the prebuilt
 * bundle, kept current by test/support/global-setup.ts), and finds its port from the
 * "listening on" log line.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

import { projectRoot, startCommand } from "../../bench/lib/broker-process.ts"

export { startCommand }

export interface BrokerProcess {
  readonly child: ChildProcess
  readonly port: number
  readonly logDir: string
  /** Everything the process printed so far. */
  output: () => string
  /** Resolves with the exit code (or signal) when the process ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export const startBrokerProcess = (options: { logDir?: string; args?: ReadonlyArray<string> } = {}): Promise<BrokerProcess> => {
  const logDir = options.logDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "kafka-broker-proc-"))
  const child = spawn(
    process.execPath,
    [
      ...startCommand(),
      "--override", "listeners=PLAINTEXT://127.0.0.1:0",
      "--override", `log.dirs=${logDir}`,
      "--override", "http.listener=http://127.0.0.1:0",
      ...(options.args ?? [])
    ],
    { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] }
  )
  let out = ""
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal }))
  )
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString()
      const m = /listening on PLAINTEXT:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m) resolve({ child, port: Number(m[1]), logDir, output: () => out, exited })
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    void exited.then(({ code }) => reject(new Error(`broker exited with ${code} before listening:\n${out}`)))
  })
}
