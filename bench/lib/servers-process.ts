/** Starts one of bench/servers.ts's servers as a child process; resolves with its port once it listens. */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { trackChild } from "./broker-process.ts"

export interface ServerProcess {
  readonly pid: number
  readonly port: number
  stop: () => Promise<void>
}

export const startServer = (mode: "broker" | "broker-no-metrics" | "bare"): Promise<ServerProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(import.meta.dirname, "..", "servers.ts"), mode], { stdio: ["ignore", "pipe", "inherit"] })
    trackChild(child)
    const exited = new Promise<void>((r) => child.once("close", () => r()))
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      await exited
    }
    child.stdout!.once("data", (d) => resolve({ pid: child.pid!, port: Number(String(d).trim()), stop }))
    child.once("exit", (code) => reject(new Error(`${mode} server exited with ${code}`)))
  })
