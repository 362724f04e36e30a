/** Accounts and sessions: register, login, refresh (rotating, with reuse detection), logout, me. */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import {
  ACCESS_TOKEN_SECONDS,
  hashToken,
  InvalidToken,
  newOpaqueToken,
  REFRESH_TOKEN_SECONDS,
} from "../adapters/tokens.ts";
import {
  type AuditContext,
  confirmEmail,
  findRefreshToken,
  findUserByEmail,
  insertUserWithSession,
  issueUserToken,
  recordLogin,
  recordLoginFailure,
  resetPassword,
  revokeFamily,
  rotateRefreshToken,
  sessionState,
  usableUserToken,
  type UserRow,
  type UserTokenPurpose,
} from "../db/auth.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { type BudgetVerdict, claimWindows, spendMessageBudget, type WindowClaim } from "../adapters/rate_windows.ts";
import type { MessageKind } from "../domain/message_limits.ts";
import { normaliseEmail, passwordProblems } from "../domain/credentials.ts";
import { type Role, SELF_SERVICE_ROLES } from "../domain/access.ts";
import type { App, AppEnv } from "./app.ts";
import { ApiError, bodyErrorResponses, errorResponses, problem409 } from "./errors.ts";
import { apiRateLimit, rateLimited, storeUnavailable } from "./rate_limit.ts";
import { clientIp } from "./client_address.ts";

const email = z.string().trim().toLowerCase().pipe(z.email().max(254)).openapi({ example: "ana@example.com" });
/** A phone number as people write it. */
export const phoneSchema = z.string().trim().regex(/^\+?[0-9 ()-]{6,20}$/, "must be a phone number");

/** A new password, checked against the password rule in domain/. */
export const newPasswordSchema = z.string().superRefine((value, ctx) => {
  for (const message of passwordProblems(value)) ctx.addIssue({ code: "custom", message });
}).openapi({
  example: "Secret123",
  description: "8 to 128 characters with a lower-case letter, an upper-case letter and a digit",
});

const registerBody = z.object({
  email,
  password: newPasswordSchema,
  full_name: z.string().trim().min(1).max(200),
  phone: phoneSchema.optional(),
  role: z.enum(SELF_SERVICE_ROLES as [Role, ...Role[]]).default("CLIENT")
    .openapi({ description: "CLIENT or SALON_OWNER; other roles are granted by an owner or an admin" }),
}).strict().openapi("RegisterRequest");

const loginBody = z.object({ email, password: z.string().min(1).max(1024) }).strict().openapi("LoginRequest");
const refreshBody = z.object({ refresh_token: z.string().min(1).max(512) }).strict().openapi("RefreshRequest");

const tokenBody = z.object({ token: z.string().min(1).max(512) }).strict().openapi("SingleUseToken");
const resetRequestBody = z.object({ email }).strict().openapi("PasswordResetRequest");
const resetConfirmBody = z.object({ token: z.string().min(1).max(512), new_password: newPasswordSchema }).strict()
  .openapi("PasswordResetConfirm");
const acceptedSchema = z.object({ status: z.literal("accepted"), detail: z.string() }).openapi("Accepted");

/** Lifetime of verification and reset tokens. */
export const SINGLE_USE_TOKEN_SECONDS = 30 * 60;

export const tokenPairSchema = z.object({
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int().openapi({ example: ACCESS_TOKEN_SECONDS }),
}).openapi("TokenPair");

export const userSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  full_name: z.string(),
  phone: z.string().nullable(),
  role: z.enum(["CLIENT", "PROFESSIONAL", "SALON_OWNER", "ADMIN"]),
  verified: z.boolean(),
  phone_verified: z.boolean().openapi({
    description: "The phone number was proven with an SMS code; SMS notices go only to a verified phone",
  }),
  active: z.boolean(),
  created_at: z.string().openapi({ example: "2026-03-08T15:00:00Z" }),
}).openapi("User");

