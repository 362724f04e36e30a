/**
 * `deno task bench` (last part): POST /webhooks/stripe in-process through `app.request` on an in-memory
 * PGlite app, with `payment_intent.succeeded` events signed as Stripe signs them.
 * 1. First delivery: one event per PENDING deposit booking (300), 8 concurrent senders; each confirms
 *    its booking.
 * 2. Redelivery: the same 300 events again (freshly signed, as Stripe's retries are); each must be
 *    acknowledged as a duplicate without acting.
 * Afterwards every booking must be CONFIRMED with exactly one `booking.confirm` audit event.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import { type MockPaymentProvider, stripeSignature } from "../../adapters/payments_mock.ts";
import { auditEvents, bookings, payments } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp, TEST_STRIPE_WEBHOOK_SECRET, type TestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { makeUser, type SignedInUser } from "../support/users.ts";

const EVENTS = 300;
const SENDERS = 8;
const PROFESSIONALS = 6;
const CLIENTS = 10;
const HOUR_MS = 60 * 60_000;
const DAY_MS = 24 * HOUR_MS;

interface Answer {
  status: number;
  outcome?: string;
  ms: number;
}

interface Latencies {
  count: number;
  p50?: number;
  p99?: number;
}

function percentile(sorted: number[], q: number): number | undefined {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function latencies(answers: Answer[]): Latencies {
  const sorted = answers.map((a) => a.ms).sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** "200 confirmed×300": every distinct status and outcome with its count. */
function tally(answers: Answer[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) {
    const key = `${a.status} ${a.outcome ?? "?"}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => `${key}×${n}`).join(" ");
}

const ms = (value: number | undefined) => (value === undefined ? "-" : value.toFixed(1)).padStart(8);

function row(measureName: string, count: number, seconds: number, l: Latencies) {
  console.log(
    `${measureName.padEnd(36)} ${String(count).padStart(6)} ${seconds.toFixed(2).padStart(8)} ${
      (count / seconds).toFixed(1).padStart(8)
    } ${ms(l.p50)} ${ms(l.p99)}`,
  );
}

/** Runs `work` over `items` with `width` workers taking the next item as each finishes. */
async function pool<T, R>(items: T[], width: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  }));
  return results;
}

/** 300 PENDING deposit bookings made through the API, each on its own professional-hour. */
async function fixture(testApp: TestApp, now: Date): Promise<string[]> {
  const send = apiClient(testApp);
  const owner = await makeUser(testApp, "SALON_OWNER");
  // UTC keeps the slot arithmetic free of daylight-saving shifts.
  const salon = await makeSalon(send, owner, {
    time_zone: "UTC",
    minimum_notice_minutes: 0,
    max_open_holds_per_client: 100,
    max_future_bookings_per_client: 500,
  });
  const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "00:00", end: "24:00" }));
  const pros: { id: string }[] = [];
  for (let i = 0; i < PROFESSIONALS; i++) {
    const pro = await makeProfessional(send, owner, salon.id);
    const res = await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules });
    if (res.status !== 200) throw new Error(`Cannot set availability: ${res.status} ${JSON.stringify(res.body)}`);
    pros.push(pro);
  }
  const service = await makeService(send, owner, salon.id, {
    duration_minutes: 60,
    price_amount: 20000,
    deposit: { kind: "FIXED", value: 5000 },
    professional_ids: pros.map((p) => p.id),
  });
  const clients: SignedInUser[] = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(await makeUser(testApp, "CLIENT", { verified: true }));
  const firstSlot = Math.floor(now.getTime() / DAY_MS) * DAY_MS + DAY_MS;
  const slots = Array.from({ length: EVENTS }, (_, i) => i);
  return await pool(slots, SENDERS, async (i) => {
    const res = await send("POST", "/bookings", clients[i % CLIENTS], {
      service_id: service.id,
      professional_id: pros[i % PROFESSIONALS].id,
      starts_at: new Date(firstSlot + Math.floor(i / PROFESSIONALS) * HOUR_MS).toISOString(),
    });
    if (res.status !== 201 || res.body.status !== "PENDING") {
      throw new Error(`Cannot create a PENDING deposit booking: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body.id as string;
  });
}

/** One succeeded event per booking, serialised once so both passes send the very same bytes. */
async function succeededEvents(testApp: TestApp, bookingIds: string[]): Promise<string[]> {
  const mock = testApp.deps.payments as MockPaymentProvider;
  const rows = await testApp.deps.database.db.select().from(payments).where(inArray(payments.bookingId, bookingIds));
  const byBooking = new Map(rows.map((r) => [r.bookingId, r]));
  return await Promise.all(bookingIds.map(async (id) => {
    const intent = await mock.retrieve(byBooking.get(id)!.providerPaymentId!);
    return JSON.stringify(
      mock.event("payment_intent.succeeded", { ...mock.stripeObject(intent), status: "succeeded" }),
    );
  }));
}

