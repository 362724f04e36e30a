/**
 * Sliding windows counted in the key-value store: the API limits, the login limit and the message
 * budgets all count here, with one key scheme. Each window is two fixed-window counters (see
 * domain/rate_limit.ts). Every store call has the STORE_TIMEOUT_MS deadline; what a caller does
 * when the store fails (refuse, or go on) is the caller's decision, so failures are thrown.
 */
import { budgetWindows, type CountedWindow, type MessageKind, recipientKey } from "../domain/message_limits.ts";
import { type RateDecision, slidingWindow } from "../domain/rate_limit.ts";
import type { Logger } from "./logger.ts";
import type { KeyValueStore } from "./store.ts";

/** What counting needs (a subset of the app's services). */
export interface WindowDeps {
  store: KeyValueStore;
  config: { STORE_TIMEOUT_MS: number };
  logger: Logger;
  now(): Date;
}

/** A window: `limit` per `windowMs` (a minute unless said) for subject `id` of limit `name`. */
export interface WindowSpec {
  name: string;
  id: string;
  limit: number;
  windowMs?: number;
}

export class StoreTimeout extends Error {
  override name = "StoreTimeout";
}

/** Rejects when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeout(`store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const MINUTE_MS = 60_000;

interface Placed {
  spec: WindowSpec;
  windowMs: number;
  index: number;
  elapsedMs: number;
}

function place(spec: WindowSpec, nowMs: number): Placed {
  const windowMs = spec.windowMs ?? MINUTE_MS;
  const index = Math.floor(nowMs / windowMs);
  return { spec, windowMs, index, elapsedMs: nowMs - index * windowMs };
}

/** The counter of one fixed window; windows of other lengths never share a key with the minute ones. */
function keyOf(placed: Placed, index = placed.index): string {
  const { spec, windowMs } = placed;
  return `rl:${spec.name}:${spec.id}:${windowMs === MINUTE_MS ? "" : `${windowMs}:`}${index}`;
}

function decide(placed: Placed, current: number, previous: number): RateDecision {
  return slidingWindow({
    limit: placed.spec.limit,
    windowMs: placed.windowMs,
    elapsedMs: placed.elapsedMs,
    current,
    previous,
  });
}

/**
 * Reads (and with `count`, adds this request to) one window and decides. An uncounted read
 * decides as if this request were added.
 */
export async function readWindow(deps: WindowDeps, spec: WindowSpec, count: boolean): Promise<RateDecision> {
  const placed = place(spec, deps.now().getTime());
  const [current, previous] = await withTimeout(
    Promise.all([
      count
        ? deps.store.increment(keyOf(placed), Math.ceil((2 * placed.windowMs) / 1000))
        : deps.store.get(keyOf(placed)).then(Number),
      deps.store.get(keyOf(placed, placed.index - 1)).then(Number),
    ]),
    deps.config.STORE_TIMEOUT_MS,
  );
  return decide(placed, count ? current : current + 1, previous);
}

/** An attempt counted in several windows at once. */
export interface WindowClaim {
  /** True when every window allowed it; a refused claim has already been given back. */
  allowed: boolean;
  /** Each window's decision, in the order of the specs. */
  decisions: RateDecision[];
  /** When refused: the window that refuses longest. */
  refused?: { index: number; decision: RateDecision };
  /** Gives the attempt back to every window, once; a store failure is logged, not raised. */
  release(): Promise<void>;
}

/**
 * Counts one attempt in every window first, then decides: the increment is atomic, so however many
 * attempts race, at most the limit see a count within it. A refused attempt is given back at once,
 * so the windows hold only the attempts that went ahead. Throws when the store fails or is slow
 * (after giving back what it had counted).
 */
export async function claimWindows(deps: WindowDeps, specs: readonly WindowSpec[]): Promise<WindowClaim> {
  const nowMs = deps.now().getTime();
  const placed = specs.map((spec) => place(spec, nowMs));
  const counted: boolean[] = placed.map(() => false);
  // The key of each counter, fixed now: a give-back later must hit the window that was counted.
  const keys = placed.map((p) => keyOf(p));
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    const taken = keys.filter((_, i) => counted[i]);
    try {
      await withTimeout(Promise.all(taken.map((key) => deps.store.decrement(key))), deps.config.STORE_TIMEOUT_MS);
    } catch (error) {
      deps.logger.warn("rate limit store failed: a counted attempt was not given back", { error: String(error) });
    }
  };
  let counts: number[];
  try {
    counts = await withTimeout(
      Promise.all([
        ...placed.map((p, i) =>
          deps.store.increment(keys[i], Math.ceil((2 * p.windowMs) / 1000)).then((value) => {
            counted[i] = true;
            return value;
          })
        ),
        ...placed.map((p) => deps.store.get(keyOf(p, p.index - 1)).then(Number)),
      ]),
      deps.config.STORE_TIMEOUT_MS,
    );
  } catch (error) {
    await release();
    throw error;
  }
  const decisions = placed.map((p, i) => decide(p, counts[i], counts[placed.length + i]));
  let refused: WindowClaim["refused"];
  decisions.forEach((decision, index) => {
    if (!decision.allowed && (!refused || decision.retryAfterSeconds > refused.decision.retryAfterSeconds)) {
      refused = { index, decision };
    }
  });
  if (refused) await release();
  return { allowed: !refused, decisions, refused, release };
}

/** The outcome of spending one message from a budget. */
export type BudgetVerdict =
  | { allowed: true; release(): Promise<void> }
  | { allowed: false; window: CountedWindow; decision: RateDecision };

async function digest(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(bytes.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Counts one message of `kind` to `recipient` (an email or a phone number) asked for by `caller`
 * (an account id or a client address) in every window of its budget. Recipients are counted under
 * a digest of their address, so the store holds no addresses. Throws when the store fails.
 */
export async function spendMessageBudget(
  deps: WindowDeps,
  kind: MessageKind,
  subjects: { recipient?: string; caller?: string },
): Promise<BudgetVerdict> {
  const recipient = subjects.recipient === undefined ? undefined : await digest(recipientKey(subjects.recipient));
  const windows = budgetWindows(kind, { recipient, caller: subjects.caller });
  const claim = await claimWindows(deps, windows);
  if (claim.refused) return { allowed: false, window: windows[claim.refused.index], decision: claim.refused.decision };
  return { allowed: true, release: claim.release };
}
