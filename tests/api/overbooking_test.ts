/**
 * Overbooking: extra places on a taken time, bounded by the rule under concurrency, approval and VIP
 * priority, deposits paid like any other booking's, and the client's booking limits.
 */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { type MockPaymentProvider, TEST_CARDS } from "../../adapters/payments_mock.ts";
import { bookings, paymentLogs, payments } from "../../db/schema.ts";
import { apiClient, type Send } from "../support/api.ts";
import { makeTestApp, type TestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { createScratchDatabase, postgresAvailable } from "../support/postgres.ts";
import { makeUser, type SignedInUser } from "../support/users.ts";

const NOW = new Date("2026-06-01T12:00:00Z");
const at = (local: string) => new Date(`${local}-03:00`).toISOString();

async function setUp(url?: string) {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent", RATE_LIMIT_API_PER_MINUTE: "100000" }, {
    url,
    now: () => NOW,
  });
  const send = apiClient(testApp);
  const owner = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0 });
  const pro = await makeProfessional(send, owner, salon.id);
  const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "09:00", end: "18:00" }));
  assert.equal((await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules })).status, 200);
  const service = await makeService(send, owner, salon.id, {
    duration_minutes: 60,
    price_amount: 10000,
    professional_ids: [pro.id],
  });
  return { testApp, send, owner, salon, pro, service };
}

const book = (send: Send, client: SignedInUser, serviceId: string, professionalId: string, startsAt: string) =>
  send("POST", "/bookings", client, { service_id: serviceId, professional_id: professionalId, starts_at: startsAt });

async function race(
  t: Deno.TestContext,
  testApp: TestApp,
  send: Send,
  owner: SignedInUser,
  pro: { id: string },
  service: { id: string },
) {
  await t.step("20 clients race for the extra places of a taken time: exactly the rule's two succeed", async () => {
    const rule = await send("PUT", `/overbooking/professionals/${pro.id}`, owner, {
      max_overbooking_percent: 200,
      auto_accept: true,
    });
    assert.equal(rule.status, 200, JSON.stringify(rule.body));
    const startsAt = at("2026-06-02T10:00:00");
    const first = await makeUser(testApp, "CLIENT");
    assert.equal((await book(send, first, service.id, pro.id, startsAt)).status, 201);
    const racers = await Promise.all(Array.from({ length: 20 }, () => makeUser(testApp, "CLIENT")));
    const answers = await Promise.all(racers.map((client) => book(send, client, service.id, pro.id, startsAt)));
    const won = answers.filter((a) => a.status === 201);
    assert.equal(won.length, 2, JSON.stringify(answers.map((a) => a.status)));
    assert.ok(won.every((a) => a.body.overbooked && a.body.status === "CONFIRMED"));
    assert.equal(answers.filter((a) => a.status === 409 && a.body.code === "slot_taken").length, 18);
    const rows = await testApp.deps.database.db.select().from(bookings)
      .where(and(eq(bookings.professionalId, pro.id), eq(bookings.startsAt, new Date(startsAt))));
    assert.equal(rows.length, 3);
  });

  await t.step("one unverified client takes overbooking places at 5 taken times at once: exactly one", async () => {
    const times = ["09", "11", "13", "15", "17"].map((hour) => at(`2026-06-09T${hour}:00:00`));
    for (const startsAt of times) {
      assert.equal((await book(send, await makeUser(testApp), service.id, pro.id, startsAt)).status, 201);
    }
    const client = await makeUser(testApp, "CLIENT");
    const answers = await Promise.all(times.map((startsAt) => book(send, client, service.id, pro.id, startsAt)));
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(answers.map((a) => a.body)));
    assert.ok(
      answers.filter((a) => a.status !== 201).every((a) =>
        a.status === 429 && a.body.errors[0].path === "unverified.max_open_bookings"
      ),
      JSON.stringify(statuses),
    );
    const rows = await testApp.deps.database.db.select().from(bookings).where(eq(bookings.clientId, client.id));
    assert.deepEqual(rows.map((r) => r.overbooked), [true]);
  });
}

