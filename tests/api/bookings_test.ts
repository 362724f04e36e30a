/**
 * Bookings through the app: creation on offered slots only, no double booking under concurrency
 * (embedded PGlite and the machine's PostgreSQL), idempotency keys, the lifecycle and its refusals,
 * reschedules under the cancellation policy, and the per-client booking limits (also under races).
 */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { TEST_CARDS } from "../../adapters/payments_mock.ts";
import { hashToken } from "../../adapters/tokens.ts";
import { auditEvents, bookings, idempotencyKeys, outbox, payments, refunds, users } from "../../db/schema.ts";
import { apiClient, type Send } from "../support/api.ts";
import { makeTestApp, type TestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { createScratchDatabase, postgresAvailable } from "../support/postgres.ts";
import { makeUser, type SignedInUser } from "../support/users.ts";

const NOW = new Date("2026-06-01T12:00:00Z"); // Monday, 09:00 in São Paulo
const at = (local: string) => new Date(`${local}-03:00`).toISOString();

interface World {
  testApp: TestApp;
  send: Send;
  owner: SignedInUser;
  salon: { id: string };
  pro: { id: string };
  pro2: { id: string };
  service: { id: string };
  paid: { id: string };
  clock: { now: Date };
}

async function world(url?: string): Promise<World> {
  const clock = { now: NOW };
  const testApp = await makeTestApp({ LOG_LEVEL: "silent", RATE_LIMIT_API_PER_MINUTE: "100000" }, {
    url,
    now: () => clock.now,
  });
  const send = apiClient(testApp);
  const owner = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0 });
  const pro = await makeProfessional(send, owner, salon.id, { display_name: "Ana" });
  const pro2 = await makeProfessional(send, owner, salon.id, { display_name: "Bia" });
  const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "09:00", end: "18:00" }));
  for (const p of [pro, pro2]) {
    const res = await send("PUT", `/professionals/${p.id}/availability/rules`, owner, { rules });
    assert.equal(res.status, 200);
  }
  const service = await makeService(send, owner, salon.id, {
    name: "Cut",
    duration_minutes: 60,
    price_amount: 10000,
    buffer_after_minutes: 15,
    professional_ids: [pro.id, pro2.id],
  });
  const paid = await makeService(send, owner, salon.id, {
    name: "Colour",
    duration_minutes: 60,
    price_amount: 20000,
    deposit: { kind: "PERCENTAGE", value: 2500 },
    professional_ids: [pro.id],
  });
  return { testApp, send, owner, salon, pro, pro2, service, paid, clock };
}

async function clients(testApp: TestApp, count: number): Promise<SignedInUser[]> {
  return await Promise.all(Array.from({ length: count }, () => makeUser(testApp, "CLIENT")));
}

/** A client whose email is verified: not held to the one open booking of unverified accounts. */
async function verifiedClient(testApp: TestApp): Promise<SignedInUser> {
  const client = await makeUser(testApp, "CLIENT");
  await testApp.deps.database.db.update(users).set({ verified: true }).where(eq(users.id, client.id));
  return client;
}

/** The user signed in again at the test clock: moving the clock by hours outlives access tokens. */
async function fresh(send: Send, user: SignedInUser): Promise<SignedInUser> {
  const login = await send("POST", "/auth/login", null, { email: user.email, password: user.password });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  return { ...user, accessToken: login.body.access_token };
}

