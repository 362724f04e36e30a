/** Catalog rules the database enforces by itself, so that no code path can write around them. */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { isCheckViolation } from "../../db/errors.ts";
import { bookings, services } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

Deno.test("a booking's block stays within four hours of it and a booking within a day", async () => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" });
  const db = testApp.deps.database.db;
  const send = apiClient(testApp);
  try {
    const owner = await makeUser(testApp, "SALON_OWNER");
    const client = await makeUser(testApp, "CLIENT");
    const salon = await makeSalon(send, owner);
    const pro = await makeProfessional(send, owner, salon.id);
    const service = await makeService(send, owner, salon.id, { price_amount: 5000 });
    const start = Date.parse("2026-12-01T12:00:00Z");
    const at = (minutes: number) => new Date(start + minutes * 60_000);
    const booking = (startsAt: Date, endsAt: Date, blockStartsAt: Date, blockEndsAt: Date) => ({
      salonId: salon.id,
      clientId: client.id,
      professionalId: pro.id,
      serviceId: service.id,
      startsAt,
      endsAt,
      blockStartsAt,
      blockEndsAt,
      status: "CONFIRMED" as const,
      priceAmount: 5000,
      currency: "BRL",
    });
    for (
      const row of [
        booking(at(0), at(60), at(-241), at(60)),
        booking(at(0), at(60), at(0), at(301)),
        booking(at(0), at(1441), at(0), at(1441)),
      ]
    ) {
      await assert.rejects(
        db.insert(bookings).values(row),
        (error) => isCheckViolation(error, "bookings_block_bounds"),
      );
    }
    await db.insert(bookings).values(booking(at(0), at(60), at(-240), at(300)));
  } finally {
    await testApp.close();
  }
});

Deno.test("a deposit can never exceed its rule: fixed ≤ price, percentage ≤ 100 %, none = 0", async () => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" });
  const db = testApp.deps.database.db;
  const send = apiClient(testApp);
  try {
    const owner = await makeUser(testApp, "SALON_OWNER");
    const salon = await makeSalon(send, owner);
    const service = await makeService(send, owner, salon.id, {
      price_amount: 5000,
      deposit: { kind: "FIXED", value: 2000 },
    });
    const attempts = [
      { priceAmount: 1000 },
      { depositKind: "PERCENTAGE" as const, depositValue: 10001 },
      { depositKind: "NONE" as const, depositValue: 1 },
    ];
    for (const change of attempts) {
      await assert.rejects(
        db.update(services).set(change).where(eq(services.id, service.id)),
        (error) => isCheckViolation(error, "services_deposit_rule"),
        JSON.stringify(change),
      );
    }
    // Buffers stay within four hours: the slot search's index bounds depend on it.
    await assert.rejects(
      db.update(services).set({ bufferBeforeMinutes: 241 }).where(eq(services.id, service.id)),
      (error) => isCheckViolation(error, "services_buffers"),
    );
    const [row] = await db.select().from(services).where(eq(services.id, service.id));
    assert.equal(row.priceAmount, 5000);
    assert.equal(row.depositValue, 2000);
  } finally {
    await testApp.close();
  }
});
