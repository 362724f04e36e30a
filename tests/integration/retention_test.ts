/** The daily purge removes only what is past keeping. */
import assert from "node:assert/strict";
import { purgeExpired } from "../../db/retention.ts";
import { idempotencyKeys, jobs, outbox, processedMessages, userTokens } from "../../db/schema.ts";
import { makeTestApp } from "../support/app.ts";
import { makeUser } from "../support/users.ts";

Deno.test("purgeExpired keeps what is still needed and removes the rest", async () => {
  const now = new Date("2026-11-23T12:00:00Z");
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => now });
  const db = testApp.deps.database.db;
  const day = 24 * 3_600_000;
  const ago = (days: number) => new Date(now.getTime() - days * day);
  try {
    const user = await makeUser(testApp);
    await db.batch([
      db.insert(idempotencyKeys).values([
        { userId: user.id, key: "old", requestHash: "h", expiresAt: ago(1) },
        { userId: user.id, key: "live", requestHash: "h", expiresAt: new Date(now.getTime() + day) },
      ]),
      db.insert(processedMessages).values([
        { source: "stripe", messageId: "evt_old", processedAt: ago(31) },
        { source: "stripe", messageId: "evt_recent", processedAt: ago(2) },
      ]),
      db.insert(jobs).values([
        { name: "expire-holds", payload: {}, status: "DELIVERED", updatedAt: ago(8) },
        { name: "expire-holds", payload: {}, status: "DELIVERED", updatedAt: ago(1) },
        { name: "expire-holds", payload: {}, status: "DEAD", updatedAt: ago(60) },
        { name: "expire-holds", payload: {}, status: "PENDING", updatedAt: ago(60) },
      ]),
      db.insert(outbox).values([
        { topic: "t", payload: {}, deduplicationId: "relayed-old", publishedAt: ago(31) },
        { topic: "t", payload: {}, deduplicationId: "relayed-recent", publishedAt: ago(1) },
        { topic: "t", payload: {}, deduplicationId: "never-relayed", createdAt: ago(90) },
      ]),
      db.insert(userTokens).values([
        { userId: user.id, purpose: "RESET_PASSWORD", tokenHash: "a", expiresAt: ago(8) },
        { userId: user.id, purpose: "RESET_PASSWORD", tokenHash: "b", expiresAt: ago(1) },
      ]),
    ]);
    const purged = await purgeExpired(db, now);
    assert.deepEqual(purged, { idempotencyKeys: 1, processedMessages: 1, jobs: 1, outbox: 1, userTokens: 1 });
    // Dead and pending jobs, unrelayed outbox rows and live keys stay.
    assert.equal((await db.select().from(jobs)).filter((j) => j.name === "expire-holds").length, 3);
    assert.deepEqual((await db.select().from(idempotencyKeys)).map((k) => k.key), ["live"]);
    assert.deepEqual((await db.select().from(outbox)).map((o) => o.deduplicationId).sort(), [
      "never-relayed",
      "relayed-recent",
    ]);
    assert.deepEqual(await purgeExpired(db, now), {
      idempotencyKeys: 0,
      processedMessages: 0,
      jobs: 0,
      outbox: 0,
      userTokens: 0,
    });
  } finally {
    await testApp.close();
  }
});