/** Shapes a user row for the API. */
export function toUser(row: UserRow): z.infer<typeof userSchema> {
  return userSchema.parse({
    id: row.id,
    email: row.email,
    full_name: row.fullName,
    phone: row.phone,
    role: row.role,
    verified: row.verified,
    phone_verified: row.phone !== null && row.phoneVerifiedAt !== null,
    active: row.active,
    created_at: row.createdAt.toISOString(),
  });
}

export const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });
const tags = ["Auth"];
export const problem401 = { description: "Not authenticated", content: bodyErrorResponses[400].content };
/** The 503 of routes whose limits fail closed when the rate-limit store cannot answer. */
export const problem503 = {
  description: "The rate-limit store is unavailable: retry after `Retry-After` seconds",
  content: bodyErrorResponses[400].content,
};

const register = createRoute({
  method: "post",
  path: "/api/v1/auth/register",
  operationId: "register",
  summary: "Create a CLIENT or SALON_OWNER account and start a session",
  tags,
  security: [],
  request: { body: { required: true, ...json(registerBody) } },
  responses: {
    201: { description: "Registered", ...json(tokenPairSchema) },
    409: problem409,
    ...bodyErrorResponses,
  },
});

const login = createRoute({
  method: "post",
  path: "/api/v1/auth/login",
  operationId: "login",
  summary: "Start a session with email and password",
  tags,
  security: [],
  request: { body: { required: true, ...json(loginBody) } },
  responses: {
    200: { description: "Signed in", ...json(tokenPairSchema) },
    401: problem401,
    503: problem503,
    ...bodyErrorResponses,
  },
});

const refresh = createRoute({
  method: "post",
  path: "/api/v1/auth/refresh",
  operationId: "refreshSession",
  summary: "Exchange a refresh token for a new pair (a reused token ends its whole session)",
  tags,
  security: [],
  request: { body: { required: true, ...json(refreshBody) } },
  responses: { 200: { description: "Rotated", ...json(tokenPairSchema) }, 401: problem401, ...bodyErrorResponses },
});

const logout = createRoute({
  method: "post",
  path: "/api/v1/auth/logout",
  operationId: "logout",
  summary: "End this session: its refresh and access tokens stop working at once",
  tags,
  responses: { 204: { description: "Signed out" }, 401: problem401, ...errorResponses },
});

/** The 401 answer, with the Bearer challenge. */
export function unauthorized(detail = "Authentication required: send a valid Bearer access token"): ApiError {
  return new ApiError("unauthorized", detail, { headers: { "WWW-Authenticate": 'Bearer realm="api"' } });
}

/** Who is acting and from where, for audit events. */
export function auditContext(c: Context<AppEnv>): AuditContext {
  return { ip: clientIp(c), userAgent: c.req.header("user-agent")?.slice(0, 300) ?? null, requestId: c.var.requestId };
}

async function issuePair(c: Context<AppEnv>, user: { id: string; role: string }, familyId: string) {
  const { tokens, now } = c.var.services;
  const refreshToken = newOpaqueToken();
  const seconds = Math.floor(now().getTime() / 1000);
  const accessToken = await tokens.signAccess(
    { sub: user.id, role: user.role, sid: familyId, jti: crypto.randomUUID() },
    seconds,
  );
  return {
    pair: {
      access_token: accessToken,
      refresh_token: refreshToken,
      token_type: "Bearer" as const,
      expires_in: ACCESS_TOKEN_SECONDS,
    },
    session: {
      familyId,
      refreshTokenHash: await hashToken(refreshToken),
      refreshExpiresAt: new Date(now().getTime() + REFRESH_TOKEN_SECONDS * 1000),
    },
  };
}

/** Requires a valid access token of an active user whose session is live; sets `auth` and `userId`. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  await authenticate(c, c.req.header("authorization"));
  await perUserLimit(c, next);
});

/**
 * For public routes that show more to a signed-in caller (an owner sees their inactive salon):
 * no Authorization header means anonymous; a header that does not authenticate is still a 401.
 */
