/**
 * Sending a notification exactly once: concurrent deliveries of one send job during a slow provider
 * call send once; a delivery that crashed between the provider call and the record ("maybe sent")
 * is retried once after its deadline, then given up. On the embedded database and, when it
 * answers, on the machine's PostgreSQL (real parallel row locks).
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import type { MessageSender, OutgoingMessage } from "../../adapters/messaging.ts";
import { MAYBE_SENT_NOT_RETRIED, RESENT_AFTER_LOST_RESULT } from "../../db/notifications.ts";
import { notifications } from "../../db/schema.ts";
import { signLikeQStash } from "../../jobs/signature.ts";
import { makeTestApp, TEST_SIGNING_KEYS, type TestApp } from "../support/app.ts";
import { createScratchDatabase, postgresAvailable } from "../support/postgres.ts";
import { makeUser } from "../support/users.ts";

const NOW = new Date("2026-04-01T12:00:00Z");
const SECOND = 1000;

/** An email provider whose calls wait until released; it records what it was asked to send. */
function slowSender() {
  const calls: OutgoingMessage[] = [];
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  const called: (() => void)[] = [];
  const sender: MessageSender = {
    kind: "slow",
    async send(message) {
      calls.push(message);
      called.splice(0).forEach((notify) => notify());
      await released;
    },
  };
  /** Resolves once the provider has been called `n` times in all. */
  const calledTimes = async (n: number) => {
    while (calls.length < n) await new Promise<void>((resolve) => called.push(resolve));
  };
  return { sender, calls, release, calledTimes };
}

async function deliverSend(testApp: TestApp, notificationId: string, messageId: string) {
  const url = "http://localhost/jobs/send-notification";
  const body = JSON.stringify({ notification_id: notificationId });
  const signature = await signLikeQStash({
    url,
    body,
    key: TEST_SIGNING_KEYS.current,
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  const res = await testApp.app.request(url, {
    method: "POST",
    headers: { "content-type": "application/json", "upstash-signature": signature, "upstash-message-id": messageId },
    body,
  });
  return { status: res.status, body: await res.json() };
}

async function pendingEmail(testApp: TestApp, fields: Partial<typeof notifications.$inferInsert> = {}) {
  const user = await makeUser(testApp, "CLIENT");
  const [row] = await testApp.deps.database.db.insert(notifications).values({
    userId: user.id,
    channel: "EMAIL",
    template: "booking_created",
    locale: "en",
    subject: "Your booking",
    body: "See you soon",
    ...fields,
  }).returning();
  return { row, user };
}

async function sendingOnce(url: string | undefined) {
  let clock = NOW;
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { url, now: () => clock });
  const db = testApp.deps.database.db;
  const find = async (id: string) => (await db.select().from(notifications).where(eq(notifications.id, id)))[0];
  /** Runs the dispatcher until it has nothing due, without waiting on deliveries left in flight. */
  const sweep = async () => {
    await testApp.dispatcher.publishSchedules();
    await testApp.dispatcher.runDue();
  };
  return {
    testApp,
    find,
    sweep,
    later(ms: number) {
      clock = new Date(clock.getTime() + ms);
    },
  };
}

for (const database of ["embedded", "postgres"] as const) {
  Deno.test({
    name: `notification sends on ${database === "embedded" ? "the embedded database" : "PostgreSQL"}`,
    ignore: database === "postgres" && !postgresAvailable,
    async fn(t) {
      const scratch = database === "postgres" ? await createScratchDatabase() : undefined;
      const { testApp, find, sweep, later } = await sendingOnce(scratch?.url);
      try {
        await t.step(
          "five concurrent deliveries of one send job during a slow provider call: one email, one SENT",
          async () => {
            const slow = slowSender();
            testApp.deps.messages.email = slow.sender;
            const { row, user } = await pendingEmail(testApp);
            const answers = Promise.all(
              Array.from({ length: 5 }, () => deliverSend(testApp, row.id, "msg-send-1")),
            );
            await slow.calledTimes(1);
            // The four other deliveries answer while the winner's provider call is still in flight.
            await new Promise((resolve) => setTimeout(resolve, 200));
            slow.release();
            const results = await answers;
            assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200]);
            assert.deepEqual(results.map((r) => r.body.outcome).sort(), ["done", "noop", "noop", "noop", "noop"]);
            assert.equal(slow.calls.length, 1);
            assert.equal(slow.calls[0].to, user.email);
            assert.equal(slow.calls[0].idempotencyKey, `notification:${row.id}`);
            const sent = await find(row.id);
            assert.deepEqual([sent.status, sent.attempts], ["SENT", 1]);
            // Delivered again later: nothing more goes out.
            assert.equal((await deliverSend(testApp, row.id, "msg-send-1")).body.outcome, "noop");
            assert.equal(slow.calls.length, 1);
          },
        );

        await t.step(
          "a delivery that crashed mid-send is retried once after the send deadline, then not again",
          async () => {
            const slow = slowSender();
            testApp.deps.messages.email = slow.sender;
            // As if a delivery claimed the row, called the provider and died before recording.
            const { row } = await pendingEmail(testApp, {
              status: "SENDING",
              sendingStartedAt: new Date(NOW.getTime() - 5 * SECOND),
              attempts: 1,
            });
            // Within the deadline the first call may still be in flight: no delivery acts.
            assert.equal((await deliverSend(testApp, row.id, "msg-early")).body.outcome, "noop");
            await sweep();
            await sweep();
            assert.equal(slow.calls.length, 0);

            // Past the deadline (10 s provider timeout and a margin), the next sweep (each minute) asks again: sent once more.
            later(61 * SECOND);
            await sweep();
            const retry = testApp.dispatcher.runDue(); // the send job the sweep published; its call hangs
            await slow.calledTimes(1);
            const retried = await find(row.id);
            assert.deepEqual([retried.status, retried.attempts, retried.lastError], [
              "SENDING",
              2,
              RESENT_AFTER_LOST_RESULT,
            ]);

            // That retry's result is lost too: the row is given up, never sent a third time.
            later(61 * SECOND);
            await sweep();
            await sweep();
            assert.equal((await deliverSend(testApp, row.id, "msg-late")).body.outcome, "noop");
            const givenUp = await find(row.id);
            assert.deepEqual([givenUp.status, givenUp.lastError], ["FAILED", MAYBE_SENT_NOT_RETRIED]);
            assert.equal(slow.calls.length, 1);
            later(10 * 60 * SECOND);
            await sweep();
            await sweep();
            assert.equal(slow.calls.length, 1);

            // The hung call returns after all: the message did go out, and the record says so.
            slow.release();
            await retry;
            assert.equal((await find(row.id)).status, "SENT");
            assert.equal(slow.calls.length, 1);
          },
        );
      } finally {
        await testApp.close();
        await scratch?.drop();
      }
    },
  });
}
