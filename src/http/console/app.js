// The broker console: a small page over /api/. Every value from the broker is put into the
// page as text (textContent / attributes), never parsed as HTML.
"use strict"

const app = document.getElementById("app")
let refreshTimer = undefined
let overviewState = { readOnly: true }

// ---- tiny DOM helpers -------------------------------------------------------------------
const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v)
    else if (k === "class") el.className = v
    // Through the CSSOM: the page's CSP refuses style attributes.
    else if (k === "style") el.style.cssText = v
    else el.setAttribute(k, v === true ? "" : String(v))
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}
const svg = (tag, attrs = {}, ...children) => {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  for (const c of children.flat()) if (c) el.append(c instanceof Node ? c : String(c))
  return el
}
const fmtInt = (n) => Number(n).toLocaleString("en-US")
const fmtBytes = (n) => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}
const fmtDuration = (ms) => {
  const s = Math.floor(ms / 1000), d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60)
  return d > 0 ? `${d}d ${hh}h` : hh > 0 ? `${hh}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`
}
const enc = encodeURIComponent
const toast = (text, bad = false) => {
  const t = document.getElementById("toast")
  t.textContent = text
  t.className = bad ? "show bad" : "show"
  clearTimeout(toast.timer)
  toast.timer = setTimeout(() => { t.className = "" }, 3500)
}

const api = async (path, options = {}) => {
  const response = await fetch(`/api/${path}`, {
    method: options.method ?? "GET",
    headers: options.body === undefined ? {} : { "content-type": "application/json" },
    body: options.body === undefined ? undefined : JSON.stringify(options.body)
  })
  const body = await response.json().catch(() => ({ error: response.statusText }))
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`)
  return body
}

const card = (label, value, small = false) => h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: small ? "value small" : "value" }, value))
const panel = (title, actions, ...content) =>
  h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, title), actions ?? ""), ...content)
const table = (headers, rows, empty = "Nothing here yet") =>
  rows.length === 0
    ? h("div", { class: "empty" }, empty)
    : h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, headers.map(([label, cls]) => h("th", { class: cls ?? "" }, label)))),
      h("tbody", {}, rows)))
const bar = (fraction, cls = "") => h("div", { class: `bar ${cls}` }, h("span", { style: `width:${Math.max(0, Math.min(1, fraction)) * 100}%` }))
const guard = (button) => {
  if (overviewState.readOnly) {
    button.disabled = true
    button.title = "The console is read-only (http.console.read.only=true)"
  }
  return button
}

// ---- throughput chart (SVG, no library) ----------------------------------------------------
const rates = (samples) => {
  const out = []
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].time - samples[i - 1].time) / 1000
    if (dt <= 0) continue
    out.push({ time: samples[i].time, in: Math.max(0, (samples[i].bytesIn - samples[i - 1].bytesIn) / dt), out: Math.max(0, (samples[i].bytesOut - samples[i - 1].bytesOut) / dt) })
  }
  return out
}
const chart = (samples) => {
  // Drawn at about the size it is shown, so labels are not stretched on a phone.
  const W = Math.max(300, Math.min(1140, (app.clientWidth || window.innerWidth) - 40)), H = 180, L = 64, B = 22, T = 8
  const points = rates(samples)
  const max = Math.max(1024, ...points.map((p) => Math.max(p.in, p.out)))
  const t0 = points.length > 0 ? points[0].time : Date.now(), t1 = points.length > 0 ? points[points.length - 1].time : t0 + 1
  const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - 6)
  const y = (v) => T + (1 - v / max) * (H - T - B)
  const line = (key, color) => points.length < 2 ? null : svg("polyline", { points: points.map((p) => `${x(p.time).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" "), fill: "none", stroke: color, "stroke-width": 2, "stroke-linejoin": "round" })
  const area = (key, color) => points.length < 2 ? null : svg("polygon", { points: `${x(t0)},${y(0)} ` + points.map((p) => `${x(p.time).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ") + ` ${x(t1)},${y(0)}`, fill: color, opacity: 0.12 })
  const grid = [0, 0.5, 1].map((f) => [svg("line", { class: "grid-line", x1: L, x2: W - 6, y1: y(max * f), y2: y(max * f) }), svg("text", { class: "axis", x: L - 6, y: y(max * f) + 4, "text-anchor": "end" }, `${fmtBytes(max * f)}/s`)])
  const span = points.length < 2 ? "waiting for samples…" : `last ${fmtDuration(t1 - t0)}`
  return h("div", {},
    svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "throughput in and out" },
      grid.flat(), area("in", "#2f6fed"), area("out", "#12a37a"), line("in", "#2f6fed"), line("out", "#12a37a"),
      svg("text", { class: "axis", x: W - 6, y: H - 6, "text-anchor": "end" }, span)),
    h("div", { class: "legend" }, h("span", {}, h("i", { style: "background:var(--in)" }), "bytes in"), h("span", {}, h("i", { style: "background:var(--out)" }), "bytes out")))
}

// ---- pages ------------------------------------------------------------------------------
const topicsTable = (topics) => {
  const maxMessages = Math.max(1, ...topics.map((t) => t.messages))
  return table([["Topic"], ["Partitions", "num"], ["Messages", "num"], [""], ["Size", "num"]],
    topics.map((t) => h("tr", {},
      h("td", {}, h("a", { href: `#/topics/${enc(t.name)}` }, t.name), t.internal ? h("span", { class: "pill", style: "margin-left:6px" }, "internal") : ""),
      h("td", { class: "num" }, fmtInt(t.partitions)),
      h("td", { class: "num" }, fmtInt(t.messages)),
      h("td", { class: "hide-sm", style: "width:30%" }, bar(t.messages / maxMessages)),
      h("td", { class: "num" }, fmtBytes(t.size)))), "No topics yet")
}