async function concurrency(t: Deno.TestContext, w: World) {
  const db = w.testApp.deps.database.db;
  await t.step("50 clients race for one slot: exactly one booking, 49 answers 409 slot_taken", async () => {
    const racers = await clients(w.testApp, 50);
    const startsAt = at("2026-06-03T10:00:00");
    const answers = await Promise.all(
      racers.map((client) =>
        w.send("POST", "/bookings", client, {
          service_id: w.service.id,
          professional_id: w.pro.id,
          starts_at: startsAt,
        })
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.equal(
      statuses.filter((s) => s === 201).length,
      1,
      JSON.stringify(answers.find((a) => a.status >= 500)?.body),
    );
    assert.equal(
      statuses.filter((s) => s === 409).length,
      49,
      JSON.stringify(answers.find((a) => a.status !== 201 && a.status !== 409)?.body),
    );
    assert.ok(answers.filter((a) => a.status === 409).every((a) => a.body.code === "slot_taken"));
    const rows = await db.select().from(bookings).where(eq(bookings.professionalId, w.pro.id));
    assert.equal(rows.filter((r) => r.startsAt.toISOString() === startsAt).length, 1);
  });

  await t.step("20 identical requests with one key: one booking, twenty equal answers", async () => {
    const [client] = await clients(w.testApp, 1);
    const body = { service_id: w.service.id, professional_id: w.pro2.id, starts_at: at("2026-06-03T14:00:00") };
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () =>
        await w.testApp.app.request("/api/v1/bookings", {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${client.accessToken}`,
            "idempotency-key": "book-once",
          },
          body: JSON.stringify(body),
        })),
    );
    const parsed = await Promise.all(answers.map(async (res) => ({ status: res.status, body: await res.json() })));
    const rows = await db.select().from(bookings).where(eq(bookings.clientId, client.id));
    assert.equal(rows.length, 1);
    // Duplicates that arrive while the first runs wait for its answer: all twenty agree.
    assert.ok(
      parsed.every((a) => a.status === 201 && a.body.id === rows[0].id),
      JSON.stringify(parsed.map((a) => a.status)),
    );
    // Once the first has finished, a retry with the key replays it.
    const again = await w.testApp.app.request("/api/v1/bookings", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${client.accessToken}`,
        "idempotency-key": "book-once",
      },
      body: JSON.stringify(body),
    });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal((await again.json()).id, rows[0].id);
  });

  await t.step("one client, 20 concurrent holds of different slots, salon cap 2: exactly 2 are made", async () => {
    const client = await verifiedClient(w.testApp);
    const slots = ["2026-06-15", "2026-06-16", "2026-06-17"].flatMap((day) =>
      ["09", "10", "11", "12", "13", "14", "15", "16"].map((hour) => at(`${day}T${hour}:00:00`))
    ).slice(0, 20);
    const answers = await Promise.all(
      slots.map((startsAt) =>
        w.send("POST", "/bookings", client, { service_id: w.paid.id, professional_id: w.pro.id, starts_at: startsAt })
      ),
    );
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 201).length, 2, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 429).length, 18, JSON.stringify(statuses));
    assert.ok(
      answers.filter((a) => a.status === 429).every((a) =>
        a.body.code === "rate_limited" && a.body.errors[0].path === "salon.max_open_holds_per_client"
      ),
    );
    const rows = await db.select().from(bookings).where(eq(bookings.clientId, client.id));
    assert.equal(rows.length, 2);
    // Refused requests leave no payment behind either: only the two bookings have one.
    const paymentRows = await db.select().from(payments);
    assert.equal(paymentRows.filter((p) => rows.some((r) => r.id === p.bookingId)).length, 2);
    assert.equal(
      paymentRows.filter((p) => !rows.some((r) => r.id === p.bookingId) && p.createdAt >= NOW).length,
      0,
    );
  });
}

