/**
 * Professional routes: inviting (never linking, and never telling whether an email has an account),
 * accepting, who may edit what, public reads; one person is never booked in two salons at once.
 */
import assert from "node:assert/strict";
import { and, eq, sql } from "drizzle-orm";
import { pgErrorOf } from "../../db/errors.ts";
import {
  auditEvents,
  bookings,
  notifications,
  outbox,
  professionalInvitations,
  professionals,
  users,
} from "../../db/schema.ts";
import { apiClient, type ApiResponse, type Send } from "../support/api.ts";
import { makeTestApp, type TestApp } from "../support/app.ts";
import {
  invitationToken,
  makeLinkedProfessional,
  makeProfessional,
  makeSalon,
  makeService,
} from "../support/catalog.ts";
import { createScratchDatabase, postgresAvailable } from "../support/postgres.ts";
import { makeUser, type SignedInUser } from "../support/users.ts";

/** What an answer looks like without its values: keys and the type of each, nested. */
function shape(value: unknown): unknown {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as object).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, shape(v)]),
    );
  }
  return typeof value;
}

/** Counts the password hasher's work from now on. */
function countHashing(testApp: TestApp) {
  const passwords = testApp.deps.passwords;
  const counts = { hash: 0, verify: 0 };
  const hash = passwords.hash.bind(passwords);
  const verify = passwords.verify.bind(passwords);
  passwords.hash = (password) => {
    counts.hash++;
    return hash(password);
  };
  passwords.verify = (stored, password) => {
    counts.verify++;
    return verify(stored, password);
  };
  return {
    counts,
    restore() {
      passwords.hash = hash;
      passwords.verify = verify;
    },
  };
}

const accept = (send: Send, body: Record<string, unknown>) => send("POST", "/auth/invitation/accept", null, body);

