/**
 * Job callbacks and the embedded dispatcher: QStash signatures verified by @upstash/qstash's
 * Receiver, one effect per message id, retries to the dead letter, hold expiry and no-show detection.
 */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { auditEvents, bookings, jobs, notifications, outbox } from "../../db/schema.ts";
import { EmbeddedDispatcher } from "../../jobs/dispatcher.ts";
import { HANDLERS } from "../../jobs/handlers.ts";
import { signLikeQStash } from "../../jobs/signature.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp, TEST_SIGNING_KEYS, type TestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

const NOW = new Date("2026-06-01T12:00:00Z");
const MINUTE = 60_000;

async function deliver(
  testApp: TestApp,
  name: string,
  payload: unknown,
  options: {
    key?: string;
    signedUrl?: string;
    messageId?: string;
    ageSeconds?: number;
    tamper?: boolean;
    /** A signature captured from an earlier delivery, replayed as is. */
    signature?: string;
  } = {},
) {
  const url = `http://localhost/jobs/${name}`;
  const body = JSON.stringify(payload);
  const signature = options.signature ?? await signLikeQStash({
    url: options.signedUrl ?? url,
    body,
    key: options.key ?? TEST_SIGNING_KEYS.current,
    nowSeconds: Math.floor(Date.now() / 1000) - (options.ageSeconds ?? 0),
  });
  const res = await testApp.app.request(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "upstash-signature": signature,
      "upstash-message-id": options.messageId ?? crypto.randomUUID(),
    },
    body: options.tamper ? body.replace("}", ',"x":1}') : body,
  });
  return { status: res.status, body: await res.json(), signature };
}

