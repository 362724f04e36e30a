/**
 * Bookings through the app: creation on offered slots only, no double booking under concurrency
 * (embedded PGlite and the machine's PostgreSQL), idempotency keys, the lifecycle and its refusals.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { hashToken } from "../../adapters/tokens.ts";
import { auditEvents, bookings, idempotencyKeys, outbox } from "../../db/schema.ts";
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
    assert.equal(statuses.filter((s) => s === 409).length, 49);
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

    await t.step("a key whose first request never answered is still busy: 409 after a short wait", async () => {
      const [client] = await clients(w.testApp, 1);
      const body = { service_id: service.id, professional_id: pro2.id, starts_at: at("2026-06-06T15:00:00") };
      // The state a crashed or very slow first request leaves: the key claimed, no answer stored.
      await db.insert(idempotencyKeys).values({
        userId: client.id,
        key: "stuck",
        requestHash: await hashToken(`POST /api/v1/bookings\n${JSON.stringify(body)}`),
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
