/**
 * `deno task bench` (last part): the embedded job dispatcher on an in-memory PGlite app, delivering
 * in-process through `app.fetch` with QStash-format signatures.
 * 1. Dispatch latency: 500 `expire-holds` jobs published one after another while `runDue(20)` runs
 *    continuously; latency is publish (row `created_at`) to DELIVERED (row `updated_at`).
 * 2. Outbox to notification: 300 `email.password_reset` outbox rows inserted at once, relayed and
 *    sent; latency is outbox `created_at` to notification `sent_at`.
 * Bounded: each part stops at its deadline and reports what was left undone.
 */
import { and, eq, inArray, like, sql } from "drizzle-orm";
import { jobs, notifications, outbox, processedMessages } from "../../db/schema.ts";
import { makeTestApp, type TestApp } from "../support/app.ts";
import { makeUser, type SignedInUser } from "../support/users.ts";

const DISPATCH_JOBS = 500;
const DISPATCH_DEADLINE_MS = 20_000;
const OUTBOX_ROWS = 300;
const OUTBOX_USERS = 5;
const OUTBOX_DEADLINE_MS = 60_000;
const BATCH = 20;
const DEDUPE_PREFIX = "bench-password-reset";

interface Latencies {
  count: number;
  p50?: number;
  p99?: number;
}

