/** Fixture users: registered through the API, then given their role, and signed in. */
import { eq } from "drizzle-orm";
import { users } from "../../db/schema.ts";
import type { Role } from "../../domain/access.ts";
import type { TestApp } from "./app.ts";

export interface SignedInUser {
  id: string;
  email: string;
  password: string;
  role: Role;
  accessToken: string;
  refreshToken: string;
}

/**
 * Creates a user with the role and returns them signed in; `verified` marks the email as verified
 * (an unverified account holds one open booking at most).
 */
export async function makeUser(
  { app, deps }: Pick<TestApp, "app" | "deps">,
  role: Role = "CLIENT",
  overrides: { email?: string; password?: string; fullName?: string; verified?: boolean } = {},
): Promise<SignedInUser> {
  const email = overrides.email ?? `${role.toLowerCase()}-${crypto.randomUUID()}@example.com`;
  const password = overrides.password ?? "Secret123";
  const res = await app.request("/api/v1/auth/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password, full_name: overrides.fullName ?? `Test ${role}` }),
  });
  if (res.status !== 201) throw new Error(`Cannot register fixture user: ${res.status} ${await res.text()}`);
  const [row] = await deps.database.db.update(users)
    .set({ role, ...(overrides.verified ? { verified: true } : {}) }).where(eq(users.email, email)).returning();
  const pair = await res.json();
  return { id: row.id, email, password, role, accessToken: pair.access_token, refreshToken: pair.refresh_token };
}

/** The Authorization header for a user. */
export function bearer(user: SignedInUser): Record<string, string> {
  return { authorization: `Bearer ${user.accessToken}` };
}