export const optionalUser = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("authorization");
  if (header === undefined) return await next();
  await authenticate(c, header);
  await perUserLimit(c, next);
});

async function authenticate(c: Context<AppEnv>, header: string | undefined): Promise<void> {
  const match = header ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header) : null;
  if (!match) throw unauthorized();
  const { tokens, database, now } = c.var.services;
  let claims;
  try {
    claims = await tokens.verifyAccess(match[1], Math.floor(now().getTime() / 1000));
  } catch (error) {
    if (error instanceof InvalidToken) throw unauthorized("Access token is invalid or expired");
    throw error;
  }
  const state = await sessionState(database.db, claims.sub, claims.sid);
  if (!state || !state.user.active || state.sessionRevoked) throw unauthorized("Session has ended: sign in again");
  c.set("userId", state.user.id);
  c.set("auth", { userId: state.user.id, role: state.user.role, sessionId: claims.sid, user: state.user });
}

const perUserLimit = apiRateLimit((c) => c.var.auth?.userId ?? null, "api-user");

/**
 * Counts a login attempt per client address and per email before its password is verified, and
 * refuses it (429) when either has had too many: the count is an atomic increment, so however many
 * attempts race, at most the limit are verified per window. The caller gives the attempt back
 * when the login succeeds, so a successful login never locks anyone out. Fails closed (503).
 */
async function claimLoginAttempt(c: Context<AppEnv>, email: string): Promise<WindowClaim> {
  const deps = c.var.services;
  const limit = deps.config.RATE_LIMIT_LOGIN_PER_MINUTE;
  let claim;
  try {
    claim = await claimWindows(deps, [
      { name: "login-ip", id: clientIp(c), limit },
      { name: "login-email", id: email, limit },
    ]);
  } catch (error) {
    deps.logger.error("login rate limit unavailable: login refused", { error: String(error) });
    throw storeUnavailable("sign in");
  }
  if (claim.refused) throw rateLimited(claim.refused.decision, "failed sign-in attempts");
  return claim;
}

/**
 * Spends one account message (a reset, a verification) from its budget; throws the 429 when it is
 * spent, or 503 when the store cannot tell (account messages fail closed).
 */
export async function spendAccountMessage(
  c: Context<AppEnv>,
  kind: MessageKind,
  subjects: { recipient: string; caller: string },
): Promise<BudgetVerdict> {
  const deps = c.var.services;
  try {
    return await spendMessageBudget(deps, kind, subjects);
  } catch (error) {
    deps.logger.error("message limit store unavailable: message refused", { kind, error: String(error) });
    throw storeUnavailable("send this message");
  }
}

const verifyRequest = createRoute({
  method: "post",
  path: "/api/v1/auth/verify-email/request",
  operationId: "requestEmailVerification",
  summary: "Email yourself a verification link (valid 30 minutes, single use)",
  tags,
  middleware: [requireUser] as const,
  responses: {
    202: { description: "Sent", ...json(acceptedSchema) },
    401: problem401,
    503: problem503,
    ...errorResponses,
  },
});

const verifyConfirm = createRoute({
  method: "post",
  path: "/api/v1/auth/verify-email/confirm",
  operationId: "confirmEmailVerification",
  summary: "Confirm an email address with the token from the message",
  tags,
  security: [],
  request: { body: { required: true, ...json(tokenBody) } },
  responses: { 204: { description: "Verified" }, ...bodyErrorResponses },
});

const resetRequest = createRoute({
  method: "post",
  path: "/api/v1/auth/password-reset/request",
  operationId: "requestPasswordReset",
  summary: "Email a password-reset link; the answer is the same whether the email is known or not",
  tags,
  security: [],
  request: { body: { required: true, ...json(resetRequestBody) } },
  responses: { 202: { description: "Accepted", ...json(acceptedSchema) }, 503: problem503, ...bodyErrorResponses },
});

