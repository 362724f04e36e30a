/** Accounts and sessions through the real app on the embedded database. */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { auditEvents, users } from "../../db/schema.ts";
import { makeTestApp } from "../support/app.ts";

const JSON_HEADERS = { "content-type": "application/json" };

function newAccount(overrides: Record<string, unknown> = {}) {
  return {
    email: `Ana.${crypto.randomUUID()}@Example.com`,
    password: "Secret123",
    full_name: "Ana Souza",
    ...overrides,
  };
}

Deno.test("auth", async (t) => {
  const { app, deps, close } = await makeTestApp({ LOG_LEVEL: "silent" });
  const db = deps.database.db;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(`/api/v1/auth/${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { ...JSON_HEADERS, ...headers },
    });
  const me = (token: string) => app.request("/api/v1/users/me", { headers: { authorization: `Bearer ${token}` } });

  try {
    await t.step("POST /auth/register answers 201 with a token pair and stores a normalised email", async () => {
      const account = newAccount({ phone: "+55 11 91234-5678" });
      const res = await post("register", account);
      assert.equal(res.status, 201);
      assert.equal(res.headers.get("location"), "/api/v1/users/me");
      const pair = await res.json();
      assert.equal(pair.token_type, "Bearer");
      assert.equal(pair.expires_in, 1800);
      const profile = await (await me(pair.access_token)).json();
      assert.equal(profile.email, account.email.toLowerCase());
      assert.equal(profile.role, "CLIENT");
      assert.equal(profile.verified, false);
      const [row] = await db.select().from(users).where(eq(users.id, profile.id));
      assert.match(row.passwordHash, /^\$argon2id\$/);
      const events = await db.select().from(auditEvents).where(eq(auditEvents.entityId, profile.id));
      assert.deepEqual(events.map((e) => e.action), ["auth.register"]);
    });

    await t.step("answers 409 for an email already registered, whatever its case", async () => {
      const account = newAccount();
      assert.equal((await post("register", account)).status, 201);
      const again = await post("register", { ...account, email: `  ${account.email.toUpperCase()} ` });
      assert.equal(again.status, 409);
      assert.equal((await again.json()).errors[0].path, "email");
    });

    await t.step("never applies role ADMIN or is_verified from a register body", async () => {
      const admin = await post("register", newAccount({ role: "ADMIN" }));
      assert.equal(admin.status, 400);
      assert.equal((await admin.json()).errors[0].path, "role");
      const account = newAccount({ is_verified: true });
      const verified = await post("register", account);
      assert.equal(verified.status, 400);
      const [row] = await db.select().from(users).where(eq(users.email, account.email.toLowerCase()));
      assert.equal(row, undefined);
    });

    await t.step("names each problem of a weak password", async () => {
      const res = await post("register", newAccount({ password: "weak" }));
      assert.equal(res.status, 400);
      const messages = (await res.json()).errors.filter((e: { path: string }) => e.path === "password")
        .map((e: { message: string }) => e.message);
      assert.deepEqual(messages, [
        "must have at least 8 characters",
        "must contain an upper-case letter",
        "must contain a digit",
      ]);
    });

    await t.step("POST /auth/login answers the same 401 for a wrong password and an unknown email", async () => {
      const account = newAccount();
      await post("register", account);
      const wrong = await post("login", { email: account.email, password: "Wrong1234" });
      const unknown = await post("login", {
        email: `nobody-${crypto.randomUUID()}@example.com`,
        password: "Wrong1234",
      });
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
      assert.equal((await wrong.json()).detail, (await unknown.json()).detail);
      const ok = await post("login", { email: account.email.toUpperCase(), password: account.password });
      assert.equal(ok.status, 200);
      assert.equal((await me((await ok.json()).access_token)).status, 200);
    });

    await t.step("POST /auth/refresh rotates the pair; presenting a used token ends the whole session", async () => {
      const first = await (await post("register", newAccount())).json();
      const second = await (await post("refresh", { refresh_token: first.refresh_token })).json();
      assert.ok(second.refresh_token && second.refresh_token !== first.refresh_token);
      assert.equal((await me(second.access_token)).status, 200);

      const reuse = await post("refresh", { refresh_token: first.refresh_token });
      assert.equal(reuse.status, 401);
      // The family is revoked: the newest tokens stop working too.
      assert.equal((await post("refresh", { refresh_token: second.refresh_token })).status, 401);
      assert.equal((await me(second.access_token)).status, 401);
      const profileId = (await db.select().from(auditEvents).where(eq(auditEvents.action, "auth.refresh_reuse")))
        .length;
      assert.equal(profileId, 1);
    });

    await t.step("of two concurrent refreshes with one token, at most one succeeds", async () => {
      const pair = await (await post("register", newAccount())).json();
      const results = await Promise.all([1, 2, 3].map(() => post("refresh", { refresh_token: pair.refresh_token })));
      assert.ok(results.filter((r) => r.status === 200).length <= 1);
    });

    await t.step("POST /auth/logout ends the session at once", async () => {
      const pair = await (await post("register", newAccount())).json();
      const res = await app.request("/api/v1/auth/logout", {
        method: "POST",
        headers: { authorization: `Bearer ${pair.access_token}` },
      });
      assert.equal(res.status, 204);
      assert.equal((await me(pair.access_token)).status, 401);
      assert.equal((await post("refresh", { refresh_token: pair.refresh_token })).status, 401);
    });

    await t.step("a deactivated user is refused at once, not when the token expires", async () => {
      const account = newAccount();
      const pair = await (await post("register", account)).json();
      await db.update(users).set({ active: false }).where(eq(users.email, account.email.toLowerCase()));
      assert.equal((await me(pair.access_token)).status, 401);
      assert.equal((await post("login", { email: account.email, password: account.password })).status, 401);
    });

    await t.step("GET /users/me without a valid token answers 401 problem+json", async () => {
      const none = await app.request("/api/v1/users/me");
      assert.equal(none.status, 401);
      assert.equal(none.headers.get("content-type"), "application/problem+json");
      assert.equal((await me("not.a.token")).status, 401);
    });
  } finally {
    await close();
  }
});
