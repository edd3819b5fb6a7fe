/**
 * `pnpm start --format`: meta.properties in every log dir and bootstrap.checkpoint in the
 * metadata log dir, as `kafka-storage.sh format` writes them; the first start bootstraps
 * from that file. Also meta.properties rewrites keep keys they do not know.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseArgs } from "../../src/config/args.ts"
import { readBootstrapCheckpoint } from "../../src/metadata/bootstrap-checkpoint.ts"
import { formatStorage } from "../../src/metadata/format.ts"
import { ensureMetaProperties, readMetaProperties } from "../../src/metadata/meta-properties.ts"
import { configErrorOf } from "../config/helpers.ts"
import { removeTempDirs, tempDir, withMetadataLog } from "./helpers.ts"
import {
  buildBatch,
  data,
  featureLevelRecord,
  kraftVersionControl,
  parseBatches,
  snapshotFooterControl,
  snapshotHeaderControl
} from "./kraft-fixture.ts"

afterAll(removeTempDirs)

const CLUSTER = "MkU3OEVBNTcwNTJENDM2Qg"

describe("format", () => {
  it("parses --format [--cluster-id id] [--ignore-formatted], and refuses their use without --format", () => {
    expect(parseArgs(["--format", "--cluster-id", CLUSTER, "--ignore-formatted", "server.properties"])).toEqual({
      propertiesFile: "server.properties",
      overrides: [],
      format: { clusterId: CLUSTER, ignoreFormatted: true }
    })
    expect(parseArgs(["--format"])).toEqual({ overrides: [], format: { ignoreFormatted: false } })
    expect(configErrorOf(() => parseArgs(["--ignore-formatted"])).message).toMatch(/only valid with --format/)
  })

  it.effect("writes meta.properties in each log dir and bootstrap.checkpoint, which the first start replays", () =>
    Effect.gen(function*() {
      const root = tempDir()
      const a = path.join(root, "a")
      const b = path.join(root, "b")
      const result = formatStorage({ logDirs: [a, b], nodeId: 3, clusterId: CLUSTER, ignoreFormatted: false, metadataVersion: 19, now: () => 1_700_000_000_000 })
      expect(result.formatted).toEqual([a, b])
      expect(result.bootstrapFile).toBe(path.join(a, "bootstrap.checkpoint"))
      const metaA = readMetaProperties(a)!
      const metaB = readMetaProperties(b)!
      expect(metaA).toMatchObject({ version: 1, clusterId: CLUSTER, nodeId: 3 })
      expect(metaB).toMatchObject({ version: 1, clusterId: CLUSTER, nodeId: 3 })
      expect(metaA.directoryId).not.toBe(metaB.directoryId)
      expect(fs.existsSync(path.join(b, "bootstrap.checkpoint"))).toBe(false)

      // Snapshot layout: header control batch, one data batch with the feature level, footer.
      const batches = parseBatches(fs.readFileSync(result.bootstrapFile!))
      expect(batches.map((batch) => batch.attributes & 0x20)).toEqual([0x20, 0, 0x20])
      expect(batches.map((batch) => batch.baseOffset)).toEqual([0, 1, 2])
      expect(readBootstrapCheckpoint(a)!.records).toEqual([{ type: "FeatureLevelRecord", version: 0, data: { name: "metadata.version", featureLevel: 19 } }])

      const image = yield* withMetadataLog({ logDirs: [a, b], nodeId: 3 }, (m) => Effect.succeed({ image: m.current(), clusterId: m.clusterId }))
      expect(image.clusterId).toBe(CLUSTER)
      expect(image.image.features.get("metadata.version")).toBe(19)
    }))

  it.effect("starts from a bootstrap.checkpoint written as Kafka writes it (independent bytes)", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = Buffer.concat([
        buildBatch({ baseOffset: 0, leaderEpoch: 0, records: [snapshotHeaderControl(0)], control: true }),
        buildBatch({ baseOffset: 1, leaderEpoch: 0, records: data(featureLevelRecord("metadata.version", 17)) }),
        buildBatch({ baseOffset: 2, leaderEpoch: 0, records: [snapshotFooterControl()], control: true })
      ])
      fs.writeFileSync(path.join(dir, "bootstrap.checkpoint"), file)
      // kafka-storage.sh format --standalone (Kafka 3.9+) also leaves a 0-0 snapshot of control
      // records only (the voter set): the log is still unbootstrapped.
      fs.mkdirSync(path.join(dir, "__cluster_metadata-0"))
      fs.writeFileSync(
        path.join(dir, "__cluster_metadata-0", "00000000000000000000-0000000000.checkpoint"),
        Buffer.concat([
          buildBatch({ baseOffset: 0, leaderEpoch: 0, records: [snapshotHeaderControl(0), kraftVersionControl(1)], control: true }),
          buildBatch({ baseOffset: 2, leaderEpoch: 0, records: [snapshotFooterControl()], control: true })
        ])
      )
      const image = yield* withMetadataLog({ logDirs: [dir], nodeId: 1 }, (m) => m.image)
      expect(image.features.get("metadata.version")).toBe(17)
    }))

  it("refuses a formatted directory unless told to ignore it, and then joins the others to its cluster", () => {
    const root = tempDir()
    const a = path.join(root, "a")
    const b = path.join(root, "b")
    formatStorage({ logDirs: [a], nodeId: 1, clusterId: CLUSTER, ignoreFormatted: false, metadataVersion: 21 })
    expect(() => formatStorage({ logDirs: [a, b], nodeId: 1, ignoreFormatted: false, metadataVersion: 21 })).toThrow(
      `Log directory ${a} is already formatted. Use --ignore-formatted to ignore this directory and format the others.`
    )
    expect(fs.existsSync(path.join(b, "meta.properties"))).toBe(false)
    const result = formatStorage({ logDirs: [a, b], nodeId: 1, ignoreFormatted: true, metadataVersion: 21 })
    expect(result).toMatchObject({ formatted: [b], alreadyFormatted: [a], clusterId: CLUSTER, bootstrapFile: null })
    expect(readMetaProperties(b)!.clusterId).toBe(CLUSTER)
    expect(() => formatStorage({ logDirs: [tempDir()], nodeId: 1, clusterId: "not a uuid", ignoreFormatted: false, metadataVersion: 21 })).toThrow(
      /Cluster ID string not a uuid does not appear to be a valid UUID/
    )
  })

  it("generates a random cluster id when none is given", () => {
    const result = formatStorage({ logDirs: [tempDir()], nodeId: 1, ignoreFormatted: false, metadataVersion: 21 })
    expect(result.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })
})

describe("meta.properties written by others", () => {
  it("keeps unknown keys when it must rewrite the file (v0 -> v1), reads padded directory ids", () => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "meta.properties"), `# comment\n\n! also a comment\nversion=0\nbroker.id=1\ncluster.id=${CLUSTER}\nvendor.key=a value:with=specials\n`)
    ensureMetaProperties([dir], 1)
    const rewritten = readMetaProperties(dir)!
    expect(rewritten).toMatchObject({ version: 1, nodeId: 1, clusterId: CLUSTER })
    expect(rewritten.all.get("vendor.key")).toBe("a value:with=specials")

    const padded = tempDir()
    fs.writeFileSync(path.join(padded, "meta.properties"), `version=1\nnode.id=1\ncluster.id=${CLUSTER}\ndirectory.id=EAAAAAAAQACAAAAAAAAAAQ==\n`)
    expect(ensureMetaProperties([padded], 1).directoryIds).toEqual(["EAAAAAAAQACAAAAAAAAAAQ"])
  })
})
