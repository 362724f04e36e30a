/**
 * The one driver (drizzle neon-http over @neondatabase/serverless) against the local Neon endpoint,
 * on the embedded PGlite and on the machine's PostgreSQL: values round-trip exactly, a batch is one
 * transaction, errors carry Postgres' fields, migrations apply once, bookings never overlap.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { type Database, openDatabase } from "../../db/client.ts";
import { loadMigrations, migrate, migrationStatus } from "../../db/migrate.ts";
import * as schema from "../../db/schema.ts";
import { createScratchDatabase, postgresAvailable } from "../support/postgres.ts";

/** The Postgres error a driver call raised (drizzle wraps it as the cause). */
async function pgError(promise: Promise<unknown>): Promise<{ code?: string; constraint?: string; detail?: string }> {
  try {
    await promise;
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    return (cause && typeof cause === "object" && "code" in cause ? cause : error) as { code?: string };
  }
  assert.fail("expected a database error");
}

async function seedSalon(database: Database) {
  const { db } = database;
  const [owner] = await db.insert(schema.users).values({
    email: `owner-${crypto.randomUUID()}@example.com`,
    passwordHash: "x",
    fullName: "Owner",
    role: "SALON_OWNER",
  }).returning();
  const [client] = await db.insert(schema.users).values({
    email: `client-${crypto.randomUUID()}@example.com`,
    passwordHash: "x",
    fullName: "Client",
  }).returning();
  const [salon] = await db.insert(schema.salons).values({
    ownerId: owner.id,
    name: "Studio",
    timeZone: "America/Sao_Paulo",
    currency: "BRL",
  }).returning();
  const [professional] = await db.insert(schema.professionals).values({
    userId: owner.id,
    salonId: salon.id,
    displayName: "Ana",
  }).returning();
  const [service] = await db.insert(schema.services).values({
    salonId: salon.id,
    name: "Cut",
    category: "hair",
    durationMinutes: 60,
    priceAmount: 4500,
    currency: "BRL",
  }).returning();
  return { salon, client, professional, service };
}

function booking(
  seed: Awaited<ReturnType<typeof seedSalon>>,
  starts: string,
  ends: string,
  overrides: Partial<typeof schema.bookings.$inferInsert> = {},
): typeof schema.bookings.$inferInsert {
  return {
    salonId: seed.salon.id,
    clientId: seed.client.id,
    professionalId: seed.professional.id,
    serviceId: seed.service.id,
    startsAt: new Date(starts),
    endsAt: new Date(ends),
    blockStartsAt: new Date(starts),
    blockEndsAt: new Date(ends),
    status: "CONFIRMED",
    priceAmount: 4500,
    currency: "BRL",
    ...overrides,
  };
}

