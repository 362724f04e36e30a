/**
 * Phone verification: a 6-digit code by SMS (the one SMS an unverified number receives), valid 10
 * minutes, stored as a digest bound to the account and number; a new code or a new number makes
 * the last code useless. A short code is guessable, so tries are bounded per code (then it is
 * burnt) and per account, and codes are bounded per account and per number (domain/message_limits.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { burnUserToken, confirmPhone, findUserById, issueUserToken, liveUserToken, type UserRow } from "../db/auth.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { hashToken } from "../adapters/tokens.ts";
import { claimWindows, withTimeout } from "../adapters/rate_windows.ts";
import { PHONE_CODE, PHONE_CODE_TOPIC, PHONE_CONFIRMS_PER_ACCOUNT, phoneDigits } from "../domain/message_limits.ts";
import type { App, AppEnv } from "./app.ts";
import {
  auditContext,
  json,
  problem401,
  problem503,
  requireUser,
  sendSpent,
  spendAccountMessage,
  toUser,
  userSchema,
} from "./auth.ts";
import { ApiError, bodyErrorResponses, errorResponses, problem409 } from "./errors.ts";
import { rateLimited, storeUnavailable } from "./rate_limit.ts";

const tags = ["Users"];

const codeBody = z.object({
  code: z.string().trim().regex(new RegExp(`^[0-9]{${PHONE_CODE.digits}}$`), `must be ${PHONE_CODE.digits} digits`)
    .openapi({ example: "042917" }),
}).strict().openapi("PhoneCode");

const sentSchema = z.object({
  status: z.literal("accepted"),
  detail: z.string(),
  expires_in: z.number().int().openapi({ example: PHONE_CODE.validMinutes * 60 }),
}).openapi("PhoneCodeSent");

const requestPhoneCode = createRoute({
  method: "post",
  path: "/api/v1/users/me/phone/verification",
  operationId: "requestPhoneVerification",
  summary: `Text a ${PHONE_CODE.digits}-digit code to your phone number (valid ${PHONE_CODE.validMinutes} minutes; ` +
    "a new code replaces the last)",
  tags,
  middleware: [requireUser] as const,
  responses: {
    202: { description: "The code is on its way", ...json(sentSchema) },
    401: problem401,
    409: { ...problem409, description: "No phone number to verify, or it is verified already" },
    503: problem503,
    ...errorResponses,
  },
});

const confirmPhoneCode = createRoute({
  method: "post",
  path: "/api/v1/users/me/phone/verification/confirm",
  operationId: "confirmPhoneVerification",
  summary: `Prove your phone number with the code it received (${PHONE_CODE.attemptsPerCode} tries per code)`,
  tags,
  middleware: [requireUser] as const,
  request: { body: { required: true, ...json(codeBody) } },
  responses: {
    200: { description: "Verified", ...json(userSchema) },
    401: problem401,
    409: { ...problem409, description: "No phone number to verify" },
    503: problem503,
    ...bodyErrorResponses,
  },
});

/** A uniformly drawn code of PHONE_CODE.digits digits (rejection sampling: no digit is likelier). */
function newPhoneCode(): string {
  const range = 10 ** PHONE_CODE.digits;
  const ceiling = Math.floor(0x1_0000_0000 / range) * range;
  const draw = new Uint32Array(1);
  do crypto.getRandomValues(draw); while (draw[0] >= ceiling);
  return String(draw[0] % range).padStart(PHONE_CODE.digits, "0");
}

/**
 * A phone code is stored as a digest bound to its account and number: six digits alone would
 * repeat across users, and a code sent to one number must not verify another.
 */
function phoneCodeHash(userId: string, phone: string, code: string): Promise<string> {
  return hashToken(`VERIFY_PHONE:${userId}:${phoneDigits(phone)}:${code}`);
}

function noPhone(): ApiError {
  return new ApiError("conflict", "Cannot verify a phone number: add one to your profile first", {
    errors: [{ path: "phone", message: "is not set" }],
  });
}

function wrongCode(detail: string): ApiError {
  return new ApiError("validation", detail, { errors: [{ path: "code", message: "is wrong, expired or used up" }] });
}

