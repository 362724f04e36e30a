/** Overbooking: extra places on a taken time, bounded by the rule under concurrency, approval and VIP priority. */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { bookings } from "../../db/schema.ts";
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
