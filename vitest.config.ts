import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // CI counts results from the JSON report (.ci/run prints "N passed, N failed").
    reporters: process.env["CI"] ? ["default", ["json", { outputFile: ".vitest-results.json" }]] : ["default"]
  }
})