Deno.test("professionals", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" });
  const send = apiClient(testApp);
  const db = testApp.deps.database.db;
  const owner = await makeUser(testApp, "SALON_OWNER");
  const rival = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner);
  const rivalSalon = await makeSalon(send, rival);
  const roleOf = async (id: string) => (await db.select().from(users).where(eq(users.id, id)))[0].role;
  const linkOf = async (id: string) =>
    (await db.select().from(professionals).where(eq(professionals.id, id)))[0].userId;

  try {
    await t.step("an unknown email is invited: no account is made, the message goes to the address", async () => {
      const email = `invited-${crypto.randomUUID()}@example.com`;
      const res = await send("POST", "/professionals", owner, {
        salon_id: salon.id,
        email: `  ${email.toUpperCase()} `,
        display_name: "Bruna Costa",
        specialties: ["coloração", "corte"],
        commission_percent: 42.5,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.user_id, null);
      assert.ok(!("invited" in res.body));
      assert.equal(res.body.invitation.email, email);
      assert.equal(res.body.commission_percent, 42.5);
      assert.equal(res.headers.get("location"), `/api/v1/professionals/${res.body.id}`);
      assert.equal((await db.select().from(users).where(eq(users.email, email))).length, 0);
      const [invitation] = await db.select().from(professionalInvitations)
        .where(eq(professionalInvitations.professionalId, res.body.id));
      assert.equal(invitation.email, email);
      assert.equal(invitation.usedAt, null);
      const days = (invitation.expiresAt.getTime() - invitation.createdAt.getTime()) / 86_400_000;
      assert.ok(Math.abs(days - 7) < 0.01, String(days));
      const [message] = await db.select().from(outbox).where(and(
        eq(outbox.topic, "email.professional_invitation"),
        sql`${outbox.payload}->>'professional_id' = ${res.body.id}`,
      ));
      const payload = message.payload as Record<string, unknown>;
      assert.equal(payload.to, email);
      assert.equal(payload.salon_id, salon.id);
      assert.equal(payload.salon_name, salon.name);
      assert.ok(!("user_id" in payload));
      assert.equal(invitation.tokenHash.length, 64);
      assert.notEqual(invitation.tokenHash, payload.token);

      // The relay records a message to the address, tied to no account.
      await testApp.dispatcher.runDue();
      const sent = await db.select().from(notifications).where(eq(notifications.address, email));
      assert.equal(sent.length, 1);
      assert.equal(sent[0].userId, null);
      assert.equal(sent[0].template, "professional_invitation");
      assert.equal(sent[0].channel, "EMAIL");
      assert.equal(sent[0].locale, "pt-BR");
      assert.match(sent[0].subject ?? "", new RegExp(salon.name));
    });

    await t.step("the real person registers with an invited email afterwards, then accepts", async () => {
      const email = `later-${crypto.randomUUID()}@example.com`;
      const invited = await send("POST", "/professionals", owner, { salon_id: salon.id, email, display_name: "Dani" });
      assert.equal(invited.status, 201);
      const token = await invitationToken(testApp, invited.body.id);
      const person = await makeUser(testApp, "CLIENT", { email, password: "Mine1234" });
      assert.equal(await roleOf(person.id), "CLIENT");
      assert.equal(await linkOf(invited.body.id), null);
      const accepted = await accept(send, { token, password: "Mine1234" });
      assert.equal(accepted.status, 204, JSON.stringify(accepted.body));
      assert.equal(await linkOf(invited.body.id), person.id);
      assert.equal(await roleOf(person.id), "PROFESSIONAL");
      // The client's live session acts as the professional at once.
      const own = await send("PATCH", `/professionals/${invited.body.id}`, person, { bio: "Hello" });
      assert.equal(own.status, 200, JSON.stringify(own.body));
    });

    await t.step("accepting without an account makes a verified one; the token works once", async () => {
      const email = `new-${crypto.randomUUID()}@example.com`;
      const invited = await send("POST", "/professionals", owner, { salon_id: salon.id, email, display_name: "Eva" });
      const token = await invitationToken(testApp, invited.body.id);
      const weak = await accept(send, { token, password: "short" });
      assert.equal(weak.status, 400);
      assert.equal(weak.body.errors[0].path, "password");
      assert.equal((await accept(send, { token, password: "Secret123" })).status, 204);
      const again = await accept(send, { token, password: "Other1234" });
      assert.equal(again.status, 400);
      assert.equal(again.body.errors[0].path, "token");
      const [account] = await db.select().from(users).where(eq(users.email, email));
      assert.equal(account.role, "PROFESSIONAL");
      assert.equal(account.verified, true);
      assert.equal(account.fullName, "Eva");
      assert.equal(await linkOf(invited.body.id), account.id);
      const login = await send("POST", "/auth/login", null, { email, password: "Secret123" });
      assert.equal(login.status, 200);
      const linked = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, invited.body.id), eq(auditEvents.action, "professional.link")));
      assert.equal(linked.length, 1);
    });

    await t.step("a client invited stays a client until they accept with their own password", async () => {
      const person = await makeUser(testApp, "CLIENT");
      const res = await send("POST", "/professionals", owner, {
        salon_id: salon.id,
        email: person.email,
        display_name: "Carla",
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.user_id, null);
      assert.equal(await roleOf(person.id), "CLIENT");
      // Not theirs to edit before they accept.
      assert.equal((await send("PATCH", `/professionals/${res.body.id}`, person, { bio: "x" })).status, 403);
      const token = await invitationToken(testApp, res.body.id);
      const wrong = await accept(send, { token, password: "Wrong1234" });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.errors[0].path, "password");
      assert.equal(await roleOf(person.id), "CLIENT");
      assert.equal(await linkOf(res.body.id), null);
      assert.equal((await accept(send, { token, password: person.password })).status, 204);
      assert.equal(await linkOf(res.body.id), person.id);
      assert.equal(await roleOf(person.id), "PROFESSIONAL");
      const changes = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, person.id), eq(auditEvents.action, "user.role_changed")));
      assert.equal(changes.length, 1);
      assert.equal(changes[0].fromState, "CLIENT");
      assert.equal(changes[0].toState, "PROFESSIONAL");
      // The salon knows its own professional's email: inviting it again is refused, naming the field.
      const twice = await send("POST", "/professionals", owner, {
        salon_id: salon.id,
        email: person.email,
        display_name: "Carla",
      });
      assert.equal(twice.status, 409);
      assert.equal(twice.body.errors[0].path, "email");
    });

    await t.step("an admin's email is not attached; known and unknown emails get the same answer", async () => {
      const admin = await makeUser(testApp, "ADMIN");
      const body = { salon_id: salon.id, display_name: "Same", specialties: ["x"] };
      const known = await send("POST", "/professionals", owner, { ...body, email: admin.email });
      const unknown = await send("POST", "/professionals", owner, {
        ...body,
        email: `nobody-${crypto.randomUUID()}@example.com`,
      });
      const deactivated = await makeUser(testApp, "CLIENT");
      await db.update(users).set({ active: false }).where(eq(users.id, deactivated.id));
      const inactive = await send("POST", "/professionals", owner, { ...body, email: deactivated.email });
      for (const res of [known, unknown, inactive]) {
        assert.equal(res.status, 201);
        assert.equal(res.body.user_id, null);
        assert.deepEqual(shape(res.body), shape(unknown.body));
        assert.deepEqual([...res.headers.keys()].sort(), [...unknown.headers.keys()].sort());
      }
      assert.equal(await linkOf(known.body.id), null);
      assert.equal(await roleOf(admin.id), "ADMIN");
      // The admin may accept: linked, and still an admin.
      const token = await invitationToken(testApp, known.body.id);
      assert.equal((await accept(send, { token, password: admin.password })).status, 204);
      assert.equal(await linkOf(known.body.id), admin.id);
      assert.equal(await roleOf(admin.id), "ADMIN");
      // A deactivated account cannot be linked, even with its password.
      const refused = await accept(send, {
        token: await invitationToken(testApp, inactive.body.id),
        password: "Secret123",
      });
      assert.equal(refused.status, 403);
      assert.equal(await linkOf(inactive.body.id), null);
    });

    await t.step("an owner who also works in their salon keeps their role", async () => {
      const self = await makeLinkedProfessional(testApp, send, owner, salon.id, owner, { display_name: "Me" });
      assert.equal(self.user_id, owner.id);
      assert.equal(await roleOf(owner.id), "SALON_OWNER");
    });

    await t.step("a pending invitation is refused again from the salon's records; a new one replaces it", async () => {
      const email = `pending-${crypto.randomUUID()}@example.com`;
      const first = await send("POST", "/professionals", owner, { salon_id: salon.id, email, display_name: "Fia" });
      const oldToken = await invitationToken(testApp, first.body.id);
      const twice = await send("POST", "/professionals", owner, { salon_id: salon.id, email, display_name: "Fia" });
      assert.equal(twice.status, 409);
      assert.equal(twice.body.errors[0].path, "email");
      assert.match(twice.body.detail, new RegExp(`/professionals/${first.body.id}/invitation`));
      // Another salon's invitation to the same email is its own business.
      assert.equal(
        (await send("POST", "/professionals", rival, { salon_id: rivalSalon.id, email, display_name: "Fia" })).status,
        201,
      );
      assert.equal((await send("POST", `/professionals/${first.body.id}/invitation`, rival)).status, 404);
      const resent = await send("POST", `/professionals/${first.body.id}/invitation`, owner);
      assert.equal(resent.status, 202, JSON.stringify(resent.body));
      assert.equal(resent.body.email, email);
      const newToken = await invitationToken(testApp, first.body.id);
      assert.notEqual(newToken, oldToken);
      assert.equal((await accept(send, { token: oldToken, password: "Secret123" })).status, 400);
      assert.equal((await accept(send, { token: newToken, password: "Secret123" })).status, 204);
      assert.equal((await send("POST", `/professionals/${first.body.id}/invitation`, owner)).status, 409);
    });

    await t.step("a bogus token costs no password hashing; a good one costs one", async () => {
      const spy = countHashing(testApp);
      try {
        const bogus = await accept(send, { token: "not-a-real-token", password: "Secret123" });
        assert.equal(bogus.status, 400);
        assert.equal(bogus.body.errors[0].path, "token");
        assert.deepEqual(spy.counts, { hash: 0, verify: 0 });
        const invited = await makeProfessional(send, owner, salon.id);
        const token = await invitationToken(testApp, invited.id);
        assert.equal((await accept(send, { token, password: "Secret123" })).status, 204);
        assert.deepEqual(spy.counts, { hash: 1, verify: 0 });
      } finally {
        spy.restore();
      }
    });

    await t.step("two accepts of one token at once: one links, the other is refused", async () => {
      for (const existing of [undefined, await makeUser(testApp, "CLIENT")]) {
        const invited = await makeProfessional(send, owner, salon.id, existing ? { email: existing.email } : {});
        const token = await invitationToken(testApp, invited.id);
        const password = existing?.password ?? "Secret123";
        const answers = await Promise.all([accept(send, { token, password }), accept(send, { token, password })]);
        assert.deepEqual(answers.map((a) => a.status).sort(), [204, 400], JSON.stringify(answers.map((a) => a.body)));
        const email = existing?.email ?? invited.invitation.email;
        assert.equal((await db.select().from(users).where(eq(users.email, email))).length, 1);
        const links = await db.select().from(auditEvents)
          .where(and(eq(auditEvents.entityId, invited.id), eq(auditEvents.action, "professional.link")));
        assert.equal(links.length, 1);
      }
    });

    await t.step("an invitation of the older kind (an account made with it) still works", async () => {
      const email = `legacy-${crypto.randomUUID()}@example.com`;
      const { hashToken } = await import("../../adapters/tokens.ts");
      const { userTokens } = await import("../../db/schema.ts");
      const [account] = await db.insert(users).values({
        email,
        passwordHash: "!invited",
        fullName: "Old",
        role: "PROFESSIONAL",
      }).returning();
      await db.insert(professionals).values({ salonId: salon.id, userId: account.id, displayName: "Old" });
      const token = "legacy-token-0123456789";
      await db.insert(userTokens).values({
        userId: account.id,
        purpose: "INVITATION",
        tokenHash: await hashToken(token),
        expiresAt: new Date(Date.now() + 86_400_000),
      });
      assert.equal((await accept(send, { token, password: "Secret123" })).status, 204);
      assert.equal((await send("POST", "/auth/login", null, { email, password: "Secret123" })).status, 200);
      assert.equal((await accept(send, { token, password: "Other1234" })).status, 400);
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
      const pro = await makeLinkedProfessional(testApp, send, owner, salon.id, person, { commission_percent: 30 });
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
      // A deactivated professional's invitation no longer links anyone.
      const token = await invitationToken(testApp, pro.id);
      assert.equal((await accept(send, { token, password: "Secret123" })).status, 400);
    });

    await t.step("list pages by name without repeats and filters by name or specialty", async () => {
      const pageSalon = await makeSalon(send, owner);
      for (const name of ["Davi", "Ana", "Caio", "Bia", "Ana"]) {
        await makeProfessional(send, owner, pageSalon.id, { display_name: name, specialties: [`${name} nails`] });
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: ApiResponse = await send(
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

Deno.test("invitations are limited per recipient and per caller, the same whether the email has an account", async (t) => {
  // A fixed clock: the two refusals are compared whole, Retry-After included.
  const fixed = new Date("2026-11-23T12:00:20Z");
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => fixed });
  const send = apiClient(testApp);
  try {
    const known = await makeUser(testApp, "CLIENT");
    const unknown = `nobody-${crypto.randomUUID()}@example.com`;

    await t.step("the fourth invitation to one address in a day is refused, alike for both", async () => {
      const refusals: ApiResponse[] = [];
      for (const email of [known.email, unknown]) {
        const answers: ApiResponse[] = [];
        // Four salons: each may invite the address once; the address's own budget is 3 a day.
        for (let i = 0; i < 4; i++) {
          const owner = await makeUser(testApp, "SALON_OWNER");
          const salon = await makeSalon(send, owner);
          answers.push(await send("POST", "/professionals", owner, { salon_id: salon.id, email, display_name: "P" }));
        }
        assert.deepEqual(answers.map((a) => a.status), [201, 201, 201, 429]);
        refusals.push(answers[3]);
      }
      const [a, b] = refusals;
      assert.equal(a.body.code, "rate_limited");
      assert.match(a.body.detail, /to this address/);
      assert.deepEqual({ ...a.body, instance: null }, { ...b.body, instance: null });
      assert.equal(a.headers.get("retry-after"), b.headers.get("retry-after"));
      assert.equal(a.headers.get("content-type"), "application/problem+json");
    });

    await t.step("one caller's invitations are limited whatever the addresses", async () => {
      const owner = await makeUser(testApp, "SALON_OWNER");
      const salon = await makeSalon(send, owner);
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) {
        const res = await send("POST", "/professionals", owner, {
          salon_id: salon.id,
          email: `bulk-${i}-${crypto.randomUUID()}@example.com`,
          display_name: `Bulk ${i}`,
        });
        statuses.push(res.status);
        if (res.status === 429) assert.match(res.body.detail, /from you/);
      }
      assert.deepEqual(statuses, [...Array(20).fill(201), 429]);
    });
  } finally {
    await testApp.close();
  }
});

const NOW = new Date("2026-06-01T12:00:00Z"); // Monday, 09:00 in São Paulo
const at = (local: string) => new Date(`${local}-03:00`).toISOString();
const WEEK = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "09:00", end: "18:00" }));

