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
