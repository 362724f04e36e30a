/**
 * Driver selection. Every environment uses drizzle's `neon-http` over `@neondatabase/serverless`:
 * - no `DATABASE_URL`: PGlite (Postgres in WASM) answers the driver in-process;
 * - a loopback `DATABASE_URL`: the same in-process endpoint, over TCP to that server;
 * - any other URL: Neon itself.
 */
import { neon, neonConfig, type NeonQueryFunction } from "@neondatabase/serverless";
import { drizzle, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import { PGlite } from "@electric-sql/pglite";
import { btree_gist } from "@electric-sql/pglite/contrib/btree_gist";
import * as schema from "./schema.ts";
import {
  type DatabaseDeadlines,
  DEFAULT_DATABASE_DEADLINES,
  endpointKey,
  isLocalConnectionString,
  localNeonFetch,
  neonFetchEndpoint,
  PgliteBackend,
  PostgresBackend,
  registerLocalEndpoint,
  setRemoteDeadline,
  type SqlBackend,
  unregisterLocalEndpoint,
} from "./local_neon.ts";

neonConfig.fetchFunction = localNeonFetch;
neonConfig.fetchEndpoint = neonFetchEndpoint;

export type Db = NeonHttpDatabase<typeof schema>;
export type DatabaseKind = "pglite" | "postgres" | "neon";

/** An open database: the drizzle handle, the raw driver function, and how to close it. */
export interface Database {
  readonly kind: DatabaseKind;
  readonly db: Db;
  readonly sql: NeonQueryFunction<false, false>;
  /** Where it lives, without credentials (for logs and health). */
  readonly location: string;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A Postgres or Neon URL; unset means the embedded PGlite. */
  url?: string;
  /** PGlite data directory; unset means in memory. */
  dataDir?: string;
  /**
   * Connect, statement and lock deadlines for a PostgreSQL server; Neon over HTTP gets one deadline
   * per request (connect plus statement). PGlite runs in-process and has nobody to wait for.
   */
  deadlines?: DatabaseDeadlines;
}

export type { DatabaseDeadlines };

let embeddedCount = 0;

/** Opens the database the options name, behind the one production driver. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  let connectionString: string;
  let backend: SqlBackend | undefined;
  let location: string;
  const deadlines = options.deadlines ?? DEFAULT_DATABASE_DEADLINES;
  if (!options.url) {
    const pglite = await PGlite.create({
      dataDir: options.dataDir,
      extensions: { btree_gist },
    });
    backend = new PgliteBackend(pglite);
    embeddedCount += 1;
    connectionString = `postgres://pglite:pglite@pglite.localhost/embedded${embeddedCount}_${crypto.randomUUID()}`;
    location = options.dataDir ? `pglite:${options.dataDir}` : "pglite:memory";
  } else {
    connectionString = options.url;
    const url = new URL(options.url);
    location = `${url.hostname}:${url.port || 5432}${url.pathname}`;
    if (isLocalConnectionString(options.url)) backend = new PostgresBackend(options.url, { deadlines });
  }
  const key = endpointKey(connectionString);
  if (backend) registerLocalEndpoint(key, backend);
  else setRemoteDeadline(key, deadlines.connectMs + deadlines.statementMs);
  const sql = neon(connectionString);
  const db = drizzle({ client: sql, schema, casing: "snake_case" });
  return {
    kind: backend?.kind ?? "neon",
    db,
    sql,
    location,
    async close() {
      if (!backend) {
        setRemoteDeadline(key, undefined);
        return;
      }
      unregisterLocalEndpoint(key);
      await backend.close();
    },
  };
}
