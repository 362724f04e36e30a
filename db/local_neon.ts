/**
 * A local endpoint that speaks Neon's SQL-over-HTTP protocol, so the production driver
 * (`@neondatabase/serverless` `neon()` + drizzle `neon-http`) runs unchanged against PGlite or a
 * PostgreSQL server on this machine. It is reached through the driver's `fetchFunction` hook: no
 * port is opened.
 *
 * Protocol (what the driver sends and expects):
 * - `POST /sql` with `{query, params}` or `{queries: [{query, params}, ...]}` (a batch: one
 *   transaction), headers `Neon-Connection-String`, `Neon-Raw-Text-Output`, `Neon-Array-Mode`, and
 *   for batches `Neon-Batch-Isolation-Level`, `Neon-Batch-Read-Only`, `Neon-Batch-Deferrable`.
 * - 200 with `{command, rowCount, fields, rows, rowAsArray}` (or `{results: [...]}` for a batch);
 *   400 with the Postgres error fields (`message`, `code`, `detail`, `constraint`, ...).
 * - Statements run through the extended protocol, one statement per query, as on Neon.
 */
import { PGlite, types as pgliteTypes } from "@electric-sql/pglite";
// @deno-types="npm:@types/pg@8.23.1"
import pg from "pg";

/** One statement as the driver sends it: parameters are already text (or null). */
export interface WireQuery {
  query: string;
  params: (string | null)[];
}

/** One field description as Neon returns it. */
export interface WireField {
  name: string;
  tableID: number;
  columnID: number;
  dataTypeID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: "text";
}

/** One statement's result as Neon returns it (rows hold Postgres text output). */
export interface WireResult {
  command: string;
  rowCount: number | null;
  fields: WireField[];
  rows: (string | null)[][];
}

/** Batch options carried by the `Neon-Batch-*` headers. */
export interface BatchOptions {
  isolationLevel?: IsolationLevel;
  readOnly?: boolean;
  deferrable?: boolean;
}

export type IsolationLevel = "ReadUncommitted" | "ReadCommitted" | "RepeatableRead" | "Serializable";

/** A Postgres server the endpoint can answer from. */
export interface SqlBackend {
  readonly kind: "pglite" | "postgres";
  query(query: WireQuery): Promise<WireResult>;
  batch(queries: WireQuery[], options: BatchOptions): Promise<WireResult[]>;
  close(): Promise<void>;
}

/** The error fields Neon copies from Postgres into a 400 answer (the driver reads these names). */
const ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

const ISOLATION_SQL: Record<IsolationLevel, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};

/** Returns the `BEGIN` statement for a batch's options. */
export function beginStatement(options: BatchOptions): string {
  const parts = ["BEGIN"];
  if (options.isolationLevel) parts.push(`ISOLATION LEVEL ${ISOLATION_SQL[options.isolationLevel]}`);
  if (options.readOnly !== undefined) parts.push(options.readOnly ? "READ ONLY" : "READ WRITE");
  if (options.deferrable !== undefined) parts.push(options.deferrable ? "DEFERRABLE" : "NOT DEFERRABLE");
  return parts.join(" ");
}

/** Serialises async work: PGlite is one connection, so a batch must never interleave with another statement. */
class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(work, work);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

function pgliteField(field: { name: string; dataTypeID: number }): WireField {
  return {
    name: field.name,
    tableID: 0,
    columnID: 0,
    dataTypeID: field.dataTypeID,
    dataTypeSize: -1,
    dataTypeModifier: -1,
    format: "text",
  };
}

/** Backend over an in-process PGlite database: every request is queued on its single connection. */
export class PgliteBackend implements SqlBackend {
  readonly kind = "pglite" as const;
  readonly #db: PGlite;
  readonly #queue = new SerialQueue();
  // Parameters arrive as Postgres text already; PGlite's own serializers would re-encode them
  // (JSON twice, timestamps through Date with lost microseconds), so every type passes through.
  readonly #serializers = new Proxy({}, { get: () => (value: unknown) => String(value) });
  #rawParsers: Record<string, (value: string) => string> = {};