Deno.test("jobs", async (t) => {
  let clock = NOW;
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => clock });
  const db = testApp.deps.database.db;
  const send = apiClient(testApp);
  const owner = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0 });
  const pro = await makeProfessional(send, owner, salon.id);
  const service = await makeService(send, owner, salon.id, {
    duration_minutes: 60,
    price_amount: 10000,
    professional_ids: [pro.id],
  });
  const client = await makeUser(testApp, "CLIENT");
  const insertBooking = async (fields: Partial<typeof bookings.$inferInsert> & { startsAt: Date }) => {
    const endsAt = new Date(fields.startsAt.getTime() + 60 * MINUTE);
    const [row] = await db.insert(bookings).values({
      salonId: salon.id,
      clientId: client.id,
      professionalId: pro.id,
      serviceId: service.id,
      endsAt,
      blockStartsAt: fields.startsAt,
      blockEndsAt: endsAt,
      status: "CONFIRMED",
      priceAmount: 10000,
      currency: "BRL",
      ...fields,
    }).returning();
    return row;
  };
  const statusOf = async (id: string) => (await db.select().from(bookings).where(eq(bookings.id, id)))[0].status;

  try {
    await t.step(
      "signatures: valid and next-key ones pass; missing, altered, other URL, expired or foreign ones are 401",
      async () => {
        assert.equal((await deliver(testApp, "expire-holds", {})).status, 200);
        assert.equal((await deliver(testApp, "expire-holds", {}, { key: TEST_SIGNING_KEYS.next })).status, 200);
        assert.equal((await deliver(testApp, "expire-holds", {}, { tamper: true })).status, 401);
        assert.equal(
          (await deliver(testApp, "expire-holds", {}, { signedUrl: "http://localhost/jobs/detect-no-shows" })).status,
          401,
        );
        assert.equal((await deliver(testApp, "expire-holds", {}, { ageSeconds: 600 })).status, 401);
        assert.equal(
          (await deliver(testApp, "expire-holds", {}, { key: "sig_someone_elses_key_0123456789" })).status,
          401,
        );
        const unsigned = await testApp.app.request("http://localhost/jobs/expire-holds", {
          method: "POST",
          body: "{}",
        });
        assert.equal(unsigned.status, 401);
      },
    );

    await t.step(
      "one message id, delivered five times at once: one effect, the rest acknowledged as duplicates",
      async () => {
        const lapsed = await insertBooking({
          startsAt: new Date(NOW.getTime() + 26 * 60 * MINUTE),
          status: "PENDING",
          holdExpiresAt: new Date(NOW.getTime() - MINUTE),
        });
        const answers = await Promise.all(
          Array.from(
            { length: 5 },
            () => deliver(testApp, "expire-hold", { booking_id: lapsed.id }, { messageId: "m-1" }),
          ),
        );
        assert.deepEqual(
          answers.map((a) => a.status),
          [200, 200, 200, 200, 200],
        );
        assert.deepEqual(answers.map((a) => a.body.outcome).sort(), [
          "done",
          "duplicate",
          "duplicate",
          "duplicate",
          "duplicate",
        ]);
        assert.equal(await statusOf(lapsed.id), "EXPIRED");
        const audits = await db.select().from(auditEvents)
          .where(and(eq(auditEvents.entityId, lapsed.id), eq(auditEvents.action, "booking.expire")));
        assert.equal(audits.length, 1);
        // A captured request replayed under a new (unsigned) message id is recognised by its signature.
        const other = await insertBooking({
          startsAt: new Date(NOW.getTime() + 30 * 60 * MINUTE),
          status: "PENDING",
          holdExpiresAt: new Date(NOW.getTime() - MINUTE),
        });
        const first = await deliver(testApp, "expire-holds", {}, { messageId: "m-sweep-1" });
        assert.equal(first.body.outcome, "done");
        assert.equal(await statusOf(other.id), "EXPIRED");
        const replayed = await deliver(testApp, "expire-holds", {}, {
          messageId: "m-sweep-forged",
          signature: first.signature,
        });
        assert.equal(replayed.status, 200);
        assert.equal(replayed.body.outcome, "duplicate");
        // A stale job (the booking is no longer pending) is acknowledged without acting.
        const stale = await deliver(testApp, "expire-hold", { booking_id: lapsed.id });
        assert.deepEqual(stale.body, { outcome: "noop", changed: 0 });
      },
    );

    await t.step("a booking's hold expires through the dispatcher at the moment it lapses", async () => {
      const paid = await makeService(send, owner, salon.id, {
        duration_minutes: 60,
        price_amount: 20000,
        deposit: { kind: "FIXED", value: 5000 },
        professional_ids: [pro.id],
      });
      const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "09:00", end: "18:00" }));
      await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules });
      const booked = await send("POST", "/bookings", client, {
        service_id: paid.id,
        professional_id: pro.id,
        starts_at: "2026-06-03T13:00:00Z",
      });
      assert.equal(booked.status, 201, JSON.stringify(booked.body));
      assert.equal(booked.body.status, "PENDING");
      await testApp.dispatcher.runDue();
      assert.equal(await statusOf(booked.body.id), "PENDING");
      const [expiry] = await db.select().from(jobs).where(
        eq(jobs.deduplicationId, `expire-hold:${booked.body.id}:${booked.body.hold_expires_at}`),
      );
      assert.equal(expiry.notBefore.toISOString(), booked.body.hold_expires_at);
      assert.equal(expiry.status, "PENDING");
      clock = new Date(NOW.getTime() + 15 * MINUTE);
      await testApp.dispatcher.runDue();
      assert.equal(await statusOf(booked.body.id), "EXPIRED");
      const [delivered] = await db.select().from(jobs).where(eq(jobs.id, expiry.id));
      assert.equal(delivered.status, "DELIVERED");
      const queued = await db.select().from(outbox).where(
        eq(outbox.deduplicationId, `booking.expire:${booked.body.id}`),
      );
      assert.equal(queued.length, 1);
      clock = NOW;
    });

    await t.step("a lapsed hold nobody scheduled is caught by the sweep", async () => {
      const missed = await insertBooking({
        startsAt: new Date(NOW.getTime() + 50 * 60 * MINUTE),
        status: "PENDING",
        holdExpiresAt: new Date(NOW.getTime() - 5 * MINUTE),
      });
      await testApp.dispatcher.publishSchedules();
      await testApp.dispatcher.runDue();
      assert.equal(await statusOf(missed.id), "EXPIRED");
    });

    await t.step("no-shows: exactly at the tolerance yes; a minute before, checked in or completed, no", async () => {
      const atTolerance = await insertBooking({ startsAt: new Date(NOW.getTime() - 15 * MINUTE) });
      const early = await insertBooking({
        startsAt: new Date(NOW.getTime() - 14 * MINUTE),
        professionalId: (await makeProfessional(send, owner, salon.id)).id,
      });
      const present = await insertBooking({
        startsAt: new Date(NOW.getTime() - 3 * 60 * MINUTE),
        checkedInAt: new Date(NOW.getTime() - 3 * 60 * MINUTE),
      });
      const done = await insertBooking({ startsAt: new Date(NOW.getTime() - 5 * 60 * MINUTE), status: "COMPLETED" });
      const res = await deliver(testApp, "detect-no-shows", {});
      assert.equal(res.body.changed, 1);
      assert.equal(await statusOf(atTolerance.id), "NO_SHOW");
      assert.equal(await statusOf(early.id), "CONFIRMED");
      assert.equal(await statusOf(present.id), "CONFIRMED");
      assert.equal(await statusOf(done.id), "COMPLETED");
      const penalty = await db.select().from(outbox).where(
        eq(outbox.deduplicationId, `booking.no_show:${atTolerance.id}`),
      );
      assert.equal(penalty.length, 1);
    });

    await t.step("check-in: the professional or the salon, from an hour before; clients 403", async () => {
      const soon = await insertBooking({ startsAt: new Date(NOW.getTime() + 30 * MINUTE) });
      assert.equal((await send("PATCH", `/bookings/${soon.id}/check-in`, client)).status, 403);
      const res = await send("PATCH", `/bookings/${soon.id}/check-in`, owner);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.checked_in_at, NOW.toISOString());
      assert.equal((await send("PATCH", `/bookings/${soon.id}/check-in`, owner)).status, 409);
      const later = await insertBooking({ startsAt: new Date(NOW.getTime() + 5 * 60 * MINUTE) });
      assert.equal((await send("PATCH", `/bookings/${later.id}/check-in`, owner)).status, 409);
    });

    await t.step("a failing callback is retried with backoff, then dead-lettered, and can be re-driven", async () => {
      let calls = 0;
      const failing = new EmbeddedDispatcher({
        db,
        baseUrl: "http://localhost",
        keys: TEST_SIGNING_KEYS,
        now: () => clock,
        deliver: () => {
          calls++;
          return Promise.resolve(new Response("down", { status: 503 }));
        },
        maxAttempts: 3,
        backoffScale: 0,
      });
      // Everything else already delivered: this dispatcher sees only its own job.
      while ((await testApp.dispatcher.runDue()).delivered > 0) { /* drain */ }
      await failing.publish({ name: "expire-holds", payload: {}, deduplicationId: "always-fails" });
      const reports = [await failing.runDue(), await failing.runDue(), await failing.runDue(), await failing.runDue()];
      assert.deepEqual(reports.map((r) => [r.retried, r.dead]), [[1, 0], [1, 0], [0, 1], [0, 0]]);
      assert.equal(calls, 3);
      const [dead] = await db.select().from(jobs).where(eq(jobs.deduplicationId, "always-fails"));
      assert.equal(dead.status, "DEAD");
      assert.match(dead.lastError ?? "", /HTTP 503/);
      const admin = await makeUser(testApp, "ADMIN");
      const listed = await send("GET", "/admin/jobs", admin);
      assert.ok(listed.body.data.some((j: { id: string }) => j.id === dead.id));
      assert.equal((await send("POST", `/admin/jobs/${dead.id}/redrive`, owner)).status, 403);
      assert.equal((await send("POST", `/admin/jobs/${dead.id}/redrive`, admin)).status, 202);
      assert.equal((await send("POST", `/admin/jobs/${dead.id}/redrive`, admin)).status, 404);
      const [again] = await db.select().from(jobs).where(eq(jobs.id, dead.id));
      assert.deepEqual([again.status, again.attempts], ["PENDING", 0]);
    });

    await t.step(
      "dead letter: the handler's error is recorded, admins are told in-app, its send is FAILED, redrive is audited",
      async () => {
        while ((await testApp.dispatcher.runDue()).delivered > 0) { /* drain */ }
        const admin = await makeUser(testApp, "ADMIN");
        const original = HANDLERS["reconcile-payments"].run;
        HANDLERS["reconcile-payments"].run = () =>
          Promise.reject(new TypeError("provider said no to postgres://app:s3cret@db.internal/main"));
        try {
          const direct = await deliver(testApp, "reconcile-payments", {});
          assert.equal(direct.status, 500);
          assert.match(direct.body.job_error, /^TypeError: provider said no/);
          assert.doesNotMatch(direct.body.job_error, /s3cret/);
          const viaHttp = new EmbeddedDispatcher({
            db,
            baseUrl: "http://localhost",
            keys: TEST_SIGNING_KEYS,
            now: () => clock,
            deliver: (request) => Promise.resolve(testApp.app.request(request)),
            maxAttempts: 1,
            backoffScale: 0,
          });
          await viaHttp.publish({ name: "reconcile-payments", payload: {}, deduplicationId: "reconcile-fails" });
          assert.deepEqual(await viaHttp.runDue(), { delivered: 0, retried: 0, dead: 1 });
          const [dead] = await db.select().from(jobs).where(eq(jobs.deduplicationId, "reconcile-fails"));
          assert.equal(dead.status, "DEAD");
          assert.match(dead.lastError ?? "", /^HTTP 500: TypeError: provider said no/);
          const alerts = await db.select().from(notifications).where(
            and(eq(notifications.userId, admin.id), eq(notifications.template, "job_dead")),
          );
          assert.equal(alerts.length, 1);
          assert.equal(alerts[0].channel, "IN_APP");
          assert.match(alerts[0].body, /reconcile-payments/);
          assert.match(alerts[0].body, /provider said no/);
          const inbox = await send("GET", "/notifications", admin);
          assert.ok(inbox.body.data.some((n: { id: string }) => n.id === alerts[0].id), JSON.stringify(inbox.body));

          assert.equal((await send("POST", `/admin/jobs/${dead.id}/redrive`, admin)).status, 202);
          const audits = await db.select().from(auditEvents).where(
            and(eq(auditEvents.entityId, dead.id), eq(auditEvents.action, "job.redrive")),
          );
          assert.equal(audits.length, 1);
          assert.equal(audits[0].actorId, admin.id);
          assert.deepEqual([audits[0].fromState, audits[0].toState], ["DEAD", "PENDING"]);
          const data = audits[0].data as Record<string, unknown>;
          assert.equal(data.previous_attempts, 1);
          assert.equal(data.name, "reconcile-payments");
          assert.match(String(data.last_error), /provider said no/);
          // Refused (404) re-drives write nothing.
          assert.equal((await send("POST", `/admin/jobs/${dead.id}/redrive`, admin)).status, 404);
          assert.equal(
            (await db.select().from(auditEvents).where(eq(auditEvents.entityId, dead.id))).length,
            1,
          );
          await db.delete(jobs).where(eq(jobs.id, dead.id));
        } finally {
          HANDLERS["reconcile-payments"].run = original;
        }

        // A send whose job dies before it ever started is FAILED, not PENDING forever.
        const [message] = await db.insert(notifications).values({
          userId: client.id,
          channel: "EMAIL",
          template: "booking_confirmed",
          locale: "en",
          subject: "s",
          body: "b",
          dedupeKey: "dead-send-test",
        }).returning();
        const down = new EmbeddedDispatcher({
          db,
          baseUrl: "http://localhost",
          keys: TEST_SIGNING_KEYS,
          now: () => clock,
          deliver: () => Promise.resolve(new Response("down", { status: 503 })),
          maxAttempts: 1,
          backoffScale: 0,
        });
        await down.publish({ name: "send-notification", payload: { notification_id: message.id } });
        assert.equal((await down.runDue()).dead, 1);
        const [failed] = await db.select().from(notifications).where(eq(notifications.id, message.id));
        assert.equal(failed.status, "FAILED");
        assert.match(failed.lastError ?? "", /delivery job dead: HTTP 503/);
      },
    );

    await t.step("the relay drops an old notice about a past booking (no email) and sends a fresh one", async () => {
      const past = await insertBooking({
        startsAt: new Date(NOW.getTime() - 9 * 24 * 60 * MINUTE),
        status: "CANCELLED",
      });
      const coming = await insertBooking({ startsAt: new Date(NOW.getTime() + 3 * 24 * 60 * MINUTE) });
      await db.insert(outbox).values([
        {
          topic: "booking.cancel",
          payload: { booking_id: past.id, by: "CLIENT", fee: 0, refund: 0 },
          deduplicationId: `booking.cancel:${past.id}`,
          createdAt: new Date(NOW.getTime() - 10 * 24 * 60 * MINUTE),
          availableAt: new Date(NOW.getTime() - 10 * 24 * 60 * MINUTE),
        },
        {
          topic: "booking.approve",
          payload: { booking_id: coming.id },
          deduplicationId: `booking.approve:${coming.id}`,
          createdAt: new Date(NOW.getTime() - 5 * MINUTE),
          availableAt: new Date(NOW.getTime() - 5 * MINUTE),
        },
      ]);
      const relayed = await deliver(testApp, "relay-outbox", {});
      assert.equal(relayed.status, 200, JSON.stringify(relayed.body));
      const rows = await db.select().from(outbox).where(eq(outbox.deduplicationId, `booking.cancel:${past.id}`));
      assert.ok(rows[0].publishedAt, "the dropped row is marked relayed");
      assert.deepEqual(await db.select().from(notifications).where(eq(notifications.bookingId, past.id)), []);
      const sent = await db.select().from(notifications).where(eq(notifications.bookingId, coming.id));
      assert.deepEqual(sent.map((n) => n.channel).sort(), ["EMAIL", "IN_APP"]);
    });
  } finally {
    await testApp.close();
  }
});
