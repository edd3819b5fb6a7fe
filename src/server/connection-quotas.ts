/**
 * Connection counting for `max.connections`, `max.connections.per.ip` and
 * `max.connections.per.ip.overrides`, as Kafka's ConnectionQuotas counts them: a connection
 * holds a slot from accept to close; overrides name an IP address or a host name.
 *
 * Kafka's acceptor stops accepting while the broker-wide limit is reached (clients wait in
 * the kernel's backlog); Node cannot pause accepting per listener, so a connection over
 * either limit is closed as soon as it arrives, with a logged reason, as Kafka closes one
 * over its per-IP limit.
 */
export interface ConnectionLimits {
  readonly maxConnections: number
  readonly maxConnectionsPerIp: number
  readonly perIpOverrides: ReadonlyMap<string, number>
}

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

  constructor(limits: ConnectionLimits) {
    this.limits = limits
  }

  get count(): number {
    return this.total
  }

  private limitFor(ip: string): number {
    return this.limits.perIpOverrides.get(ip) ?? (ip === "127.0.0.1" || ip === "::1" ? this.limits.perIpOverrides.get("localhost") : undefined) ??
      this.limits.maxConnectionsPerIp
  }

  /** Takes a slot for a connection from `ip`, or says why none is left. */
  acquire(rawIp: string): string | undefined {
    const ip = plainIp(rawIp)
    if (this.total >= this.limits.maxConnections) return `max.connections ${this.limits.maxConnections} reached`
    const current = this.byIp.get(ip) ?? 0
    const limit = this.limitFor(ip)
    if (current >= limit) return `too many connections from ${ip} (max.connections.per.ip ${limit})`
    this.byIp.set(ip, current + 1)
    this.total++
    return undefined
  }

  release(rawIp: string): void {
    const ip = plainIp(rawIp)
    const current = this.byIp.get(ip) ?? 0
    if (current <= 1) this.byIp.delete(ip)
    else this.byIp.set(ip, current - 1)
    this.total--
  }
}
