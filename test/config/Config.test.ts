import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Logger, References } from "effect"
import { Config } from "../../src/config/Config.ts"

const dir = mkdtempSync(join(tmpdir(), "broker-config-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const writeFile = (name: string, content: string | Uint8Array): string => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

const config = Effect.gen(function*() {
  return yield* Config
})

describe("Config.layerFromValues", () => {
  it.effect("provides the config with the given Kafka properties on top of defaults", () =>
    Effect.gen(function*() {
      const c = yield* config
      expect(c.numPartitions).toBe(6)
      expect(c.messageMaxBytes).toBe(1048588)
      expect(c.sources.get("num.partitions")).toBe("STATIC_BROKER_CONFIG")
    }).pipe(Effect.provide(Config.layerFromValues({ "num.partitions": "6" }))))

  it.effect("fails with a ConfigError naming the key and value", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(config.pipe(Effect.provide(Config.layerFromValues({ "num.partitions": "abc" }))))
      expect(error._tag).toBe("ConfigError")
      expect(error.key).toBe("num.partitions")
      expect(error.value).toBe("abc")
    }))

  it.effect("logs unknown keys at debug level", () =>
    Effect.gen(function*() {
      const logs: Array<{ level: string; message: string }> = []
      const capture = Logger.make(({ logLevel, message }) => {
        logs.push({ level: logLevel, message: String(Array.isArray(message) ? message.join(" ") : message) })
      })
      const c = yield* config.pipe(
        Effect.provide(Config.layerFromValues({ "cluster.id": "x", "my.plugin": "y" })),
        Effect.provide(Logger.layer([capture])),
        Effect.provideService(References.MinimumLogLevel, "Debug")
      )
      expect(c.unknownKeys).toEqual(["cluster.id", "my.plugin"])
      expect(logs).toEqual([{ level: "Debug", message: "Ignoring unknown configuration keys: cluster.id, my.plugin" }])
    }))
})

describe("Config.layerFromArgs", () => {
  it.effect("applies defaults < file < environment < --override", () =>
    Effect.gen(function*() {
      const file = writeFile(
        "precedence.properties",
        [
          "# from the file",
          "num.partitions=3",
          "log.dirs=/from-file",
          "auto.create.topics.enable=false",
          "message.max.bytes = 1000",
          "listeners=PLAINTEXT://:9092,\\",
          "  CONTROLLER://:9093",
          "controller.listener.names=CONTROLLER"
        ].join("\n")
      )
      const env = {
        KAFKA_NUM_PARTITIONS: "5",
        KAFKA_LOG_DIRS: "/from-env",
        KAFKA_HEAP_OPTS: "-Xmx1G",
        PATH: "/usr/bin"
      }
      const c = yield* config.pipe(
        Effect.provide(Config.layerFromArgs([file, "--override", "num.partitions=7", "--log-level", "info"], env))
      )
      expect(c.numPartitions).toBe(7)
      expect(c.logDirs).toEqual(["/from-env"])
      expect(c.autoCreateTopicsEnable).toBe(false)
      expect(c.messageMaxBytes).toBe(1000)
      expect(c.defaultReplicationFactor).toBe(1)
      expect(c.listeners.map((l) => l.name)).toEqual(["PLAINTEXT", "CONTROLLER"])
      expect(c.advertisedListeners.map((l) => l.name)).toEqual(["PLAINTEXT"])
      expect(c.unknownKeys).toEqual([])
      expect(c.sources.get("num.partitions")).toBe("STATIC_BROKER_CONFIG")
      expect(c.sources.get("log.dirs")).toBe("STATIC_BROKER_CONFIG")
      expect(c.sources.get("default.replication.factor")).toBe("DEFAULT_CONFIG")
    }))

  it.effect("lets the environment override the file without any flag", () =>
    Effect.gen(function*() {
      const file = writeFile("env.properties", "log.retention.hours=1\nnum.partitions=2\n")
      const c = yield* config.pipe(
        Effect.provide(Config.layerFromArgs([file], { KAFKA_LOG_RETENTION_HOURS: "2" }))
      )
      expect(c.logRetentionMs).toBe(7_200_000)
      expect(c.numPartitions).toBe(2)
    }))

  it.effect("runs with no arguments and no environment", () =>
    Effect.gen(function*() {
      const c = yield* config.pipe(Effect.provide(Config.layerFromArgs([], {})))
      expect(c.listeners).toEqual([{ name: "PLAINTEXT", host: "127.0.0.1", port: 9092 }])
      expect(c.logDirs).toEqual(["./data"])
    }))

  it.effect("reads Latin-1 files as well as UTF-8 ones", () =>
    Effect.gen(function*() {
      const latin1 = writeFile("latin1.properties", Uint8Array.from([...Buffer.from("log.dirs=/d"), 0xe9]))
      const utf8 = writeFile("utf8.properties", "log.dirs=/d\u00e9")
      const fromLatin1 = yield* config.pipe(Effect.provide(Config.layerFromArgs([latin1], {})))
      const fromUtf8 = yield* config.pipe(Effect.provide(Config.layerFromArgs([utf8], {})))
      expect(fromLatin1.logDirs).toEqual(["/d\u00e9"])
      expect(fromUtf8.logDirs).toEqual(["/d\u00e9"])
    }))

  it.effect("fails with a ConfigError naming a missing file", () =>
    Effect.gen(function*() {
      const path = join(dir, "does-not-exist.properties")
      const error = yield* Effect.flip(config.pipe(Effect.provide(Config.layerFromArgs([path], {}))))
      expect(error.key).toBe("propertiesFile")
      expect(error.value).toBe(path)
      expect(error.message).toContain("Cannot read properties file")
    }))

  it.effect("fails with a ConfigError naming the file and line of a malformed escape", () =>
    Effect.gen(function*() {
      const path = writeFile("bad.properties", "a=1\nb=\\uZZZZ\n")
      const error = yield* Effect.flip(config.pipe(Effect.provide(Config.layerFromArgs([path], {}))))
      expect(error.value).toBe(path)
      expect(error.message).toContain("line 2")
    }))

  it.effect("fails on a bad value coming from the environment", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        config.pipe(Effect.provide(Config.layerFromArgs([], { KAFKA_AUTO_CREATE_TOPICS_ENABLE: "maybe" })))
      )
      expect(error.key).toBe("auto.create.topics.enable")
      expect(error.value).toBe("maybe")
    }))

  it.effect("fails on a malformed command line", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(config.pipe(Effect.provide(Config.layerFromArgs(["--bogus"], {}))))
      expect(error.key).toBe("--bogus")
    }))
})
