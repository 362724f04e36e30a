/**
 * From a booking change to the client's notifications: the outbox relay (prompt, and by the sweep
 * after a lost publish), channel preferences, sending through the dev log, the in-app inbox, and
 * reminders that fall silent after a cancellation; SMS only to a verified phone and within the
 * number's message budget.
 */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { jobs, notifications, outbox, users } from "../../db/schema.ts";
import { PermanentSendError } from "../../adapters/messaging.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

const NOW = new Date("2026-03-02T12:00:00Z");
const HOUR = 3_600_000;

Deno.test("notifications", async (t) => {
  let clock = NOW;
  const testApp = await makeTestApp({ LOG_LEVEL: "info", DEV_MODE: "1" }, { now: () => clock });
  const db = testApp.deps.database.db;
  const send = apiClient(testApp);
  const owner = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner, {
    time_zone: "America/New_York",
    currency: "USD",
    minimum_notice_minutes: 0,
  });
  const pro = await makeProfessional(send, owner, salon.id, { display_name: "Maya" });
  const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "08:00", end: "20:00" }));
  await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules });
  const service = await makeService(send, owner, salon.id, {
    name: "Lash lift",
    duration_minutes: 60,
    price_amount: 9000,
    professional_ids: [pro.id],
  });
  // Verified: this client books several times, beyond the one open booking of an unverified account.
  const client = await makeUser(testApp, "CLIENT", { verified: true });
  const book = (startsAt: string, who = client) =>
    send("POST", "/bookings", who, { service_id: service.id, professional_id: pro.id, starts_at: startsAt });
  const deliverAll = async () => {
    for (let i = 0; i < 5; i++) {
      const report = await testApp.dispatcher.runDue();
      if (report.delivered + report.retried + report.dead === 0) return;
    }
  };
  const mine = (userId: string) => db.select().from(notifications).where(eq(notifications.userId, userId));

  try {
    await t.step("a booking reaches the client in-app and by email, sent through the dev log once", async () => {
      const res = await book("2026-03-05T15:00:00Z");
      assert.equal(res.status, 201);
      await deliverAll();
      await deliverAll();
      const rows = await mine(client.id);
      assert.deepEqual(rows.map((r) => r.channel).sort(), ["EMAIL", "IN_APP"]);
      const email = rows.find((r) => r.channel === "EMAIL")!;
      assert.equal(email.status, "SENT");
      assert.equal(email.template, "booking_created");
      assert.match(email.body, /Lash lift/);
      const logged = testApp.logLines.filter((l) => String(l.message).startsWith("dev mail") && l.to === client.email);
      assert.equal(logged.length, 1);
      // The log line names the recipient and subject, never the text.
      assert.deepEqual(Object.keys(logged[0]).sort(), ["level", "message", "read_at", "subject", "time", "to"]);
    });

    await t.step("the inbox: list, unread count, read one, read all; someone else's is not found", async () => {
      const count = await send("GET", "/notifications/unread-count", client);
      assert.equal(count.body.unread, 1);
      const list = await send("GET", "/notifications?unread=true", client);
      assert.equal(list.body.data.length, 1);
      const id = list.body.data[0].id;
      const stranger = await makeUser(testApp, "CLIENT");
      assert.equal((await send("PATCH", `/notifications/${id}/read`, stranger)).status, 404);
      const read = await send("PATCH", `/notifications/${id}/read`, client);
      assert.equal(read.body.read, true);
      assert.equal((await send("GET", "/notifications/unread-count", client)).body.unread, 0);
      assert.equal((await send("POST", "/notifications/read-all", client)).body.marked, 0);
    });

    await t.step("email switched off: the next booking notifies in-app only", async () => {
      const other = await makeUser(testApp, "CLIENT");
      const prefs = await send("PATCH", "/users/me/notification-preferences", other, { EMAIL: false });
      assert.deepEqual(prefs.body, { EMAIL: false, SMS: true, PUSH: true, IN_APP: true });
      assert.equal((await send("PATCH", "/users/me/notification-preferences", other, { FAX: true })).status, 400);
      assert.equal((await book("2026-03-05T17:00:00Z", other)).status, 201);
      await deliverAll();
      assert.deepEqual((await mine(other.id)).map((r) => r.channel), ["IN_APP"]);
    });

    await t.step(
      "a passing send failure is retried by the job; a permanent one is stored with its reason",
      async () => {
        const real = testApp.deps.messages.email;
        let calls = 0;
        testApp.deps.messages.email = {
          kind: "flaky",
          send() {
            calls++;
            return calls === 1 ? Promise.reject(new Error("provider timeout")) : Promise.resolve();
          },
        };
        const flaky = await makeUser(testApp, "CLIENT");
        assert.equal((await book("2026-03-05T18:00:00Z", flaky)).status, 201);
        await deliverAll();
        const [email] = (await mine(flaky.id)).filter((r) => r.channel === "EMAIL");
        assert.deepEqual([email.status, email.attempts, calls], ["SENT", 2, 2]);

        testApp.deps.messages.email = {
          kind: "refusing",
          send: () => Promise.reject(new PermanentSendError("mailbox does not exist")),
        };
        const unreachable = await makeUser(testApp, "CLIENT");
        assert.equal((await book("2026-03-05T19:00:00Z", unreachable)).status, 201);
        await deliverAll();
        const [failed] = (await mine(unreachable.id)).filter((r) => r.channel === "EMAIL");
        assert.equal(failed.status, "FAILED");
        assert.match(failed.lastError ?? "", /mailbox does not exist/);
        testApp.deps.messages.email = real;
      },
    );

    await t.step("a row whose prompt relay was lost is relayed by the sweep", async () => {
      const other = await makeUser(testApp, "CLIENT");
      // As if the process died between the commit and the publish: an outbox row, no job for it.
      await db.insert(outbox).values({
        topic: "email.password_reset",
        payload: { user_id: other.id, to: other.email, locale: "en", token: "code-from-the-outbox" },
        deduplicationId: `email.password_reset:lost-${other.id}`,
      });
      await testApp.dispatcher.publishSchedules();
      await deliverAll();
      const rows = await mine(other.id);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].template, "password_reset");
      assert.equal(rows[0].status, "SENT");
      // The code reached the person (here: the dev mailbox), is in no log line, and is kept neither
      // in the outbox nor in the record.
      assert.match(testApp.deps.devMailbox!.list([other.email])[0].body, /code-from-the-outbox/);
      assert.ok(testApp.logLines.some((l) => l.to === other.email));
      assert.ok(!testApp.logLines.some((l) => JSON.stringify(l).includes("code-from-the-outbox")));
      assert.doesNotMatch(rows[0].body, /code-from-the-outbox/);
      const [relayed] = await db.select().from(outbox)
        .where(eq(outbox.deduplicationId, `email.password_reset:lost-${other.id}`));
      assert.equal((relayed.payload as { token?: string }).token, undefined);
      assert.ok(relayed.publishedAt);
    });

    await t.step(
      "reminders at 24 and 2 real hours before, also across the DST change; silent after a cancel",
      async () => {
        // 12:00 EDT on Sunday 8 March, the day clocks spring forward: 24 real hours before is 11:00 EST the day before.
        const res = await book("2026-03-08T16:00:00Z");
        assert.equal(res.status, 201, JSON.stringify(res.body));
        await deliverAll();
        const reminders = await db.select().from(jobs).where(eq(jobs.name, "remind"));
        const forThis = reminders.filter((j) => (j.payload as { booking_id: string }).booking_id === res.body.id);
        assert.deepEqual(
          forThis.map((j) => j.notBefore.toISOString()).sort(),
          [new Date(Date.parse("2026-03-08T16:00:00Z") - 24 * HOUR).toISOString(), "2026-03-08T14:00:00.000Z"].sort(),
        );
        assert.equal((await send("PATCH", `/bookings/${res.body.id}/cancel`, client, {})).status, 200);
        clock = new Date("2026-03-08T14:30:00Z");
        await deliverAll();
        const sent = await db.select().from(notifications)
          .where(and(eq(notifications.bookingId, res.body.id), eq(notifications.template, "booking_reminder")));
        assert.equal(sent.length, 0);
        const cancelled = await db.select().from(notifications)
          .where(and(eq(notifications.bookingId, res.body.id), eq(notifications.template, "booking_cancelled")));
        assert.ok(cancelled.length >= 1);
        clock = NOW;
      },
    );

    await t.step("a confirmed booking gets its reminder when due", async () => {
      const res = await book("2026-03-06T15:00:00Z");
      await deliverAll();
      clock = new Date(Date.parse("2026-03-06T15:00:00Z") - 2 * HOUR);
      await deliverAll();
      const sent = await db.select().from(notifications)
        .where(and(eq(notifications.bookingId, res.body.id), eq(notifications.template, "booking_reminder")));
      assert.deepEqual(sent.map((n) => n.channel).sort(), ["EMAIL", "EMAIL", "IN_APP", "IN_APP"]);
      clock = NOW;
    });

    await t.step("the salon chooses its reminder hours", async () => {
      const patched = await send("PATCH", `/salons/${salon.id}`, owner, { reminder_hours: [48] });
      assert.deepEqual(patched.body.reminder_hours, [48]);
      assert.equal((await send("PATCH", `/salons/${salon.id}`, owner, { reminder_hours: [2, 2] })).status, 400);
      const res = await book("2026-03-07T15:00:00Z");
      await deliverAll();
      const scheduled = (await db.select().from(jobs).where(eq(jobs.name, "remind")))
        .filter((j) => (j.payload as { booking_id: string }).booking_id === res.body.id);
      assert.deepEqual(scheduled.map((j) => j.notBefore.toISOString()), ["2026-03-05T15:00:00.000Z"]);
    });
  } finally {
    await testApp.close();
  }
});