/** Issues a new phone code and its SMS (through the outbox), replacing any earlier code. */
async function sendPhoneCode(c: Context<AppEnv>, user: UserRow & { phone: string }): Promise<void> {
  const { database, now } = c.var.services;
  // Two codes of one account and number can be equal: redraw rather than collide on the stored digest.
  for (let draw = 0;; draw++) {
    const code = newPhoneCode();
    const tokenHash = await phoneCodeHash(user.id, user.phone, code);
    try {
      await issueUserToken(database.db, {
        userId: user.id,
        purpose: "VERIFY_PHONE",
        tokenHash,
        expiresAt: new Date(now().getTime() + PHONE_CODE.validMinutes * 60_000),
        now: now(),
        // The SMS goes to the number the code was made for, even if the profile changes meanwhile.
        message: {
          topic: PHONE_CODE_TOPIC,
          payload: { user_id: user.id, to: user.phone, token: code },
          deduplicationId: `${PHONE_CODE_TOPIC}:${tokenHash}`,
        },
      });
      return;
    } catch (error) {
      if (draw < 3 && isUniqueViolation(error, "user_tokens_hash_key")) continue;
      throw error;
    }
  }
}

/** Registers the phone verification routes. */
export function registerPhoneVerification(app: App): void {
  app.openapi(requestPhoneCode, async (c) => {
    const user = c.var.auth!.user;
    if (!user.phone) throw noPhone();
    if (user.phoneVerifiedAt) {
      throw new ApiError("conflict", "Cannot send a code: this phone number is verified already", {
        errors: [{ path: "phone", message: "is verified already" }],
      });
    }
    const phone = user.phone;
    const verdict = await spendAccountMessage(c, "verify_phone", { recipient: phone, caller: user.id });
    if (!verdict.allowed) throw rateLimited(verdict.decision, "verification codes");
    await sendSpent(verdict, () => sendPhoneCode(c, { ...user, phone }));
    return c.json({
      status: "accepted" as const,
      detail: `A code is on its way by SMS: it works once, for ${PHONE_CODE.validMinutes} minutes`,
      expires_in: PHONE_CODE.validMinutes * 60,
    }, 202);
  });

  app.openapi(confirmPhoneCode, async (c) => {
    const { code } = c.req.valid("json");
    const deps = c.var.services;
    const { database, now, store, config } = deps;
    const user = c.var.auth!.user;
    if (!user.phone) throw noPhone();
    const phone = user.phone;
    // Every try counts before it is checked, per account (across codes) and per code, so that
    // concurrent guesses cannot outrun either bound; a right code gives its account try back.
    let claim;
    try {
      claim = await claimWindows(deps, [{
        name: "phone-confirm",
        id: user.id,
        limit: PHONE_CONFIRMS_PER_ACCOUNT.limit,
        windowMs: PHONE_CONFIRMS_PER_ACCOUNT.windowMinutes * 60_000,
      }]);
    } catch (error) {
      deps.logger.error("rate limit store unavailable: phone code refused", { error: String(error) });
      throw storeUnavailable("check the code");
    }
    if (claim.refused) throw rateLimited(claim.refused.decision, "code attempts");
    const token = await liveUserToken(database.db, user.id, "VERIFY_PHONE", now());
    if (!token) throw wrongCode("Code is wrong, expired or used up: request a new one");
    let tries;
    try {
      tries = await withTimeout(
        store.increment(`phone-code-tries:${token.id}`, PHONE_CODE.validMinutes * 60 + 60),
        config.STORE_TIMEOUT_MS,
      );
    } catch (error) {
      deps.logger.error("rate limit store unavailable: phone code refused", { error: String(error) });
      throw storeUnavailable("check the code");
    }
    if (tries > PHONE_CODE.attemptsPerCode) {
      await burnUserToken(database.db, token.id, now());
      throw wrongCode("Code has been tried too often: request a new one");
    }
    const verified = await confirmPhone(database.db, {
      userId: user.id,
      tokenId: token.id,
      tokenHash: await phoneCodeHash(user.id, phone, code),
      phone,
    }, { ...auditContext(c), now: now() });
    if (!verified) {
      const left = PHONE_CODE.attemptsPerCode - tries;
      if (left <= 0) await burnUserToken(database.db, token.id, now());
      throw wrongCode(
        left > 0 ? `Code is wrong: ${left} ${left === 1 ? "try" : "tries"} left` : "Code is wrong: request a new one",
      );
    }
    await claim.release();
    const fresh = await findUserById(database.db, user.id);
    return c.json(toUser(fresh!), 200);
  });
}