/**
 * A salon with one professional and a one-hour service they perform, bookable now: linked to
 * `link`, or only invited (to `invite`, else to a new address).
 */
async function bookableSalon(
  testApp: TestApp,
  send: Send,
  who: { link?: SignedInUser; invite?: string; name: string },
) {
  const owner = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0 });
  const fields = { display_name: who.name, ...(who.invite ? { email: who.invite } : {}) };
  const professional = who.link
    ? await makeLinkedProfessional(testApp, send, owner, salon.id, who.link, fields)
    : await makeProfessional(send, owner, salon.id, fields);
  assert.equal(
    (await send("PUT", `/professionals/${professional.id}/availability/rules`, owner, { rules: WEEK })).status,
    200,
  );
  const service = await makeService(send, owner, salon.id, {
    duration_minutes: 60,
    price_amount: 5000,
    professional_ids: [professional.id],
  });
  return { owner, salon, professional, service };
}

async function slotStarts(send: Send, professionalId: string, serviceId: string, date: string): Promise<string[]> {
  const res = await send(
    "GET",
    `/scheduling/professionals/${professionalId}/slots?service=${serviceId}&from=${date}&to=${date}`,
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data.map((s: { start: string }) => new Date(s.start).toISOString());
}

/** One account working at two salons, on the given database (PGlite when `url` is undefined). */
async function onePersonTwoSalons(t: Deno.TestContext, url?: string) {
  const clock = { now: NOW };
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { url, now: () => clock.now });
  const send = apiClient(testApp);
  const db = testApp.deps.database.db;
  try {
    const person = await makeUser(testApp, "CLIENT");
    const a = await bookableSalon(testApp, send, { link: person, name: "Ana at A" });
    const b = await bookableSalon(testApp, send, { link: { ...person, role: "PROFESSIONAL" }, name: "Ana at B" });
    const client = await makeUser(testApp, "CLIENT");
    const ten = at("2026-06-03T10:00:00");

    await t.step("a booking at A takes the person's 10:00 away at B, and B cannot book it", async () => {
      assert.ok((await slotStarts(send, b.professional.id, b.service.id, "2026-06-03")).includes(ten));
      const booked = await send("POST", "/bookings", client, {
        service_id: a.service.id,
        professional_id: a.professional.id,
        starts_at: ten,
      });
      assert.equal(booked.status, 201, JSON.stringify(booked.body));
      const free = await slotStarts(send, b.professional.id, b.service.id, "2026-06-03");
      assert.ok(!free.includes(ten), "10:00 is still offered at B");
      assert.ok(!free.includes(at("2026-06-03T09:30:00")), "09:30 overlaps the booking at A");
      assert.ok(free.includes(at("2026-06-03T11:00:00")));
      const other = await makeUser(testApp, "CLIENT");
      const refused = await send("POST", "/bookings", other, {
        service_id: b.service.id,
        professional_id: b.professional.id,
        starts_at: ten,
      });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.code, "slot_taken");
      // Written around the engine, the database refuses it too.
      const startsAt = new Date(ten);
      const endsAt = new Date(startsAt.getTime() + 3_600_000);
      let code: string | undefined;
      try {
        await db.insert(bookings).values({
          salonId: b.salon.id,
          clientId: other.id,
          professionalId: b.professional.id,
          serviceId: b.service.id,
          startsAt,
          endsAt,
          blockStartsAt: startsAt,
          blockEndsAt: endsAt,
          status: "CONFIRMED",
          priceAmount: 5000,
          currency: "BRL",
        });
      } catch (error) {
        code = pgErrorOf(error)?.code;
      }
      assert.equal(code, "23P01");
    });

    await t.step("racing bookings of the person at A and at B for one time: exactly one wins", async () => {
      const racers = await Promise.all(Array.from({ length: 10 }, () => makeUser(testApp, "CLIENT")));
      const startsAt = at("2026-06-04T14:00:00");
      const answers = await Promise.all(racers.map((racer, i) => {
        const where = i % 2 === 0 ? a : b;
        return send("POST", "/bookings", racer, {
          service_id: where.service.id,
          professional_id: where.professional.id,
          starts_at: startsAt,
        });
      }));
      const statuses = answers.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(answers.map((r) => r.body)));
      assert.equal(statuses.filter((s) => s === 409).length, 9);
      const held = await db.select().from(bookings).where(and(
        eq(bookings.personId, person.id),
        eq(bookings.startsAt, new Date(startsAt)),
      ));
      assert.equal(held.length, 1);
    });

    await t.step("ten accepts of one token at once: exactly one links", async () => {
      for (const existing of [undefined, await makeUser(testApp, "CLIENT")]) {
        const c = await bookableSalon(testApp, send, { invite: existing?.email, name: "Racer" });
        const token = await invitationToken(testApp, c.professional.id);
        const password = existing?.password ?? "Secret123";
        const answers = await Promise.all(Array.from({ length: 10 }, () => accept(send, { token, password })));
        const statuses = answers.map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 204).length, 1, JSON.stringify(answers.map((r) => r.body)));
        // The others find the token used (or, racing the new account's insert, are told to retry).
        assert.ok(statuses.every((s) => s === 204 || s === 400 || s === 409), JSON.stringify(statuses));
        const email = existing?.email ?? c.professional.invitation.email;
        const accounts = await db.select().from(users).where(eq(users.email, email));
        assert.equal(accounts.length, 1);
        const [row] = await db.select().from(professionals).where(eq(professionals.id, c.professional.id));
        assert.equal(row.userId, accounts[0].id);
        const links = await db.select().from(auditEvents)
          .where(and(eq(auditEvents.entityId, c.professional.id), eq(auditEvents.action, "professional.link")));
        assert.equal(links.length, 1);
      }
    });

    await t.step("a link that would put the person in two places is refused, and changes nothing", async () => {
      // Salon C books the person's record at 10:00 while it is only invited, when they work at A.
      const c = await bookableSalon(testApp, send, { invite: person.email, name: "Ana at C" });
      const booked = await send("POST", "/bookings", await makeUser(testApp, "CLIENT"), {
        service_id: c.service.id,
        professional_id: c.professional.id,
        starts_at: ten,
      });
      assert.equal(booked.status, 201, JSON.stringify(booked.body));
      const token = await invitationToken(testApp, c.professional.id);
      const refused = await accept(send, { token, password: person.password });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.errors[0].path, "token");
      assert.match(refused.body.errors[0].message, new RegExp(new Date(ten).toISOString()));
      const [still] = await db.select().from(professionals).where(eq(professionals.id, c.professional.id));
      assert.equal(still.userId, null);
      const [invitation] = await db.select().from(professionalInvitations)
        .where(eq(professionalInvitations.professionalId, c.professional.id));
      assert.equal(invitation.usedAt, null);
      // Once C's booking is gone, the same token links.
      const cancelled = await send("PATCH", `/bookings/${booked.body.id}/cancel`, c.owner, { reason: "moved" });
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      assert.equal((await accept(send, { token, password: person.password })).status, 204);
      const [linked] = await db.select().from(professionals).where(eq(professionals.id, c.professional.id));
      assert.equal(linked.userId, person.id);
    });
  } finally {
    await testApp.close();
  }
}

Deno.test("one person at two salons is never booked in both at once (embedded database)", async (t) => {
  await onePersonTwoSalons(t);
});

Deno.test({
  name: "one person at two salons is never booked in both at once (the machine's PostgreSQL)",
  ignore: !postgresAvailable,
  async fn(t) {
    const scratch = await createScratchDatabase();
    try {
      await onePersonTwoSalons(t, scratch.url);
    } finally {
      await scratch.drop();
    }
  },
});
