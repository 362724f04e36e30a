import assert from "node:assert/strict";
import {
  beginStatement,
  endpointKey,
  handleNeonRequest,
  isLocalConnectionString,
  neonFetchEndpoint,
  type SqlBackend,
} from "../../db/local_neon.ts";
import { splitStatements } from "../../db/migrate.ts";

Deno.test("beginStatement carries the batch's isolation, access mode and deferrability", () => {
  assert.equal(beginStatement({}), "BEGIN");
  assert.equal(
    beginStatement({ isolationLevel: "Serializable", readOnly: true, deferrable: true }),
    "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE",
  );
  assert.equal(
    beginStatement({ isolationLevel: "ReadCommitted", readOnly: false }),
    "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE",
  );
});

Deno.test("connection strings on this machine stay local; Neon hosts keep Neon's endpoint", () => {
  assert.ok(isLocalConnectionString("postgres://u@127.0.0.1:5432/db"));
  assert.ok(isLocalConnectionString("postgres://u@localhost/db"));
  assert.ok(isLocalConnectionString("postgres://u:p@pglite.localhost/x"));
  assert.ok(!isLocalConnectionString("postgres://u:p@ep-cool-name-123.eu-central-1.aws.neon.tech/neondb"));
  assert.equal(
    neonFetchEndpoint("ep-cool-name-123.eu-central-1.aws.neon.tech", 5432),
    "https://api.eu-central-1.aws.neon.tech/sql",
  );
  assert.equal(neonFetchEndpoint("127.0.0.1", 5432), "http://127.0.0.1:5432/sql");
  assert.equal(
    endpointKey("postgresql://u@127.0.0.1:5432/db?application_name=x"),
    endpointKey("postgres://u@127.0.0.1:5432/db"),
  );
});

Deno.test("splitStatements splits at breakpoints and drops comment-only pieces", () => {
  const source =
    "-- header\nCREATE TABLE a (id int);\n--> statement-breakpoint\n-- only a comment\n--> statement-breakpoint\nSELECT 1;";
  assert.deepEqual(splitStatements(source), ["-- header\nCREATE TABLE a (id int);", "SELECT 1;"]);
});

Deno.test("the local endpoint answers as Neon does", async (t) => {
  const calls: unknown[] = [];
  const backend: SqlBackend = {
    kind: "pglite",
    query(query) {
      calls.push(query);
      if (query.query === "fail") {
        return Promise.reject(
          Object.assign(new Error("duplicate key"), { code: "23505", constraint: "x_pkey", detail: "Key (id)=(1)" }),
        );
      }
      return Promise.resolve({
        command: "SELECT",
        rowCount: 1,
        fields: [{
          name: "n",
          tableID: 0,
          columnID: 0,
          dataTypeID: 23,
          dataTypeSize: 4,
          dataTypeModifier: -1,
          format: "text",
        }],
        rows: [["1"]],
      });
    },
    batch(queries, options) {
      calls.push({ queries, options });
      return Promise.all(queries.map((q) => this.query(q)));
    },
    close: () => Promise.resolve(),
  };
  const request = (body: unknown, headers: Record<string, string> = {}) =>
    new Request("http://127.0.0.1:5432/sql", { method: "POST", body: JSON.stringify(body), headers });

  await t.step("rows as arrays in array mode, as objects otherwise", async () => {
    const arrays =
      await (await handleNeonRequest(backend, request({ query: "q", params: [] }, { "Neon-Array-Mode": "true" })))
        .json();
    assert.deepEqual(arrays.rows, [["1"]]);
    assert.equal(arrays.rowAsArray, true);
    const objects = await (await handleNeonRequest(backend, request({ query: "q", params: [] }))).json();
    assert.deepEqual(objects.rows, [{ n: "1" }]);
  });

  await t.step("a batch passes the isolation headers and answers results in order", async () => {
    const res = await handleNeonRequest(
      backend,
      request({ queries: [{ query: "a", params: [] }, { query: "b", params: ["x", null] }] }, {
        "Neon-Batch-Isolation-Level": "RepeatableRead",
        "Neon-Batch-Read-Only": "true",
      }),
    );
    assert.equal(res.status, 200);
    assert.equal((await res.json()).results.length, 2);
    assert.deepEqual((calls.at(-3) as { options: unknown }).options, {
      isolationLevel: "RepeatableRead",
      readOnly: true,
      deferrable: undefined,
    });
  });

  await t.step("a Postgres error is a 400 carrying its fields", async () => {
    const res = await handleNeonRequest(backend, request({ query: "fail", params: [] }));
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      message: "duplicate key",
      code: "23505",
      detail: "Key (id)=(1)",
      constraint: "x_pkey",
    });
  });

  await t.step("a malformed request is a 400 that names the problem", async () => {
    assert.equal((await handleNeonRequest(backend, request({ query: 1 }))).status, 400);
    const bad = await handleNeonRequest(backend, request({ queries: [] }, { "Neon-Batch-Isolation-Level": "Chaos" }));
    assert.match((await bad.json()).message, /Isolation/);
  });
});