const createTopicForm = (onDone) => {
  const name = h("input", { name: "name", placeholder: "orders", required: true, "aria-label": "topic name" })
  const partitions = h("input", { name: "partitions", type: "number", min: 1, value: 1, style: "width:90px", "aria-label": "partitions" })
  return h("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault()
    try {
      await api("topics", { method: "POST", body: { name: name.value.trim(), partitions: Number(partitions.value) } })
      toast(`Created topic ${name.value.trim()}`)
      onDone()
    } catch (err) { toast(err.message, true) }
  } }, h("label", {}, "New topic", name), h("label", {}, "Partitions", partitions), guard(h("button", { type: "submit" }, "Create topic")))
}

const pages = {
  async overview() {
    const [o, topics] = await Promise.all([api("overview"), api("topics")])
    overviewState = o.broker
    const userTopics = topics.filter((t) => !t.internal)
    return [
      h("h1", {}, "Overview"),
      h("div", { class: "grid" },
        card("Broker", `node ${o.broker.nodeId}`), card("Version", o.broker.version), card("Uptime", fmtDuration(o.broker.uptimeMs)),
        card("Topics", fmtInt(o.topics)), card("Partitions", fmtInt(o.partitions)), card("Consumer groups", fmtInt(o.groups)),
        card("Messages in", fmtInt(o.totals.messagesIn)), card("Bytes in / out", `${fmtBytes(o.totals.bytesIn)} / ${fmtBytes(o.totals.bytesOut)}`)),
      h("div", { class: "grid" }, card("Cluster id", o.broker.clusterId, true), ...o.listeners.map((l) => card(`Listener ${l.name}`, l.address, true))),
      panel("Throughput", null, chart(o.throughput)),
      panel("Topics", h("a", { href: "#/topics" }, "All topics →"), topicsTable(userTopics))
    ]
  },

  async topics() {
    const topics = await api("topics")
    return [h("h1", {}, "Topics"), panel("Create a topic", null, createTopicForm(() => route())), panel(`${topics.length} topics`, null, topicsTable(topics))]
  },

  async topic(name) {
    const t = await api(`topics/${enc(name)}`)
    const maxEnd = Math.max(1, ...t.partitionDetails.map((p) => p.highWatermark - p.logStartOffset))
    const addCount = h("input", { type: "number", min: t.partitions + 1, value: t.partitions + 1, style: "width:90px", "aria-label": "new partition count" })
    const produceKey = h("input", { placeholder: "key", "aria-label": "key" })
    const produceValue = h("textarea", { placeholder: "value", rows: 1, "aria-label": "value" })
    const producePartition = h("select", { "aria-label": "partition" }, t.partitionDetails.map((p) => h("option", { value: p.partition }, `partition ${p.partition}`)))
    return [
      h("div", { class: "crumbs" }, h("a", { href: "#/topics" }, "Topics"), " / "),
      h("h1", {}, t.name, t.internal ? h("span", { class: "pill" }, "internal") : ""),
      h("div", { class: "grid" }, card("Partitions", fmtInt(t.partitions)), card("Replication factor", t.replicationFactor), card("Messages", fmtInt(t.messages)), card("Size", fmtBytes(t.size)), card("Topic id", t.topicId, true)),
      panel("Partitions", null, table(
        [["#", "num"], ["Leader", "num"], ["Start offset", "num"], ["End offset", "num"], ["Messages"], ["Size", "num"], ["Segments", "num"], [""]],
        t.partitionDetails.map((p) => h("tr", {},
          h("td", { class: "num" }, p.partition), h("td", { class: "num" }, p.leader),
          h("td", { class: "num" }, fmtInt(p.logStartOffset)), h("td", { class: "num" }, fmtInt(p.logEndOffset)),
          h("td", {}, h("div", { class: "bar-cell" }, bar((p.highWatermark - p.logStartOffset) / maxEnd), h("span", { class: "num" }, fmtInt(p.highWatermark - p.logStartOffset)))),
          h("td", { class: "num" }, fmtBytes(p.size)), h("td", { class: "num" }, p.segments),
          h("td", {}, h("a", { href: `#/topics/${enc(t.name)}/messages?partition=${p.partition}` }, "Browse")))))),
      panel("Produce a test message", null, h("form", { class: "inline", onsubmit: async (e) => {
        e.preventDefault()
        try {
          const r = await api(`topics/${enc(t.name)}/messages`, { method: "POST", body: { partition: Number(producePartition.value), key: produceKey.value || null, value: produceValue.value } })
          toast(`Written at offset ${r.offset}`)
          route()
        } catch (err) { toast(err.message, true) }
      } }, h("label", {}, "Partition", producePartition), h("label", {}, "Key", produceKey), h("label", { style: "flex:1" }, "Value", produceValue), guard(h("button", { type: "submit" }, "Produce")))),
      panel("Administration", null, h("form", { class: "inline", onsubmit: async (e) => {
        e.preventDefault()
        try {
          await api(`topics/${enc(t.name)}/partitions`, { method: "POST", body: { count: Number(addCount.value) } })
          toast("Partitions added")
          route()
        } catch (err) { toast(err.message, true) }
      } }, h("label", {}, "Partition count", addCount), guard(h("button", { type: "submit", class: "secondary" }, "Add partitions")),
      guard(h("button", { type: "button", class: "danger", id: "delete-topic", onclick: async () => {
        if (!confirm(`Delete topic ${t.name} and all its messages?`)) return
        try {
          await api(`topics/${enc(t.name)}`, { method: "DELETE" })
          toast(`Deleted topic ${t.name}`)
          location.hash = "#/topics"
        } catch (err) { toast(err.message, true) }
      } }, "Delete topic")))),
      panel("Configuration", null, table([["Name"], ["Value"], ["Source"]],
        t.configs.map((c) => h("tr", {}, h("td", { class: "mono" }, c.name), h("td", { class: "mono" }, c.value ?? "(hidden)"), h("td", {}, h("span", { class: "pill" }, sourceName(c.source)))))))
    ]
  },

  async messages(name, params) {
    const partition = Number(params.get("partition") ?? 0)
    const mode = params.get("mode") ?? "auto"
    const q = new URLSearchParams({ limit: params.get("limit") ?? "50" })
    if (params.get("timestamp")) q.set("timestamp", String(Date.parse(params.get("timestamp"))))
    else q.set("offset", params.get("offset") ?? "0")
    const [t, page] = await Promise.all([api(`topics/${enc(name)}`), api(`topics/${enc(name)}/partitions/${partition}/messages?${q}`)])
    const nav = (changes) => {
      const p = new URLSearchParams(params)
      for (const [k, v] of Object.entries(changes)) if (v === null) p.delete(k); else p.set(k, v)
      location.hash = `#/topics/${enc(name)}/messages?${p}`
    }
    const offset = h("input", { type: "number", min: 0, value: params.get("offset") ?? page.from, style: "width:120px", "aria-label": "from offset" })
    const time = h("input", { type: "datetime-local", value: params.get("timestamp") ?? "", "aria-label": "from time" })
    const render = (bytes) => {
      if (bytes === null) return h("span", { class: "muted" }, "null")
      const as = mode === "hex" ? "hex" : mode === "utf8" ? (bytes.text !== null ? "text" : "hex") : mode === "json" ? (bytes.json !== null ? "json" : bytes.text !== null ? "text" : "hex") : bytes.json !== null ? "json" : bytes.text !== null ? "text" : "hex"
      return h("pre", { class: as === "hex" ? "muted" : "" }, as === "json" ? bytes.json : as === "text" ? bytes.text : bytes.hex)
    }
    return [
      h("div", { class: "crumbs" }, h("a", { href: "#/topics" }, "Topics"), " / ", h("a", { href: `#/topics/${enc(name)}` }, name), " /"),
      h("h1", {}, "Messages"),
      panel("Where to read", null, h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); nav(time.value ? { timestamp: time.value, offset: null } : { offset: offset.value, timestamp: null }) } },
        h("label", {}, "Partition", h("select", { onchange: (e) => nav({ partition: e.target.value, offset: null, timestamp: null }), "aria-label": "partition" },
          t.partitionDetails.map((p) => h("option", { value: p.partition, selected: p.partition === partition }, `${p.partition} (${fmtInt(p.logStartOffset)}–${fmtInt(p.highWatermark)})`)))),
        h("label", {}, "From offset", offset), h("label", {}, "or from time", time),
        h("label", {}, "Show as", h("select", { onchange: (e) => nav({ mode: e.target.value }), "aria-label": "show as" },
          [["auto", "Auto"], ["utf8", "UTF-8"], ["json", "JSON"], ["hex", "Hex"]].map(([v, l]) => h("option", { value: v, selected: v === mode }, l)))),
        h("button", { type: "submit" }, "Read"))),
      panel(`${page.records.length} messages from offset ${fmtInt(page.from)}`, page.records.length > 0 && page.nextOffset < page.highWatermark ? h("button", { class: "secondary", onclick: () => nav({ offset: String(page.nextOffset), timestamp: null }) }, "Next page →") : null,
        page.skipped.length > 0 ? h("p", { class: "muted" }, page.skipped.map((s) => `Batch at ${s.baseOffset}: ${s.reason}. `)) : "",
        table([["Offset", "num"], ["Time"], ["Key"], ["Value"], ["Headers"]],
          page.records.map((r) => h("tr", {},
            h("td", { class: "num mono" }, r.offset),
            h("td", { class: "mono", style: "white-space:nowrap" }, new Date(r.timestamp).toISOString().replace("T", " ").replace("Z", "")),
            h("td", { class: "msg-key" }, render(r.key)),
            h("td", {}, render(r.value)),
            h("td", {}, r.headers.length === 0 ? h("span", { class: "muted" }, "–") : r.headers.map((hd) => h("div", { class: "mono" }, `${hd.key}: `, hd.value === null ? "null" : hd.value.text ?? hd.value.hex))))),
          "No messages from here"))
    ]
  },

  async groups() {
    const groups = await api("groups")
    const maxLag = Math.max(1, ...groups.map((g) => g.lag))
    return [h("h1", {}, "Consumer groups"), panel(`${groups.length} groups`, null, table([["Group"], ["State"], ["Protocol"], ["Members", "num"], ["Lag"]],
      groups.map((g) => h("tr", {},
        h("td", {}, h("a", { href: `#/groups/${enc(g.groupId)}` }, g.groupId)),
        h("td", {}, h("span", { class: `pill ${g.state}` }, g.state)),
        h("td", {}, `${g.protocol}${g.protocolType ? ` (${g.protocolType})` : ""}`),
        h("td", { class: "num" }, g.members),
        h("td", {}, h("div", { class: "bar-cell" }, bar(g.lag / maxLag, "lag"), h("span", { class: "num", "data-lag": g.lag }, fmtInt(g.lag)))))), "No consumer groups yet"))]
  },

  async group(groupId) {
    const g = await api(`groups/${enc(groupId)}`)
    const totalLag = g.offsets.reduce((n, o) => n + o.lag, 0)
    const maxLag = Math.max(1, ...g.offsets.map((o) => o.lag))
    const topicsOfGroup = [...new Set(g.offsets.map((o) => o.topic))]
    const resetTopic = h("select", { "aria-label": "topic" }, topicsOfGroup.map((t) => h("option", { value: t }, t)))
    const resetTo = h("select", { "aria-label": "reset to" }, h("option", { value: "earliest" }, "earliest"), h("option", { value: "latest" }, "latest"))
    return [
      h("div", { class: "crumbs" }, h("a", { href: "#/groups" }, "Groups"), " /"),
      h("h1", {}, g.groupId, h("span", { class: `pill ${g.state}` }, g.state)),
      h("div", { class: "grid" }, card("Protocol", g.protocol), card("Protocol type", g.protocolType || "–"), card("Assignor", g.assignor || "–"), card("Members", g.members.length), card("Total lag", h("span", { id: "total-lag" }, fmtInt(totalLag)))),
      panel("Members", null, table([["Member"], ["Client"], ["Host"], ["Assignment"]],
        g.members.map((m) => h("tr", {},
          h("td", { class: "mono" }, m.memberId), h("td", {}, m.clientId), h("td", { class: "mono" }, m.clientHost),
          h("td", {}, m.assignment.length === 0 ? h("span", { class: "muted" }, "–") : m.assignment.map((a) => h("div", {}, h("a", { href: `#/topics/${enc(a.topic)}` }, a.topic), ` [${a.partitions.join(", ")}]`))))), "No members: the group is empty")),
      panel("Committed offsets and lag", null, table([["Topic"], ["Partition", "num"], ["Committed", "num"], ["End offset", "num"], ["Lag"]],
        g.offsets.map((o) => h("tr", {},
          h("td", {}, h("a", { href: `#/topics/${enc(o.topic)}` }, o.topic)), h("td", { class: "num" }, o.partition),
          h("td", { class: "num" }, o.committed < 0 ? "–" : fmtInt(o.committed)), h("td", { class: "num" }, fmtInt(o.highWatermark)),
          h("td", {}, h("div", { class: "bar-cell" }, bar(o.lag / maxLag, "lag"), h("span", { class: "num" }, fmtInt(o.lag)))))), "No committed offsets")),
      panel("Administration", null, h("form", { class: "inline", onsubmit: async (e) => {
        e.preventDefault()
        try {
          await api(`groups/${enc(g.groupId)}/reset`, { method: "POST", body: { topic: resetTopic.value, to: resetTo.value } })
          toast("Offsets reset")
          route()
        } catch (err) { toast(err.message, true) }
      } }, h("label", {}, "Topic", resetTopic), h("label", {}, "Reset to", resetTo), guard(h("button", { type: "submit", class: "secondary" }, "Reset offsets")),
      guard(h("button", { type: "button", class: "danger", onclick: async () => {
        if (!confirm(`Delete group ${g.groupId}?`)) return
        try {
          await api(`groups/${enc(g.groupId)}`, { method: "DELETE" })
          location.hash = "#/groups"
        } catch (err) { toast(err.message, true) }
      } }, "Delete group"))))
    ]
  },

  async config() {
    const [configs, logging] = await Promise.all([api("config"), api("logging")])
    const filter = h("input", { placeholder: "filter", "aria-label": "filter", oninput: () => {
      for (const row of body.querySelectorAll("tr")) row.hidden = !row.dataset.name.includes(filter.value.trim().toLowerCase())
    } })
    const body = h("tbody", {}, configs.map((c) => h("tr", { "data-name": c.name }, h("td", { class: "mono" }, c.name), h("td", { class: "mono" }, c.value ?? "(hidden)"), h("td", {}, h("span", { class: "pill" }, c.source)), h("td", { class: "muted hide-sm" }, c.doc ?? ""))))
    const debug = h("input", { type: "checkbox", checked: logging.debug, "aria-label": "debug request log" })
    const slow = h("input", { type: "number", min: -1, value: logging.slowMs, style: "width:110px", "aria-label": "slow request ms" })
    return [
      h("h1", {}, "Broker configuration"),
      panel("Request logs", null, h("form", { class: "inline", onsubmit: async (e) => {
        e.preventDefault()
        try {
          await api("logging", { method: "PUT", body: { debug: debug.checked, slowMs: Number(slow.value) } })
          toast("Request logging updated")
        } catch (err) { toast(err.message, true) }
      } }, h("label", {}, "Every request (debug)", debug), h("label", {}, "Slow above (ms, −1 off)", slow), guard(h("button", { type: "submit" }, "Apply")))),
      panel(`${configs.length} settings`, filter, h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Value"), h("th", {}, "Source"), h("th", { class: "hide-sm" }, "About"))), body)))
    ]
  }
}