const resetConfirm = createRoute({
  method: "post",
  path: "/api/v1/auth/password-reset/confirm",
  operationId: "confirmPasswordReset",
  summary: "Set a new password with the token from the message; every session of the user ends",
  tags,
  security: [],
  request: { body: { required: true, ...json(resetConfirmBody) } },
  responses: { 204: { description: "Password changed" }, ...bodyErrorResponses },
});

function invalidSingleUseToken(): ApiError {
  return new ApiError("validation", "Token is invalid, expired or already used: request a new one", {
    errors: [{ path: "token", message: "is invalid, expired or already used" }],
  });
}

async function sendSingleUseToken(c: Context<AppEnv>, user: UserRow, purpose: UserTokenPurpose): Promise<void> {
  const { database, now } = c.var.services;
  const token = newOpaqueToken();
  const tokenHash = await hashToken(token);
  const topic = purpose === "VERIFY_EMAIL" ? "email.verify_email" : "email.password_reset";
  await issueUserToken(database.db, {
    userId: user.id,
    purpose,
    tokenHash,
    expiresAt: new Date(now().getTime() + SINGLE_USE_TOKEN_SECONDS * 1000),
    now: now(),
    // The message carries the token to the user; only its hash identifies it in user_tokens. The
    // token reaches no log line: the relay drops it from the outbox and the sender from the record.
    message: {
      topic,
      payload: { user_id: user.id, to: user.email, locale: user.locale, token },
      deduplicationId: `${topic}:${tokenHash}`,
    },
  });
}

/** Sends within the budget already spent: a message that could not be written gives its count back. */
export async function sendSpent(verdict: BudgetVerdict & { allowed: true }, send: () => Promise<void>) {
  try {
    await send();
  } catch (error) {
    await verdict.release();
    throw error;
  }
}

