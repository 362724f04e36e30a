/**
 * `Idempotency-Key` for POSTs that create bookings or move money: the same key with the same body
 * gets the original status and body for 24 hours (`Idempotent-Replayed: true`); another body gets
 * 422; a duplicate that arrives while the first request runs waits up to three seconds for its
 * answer, and gets 409 if it is still running then. Keys belong to the signed-in user.
 *
 * The first request holds the key on a lease (IDEMPOTENCY_LEASE_SECONDS): if it dies mid-request,
 * a retry with the same key and body takes the key over once the lease has lapsed, instead of being
 * refused until the key expires. If the first request was only slow, its work fails at commit (its
 * answer is stored only under its own claim, in the same batch) and it answers 409.
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { hashToken } from "../adapters/tokens.ts";
import { isClaimLost } from "../db/errors.ts";
import { claimKey, type ClaimRef, releaseKey, storeAnswer, type StoredAnswer } from "../db/idempotency.ts";
import type { AppEnv } from "./app.ts";
import { ApiError, problemBody } from "./errors.ts";

export const IDEMPOTENCY_HOURS = 24;
/** Refusals that a retry with the same key may get past: never stored as the key's answer. */
const RETRYABLE = new Set(["unavailable", "internal", "rate_limited"]);
/** How long a duplicate waits for the first request's answer before it is told to retry (409). */
const IN_FLIGHT_WAIT_MS = 3000;
const IN_FLIGHT_POLL_MS = 50;

/** An answer the route wants to send; with a key, `remember` is the statement that stores it. */
export type Remember = ((answer: StoredAnswer) => ReturnType<typeof storeAnswer>) | null;

/** The optional header, as routes declare it. */
export const idempotencyHeaders = z.object({
  "idempotency-key": z.string().min(1).max(255).optional().openapi({
    description:
      `Any unique string up to 255 characters: a retry with the same key and body within ${IDEMPOTENCY_HOURS} hours gets the original answer instead of acting twice`,
  }),
});

function respond(answer: StoredAnswer, replayed: boolean): Response {
  const headers: Record<string, string> = {
    "content-type": answer.status >= 400 ? "application/problem+json" : "application/json",
  };
  if (answer.location) headers["Location"] = answer.location;
  if (replayed) headers["Idempotent-Replayed"] = "true";
  return new Response(JSON.stringify(answer.body), { status: answer.status, headers });
}

/**
 * Runs `work` at most once per key. `work` must put `remember(answer)` into the batch that makes
 * its change, so the change and its stored answer commit together. Refusals (4xx) are stored too,
 * except those that say "later" (429 limits, 503): a retry with the same key may succeed once the
 * limit frees up, so the key is released for it.
 */
export async function idempotent(
  c: Context<AppEnv>,
  body: unknown,
  work: (remember: Remember) => Promise<StoredAnswer>,
): Promise<Response> {
  const key = c.req.header("idempotency-key");
  if (key === undefined) return respond(await work(null), false);
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new ApiError("validation", "Invalid Idempotency-Key header", {
      errors: [{ path: "header.Idempotency-Key", message: "must be 1 to 255 visible ASCII characters" }],
    });
  }
  const { database, now, config, logger } = c.var.services;
  const db = database.db;
  const userId = c.var.auth!.userId;
  const requestHash = await hashToken(`${c.req.method} ${c.req.path}\n${JSON.stringify(body)}`);
  const claimOnce = () => {
    // Read each time: a lease that lapses while a duplicate waits lets that duplicate take over.
    const at = now();
    return claimKey(db, {
      userId,
      key,
      requestHash,
      now: at,
      leaseExpiresAt: new Date(at.getTime() + config.IDEMPOTENCY_LEASE_SECONDS * 1000),
      expiresAt: new Date(at.getTime() + IDEMPOTENCY_HOURS * 3_600_000),
    });
  };
  let claim = await claimOnce();
  // A retry that overlaps the first request waits a little for its answer rather than failing at once.
  for (let waited = 0; claim.state === "in_flight" && waited < IN_FLIGHT_WAIT_MS; waited += IN_FLIGHT_POLL_MS) {
    await new Promise((resolve) => setTimeout(resolve, IN_FLIGHT_POLL_MS));
    claim = await claimOnce();
  }
  if (claim.state === "replay") return respond(claim.answer, true);
  if (claim.state === "mismatch") {
    throw new ApiError("unprocessable", "This Idempotency-Key was used with another request body: use a new key");
  }
  if (claim.state === "in_flight") {
    throw new ApiError("conflict", "A request with this Idempotency-Key is still being processed: retry shortly", {
      headers: { "Retry-After": "1" },
    });
  }
  const held: ClaimRef = { userId, key, claimId: claim.claimId };
  const takenOver = () => {
    logger.warn("idempotency claim taken over by a retry: this request's work was not committed", {
      request_id: c.var.requestId,
      path: c.req.path,
    });
    return new ApiError(
      "conflict",
      "A retry with this Idempotency-Key took this request over after its lease ran out, and this request's change was not made: repeat it with the same key to get the retry's answer",
      { headers: { "Retry-After": "1" } },
    );
  };
  try {
    const answer = await work((stored) => storeAnswer(db, held, stored));
    return respond(answer, false);
  } catch (error) {
    if (isClaimLost(error)) throw takenOver();
    if (error instanceof ApiError && !RETRYABLE.has(error.code)) {
      const problem = problemBody(error.code, error.message, c.var.requestId, error.errors);
      try {
        await storeAnswer(db, held, { status: problem.status, body: problem, location: null });
      } catch (storeError) {
        // The refusal may stem from the retry's own work (its booking took the slot): say what happened.
        if (isClaimLost(storeError)) throw takenOver();
        throw storeError;
      }
    } else {
      // A limit or outage met by a request whose key a retry took over may be the retry's doing
      // (its booking counts against the limit): the retry's answer is the one that holds.
      const released = await releaseKey(db, held).catch(() => true);
      if (!released) throw takenOver();
    }
    throw error;
  }
}
