/**
 * `deno task bench` (second part): the slot engine alone (14 and 62 days, 1,000 busy ranges), then
 * GET /api/v1/scheduling/.../slots for 14 days over real HTTP on 127.0.0.1 against a salon with
 * 20 professionals and 10,000 bookings, on the embedded database and, when it answers, on the
 * machine's PostgreSQL. Bounded: BENCH_SECONDS (default 10) per target, 8 connections.
 */
import autocannon from "autocannon";
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
import { benchSlotEngine } from "./slot_engine.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 10);
const CONNECTIONS = 8;
const PORT = 18082;
const PROFESSIONALS = 20;
const BOOKINGS = 10_000;
const DAY_MS = 24 * 60 * 60 * 1000;

interface Fixture {
  salonId: string;
  serviceId: string;
  professionalId: string;
}

/** A salon with 20 professionals open 08:00–20:00 every day and 10,000 one-hour bookings over 180 days. */
async function fill(database: Database, now: Date): Promise<Fixture> {
  const db = database.db;
  const ownerId = crypto.randomUUID();
  const clientId = crypto.randomUUID();
  const salonId = crypto.randomUUID();
  const serviceId = crypto.randomUUID();
  const proIds = Array.from({ length: PROFESSIONALS }, () => crypto.randomUUID());
  const proUsers = proIds.map(() => crypto.randomUUID());
  await db.batch([
    db.insert(users).values([
      { id: ownerId, email: "bench-owner@example.com", passwordHash: "!", fullName: "Owner", role: "SALON_OWNER" },
      { id: clientId, email: "bench-client@example.com", passwordHash: "!", fullName: "Client" },
      ...proUsers.map((id, i) => ({
        id,
        email: `bench-pro-${i}@example.com`,
        passwordHash: "!",
        fullName: `Pro ${i}`,
        role: "PROFESSIONAL" as const,
      })),
    ]),
    db.insert(salons).values({
      id: salonId,
      ownerId,
      name: "Bench salon",
      timeZone: "America/Sao_Paulo",
      currency: "BRL",
      minimumNoticeMinutes: 0,
      bookingHorizonDays: 365,
    }),
    db.insert(professionals).values(
      proIds.map((id, i) => ({ id, userId: proUsers[i], salonId, displayName: `Pro ${i}` })),
    ),
    db.insert(services).values({
      id: serviceId,
      salonId,
      name: "Cut",
      category: "hair",
      durationMinutes: 45,
      priceAmount: 8000,
      currency: "BRL",
      bufferAfterMinutes: 10,
    }),
    db.insert(professionalServices).values(proIds.map((professionalId) => ({ professionalId, serviceId }))),
    db.insert(availabilityRules).values(
      proIds.flatMap((professionalId) =>
        [1, 2, 3, 4, 5, 6, 7].map((dayOfWeek) => ({ professionalId, dayOfWeek, startTime: "08:00", endTime: "20:00" }))
      ),
    ),
  ]);
  // 500 bookings per professional from 60 days ago to 120 days ahead, whole hours in opening time.
  const perPro = BOOKINGS / PROFESSIONALS;
  const firstDay = Math.floor(now.getTime() / DAY_MS) * DAY_MS - 60 * DAY_MS;
  const rows = proIds.flatMap((professionalId, p) =>
    Array.from({ length: perPro }, (_, i) => {
      const day = Math.floor((i * 180) / perPro);
      const hour = 11 + ((i * 7 + p) % 12); // 08:00–19:00 in São Paulo (UTC-3)
      const startsAt = new Date(firstDay + day * DAY_MS + hour * 3_600_000);
      const endsAt = new Date(startsAt.getTime() + 45 * 60_000);
      return {
        salonId,
        clientId,
        professionalId,
        serviceId,
        startsAt,
        endsAt,
        blockStartsAt: startsAt,
        blockEndsAt: new Date(endsAt.getTime() + 10 * 60_000),
        status: "CONFIRMED" as const,
        priceAmount: 8000,
        currency: "BRL",
      };
    })
  );
  for (let i = 0; i < rows.length; i += 1000) await db.insert(bookings).values(rows.slice(i, i + 1000));
  return { salonId, serviceId, professionalId: proIds[0] };
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Cannot benchmark: ${url} never answered`);
}

async function measure(target: { DATABASE_URL?: string; DATA_DIR?: string }, fixture: Fixture, now: Date) {
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    env: {
      ...target,
      PORT: String(PORT),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      RATE_LIMIT_API_PER_MINUTE: "100000000",
      RATE_LIMIT_PUBLIC_PER_MINUTE: "100000000",
      JWT_SECRET: newOpaqueToken(),
    },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    await waitFor(`http://127.0.0.1:${PORT}/health/ready`);
    const from = new Date(now.getTime() + DAY_MS).toISOString().slice(0, 10);
    const to = new Date(now.getTime() + 14 * DAY_MS).toISOString().slice(0, 10);
    const query = `service=${fixture.serviceId}&from=${from}&to=${to}`;
    const results: Record<string, { rps: number; p50: number; p99: number; non2xx: number; slots: number }> = {};
    for (
      const [name, path] of [
        ["salon, 20 professionals", `/api/v1/scheduling/salons/${fixture.salonId}/slots?${query}`],
        ["one professional", `/api/v1/scheduling/professionals/${fixture.professionalId}/slots?${query}`],
      ]
    ) {
      const url = `http://127.0.0.1:${PORT}${path}`;
      const probe = await (await fetch(url)).json();
      await autocannon({ url, connections: CONNECTIONS, duration: 2 });
      const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
      results[name] = {
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        slots: probe.data.length,
      };
    }
    return results;
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
}

const engine = await benchSlotEngine();
console.log("slot engine alone (America/Sao_Paulo, Mon–Sat 09–12 + 13–19, step 15, 45 min + buffers)");
console.log("days  busy  slots  p50 ms  p99 ms  mean ms");
for (const f of engine) {
  console.log(
    `${String(f.days).padStart(4)} ${String(f.busy).padStart(5)} ${String(f.slots).padStart(6)} ${
      f.p50Ms.toFixed(2).padStart(7)
    } ${f.p99Ms.toFixed(2).padStart(7)} ${f.meanMs.toFixed(2).padStart(8)}`,
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
  `\nGET slots for 14 days, ${BOOKINGS} bookings in the salon, ${CONNECTIONS} connections, ${SECONDS} s each`,
);
console.log("database               route                     slots   req/s  p50 ms  p99 ms  non-2xx");
for (const target of targets) {
  try {
    const database = await target.open();
    let fixture;
    try {
      await migrate(database.sql);
      fixture = await fill(database, now);
    } finally {
      await database.close();
    }
    const results = await measure(target.env, fixture, now);
    for (const [route, r] of Object.entries(results)) {
      console.log(
        `${target.name.padEnd(22)} ${route.padEnd(24)} ${String(r.slots).padStart(6)} ${r.rps.toFixed(0).padStart(7)} ${
          String(r.p50).padStart(7)
        } ${String(r.p99).padStart(7)} ${String(r.non2xx).padStart(8)}`,
      );
    }
  } catch (error) {
    // Go on to the next database (and its clean-up); the run still fails at the end.
    console.error(`${target.name}: ${error instanceof Error ? error.stack : error}`);
    Deno.exitCode = 1;
  } finally {
    await target.cleanup();
  }
}
