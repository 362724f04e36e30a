/**
 * `deno task bench` (third part): POST /api/v1/bookings over real HTTP on 127.0.0.1 with 50 signed-in
 * clients, each on its own keep-alive connection, on the embedded database and, when it answers, on the
 * machine's PostgreSQL:
 * - "distinct slots": client i books professional i at the next quarter hour of its own sequence, so no
 *   two requests compete; measures bookings created per second.
 * - "one slot": in rounds, all 50 clients ask for the same start with the same professional at once;
 *   exactly one may win (201) and the 49 others must get 409 slot_taken. Every other outcome is counted
 *   and printed, then the stored rows are checked against the answers.
 * Bounded: BENCH_SECONDS (default 10) per scenario and database.
 */
import { and, eq, gte, sql } from "drizzle-orm";
import { PasswordHasher } from "../../adapters/passwords.ts";
import { newOpaqueToken } from "../../adapters/tokens.ts";
import { type Database, openDatabase } from "../../db/client.ts";
import { migrate } from "../../db/migrate.ts";
import {
  availabilityRules,
  bookings,
  professionals,
  professionalServices,
  salons,
  services,
  users,
} from "../../db/schema.ts";
import { createScratchDatabase, postgresAvailable, SERVER_ON_POSTGRES_ENV } from "../support/postgres.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 10);
const CLIENTS = 50;
const PORT = 18083;
const BASE = `http://127.0.0.1:${PORT}`;
const TIME_ZONE = "America/Sao_Paulo";
const SLOT_MINUTES = 15;
const SLOT_MS = SLOT_MINUTES * 60_000;
const DAY_MS = 24 * 60 * 60 * 1000;
/** The race runs far from the distinct-slot bookings so the two scenarios never touch each other's slots. */
const RACE_DAYS_AHEAD = 200;
const PASSWORD = "Bench1234";
// Cheap argon2id, matched by the server's ARGON2_* below, so signing 50 clients in costs nothing worth measuring
// and no login rehashes the stored hash.
const ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

interface Fixture {
  salonId: string;
  serviceId: string;
  professionalIds: string[];
  clientEmails: string[];
}

/** A salon with 50 professionals open around the clock, one 15-minute service they all perform, 50 clients. */
async function fill(database: Database): Promise<Fixture> {
  const db = database.db;
  const ownerId = crypto.randomUUID();
  const salonId = crypto.randomUUID();
  const serviceId = crypto.randomUUID();
  const professionalIds = Array.from({ length: CLIENTS }, () => crypto.randomUUID());
  const professionalUserIds = professionalIds.map(() => crypto.randomUUID());
  const clientEmails = Array.from({ length: CLIENTS }, (_, i) => `bench-booking-client-${i}@example.com`);
  const passwordHash = await new PasswordHasher(ARGON2).hash(PASSWORD);
  await db.batch([
    db.insert(users).values([
      {
        id: ownerId,
        email: "bench-booking-owner@example.com",
        passwordHash: "!",
        fullName: "Owner",
        role: "SALON_OWNER",
      },
      ...professionalUserIds.map((id, i) => ({
        id,
        email: `bench-booking-pro-${i}@example.com`,
        passwordHash: "!",
        fullName: `Pro ${i}`,
        role: "PROFESSIONAL" as const,
      })),
      ...clientEmails.map((email, i) => ({
        email,
        passwordHash,
        fullName: `Client ${i}`,
        role: "CLIENT" as const,
        verified: true,
      })),
    ]),
    db.insert(salons).values({
      id: salonId,
      ownerId,
      name: "Bench booking salon",
      timeZone: TIME_ZONE,
      currency: "BRL",
      minimumNoticeMinutes: 0,
      bookingHorizonDays: 365,
      slotStepMinutes: SLOT_MINUTES,
      maxFutureBookingsPerClient: 500,
    }),
    db.insert(professionals).values(
      professionalIds.map((id, i) => ({ id, userId: professionalUserIds[i], salonId, displayName: `Pro ${i}` })),
    ),
    db.insert(services).values({
      id: serviceId,
      salonId,
      name: "Quick trim",
      category: "hair",
      durationMinutes: SLOT_MINUTES,
      priceAmount: 3000,
      currency: "BRL",
    }),
    db.insert(professionalServices).values(professionalIds.map((professionalId) => ({ professionalId, serviceId }))),
    db.insert(availabilityRules).values(
      professionalIds.flatMap((professionalId) =>
        [1, 2, 3, 4, 5, 6, 7].map((dayOfWeek) => ({ professionalId, dayOfWeek, startTime: "00:00", endTime: "24:00" }))
      ),
    ),
  ]);
  return { salonId, serviceId, professionalIds, clientEmails };
}

