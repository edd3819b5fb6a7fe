/**
 * Test helpers for the group coordinator: a coordinator with predictable member ids and
 * shorthand inputs. Everything runs under TestClock (it.effect): time moves only by
 * TestClock.adjust.
 */
import { Effect, Fiber, type Layer, type Scope } from "effect"
import { GroupCoordinator, type GroupCoordinatorOptions, type GroupCoordinatorShape } from "../../src/groups/GroupCoordinator.ts"
import type { CommitOffsetsInput, JoinGroupInput, JoinGroupResult, SyncGroupResult } from "../../src/groups/types.ts"

export const bytes = (...values: Array<number>): Uint8Array => Uint8Array.from(values)

export const coordinatorLayer = (options: GroupCoordinatorOptions = {}): Layer.Layer<GroupCoordinator> => {
  let n = 0
  return GroupCoordinator.layerInMemory({ newMemberId: (prefix) => `${prefix}-${++n}`, ...options })
}

/** Runs `body` with a fresh coordinator (initial rebalance delay 0 unless given). */
export const withCoordinator = <A, E>(
  body: (gc: GroupCoordinatorShape) => Effect.Effect<A, E, Scope.Scope>,
  options: GroupCoordinatorOptions = {}
): Effect.Effect<A, E, Scope.Scope> =>
  GroupCoordinator.use(body).pipe(Effect.provide(coordinatorLayer({ initialRebalanceDelayMs: 0, ...options })))

export const joinInput = (overrides: Partial<JoinGroupInput> = {}): JoinGroupInput => ({
  groupId: "g",
  memberId: "",
  groupInstanceId: null,
  clientId: "client",
  clientHost: "/127.0.0.1",
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 30_000,
  protocolType: "consumer",
  protocols: [{ name: "range", metadata: bytes(1) }],
  requireKnownMemberId: false,
  supportsSkipAssignment: false,
  reason: null,
  ...overrides
})

export const commitInput = (overrides: Partial<CommitOffsetsInput> = {}): CommitOffsetsInput => ({
  groupId: "g",
  generationId: -1,
  memberId: "",
  groupInstanceId: null,
  apiVersion: 8,
  offsets: [],
  ...overrides
})

/** Lets forked fibers run until they block (no time passes). */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* Effect.yieldNow
})

/** Starts a JoinGroup that may wait for the rebalance. */
export const startJoin = (gc: GroupCoordinatorShape, input: JoinGroupInput) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(gc.joinGroup(input))
    yield* settle
    return fiber
  })

export const startSync = (gc: GroupCoordinatorShape, groupId: string, generationId: number, memberId: string, assignments: ReadonlyArray<{ memberId: string; assignment: Uint8Array }> = []) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(gc.syncGroup({ groupId, generationId, memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments }))
    yield* settle
    return fiber
  })

/** The answer of a finished fiber; fails the test if it is still waiting. */
export const done = <A>(fiber: Fiber.Fiber<A>): Effect.Effect<A> =>
  Effect.suspend(() => {
    if (fiber.pollUnsafe() === undefined) return Effect.die(new Error("expected the request to have been answered, it is still waiting"))
    return Fiber.join(fiber)
  })

export const isWaiting = (fiber: Fiber.Fiber<unknown>): boolean => fiber.pollUnsafe() === undefined

/**
 * A v4+ consumer's first join: MEMBER_ID_REQUIRED, then the join with the given id
 * (returned as a waiting fiber).
 */
export const joinNewMember = (gc: GroupCoordinatorShape, overrides: Partial<JoinGroupInput> = {}) =>
  Effect.gen(function*() {
    const first = yield* gc.joinGroup(joinInput({ ...overrides, memberId: "", requireKnownMemberId: true }))
    if (first.errorCode !== 79) throw new Error(`expected MEMBER_ID_REQUIRED, got ${first.errorCode}`)
    return yield* startJoin(gc, joinInput({ ...overrides, memberId: first.memberId, requireKnownMemberId: true }))
  })

export type Joined = JoinGroupResult
export type Synced = SyncGroupResult
