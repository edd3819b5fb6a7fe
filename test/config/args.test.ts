import { describe, expect, it } from "vitest"
import { EFFECT_LOG_LEVEL, parseArgs } from "../../src/config/args.ts"
import { configErrorOf } from "./helpers.ts"

describe("parseArgs", () => {
  it("accepts an empty command line", () => {
    expect(parseArgs([])).toEqual({ overrides: [] })
  })

  it("parses kafka-server-start.sh style arguments", () => {
    expect(
      parseArgs(["config/server.properties", "--override", "num.partitions=3", "--override=listeners=PLAINTEXT://:9092", "--log-level", "DEBUG"])
    ).toEqual({
      propertiesFile: "config/server.properties",
      overrides: [
        ["num.partitions", "3"],
        ["listeners", "PLAINTEXT://:9092"]
      ],
      logLevel: "debug"
    })
  })

  it("splits overrides on the first = only and keeps empty values", () => {
    expect(parseArgs(["--override", "a=b=c", "--override", "empty="]).overrides).toEqual([
      ["a", "b=c"],
      ["empty", ""]
    ])
  })

  it("accepts flags before the properties file", () => {
    expect(parseArgs(["--override", "a=1", "server.properties"]).propertiesFile).toBe("server.properties")
  })

  it("accepts every log level case-insensitively, warn as warning, and the last one wins", () => {
    for (const level of ["trace", "debug", "info", "warning", "error", "fatal", "none"]) {
      expect(parseArgs(["--log-level", level.toUpperCase()]).logLevel).toBe(level)
    }
    expect(parseArgs(["--log-level=warn"]).logLevel).toBe("warning")
    expect(parseArgs(["--log-level=info", "--log-level", "error"]).logLevel).toBe("error")
    expect(EFFECT_LOG_LEVEL.warning).toBe("Warn")
  })

  it.each([
    [["--foo"], "--foo", "Unknown option --foo"],
    [["-x"], "-x", "Unknown option -x"],
    [["--override"], "--override", "requires a value"],
    [["--log-level"], "--log-level", "requires a value"],
    [["--override", "novalue"], "--override", "expected key=value"],
    [["--override", "=v"], "--override", "expected key=value"],
    [["--log-level", "loud"], "--log-level", "Unknown log level"],
    [["a.properties", "b.properties"], "propertiesFile", "only one properties file"],
    [[""], "propertiesFile", "empty"]
  ])("rejects %j", (argv, key, message) => {
    const error = configErrorOf(() => parseArgs(argv))
    expect(error.key).toBe(key)
    expect(error.message).toContain(message)
  })
})