async function contract(t: Deno.TestContext, database: Database) {
  const { sql, db } = database;

  await t.step("applies every migration, and a second run applies none", async () => {
    const all = (await loadMigrations()).map((m) => m.name);
    assert.deepEqual(all.slice(0, 2), ["0000_init", "0001_booking_constraints"]);
    assert.deepEqual(await migrate(sql), all);
    assert.deepEqual(await migrate(sql), []);
    assert.deepEqual((await migrationStatus(sql)).pending, []);
  });

  await t.step("round-trips timestamptz, numeric, json, arrays, bytea and nulls exactly", async () => {
    await sql.query(`CREATE TABLE round_trip (
      id int PRIMARY KEY, at timestamptz, amount numeric, doc jsonb, doc_text json, tags text[], numbers int[],
      payload bytea, note text)`);
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const doc = { name: 'Ana "A" Souza', nested: { list: [1, 2.5, null, "é"] }, empty: {} };
    const tags = ["a,b", 'quote"d', "back\\slash", "", "ünï", "NULL"];
    await sql.query(
      "INSERT INTO round_trip VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      [1, "2026-03-08T15:00:00.123456Z", "12345678901234567890.123456789", doc, doc, tags, [1, -2, 3], bytes, null],
    );
    const [row] = await sql.query(
      "SELECT at, at::text AS at_text, amount, doc, doc_text, tags, numbers, payload, note FROM round_trip WHERE id = $1",
      [1],
    );
    assert.equal(row.at_text, "2026-03-08 15:00:00.123456+00");
    assert.equal(new Date(row.at).toISOString(), "2026-03-08T15:00:00.123Z");
    assert.equal(row.amount, "12345678901234567890.123456789");
    assert.deepEqual(row.doc, doc);
    assert.deepEqual(row.doc_text, doc);
    assert.deepEqual(row.tags, tags);
    assert.deepEqual(row.numbers, [1, -2, 3]);
    assert.deepEqual(new Uint8Array(row.payload), bytes);
    assert.equal(row.note, null);
    const [nulls] = await sql.query("SELECT $1::int AS a, $2::text[] AS b, $3::jsonb AS c", [null, null, null]);
    assert.deepEqual(nulls, { a: null, b: null, c: null });
  });

  await t.step("runs a batch as one transaction: a failing statement rolls back the earlier ones", async () => {
    const error = await pgError(sql.transaction([
      sql.query("INSERT INTO round_trip (id, note) VALUES (2, 'kept?')"),
      sql.query("INSERT INTO round_trip (id, note) VALUES (1, 'duplicate')"),
    ]));
    assert.equal(error.code, "23505");
    assert.equal(error.constraint, "round_trip_pkey");
    assert.match(error.detail ?? "", /\(id\)=\(1\)/);
    assert.deepEqual(await sql.query("SELECT id FROM round_trip WHERE id = 2"), []);
    const results = await sql.transaction([
      sql.query("INSERT INTO round_trip (id, note) VALUES (3, 'one')"),
      sql.query("SELECT count(*)::int AS n FROM round_trip"),
    ], { isolationLevel: "Serializable" });
    assert.deepEqual(results[1], [{ n: 2 }]);
  });

  await t.step("refuses several statements in one query, as Neon does", async () => {
    const error = await pgError(sql.query("SELECT 1; SELECT 2"));
    assert.equal(error.code, "42601");
  });

  await t.step("reports a check violation with its constraint through drizzle", async () => {
    const error = await pgError(
      db.insert(schema.users).values({ email: "  Mixed@Example.com", passwordHash: "x", fullName: "X" }),
    );
    assert.equal(error.code, "23514");
    assert.equal(error.constraint, "users_email_normalised");
  });

  await t.step("never lets two bookings that hold time overlap for one professional", async () => {
    const seed = await seedSalon(database);
    const [first] = await db.insert(schema.bookings)
      .values(booking(seed, "2026-03-10T13:00:00Z", "2026-03-10T14:00:00Z")).returning();
    const overlap = await pgError(
      db.insert(schema.bookings).values(booking(seed, "2026-03-10T13:30:00Z", "2026-03-10T14:30:00Z")),
    );
    assert.equal(overlap.code, "23P01");
    assert.equal(overlap.constraint, "bookings_no_overlap");
    // Back to back fits: ranges are half-open.
    await db.insert(schema.bookings).values(booking(seed, "2026-03-10T14:00:00Z", "2026-03-10T15:00:00Z"));
    // A cancelled booking frees its time.
    await db.update(schema.bookings).set({ status: "CANCELLED" }).where(eq(schema.bookings.id, first.id));
    await db.insert(schema.bookings).values(booking(seed, "2026-03-10T13:00:00Z", "2026-03-10T14:00:00Z"));
    const holding = await db.select().from(schema.bookings).where(
      eq(schema.bookings.professionalId, seed.professional.id),
    );
    assert.equal(holding.filter((b) => b.status === "CONFIRMED").length, 2);
  });

  await t.step("lets exactly one of many concurrent overlapping inserts win", async () => {
    const seed = await seedSalon(database);
    const attempts = await Promise.allSettled(
      Array.from(
        { length: 20 },
        () => db.insert(schema.bookings).values(booking(seed, "2026-03-11T13:00:00Z", "2026-03-11T14:00:00Z")),
      ),
    );
    assert.equal(attempts.filter((a) => a.status === "fulfilled").length, 1);
    for (const attempt of attempts.filter((a) => a.status === "rejected")) {
      const reason = (attempt as PromiseRejectedResult).reason;
      const code = (reason.cause ?? reason).code;
      // Concurrent exclusion checks may also end in a deadlock; both mean the slot is taken.
      assert.ok(code === "23P01" || code === "40P01", `unexpected ${code}`);
    }
  });
}

Deno.test("database on the embedded PGlite", async (t) => {
  const database = await openDatabase();
  try {
    await contract(t, database);
  } finally {
    await database.close();
  }
});

Deno.test({
  name: "database on the machine's PostgreSQL",
  ignore: !postgresAvailable,
  async fn(t) {
    const scratch = await createScratchDatabase();
    const database = await openDatabase({ url: scratch.url });
    try {
      await contract(t, database);
      await t.step("applies migrations once when two instances start at the same time", async () => {
        const other = await createScratchDatabase();
        const [a, b] = [await openDatabase({ url: other.url }), await openDatabase({ url: other.url })];
        try {
          const [first, second] = await Promise.all([migrate(a.sql), migrate(b.sql)]);
          assert.deepEqual([...first, ...second].sort(), (await loadMigrations()).map((m) => m.name));
        } finally {
          await a.close();
          await b.close();
          await other.drop();
        }
      });
    } finally {
      await database.close();
      await scratch.drop();
    }
  },
});
