/** Profile, password and admin user routes through the real app. */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { auditEvents, users } from "../../db/schema.ts";
import { makeTestApp } from "../support/app.ts";
import { bearer, makeUser } from "../support/users.ts";

const JSON_HEADERS = { "content-type": "application/json" };

Deno.test("users", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" });
  const { app, deps } = testApp;
  const db = deps.database.db;
  const send = (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
    app.request(`/api/v1${path}`, {
      method,
      headers: { ...JSON_HEADERS, ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  try {
    await t.step("PATCH /users/me changes whitelisted fields and rejects role or verification", async () => {
      const user = await makeUser(testApp);
      const ok = await send("PATCH", "/users/me", bearer(user), { full_name: "Ana Maria", phone: "+351 912 345 678" });
      assert.equal(ok.status, 200);
      assert.equal((await ok.json()).full_name, "Ana Maria");
      for (const body of [{ role: "ADMIN" }, { verified: true }, { is_verified: true }, { email: "x@example.com" }]) {
        const res = await send("PATCH", "/users/me", bearer(user), body);
        assert.equal(res.status, 400, JSON.stringify(body));
      }
      const [row] = await db.select().from(users).where(eq(users.id, user.id));
      assert.equal(row.role, "CLIENT");
      assert.equal(row.verified, false);
    });

    await t.step("POST /users/me/password needs the current password and ends other sessions", async () => {
      const user = await makeUser(testApp);
      const other = await (await send("POST", "/auth/login", {}, { email: user.email, password: user.password }))
        .json();
      const wrong = await send("POST", "/users/me/password", bearer(user), {
        current_password: "Nope1234",
        new_password: "Better456",
      });
      assert.equal(wrong.status, 400);
      assert.equal((await wrong.json()).errors[0].path, "current_password");
      const ok = await send("POST", "/users/me/password", bearer(user), {
        current_password: user.password,
        new_password: "Better456",
      });
      assert.equal(ok.status, 204);
      assert.equal((await send("GET", "/users/me", bearer(user))).status, 200, "this session goes on");
      assert.equal((await send("GET", "/users/me", { authorization: `Bearer ${other.access_token}` })).status, 401);
      assert.equal((await send("POST", "/auth/login", {}, { email: user.email, password: "Better456" })).status, 200);
      assert.equal((await send("POST", "/auth/login", {}, { email: user.email, password: user.password })).status, 401);
    });

    await t.step("GET /users pages through users with a cursor and refuses a bad cursor", async () => {
      const admin = await makeUser(testApp, "ADMIN");
      const marker = crypto.randomUUID().slice(0, 8);
      for (let i = 0; i < 5; i++) await makeUser(testApp, "CLIENT", { fullName: `Paged ${marker} ${i}` });
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = `/users?q=${marker}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
        const res = await send("GET", query, bearer(admin));
        assert.equal(res.status, 200);
        const page = await res.json();
        assert.ok(page.data.length <= 2);
        seen.push(...page.data.map((u: { full_name: string }) => u.full_name));
        cursor = page.next_cursor;
      } while (cursor);
      assert.deepEqual(seen, [4, 3, 2, 1, 0].map((i) => `Paged ${marker} ${i}`));
      const bad = await send("GET", "/users?cursor=garbage", bearer(admin));
      assert.equal(bad.status, 400);
      assert.equal((await bad.json()).errors[0].path, "query.cursor");
      assert.equal((await send("GET", "/users?limit=101", bearer(admin))).status, 400);
    });

    await t.step("PATCH /users/{id} by an admin changes role and deactivates at once, audited", async () => {
      const admin = await makeUser(testApp, "ADMIN");
      const user = await makeUser(testApp);
      const promoted = await send("PATCH", `/users/${user.id}`, bearer(admin), { role: "SALON_OWNER" });
      assert.equal(promoted.status, 200);
      assert.equal((await promoted.json()).role, "SALON_OWNER");
      const off = await send("PATCH", `/users/${user.id}`, bearer(admin), { active: false });
      assert.equal(off.status, 200);
      assert.equal((await send("GET", "/users/me", bearer(user))).status, 401);
      const actions = (await db.select().from(auditEvents).where(eq(auditEvents.entityId, user.id))).map((e) =>
        e.action
      );
      assert.ok(actions.includes("user.role_changed") && actions.includes("user.deactivated"), actions.join());
      assert.equal((await send("PATCH", `/users/${crypto.randomUUID()}`, bearer(admin), { active: true })).status, 404);
      assert.equal((await send("PATCH", `/users/${admin.id}`, bearer(admin), { active: false })).status, 409);
    });
  } finally {
    await testApp.close();
  }
});
