/**
 * The caller's address, as rate limits and audit events see it. Behind trusted proxies it is the
 * entry the last trusted hop appended to the configured header (counted from the right: whatever
 * the client put on the left is its own claim); without a usable entry, the connection's peer.
 * Never null: a request whose address cannot be told shares the "unknown" bucket, so it is still
 * limited.
 */
import type { Context } from "hono";
import type { AppEnv } from "./app.ts";

/** An IPv4 or IPv6 address as proxies write them (no port, no brackets). */
const ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/;

/** Picks the client's address from a proxy header value appended to by `hops` trusted proxies. */
export function addressFromHeader(value: string | undefined, hops: number): string | null {
  if (!value) return null;
  const entries = value.split(",").map((entry) => entry.trim());
  const entry = entries.length >= hops ? entries[entries.length - hops] : undefined;
  return entry && ADDRESS.test(entry) ? entry.toLowerCase() : null;
}

/** The connection's peer address, when the request came over a socket. */
export function peerAddress(c: Context<AppEnv>): string | null {
  const info = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return info?.remoteAddr?.hostname ?? null;
}

/** The caller's address (see the module comment). */
export function clientIp(c: Context<AppEnv>): string {
  const { TRUSTED_PROXY_IP_HEADER: header, TRUSTED_PROXY_HOPS: hops } = c.var.services.config;
  const fromProxy = header ? addressFromHeader(c.req.header(header), hops) : null;
  return fromProxy ?? peerAddress(c) ?? "unknown";
}

/** True when the connection comes from this machine (development conveniences answer only then). */
export function isLoopbackPeer(c: Context<AppEnv>): boolean {
  const peer = peerAddress(c);
  return peer !== null && (peer === "::1" || peer.startsWith("127.") || peer === "::ffff:127.0.0.1");
}
