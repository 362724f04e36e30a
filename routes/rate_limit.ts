/**
 * Rate limits over the key-value store (eSalão source: login 5/min, API 100/min, reports 20/min),
 * counted by adapters/rate_windows.ts. Store calls are bounded by a timeout: the login limit and
 * the account-message budgets fail closed (503), the general API limit fails open with a logged
 * warning; a request never hangs on the store.
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { readWindow } from "../adapters/rate_windows.ts";
import type { RateDecision } from "../domain/rate_limit.ts";
import type { AppDeps, AppEnv } from "./app.ts";
import { ApiError } from "./errors.ts";
import { clientIp } from "./client_address.ts";

/**
 * Reads (and with `count`, adds this request to) the sliding window of `name` for `id`; the
 * window is a minute unless `windowMs` says otherwise (message limits count per hour or day).
 * Throws when the store fails or is slow.
 */
export function rateWindow(
  deps: AppDeps,
  options: { name: string; id: string; limit: number; count: boolean; windowMs?: number },
): Promise<RateDecision> {
  return readWindow(deps, options, options.count);
}

/** Adds one to a minute window without deciding (a refused call). Errors are logged, not raised. */
export async function countOnly(deps: AppDeps, name: string, id: string): Promise<void> {
  await readWindow(deps, { name, id, limit: Number.MAX_SAFE_INTEGER }, true)
    .catch((error) => deps.logger.warn("rate limit store failed", { limit: name, error: String(error) }));
}

/** The 503 answer when the store cannot say whether a limited action may go ahead (it fails closed). */
export function storeUnavailable(what: string): ApiError {
  return new ApiError("unavailable", `Cannot ${what} right now: try again shortly`, {
    headers: { "Retry-After": "5" },
  });
}

/** Writes the RateLimit-* headers of the tightest decision. */
export function setRateHeaders(c: Context<AppEnv>, decision: RateDecision): void {
  c.header("RateLimit-Limit", String(decision.limit));
  c.header("RateLimit-Remaining", String(decision.remaining));
  c.header("RateLimit-Reset", String(decision.resetSeconds));
}

/** The 429 answer for a refused decision. */
export function rateLimited(decision: RateDecision, what: string): ApiError {
  return new ApiError("rate_limited", `Too many ${what}: retry in ${decision.retryAfterSeconds} s`, {
    headers: {
      "Retry-After": String(decision.retryAfterSeconds),
      "RateLimit-Limit": String(decision.limit),
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": String(decision.resetSeconds),
    },
  });
}

/**
 * Limits requests per subject (a client address, or a user once authenticated) to the configured
 * per-minute limit (`/api`'s unless `limitOf` names another); fails open.
 */
export function apiRateLimit(
  subject: (c: Context<AppEnv>) => string | null,
  name: string,
  limitOf: (config: AppDeps["config"]) => number = (config) => config.RATE_LIMIT_API_PER_MINUTE,
) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const deps = c.var.services;
    const id = subject(c);
    if (id !== null) {
      let decision: RateDecision | undefined;
      try {
        decision = await rateWindow(deps, { name, id, limit: limitOf(deps.config), count: true });
      } catch (error) {
        deps.logger.warn("rate limit store failed: request allowed", { limit: name, error: String(error) });
      }
      if (decision && !decision.allowed) throw rateLimited(decision, "requests");
      if (decision) setRateHeaders(c, decision);
    }
    await next();
  });
}

/**
 * For routes that only signed callers use (job callbacks, webhooks): a badly signed request counts
 * against its address, and an address past the limit is refused before any verification; an
 * address whose calls are signed correctly is never limited. Fails open.
 */
export function refusedCallLimit(name: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const deps = c.var.services;
    const id = clientIp(c);
    const limit = deps.config.RATE_LIMIT_UNSIGNED_PER_MINUTE;
    let decision: RateDecision | undefined;
    try {
      decision = await rateWindow(deps, { name, id, limit, count: false });
    } catch (error) {
      deps.logger.warn("rate limit store failed: request allowed", { limit: name, error: String(error) });
    }
    if (decision && !decision.allowed) throw rateLimited(decision, "badly signed requests");
    await next();
    if (c.res.status === 400 || c.res.status === 401) await countOnly(deps, name, id);
  });
}
