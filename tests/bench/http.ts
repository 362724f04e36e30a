/**
 * `deno task bench`: requests/s and p50/p99 latency of GET /health over real HTTP on 127.0.0.1, the
 * full app (every middleware, the embedded database and store) next to a bare Hono app in the same
 * run. Bounded: BENCH_SECONDS (default 10) per target, BENCH_CONNECTIONS (default 32) connections.
 */
import autocannon from "autocannon";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 10);
const CONNECTIONS = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 32);
const FULL_PORT = 18080;
const BARE_PORT = 18081;

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Cannot benchmark: ${url} never answered`);
}

function start(script: string, env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script],
    env,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

interface Figures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function load(url: string): Promise<Figures> {
  // A short warm-up so JIT and connection set-up do not count.
  await autocannon({ url, connections: CONNECTIONS, duration: 2 });
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

const dataDir = await Deno.makeTempDir();
const full = start("main.ts", { PORT: String(FULL_PORT), HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "info" });
const bare = start("tests/bench/bare_server.ts", { PORT: String(BARE_PORT) });
try {
  await waitFor(`http://127.0.0.1:${FULL_PORT}/health/ready`);
  await waitFor(`http://127.0.0.1:${BARE_PORT}/health`);
  const rows: Record<string, Figures> = {};
  for (const path of ["/health", "/health/live"]) {
    rows[`bare Hono ${path}`] = await load(`http://127.0.0.1:${BARE_PORT}${path}`);
    rows[`full app ${path}`] = await load(`http://127.0.0.1:${FULL_PORT}${path}`);
  }
  console.log(`GET over HTTP on 127.0.0.1, ${CONNECTIONS} connections, ${SECONDS} s each`);
  console.log("target                 req/s   p50 ms  p99 ms  errors  non-2xx");
  for (const [name, f] of Object.entries(rows)) {
    console.log(
      `${name.padEnd(22)} ${f.requestsPerSecond.toFixed(0).padStart(6)} ${String(f.p50).padStart(8)} ${
        String(f.p99).padStart(7)
      } ${String(f.errors).padStart(7)} ${String(f.non2xx).padStart(8)}`,
    );
  }
  for (const path of ["/health", "/health/live"]) {
    const ratio = rows[`full app ${path}`].requestsPerSecond / rows[`bare Hono ${path}`].requestsPerSecond;
    console.log(`full/bare throughput ${path}: ${(ratio * 100).toFixed(1)}%`);
  }
} finally {
  full.kill("SIGTERM");
  bare.kill("SIGTERM");
  await Promise.allSettled([full.status, bare.status]);
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}
