/**
 * `Idempotency-Key` for POSTs that create bookings or move money: the same key with the same body
 * gets the original status and body for 24 hours (`Idempotent-Replayed: true`); another body gets
 * 422; a duplicate that arrives while the first request runs waits up to three seconds for its
 * answer, and gets 409 if it is still running then. Keys belong to the signed-in user.
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { hashToken } from "../adapters/tokens.ts";
import { claimKey, releaseKey, storeAnswer, type StoredAnswer } from "../db/idempotency.ts";
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
  const { database, now } = c.var.services;
  const db = database.db;
  const userId = c.var.auth!.userId;
  const requestHash = await hashToken(`${c.req.method} ${c.req.path}\n${JSON.stringify(body)}`);
  const at = now();
  const claimOnce = () =>
    claimKey(db, {
      userId,
      key,
      requestHash,
      now: at,
      expiresAt: new Date(at.getTime() + IDEMPOTENCY_HOURS * 3_600_000),
    });
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
  try {
    const answer = await work((stored) => storeAnswer(db, userId, key, stored));
    return respond(answer, false);
  } catch (error) {
    if (error instanceof ApiError && !RETRYABLE.has(error.code)) {
      const problem = problemBody(error.code, error.message, c.var.requestId, error.errors);
      await storeAnswer(db, userId, key, { status: problem.status, body: problem, location: null });
    } else {
      await releaseKey(db, userId, key).catch(() => {});
    }
    throw error;
  }
}