const SOURCES = { 1: "DYNAMIC_TOPIC_CONFIG", 2: "DYNAMIC_BROKER_CONFIG", 3: "DYNAMIC_DEFAULT_BROKER_CONFIG", 4: "STATIC_BROKER_CONFIG", 5: "DEFAULT_CONFIG" }
const sourceName = (s) => SOURCES[s] ?? String(s)

// ---- routing ----------------------------------------------------------------------------
const route = async () => {
  clearTimeout(refreshTimer)
  const [path, queryString] = location.hash.slice(1).split("?")
  const parts = (path || "/").split("/").filter(Boolean).map(decodeURIComponent)
  const params = new URLSearchParams(queryString ?? "")
  let page, nav
  if (parts.length === 0) { page = () => pages.overview(); nav = "overview" }
  else if (parts[0] === "topics" && parts.length === 1) { page = () => pages.topics(); nav = "topics" }
  else if (parts[0] === "topics" && parts[2] === "messages") { page = () => pages.messages(parts[1], params); nav = "topics" }
  else if (parts[0] === "topics") { page = () => pages.topic(parts[1]); nav = "topics" }
  else if (parts[0] === "groups" && parts.length === 1) { page = () => pages.groups(); nav = "groups" }
  else if (parts[0] === "groups") { page = () => pages.group(parts[1]); nav = "groups" }
  else if (parts[0] === "config") { page = () => pages.config(); nav = "config" }
  else { page = async () => [h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the overview"))] }
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === nav)
  const hash = location.hash
  delete document.body.dataset.rendered
  try {
    const content = await page()
    app.replaceChildren(...content)
    document.title = `${document.querySelector("h1")?.textContent ?? "Console"} · Broker console`
  } catch (err) {
    app.replaceChildren(h("h1", {}, "Something went wrong"), h("p", { class: "error" }, err.message))
  }
  // Lets tests (and scripts) wait for a page to be drawn.
  if (location.hash === hash) document.body.dataset.rendered = hash
  // The overview and group pages follow the broker live.
  if (nav === "overview" || (nav === "groups" && parts.length === 1)) refreshTimer = setTimeout(route, 5000)
}

const start = async () => {
  try {
    overviewState = (await api("overview")).broker
  } catch { /* the page says what failed when it loads */ }
  const mode = document.getElementById("mode")
  mode.textContent = overviewState.readOnly ? "read-only" : "read-write"
  mode.className = overviewState.readOnly ? "badge" : "badge rw"
  window.addEventListener("hashchange", route)
  route()
}
start()
