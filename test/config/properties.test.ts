import { describe, expect, it } from "vitest"
import { parseProperties, PropertiesSyntaxError } from "../../src/config/properties.ts"

const parse = (lines: ReadonlyArray<string>, eol = "\n") => Object.fromEntries(parseProperties(lines.join(eol)))

describe("parseProperties: separators", () => {
  it("accepts =, : and whitespace as key/value separators, with blanks around them", () => {
    expect(parse(["a=1", "b:2", "c 3", "d = 4", "e : 5", "f\t6", "g \f = \t7"])).toEqual({
      a: "1",
      b: "2",
      c: "3",
      d: "4",
      e: "5",
      f: "6",
      g: "7"
    })
  })

  it("consumes only one separator character; a second one belongs to the value", () => {
    expect(parse(["a = =v", "b  ==v", "c:=v", "d=:v"])).toEqual({ a: "=v", b: "=v", c: "=v", d: ":v" })
  })

  it("keeps trailing whitespace of a value, as Java does, and allows empty values", () => {
    expect(parse(["a = value  ", "b=", "c", "d   "])).toEqual({ a: "value  ", b: "", c: "", d: "" })
  })

  it("lets later duplicates win", () => {
    expect(parse(["a=1", "a=2"])).toEqual({ a: "2" })
  })
})

describe("parseProperties: comments and blank lines", () => {
  it("skips # and ! comment lines, indented ones too, and blank lines", () => {
    expect(parse(["# comment", "! bang", "   # indented", "\t! tabbed", "", "   ", "a=1"])).toEqual({ a: "1" })
  })

  it("does not treat # after a value as a comment", () => {
    expect(parse(["a=1 # not a comment"])).toEqual({ a: "1 # not a comment" })
  })

  it("never continues a comment line, even when it ends with a backslash", () => {
    expect(parse(["# comment \\", "x=1"])).toEqual({ x: "1" })
  })
})

describe("parseProperties: line continuation", () => {
  it("joins lines ending in a backslash and drops the continuation's leading blanks", () => {
    expect(parse(["listeners = PLAINTEXT://:9092,\\", "    CONTROLLER://:9093, \\", "\t SSL://:9094"])).toEqual({
      listeners: "PLAINTEXT://:9092,CONTROLLER://:9093, SSL://:9094"
    })
  })

  it("treats an even number of trailing backslashes as escaped backslashes, not a continuation", () => {
    expect(parse(["a=b\\\\", "c=d"])).toEqual({ a: "b\\", c: "d" })
  })

  it("continues with an odd number (escaped backslash + continuation)", () => {
    expect(parse(["a=b\\\\\\", "  c"])).toEqual({ a: "b\\c" })
  })

  it("keeps a # at the start of a continuation line as content", () => {
    expect(parse(["a=1\\", "  #2"])).toEqual({ a: "1#2" })
  })

  it("ends the logical line at an empty continuation line", () => {
    expect(parse(["a=b\\", "", "c=d"])).toEqual({ a: "b", c: "d" })
  })

  it("drops a trailing backslash at end of input", () => {
    expect(parse(["a=b\\"])).toEqual({ a: "b" })
  })

  it("can continue inside a key", () => {
    expect(parse(["log.\\", "  dirs=/x"])).toEqual({ "log.dirs": "/x" })
  })

  it("handles CRLF and lone CR line endings", () => {
    expect(parse(["a=1\\", " 2", "b=3"], "\r\n")).toEqual({ a: "12", b: "3" })
    expect(parse(["a=1", "b=2"], "\r")).toEqual({ a: "1", b: "2" })
  })
})

describe("parseProperties: escapes", () => {
  it("decodes \\t \\n \\r \\f and \\uXXXX", () => {
    expect(parse(["a=x\\ty\\nz\\r\\f", "b=\\u0041\\u00e9\\u20AC"])).toEqual({ a: "x\ty\nz\r\f", b: "Aé€" })
  })

  it("drops the backslash before any other character", () => {
    expect(parse(["a=\\q\\#\\!\\\\"])).toEqual({ a: "q#!\\" })
  })

  it("allows escaped separators and spaces inside keys", () => {
    expect(parse(["a\\=b=c", "d\\:e:f", "key\\ with\\ spaces = v"])).toEqual({ "a=b": "c", "d:e": "f", "key with spaces": "v" })
  })

  it("rejects a malformed \\u escape and reports the line it starts on", () => {
    const text = ["a=1", "b=one\\", "  two", "c=\\u00G1"].join("\n")
    let error: unknown
    try {
      parseProperties(text)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(PropertiesSyntaxError)
    expect((error as PropertiesSyntaxError).line).toBe(4)
    expect((error as PropertiesSyntaxError).message).toContain("Malformed \\uxxxx encoding")
  })

  it("rejects a truncated \\u escape at the end of a value", () => {
    expect(() => parseProperties("a=\\u12")).toThrow(PropertiesSyntaxError)
  })
})
