/** Profile, password, phone verification and admin user routes through the real app. */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { auditEvents, notifications, users, userTokens } from "../../db/schema.ts";
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

Deno.test("phone verification", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" });
  const { app, deps } = testApp;
  const db = deps.database.db;
  // Every SMS the platform sends, as the provider would receive it.
  const texts: { to: string; body: string }[] = [];
  deps.messages.sms = {
    kind: "capture",
    send(message) {
      texts.push({ to: message.to, body: message.body });
      return Promise.resolve();
    },
  };
  const send = (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
    app.request(`/api/v1${path}`, {
      method,
      headers: { ...JSON_HEADERS, ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const deliver = async () => {
    for (let i = 0; i < 5; i++) {
      const report = await testApp.dispatcher.runDue();
      if (report.delivered + report.retried + report.dead === 0) return;
    }
  };
  /** Asks for a code and returns it as the phone received it. */
  const requestCode = async (user: { accessToken: string }, phone: string) => {
    const res = await send("POST", "/users/me/phone/verification", bearer(user as never));
    assert.equal(res.status, 202, await res.clone().text());
    await deliver();
    const text = texts.filter((m) => m.to === phone).at(-1)!;
    return /\b(\d{6})\b/.exec(text.body)![1];
  };
  const confirm = (user: { accessToken: string }, code: string) =>
    send("POST", "/users/me/phone/verification/confirm", bearer(user as never), { code });
  const withPhone = async (phone: string) => {
    const user = await makeUser(testApp);
    assert.equal((await send("PATCH", "/users/me", bearer(user), { phone })).status, 200);
    return user;
  };

  try {
    await t.step("registering with a phone starts unverified", async () => {
      const res = await send("POST", "/auth/register", {}, {
        email: `phone-${crypto.randomUUID()}@example.com`,
        password: "Secret123",
        full_name: "Phone",
        phone: "+55 11 91234-0000",
      });
      assert.equal(res.status, 201);
      const me = await send("GET", "/users/me", { authorization: `Bearer ${(await res.json()).access_token}` });
      const body = await me.json();
      assert.equal(body.phone, "+55 11 91234-0000");
      assert.equal(body.phone_verified, false);
    });

    await t.step("a code by SMS to the unverified phone, stored hashed, verifies it once", async () => {
      const phone = "+55 11 91234-0001";
      const user = await withPhone(phone);
      const code = await requestCode(user, phone);
      const [token] = await db.select().from(userTokens)
        .where(and(eq(userTokens.userId, user.id), eq(userTokens.purpose, "VERIFY_PHONE")));
      assert.ok(token.expiresAt.getTime() - Date.now() <= 10 * 60_000);
      assert.ok(!token.tokenHash.includes(code));
      const [sms] = await db.select().from(notifications).where(eq(notifications.userId, user.id));
      assert.deepEqual([sms.channel, sms.template, sms.status, sms.address], ["SMS", "verify_phone", "SENT", phone]);
      assert.ok(!sms.body.includes(code), "the record keeps no copy of the code");
      const res = await confirm(user, code);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).phone_verified, true);
      const [row] = await db.select().from(users).where(eq(users.id, user.id));
      assert.ok(row.phoneVerifiedAt instanceof Date);
      assert.equal((await confirm(user, code)).status, 400, "used once");
      const again = await send("POST", "/users/me/phone/verification", bearer(user));
      assert.equal(again.status, 409, "verified already");
    });

    await t.step("without a phone there is nothing to verify: 409 naming the field", async () => {
      const user = await makeUser(testApp);
      const res = await send("POST", "/users/me/phone/verification", bearer(user));
      assert.equal(res.status, 409);
      assert.equal((await res.json()).errors[0].path, "phone");
      assert.equal((await confirm(user, "123456")).status, 409);
      assert.equal((await confirm(await withPhone("+55 11 91234-0009"), "12345")).status, 400, "six digits");
    });

    await t.step("five wrong codes burn the code: then even the right one fails", async () => {
      const phone = "+55 11 91234-0002";
      const user = await withPhone(phone);
      const code = await requestCode(user, phone);
      const wrong = code === "000000" ? "000001" : "000000";
      for (let i = 0; i < 5; i++) {
        const res = await confirm(user, wrong);
        assert.equal(res.status, 400);
        assert.equal((await res.json()).errors[0].path, "code");
      }
      assert.equal((await confirm(user, code)).status, 400);
      const [row] = await db.select().from(users).where(eq(users.id, user.id));
      assert.equal(row.phoneVerifiedAt, null);
    });

    await t.step("a new code replaces the last, and ten tries an hour per account are the most", async () => {
      const phone = "+55 11 91234-0003";
      const user = await withPhone(phone);
      const first = await requestCode(user, phone);
      const second = await requestCode(user, phone);
      let tries = 0;
      const attempt = (code: string) => {
        tries++;
        return confirm(user, code);
      };
      const wrongFor = (code: string) => code === "000000" ? "000001" : "000000";
      if (first !== second) assert.equal((await attempt(first)).status, 400, "the earlier code stopped working");
      for (let i = 0; i < 5; i++) assert.equal((await attempt(wrongFor(second))).status, 400);
      // The second code is burnt; a third one gets the account's remaining tries.
      const third = await requestCode(user, phone);
      while (tries < 10) assert.equal((await attempt(wrongFor(third))).status, 400);
      const over = await attempt(third);
      assert.equal(over.status, 429, "even the right code, once the account's tries are spent");
      assert.ok(Number(over.headers.get("retry-after")) >= 1);
      const verified = (await db.select().from(auditEvents).where(eq(auditEvents.entityId, user.id)))
        .filter((e) => e.action === "auth.phone_verified");
      assert.equal(verified.length, 0);
    });

    await t.step("codes per phone number are limited: the 4th in an hour answers 429 and sends nothing", async () => {
      const phone = "+55 11 91234-0004";
      const user = await withPhone(phone);
      for (let i = 0; i < 3; i++) await requestCode(user, phone);
      const sent = texts.filter((m) => m.to === phone).length;
      const over = await send("POST", "/users/me/phone/verification", bearer(user));
      assert.equal(over.status, 429);
      assert.equal(over.headers.get("content-type"), "application/problem+json");
      await deliver();
      assert.equal(texts.filter((m) => m.to === phone).length, sent);
      // Another account cannot text the same number more: the budget is the number's.
      const other = await withPhone("+55 (11) 91234-0004");
      assert.equal((await send("POST", "/users/me/phone/verification", bearer(other))).status, 429);
    });

    await t.step("changing the phone clears its verification and the pending code; rewriting it does not", async () => {
      const phone = "+55 11 91234-0005";
      const user = await withPhone(phone);
      assert.equal((await confirm(user, await requestCode(user, phone))).status, 200);
      const same = await send("PATCH", "/users/me", bearer(user), { phone: "+55 (11) 91234-0005" });
      assert.equal((await same.json()).phone_verified, true);
      const changed = await send("PATCH", "/users/me", bearer(user), { phone: "+55 11 91234-0006" });
      assert.equal(changed.status, 200);
      assert.equal((await changed.json()).phone_verified, false);
      // A code for the new number stops working if the number changes again before it is used.
      const code = await requestCode(user, "+55 11 91234-0006");
      await send("PATCH", "/users/me", bearer(user), { phone: "+55 11 91234-0007" });
      assert.equal((await confirm(user, code)).status, 400);
      const [row] = await db.select().from(users).where(eq(users.id, user.id));
      assert.equal(row.phoneVerifiedAt, null);
    });
  } finally {
    await testApp.close();
  }
});
