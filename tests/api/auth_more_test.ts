/** Password rehash at login, login auditing, and the first-admin bootstrap. */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { PasswordHasher } from "../../adapters/passwords.ts";
import { bootstrapAdmin } from "../../db/auth.ts";
import { auditEvents, users } from "../../db/schema.ts";
import { makeTestApp } from "../support/app.ts";
import { bearer, makeUser } from "../support/users.ts";

const JSON_HEADERS = { "content-type": "application/json" };

Deno.test("sessions, more", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" });
  const { app, deps } = testApp;
  const db = deps.database.db;
  const login = (email: string, password: string) =>
    app.request("/api/v1/auth/login", {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify({ email, password }),
    });

  try {
    await t.step("a login rehashes a password stored with other argon2 parameters", async () => {
      const user = await makeUser(testApp);
      const old = await new PasswordHasher({ memoryCost: 2048, timeCost: 2, parallelism: 1 }).hash(user.password);
      await db.update(users).set({ passwordHash: old }).where(eq(users.id, user.id));
      assert.equal((await login(user.email, user.password)).status, 200);
      const [row] = await db.select().from(users).where(eq(users.id, user.id));
      assert.notEqual(row.passwordHash, old);
      assert.equal(deps.passwords.needsRehash(row.passwordHash), false);
      assert.ok(row.lastLoginAt instanceof Date);
    });

    await t.step("logins and failed logins are audited with address and user agent", async () => {
      const user = await makeUser(testApp);
      await app.request("/api/v1/auth/login", {
        method: "POST",
        headers: { ...JSON_HEADERS, "user-agent": "BenchClient/1.0" },
        body: JSON.stringify({ email: user.email, password: "Wrong1234" }),
      });
      await login(user.email, user.password);
      const events = await db.select().from(auditEvents).where(eq(auditEvents.entityId, user.id));
      const actions = events.map((e) => e.action);
      assert.ok(actions.includes("auth.login_failed") && actions.includes("auth.login"), actions.join());
      const failed = events.find((e) => e.action === "auth.login_failed")!;
      assert.equal((failed.data as { user_agent: string }).user_agent, "BenchClient/1.0");
      assert.equal(typeof failed.requestId, "string");
    });

    await t.step("ADMIN_BOOTSTRAP_EMAIL makes a verified account an admin once, audited", async () => {
      const user = await makeUser(testApp, "CLIENT");
      assert.equal((await app.request("/api/v1/users", { headers: bearer(user) })).status, 403);
      // Anyone can register any address: an unverified account is never promoted.
      assert.equal(await bootstrapAdmin(db, user.email, new Date()), "unverified");
      assert.equal((await db.select().from(users).where(eq(users.id, user.id)))[0].role, "CLIENT");
      await db.update(users).set({ verified: true }).where(eq(users.id, user.id));
      assert.equal(await bootstrapAdmin(db, user.email, new Date()), "promoted");
      assert.equal(await bootstrapAdmin(db, user.email, new Date()), "already_granted");
      assert.equal(await bootstrapAdmin(db, "nobody@example.com", new Date()), "no_account");
      assert.equal((await app.request("/api/v1/users", { headers: bearer(user) })).status, 200, "acts at once");
      const events = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, user.id), eq(auditEvents.action, "user.role_changed")));
      assert.equal(events.length, 1);
      assert.equal(events[0].fromState, "CLIENT");
      assert.equal(events[0].reason, "ADMIN_BOOTSTRAP_EMAIL");
    });

    await t.step("a demoted bootstrap admin stays demoted at the next start", async () => {
      const user = await makeUser(testApp, "CLIENT");
      await db.update(users).set({ verified: true }).where(eq(users.id, user.id));
      assert.equal(await bootstrapAdmin(db, user.email, new Date()), "promoted");
      await db.update(users).set({ role: "CLIENT" }).where(eq(users.id, user.id));
      assert.equal(await bootstrapAdmin(db, user.email, new Date()), "already_granted");
      assert.equal((await db.select().from(users).where(eq(users.id, user.id)))[0].role, "CLIENT");
    });
  } finally {
    await testApp.close();
  }
});
