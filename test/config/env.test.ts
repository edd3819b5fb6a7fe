import { describe, expect, it } from "vitest"
import { configFromEnv, envVarToConfigKey, LAUNCHER_ENV_VARS } from "../../src/config/env.ts"

describe("envVarToConfigKey", () => {
  it("follows the Apache Kafka Docker image convention", () => {
    expect(envVarToConfigKey("KAFKA_LOG_DIRS")).toBe("log.dirs")
    expect(envVarToConfigKey("KAFKA_AUTO_CREATE_TOPICS_ENABLE")).toBe("auto.create.topics.enable")
    expect(envVarToConfigKey("KAFKA_NODE_ID")).toBe("node.id")
    expect(envVarToConfigKey("KAFKA_LISTENER_NAME_INTERNAL_SSL__KEY___STORE")).toBe("listener.name.internal.ssl_key-store")
    expect(envVarToConfigKey("KAFKA_A_B_C")).toBe("a.b.c")
  })

  it("ignores other variables, launcher variables and the bare prefix", () => {
    for (const name of ["PATH", "HOME", "kafka_log_dirs", "KAFKA", "KAFKA_", "KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_DEBUG"]) {
      expect(envVarToConfigKey(name), name).toBeUndefined()
    }
  })

  it("lists the launcher variables explicitly", () => {
    expect([...LAUNCHER_ENV_VARS]).toEqual(
      expect.arrayContaining(["KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_DEBUG", "KAFKA_JMX_OPTS", "KAFKA_GC_LOG_OPTS"])
    )
  })
})

describe("configFromEnv", () => {
  it("keeps values verbatim and skips unset or unrelated variables", () => {
    expect(
      configFromEnv({
        PATH: "/bin",
        KAFKA_NUM_PARTITIONS: " 3 ",
        KAFKA_HEAP_OPTS: "-Xmx1G",
        KAFKA_LOG_DIRS: "/x",
        KAFKA_UNSET: undefined
      })
    ).toEqual([
      ["log.dirs", "/x"],
      ["num.partitions", " 3 "]
    ])
  })
})
