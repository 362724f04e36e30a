/** Reconciliation repairs what a lost webhook did not do, and reports what it cannot repair. */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { type MockPaymentProvider, TEST_CARDS } from "../../adapters/payments_mock.ts";
import { bookings, payments } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

Deno.test("reconciliation repairs a missed webhook and records mismatches", async () => {
  const now = new Date();
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => now });
  const db = testApp.deps.database.db;
  const mock = testApp.deps.payments as MockPaymentProvider;
  const send = apiClient(testApp);
  try {
    const owner = await makeUser(testApp, "SALON_OWNER");
    const admin = await makeUser(testApp, "ADMIN");
    const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0, time_zone: "UTC" });
    const pro = await makeProfessional(send, owner, salon.id);
    const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "00:00", end: "24:00" }));
    await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules });
    const service = await makeService(send, owner, salon.id, {
      duration_minutes: 60,
      price_amount: 20000,
      deposit: { kind: "FIXED", value: 5000 },
      professional_ids: [pro.id],
    });
    const client = await makeUser(testApp, "CLIENT");
    const start = new Date(Math.ceil(now.getTime() / 3_600_000) * 3_600_000 + 48 * 3_600_000).toISOString();
    const booked = await send("POST", "/bookings", client, {
      service_id: service.id,
      professional_id: pro.id,
      starts_at: start,
    });
    assert.equal(booked.status, 201, JSON.stringify(booked.body));
    const [payment] = await db.select().from(payments).where(eq(payments.bookingId, booked.body.id));

    // The client paid, but the webhook never arrived.
    await mock.confirm(payment.providerPaymentId!, TEST_CARDS.succeeds, { deliver: false });
    assert.equal((await db.select().from(payments).where(eq(payments.id, payment.id)))[0].status, "PENDING");
    // And our record disagrees on the amount (as a bug or a manual edit would leave it).
    await db.update(payments).set({ amount: 4999 }).where(eq(payments.id, payment.id));

    assert.equal((await send("POST", "/admin/payments/reconcile", owner)).status, 403);
    const run = await send("POST", "/admin/payments/reconcile", admin);
    assert.equal(run.status, 200, JSON.stringify(run.body));
    assert.equal(run.body.repaired, 1);
    assert.deepEqual(
      run.body.mismatches.map((m: { kind: string; repaired: boolean }) => `${m.kind}:${m.repaired}`).sort(),
      ["amount:false", "status:true"],
    );
    assert.equal((await db.select().from(payments).where(eq(payments.id, payment.id)))[0].status, "SUCCEEDED");
    assert.equal((await db.select().from(bookings).where(eq(bookings.id, booked.body.id)))[0].status, "CONFIRMED");

    // A second run finds nothing left to repair and the history lists both.
    const again = await send("POST", "/admin/payments/reconcile", admin);
    assert.equal(again.body.repaired, 0);
    const history = await send("GET", "/admin/payments/reconciliation", admin);
    assert.equal(history.body.data.length, 2);
  } finally {
    await testApp.close();
  }
});
