/**
 * Email verification and password reset: single-use hashed tokens, the outbox, same answers for
 * unknown emails, the message budgets, and no password hashing for a token that cannot be used.
 */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { MemoryStore } from "../../adapters/store.ts";
import { auditEvents, outbox, users, userTokens } from "../../db/schema.ts";
import { makeTestApp } from "../support/app.ts";
import { bearer, makeUser } from "../support/users.ts";

const JSON_HEADERS = { "content-type": "application/json" };

Deno.test("verification and reset", async (t) => {
  let clock = new Date("2026-11-23T12:00:00Z");
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => clock });
  const { app, deps } = testApp;
  const db = deps.database.db;
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.request(`/api/v1/auth/${path}`, {
      method: "POST",
      headers: { ...JSON_HEADERS, ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const lastToken = async (userId: string, topic: string) => {
    const rows = await db.select().from(outbox).where(eq(outbox.topic, topic));
    const mine = rows.filter((r) => (r.payload as { user_id: string }).user_id === userId);
    return (mine.at(-1)!.payload as { token: string }).token;
  };

  try {
    await t.step("a verification token works once and is stored only as a hash", async () => {
      const user = await makeUser(testApp);
      const res = await post("verify-email/request", undefined, bearer(user));
      assert.equal(res.status, 202);
      const token = await lastToken(user.id, "email.verify_email");
      const stored = await db.select().from(userTokens).where(eq(userTokens.userId, user.id));
      assert.equal(stored.length, 1);
      assert.notEqual(stored[0].tokenHash, token);
      assert.equal((await post("verify-email/confirm", { token })).status, 204);
      const [row] = await db.select().from(users).where(eq(users.id, user.id));
      assert.equal(row.verified, true);
      const again = await post("verify-email/confirm", { token });
      assert.equal(again.status, 400);
      assert.equal((await again.json()).errors[0].path, "token");
    });

    await t.step("a reset request answers the same for known and unknown emails", async () => {
      const user = await makeUser(testApp);
      const known = await post("password-reset/request", { email: user.email });
      const unknown = await post("password-reset/request", { email: `nobody-${crypto.randomUUID()}@example.com` });
      assert.equal(known.status, 202);
      assert.equal(unknown.status, 202);
      assert.deepEqual(await known.json(), await unknown.json());
    });

    await t.step(
      "a completed reset changes the password, ends every session, and the token cannot be reused",
      async () => {
        const user = await makeUser(testApp);
        await post("password-reset/request", { email: user.email });
        const token = await lastToken(user.id, "email.password_reset");
        assert.equal((await post("password-reset/confirm", { token, new_password: "Renewed789" })).status, 204);
        const me = await app.request("/api/v1/users/me", { headers: bearer(user) });
        assert.equal(me.status, 401, "the old session ended");
        assert.equal((await post("refresh", { refresh_token: user.refreshToken })).status, 401);
        assert.equal((await post("login", { email: user.email, password: "Renewed789" })).status, 200);
        assert.equal((await post("password-reset/confirm", { token, new_password: "Another789" })).status, 400);
        const audited = await db.select().from(auditEvents)
          .where(and(eq(auditEvents.entityId, user.id), eq(auditEvents.action, "auth.password_reset")));
        assert.equal(audited.length, 1);
      },
    );

    await t.step("a reset token expires after 30 minutes, and a newer one replaces it", async () => {
      const user = await makeUser(testApp);
      await post("password-reset/request", { email: user.email });
      const first = await lastToken(user.id, "email.password_reset");
      await post("password-reset/request", { email: user.email });
      const second = await lastToken(user.id, "email.password_reset");
      assert.equal((await post("password-reset/confirm", { token: first, new_password: "Renewed789" })).status, 400);
      clock = new Date(clock.getTime() + 31 * 60 * 1000);
      assert.equal((await post("password-reset/confirm", { token: second, new_password: "Renewed789" })).status, 400);
    });
  } finally {
    await testApp.close();
  }
});

Deno.test("account messages within their budgets", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "info", TRUSTED_PROXY_IP_HEADER: "X-Client-IP" });
  const { app, deps } = testApp;
  const db = deps.database.db;
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.request(`/api/v1/auth/${path}`, {
      method: "POST",
      headers: { ...JSON_HEADERS, ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const resetsOf = async (userId: string) =>
    (await db.select().from(outbox).where(eq(outbox.topic, "email.password_reset")))
      .filter((r) => (r.payload as { user_id: string }).user_id === userId).length;

  try {
    await t.step("the 4th reset request to one address within an hour sends nothing, yet answers 202", async () => {
      const user = await makeUser(testApp);
      const answers = [];
      for (let i = 0; i < 4; i++) {
        // From four addresses: the recipient's own budget (3 an hour) is what binds.
        const res = await post("password-reset/request", { email: user.email }, { "X-Client-IP": `192.0.2.${i + 1}` });
        assert.equal(res.status, 202);
        answers.push(await res.json());
        assert.equal(await resetsOf(user.id), Math.min(i + 1, 3));
      }
      assert.deepEqual(answers[3], answers[0]);
      const unknown = await post("password-reset/request", { email: `nobody-${crypto.randomUUID()}@example.com` }, {
        "X-Client-IP": "192.0.2.9",
      });
      assert.deepEqual(await unknown.json(), answers[0]);
      // The operator learns that a limit held the message back, never for whom.
      const warned = testApp.logLines.filter((l) => l.message === "password reset not sent: message limit reached");
      assert.equal(warned.length, 1);
      assert.equal(warned[0].scope, "recipient");
      assert.ok(!JSON.stringify(warned).includes(user.email));
    });

    await t.step(
      "one address asking for resets of many accounts gets 10 an hour, then 202s that send nothing",
      async () => {
        const targets = [];
        for (let i = 0; i < 11; i++) targets.push(await makeUser(testApp));
        for (const target of targets) {
          const res = await post("password-reset/request", { email: target.email }, { "X-Client-IP": "198.51.100.77" });
          assert.equal(res.status, 202);
        }
        const sent = await Promise.all(targets.map((target) => resetsOf(target.id)));
        assert.deepEqual(sent, [...Array(10).fill(1), 0]);
      },
    );

    await t.step("verification emails beyond the budget answer 429 with Retry-After", async () => {
      const user = await makeUser(testApp);
      for (let i = 0; i < 3; i++) {
        assert.equal((await post("verify-email/request", undefined, bearer(user))).status, 202);
      }
      const over = await post("verify-email/request", undefined, bearer(user));
      assert.equal(over.status, 429);
      assert.equal(over.headers.get("content-type"), "application/problem+json");
      assert.ok(Number(over.headers.get("retry-after")) >= 1);
      assert.equal((await over.json()).code, "rate_limited");
      const sent = (await db.select().from(outbox).where(eq(outbox.topic, "email.verify_email")))
        .filter((r) => (r.payload as { user_id: string }).user_id === user.id);
      assert.equal(sent.length, 3);
    });

    await t.step("a reset confirmation with a bogus token hashes no password", async () => {
      const passwords = deps.passwords;
      const hash = passwords.hash.bind(passwords);
      let hashed = 0;
      passwords.hash = (password) => {
        hashed++;
        return hash(password);
      };
      try {
        const res = await post("password-reset/confirm", {
          token: "bogus-token-0123456789",
          new_password: "Renewed789",
        });
        assert.equal(res.status, 400);
        assert.equal((await res.json()).errors[0].path, "token");
        assert.equal(hashed, 0);
        // A real token still works, and is hashed once.
        const user = await makeUser(testApp);
        await post("password-reset/request", { email: user.email }, { "X-Client-IP": "203.0.113.40" });
        const [row] = (await db.select().from(outbox).where(eq(outbox.topic, "email.password_reset")))
          .filter((r) => (r.payload as { user_id: string }).user_id === user.id);
        const token = (row.payload as { token: string }).token;
        hashed = 0;
        assert.equal((await post("password-reset/confirm", { token, new_password: "Renewed789" })).status, 204);
        assert.equal(hashed, 1);
      } finally {
        passwords.hash = hash;
      }
    });

    await t.step("no single-use code reaches a log line", async () => {
      const user = await makeUser(testApp);
      await post("password-reset/request", { email: user.email }, { "X-Client-IP": "203.0.113.41" });
      const [row] = (await db.select().from(outbox).where(eq(outbox.topic, "email.password_reset")))
        .filter((r) => (r.payload as { user_id: string }).user_id === user.id);
      const token = (row.payload as { token: string }).token;
      await testApp.dispatcher.runDue();
      await testApp.dispatcher.runDue();
      assert.ok(!testApp.logLines.some((line) => JSON.stringify(line).includes(token)));
    });
  } finally {
    await testApp.close();
  }
});

/** A store that is down: every call fails. */
class BrokenStore extends MemoryStore {
  override get(): Promise<string | null> {
    return Promise.reject(new Error("connection refused"));
  }
  override increment(): Promise<number> {
    return Promise.reject(new Error("connection refused"));
  }
}

Deno.test("when the store is down, account messages are refused with 503 and nothing is sent", async () => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { store: new BrokenStore() });
  try {
    const user = await makeUser(testApp);
    const reset = await testApp.app.request("/api/v1/auth/password-reset/request", {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify({ email: user.email }),
    });
    assert.equal(reset.status, 503);
    assert.equal(reset.headers.get("content-type"), "application/problem+json");
    assert.ok(reset.headers.get("retry-after"));
    const verify = await testApp.app.request("/api/v1/auth/verify-email/request", {
      method: "POST",
      headers: bearer(user),
    });
    assert.equal(verify.status, 503);
    assert.equal((await testApp.deps.database.db.select().from(outbox)).length, 0);
  } finally {
    await testApp.close();
  }
});