function percentile(sorted: number[], q: number): number | undefined {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function latencies(values: number[]): Latencies {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

const ms = (value: number | undefined) => (value === undefined ? "-" : value.toFixed(1)).padStart(8);

function row(measureName: string, count: number, seconds: number, perSecond: number | undefined, l?: Latencies) {
  console.log(
    `${measureName.padEnd(36)} ${String(count).padStart(6)} ${seconds.toFixed(2).padStart(8)} ${
      (perSecond === undefined ? "-" : perSecond.toFixed(1)).padStart(8)
    } ${ms(l?.p50)} ${ms(l?.p99)}`,
  );
}

/** Delivers due jobs until a round finds none (setup work that must not count in a measurement). */
async function drain(testApp: TestApp): Promise<void> {
  for (let round = 0; round < 100; round++) {
    const report = await testApp.dispatcher.runDue(BATCH);
    if (report.delivered + report.retried + report.dead === 0) return;
  }
  throw new Error("Cannot set up the benchmark: the job queue did not drain in 100 rounds");
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 0));

async function jobDispatchLatency(testApp: TestApp): Promise<string[]> {
  const db = testApp.deps.database.db;
  const notes: string[] = [];
  let publishing = true;
  const deadline = performance.now() + DISPATCH_DEADLINE_MS;
  const started = performance.now();
  const publisher = (async () => {
    try {
      for (let i = 0; i < DISPATCH_JOBS && performance.now() < deadline; i++) {
        await testApp.dispatcher.publish({ name: "expire-holds", payload: {} });
      }
    } finally {
      publishing = false;
    }
  })();
  let publishEnded = 0;
  publisher.then(() => publishEnded = performance.now(), () => {});
  const runner = (async () => {
    while (performance.now() < deadline) {
      const report = await testApp.dispatcher.runDue(BATCH);
      const idle = report.delivered + report.retried + report.dead === 0;
      if (idle && !publishing) return;
      // An idle round yields so the publisher gets the database in between.
      if (idle) await pause();
    }
  })();
  await Promise.all([publisher, runner]);
  const seconds = (performance.now() - started) / 1000;

  const rows = await db.select().from(jobs).where(eq(jobs.name, "expire-holds"));
  const delivered = rows.filter((r) => r.status === "DELIVERED");
  const lastDelivered = Math.max(...delivered.map((r) => r.updatedAt.getTime()));
  const firstPublished = Math.min(...rows.map((r) => r.createdAt.getTime()));
  const wait = delivered.map((r) => r.updatedAt.getTime() - r.createdAt.getTime());
  row(
    "job dispatch: published",
    rows.length,
    (publishEnded - started) / 1000,
    rows.length / ((publishEnded - started) / 1000),
  );
  // The span from the first publish to the last delivery, as the rows record them.
  const deliverySeconds = (lastDelivered - firstPublished) / 1000;
  row(
    "job dispatch: delivered",
    delivered.length,
    deliverySeconds,
    delivered.length / deliverySeconds,
    latencies(wait),
  );
  console.log(`  publisher and runDue(${BATCH}) loop finished after ${seconds.toFixed(2)} s`);

  const [{ processed }] = await db.select({ processed: sql<number>`count(*)::int` }).from(processedMessages)
    .where(inArray(processedMessages.messageId, rows.map((r) => r.id)));
  const retried = rows.filter((r) => r.attempts > 1);
  if (delivered.length !== DISPATCH_JOBS) {
    notes.push(`only ${delivered.length} of ${DISPATCH_JOBS} jobs delivered before the deadline`);
  }
  if (retried.length > 0) notes.push(`${retried.length} jobs took more than one attempt (delivered again)`);
  if (processed !== rows.length) notes.push(`${processed} processed messages for ${rows.length} jobs`);
  if (wait.some((w) => w < 0)) notes.push("negative latencies: the database clock and the dispatcher's disagree");
  const otherJobs = await db.select({ name: jobs.name, count: sql<number>`count(*)::int` }).from(jobs)
    .where(sql`${jobs.name} <> 'expire-holds'`).groupBy(jobs.name);
  if (otherJobs.length > 0) {
    notes.push(`other jobs in the queue: ${otherJobs.map((j) => `${j.name}×${j.count}`).join(" ")}`);
  }
  return notes;
}

async function outboxToNotification(testApp: TestApp): Promise<string[]> {
  const db = testApp.deps.database.db;
  const notes: string[] = [];
  const users: SignedInUser[] = [];
  for (let i = 0; i < OUTBOX_USERS; i++) users.push(await makeUser(testApp, "CLIENT"));
  // Registration writes its own outbox rows and relay jobs: relay and send them before measuring.
  await testApp.dispatcher.publish({ name: "relay-outbox", payload: {} });
  await drain(testApp);
  const jobsBefore = await db.select({ id: jobs.id }).from(jobs);
  const seen = new Set(jobsBefore.map((j) => j.id));

  const started = performance.now();
  await db.insert(outbox).values(Array.from({ length: OUTBOX_ROWS }, (_, i) => {
    const user = users[i % users.length];
    return {
      topic: "email.password_reset",
      payload: { user_id: user.id, to: user.email, locale: "en", token: `bench-token-${i}` },
      deduplicationId: `${DEDUPE_PREFIX}:${i}`,
    };
  }));
  const sentCount = async () => {
    const [{ count }] = await db.select({ count: sql<number>`count(*)::int` }).from(notifications).where(and(
      like(notifications.dedupeKey, `${DEDUPE_PREFIX}:%`),
      eq(notifications.channel, "EMAIL"),
      eq(notifications.status, "SENT"),
    ));
    return count;
  };
  let relayPublishes = 0;
  let rounds = 0;
  let sent = 0;
  while (performance.now() - started < OUTBOX_DEADLINE_MS) {
    await testApp.dispatcher.publish({ name: "relay-outbox", payload: {} });
    relayPublishes++;
    await testApp.dispatcher.runDue(BATCH);
    rounds++;
    sent = await sentCount();
    if (sent >= OUTBOX_ROWS) break;
  }
  const seconds = (performance.now() - started) / 1000;

  const pairs = await db.select({
    dedupeKey: outbox.deduplicationId,
    createdAt: outbox.createdAt,
    publishedAt: outbox.publishedAt,
    notificationId: notifications.id,
    status: notifications.status,
    sentAt: notifications.sentAt,
    attempts: notifications.attempts,
  }).from(outbox).leftJoin(
    notifications,
    eq(notifications.dedupeKey, sql`${outbox.deduplicationId} || ':EMAIL'`),
  ).where(like(outbox.deduplicationId, `${DEDUPE_PREFIX}:%`));
  const endToEnd = pairs.filter((p) => p.status === "SENT" && p.sentAt)
    .map((p) => p.sentAt!.getTime() - p.createdAt.getTime());
  const relayed = pairs.filter((p) => p.publishedAt);
  // A relay run stamps all its rows (up to 100) with the time its request began.
  const firstCreated = Math.min(...pairs.map((p) => p.createdAt.getTime()));
  const relaySeconds = (Math.max(...relayed.map((p) => p.publishedAt!.getTime())) - firstCreated) / 1000;
  row("outbox: relayed (to last relay run)", relayed.length, relaySeconds, relayed.length / relaySeconds);
  row("outbox: email notifications sent", endToEnd.length, seconds, endToEnd.length / seconds, latencies(endToEnd));
  console.log(`  ${rounds} rounds of publish relay-outbox + runDue(${BATCH})`);

  const newJobs = (await db.select().from(jobs)).filter((j) => !seen.has(j.id));
  const byName = new Map<string, { count: number; statuses: Map<string, number> }>();
  for (const job of newJobs) {
    const entry = byName.get(job.name) ?? { count: 0, statuses: new Map() };
    entry.count++;
    entry.statuses.set(job.status, (entry.statuses.get(job.status) ?? 0) + 1);
    byName.set(job.name, entry);
  }
  console.log(
    `  jobs during the run: ${
      [...byName].map(([name, e]) =>
        `${name}×${e.count} (${[...e.statuses].map(([status, n]) => `${status} ${n}`).join(", ")})`
      ).join("; ")
    }`,
  );
  if (sent < OUTBOX_ROWS) notes.push(`only ${sent} of ${OUTBOX_ROWS} emails sent before the deadline`);
  const missing = pairs.filter((p) => !p.notificationId);
  if (missing.length > 0) notes.push(`${missing.length} outbox rows without an EMAIL notification`);
  const notSent = pairs.filter((p) => p.notificationId && p.status !== "SENT");
  if (notSent.length > 0) notes.push(`${notSent.length} notifications not SENT (${notSent[0].status})`);
  const resent = pairs.filter((p) => (p.attempts ?? 0) > 1);
  if (resent.length > 0) notes.push(`${resent.length} notifications sent more than once`);
  const sends = newJobs.filter((j) => j.name === "send-notification");
  const retriedSends = sends.filter((j) => j.attempts > 1);
  if (retriedSends.length > 0) notes.push(`${retriedSends.length} send-notification jobs took more than one attempt`);
  if (endToEnd.some((w) => w < 0)) notes.push("negative latencies: the database clock and the app's disagree");
  const [{ extra }] = await db.select({ extra: sql<number>`count(*)::int` }).from(notifications)
    .where(like(notifications.dedupeKey, `${DEDUPE_PREFIX}:%`));
  if (extra !== OUTBOX_ROWS) notes.push(`${extra} notifications for ${OUTBOX_ROWS} outbox rows`);
  return notes;
}

console.log("\nEmbedded job dispatcher (in-memory PGlite, delivered in-process through app.fetch)");
console.log("measure                               count        s    per s   p50 ms   p99 ms");
const apps: TestApp[] = [];
const notes: string[] = [];
try {
  const dispatchApp = await makeTestApp({ LOG_LEVEL: "silent" });
  apps.push(dispatchApp);
  notes.push(...await jobDispatchLatency(dispatchApp));
  const outboxApp = await makeTestApp({ LOG_LEVEL: "silent" });
  apps.push(outboxApp);
  notes.push(...await outboxToNotification(outboxApp));
} finally {
  for (const app of apps) await app.close();
}
for (const note of notes) console.log(`  NOTE: ${note}`);
