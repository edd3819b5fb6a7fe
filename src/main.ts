/**
 * `pnpm start [server.properties] [--override key=value]... [--log-level level] [--log-format text|json]`
 * Runs the broker until SIGINT/SIGTERM, then drains connections and exits 0.
 * `pnpm start --format [--cluster-id id] [--ignore-formatted] [server.properties] [--override ...]`
 * formats the log dirs (as `kafka-storage.sh format`) and exits.
 * Any start-up failure stops with one error line naming the file or setting and the reason,
 * exit 1.
 */
import { runMain } from "./run-main.ts"

runMain(process.argv.slice(2))