Deno.test("bookings on the embedded database", async (t) => {
  const w = await world();
  const { send, owner, salon, pro, pro2, service, paid } = w;
  const db = w.testApp.deps.database.db;
  try {
    await concurrency(t, w);

    await t.step(
      "a booking without deposit is CONFIRMED, priced from the service, audited, in the outbox",
      async () => {
        const [client] = await clients(w.testApp, 1);
        const res = await send("POST", "/bookings", client, {
          service_id: service.id,
          professional_id: pro.id,
          starts_at: at("2026-06-04T09:00:00"),
          notes: "First visit",
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.equal(res.headers.get("location"), `/api/v1/bookings/${res.body.id}`);
        assert.equal(res.body.status, "CONFIRMED");
        assert.deepEqual(res.body.price, { amount: 10000, currency: "BRL" });
        assert.equal(res.body.ends_at, "2026-06-04T13:00:00.000Z");
        const [row] = await db.select().from(bookings).where(eq(bookings.id, res.body.id));
        assert.equal(row.blockEndsAt.toISOString(), "2026-06-04T13:15:00.000Z");
        assert.equal((await db.select().from(auditEvents).where(eq(auditEvents.entityId, res.body.id))).length, 1);
        const queued = await db.select().from(outbox).where(
          eq(outbox.deduplicationId, `booking.created:${res.body.id}`),
        );
        assert.equal(queued.length, 1);
      },
    );

    await t.step(
      "a deposit makes it PENDING with a hold; the lapsed hold frees the slot for the next client",
      async () => {
        const [first, second] = await clients(w.testApp, 2);
        const body = { service_id: paid.id, professional_id: pro.id, starts_at: at("2026-06-05T11:00:00") };
        const held = await send("POST", "/bookings", first, body);
        assert.equal(held.status, 201);
        assert.equal(held.body.status, "PENDING");
        assert.deepEqual(held.body.deposit, { amount: 5000, currency: "BRL" });
        assert.equal(held.body.hold_expires_at, new Date(NOW.getTime() + 15 * 60_000).toISOString());
        assert.equal((await send("POST", "/bookings", second, body)).status, 409);
        w.clock.now = new Date(NOW.getTime() + 16 * 60_000);
        const taken = await send("POST", "/bookings", second, body);
        assert.equal(taken.status, 201, JSON.stringify(taken.body));
        const [old] = await db.select().from(bookings).where(eq(bookings.id, held.body.id));
        assert.equal(old.status, "EXPIRED");
        w.clock.now = NOW;
      },
    );

    await t.step("only offered starts: off-grid, closed hours and the past are 422; unknown ids 400", async () => {
      const [client] = await clients(w.testApp, 1);
      for (const startsAt of [at("2026-06-04T10:07:00"), at("2026-06-04T20:00:00"), at("2026-05-20T10:00:00")]) {
        const res = await send("POST", "/bookings", client, {
          service_id: service.id,
          professional_id: pro.id,
          starts_at: startsAt,
        });
        assert.equal(res.status, 422, startsAt);
        assert.equal(res.body.errors[0].path, "starts_at");
      }
      const unknown = await send("POST", "/bookings", client, {
        service_id: crypto.randomUUID(),
        starts_at: at("2026-06-04T10:00:00"),
      });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.errors[0].path, "service_id");
      const extra = await send("POST", "/bookings", client, {
        service_id: service.id,
        starts_at: at("2026-06-04T10:00:00"),
        price_amount: 1,
      });
      assert.equal(extra.status, 400);
    });

    await t.step("any professional: the least booked one who is free is chosen", async () => {
      const [client] = await clients(w.testApp, 1);
      // Ana has bookings on the 4th; Bia has none.
      const res = await send("POST", "/bookings", client, {
        service_id: service.id,
        starts_at: at("2026-06-04T15:00:00"),
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.professional_id, pro2.id);
    });

    await t.step("an idempotency key reused with another body is 422", async () => {
      const [client] = await clients(w.testApp, 1);
      const post = (startsAt: string) =>
        w.testApp.app.request("/api/v1/bookings", {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${client.accessToken}`,
            "idempotency-key": "k1",
          },
          body: JSON.stringify({ service_id: service.id, professional_id: pro2.id, starts_at: startsAt }),
        });
      assert.equal((await post(at("2026-06-06T09:00:00"))).status, 201);
      assert.equal((await post(at("2026-06-06T11:00:00"))).status, 422);
      assert.equal((await db.select().from(bookings).where(eq(bookings.clientId, client.id))).length, 1);
    });

    await t.step("a key claimed and unanswered within its lease is busy: 409 after a short wait", async () => {
      const [client] = await clients(w.testApp, 1);
      const body = { service_id: service.id, professional_id: pro2.id, starts_at: at("2026-06-06T15:00:00") };
      // The state a running (or just crashed) first request leaves: the key claimed, no answer stored.
      // Past the lease a retry takes it over (tests/api/idempotency_test.ts).
      await db.insert(idempotencyKeys).values({
        userId: client.id,
        key: "stuck",
        requestHash: await hashToken(`POST /api/v1/bookings\n${JSON.stringify(body)}`),
        claimId: crypto.randomUUID(),
        leaseExpiresAt: new Date(NOW.getTime() + 30_000),
        createdAt: NOW,
        expiresAt: new Date(NOW.getTime() + 3_600_000),
      });
      const res = await w.testApp.app.request("/api/v1/bookings", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${client.accessToken}`,
          "idempotency-key": "stuck",
        },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 409);
      assert.equal(res.headers.get("retry-after"), "1");
      assert.equal((await db.select().from(bookings).where(eq(bookings.clientId, client.id))).length, 0);
    });

    await t.step(
      "the lifecycle: cancel with the policy fee, refusals name the status, no-show only after the start",
      async () => {
        const [client, stranger] = await clients(w.testApp, 2);
        const booked = await send("POST", "/bookings", client, {
          service_id: service.id,
          professional_id: pro.id,
          starts_at: at("2026-06-08T10:00:00"),
        });
        assert.equal(booked.status, 201);
        const id = booked.body.id;
        assert.equal((await send("GET", `/bookings/${id}`, stranger)).status, 404);
        assert.equal((await send("PATCH", `/bookings/${id}/cancel`, stranger, {})).status, 404);
        assert.equal((await send("PATCH", `/bookings/${id}/no-show`, owner)).status, 409);
        const cancelled = await send("PATCH", `/bookings/${id}/cancel`, client, { reason: "Travelling" });
        assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
        assert.equal(cancelled.body.status, "CANCELLED");
        assert.equal(cancelled.body.cancelled_by, "CLIENT");
        const again = await send("PATCH", `/bookings/${id}/cancel`, client, {});
        assert.equal(again.status, 409);
        assert.match(again.body.detail, /CANCELLED/);
        const events = await db.select().from(auditEvents).where(eq(auditEvents.entityId, id));
        assert.deepEqual(events.map((e) => `${e.action}:${e.fromState ?? ""}>${e.toState}`).sort(), [
          "booking.cancel:CONFIRMED>CANCELLED",
          "booking.create:>CONFIRMED",
        ]);
      },
    );

    await t.step("complete and no-show: the professional or the salon, once started; clients 403", async () => {
      const [client] = await clients(w.testApp, 1);
      const booked = await send("POST", "/bookings", client, {
        service_id: service.id,
        professional_id: pro.id,
        starts_at: at("2026-06-01T10:00:00"),
      });
      assert.equal(booked.status, 201, JSON.stringify(booked.body));
      assert.equal((await send("PATCH", `/bookings/${booked.body.id}/complete`, client)).status, 403);
      assert.equal((await send("PATCH", `/bookings/${booked.body.id}/complete`, owner)).status, 409);
      w.clock.now = new Date(Date.parse(at("2026-06-01T10:30:00")));
      // Access tokens last 30 minutes: sign in again at the later time.
      const login = await send("POST", "/auth/login", null, { email: owner.email, password: owner.password });
      const later = { ...owner, accessToken: login.body.access_token };
      const done = await send("PATCH", `/bookings/${booked.body.id}/complete`, later);
      assert.equal(done.status, 200);
      assert.equal(done.body.status, "COMPLETED");
      assert.equal((await send("PATCH", `/bookings/${booked.body.id}/no-show`, later)).status, 409);
      w.clock.now = NOW;
    });

    await t.step("reschedule moves the booking atomically, or leaves it as it was", async () => {
      const [client, other] = await clients(w.testApp, 2);
      const mine = await send("POST", "/bookings", client, {
        service_id: service.id,
        professional_id: pro2.id,
        starts_at: at("2026-06-09T09:00:00"),
      });
      const theirs = await send("POST", "/bookings", other, {
        service_id: service.id,
        professional_id: pro2.id,
        starts_at: at("2026-06-09T13:00:00"),
      });
      assert.equal(theirs.status, 201);
      const clash = await send("PATCH", `/bookings/${mine.body.id}/reschedule`, client, {
        starts_at: at("2026-06-09T12:30:00"),
      });
      assert.equal(clash.status, 409);
      const unchanged = await send("GET", `/bookings/${mine.body.id}`, client);
      assert.equal(unchanged.body.starts_at, mine.body.starts_at);
      // Overlapping its own old time is fine: only other bookings count.
      const moved = await send("PATCH", `/bookings/${mine.body.id}/reschedule`, client, {
        starts_at: at("2026-06-09T09:30:00"),
      });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.equal(moved.body.starts_at, new Date(at("2026-06-09T09:30:00")).toISOString());
      assert.equal(moved.body.ends_at, new Date(at("2026-06-09T10:30:00")).toISOString());
    });

    await t.step(
      "lists are scoped: clients see theirs, the owner their salon's, professionals their schedule",
      async () => {
        const [client] = await clients(w.testApp, 1);
        await send("POST", "/bookings", client, {
          service_id: service.id,
          professional_id: pro.id,
          starts_at: at("2026-06-10T09:00:00"),
        });
        const mine = await send("GET", "/bookings", client);
        assert.equal(mine.body.data.length, 1);
        const salonWide = await send("GET", `/bookings?salon_id=${salon.id}&limit=100`, owner);
        assert.ok(salonWide.body.data.length > 5);
        const rival = await makeUser(w.testApp, "SALON_OWNER");
        assert.equal((await send("GET", `/bookings?salon_id=${salon.id}`, rival)).body.data.length, 0);
        const pages: string[] = [];
        let cursor: string | null = null;
        do {
          const res = await send(
            "GET",
            `/bookings?salon_id=${salon.id}&limit=3${cursor ? `&cursor=${cursor}` : ""}`,
            owner,
          );
          pages.push(...res.body.data.map((b: { id: string }) => b.id));
          cursor = res.body.next_cursor;
        } while (cursor);
        assert.deepEqual(pages, salonWide.body.data.map((b: { id: string }) => b.id));
      },
    );
  } finally {
    await w.testApp.close();
  }
});

Deno.test("reschedules under the cancellation policy", async (t) => {
  const w = await world();
  const { send, owner, salon, pro, paid } = w;
  const db = w.testApp.deps.database.db;
  const HOUR = 3_600_000;
  const money = (amount: number) => ({ amount, currency: "BRL" });
  /** The whole price inside 24 h, free before: the policy of the reported attack. */
  const strict = (rule: "CHARGE" | "REFUSE", name = "Strict") => {
    w.clock.now = NOW;
    return send("POST", "/cancellation-policies", owner, {
      salon_id: salon.id,
      name,
      tiers: [
        { hours_before_min: 0, hours_before_max: 24, fee_percent: 100 },
        { hours_before_min: 24, hours_before_max: null, fee_percent: 0 },
      ],
      reschedule_in_fee_window: rule,
    });
  };
  /** A paid booking of the Colour service (price 200.00, deposit 50.00) by a new client, made at NOW. */
  const paidBooking = async (startsAt: string) => {
    w.clock.now = NOW;
    const client = await makeUser(w.testApp, "CLIENT");
    const booked = await send("POST", "/bookings", client, {
      service_id: paid.id,
      professional_id: pro.id,
      starts_at: startsAt,
    });
    assert.equal(booked.status, 201, JSON.stringify(booked.body));
    const pay = await send("POST", `/payments/${booked.body.payment.id}/mock-confirm`, client, {
      card_number: TEST_CARDS.succeeds,
    });
    assert.equal(pay.status, 202);
    const read = await send("GET", `/bookings/${booked.body.id}`, client);
    assert.equal(read.body.status, "CONFIRMED");
    return { client, booking: read.body };
  };
  /** Moves the clock and answers the user signed in at that time. */
  const attime = async (time: number, user: SignedInUser) => {
    w.clock.now = new Date(time);
    return await fresh(send, user);
  };

  try {
    const policy = await strict("CHARGE");
    assert.equal(policy.status, 201, JSON.stringify(policy.body));
    assert.equal(policy.body.reschedule_in_fee_window, "CHARGE");

    await t.step(
      "the reported attack: moved an hour before to a week later, cancelling still costs the tier",
      async () => {
        const { client, booking } = await paidBooking(at("2026-06-02T10:00:00"));
        assert.deepEqual(booking.carried_fee, money(0));
        assert.equal(booking.policy.reschedule_in_fee_window, "CHARGE");
        const start = Date.parse(booking.starts_at);
        const late = await attime(start - HOUR, client);
        const moved = await send("PATCH", `/bookings/${booking.id}/reschedule`, late, {
          starts_at: at("2026-06-09T10:00:00"),
        });
        assert.equal(moved.status, 200, JSON.stringify(moved.body));
        assert.deepEqual(moved.body.carried_fee, money(20000));
        const [audit] = await db.select().from(auditEvents)
          .where(and(eq(auditEvents.entityId, booking.id), eq(auditEvents.action, "booking.reschedule")));
        assert.equal((audit.data as { carried_fee: number }).carried_fee, 20000);
        assert.equal((audit.data as { fee_at_move: number }).fee_at_move, 20000);
        // A week before the new start the tier is free, but the quote and the cancellation honour the carried fee.
        const quote = await send("GET", `/cancellation-policies/${policy.body.id}/quote?booking=${booking.id}`, late);
        assert.equal(quote.status, 200);
        assert.deepEqual([quote.body.tier_index, quote.body.fee, quote.body.refund, quote.body.carried_fee], [
          1,
          money(20000),
          money(0),
          money(20000),
        ]);
        const cancelled = await send("PATCH", `/bookings/${booking.id}/cancel`, late, {});
        assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
        assert.deepEqual(cancelled.body.fee, money(20000));
        assert.deepEqual(cancelled.body.refund, money(0));
        const payment = (await db.select().from(payments).where(eq(payments.bookingId, booking.id)))[0];
        assert.equal((await db.select().from(refunds).where(eq(refunds.paymentId, payment.id))).length, 0);
      },
    );

    await t.step("a partial fee carried: the refund is what was paid minus it", async () => {
      // 20 % inside 24 h: the client moves an hour before, then cancels a week ahead.
      w.clock.now = NOW;
      const gentle = await send("POST", "/cancellation-policies", owner, {
        salon_id: salon.id,
        name: "Gentle",
        tiers: [
          { hours_before_min: 0, hours_before_max: 24, fee_percent: 20 },
          { hours_before_min: 24, hours_before_max: null, fee_percent: 0 },
        ],
      });
      assert.equal(gentle.status, 201);
      const { client, booking } = await paidBooking(at("2026-06-03T10:00:00"));
      const late = await attime(Date.parse(booking.starts_at) - HOUR, client);
      const moved = await send("PATCH", `/bookings/${booking.id}/reschedule`, late, {
        starts_at: at("2026-06-10T10:00:00"),
      });
      assert.deepEqual(moved.body.carried_fee, money(4000));
      const cancelled = await send("PATCH", `/bookings/${booking.id}/cancel`, late, {});
      assert.deepEqual([cancelled.body.fee, cancelled.body.refund], [money(4000), money(1000)]);
      const payment = (await db.select().from(payments).where(eq(payments.bookingId, booking.id)))[0];
      const [refund] = await db.select().from(refunds).where(eq(refunds.paymentId, payment.id));
      assert.equal(refund.amount, 1000);
      assert.equal((await strict("CHARGE", "Strict again")).status, 201);
    });

    await t.step("a REFUSE policy: 409 naming the policy, and nothing moved", async () => {
      assert.equal((await strict("REFUSE", "No late moves")).status, 201);
      const { client, booking } = await paidBooking(at("2026-06-04T10:00:00"));
      assert.equal(booking.policy.reschedule_in_fee_window, "REFUSE");
      const late = await attime(Date.parse(booking.starts_at) - HOUR, client);
      const refused = await send("PATCH", `/bookings/${booking.id}/reschedule`, late, {
        starts_at: at("2026-06-11T10:00:00"),
      });
      assert.equal(refused.status, 409);
      assert.match(refused.body.detail, /"No late moves" refuses a client's reschedule/);
      const row = (await db.select().from(bookings).where(eq(bookings.id, booking.id)))[0];
      assert.deepEqual([row.startsAt.toISOString(), row.carriedFeeAmount, row.status], [
        booking.starts_at,
        0,
        "CONFIRMED",
      ]);
      // Outside the fee tier the same policy lets the client move.
      const early = await attime(Date.parse(booking.starts_at) - 30 * HOUR, client);
      const moved = await send("PATCH", `/bookings/${booking.id}/reschedule`, early, {
        starts_at: at("2026-06-11T10:00:00"),
      });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.deepEqual(moved.body.carried_fee, money(0));
      assert.equal((await strict("CHARGE", "Strict once more")).status, 201);
    });

    await t.step(
      "a client cannot reschedule 15 s after the start (the no-show dodge); the salon still can",
      async () => {
        const { client, booking } = await paidBooking(at("2026-06-05T10:00:00"));
        const start = Date.parse(booking.starts_at);
        const after = await attime(start + 15_000, client);
        const refused = await send("PATCH", `/bookings/${booking.id}/reschedule`, after, {
          starts_at: at("2026-06-12T10:00:00"),
        });
        assert.equal(refused.status, 409);
        assert.match(refused.body.detail, /already started/);
        const row = (await db.select().from(bookings).where(eq(bookings.id, booking.id)))[0];
        assert.equal(row.startsAt.toISOString(), booking.starts_at);
        const salonNow = await fresh(send, owner);
        const bySalon = await send("PATCH", `/bookings/${booking.id}/reschedule`, salonNow, {
          starts_at: at("2026-06-12T10:00:00"),
        });
        assert.equal(bySalon.status, 200, JSON.stringify(bySalon.body));
        assert.deepEqual(bySalon.body.carried_fee, money(0));
      },
    );

    await t.step("the salon's reschedule inside the fee tier carries nothing", async () => {
      const { client, booking } = await paidBooking(at("2026-06-06T10:00:00"));
      const salonLate = await attime(Date.parse(booking.starts_at) - HOUR, owner);
      const moved = await send("PATCH", `/bookings/${booking.id}/reschedule`, salonLate, {
        starts_at: at("2026-06-13T10:00:00"),
      });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.deepEqual(moved.body.carried_fee, money(0));
      const [audit] = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, booking.id), eq(auditEvents.action, "booking.reschedule")));
      assert.deepEqual(
        [(audit.data as { by: string }).by, (audit.data as { carried_fee: number }).carried_fee],
        ["SALON", 0],
      );
      const cancelled = await send("PATCH", `/bookings/${booking.id}/cancel`, await fresh(send, client), {});
      assert.deepEqual([cancelled.body.fee, cancelled.body.refund], [money(0), money(5000)]);
    });

    await t.step("repeated reschedules never lower the carried fee", async () => {
      const { client, booking } = await paidBooking(at("2026-06-07T10:00:00"));
      const first = await attime(Date.parse(booking.starts_at) - HOUR, client);
      const once = await send("PATCH", `/bookings/${booking.id}/reschedule`, first, {
        starts_at: at("2026-06-08T14:00:00"),
      });
      assert.deepEqual(once.body.carried_fee, money(20000));
      // A minute later, a day and more before the new start: a free tier, and the carried fee stays.
      const later = await attime(w.clock.now.getTime() + 60_000, client);
      const twice = await send("PATCH", `/bookings/${booking.id}/reschedule`, later, {
        starts_at: at("2026-06-14T10:00:00"),
      });
      assert.equal(twice.status, 200, JSON.stringify(twice.body));
      assert.deepEqual(twice.body.carried_fee, money(20000));
      const row = (await db.select().from(bookings).where(eq(bookings.id, booking.id)))[0];
      assert.equal(row.carriedFeeAmount, 20000);
    });
  } finally {
    await w.testApp.close();
  }
});