/** Sends every payload once with SENDERS workers; signing happens before the clock starts. */
async function deliver(testApp: TestApp, payloads: string[]): Promise<{ seconds: number; answers: Answer[] }> {
  const seconds = Math.floor(Date.now() / 1000);
  const signed = await Promise.all(
    payloads.map(async (payload) => ({
      payload,
      signature: await stripeSignature(payload, TEST_STRIPE_WEBHOOK_SECRET, seconds),
    })),
  );
  const started = performance.now();
  const answers = await pool(signed, SENDERS, async ({ payload, signature }) => {
    const t0 = performance.now();
    const res = await testApp.app.request("/webhooks/stripe", {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": signature },
      body: payload,
    });
    const body = await res.json().catch(() => null);
    return { status: res.status, outcome: body?.outcome ?? body?.code, ms: performance.now() - t0 };
  });
  return { seconds: (performance.now() - started) / 1000, answers };
}

// A fixed clock: holds never lapse while the fixture is built, so every event finds its booking PENDING.
const NOW = new Date();
// Each fixture client keeps 30 unpaid holds: far beyond the per-client booking limits, raised here.
const testApp = await makeTestApp(
  {
    LOG_LEVEL: "silent",
    RATE_LIMIT_API_PER_MINUTE: "100000000",
    RATE_LIMIT_PUBLIC_PER_MINUTE: "100000000",
    CLIENT_MAX_OPEN_HOLDS: "1000",
    CLIENT_MAX_FUTURE_BOOKINGS: "10000",
  },
  { now: () => NOW },
);
const notes: string[] = [];
try {
  const setupStarted = performance.now();
  const bookingIds = await fixture(testApp, NOW);
  const payloads = await succeededEvents(testApp, bookingIds);
  const setupSeconds = (performance.now() - setupStarted) / 1000;

  const first = await deliver(testApp, payloads);
  const again = await deliver(testApp, payloads);

  console.log(
    `\nPOST /webhooks/stripe in-process (app.request, in-memory PGlite), ${SENDERS} concurrent senders, ` +
      `payment_intent.succeeded`,
  );
  console.log("measure                               count        s    per s   p50 ms   p99 ms");
  row("first delivery (confirms booking)", first.answers.length, first.seconds, latencies(first.answers));
  row("redelivery (duplicate, no effect)", again.answers.length, again.seconds, latencies(again.answers));
  console.log(`  first delivery answers: ${tally(first.answers)}`);
  console.log(`  redelivery answers:     ${tally(again.answers)}`);
  console.log(`  setup: ${EVENTS} deposit bookings through the API in ${setupSeconds.toFixed(1)} s`);

  const db = testApp.deps.database.db;
  const statuses = await db.select({ status: bookings.status, count: sql<number>`count(*)::int` }).from(bookings)
    .where(inArray(bookings.id, bookingIds)).groupBy(bookings.status);
  const confirms = await db.select({ id: auditEvents.entityId, count: sql<number>`count(*)::int` }).from(auditEvents)
    .where(and(inArray(auditEvents.entityId, bookingIds), eq(auditEvents.action, "booking.confirm")))
    .groupBy(auditEvents.entityId);
  const confirmed = statuses.find((s) => s.status === "CONFIRMED")?.count ?? 0;
  const exactlyOnce = confirms.filter((c) => c.count === 1).length;
  console.log(
    `  stored: ${confirmed} of ${EVENTS} bookings CONFIRMED; ${exactlyOnce} of ${EVENTS} with exactly one ` +
      `booking.confirm audit event`,
  );

  if (first.answers.some((a) => a.status !== 200 || a.outcome !== "confirmed")) {
    notes.push(`first delivery: not all 200 confirmed (${tally(first.answers)})`);
  }
  if (again.answers.some((a) => a.status !== 200 || a.outcome !== "duplicate")) {
    notes.push(`redelivery: not all 200 duplicate (${tally(again.answers)})`);
  }
  if (confirmed !== EVENTS) {
    notes.push(`bookings by status: ${statuses.map((s) => `${s.status}×${s.count}`).join(" ")}`);
  }
  const wrong = confirms.filter((c) => c.count !== 1);
  if (exactlyOnce !== EVENTS) {
    notes.push(
      `${EVENTS - confirms.length} bookings without a booking.confirm audit event, ${wrong.length} with more than one`,
    );
  }
} finally {
  await testApp.close();
}
for (const note of notes) console.log(`  NOTE: ${note}`);
if (notes.length > 0) Deno.exitCode = 1;
