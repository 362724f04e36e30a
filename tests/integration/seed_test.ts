/** The demo seed: realistic, bookable, and harmless to run twice. */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { PasswordHasher } from "../../adapters/passwords.ts";
import { DEMO_PASSWORD, seed } from "../../db/seed.ts";
import { bookings, professionals, salons, services } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";

Deno.test("the demo seed gives salons with free slots and accounts that sign in", async () => {
  const now = new Date("2026-11-23T12:00:00Z");
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => now });
  const db = testApp.deps.database.db;
  const send = apiClient(testApp);
  try {
    const passwords = new PasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
    const first = await seed(db, { passwords, now });
    assert.equal(first.created, true);
    const again = await seed(db, { passwords, now });
    assert.equal(again.created, false);

    const zones = (await db.select().from(salons)).map((s) => s.timeZone).sort();
    assert.deepEqual(zones, ["America/New_York", "America/Sao_Paulo", "Europe/Lisbon"]);
    assert.ok((await db.select().from(bookings)).length >= 6);
    // Every demo professional accepted their invitation: linked to their account.
    const team = await db.select().from(professionals);
    assert.equal(team.length, 6);
    assert.ok(team.every((p) => p.userId !== null));

    const login = await send("POST", "/auth/login", null, { email: "client@demo.salon", password: DEMO_PASSWORD });
    assert.equal(login.status, 200);

    const [paulista] = await db.select().from(salons).where(eq(salons.name, "Studio Paulista"));
    const [cut] = await db.select().from(services).where(eq(services.salonId, paulista.id)).limit(1);
    const slots = await send("GET", `/scheduling/salons/${paulista.id}/slots?service=${cut.id}`);
    assert.equal(slots.status, 200);
    assert.ok(slots.body.data.length > 50, String(slots.body.data.length));
  } finally {
    await testApp.close();
  }
});
