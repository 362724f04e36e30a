/**
 * Payment metrics: an owner's figures cover only their salon, admins see the platform per
 * currency, roles and ownership are enforced, declines count in the failure rate, and the range
 * (30 days to the app's clock by default, at most 366 days) decides which payments count.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { TEST_CARDS } from "../../adapters/payments_mock.ts";
import { bookings, payments } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { makeUser, type SignedInUser } from "../support/users.ts";

const DAY = 86_400_000;
const RULES = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "09:00", end: "18:00" }));

Deno.test("payment metrics", async (t) => {
  // The app's clock follows real time, shifted when a step moves it: payments' created_at comes
  // from the database's own clock, so the default range has to contain real time.
  let shift = 0;
  const testApp = await makeTestApp(
    { LOG_LEVEL: "silent", RATE_LIMIT_API_PER_MINUTE: "100000" },
    { now: () => new Date(Date.now() + shift) },
  );
  const db = testApp.deps.database.db;
  const send = apiClient(testApp);
  const day = new Date(Date.now() + 2 * DAY).toISOString().slice(0, 10);

  const depositSalon = async (owner: SignedInUser, fields: Record<string, unknown>, deposit: number) => {
    const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0, ...fields });
    const pro = await makeProfessional(send, owner, salon.id);
    await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules: RULES });
    const service = await makeService(send, owner, salon.id, {
      duration_minutes: 60,
      price_amount: 20000,
      deposit: { kind: "FIXED", value: deposit },
      professional_ids: [pro.id],
    });
    return { salon, pro, service };
  };
  const book = async (at: { service: { id: string }; pro: { id: string } }, startsAt: string, card?: string) => {
    const client = await makeUser(testApp, "CLIENT");
    const res = await send("POST", "/bookings", client, {
      service_id: at.service.id,
      professional_id: at.pro.id,
      starts_at: startsAt,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    if (card) {
      const paid = await send("POST", `/payments/${res.body.payment.id}/mock-confirm`, client, { card_number: card });
      assert.equal(paid.status, 202);
    }
    return { bookingId: res.body.id as string, paymentId: res.body.payment.id as string };
  };
  const metrics = (user: SignedInUser | null, query: Record<string, string> = {}) =>
    send("GET", `/payments/metrics?${new URLSearchParams(query)}`, user);
  const signInAgain = async (user: SignedInUser) => {
    const login = await send("POST", "/auth/login", null, { email: user.email, password: user.password });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    return { ...user, accessToken: login.body.access_token };
  };

  const owner = await makeUser(testApp, "SALON_OWNER");
  const rival = await makeUser(testApp, "SALON_OWNER");
  const yenOwner = await makeUser(testApp, "SALON_OWNER");
  const admin = await makeUser(testApp, "ADMIN");
  const mine = await depositSalon(owner, {}, 5000);
  const rivals = await depositSalon(rival, {}, 3000);
  const yen = await depositSalon(yenOwner, { time_zone: "Asia/Tokyo", currency: "JPY" }, 1000);

  // São Paulo is UTC-3 and Tokyo UTC+9: these are all within 09:00-18:00 local time.
  const paid = await book(mine, `${day}T13:00:00Z`, TEST_CARDS.succeeds);
  await book(mine, `${day}T14:00:00Z`, TEST_CARDS.declined);
  const pending = await book(mine, `${day}T15:00:00Z`);
  const cancelled = await book(mine, `${day}T16:00:00Z`, TEST_CARDS.succeeds);
  const rivalPaid = await book(rivals, `${day}T13:00:00Z`, TEST_CARDS.succeeds);
  await book(yen, `${day}T01:00:00Z`, TEST_CARDS.succeeds);

  // A late cancellation: 2000 of the deposit kept as the fee, the rest refunded.
  await db.update(bookings).set({ status: "CANCELLED", feeAmount: 2000, cancelledAt: new Date() })
    .where(eq(bookings.id, cancelled.bookingId));
  await db.update(payments).set({ status: "PARTIALLY_REFUNDED", refundedAmount: 3000 })
    .where(eq(payments.id, cancelled.paymentId));
  // The platform's share counts only once the money is captured.
  await db.update(payments).set({ platformFeeAmount: 250 }).where(eq(payments.id, paid.paymentId));
  await db.update(payments).set({ platformFeeAmount: 250 }).where(eq(payments.id, pending.paymentId));

  try {
    await t.step("an owner sees only their salon's figures, the decline in the failure rate", async () => {
      const res = await metrics(owner, { salon_id: mine.salon.id });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.salon_id, mine.salon.id);
      assert.equal(Date.parse(res.body.to) - Date.parse(res.body.from), 30 * DAY);
      assert.deepEqual(res.body.currencies, [{
        currency: "BRL",
        captured: 10000,
        refunded: 3000,
        net: 7000,
        fees_kept: 2000,
        platform_fees: 250,
        pending_deposits: 5000,
        attempts: 4,
        failed: 1,
        failure_rate: 0.25,
      }]);
    });

    await t.step("an admin sees the whole platform per currency, or any one salon", async () => {
      const res = await metrics(admin);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.salon_id, null);
      assert.deepEqual(res.body.currencies, [
        {
          currency: "BRL",
          captured: 13000,
          refunded: 3000,
          net: 10000,
          fees_kept: 2000,
          platform_fees: 250,
          pending_deposits: 5000,
          attempts: 5,
          failed: 1,
          failure_rate: 0.2,
        },
        {
          currency: "JPY",
          captured: 1000,
          refunded: 0,
          net: 1000,
          fees_kept: 0,
          platform_fees: 0,
          pending_deposits: 0,
          attempts: 1,
          failed: 0,
          failure_rate: 0,
        },
      ]);
      const one = await metrics(admin, { salon_id: rivals.salon.id });
      assert.equal(one.status, 200);
      assert.deepEqual(one.body.currencies.map((c: { captured: number }) => c.captured), [3000]);
    });

    await t.step("clients and professionals are 403; someone else's salon is 404; no token is 401", async () => {
      const client = await makeUser(testApp, "CLIENT");
      const professional = await makeUser(testApp, "PROFESSIONAL");
      assert.equal((await metrics(client, { salon_id: mine.salon.id })).status, 403);
      assert.equal((await metrics(client)).status, 403);
      assert.equal((await metrics(professional, { salon_id: mine.salon.id })).status, 403);
      const foreign = await metrics(rival, { salon_id: mine.salon.id });
      assert.deepEqual([foreign.status, foreign.body.code], [404, "not_found"]);
      assert.equal((await metrics(owner, { salon_id: crypto.randomUUID() })).status, 404);
      assert.equal((await metrics(null, { salon_id: mine.salon.id })).status, 401);
      const platform = await metrics(owner);
      assert.equal(platform.status, 400);
      assert.deepEqual(platform.body.errors.map((e: { path: string }) => e.path), ["query.salon_id"]);
    });

    await t.step("the range counts payments created in [from, to): older ones drop out", async () => {
      const longAgo = new Date(Date.now() - 45 * DAY);
      await db.update(payments).set({ createdAt: longAgo }).where(eq(payments.id, rivalPaid.paymentId));
      const recent = await metrics(admin);
      assert.equal(recent.body.currencies[0].captured, 10000);
      assert.equal(recent.body.currencies[0].attempts, 4);

      const from = new Date(longAgo.getTime() - DAY).toISOString();
      const wide = await metrics(admin, { from, to: new Date(Date.now() + DAY).toISOString() });
      assert.equal(wide.status, 200, JSON.stringify(wide.body));
      assert.equal(wide.body.from, from);
      assert.equal(wide.body.currencies[0].captured, 13000);
      // `to` is exclusive: a range ending at the old payment's instant leaves it out.
      const before = await metrics(admin, { from, to: longAgo.toISOString() });
      assert.deepEqual(before.body.currencies, []);

      // Forty days on, the default range no longer reaches today's payments.
      shift = 40 * DAY;
      try {
        const later = await signInAgain(admin);
        const res = await metrics(later);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.ok(Date.parse(res.body.to) > Date.now() + 39 * DAY);
        assert.deepEqual(res.body.currencies, []);
      } finally {
        shift = 0;
      }
    });

    await t.step("a range that is reversed, empty, longer than 366 days or without an offset is 400", async () => {
      const now = Date.now();
      const at = (days: number) => new Date(now + days * DAY).toISOString();
      for (const query of [{ from: at(0), to: at(-1) }, { from: at(0), to: at(0) }, { from: at(-367), to: at(0) }]) {
        const res = await metrics(admin, query);
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), ["query.to"]);
      }
      assert.equal((await metrics(admin, { from: at(-366), to: at(0) })).status, 200);
      const naive = await metrics(admin, { from: "2026-01-01T00:00:00" });
      assert.equal(naive.status, 400);
      assert.deepEqual(naive.body.errors.map((e: { path: string }) => e.path), ["query.from"]);
    });
  } finally {
    await testApp.close();
  }
});