  constructor(db: PGlite) {
    this.#db = db;
  }

  get database(): PGlite {
    return this.#db;
  }

  #parsers(): Record<string, (value: string) => string> {
    // Array types are registered on the instance after start-up, so the key set is read each time.
    const keys = new Set([...Object.keys(pgliteTypes.parsers), ...Object.keys(this.#db.parsers)]);
    if (keys.size !== Object.keys(this.#rawParsers).length) {
      this.#rawParsers = Object.fromEntries([...keys].map((key) => [key, (value: string) => value]));
    }
    return this.#rawParsers;
  }

  async #run(query: WireQuery): Promise<WireResult> {
    const result = await this.#db.query<(string | null)[]>(query.query, query.params, {
      rowMode: "array",
      parsers: this.#parsers(),
      serializers: this.#serializers,
    });
    return {
      command: commandOf(query.query, result),
      rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length,
      fields: result.fields.map(pgliteField),
      rows: result.rows,
    };
  }

  query(query: WireQuery): Promise<WireResult> {
    return this.#queue.run(() => this.#run(query));
  }

  batch(queries: WireQuery[], options: BatchOptions): Promise<WireResult[]> {
    return this.#queue.run(async () => {
      await this.#db.exec(beginStatement(options));
      try {
        const results: WireResult[] = [];
        for (const query of queries) results.push(await this.#run(query));
        await this.#db.exec("COMMIT");
        return results;
      } catch (error) {
        await this.#db.exec("ROLLBACK");
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    await this.#queue.run(() => this.#db.close());
  }
}

// PGlite reports SELECT row counts but not always the command; the first keyword is what Postgres tags it with.
function commandOf(sql: string, result: { command?: string }): string {
  if ((result as { command?: string }).command) return (result as { command: string }).command;
  return sql.trimStart().split(/\s+/, 1)[0].toUpperCase();
}

const RAW_TEXT_TYPES = { getTypeParser: () => (value: string) => value };

/** How long a database may take before the request gives up on it, in milliseconds. */
export interface DatabaseDeadlines {
  /** Opening a connection (TCP and start-up), and waiting for a free pooled one. */
  connectMs: number;
  /** One statement, enforced by the server (57014 query_canceled). */
  statementMs: number;
  /** Waiting for a lock another session holds (55P03 lock_not_available). */
  lockMs: number;
}

export const DEFAULT_DATABASE_DEADLINES: DatabaseDeadlines = { connectMs: 3000, statementMs: 5000, lockMs: 2000 };

// A server that stops answering cancels nothing itself: the client stops waiting this long after
// the server's own statement timeout should have answered.
const CLIENT_READ_MARGIN_MS = 1000;

/** Backend over a PostgreSQL server reached by TCP: a pooled connection per statement or batch. */
export class PostgresBackend implements SqlBackend {
  readonly kind = "postgres" as const;
  readonly #pool: pg.Pool;

  constructor(connectionString: string, options: { max?: number; deadlines?: DatabaseDeadlines } = {}) {
    const deadlines = options.deadlines ?? DEFAULT_DATABASE_DEADLINES;
    this.#pool = new pg.Pool({
      connectionString,
      max: options.max ?? 10,
      connectionTimeoutMillis: deadlines.connectMs,
      // Sent as start-up parameters: every statement of every session has them, batches included.
      statement_timeout: deadlines.statementMs,
      lock_timeout: deadlines.lockMs,
      query_timeout: deadlines.statementMs + CLIENT_READ_MARGIN_MS,
    });
    // An idle client that loses its connection must not crash the process.
    this.#pool.on("error", () => {});
  }

