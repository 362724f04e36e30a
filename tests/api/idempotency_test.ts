/**
 * Idempotency-Key leases and fencing: a claim left unanswered by a crashed request blocks a retry
 * only until its lease lapses; a first request that was merely slow, and whose claim a retry took
 * over, commits nothing and answers 409; on the embedded database and on the machine's PostgreSQL.
 */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { MockPaymentProvider } from "../../adapters/payments_mock.ts";
import type { DepositRequest, PaymentProvider, ProviderPayment } from "../../adapters/payments.ts";
import { hashToken } from "../../adapters/tokens.ts";
import { isClaimLost } from "../../db/errors.ts";
import { claimKey, releaseKey, storeAnswer } from "../../db/idempotency.ts";
import { bookings, idempotencyKeys, outbox } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp, type TestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { createScratchDatabase, postgresAvailable } from "../support/postgres.ts";
import { makeUser, type SignedInUser } from "../support/users.ts";

const NOW = new Date("2026-06-01T12:00:00Z"); // Monday, 09:00 in São Paulo
const LEASE_SECONDS = 30;
const at = (local: string) => new Date(`${local}-03:00`).toISOString();
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

/** The mock provider, except that chosen deposit calls wait until the test lets them answer. */
class GatedPayments implements PaymentProvider {
  readonly kind = "mock" as const;
  readonly #inner = new MockPaymentProvider({ emit: async () => {} });
  readonly #gates: { entered: PromiseWithResolvers<void>; release: PromiseWithResolvers<void> }[] = [];

  /** The next deposit call waits: `entered` settles when it arrives, `release()` lets it answer. */
  holdNext() {
    const gate = { entered: Promise.withResolvers<void>(), release: Promise.withResolvers<void>() };
    this.#gates.push(gate);
    return { entered: gate.entered.promise, release: () => gate.release.resolve() };
  }

  async createDeposit(request: DepositRequest): Promise<ProviderPayment> {
    const gate = this.#gates.shift();
    if (gate) {
      gate.entered.resolve();
      await gate.release.promise;
    }
    return await this.#inner.createDeposit(request);
  }
  refund(...args: Parameters<PaymentProvider["refund"]>) {
    return this.#inner.refund(...args);
  }
  retrieve(paymentId: string) {
    return this.#inner.retrieve(paymentId);
  }
  listPaymentsSince(sinceSeconds: number) {
    return this.#inner.listPaymentsSince(sinceSeconds);
  }
  listRefundsSince(sinceSeconds: number) {
    return this.#inner.listRefundsSince(sinceSeconds);
  }
}

interface World {
  testApp: TestApp;
  clock: { now: Date };
  payments: GatedPayments;
  pro: { id: string };
  service: { id: string };
  paid: { id: string };
}

async function world(url?: string): Promise<World> {
  const clock = { now: NOW };
  const payments = new GatedPayments();
  const testApp = await makeTestApp(
    { LOG_LEVEL: "silent", IDEMPOTENCY_LEASE_SECONDS: String(LEASE_SECONDS) },
    { url, now: () => clock.now, payments },
  );
  const send = apiClient(testApp);
  const owner = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0 });
  const pro = await makeProfessional(send, owner, salon.id, { display_name: "Ana" });
  const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "09:00", end: "18:00" }));
  assert.equal((await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules })).status, 200);
  const service = await makeService(send, owner, salon.id, { name: "Cut", professional_ids: [pro.id] });
  const paid = await makeService(send, owner, salon.id, {
    name: "Colour",
    price_amount: 20000,
    deposit: { kind: "PERCENTAGE", value: 2500 },
    professional_ids: [pro.id],
  });
  return { testApp, clock, payments, pro, service, paid };
}