/** Local midnight in the salon's zone, `daysAhead` dates after today's, as epoch milliseconds. */
function localMidnight(now: Date, daysAhead: number): number {
  const day = new Date(now.getTime() + daysAhead * DAY_MS);
  const date = new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE }).format(day); // YYYY-MM-DD
  const zoneName = new Intl.DateTimeFormat("en-US", { timeZone: TIME_ZONE, timeZoneName: "longOffset" })
    .formatToParts(day).find((part) => part.type === "timeZoneName")!.value; // "GMT-03:00"
  const offset = zoneName === "GMT" ? "+00:00" : zoneName.slice(3);
  return Date.parse(`${date}T00:00:00${offset}`);
}

async function waitFor(url: string): Promise<void> {
  // Its own HTTP client, closed afterwards, so no idle connection stays beside the 50 of the clients.
  const http = Deno.createHttpClient({});
  try {
    for (let i = 0; i < 300; i++) {
      try {
        const res = await fetch(url, { client: http });
        await res.body?.cancel();
        if (res.ok) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`Cannot benchmark: ${url} never answered`);
  } finally {
    http.close();
  }
}

/** One client: its own HTTP client keeps exactly one connection, since it sends one request at a time. */
interface Session {
  http: Deno.HttpClient;
  accessToken: string;
}

interface Answer {
  /** 0 when the request failed without an HTTP answer. */
  status: number;
  /** The problem's `code`, when the answer is one. */
  code?: string;
  ms: number;
}

async function signIn(email: string): Promise<Session> {
  const http = Deno.createHttpClient({ poolMaxIdlePerHost: 1, http2: false });
  try {
    const res = await fetch(`${BASE}/api/v1/auth/login`, {
      client: http,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    const body = await res.json();
    if (res.status !== 200) {
      throw new Error(`Cannot set up the benchmark: login answered ${res.status} ${JSON.stringify(body)}`);
    }
    return { http, accessToken: body.access_token };
  } catch (error) {
    http.close();
    throw error;
  }
}

async function book(session: Session, body: Record<string, string>): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(`${BASE}/api/v1/bookings`, {
      client: session.http,
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${session.accessToken}` },
      body: JSON.stringify(body),
    });
    // Reading the whole body hands the connection back for the next request.
    const payload = await res.json().catch(() => null);
    return { status: res.status, code: payload?.code, ms: performance.now() - started };
  } catch {
    return { status: 0, ms: performance.now() - started };
  }
}

function percentile(sorted: number[], q: number): number | undefined {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

interface Latencies {
  count: number;
  p50?: number;
  p99?: number;
}

function latencies(answers: Answer[]): Latencies {
  const sorted = answers.map((a) => a.ms).sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** "201×1 409 slot_taken×48 500 internal×1": every distinct status (and problem code) with its count. */
function tally(answers: Answer[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) {
    const key = a.status === 0 ? "no answer" : a.status === 201 ? "201" : `${a.status} ${a.code ?? "?"}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => `${key}×${n}`).join(" ");
}

interface DistinctSlotsResult {
  seconds: number;
  created: Answer[];
  others: Answer[];
  /** The first instant booked by the sequences, to find their rows afterwards. */
  firstSlot: number;
}

/** Each client books its own professional, one quarter hour after another, from tomorrow 00:00 local. */
async function distinctSlots(sessions: Session[], fixture: Fixture, now: Date): Promise<DistinctSlotsResult> {
  const firstSlot = localMidnight(now, 1);
  const answers: Answer[] = [];
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(sessions.map(async (session, i) => {
    for (let slot = 0; performance.now() < deadline; slot++) {
      answers.push(
        await book(session, {
          service_id: fixture.serviceId,
          professional_id: fixture.professionalIds[i],
          starts_at: new Date(firstSlot + slot * SLOT_MS).toISOString(),
        }),
      );
    }
  }));
  return {
    seconds: (performance.now() - started) / 1000,
    created: answers.filter((a) => a.status === 201),
    others: answers.filter((a) => a.status !== 201),
    firstSlot,
  };
}

interface Violation {
  round: number;
  startsAt: string;
  statuses: string;
}

interface OneSlotResult {
  seconds: number;
  rounds: number;
  winners: Answer[];
  taken: Answer[];
  /** Answers that are neither the round's first 201 nor a 409 slot_taken. */
  unexpected: Answer[];
  violations: Violation[];
  firstSlot: number;
}

/** Rounds of all clients racing for one new slot of professional 0, until BENCH_SECONDS have passed. */
async function oneSlot(sessions: Session[], fixture: Fixture, now: Date): Promise<OneSlotResult> {
  const firstSlot = localMidnight(now, RACE_DAYS_AHEAD);
  const result: OneSlotResult = {
    seconds: 0,
    rounds: 0,
    winners: [],
    taken: [],
    unexpected: [],
    violations: [],
    firstSlot,
  };
  const started = performance.now();
  while (performance.now() - started < SECONDS * 1000) {
    const startsAt = new Date(firstSlot + result.rounds * SLOT_MS).toISOString();
    const body = { service_id: fixture.serviceId, professional_id: fixture.professionalIds[0], starts_at: startsAt };
    // All requests leave in the same tick, each on its own connection.
    const answers = await Promise.all(sessions.map((session) => book(session, body)));
    const winners = answers.filter((a) => a.status === 201);
    const taken = answers.filter((a) => a.status === 409 && a.code === "slot_taken");
    result.winners.push(...winners.slice(0, 1));
    result.taken.push(...taken);
    result.unexpected.push(...winners.slice(1), ...answers.filter((a) => a.status !== 201 && !taken.includes(a)));
    if (winners.length !== 1 || taken.length !== CLIENTS - 1) {
      result.violations.push({ round: result.rounds, startsAt, statuses: tally(answers) });
    }
    result.rounds++;
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

async function measure(
  target: Record<string, string>,
  fixture: Fixture,
  now: Date,
): Promise<{ distinct: DistinctSlotsResult; race: OneSlotResult }> {
  const kvDir = await Deno.makeTempDir();
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    env: {
      ...target,
      // Its own store, so rate-limit counters of other runs (or a dev server) play no part.
      KV_PATH: `${kvDir}/kv.sqlite3`,
      PORT: String(PORT),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      RATE_LIMIT_API_PER_MINUTE: "100000000",
      RATE_LIMIT_PUBLIC_PER_MINUTE: "100000000",
      // Each client books as fast as it can: the per-client booking limits would stop it within a second.
      CLIENT_MAX_FUTURE_BOOKINGS: "10000",
      JWT_SECRET: newOpaqueToken(),
      ARGON2_MEMORY_KIB: String(ARGON2.memoryCost),
      ARGON2_ITERATIONS: String(ARGON2.timeCost),
    },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const sessions: Session[] = [];
  try {
    await waitFor(`${BASE}/health/ready`);
    // One at a time: all logins share the login-ip window of 127.0.0.1, and the login limit fails closed (503)
    // when the store does not answer within STORE_TIMEOUT_MS, which 50 simultaneous logins can exceed.
    for (const email of fixture.clientEmails) sessions.push(await signIn(email));
    const distinct = await distinctSlots(sessions, fixture, now);
    const race = await oneSlot(sessions, fixture, now);
    return { distinct, race };
  } finally {
    for (const session of sessions) session.http.close();
    try {
      server.kill("SIGTERM");
    } catch {
      // It has exited already (e.g. the port was taken): the error that brought us here is the one to see.
    }
    await server.status;
    await Deno.remove(kvDir, { recursive: true }).catch(() => {});
  }
}

/** What the database holds after the run, to compare with what the API answered. */
async function stored(database: Database, fixture: Fixture, distinct: DistinctSlotsResult, race: OneSlotResult) {
  const db = database.db;
  const [{ count: distinctRows }] = await db.select({ count: sql<number>`count(*)::int` }).from(bookings).where(
    and(
      eq(bookings.salonId, fixture.salonId),
      gte(bookings.startsAt, new Date(distinct.firstSlot)),
      sql`${bookings.startsAt} < ${new Date(race.firstSlot).toISOString()}`,
    ),
  );
  const raced = await db.select({ startsAt: bookings.startsAt, count: sql<number>`count(*)::int` }).from(bookings)
    .where(
      and(eq(bookings.professionalId, fixture.professionalIds[0]), gte(bookings.startsAt, new Date(race.firstSlot))),
    )
    .groupBy(bookings.startsAt);
  return {
    distinctRows,
    racedSlotsWithOne: raced.filter((r) => r.count === 1).length,
    racedSlotsWithMore: raced.filter((r) => r.count > 1).map((r) => `${r.startsAt.toISOString()}×${r.count}`),
  };
}

const ms = (value: number | undefined) => (value === undefined ? "-" : value.toFixed(1)).padStart(7);

function row(database: string, measureName: string, count: number, perSecond: number | undefined, l?: Latencies) {
  console.log(
    `${database.padEnd(22)} ${measureName.padEnd(30)} ${String(count).padStart(7)} ${
      (perSecond === undefined ? "-" : perSecond.toFixed(1)).padStart(8)
    } ${ms(l?.p50)} ${ms(l?.p99)}`,
  );
}

const now = new Date();
const targets: { name: string; env: Record<string, string>; cleanup(): Promise<void>; open(): Promise<Database> }[] =
  [];
const dataDir = await Deno.makeTempDir();
targets.push({
  name: "embedded PGlite",
  env: { DATA_DIR: dataDir },
  open: () => openDatabase({ dataDir }),
  cleanup: () => Deno.remove(dataDir, { recursive: true }).catch(() => {}),
});
if (postgresAvailable) {
  const scratch = await createScratchDatabase();
  targets.push({
    name: "PostgreSQL 127.0.0.1",
    env: { DATABASE_URL: scratch.url, ...SERVER_ON_POSTGRES_ENV },
    open: () => openDatabase({ url: scratch.url }),
    cleanup: () => scratch.drop(),
  });
}

console.log(
  `\nPOST /api/v1/bookings, ${CLIENTS} clients each on its own connection, ${SECONDS} s per scenario ` +
    `(15-minute service, ${CLIENTS} professionals open around the clock)`,
);
console.log("database               measure                          count    per s  p50 ms  p99 ms");
let failures = 0;
// Every target is cleaned up, also those a failure earlier in the loop never reached.
try {
  for (const target of targets) {
    let database = await target.open();
    let fixture;
    try {
      await migrate(database.sql);
      fixture = await fill(database);
    } finally {
      await database.close();
    }
    const { distinct, race } = await measure(target.env, fixture, now);
    database = await target.open();
    let check;
    try {
      check = await stored(database, fixture, distinct, race);
    } finally {
      await database.close();
    }

    const name = target.name;
    row(
      name,
      "distinct slots: 201 created",
      distinct.created.length,
      distinct.created.length / distinct.seconds,
      latencies(distinct.created),
    );
    row(name, "distinct slots: not 201", distinct.others.length, undefined, latencies(distinct.others));
    row(name, "one slot: rounds", race.rounds, race.rounds / race.seconds);
    row(name, "one slot: 201 (the winner)", race.winners.length, undefined, latencies(race.winners));
    row(name, "one slot: 409 slot_taken", race.taken.length, undefined, latencies(race.taken));
    row(name, "one slot: other answers", race.unexpected.length, undefined, latencies(race.unexpected));
    row(name, "one slot: rounds not 1 + 49", race.violations.length, undefined);
    // Rates divide by the time until the last answer, so requests still running at the deadline count in full.
    console.log(
      `  elapsed until the last answer: distinct slots ${distinct.seconds.toFixed(1)} s, ` +
        `one slot ${race.seconds.toFixed(1)} s`,
    );
    if (distinct.others.length > 0) console.log(`  distinct slots, answers other than 201: ${tally(distinct.others)}`);
    for (const v of race.violations) console.log(`  VIOLATION round ${v.round} (${v.startsAt}): ${v.statuses}`);
    console.log(
      `  stored: ${check.distinctRows} distinct-slot bookings (${distinct.created.length} answered 201); ` +
        `${check.racedSlotsWithOne} of ${race.rounds} raced slots hold exactly one booking` +
        (check.racedSlotsWithMore.length > 0 ? `; DOUBLE BOOKED: ${check.racedSlotsWithMore.join(", ")}` : ""),
    );
    if (
      race.violations.length > 0 || check.racedSlotsWithMore.length > 0 ||
      check.racedSlotsWithOne !== race.rounds || check.distinctRows !== distinct.created.length
    ) failures++;
  }
} finally {
  for (const target of targets) await target.cleanup();
}
if (failures > 0) {
  console.error(`\n${failures} database(s) did not keep one booking per slot: see the lines above`);
  Deno.exitCode = 1;
}
