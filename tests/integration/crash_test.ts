/**
 * A crash mid-request, for real: the server runs as its own process on an embedded database on
 * disk, with the Stripe SDK pointed (STRIPE_API_BASE) at a local fake whose PaymentIntent creation
 * never answers; a deposit booking with an Idempotency-Key hangs there, the server is killed with
 * SIGKILL, restarted on the same data, and the retry with the same key and body books (201) as soon
 * as the claim's lease (IDEMPOTENCY_LEASE_SECONDS, short here) has lapsed: exactly one booking.
 */
import assert from "node:assert/strict";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import type { Send } from "../support/api.ts";
import { startStripeFake } from "../support/stripe_fake.ts";
import type { SignedInUser } from "../support/users.ts";

// Longer than a restart takes, so the retry meets the dead request's claim and must outwait it.
const LEASE_SECONDS = 4;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

interface Server {
  child: Deno.ChildProcess;
  output: () => string;
}

/** Starts main.ts and waits until it answers its liveness probe; its output is kept for failures. */
async function startServer(env: Record<string, string>, base: string): Promise<Server> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  for (const stream of [child.stdout, child.stderr]) {
    stream.pipeTo(new WritableStream({ write: (chunk) => void (text += decoder.decode(chunk)) })).catch(() => {});
  }
  const server = { child, output: () => text };
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(`${base}/health/live`);
      await res.body?.cancel();
      if (res.ok) return server;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`The server never answered:\n${text}`);
}

async function stop(server: Server, signal: Deno.Signal): Promise<void> {
  try {
    server.child.kill(signal);
  } catch {
    // Already gone.
  }
  await server.child.status;
}

