import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Vitest's default is one worker per core minus one: a single worker on 2 cores. Many files
    // mostly wait on broker processes, sockets and disks, so two workers overlap that waiting.
    maxWorkers: 2,
    // CI counts results from the JSON report (.ci/run prints "N passed, N failed").
    reporters: process.env["CI"] ? ["default", ["json", { outputFile: ".vitest-results.json" }]] : ["default"]
  }
})
