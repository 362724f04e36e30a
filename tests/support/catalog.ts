/** Fixture salons, professionals and services, created through the API. */
import { and, desc, eq, sql } from "drizzle-orm";
import { outbox } from "../../db/schema.ts";
import type { Send } from "./api.ts";
import type { TestApp } from "./app.ts";
import type { SignedInUser } from "./users.ts";

let counter = 0;

/** Creates a salon owned by `owner`; `fields` override the defaults (São Paulo, BRL). */
export async function makeSalon(send: Send, owner: SignedInUser, fields: Record<string, unknown> = {}) {
  counter++;
  const res = await send("POST", "/salons", owner, {
    name: `Salon ${counter} ${crypto.randomUUID().slice(0, 8)}`,
    time_zone: "America/Sao_Paulo",
    currency: "BRL",
    ...fields,
  });
  if (res.status !== 201) throw new Error(`Cannot create fixture salon: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Adds a professional to a salon through the API: invited, and unlinked (no account may act as
 * them) until someone accepts the invitation; see `makeLinkedProfessional`.
 */
export async function makeProfessional(
  send: Send,
  owner: SignedInUser,
  salonId: string,
  fields: Record<string, unknown> = {},
) {
  counter++;
  const res = await send("POST", "/professionals", owner, {
    salon_id: salonId,
    email: `pro-${counter}-${crypto.randomUUID().slice(0, 8)}@example.com`,
    display_name: `Professional ${counter}`,
    ...fields,
  });
  if (res.status !== 201) throw new Error(`Cannot add fixture professional: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The token of the latest invitation to a professional, read from its message in the outbox (before the relay drops it). */
export async function invitationToken(testApp: Pick<TestApp, "deps">, professionalId: string): Promise<string> {
  const [row] = await testApp.deps.database.db.select({ payload: outbox.payload }).from(outbox)
    .where(and(
      eq(outbox.topic, "email.professional_invitation"),
      sql`${outbox.payload}->>'professional_id' = ${professionalId}`,
    )).orderBy(desc(outbox.createdAt)).limit(1);
  const token = (row?.payload as { token?: string } | undefined)?.token;
  if (!token) throw new Error(`No invitation token in the outbox for professional ${professionalId}`);
  return token;
}

/**
 * Adds a professional through invite and accept, linked to `user` (whose password accepts; a
 * CLIENT becomes a PROFESSIONAL) or, without one, to a new account the acceptance makes. Returns
 * the professional with `person`: their account, signed in.
 */
export async function makeLinkedProfessional(
  testApp: Pick<TestApp, "deps">,
  send: Send,
  owner: SignedInUser,
  salonId: string,
  user?: SignedInUser,
  fields: Record<string, unknown> = {},
) {
  counter++;
  const email = user?.email ?? `linked-${counter}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const professional = await makeProfessional(send, owner, salonId, { ...fields, email });
  const password = user?.password ?? "Secret123";
  const token = await invitationToken(testApp, professional.id);
  const accepted = await send("POST", "/auth/invitation/accept", null, { token, password });
  if (accepted.status !== 204) {
    throw new Error(`Cannot accept fixture invitation: ${accepted.status} ${JSON.stringify(accepted.body)}`);
  }
  let person: SignedInUser;
  if (user) {
    person = { ...user, role: user.role === "CLIENT" ? "PROFESSIONAL" : user.role };
  } else {
    const login = await send("POST", "/auth/login", null, { email, password });
    if (login.status !== 200) throw new Error(`Cannot sign the fixture professional in: ${login.status}`);
    const me = await send("GET", "/users/me", { accessToken: login.body.access_token } as SignedInUser);
    person = {
      id: me.body.id,
      email,
      password,
      role: "PROFESSIONAL",
      accessToken: login.body.access_token,
      refreshToken: login.body.refresh_token,
    };
  }
  return { ...professional, user_id: person.id, person };
}

/** Creates a service in the salon as `owner`; `fields` override the defaults (a 60-minute haircut). */
export async function makeService(
  send: Send,
  owner: SignedInUser,
  salonId: string,
  fields: Record<string, unknown> = {},
) {
  counter++;
  const res = await send("POST", "/services", owner, {
    salon_id: salonId,
    name: `Service ${counter} ${crypto.randomUUID().slice(0, 8)}`,
    category: "Hair",
    duration_minutes: 60,
    price_amount: 8000,
    ...fields,
  });
  if (res.status !== 201) throw new Error(`Cannot create fixture service: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
