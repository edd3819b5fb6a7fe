/**
 * Connection counting for `max.connections`, `max.connections.per.ip` and
 * `max.connections.per.ip.overrides`, as Kafka's ConnectionQuotas counts them: a connection
 * holds a slot from accept to close; overrides name an IP address or a host name.
 *
 * The two limits act differently, as in Kafka's SocketServer:
 * - `max.connections` (broker-wide): the acceptor waits for a slot (waitForConnectionSlot)
 *   instead of refusing, so a new connection is held, unread, until another one closes, and
 *   is then served. Kafka's acceptor blocks with one accepted socket and leaves the rest in
 *   the kernel's listen backlog; Node cannot stop accepting, so the waiting connections are
 *   queued here, in arrival order, at most `socket.listen.backlog.size` of them (Kafka's
 *   default 50): beyond that the kernel would drop them, and they are closed.
 * - `max.connections.per.ip` (and overrides): checked once a slot is held; a connection over
 *   it is closed at once (Kafka's TooManyConnectionsException).
 */
export interface ConnectionLimits {
  readonly maxConnections: number
  readonly maxConnectionsPerIp: number
  readonly perIpOverrides: ReadonlyMap<string, number>
  /** How many connections may wait for a slot at max.connections (socket.listen.backlog.size). */
  readonly listenBacklog?: number
}

/** Kafka's socket.listen.backlog.size default. */
export const DEFAULT_LISTEN_BACKLOG = 50

export const UNLIMITED_CONNECTIONS: ConnectionLimits = {
  maxConnections: 2147483647,
  maxConnectionsPerIp: 2147483647,
  perIpOverrides: new Map()
}

/** Dual-stack sockets report IPv4 peers as "::ffff:a.b.c.d". */
const plainIp = (ip: string): string => (ip.startsWith("::ffff:") ? ip.slice(7) : ip)

export class ConnectionQuotas {
  private total = 0
  private readonly byIp = new Map<string, number>()
  private readonly limits: ConnectionLimits
  /** Connections waiting for a broker-wide slot, oldest first. */
  private readonly waiters: Array<() => void> = []

  constructor(limits: ConnectionLimits) {
    this.limits = limits
  }

  /** Connections holding a slot. */
  get count(): number {
    return this.total
  }

  get waiting(): number {
    return this.waiters.length
  }

  private limitFor(ip: string): number {
    return this.limits.perIpOverrides.get(ip) ?? (ip === "127.0.0.1" || ip === "::1" ? this.limits.perIpOverrides.get("localhost") : undefined) ??
      this.limits.maxConnectionsPerIp
  }

  /** Takes a broker-wide slot if one is free and nobody waits ahead; false means wait (or be refused if the queue is full). */
  tryTakeSlot(): boolean {
    if (this.waiters.length > 0 || this.total >= this.limits.maxConnections) return false
    this.total++
    return true
  }

  /** Whether another connection may queue for a slot. */
  get canWait(): boolean {
    return this.waiters.length < (this.limits.listenBacklog ?? DEFAULT_LISTEN_BACKLOG)
  }

  /**
   * Queues for a slot; `granted` is called, holding the slot, when a connection releases
   * one. Returns a cancel function for a waiter that gives up (its slot is not taken).
   */
  waitForSlot(granted: () => void): () => void {
    this.waiters.push(granted)
    return () => {
      const i = this.waiters.indexOf(granted)
      if (i >= 0) this.waiters.splice(i, 1)
    }
  }

  /** Gives a slot back: to the oldest waiter if there is one (it is then theirs), else to the pool. */
  releaseSlot(): void {
    const next = this.waiters.shift()
    if (next !== undefined) next()
    else this.total--
  }

  /** Counts a slot-holding connection from `ip`, or says why its address has no room (Kafka's message). */
  acquireIp(rawIp: string): string | undefined {
    const ip = plainIp(rawIp)
    const current = this.byIp.get(ip) ?? 0
    const limit = this.limitFor(ip)
    if (current >= limit) return `Rejected connection from ${ip}, address already has the configured maximum of ${limit} connections.`
    this.byIp.set(ip, current + 1)
    return undefined
  }

  releaseIp(rawIp: string): void {
    const ip = plainIp(rawIp)
    const current = this.byIp.get(ip) ?? 0
    if (current <= 1) this.byIp.delete(ip)
    else this.byIp.set(ip, current - 1)
  }
}
