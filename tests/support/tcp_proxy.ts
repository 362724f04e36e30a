/**
 * A TCP proxy on loopback in front of a real service, for fault tests that must not stop the
 * machine's services. Its mode can change at any time and applies to open connections too:
 * - `pass`: bytes flow both ways;
 * - `refuse`: new connections are closed as soon as they are accepted, open ones are closed;
 * - `swallow`: connections are accepted and bytes are read but never forwarded nor answered, as
 *   when a network drops packets without telling anyone (the case only a deadline ends).
 */

export type ProxyMode = "pass" | "refuse" | "swallow";

export interface TcpProxy {
  readonly port: number;
  mode: ProxyMode;
  /** A URL like `target` with this proxy's host and port in its place. */
  urlFor(target: string): string;
  close(): Promise<void>;
}

/** Starts a proxy to `target` (host and port) on a free loopback port. */
export function startTcpProxy(target: { hostname: string; port: number }, initial: ProxyMode = "pass"): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  let mode: ProxyMode = initial;
  let closed = false;

  const closeQuietly = (conn: Deno.Conn) => {
    open.delete(conn);
    try {
      conn.close();
    } catch {
      // Already closed by the other side.
    }
  };

  async function pump(from: Deno.Conn, to: Deno.Conn | undefined): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const read = await from.read(buffer);
        if (read === null) break;
        if (mode === "refuse") break;
        // Swallowed bytes are gone for good, as on a network that drops them.
        if (mode === "swallow" || !to) continue;
        let written = 0;
        while (written < read) written += await to.write(buffer.subarray(written, read));
      }
    } catch {
      // A reset or a close from either side ends the pump.
    } finally {
      closeQuietly(from);
      if (to) closeQuietly(to);
    }
  }

  function track(promise: Promise<void>) {
    pumps.add(promise);
    promise.finally(() => pumps.delete(promise));
  }

  async function accept(): Promise<void> {
    for await (const client of listener) {
      if (mode === "refuse") {
        client.close();
        continue;
      }
      open.add(client);
      if (mode === "swallow") {
        track(pump(client, undefined));
        continue;
      }
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({ hostname: target.hostname, port: target.port });
      } catch {
        closeQuietly(client);
        continue;
      }
      open.add(upstream);
      track(pump(client, upstream));
      track(pump(upstream, client));
    }
  }

  const accepting = accept().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;

  return {
    port,
    get mode() {
      return mode;
    },
    set mode(next: ProxyMode) {
      mode = next;
      if (next === "refuse") { for (const conn of [...open]) closeQuietly(conn); }
    },
    urlFor(targetUrl: string): string {
      const url = new URL(targetUrl);
      url.hostname = "127.0.0.1";
      url.port = String(port);
      return url.toString();
    },
    async close() {
      if (closed) return;
      closed = true;
      listener.close();
      for (const conn of [...open]) closeQuietly(conn);
      await accepting;
      await Promise.allSettled([...pumps]);
    },
  };
}
