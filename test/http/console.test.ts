/**
 * The web console in a real browser: Debian's chromium driven by playwright-core (no browser
 * is downloaded). A topic made by KafkaJS shows with its partitions and offsets, its messages
 * can be browsed, a consumer group's lag drops to 0 once its consumer has run, and a topic is
 * created and deleted from the page. No page may log a console error. Screenshots of each
 * page go to test-artifacts/console/ (ignored by git).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Kafka, logLevel } from "kafkajs"
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedBroker, startBroker } from "../../src/broker.ts"
import { requireTool } from "../support/os-tools.ts"

const executablePath = requireTool("chromium")
const ARTIFACTS = path.resolve(import.meta.dirname, "../../test-artifacts/console")
const TOPIC = "console-orders"
const GROUP = "console-readers"

/**
 * Runs in the page: whether the console has drawn the page for `hash` (app.js marks it). A
 * function, not a string: the console's CSP forbids evaluating strings.
 */
const renderedIs = (hash: string): boolean =>
  (globalThis as unknown as { document: { body: { dataset: Record<string, string | undefined> } } }).document.body.dataset["rendered"] === hash

describe.skipIf(executablePath === undefined)("web console in chromium", () => {
  let broker: EmbeddedBroker
  let kafka: Kafka
  let context: BrowserContext
  let page: Page
  let userDataDir: string
  const consoleErrors: Array<string> = []

  /** Waits (bounded) until `text` shows inside `locator`. */
  const shows = (locator: Locator, text: string) => locator.getByText(text, { exact: false }).first().waitFor({ timeout: 20_000 })
  const mainText = () => page.locator("main").innerText()
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true })
  /** Opens a page of the console and waits until the page has drawn it. */
  const open = async (hash: string) => {
    const url = `${broker.httpUrl}/${hash}`
    // Going to the hash the page already shows is no navigation at all: the page would keep what
    // it drew before (and say it is drawn), so reload it instead.
    if (page.url() === url) await page.reload()
    else await page.goto(url)
    await page.waitForFunction(renderedIs, hash, { timeout: 20_000 })
  }

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true })
    broker = await startBroker({ properties: { "http.console.read.only": "false" } })
    kafka = new Kafka({ clientId: "console-test", brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "console-chromium-"))
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: executablePath!,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1280, height: 860 }
    })
    page = context.pages()[0] ?? (await context.newPage())
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text())
    })
    page.on("pageerror", (error) => consoleErrors.push(error.message))
    page.on("dialog", (dialog) => void dialog.accept())
  })

  afterAll(async () => {
    await context?.close()
    await broker?.stop()
    if (userDataDir !== undefined) fs.rmSync(userDataDir, { recursive: true, force: true })
  })

  it("shows a topic created by KafkaJS with its partitions and offsets", async () => {
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3 }] })
    await admin.disconnect()
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic: TOPIC,
      messages: [
        { partition: 0, key: "order-41", value: "plain text <b>not bold</b>" },
        { partition: 0, key: "order-42", value: JSON.stringify({ id: 42, item: "<script>alert(1)</script>" }), headers: { source: "console-test" } },
        { partition: 1, key: "order-43", value: "c" },
        { partition: 2, key: "order-44", value: "d" },
        { partition: 2, key: "order-45", value: "e" }
      ]
    })
    await producer.disconnect()

    await open("#/")
    await shows(page.locator("main"), TOPIC)
    await shot("overview")

    await open(`#/topics/${TOPIC}`)
    const rows = page.locator("section", { hasText: "Partitions" }).first().locator("tbody tr")
    expect(await rows.count()).toBe(3)
    const endOffsets = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.children[3]!.textContent)))
    expect(endOffsets).toEqual([2, 1, 2])
    await shot("topic")
  })

  it("browses a partition's messages, escaping their content", async () => {
    await open(`#/topics/${TOPIC}/messages?partition=0`)
    const table = page.locator("section", { hasText: "messages from offset" }).locator("tbody")
    await shows(table, "order-42")
    await shows(table, '"item": "<script>alert(1)</script>"')
    await shows(table, "source: console-test")
    // Shown as text, never as markup.
    expect(await page.locator("main b, main script").count()).toBe(0)
    await shot("messages")
    await page.locator("select[aria-label='show as']").selectOption("hex")
    await shows(page.locator("main tbody"), "6f 72 64 65 72 2d 34 32")
  })

  it("shows a consumer group's lag, which drops to 0 once its consumer has run", async () => {
    const admin = kafka.admin()
    await admin.connect()
    await admin.setOffsets({ groupId: GROUP, topic: TOPIC, partitions: [0, 1, 2].map((partition) => ({ partition, offset: "0" })) })
    await open("#/groups")
    const row = page.locator("tr", { hasText: GROUP })
    await row.locator("[data-lag='5']").waitFor({ timeout: 20_000 })
    await shot("groups-lagging")

    const consumer = kafka.consumer({ groupId: GROUP })
    await consumer.connect()
    await consumer.subscribe({ topic: TOPIC })
    let seen = 0
    const allSeen = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async () => {
          if (++seen === 5) resolve()
        }
      })
    })
    await allSeen
    await open(`#/groups/${GROUP}`)
    await shows(page.locator("main"), "console-test")
    await shot("group-with-member")
    // KafkaJS commits after each batch it has processed, the last one after its last message
    // returned (allSeen resolves inside it): the consumer leaves once the broker holds all 5, or
    // it would leave without the last commit. Bounded: a few round trips at most.
    const committed = async () => (await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] }))[0]!.partitions.reduce((n, p) => n + Number(p.offset), 0)
    for (let i = 0; i < 1000 && (await committed()) !== 5; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(await committed()).toBe(5)
    await consumer.disconnect()
    await admin.disconnect()
    await open(`#/groups/${GROUP}`)
    expect(await page.locator("#total-lag").innerText()).toBe("0")
    await shot("group")
  })

  it("creates and deletes a topic from the page", async () => {
    await open("#/topics")
    await page.locator("input[aria-label='topic name']").fill("made-in-console")
    await page.locator("input[aria-label='partitions']").fill("2")
    await page.getByRole("button", { name: "Create topic" }).click()
    await shows(page.locator("main tbody"), "made-in-console")
    const admin = kafka.admin()
    await admin.connect()
    try {
      const made = await admin.fetchTopicMetadata({ topics: ["made-in-console"] })
      expect(made.topics[0]!.partitions).toHaveLength(2)
      await shot("topics")

      await page.locator("a", { hasText: "made-in-console" }).click()
      await page.locator("#delete-topic").waitFor()
      await page.locator("#delete-topic").click()
      await page.waitForFunction(renderedIs, "#/topics", { timeout: 20_000 })
      expect(await mainText()).not.toContain("made-in-console")
      expect(await admin.listTopics()).not.toContain("made-in-console")
    } finally {
      await admin.disconnect()
    }
  })

  it("shows the broker configuration with sources, and logged no console error", async () => {
    await open("#/config")
    await shows(page.locator("main"), "http.console.read.only")
    await shows(page.locator("main"), "STATIC_BROKER_CONFIG")
    await shot("config")
    await page.setViewportSize({ width: 390, height: 844 })
    await open("#/")
    await shot("overview-phone")
    expect(consoleErrors).toEqual([])
  })
})