Deno.test("booking notices by SMS: only to a verified phone, and within the number's budget", async (t) => {
  let clock = NOW;
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => clock });
  const db = testApp.deps.database.db;
  const send = apiClient(testApp);
  const texts: { to: string; body: string }[] = [];
  testApp.deps.messages.sms = {
    kind: "capture",
    send(message) {
      texts.push({ to: message.to, body: message.body });
      return Promise.resolve();
    },
  };
  const owner = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner, {
    time_zone: "America/New_York",
    currency: "USD",
    minimum_notice_minutes: 0,
  });
  const pro = await makeProfessional(send, owner, salon.id);
  const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "08:00", end: "20:00" }));
  await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules });
  const service = await makeService(send, owner, salon.id, {
    duration_minutes: 30,
    price_amount: 5000,
    professional_ids: [pro.id],
  });
  let client = await makeUser(testApp, "CLIENT");
  /** Moves the clock, and signs the client in again (access tokens live 30 minutes). */
  const later = async (ms: number) => {
    clock = new Date(clock.getTime() + ms);
    const pair = await send("POST", "/auth/login", null, { email: client.email, password: client.password });
    client = { ...client, accessToken: pair.body.access_token };
  };
  // A verified email: the booking limits of unverified accounts are not what this test is about.
  await db.update(users).set({ verified: true }).where(eq(users.id, client.id));
  const deliverAll = async () => {
    for (let i = 0; i < 6; i++) {
      const report = await testApp.dispatcher.runDue();
      if (report.delivered + report.retried + report.dead === 0) return;
    }
  };
  let slot = Date.parse("2026-03-05T14:00:00Z");
  const bookAndCancel = async (cancel = true) => {
    const booked = await send("POST", "/bookings", client, {
      service_id: service.id,
      professional_id: pro.id,
      starts_at: new Date(slot).toISOString(),
    });
    assert.equal(booked.status, 201, JSON.stringify(booked.body));
    slot += HOUR;
    if (cancel) assert.equal((await send("PATCH", `/bookings/${booked.body.id}/cancel`, client, {})).status, 200);
    await deliverAll();
    return booked.body.id as string;
  };
  const smsOf = async (bookingId: string) =>
    (await db.select().from(notifications).where(eq(notifications.bookingId, bookingId)))
      .filter((n) => n.channel === "SMS");
  const verifyPhone = async (phone: string) => {
    assert.equal((await send("PATCH", "/users/me", client, { phone })).status, 200);
    assert.equal((await send("POST", "/users/me/phone/verification", client)).status, 202);
    await deliverAll();
    const code = /\b(\d{6})\b/.exec(texts.filter((m) => m.to === phone).at(-1)!.body)![1];
    const confirmed = await send("POST", "/users/me/phone/verification/confirm", client, { code });
    assert.equal(confirmed.body.phone_verified, true);
  };

  try {
    await t.step("booking and cancellation notices never text an unverified phone", async () => {
      await send("PATCH", "/users/me", client, { phone: "+1 212 555 0100" });
      const bookingId = await bookAndCancel();
      const rows = await db.select().from(notifications).where(eq(notifications.bookingId, bookingId));
      assert.deepEqual(
        rows.map((n) => `${n.template}:${n.channel}`).sort(),
        ["booking_cancelled:EMAIL", "booking_cancelled:IN_APP", "booking_created:EMAIL", "booking_created:IN_APP"],
      );
      assert.equal(texts.filter((m) => m.to === "+1 212 555 0100").length, 0);
    });

    await t.step("once the phone is verified, they do go by SMS", async () => {
      await verifyPhone("+1 212 555 0100");
      const bookingId = await bookAndCancel();
      const sms = await smsOf(bookingId);
      assert.deepEqual(sms.map((n) => `${n.template}:${n.status}`).sort(), [
        "booking_cancelled:SENT",
        "booking_created:SENT",
      ]);
      // One code, then the two notices.
      assert.equal(texts.filter((m) => m.to === "+1 212 555 0100").length, 3);
    });

    await t.step("an SMS recorded before the phone changed is not sent to the new, unverified one", async () => {
      const booked = await send("POST", "/bookings", client, {
        service_id: service.id,
        professional_id: pro.id,
        starts_at: new Date(slot).toISOString(),
      });
      slot += HOUR;
      await testApp.dispatcher.runDue(); // the relay records the notices and queues their sends
      assert.equal((await send("PATCH", "/users/me", client, { phone: "+1 212 555 0199" })).status, 200);
      await deliverAll();
      const [sms] = await smsOf(booked.body.id);
      assert.equal(sms.status, "SUPPRESSED");
      assert.match(sms.lastError ?? "", /not verified/);
      assert.equal(texts.filter((m) => m.to === "+1 212 555 0199").length, 0);
      await send("PATCH", `/bookings/${booked.body.id}/cancel`, client, {});
      await deliverAll();
    });

    await t.step("the 6th booking SMS to one number within an hour is recorded SUPPRESSED, not sent", async () => {
      await later(3 * HOUR);
      const phone = "+1 212 555 0142";
      await verifyPhone(phone);
      const sms: (typeof notifications.$inferSelect)[] = [];
      for (let i = 0; i < 3; i++) sms.push(...await smsOf(await bookAndCancel()));
      sms.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.template.localeCompare(b.template));
      assert.deepEqual(sms.map((n) => n.status), ["SENT", "SENT", "SENT", "SENT", "SENT", "SUPPRESSED"]);
      assert.match(sms[5].lastError ?? "", /message limit reached: at most 5 per hour per recipient/);
      assert.equal(texts.filter((m) => m.to === phone).length, 1 + 5);
      // In-app and email notices still go.
      const last = await db.select().from(notifications).where(eq(notifications.bookingId, sms[5].bookingId!));
      const cancelled = last.filter((n) => n.template === sms[5].template).map((n) => `${n.channel}:${n.status}`);
      assert.deepEqual(cancelled.sort(), ["EMAIL:SENT", "IN_APP:PENDING", "SMS:SUPPRESSED"]);
      // An hour and more later the number has room again.
      await later(2 * HOUR);
      const again = await smsOf(await bookAndCancel(false));
      assert.deepEqual(again.map((n) => n.status), ["SENT"]);
    });
  } finally {
    await testApp.close();
  }
});