/** Registers the account and session routes. */
export function registerAuth(app: App): void {
  app.openapi(register, async (c) => {
    const body = c.req.valid("json");
    const { passwords, database } = c.var.services;
    const userId = crypto.randomUUID();
    const { pair, session } = await issuePair(c, { id: userId, role: body.role }, crypto.randomUUID());
    try {
      await insertUserWithSession(
        database.db,
        {
          id: userId,
          email: normaliseEmail(body.email),
          passwordHash: await passwords.hash(body.password),
          fullName: body.full_name,
          phone: body.phone ?? null,
          role: body.role,
        },
        session,
        auditContext(c),
      );
    } catch (error) {
      if (isUniqueViolation(error, "users_email_key")) {
        throw new ApiError("conflict", "Cannot register: an account with this email exists", {
          errors: [{ path: "email", message: "is already registered" }],
        });
      }
      throw error;
    }
    c.header("Location", "/api/v1/users/me");
    return c.json(pair, 201);
  });

  app.openapi(login, async (c) => {
    const body = c.req.valid("json");
    const { passwords, database, now } = c.var.services;
    const normalised = normaliseEmail(body.email);
    const attempt = await claimLoginAttempt(c, normalised);
    let user, valid;
    try {
      user = await findUserByEmail(database.db, normalised);
      valid = await passwords.verify(user?.passwordHash ?? null, body.password);
    } catch (error) {
      // Nothing was verified: the attempt does not count.
      await attempt.release();
      throw error;
    }
    if (!user || !valid || !user.active) {
      await recordLoginFailure(database.db, user?.id ?? null, auditContext(c));
      throw unauthorized("Cannot sign in: email or password is wrong");
    }
    // Only failures stay counted, so a successful login never locks anyone out.
    await attempt.release();
    const { pair, session } = await issuePair(c, user, crypto.randomUUID());
    const rehashedPassword = passwords.needsRehash(user.passwordHash) ? await passwords.hash(body.password) : undefined;
    await recordLogin(database.db, user, session, { ...auditContext(c), now: now(), rehashedPassword });
    return c.json(pair, 200);
  });

  app.openapi(refresh, async (c) => {
    const { refresh_token } = c.req.valid("json");
    const { database, now } = c.var.services;
    const record = await findRefreshToken(database.db, await hashToken(refresh_token));
    const refused = unauthorized("Refresh token is invalid, expired or already used: sign in again");
    if (!record || record.familyRevokedAt || !record.user.active || record.expiresAt <= now()) throw refused;
    if (record.usedAt) {
      await revokeFamily(database.db, record.familyId, record.user.id, "reuse", { ...auditContext(c), now: now() });
      throw refused;
    }
    const { pair, session } = await issuePair(c, record.user, record.familyId);
    const rotated = await rotateRefreshToken(database.db, record.tokenId, {
      tokenHash: session.refreshTokenHash,
      expiresAt: session.refreshExpiresAt,
    }, now());
    if (!rotated) {
      // Another request used this token first: the same token presented twice is reuse.
      await revokeFamily(database.db, record.familyId, record.user.id, "reuse", { ...auditContext(c), now: now() });
      throw refused;
    }
    return c.json(pair, 200);
  });

  app.openapi(verifyRequest, async (c) => {
    const user = c.var.auth!.user;
    if (!user.verified) {
      // The caller is signed in and asks about their own address: a 429 reveals nothing.
      const verdict = await spendAccountMessage(c, "verify_email", { recipient: user.email, caller: user.id });
      if (!verdict.allowed) throw rateLimited(verdict.decision, "verification messages");
      await sendSpent(verdict, () => sendSingleUseToken(c, user, "VERIFY_EMAIL"));
    }
    return c.json({
      status: "accepted" as const,
      detail: "If the address is not verified yet, a message is on its way",
    }, 202);
  });

  app.openapi(verifyConfirm, async (c) => {
    const { token } = c.req.valid("json");
    const { database, now } = c.var.services;
    const userId = await confirmEmail(database.db, await hashToken(token), { ...auditContext(c), now: now() });
    if (!userId) throw invalidSingleUseToken();
    return c.body(null, 204);
  });

  app.openapi(resetRequest, async (c) => {
    const { email: address } = c.req.valid("json");
    const { database, logger } = c.var.services;
    const normalised = normaliseEmail(address);
    // Counted whether an account uses the address or not, and answered the same when the budget is
    // spent: neither the answer nor the limit tells whether the address is known.
    const verdict = await spendAccountMessage(c, "password_reset", { recipient: normalised, caller: clientIp(c) });
    if (verdict.allowed) {
      const user = await findUserByEmail(database.db, normalised);
      if (user?.active) await sendSpent(verdict, () => sendSingleUseToken(c, user, "RESET_PASSWORD"));
    } else {
      // No address in the line: the limit, not who was asked about, is what an operator needs.
      logger.warn("password reset not sent: message limit reached", {
        scope: verdict.window.scope,
        limit: verdict.window.limit,
        window_minutes: verdict.window.windowMinutes,
      });
    }
    return c.json(
      { status: "accepted" as const, detail: "If an account uses this address, a message is on its way" },
      202,
    );
  });

  app.openapi(resetConfirm, async (c) => {
    const body = c.req.valid("json");
    const { database, passwords, now } = c.var.services;
    const tokenHash = await hashToken(body.token);
    // Looked up before the new password is hashed: argon2 is the costly part, and a bogus token
    // must not buy it. The reset itself still requires the token unused, so a race cannot reuse it.
    if (!(await usableUserToken(database.db, tokenHash, "RESET_PASSWORD", now()))) throw invalidSingleUseToken();
    const hash = await passwords.hash(body.new_password);
    const userId = await resetPassword(database.db, tokenHash, hash, { ...auditContext(c), now: now() });
    if (!userId) throw invalidSingleUseToken();
    return c.body(null, 204);
  });

  app.use(logout.path, requireUser);
  app.openapi(logout, async (c) => {
    const auth = c.var.auth!;
    const { database, now } = c.var.services;
    await revokeFamily(database.db, auth.sessionId, auth.userId, "logout", { ...auditContext(c), now: now() });
    return c.body(null, 204);
  });
}
