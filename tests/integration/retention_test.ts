/** The daily purge removes only what is past keeping. */
import assert from "node:assert/strict";
import { purgeExpired } from "../../db/retention.ts";
import {
  auditEvents,
  idempotencyKeys,
  jobs,
  notifications,
  outbox,
  paymentLogs,
  processedMessages,
  professionalInvitations,
  professionals,
  refreshTokenFamilies,
  refreshTokens,
  salons,
  userTokens,
} from "../../db/schema.ts";
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
    const [salon] = await db.insert(salons).values({
      ownerId: user.id,
      name: "Kept",
      timeZone: "America/Sao_Paulo",
      currency: "BRL",
    }).returning();
    const [waiting, linked] = await db.insert(professionals).values([
      { salonId: salon.id, displayName: "Waiting" },
      { salonId: salon.id, userId: user.id, displayName: "Linked" },
    ]).returning();
    const invitation = (
      id: string,
      tokenHash: string,
      fields: { expiresAt: Date; usedAt?: Date; createdAt: Date },
    ) => ({
      professionalId: id,
      email: "pro@example.com",
      tokenHash,
      ...fields,
    });
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
        { name: "expire-holds", payload: {}, status: "DEAD", updatedAt: ago(10) },
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
      db.insert(professionalInvitations).values([
        // Replaced by a newer one long ago: gone.
        invitation(waiting.id, "replaced", { createdAt: ago(30), expiresAt: ago(23), usedAt: ago(20) }),
        // The latest of a professional still waiting: kept (the salon may resend it), though lapsed.
        invitation(waiting.id, "latest", { createdAt: ago(20), expiresAt: ago(13) }),
        // Accepted long ago, and accepted recently.
        invitation(linked.id, "accepted-old", { createdAt: ago(30), expiresAt: ago(23), usedAt: ago(25) }),
        invitation(linked.id, "accepted-recent", { createdAt: ago(3), expiresAt: ago(-4), usedAt: ago(1) }),
      ]),
    ]);
    const [lapsedFamily, revokedFamily, liveFamily, recentlyRevoked] = await db.insert(refreshTokenFamilies).values([
      { userId: user.id, createdAt: ago(40) },
      { userId: user.id, createdAt: ago(20), revokedAt: ago(8) },
      { userId: user.id, createdAt: ago(20) },
      { userId: user.id, createdAt: ago(20), revokedAt: ago(2) },
    ]).returning();
    const message = (dedupeKey: string, fields: Partial<typeof notifications.$inferInsert>) => ({
      userId: user.id,
      channel: "EMAIL" as const,
      template: "booking_confirmed",
      locale: "en",
      subject: "Subject",
      body: "Full text",
      dedupeKey,
      ...fields,
    });
    await db.batch([
      db.insert(refreshTokens).values([
        { familyId: lapsedFamily.id, tokenHash: "lapsed", expiresAt: ago(8) },
        { familyId: revokedFamily.id, tokenHash: "revoked", expiresAt: ago(-10) },
        { familyId: liveFamily.id, tokenHash: "live-old", expiresAt: ago(6), usedAt: ago(10) },
        { familyId: liveFamily.id, tokenHash: "live", expiresAt: ago(-20) },
        { familyId: recentlyRevoked.id, tokenHash: "recently-revoked", expiresAt: ago(-10) },
      ]),
      db.insert(notifications).values([
        message("sent-old", { status: "SENT", createdAt: ago(91) }),
        message("failed-old", { status: "FAILED", channel: "SMS", subject: null, createdAt: ago(120) }),
        message("sent-recent", { status: "SENT", createdAt: ago(89) }),
        message("pending-old", { status: "PENDING", createdAt: ago(120) }),
        message("inbox-old", { status: "SENT", channel: "IN_APP", createdAt: ago(400) }),
      ]),
      db.insert(auditEvents).values([
        { action: "salon.update", entityType: "salon", createdAt: ago(366) },
        { action: "salon.update", entityType: "salon", createdAt: ago(300) },
        { action: "booking.cancel", entityType: "booking", createdAt: ago(366) },
        { action: "refund.create", entityType: "refund", createdAt: ago(5 * 365 + 1) },
      ]),
      db.insert(paymentLogs).values([
        { kind: "create_deposit", provider: "MOCK", status: "ok", createdAt: ago(5 * 365 + 1) },
        { kind: "create_deposit", provider: "MOCK", status: "ok", createdAt: ago(4 * 365) },
      ]),
    ]);
    const purged = await purgeExpired(db, now);
    assert.deepEqual(purged, {
      idempotencyKeys: 1,
      processedMessages: 1,
      jobs: 1,
      outbox: 1,
      userTokens: 1,
      professionalInvitations: 2,
      deadJobs: 1,
      refreshTokens: 2,
      refreshTokenFamilies: 2,
      notificationTexts: 2,
      auditEvents: 2,
      paymentLogs: 1,
    });
    assert.deepEqual(
      (await db.select().from(refreshTokens)).map((r) => r.tokenHash).filter((h) => h.length < 20).sort(),
      [
        "live",
        "live-old",
        "recently-revoked",
      ],
    );
    assert.deepEqual(
      (await db.select().from(refreshTokenFamilies)).map((f) => f.id)
        .filter((id) => [lapsedFamily.id, revokedFamily.id, liveFamily.id, recentlyRevoked.id].includes(id)).sort(),
      [
        liveFamily.id,
        recentlyRevoked.id,
      ].sort(),
    );
    // The rows stay as the record of what was sent; only the old email/SMS texts are gone.
    const texts = Object.fromEntries(
      (await db.select().from(notifications)).map((n) => [n.dedupeKey, [n.subject, n.body]]),
    );
    assert.deepEqual(texts, {
      "sent-old": [null, ""],
      "failed-old": [null, ""],
      "sent-recent": ["Subject", "Full text"],
      "pending-old": ["Subject", "Full text"],
      "inbox-old": ["Subject", "Full text"],
    });
    assert.deepEqual(
      (await db.select().from(auditEvents)).filter((a) => a.entityType !== "user").map((a) => a.entityType).sort(),
      ["booking", "salon"],
    );
    assert.equal((await db.select().from(paymentLogs)).length, 1);
    assert.deepEqual((await db.select().from(professionalInvitations)).map((i) => i.tokenHash).sort(), [
      "accepted-recent",
      "latest",
    ]);
    // Recent dead and pending jobs, unrelayed outbox rows and live keys stay.
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
      professionalInvitations: 0,
      deadJobs: 0,
      refreshTokens: 0,
      refreshTokenFamilies: 0,
      notificationTexts: 0,
      auditEvents: 0,
      paymentLogs: 0,
    });
  } finally {
    await testApp.close();
  }
});
