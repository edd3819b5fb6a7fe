const { runBundle } = require("./run-bundle.cjs")
const root = `${require("node:path").dirname(__dirname)}/`
runBundle(`${root}dist/broker.cjs`, `${root}dist/compile-cache`)
