/**
 * What the group coordinator records about the client behind a request, as Kafka reports
 * it in DescribeGroups: the client id of the header and the client's address.
 */
import type { RequestContext } from "./handler.ts"

/** Kafka prints the client address as Java's InetAddress does: "/127.0.0.1". */
export const clientHostOf = (ctx: RequestContext): string => {
  const address = ctx.clientAddress
  const colon = address.lastIndexOf(":")
  let host = colon > 0 ? address.slice(0, colon) : address
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1)
  // Dual-stack sockets report IPv4 peers as "::ffff:a.b.c.d".
  if (host.startsWith("::ffff:") && host.includes(".")) host = host.slice(7)
  return `/${host}`
}

export const clientIdOf = (ctx: RequestContext): string => ctx.header.clientId ?? ""
