import { ConfigError } from "../../src/config/errors.ts"

/** Runs `f` expecting it to throw a ConfigError, and returns that error for assertions. */
export const configErrorOf = (f: () => unknown): ConfigError => {
  try {
    f()
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error("expected a ConfigError, but nothing was thrown")
}
