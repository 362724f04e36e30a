/**
 * The machine's PostgreSQL (127.0.0.1:5432), when it answers: each caller gets its own fresh
 * database and drops it afterwards, so runs never see each other's data.
 */
// @deno-types="npm:@types/pg@8.23.1"
import pg from "pg";

const ADMIN_URL = Deno.env.get("TEST_POSTGRES_ADMIN_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";

async function answers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** True when the machine's PostgreSQL answers; tests that need it are skipped otherwise. */
export const postgresAvailable = await answers();

/** Creates an empty database and returns its URL and how to drop it. */
export async function createScratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `booking_test_${crypto.randomUUID().replaceAll("-", "")}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/**
 * What a server process needs beside `DATABASE_URL` to start on a real database: its own secrets,
 * and development mode standing in for a mail provider.
 */
export const SERVER_ON_POSTGRES_ENV = {
  DEV_MODE: "1",
  JWT_SECRET: "bench-secret-0123456789abcdef0123456789",
  QSTASH_CURRENT_SIGNING_KEY: "bench-current-0123456789",
  QSTASH_NEXT_SIGNING_KEY: "bench-next-0123456789abc",
};
