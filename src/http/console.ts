/**
 * The web console at `/`: one static page, its script and its stylesheet, committed as they
 * are served (no build step, no CDN). The page renders what /api/ returns as text only; the
 * Content-Security-Policy allows nothing but these same-origin files.
 */
import * as fs from "node:fs"
import { Effect, Layer } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"

const asset = (name: string) => fs.readFileSync(new URL(`./console/${name}`, import.meta.url), "utf8")

const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache"
}

export const ConsoleRoutes = Layer.effectDiscard(Effect.gen(function*() {
  const router = yield* HttpRouter.HttpRouter
  const files = {
    html: asset("index.html"),
    js: asset("app.js"),
    css: asset("style.css")
  }
  const serve = (body: string, contentType: string) => HttpServerResponse.text(body, { contentType, headers: SECURITY_HEADERS })
  yield* router.add("GET", "/", serve(files.html, "text/html; charset=utf-8"))
  yield* router.add("GET", "/console/app.js", serve(files.js, "text/javascript; charset=utf-8"))
  yield* router.add("GET", "/console/style.css", serve(files.css, "text/css; charset=utf-8"))
}))
