/** Catalog rules the database enforces by itself, so that no code path can write around them. */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { isCheckViolation } from "../../db/errors.ts";
import { services } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeSalon, makeService } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

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
    const [row] = await db.select().from(services).where(eq(services.id, service.id));
    assert.equal(row.priceAmount, 5000);
    assert.equal(row.depositValue, 2000);
  } finally {
    await testApp.close();
  }
});