Deno.test("booking limits per client", async (t) => {
  const w = await world();
  const { send, owner, salon, pro, pro2, service, paid } = w;
  const db = w.testApp.deps.database.db;
  /** Another salon of the owner with a paid service (deposit 50.00) on one professional. */
  const otherSalon = async () => {
    const shop = await makeSalon(send, owner, { minimum_notice_minutes: 0 });
    const professional = await makeProfessional(send, owner, shop.id);
    const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "09:00", end: "18:00" }));
    await send("PUT", `/professionals/${professional.id}/availability/rules`, owner, { rules });
    const colour = await makeService(send, owner, shop.id, {
      duration_minutes: 60,
      price_amount: 20000,
      deposit: { kind: "FIXED", value: 5000 },
      professional_ids: [professional.id],
    });
    return { professional, colour };
  };
  const book = (client: SignedInUser, serviceId: string, professionalId: string, startsAt: string) =>
    send("POST", "/bookings", client, { service_id: serviceId, professional_id: professionalId, starts_at: startsAt });
  const refusedFor = (res: { status: number; body: { code: string; errors: { path: string }[] } }, path: string) => {
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.body.code, "rate_limited");
    assert.equal(res.body.errors[0].path, path);
  };
  const bookingsOf = async (client: SignedInUser) =>
    await db.select().from(bookings).where(eq(bookings.clientId, client.id));

  try {
    const [b, c] = [await otherSalon(), await otherSalon()];

    await t.step("an unverified account: the second open booking is refused, naming the limit", async () => {
      const client = await makeUser(w.testApp, "CLIENT");
      assert.equal((await book(client, service.id, pro.id, at("2026-06-20T09:00:00"))).status, 201);
      const second = await book(client, service.id, pro.id, at("2026-06-20T11:00:00"));
      refusedFor(second, "unverified.max_open_bookings");
      assert.match(second.body.detail, /unverified\.max_open_bookings is 1/);
      assert.match(second.body.detail, /verify your email or phone/);
      assert.equal((await bookingsOf(client)).length, 1);
      // With an idempotency key nothing is booked, and the key is not spent on a refusal that
      // verifying (or a hold lapsing) cures: the same key books once the limit allows it.
      const keyed = () =>
        w.testApp.app.request("/api/v1/bookings", {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${client.accessToken}`,
            "idempotency-key": "over-the-limit",
          },
          body: JSON.stringify({
            service_id: service.id,
            professional_id: pro.id,
            starts_at: at("2026-06-20T13:00:00"),
          }),
        });
      const refusedKeyed = await keyed();
      assert.equal(refusedKeyed.status, 429);
      await refusedKeyed.body?.cancel();
      const stored = await db.select().from(idempotencyKeys).where(
        and(eq(idempotencyKeys.userId, client.id), eq(idempotencyKeys.key, "over-the-limit")),
      );
      assert.deepEqual(stored, []);
      assert.equal((await bookingsOf(client)).length, 1);
      // A verified phone counts as verified; the same key now books.
      await db.update(users).set({ phoneVerifiedAt: NOW }).where(eq(users.id, client.id));
      const retried = await keyed();
      assert.equal(retried.status, 201);
      assert.equal(retried.headers.get("idempotent-replayed"), null);
      await retried.body?.cancel();
      assert.equal((await book(client, service.id, pro.id, at("2026-06-20T15:00:00"))).status, 201);
    });

    await t.step(
      "a verified client: two open holds at a salon, the third refused; others until the overall cap",
      async (step) => {
        const client = await verifiedClient(w.testApp);
        assert.equal((await book(client, paid.id, pro.id, at("2026-06-21T09:00:00"))).status, 201);
        assert.equal((await book(client, paid.id, pro.id, at("2026-06-21T10:00:00"))).status, 201);
        const third = await book(client, paid.id, pro.id, at("2026-06-21T11:00:00"));
        refusedFor(third, "salon.max_open_holds_per_client");
        assert.match(third.body.detail, /salon\.max_open_holds_per_client is 2/);
        // Another salon allows a hold: the third across salons, the platform's default cap (3).
        assert.equal((await book(client, b.colour.id, b.professional.id, at("2026-06-21T09:00:00"))).status, 201);
        const fourth = await book(client, c.colour.id, c.professional.id, at("2026-06-21T09:00:00"));
        refusedFor(fourth, "platform.max_open_holds_per_client");
        assert.match(fourth.body.detail, /platform\.max_open_holds_per_client is 3/);
        // A booking confirmed at once is not a hold.
        assert.equal((await book(client, service.id, pro2.id, at("2026-06-21T14:00:00"))).status, 201);
        assert.equal((await bookingsOf(client)).length, 4);

        await step.step("expired holds no longer count", async () => {
          w.clock.now = new Date(NOW.getTime() + 16 * 60_000);
          const later = await fresh(send, client);
          assert.equal((await book(later, paid.id, pro.id, at("2026-06-21T12:00:00"))).status, 201);
          assert.equal((await book(later, c.colour.id, c.professional.id, at("2026-06-21T10:00:00"))).status, 201);
          w.clock.now = NOW;
        });
      },
    );

    await t.step("the salon sets its own limits (bounded as the database's check), shown on the salon", async () => {
      for (
        const [field, value] of [
          ["max_open_holds_per_client", 0],
          ["max_open_holds_per_client", 101],
          ["max_future_bookings_per_client", 501],
          ["max_future_bookings_per_client", 1.5],
        ] as const
      ) {
        const bad = await send("PATCH", `/salons/${salon.id}`, owner, { [field]: value });
        assert.equal(bad.status, 400, `${field} ${value}`);
        assert.equal(bad.body.errors[0].path, field);
      }
      const set = await send("PATCH", `/salons/${salon.id}`, owner, {
        max_open_holds_per_client: 1,
        max_future_bookings_per_client: 2,
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual([set.body.max_open_holds_per_client, set.body.max_future_bookings_per_client], [1, 2]);
      const shown = await send("GET", `/salons/${salon.id}`, owner);
      assert.deepEqual([shown.body.max_open_holds_per_client, shown.body.max_future_bookings_per_client], [1, 2]);

      const holder = await verifiedClient(w.testApp);
      assert.equal((await book(holder, paid.id, pro.id, at("2026-06-22T09:00:00"))).status, 201);
      const hold = await book(holder, paid.id, pro.id, at("2026-06-22T10:00:00"));
      refusedFor(hold, "salon.max_open_holds_per_client");
      assert.match(hold.body.detail, /is 1\b/);

      const regular = await verifiedClient(w.testApp);
      assert.equal((await book(regular, service.id, pro2.id, at("2026-06-23T09:00:00"))).status, 201);
      assert.equal((await book(regular, service.id, pro2.id, at("2026-06-23T11:00:00"))).status, 201);
      const third = await book(regular, service.id, pro2.id, at("2026-06-23T13:00:00"));
      refusedFor(third, "salon.max_future_bookings_per_client");
      // Elsewhere the client may still book.
      assert.equal((await book(regular, b.colour.id, b.professional.id, at("2026-06-23T09:00:00"))).status, 201);
      // A past booking is not a future one: once one has started, the salon takes another.
      w.clock.now = new Date(Date.parse(at("2026-06-23T09:30:00")));
      const afterStart = await fresh(send, regular);
      assert.equal((await book(afterStart, service.id, pro2.id, at("2026-06-23T13:00:00"))).status, 201);
      w.clock.now = NOW;
      await send("PATCH", `/salons/${salon.id}`, owner, {
        max_open_holds_per_client: 2,
        max_future_bookings_per_client: 10,
      });
    });
  } finally {
    await w.testApp.close();
  }
});

Deno.test({
  name: "bookings on the machine's PostgreSQL: the same races under real parallelism",
  ignore: !postgresAvailable,
  async fn(t) {
    const scratch = await createScratchDatabase();
    try {
      const w = await world(scratch.url);
      try {
        await concurrency(t, w);
      } finally {
        await w.testApp.close();
      }
    } finally {
      await scratch.drop();
    }
  },
});