Deno.test("a server killed mid-request: after a restart the retry with the same key books once the lease lapses", async () => {
  const fake = await startStripeFake();
  // In front of the fake: while `hang` holds, PaymentIntent creation is received and never answered.
  let hang = true;
  const arrived = Promise.withResolvers<void>();
  // The held call's connection died with the server, but the handler is only let go here.
  const released = Promise.withResolvers<void>();
  const gate = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const url = new URL(request.url);
    if (hang && request.method === "POST" && url.pathname === "/v1/payment_intents") {
      arrived.resolve();
      await released.promise;
      return new Response(null, { status: 503 });
    }
    const res = await fetch(`${fake.url}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.method === "GET" ? undefined : await request.arrayBuffer(),
    });
    return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
  });
  const dir = await Deno.makeTempDir({ prefix: "crash_test_" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    DEV_MODE: "1",
    HOST: "127.0.0.1",
    PORT: String(port),
    DATA_DIR: `${dir}/pglite`,
    KV_PATH: `${dir}/kv.sqlite3`,
    LOG_LEVEL: "warn",
    DATABASE_URL: "",
    UPSTASH_REDIS_REST_URL: "",
    UPSTASH_REDIS_REST_TOKEN: "",
    QSTASH_TOKEN: "",
    // The same secret in both lives of the server, so the client's token outlives the crash.
    JWT_SECRET: "crash-test-secret-0123456789abcdef0123",
    STRIPE_SECRET_KEY: fake.secretKey,
    STRIPE_WEBHOOK_SECRET: "whsec_crash_test_0123456789",
    STRIPE_API_BASE: `http://127.0.0.1:${(gate.addr as Deno.NetAddr).port}`,
    IDEMPOTENCY_LEASE_SECONDS: String(LEASE_SECONDS),
    // A provider call must fit in the short lease (2.5 s); the held call is killed before its deadline.
    PAYMENT_TIMEOUT_MS: "1000",
    PAYMENT_MAX_NETWORK_RETRIES: "1",
    RATE_LIMIT_API_PER_MINUTE: "100000",
  };
  const send: Send = async (method, path, user, body) => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(user ? { authorization: `Bearer ${user.accessToken}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
  const register = async (role: "CLIENT" | "SALON_OWNER"): Promise<SignedInUser> => {
    const email = `${role.toLowerCase()}-${crypto.randomUUID()}@example.com`;
    const res = await send("POST", "/auth/register", null, {
      email,
      password: "Secret123",
      full_name: "Crash Test",
      role,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const me = await send("GET", "/users/me", { accessToken: res.body.access_token } as SignedInUser);
    return {
      id: me.body.id,
      email,
      password: "Secret123",
      role,
      accessToken: res.body.access_token,
      refreshToken: res.body.refresh_token,
    };
  };
  const book = (client: SignedInUser, body: unknown) =>
    fetch(`${base}/api/v1/bookings`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${client.accessToken}`,
        "idempotency-key": "crash-retry",
      },
      body: JSON.stringify(body),
    });

  let server = await startServer(env, base);
  try {
    const owner = await register("SALON_OWNER");
    const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0, time_zone: "UTC", currency: "BRL" });
    const pro = await makeProfessional(send, owner, salon.id);
    const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "00:00", end: "24:00" }));
    assert.equal((await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules })).status, 200);
    const service = await makeService(send, owner, salon.id, {
      price_amount: 8000,
      deposit: { kind: "FIXED", value: 3000 },
      professional_ids: [pro.id],
    });
    const client = await register("CLIENT");
    const startsAt = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 72 * 3_600_000).toISOString();
    const body = { service_id: service.id, professional_id: pro.id, starts_at: startsAt };

    // The first attempt reaches the provider and hangs there; the process dies under it.
    const first = book(client, body).then(
      async (res) => ({ status: res.status, text: await res.text() }),
      (error: unknown) => ({ status: 0, text: String(error) }),
    );
    await arrived.promise;
    const claimedBefore = performance.now();
    await stop(server, "SIGKILL");
    const lost = await first;
    assert.equal(lost.status, 0, `the killed request must get no answer, got ${lost.status} ${lost.text}`);

    hang = false;
    const killedAt = performance.now();
    server = await startServer(env, base);
    // Within the lease the key is still the dead request's (409, retry shortly); after it, the retry's.
    let retry: Response | undefined;
    let bookedAfter = 0;
    const waits: number[] = [];
    while (performance.now() - killedAt < (LEASE_SECONDS + 8) * 1000) {
      const res = await book(client, body);
      if (res.status !== 409) {
        retry = res;
        bookedAfter = performance.now() - claimedBefore;
        break;
      }
      const problem = await res.json();
      assert.match(problem.detail, /still being processed/);
      waits.push(Math.round(performance.now() - killedAt));
    }
    assert.ok(retry, `the retry never got past 409 (${waits.join(", ")} ms after the kill)\n${server.output()}`);
    const booked = await retry.json();
    assert.equal(retry.status, 201, `${JSON.stringify(booked)}\n${server.output()}`);
    assert.equal(retry.headers.get("idempotent-replayed"), null);
    // Not before the lease lapsed (the claim was made just before the provider call), not much after.
    assert.ok(bookedAfter >= LEASE_SECONDS * 1000 - 500, `booked ${Math.round(bookedAfter)} ms after the claim`);
    assert.ok(bookedAfter < (LEASE_SECONDS + 4) * 1000, `booked ${Math.round(bookedAfter)} ms after the claim`);
    assert.equal(booked.status, "PENDING");
    assert.equal(booked.payment.provider, "stripe");

    const mine = await send("GET", "/bookings", client);
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body.data.map((b: { id: string }) => b.id), [booked.id]);
    const replay = await book(client, body);
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal((await replay.json()).id, booked.id);
    // The deposit the retry made is the one at the provider under the booking's key.
    assert.ok(
      fake.requests.some((r) =>
        r.path === "/v1/payment_intents" && r.idempotencyKey === `booking:${booked.id}:deposit`
      ),
    );
  } finally {
    await stop(server, "SIGTERM");
    released.resolve();
    await gate.shutdown();
    await fake.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
