/**
 * What the broker does on a fault it must not run on with: Kafka's
 * ProcessTerminatingFaultHandler, which logs the reason and halts the process (a failed
 * metadata log, the metadata log dir or every log dir offline). Tests provide a handler
 * that records the fault instead of ending the test process.
 */
import { Context, Effect, Layer, Option } from "effect"

export interface FatalFaultShape {
  /** Called after the reason has been logged; the default halts with exit code 1. */
  readonly halt: (reason: string) => void
}

const haltProcess: FatalFaultShape = {
  halt: () => {
    // Kafka's Exit.halt: no graceful shutdown, which would write to a failing disk again.
    process.exit(1)
  }
}

export class FatalFault extends Context.Service<FatalFault, FatalFaultShape>()("kafka-broker/lifecycle/FatalFault") {
  static readonly layer: Layer.Layer<FatalFault> = Layer.succeed(FatalFault, haltProcess)

  /** The provided handler, or halting the process when none is. */
  static readonly current: Effect.Effect<FatalFaultShape> = Effect.map(Effect.serviceOption(FatalFault), Option.getOrElse(() => haltProcess))
}
