/**
 * `deno task bench`: requests/s and p50/p99 latency of GET /health over real HTTP on 127.0.0.1, the
 * full app (every middleware, the embedded database and store) next to a bare Hono app in the same
 * run; then login (argon2id at production parameters), refresh (each connection rotating its own
 * session) and an authenticated GET /api/v1/users/me. Bounded: BENCH_SECONDS (default 10) per
 * target, BENCH_CONNECTIONS (default 32) connections (4 for login, which is CPU-bound by design).
 * The API rate limit is raised for the run so that it measures the work, not the 429s.
 */
import autocannon from "autocannon";
import { newOpaqueToken } from "../../adapters/tokens.ts";

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

async function load(url: string, options: Record<string, unknown> = {}, warmUp = true): Promise<Figures> {
  // A short warm-up so JIT and connection set-up do not count.
  if (warmUp) await autocannon({ url, connections: CONNECTIONS, duration: 2, ...options });
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, ...options });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

/**
 * Refresh tokens are single-use, so each worker chains its own session: request, read the new
 * token, request again. (A load tool that prepares the next request early would replay a token and
 * trip reuse detection.)
 */
async function refreshLoop(url: string, sessions: string[]): Promise<Figures> {
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  const deadline = performance.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    let token = sessions.pop()!;
    while (performance.now() < deadline) {
      const started = performance.now();
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ refresh_token: token }),
        });
        const body = await res.json();
        latencies.push(performance.now() - started);
        if (!res.ok) {
          non2xx++;
          token = sessions.pop() ?? token;
          continue;
        }
        token = body.refresh_token;
      } catch {
        errors++;
      }
    }
  }));
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  return { requestsPerSecond: latencies.length / SECONDS, p50: at(0.5), p99: at(0.99), errors, non2xx };
}

const dataDir = await Deno.makeTempDir();
const full = start("main.ts", {
  PORT: String(FULL_PORT),
  HOST: "127.0.0.1",
  DATA_DIR: dataDir,
  LOG_LEVEL: "info",
  RATE_LIMIT_API_PER_MINUTE: "100000000",
  RATE_LIMIT_PUBLIC_PER_MINUTE: "100000000",
  JWT_SECRET: newOpaqueToken(),
});

async function post(path: string, body: unknown): Promise<Record<string, string>> {
  const res = await fetch(`http://127.0.0.1:${FULL_PORT}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`Cannot set up the benchmark: ${path} answered ${res.status}`);
  return await res.json();
}
const bare = start("tests/bench/bare_server.ts", { PORT: String(BARE_PORT) });
try {
  await waitFor(`http://127.0.0.1:${FULL_PORT}/health/ready`);
  await waitFor(`http://127.0.0.1:${BARE_PORT}/health`);
  const rows: Record<string, Figures> = {};
  for (const path of ["/health", "/health/live"]) {
    rows[`bare Hono ${path}`] = await load(`http://127.0.0.1:${BARE_PORT}${path}`);
    rows[`full app ${path}`] = await load(`http://127.0.0.1:${FULL_PORT}${path}`);
  }

  const account = { email: "bench@example.com", password: "Secret123", full_name: "Bench" };
  const { access_token } = await post("/api/v1/auth/register", account);
  const base = `http://127.0.0.1:${FULL_PORT}`;
  rows["login (4 conn.)"] = await load(`${base}/api/v1/auth/login`, {
    connections: 4,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: account.email, password: account.password }),
  });
  // Refresh tokens are single-use: each connection rotates its own session.
  const sessions: string[] = [];
  for (let i = 0; i < CONNECTIONS * 2; i++) {
    sessions.push(
      (await post("/api/v1/auth/login", { email: account.email, password: account.password })).refresh_token,
    );
  }
  rows["refresh"] = await refreshLoop(`${base}/api/v1/auth/refresh`, sessions);
  rows["GET /users/me (auth)"] = await load(`${base}/api/v1/users/me`, {
    headers: { authorization: `Bearer ${access_token}` },
  });

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
