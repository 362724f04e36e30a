/** Fixture salons, professionals and services, created through the API. */
import type { Send } from "./api.ts";
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

/** Adds a professional to a salon through the API (inviting a new account unless `email` exists). */
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
