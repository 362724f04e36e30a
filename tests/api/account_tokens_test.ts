/** Email verification and password reset: single-use hashed tokens, the outbox, same answers for unknown emails. */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
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