Deno.test("overbooking on the embedded database", async (t) => {
  const { testApp, send, owner, salon, pro, service } = await setUp();
  const db = testApp.deps.database.db;
  try {
    await t.step("without a rule a taken time stays taken", async () => {
      const [a, b] = [await makeUser(testApp), await makeUser(testApp)];
      assert.equal((await book(send, a, service.id, pro.id, at("2026-06-03T10:00:00"))).status, 201);
      const refused = await book(send, b, service.id, pro.id, at("2026-06-03T10:00:00"));
      assert.equal(refused.status, 409);
      assert.match(refused.body.detail, /does not overbook/);
    });

    await race(t, testApp, send, owner, pro, service);

    await t.step("without auto-accept the extra booking waits for the salon's approval", async () => {
      await send("PUT", `/overbooking/professionals/${pro.id}`, owner, { max_overbooking_percent: 100 });
      const [a, b] = [await makeUser(testApp), await makeUser(testApp)];
      await book(send, a, service.id, pro.id, at("2026-06-04T10:00:00"));
      const extra = await book(send, b, service.id, pro.id, at("2026-06-04T10:00:00"));
      assert.equal(extra.status, 201);
      assert.equal(extra.body.status, "PENDING");
      assert.equal(extra.body.approval_required, true);
      assert.equal(extra.body.hold_expires_at, new Date(at("2026-06-04T10:00:00")).toISOString());
      assert.equal((await send("PATCH", `/bookings/${extra.body.id}/approve`, b)).status, 403);
      const approved = await send("PATCH", `/bookings/${extra.body.id}/approve`, owner);
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      assert.equal(approved.body.status, "CONFIRMED");
      assert.equal(approved.body.approval_required, false);
      assert.equal((await send("PATCH", `/bookings/${extra.body.id}/approve`, owner)).status, 409);
    });

    await t.step("VIP priority keeps extra places for returning clients", async () => {
      await send("PUT", `/overbooking/professionals/${pro.id}`, owner, {
        max_overbooking_percent: 100,
        auto_accept: true,
        vip_priority: true,
      });
      const [a, newcomer, regular] = [await makeUser(testApp), await makeUser(testApp), await makeUser(testApp)];
      await book(send, a, service.id, pro.id, at("2026-06-05T10:00:00"));
      const refused = await book(send, newcomer, service.id, pro.id, at("2026-06-05T10:00:00"));
      assert.equal(refused.status, 409);
      assert.match(refused.body.detail, /returning clients/);
      const past = new Date("2026-05-01T13:00:00Z");
      await db.insert(bookings).values({
        salonId: salon.id,
        clientId: regular.id,
        professionalId: pro.id,
        serviceId: service.id,
        startsAt: past,
        endsAt: new Date(past.getTime() + 3_600_000),
        blockStartsAt: past,
        blockEndsAt: new Date(past.getTime() + 3_600_000),
        status: "COMPLETED",
        priceAmount: 10000,
        currency: "BRL",
      });
      assert.equal((await book(send, regular, service.id, pro.id, at("2026-06-05T10:00:00"))).status, 201);
    });

    await t.step("a salon-wide rule counts the salon's professionals as capacity", async () => {
      const other = await makeProfessional(send, owner, salon.id);
      await send("PUT", `/overbooking/professionals/${pro.id}`, owner, { max_overbooking_percent: 0, active: false });
      const rule = await send("PUT", `/overbooking/salons/${salon.id}`, owner, {
        max_overbooking_percent: 50,
        auto_accept: true,
      });
      assert.equal(rule.status, 200);
      const list = await send("GET", `/overbooking?salon_id=${salon.id}`, owner);
      assert.equal(list.body.data[0].professional_id, null);
      // Two active professionals at 50%: one extra place in a time range across the salon.
      const [a, b, c] = [await makeUser(testApp), await makeUser(testApp), await makeUser(testApp)];
      await book(send, a, service.id, pro.id, at("2026-06-06T10:00:00"));
      assert.equal((await book(send, b, service.id, pro.id, at("2026-06-06T10:00:00"))).status, 201);
      assert.equal((await book(send, c, service.id, pro.id, at("2026-06-06T10:00:00"))).status, 409);
      assert.ok(other.id);
    });

    await t.step("a deposit service: the overbooked booking gets its deposit and confirms once paid", async (step) => {
      const colour = await makeService(send, owner, salon.id, {
        duration_minutes: 60,
        price_amount: 20000,
        deposit: { kind: "FIXED", value: 5000 },
        professional_ids: [pro.id],
      });
      await send("PUT", `/overbooking/salons/${salon.id}`, owner, { max_overbooking_percent: 0, active: false });
      await send("PUT", `/overbooking/professionals/${pro.id}`, owner, {
        max_overbooking_percent: 100,
        auto_accept: true,
      });
      const paymentsOf = (bookingId: string) => db.select().from(payments).where(eq(payments.bookingId, bookingId));
      const pay = async (client: SignedInUser, paymentId: string) => {
        const paid = await send("POST", `/payments/${paymentId}/mock-confirm`, client, {
          card_number: TEST_CARDS.succeeds,
        });
        assert.equal(paid.status, 202);
      };
      const startsAt = at("2026-06-07T10:00:00");
      const [a, b] = [await makeUser(testApp), await makeUser(testApp)];
      assert.equal((await book(send, a, colour.id, pro.id, startsAt)).status, 201);
      const extra = await book(send, b, colour.id, pro.id, startsAt);
      assert.equal(extra.status, 201, JSON.stringify(extra.body));
      assert.deepEqual([extra.body.overbooked, extra.body.status], [true, "PENDING"]);
      assert.match(extra.body.payment.client_secret, /_secret_/);
      assert.deepEqual(extra.body.payment.amount, { amount: 5000, currency: "BRL" });
      const [payment] = await paymentsOf(extra.body.id);
      assert.deepEqual([payment.id, payment.amount, payment.status], [extra.body.payment.id, 5000, "PENDING"]);
      const logged = await db.select().from(paymentLogs).where(eq(paymentLogs.paymentId, payment.id));
      assert.deepEqual(logged.map((l) => l.kind), ["create_deposit"]);
      await pay(b, extra.body.payment.id);
      const [confirmed] = await db.select().from(bookings).where(eq(bookings.id, extra.body.id));
      assert.deepEqual([confirmed.status, confirmed.holdExpiresAt], ["CONFIRMED", null]);

      await step.step("the provider down: 503, and neither booking nor payment is written", async () => {
        const mock = testApp.deps.payments as MockPaymentProvider;
        const at12 = at("2026-06-07T12:00:00");
        assert.equal((await book(send, await makeUser(testApp), colour.id, pro.id, at12)).status, 201);
        const original = mock.createDeposit;
        mock.createDeposit = () => Promise.reject(new Error("provider down"));
        try {
          const late = await makeUser(testApp);
          const refused = await book(send, late, colour.id, pro.id, at12);
          assert.equal(refused.status, 503, JSON.stringify(refused.body));
          assert.match(refused.body.detail, /nothing was booked/);
          assert.equal((await db.select().from(bookings).where(eq(bookings.clientId, late.id))).length, 0);
        } finally {
          mock.createDeposit = original;
        }
      });

      await step.step("waiting for approval: the deposit is created when the salon approves, then paid", async () => {
        await send("PUT", `/overbooking/professionals/${pro.id}`, owner, { max_overbooking_percent: 100 });
        const at14 = at("2026-06-07T14:00:00");
        const [first, waiting] = [await makeUser(testApp), await makeUser(testApp)];
        assert.equal((await book(send, first, colour.id, pro.id, at14)).status, 201);
        const asked = await book(send, waiting, colour.id, pro.id, at14);
        assert.equal(asked.status, 201, JSON.stringify(asked.body));
        assert.deepEqual([asked.body.status, asked.body.approval_required, asked.body.payment], [
          "PENDING",
          true,
          undefined,
        ]);
        assert.equal((await paymentsOf(asked.body.id)).length, 0);
        const approved = await send("PATCH", `/bookings/${asked.body.id}/approve`, owner);
        assert.equal(approved.status, 200, JSON.stringify(approved.body));
        assert.deepEqual([approved.body.status, approved.body.approval_required], ["PENDING", false]);
        assert.equal(approved.body.hold_expires_at, new Date(NOW.getTime() + 15 * 60_000).toISOString());
        assert.match(approved.body.payment.client_secret, /_secret_/);
        const [deposit] = await paymentsOf(asked.body.id);
        assert.equal(deposit.id, approved.body.payment.id);
        assert.equal((await send("PATCH", `/bookings/${asked.body.id}/approve`, owner)).status, 409);
        assert.equal((await paymentsOf(asked.body.id)).length, 1);
        await pay(waiting, approved.body.payment.id);
        const [row] = await db.select().from(bookings).where(eq(bookings.id, asked.body.id));
        assert.deepEqual([row.status, row.approvalRequired], ["CONFIRMED", false]);
      });
    });

    await t.step("an overbooking place counts against the client's booking limits", async () => {
      await send("PUT", `/overbooking/professionals/${pro.id}`, owner, {
        max_overbooking_percent: 100,
        auto_accept: true,
      });
      const startsAt = at("2026-06-08T10:00:00");
      const [first, unverified] = [await makeUser(testApp), await makeUser(testApp)];
      assert.equal((await book(send, first, service.id, pro.id, startsAt)).status, 201);
      // An account without a verified email or phone already holding a booking takes no second one.
      assert.equal((await book(send, unverified, service.id, pro.id, at("2026-06-08T14:00:00"))).status, 201);
      const refused = await book(send, unverified, service.id, pro.id, startsAt);
      assert.equal(refused.status, 429, JSON.stringify(refused.body));
      assert.equal(refused.body.errors[0].path, "unverified.max_open_bookings");
      const rows = await db.select().from(bookings).where(eq(bookings.clientId, unverified.id));
      assert.equal(rows.length, 1);
      // The place is still free for someone within their limits.
      assert.equal((await book(send, await makeUser(testApp), service.id, pro.id, startsAt)).status, 201);
    });

    await t.step("only the salon's managers set rules", async () => {
      const rival = await makeUser(testApp, "SALON_OWNER");
      const client = await makeUser(testApp, "CLIENT");
      const body = { max_overbooking_percent: 100 };
      assert.equal((await send("PUT", `/overbooking/salons/${salon.id}`, rival, body)).status, 404);
      assert.equal((await send("PUT", `/overbooking/professionals/${pro.id}`, rival, body)).status, 404);
      assert.equal((await send("PUT", `/overbooking/salons/${salon.id}`, client, body)).status, 403);
      assert.equal((await send("GET", `/overbooking?salon_id=${salon.id}`, rival)).status, 404);
      const bad = await send("PUT", `/overbooking/salons/${salon.id}`, rival, { max_overbooking_percent: 5000 });
      assert.equal(bad.status, 400);
    });
  } finally {
    await testApp.close();
  }
});

Deno.test({
  name: "overbooking on the machine's PostgreSQL: extra places stay bounded under real parallelism",
  ignore: !postgresAvailable,
  async fn(t) {
    const scratch = await createScratchDatabase();
    try {
      const { testApp, send, owner, pro, service } = await setUp(scratch.url);
      try {
        await race(t, testApp, send, owner, pro, service);
      } finally {
        await testApp.close();
      }
    } finally {
      await scratch.drop();
    }
  },
});
