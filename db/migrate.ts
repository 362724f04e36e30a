/**
 * Applies the committed SQL migrations in journal order, each once, each file in one batch
 * transaction together with its `schema_migrations` row: a file is applied whole or not at all,
 * and two instances starting at once cannot both apply it (the row's primary key decides).
 * Run as a script (`deno task db:migrate`) it migrates `DATABASE_URL` or the embedded database.
 */
import type { NeonQueryFunction } from "@neondatabase/serverless";

const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);
const BREAKPOINT = "--> statement-breakpoint";

/** One migration file: its journal tag, checksum and statements. */
export interface Migration {
  name: string;
  checksum: string;
  statements: string[];
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

type Sql = NeonQueryFunction<false, false>;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Splits a migration file at drizzle-kit's statement breakpoints, dropping empty pieces. */
export function splitStatements(source: string): string[] {
  return source.split(BREAKPOINT).map((part) => part.trim()).filter((part) =>
    part.split("\n").some((line) => line.trim() !== "" && !line.trim().startsWith("--"))
  );
}

let cached: Promise<Migration[]> | undefined;

/** Reads the migrations the journal lists, in order. */
export function loadMigrations(): Promise<Migration[]> {
  cached ??= (async () => {
    const journal = JSON.parse(await Deno.readTextFile(new URL("meta/_journal.json", MIGRATIONS_DIR))) as {
      entries: { idx: number; tag: string }[];
    };
    const entries = [...journal.entries].sort((a, b) => a.idx - b.idx);
    return await Promise.all(entries.map(async ({ tag }) => {
      const source = await Deno.readTextFile(new URL(`${tag}.sql`, MIGRATIONS_DIR));
      return { name: tag, checksum: await sha256Hex(source), statements: splitStatements(source) };
    }));
  })();
  return cached;
}

async function ensureLedger(sql: Sql): Promise<void> {
  // Two instances creating it at once may collide on the catalog's unique index: then it exists.
  await sql.query(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`,
  ).catch((error: { code?: string }) => {
    if (error.code !== "23505" && error.code !== "42P07") throw error;
  });
}

async function appliedChecksums(sql: Sql): Promise<Map<string, string>> {
  const rows = await sql.query("SELECT name, checksum FROM schema_migrations") as {
    name: string;
    checksum: string;
  }[];
  return new Map(rows.map((row) => [row.name, row.checksum]));
}

/** Which migrations this database has and lacks (a database without the ledger lacks them all). */
export async function migrationStatus(sql: Sql): Promise<MigrationStatus> {
  const migrations = await loadMigrations();
  const [{ exists }] = await sql.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS exists") as {
    exists: boolean;
  }[];
  const applied = exists ? await appliedChecksums(sql) : new Map<string, string>();
  return {
    applied: migrations.filter((m) => applied.has(m.name)).map((m) => m.name),
    pending: migrations.filter((m) => !applied.has(m.name)).map((m) => m.name),
  };
}

/** Applies every pending migration; returns the names applied by this call. */
export async function migrate(sql: Sql): Promise<string[]> {
  await ensureLedger(sql);
  const migrations = await loadMigrations();
  const applied = await appliedChecksums(sql);
  const done: string[] = [];
  for (const migration of migrations) {
    const known = applied.get(migration.name);
    if (known !== undefined) {
      if (known !== migration.checksum) {
        throw new Error(`Cannot migrate: ${migration.name} was changed after it was applied`);
      }
      continue;
    }
    try {
      await sql.transaction([
        // First, so a concurrent instance applying the same file waits here and then fails on the key.
        sql.query("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", [
          migration.name,
          migration.checksum,
        ]),
        ...migration.statements.map((statement) => sql.query(statement)),
      ]);
      done.push(migration.name);
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code === "23505" && constraint === "schema_migrations_pkey") continue;
      throw error;
    }
  }
  return done;
}

if (import.meta.main) {
  const { loadConfig } = await import("../adapters/config.ts");
  const { openDatabase } = await import("./client.ts");
  const config = loadConfig(Deno.env.toObject(), { server: false });
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  const applied = await migrate(database.sql);
  console.log(
    applied.length ? `Applied ${applied.join(", ")} to ${database.location}` : `${database.location} is up to date`,
  );
  await database.close();
}
