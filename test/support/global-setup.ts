/**
 * Once per `pnpm test`: brings dist/broker.cjs up to date with src/ before any test spawns the
 * broker as a process (test/support/broker-process.ts runs it as `pnpm start` does), so the
 * processes always run the code under test and no two of them rebuild at once.
 */
import { buildIfStale } from "../../scripts/build.mjs"

export default async (): Promise<void> => {
  await buildIfStale()
}
