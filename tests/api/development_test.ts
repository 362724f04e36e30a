/**
 * Development conveniences: only in development mode, only from loopback, and a single-use code
 * only to its recipient (or an admin); never in a log line, in any mode.
 */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { outbox, users } from "../../db/schema.ts";
import { makeTestApp, type TestApp } from "../support/app.ts";
import { bearer, makeUser } from "../support/users.ts";

const LOOPBACK = { remoteAddr: { hostname: "127.0.0.1", port: 50000, transport: "tcp" } };
const REMOTE = { remoteAddr: { hostname: "203.0.113.9", port: 50000, transport: "tcp" } };

async function deliverAll(testApp: TestApp) {
  for (let i = 0; i < 5; i++) {
    const report = await testApp.dispatcher.runDue();
    if (report.delivered + report.retried + report.dead === 0) return;
  }
}

/** Asks for a reset of `email` as an anonymous caller and returns the code the message carries. */
async function requestReset(testApp: TestApp, email: string): Promise<string> {
  const res = await testApp.app.request("/api/v1/auth/password-reset/request", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email }),
  });
  assert.equal(res.status, 202);
  const [row] = await testApp.deps.database.db.select().from(outbox)
    .where(and(eq(outbox.topic, "email.password_reset")));
  const code = String((row.payload as { token: string }).token);
  await deliverAll(testApp);
  return code;
}

function outboxAs(testApp: TestApp, headers: Record<string, string>, env: unknown = LOOPBACK) {
  return testApp.app.request("/dev/outbox", { headers }, env);
}

function assertNotLogged(testApp: TestApp, code: string) {
  const leaked = testApp.logLines.filter((line) => JSON.stringify(line).includes(code));
  assert.deepEqual(leaked, [], "a log line holds the single-use code");
}

Deno.test("without development mode: no dev outbox, and the code is in no log line", async () => {
  const testApp = await makeTestApp({ LOG_LEVEL: "debug" });
  try {
    const admin = await makeUser(testApp, "ADMIN");
    const code = await requestReset(testApp, admin.email);
    assertNotLogged(testApp, code);
    // The log still says a message went nowhere, so the operator sees why nobody received it.
    assert.ok(testApp.logLines.some((line) => String(line.message).startsWith("dev mail") && line.to === admin.email));
    for (const headers of [{}, bearer(admin)]) {
      const res = await outboxAs(testApp, headers);
      assert.equal(res.status, 404);
      await res.body?.cancel();
    }
  } finally {
    await testApp.close();
  }
});

Deno.test("development mode: the dev outbox on loopback, each message to its recipient", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "debug", DEV_MODE: "1" });
  try {
    const victim = await makeUser(testApp, "ADMIN");
    const code = await requestReset(testApp, victim.email);

    await t.step("the takeover path is closed: an anonymous caller polling it sees no code", async () => {
      const res = await outboxAs(testApp, {});
      assert.equal(res.status, 401);
      assert.doesNotMatch(await res.text(), new RegExp(code));
    });

    await t.step("not from another machine, even signed in", async () => {
      const res = await outboxAs(testApp, bearer(victim), REMOTE);
      assert.equal(res.status, 404);
      await res.body?.cancel();
      const inProcess = await outboxAs(testApp, bearer(victim), {});
      assert.equal(inProcess.status, 404);
      await inProcess.body?.cancel();
    });

    await t.step("another signed-in user does not see someone else's message", async () => {
      const stranger = await makeUser(testApp, "SALON_OWNER");
      const res = await outboxAs(testApp, bearer(stranger));
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.ok(body.data.every((m: { to: string }) => m.to === stranger.email));
      assert.doesNotMatch(JSON.stringify(body), new RegExp(code));
    });

    await t.step("the recipient reads their own message, code included", async () => {
      const res = await outboxAs(testApp, bearer(victim));
      assert.equal(res.status, 200);
      const body = await res.json();
      const reset = body.data.find((m: { to: string; body: string }) => m.to === victim.email);
      assert.ok(reset, "the reset message is listed");
      assert.equal(reset.channel, "EMAIL");
      assert.match(reset.body, new RegExp(code));
    });

    await t.step("an admin sees every message", async () => {
      const client = await makeUser(testApp, "CLIENT");
      await requestReset(testApp, client.email);
      const admin = await makeUser(testApp, "ADMIN");
      const body = await (await outboxAs(testApp, bearer(admin))).json();
      assert.ok(body.data.some((m: { to: string }) => m.to === client.email));
      assert.ok(body.data.some((m: { to: string }) => m.to === victim.email));
    });

    await t.step("the code reached no log line and the database keeps no copy once sent", async () => {
      assertNotLogged(testApp, code);
      const [row] = await testApp.deps.database.db.select().from(outbox)
        .where(eq(outbox.topic, "email.password_reset")).limit(1);
      assert.doesNotMatch(JSON.stringify(row.payload), new RegExp(code));
      const [user] = await testApp.deps.database.db.select().from(users).where(eq(users.id, victim.id));
      assert.equal(user.role, "ADMIN");
    });
  } finally {
    await testApp.close();
  }
});