async function book(w: World, client: SignedInUser, key: string, body: unknown) {
  const res = await w.testApp.app.request("/api/v1/bookings", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${client.accessToken}`,
      "idempotency-key": key,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const requestHash = (body: unknown) => hashToken(`POST /api/v1/bookings\n${JSON.stringify(body)}`);

async function bookingsOf(w: World, client: SignedInUser) {
  return await w.testApp.deps.database.db.select().from(bookings).where(eq(bookings.clientId, client.id));
}

async function steps(t: Deno.TestContext, w: World) {
  const db = w.testApp.deps.database.db;

  await t.step("a crashed request's claim whose lease lapsed: the retry books (201, not replayed), once", async () => {
    const client = await makeUser(w.testApp, "CLIENT");
    const body = { service_id: w.service.id, professional_id: w.pro.id, starts_at: at("2026-06-03T10:00:00") };
    // The row a request killed mid-work leaves: claimed, never answered, its lease over.
    await db.insert(idempotencyKeys).values({
      userId: client.id,
      key: "crashed",
      requestHash: await requestHash(body),
      claimId: crypto.randomUUID(),
      leaseExpiresAt: later(-1),
      createdAt: later(-LEASE_SECONDS - 1),
      expiresAt: later(24 * 3600),
    });
    const started = performance.now();
    const retry = await book(w, client, "crashed", body);
    assert.equal(retry.status, 201, JSON.stringify(retry.body));
    assert.equal(retry.headers.get("idempotent-replayed"), null);
    // Taken over at once: no wait for an answer that will never come.
    assert.ok(performance.now() - started < 2000);
    const again = await book(w, client, "crashed", body);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(again.body.id, retry.body.id);
    assert.equal((await bookingsOf(w, client)).length, 1);
  });

  await t.step("a claim made before leases existed gets one lease from when it was made", async () => {
    const client = await makeUser(w.testApp, "CLIENT");
    const body = { service_id: w.service.id, professional_id: w.pro.id, starts_at: at("2026-06-03T12:00:00") };
    await db.insert(idempotencyKeys).values({
      userId: client.id,
      key: "legacy",
      requestHash: await requestHash(body),
      createdAt: later(-LEASE_SECONDS - 1),
      expiresAt: later(24 * 3600),
    });
    const retry = await book(w, client, "legacy", body);
    assert.equal(retry.status, 201, JSON.stringify(retry.body));
    assert.equal((await bookingsOf(w, client)).length, 1);
  });

  await t.step(
    "a claim still within its lease: 409 with Retry-After after the short wait, then books once it lapses",
    async () => {
      const client = await makeUser(w.testApp, "CLIENT");
      const body = { service_id: w.service.id, professional_id: w.pro.id, starts_at: at("2026-06-03T14:00:00") };
      await db.insert(idempotencyKeys).values({
        userId: client.id,
        key: "running",
        requestHash: await requestHash(body),
        claimId: crypto.randomUUID(),
        leaseExpiresAt: later(LEASE_SECONDS),
        createdAt: NOW,
        expiresAt: later(24 * 3600),
      });
      const busy = await book(w, client, "running", body);
      assert.equal(busy.status, 409);
      assert.equal(busy.headers.get("retry-after"), "1");
      assert.match(busy.body.detail, /still being processed/);
      assert.equal((await bookingsOf(w, client)).length, 0);
      w.clock.now = later(LEASE_SECONDS);
      try {
        const retry = await book(w, client, "running", body);
        assert.equal(retry.status, 201, JSON.stringify(retry.body));
      } finally {
        w.clock.now = NOW;
      }
      assert.equal((await bookingsOf(w, client)).length, 1);
    },
  );

  await t.step("a lapsed claim is not taken over by another body: 422, nothing booked", async () => {
    const client = await makeUser(w.testApp, "CLIENT");
    const body = { service_id: w.service.id, professional_id: w.pro.id, starts_at: at("2026-06-03T16:00:00") };
    await db.insert(idempotencyKeys).values({
      userId: client.id,
      key: "other-body",
      requestHash: await requestHash(body),
      claimId: crypto.randomUUID(),
      leaseExpiresAt: later(-1),
      createdAt: later(-LEASE_SECONDS - 1),
      expiresAt: later(24 * 3600),
    });
    const other = await book(w, client, "other-body", { ...body, starts_at: at("2026-06-03T17:00:00") });
    assert.equal(other.status, 422);
    assert.equal((await bookingsOf(w, client)).length, 0);
  });

  await t.step(
    "a slow first request taken over commits nothing: its batch fails, it answers 409, the retry books",
    async () => {
      const client = await makeUser(w.testApp, "CLIENT");
      const body = { service_id: w.paid.id, professional_id: w.pro.id, starts_at: at("2026-06-04T10:00:00") };
      const firstGate = w.payments.holdNext();
      const first = book(w, client, "slow", body);
      await firstGate.entered;
      // The first request is stuck at the provider past its lease; the client retries.
      w.clock.now = later(LEASE_SECONDS + 1);
      const retryGate = w.payments.holdNext();
      const retry = book(w, client, "slow", body);
      await retryGate.entered;
      // The first request's work reaches the database after its claim was taken over.
      firstGate.release();
      const fenced = await first;
      assert.equal(fenced.status, 409, JSON.stringify(fenced.body));
      assert.equal(fenced.body.code, "conflict");
      assert.match(fenced.body.detail, /took this request over/);
      assert.equal((await bookingsOf(w, client)).length, 0);
      retryGate.release();
      const booked = await retry;
      assert.equal(booked.status, 201, JSON.stringify(booked.body));
      assert.equal(booked.headers.get("idempotent-replayed"), null);
      const rows = await bookingsOf(w, client);
      assert.deepEqual(rows.map((r) => r.id), [booked.body.id]);
      // Repeating the fenced request gets the retry's answer.
      const replay = await book(w, client, "slow", body);
      assert.equal(replay.status, 201);
      assert.equal(replay.headers.get("idempotent-replayed"), "true");
      assert.equal(replay.body.id, booked.body.id);
      w.clock.now = NOW;
    },
  );

  await t.step(
    "a slow first request that finds the retry's booking in its way answers 409 taken over, not slot_taken",
    async () => {
      const client = await makeUser(w.testApp, "CLIENT");
      const body = { service_id: w.paid.id, professional_id: w.pro.id, starts_at: at("2026-06-04T14:00:00") };
      const firstGate = w.payments.holdNext();
      const first = book(w, client, "slow-refused", body);
      await firstGate.entered;
      w.clock.now = later(LEASE_SECONDS + 1);
      const booked = await book(w, client, "slow-refused", body);
      assert.equal(booked.status, 201, JSON.stringify(booked.body));
      firstGate.release();
      const fenced = await first;
      assert.equal(fenced.status, 409, JSON.stringify(fenced.body));
      assert.equal(fenced.body.code, "conflict");
      assert.match(fenced.body.detail, /took this request over/);
      assert.deepEqual((await bookingsOf(w, client)).map((r) => r.id), [booked.body.id]);
      const replay = await book(w, client, "slow-refused", body);
      assert.equal(replay.status, 201);
      assert.equal(replay.body.id, booked.body.id);
      w.clock.now = NOW;
    },
  );

  await t.step("any batch carrying a lost claim's answer fails whole; release touches only its own claim", async () => {
    const user = await makeUser(w.testApp, "CLIENT");
    const claimAt = (now: Date) =>
      claimKey(db, {
        userId: user.id,
        key: "fence",
        requestHash: "hash",
        now,
        leaseExpiresAt: new Date(now.getTime() + LEASE_SECONDS * 1000),
        expiresAt: new Date(now.getTime() + 24 * 3_600_000),
      });
    const old = await claimAt(NOW);
    assert.equal(old.state, "claimed");
    assert.equal((await claimAt(later(LEASE_SECONDS - 1))).state, "in_flight");
    const taken = await claimAt(later(LEASE_SECONDS));
    assert.equal(taken.state, "claimed");
    if (old.state !== "claimed" || taken.state !== "claimed") return;
    assert.notEqual(taken.claimId, old.claimId);
    const oldRef = { userId: user.id, key: "fence", claimId: old.claimId };
    const dedupe = `fence-test:${crypto.randomUUID()}`;
    await assert.rejects(
      db.batch([
        db.insert(outbox).values({ topic: "test.fence", payload: {}, deduplicationId: dedupe }),
        storeAnswer(db, oldRef, { status: 201, body: { from: "old" }, location: null }),
      ]),
      (error) => isClaimLost(error),
    );
    assert.equal((await db.select().from(outbox).where(eq(outbox.deduplicationId, dedupe))).length, 0);
    await releaseKey(db, oldRef);
    const [row] = await db.select().from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.userId, user.id), eq(idempotencyKeys.key, "fence")));
    assert.equal(row.claimId, taken.claimId);
    await storeAnswer(db, { ...oldRef, claimId: taken.claimId }, {
      status: 201,
      body: { from: "new" },
      location: null,
    });
    const replay = await claimAt(later(LEASE_SECONDS * 3));
    assert.equal(replay.state, "replay");
    if (replay.state === "replay") assert.deepEqual(replay.answer.body, { from: "new" });
  });
}

Deno.test("idempotency leases and fencing on the embedded database", async (t) => {
  const w = await world();
  try {
    await steps(t, w);
  } finally {
    await w.testApp.close();
  }
});

Deno.test({
  name: "idempotency leases and fencing on PostgreSQL",
  ignore: !postgresAvailable,
  async fn(t) {
    const scratch = await createScratchDatabase();
    const w = await world(scratch.url);
    try {
      await steps(t, w);
    } finally {
      await w.testApp.close();
      await scratch.drop();
    }
  },
});