  async #run(client: pg.Pool | pg.PoolClient, query: WireQuery): Promise<WireResult> {
    const result = await client.query(
      {
        text: query.query,
        values: query.params,
        rowMode: "array",
        types: RAW_TEXT_TYPES,
        // Neon runs every statement through the extended protocol: one statement per query.
        queryMode: "extended",
      } as pg.QueryConfig & { rowMode: "array"; queryMode: "extended" },
    );
    return {
      command: result.command,
      rowCount: result.rowCount,
      fields: result.fields.map((field) => ({
        name: field.name,
        tableID: field.tableID,
        columnID: field.columnID,
        dataTypeID: field.dataTypeID,
        dataTypeSize: field.dataTypeSize,
        dataTypeModifier: field.dataTypeModifier,
        format: "text" as const,
      })),
      rows: result.rows as (string | null)[][],
    };
  }

  query(query: WireQuery): Promise<WireResult> {
    return this.#run(this.#pool, query);
  }

  async batch(queries: WireQuery[], options: BatchOptions): Promise<WireResult[]> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    let begun = false;
    try {
      await client.query(beginStatement(options));
      begun = true;
      const results: WireResult[] = [];
      for (const query of queries) results.push(await this.#run(client, query));
      await client.query("COMMIT");
      return results;
    } catch (error) {
      if (!errorBody(error)) {
        // Not the server's answer (a read deadline, a lost socket): the connection is in an unknown
        // state and a ROLLBACK would wait as long again; dropping it rolls back on the server.
        broken = error instanceof Error ? error : new Error(String(error));
      } else if (begun) {
        await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

function errorBody(error: unknown): Record<string, unknown> | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const source = error as Record<string, unknown>;
  if (typeof source.code !== "string" || !/^[0-9A-Z]{5}$/.test(source.code)) return undefined;
  const body: Record<string, unknown> = { message: String(source.message ?? "database error") };
  for (const field of ERROR_FIELDS) {
    if (source[field] !== undefined && source[field] !== null) body[field] = String(source[field]);
  }
  return body;
}

function toObjectRows(result: WireResult) {
  return result.rows.map((row) => Object.fromEntries(row.map((value, i) => [result.fields[i].name, value])));
}

function shape(result: WireResult, arrayMode: boolean) {
  return {
    command: result.command,
    rowCount: result.rowCount,
    fields: result.fields,
    rows: arrayMode ? result.rows : toObjectRows(result),
    rowAsArray: arrayMode,
  };
}

const requestSchema = {
  isQuery(value: unknown): value is WireQuery {
    if (typeof value !== "object" || value === null) return false;
    const { query, params } = value as Record<string, unknown>;
    return typeof query === "string" &&
      Array.isArray(params) && params.every((p) => p === null || typeof p === "string");
  },
};

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Answers one Neon SQL-over-HTTP request from a backend, as Neon's proxy would. */
export async function handleNeonRequest(backend: SqlBackend, request: Request): Promise<Response> {
  if (request.method !== "POST") return json(405, { message: "method not allowed" });
  let payload: unknown;
  try {
    payload = await request.json();
  } catch {
    return json(400, { message: "request body is not valid JSON" });
  }
  const arrayMode = request.headers.get("Neon-Array-Mode") === "true";
  try {
    if (typeof payload === "object" && payload !== null && "queries" in payload) {
      const queries = (payload as { queries: unknown }).queries;
      if (!Array.isArray(queries) || !queries.every(requestSchema.isQuery)) {
        return json(400, { message: "invalid batch: expected queries: [{query, params}]" });
      }
      const isolation = request.headers.get("Neon-Batch-Isolation-Level");
      if (isolation !== null && !(isolation in ISOLATION_SQL)) {
        return json(400, { message: `invalid Neon-Batch-Isolation-Level: ${isolation}` });
      }
      const readOnly = request.headers.get("Neon-Batch-Read-Only");
      const deferrable = request.headers.get("Neon-Batch-Deferrable");
      const results = await backend.batch(queries, {
        isolationLevel: (isolation as IsolationLevel | null) ?? undefined,
        readOnly: readOnly === null ? undefined : readOnly === "true",
        deferrable: deferrable === null ? undefined : deferrable === "true",
      });
      return json(200, { results: results.map((result) => shape(result, arrayMode)) });
    }
    if (!requestSchema.isQuery(payload)) {
      return json(400, { message: "invalid query: expected {query, params}" });
    }
    return json(200, shape(await backend.query(payload), arrayMode));
  } catch (error) {
    const body = errorBody(error);
    if (body) return json(400, body);
    // Not a Postgres error: the connection or the engine failed, which Neon reports as a 5xx.
    return json(503, { message: error instanceof Error ? error.message : String(error) });
  }
}

const endpoints = new Map<string, SqlBackend>();
/** How long a request to a remote (Neon) endpoint may take, per connection string. */
const remoteDeadlines = new Map<string, number>();

/** Gives every HTTP request for this connection string to Neon a deadline (unset: none). */
export function setRemoteDeadline(connectionString: string, ms: number | undefined): void {
  if (ms === undefined) remoteDeadlines.delete(connectionString);
  else remoteDeadlines.set(connectionString, ms);
}

/** Routes requests carrying this connection string to a local backend instead of the network. */
export function registerLocalEndpoint(connectionString: string, backend: SqlBackend): void {
  endpoints.set(connectionString, backend);
}

/** Stops routing a connection string locally. */
export function unregisterLocalEndpoint(connectionString: string): void {
  endpoints.delete(connectionString);
}

/**
 * The driver's `fetchFunction`: requests whose `Neon-Connection-String` names a registered local
 * backend are answered in-process; any other request (a real Neon database) goes to the network.
 */
export function localNeonFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const connectionString = request.headers.get("Neon-Connection-String");
  const key = connectionString ? stripDriverParameters(connectionString) : undefined;
  const backend = key ? endpoints.get(key) : undefined;
  if (backend) return handleNeonRequest(backend, request);
  if (LOCAL_HOST.test(new URL(request.url).hostname)) {
    // A local database that was closed (or never opened): never send SQL to whatever listens there.
    return Promise.resolve(json(503, { message: "no local database is open for this connection string" }));
  }
  // A Neon proxy that stops answering would hold the request until the platform's own limit; the
  // aborted fetch reaches the driver as a connection error (503 unavailable).
  const deadline = key ? remoteDeadlines.get(key) : undefined;
  if (deadline === undefined) return fetch(request);
  const signal = AbortSignal.any([request.signal, AbortSignal.timeout(deadline)]);
  return fetch(request, { signal });
}

// The driver rewrites the scheme to `postgresql:` and appends `application_name`; the key keeps what names the database.
function stripDriverParameters(connectionString: string): string {
  const url = new URL(connectionString);
  url.searchParams.delete("application_name");
  const query = url.searchParams.toString();
  return `${url.username}@${url.host}${url.pathname}${query ? `?${query}` : ""}`;
}

const LOCAL_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|.+\.localhost)$/;

/** True when a connection string names a server on this machine (answered by the local endpoint). */
export function isLocalConnectionString(connectionString: string): boolean {
  return LOCAL_HOST.test(new URL(connectionString).hostname);
}

/**
 * The driver's `fetchEndpoint`: Neon's own rule (`https://api.<rest of host>/sql`) for Neon hosts,
 * and a well-formed address for local hosts, whose requests `localNeonFetch` answers in-process.
 */
export function neonFetchEndpoint(host: string, port: number | string, options?: { jwtAuth?: boolean }): string {
  if (LOCAL_HOST.test(host)) return `http://${host.includes(":") ? `[${host}]` : host}:${port}/sql`;
  return `https://${host.replace(/^[^.]+\./, options?.jwtAuth ? "apiauth." : "api.")}/sql`;
}

/** Normalises a connection string the way lookups in the endpoint registry see it. */
export function endpointKey(connectionString: string): string {
  return stripDriverParameters(connectionString);
}
