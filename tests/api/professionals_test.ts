/** Professional routes: linking and inviting, who may edit what, public reads. */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { auditEvents, outbox, professionals, users } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeProfessional, makeSalon } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

Deno.test("professionals", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" });
  const send = apiClient(testApp);
  const db = testApp.deps.database.db;
  const owner = await makeUser(testApp, "SALON_OWNER");
  const rival = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner);
  const rivalSalon = await makeSalon(send, rival);

  try {
    await t.step("a new email gets an invitation; accepting it sets the password and verifies the email", async () => {
      const email = `invited-${crypto.randomUUID()}@example.com`;
      const res = await send("POST", "/professionals", owner, {
        salon_id: salon.id,
        email: `  ${email.toUpperCase()} `,
        display_name: "Bruna Costa",
        specialties: ["coloração", "corte"],
        commission_percent: 42.5,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.invited, true);
      assert.equal(res.body.commission_percent, 42.5);
      assert.equal(res.headers.get("location"), `/api/v1/professionals/${res.body.id}`);
      const [account] = await db.select().from(users).where(eq(users.email, email));
      assert.equal(account.role, "PROFESSIONAL");
      const [message] = await db.select().from(outbox)
        .where(eq(outbox.topic, "email.professional_invitation"));
      const payload = message.payload as { to: string; token: string };
      assert.equal(payload.to, email);

      // Nobody can sign in before the invitation is accepted.
      const early = await send("POST", "/auth/login", null, { email, password: "!invited" });
      assert.equal(early.status, 401);
      const accepted = await send("POST", "/auth/invitation/accept", null, {
        token: payload.token,
        password: "Secret123",
      });
      assert.equal(accepted.status, 204);
      const again = await send("POST", "/auth/invitation/accept", null, {
        token: payload.token,
        password: "Other1234",
      });
      assert.equal(again.status, 400);
      assert.equal(again.body.errors[0].path, "token");
      const login = await send("POST", "/auth/login", null, { email, password: "Secret123" });
      assert.equal(login.status, 200);
      const me = await send("GET", "/users/me", { accessToken: login.body.access_token } as never);
      assert.equal(me.body.verified, true);
    });

    await t.step("an existing client is linked and becomes a PROFESSIONAL, audited", async () => {
      const person = await makeUser(testApp, "CLIENT");
      const res = await send("POST", "/professionals", owner, {
        salon_id: salon.id,
        email: person.email,
        display_name: "Carla",
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.invited, false);
      assert.equal(res.body.user_id, person.id);
      const [account] = await db.select().from(users).where(eq(users.id, person.id));
      assert.equal(account.role, "PROFESSIONAL");
      const changes = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, person.id), eq(auditEvents.action, "user.role_changed")));
      assert.equal(changes.length, 1);
      const twice = await send("POST", "/professionals", owner, {
        salon_id: salon.id,
        email: person.email,
        display_name: "Carla",
      });
      assert.equal(twice.status, 409);
      assert.equal(twice.body.errors[0].path, "email");
      // An owner keeps their role when they also work in their salon.
      const self = await send("POST", "/professionals", owner, {
        salon_id: salon.id,
        email: owner.email,
        display_name: "Me",
      });
      assert.equal(self.status, 201);
      const [ownerRow] = await db.select().from(users).where(eq(users.id, owner.id));
      assert.equal(ownerRow.role, "SALON_OWNER");
    });

    await t.step("another owner's salon is not found; clients may not add anyone", async () => {
      const before = (await db.select().from(professionals)).length;
      const body = { salon_id: rivalSalon.id, email: "x@example.com", display_name: "X" };
      assert.equal((await send("POST", "/professionals", owner, body)).status, 404);
      const client = await makeUser(testApp, "CLIENT");
      assert.equal((await send("POST", "/professionals", client, { ...body, salon_id: salon.id })).status, 403);
      const bad = await send("POST", "/professionals", owner, { ...body, salon_id: salon.id, commission_percent: 120 });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errors[0].path, "commission_percent");
      assert.equal((await db.select().from(professionals)).length, before);
    });

    await t.step("the professional edits their profile but not what the salon sets", async () => {
      const person = await makeUser(testApp, "PROFESSIONAL");
      const pro = await makeProfessional(send, owner, salon.id, { email: person.email, commission_percent: 30 });
      const own = await send("PATCH", `/professionals/${pro.id}`, person, {
        bio: "Cortes clássicos",
        specialties: ["barba"],
      });
      assert.equal(own.status, 200, JSON.stringify(own.body));
      assert.equal(own.body.bio, "Cortes clássicos");
      const raise = await send("PATCH", `/professionals/${pro.id}`, person, { commission_percent: 90 });
      assert.equal(raise.status, 403);
      assert.equal(raise.body.errors[0].path, "commission_percent");
      const other = await makeUser(testApp, "PROFESSIONAL");
      assert.equal((await send("PATCH", `/professionals/${pro.id}`, other, { bio: "x" })).status, 404);
      assert.equal((await send("PATCH", `/professionals/${pro.id}`, rival, { bio: "x" })).status, 404);
      const [row] = await db.select().from(professionals).where(eq(professionals.id, pro.id));
      assert.equal(row.commissionBasisPoints, 3000);
      assert.equal(row.bio, "Cortes clássicos");
    });

    await t.step("deactivated professionals disappear from public reads but not for the owner", async () => {
      const pro = await makeProfessional(send, owner, salon.id, { display_name: "Zeca Inactive" });
      const off = await send("PATCH", `/professionals/${pro.id}`, owner, { active: false });
      assert.equal(off.status, 200);
      assert.equal((await send("GET", `/professionals/${pro.id}`, null)).status, 404);
      assert.equal((await send("GET", `/professionals/${pro.id}`, rival)).status, 404);
      const mine = await send("GET", `/professionals/${pro.id}`, owner);
      assert.equal(mine.status, 200);
      assert.equal(mine.body.commission_percent, 0);
      const list = await send("GET", `/professionals?salon_id=${salon.id}`, null);
      assert.ok(!list.body.data.some((p: { id: string }) => p.id === pro.id));
      assert.ok(list.body.data.every((p: Record<string, unknown>) => !("commission_percent" in p)));
      const managed = await send("GET", `/professionals?salon_id=${salon.id}&include_inactive=true`, owner);
      assert.ok(managed.body.data.some((p: { id: string }) => p.id === pro.id));
      assert.equal((await send("GET", `/professionals?salon_id=${salon.id}&include_inactive=true`, rival)).status, 404);
      assert.equal((await send("GET", `/professionals?salon_id=${salon.id}&include_inactive=true`, null)).status, 401);
    });

    await t.step("list pages by name without repeats and filters by name or specialty", async () => {
      const pageSalon = await makeSalon(send, owner);
      for (const name of ["Davi", "Ana", "Caio", "Bia", "Ana"]) {
        await makeProfessional(send, owner, pageSalon.id, { display_name: name, specialties: [`${name} nails`] });
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await send(
          "GET",
          `/professionals?salon_id=${pageSalon.id}&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
        );
        seen.push(...res.body.data.map((p: { display_name: string }) => p.display_name));
        cursor = res.body.next_cursor;
      } while (cursor);
      assert.deepEqual(seen, ["Ana", "Ana", "Bia", "Caio", "Davi"]);
      const byQ = await send("GET", `/professionals?salon_id=${pageSalon.id}&q=caio%20nails`);
      assert.deepEqual(byQ.body.data.map((p: { display_name: string }) => p.display_name), ["Caio"]);
    });
  } finally {
    await testApp.close();
  }
});
