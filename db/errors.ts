/** Postgres errors as the driver raises them (drizzle wraps them as `cause`), read by SQLSTATE, never by message. */

interface PgErrorFields {
  code?: string;
  constraint?: string;
}

/** Returns the Postgres error fields of a driver error, if it is one. */
export function pgErrorOf(error: unknown): PgErrorFields | undefined {
  for (let current = error, depth = 0; current && depth < 3; depth++) {
    const fields = current as PgErrorFields & { cause?: unknown };
    if (typeof fields.code === "string" && /^[0-9A-Z]{5}$/.test(fields.code)) return fields;
    current = fields.cause;
  }
  return undefined;
}

/** True when the error is a unique violation (23505), of the named constraint when one is given. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const fields = pgErrorOf(error);
  return fields?.code === "23505" && (constraint === undefined || fields.constraint === constraint);
}

/** True when the error is a check violation (23514) of the named constraint. */
export function isCheckViolation(error: unknown, constraint: string): boolean {
  const fields = pgErrorOf(error);
  return fields?.code === "23514" && fields.constraint === constraint;
}

/** SQLSTATE `store_idempotent_answer` raises when the request no longer holds its Idempotency-Key claim. */
export const CLAIM_LOST = "IK001";

/** True when a batch failed because its Idempotency-Key claim was taken over by a retry. */
export function isClaimLost(error: unknown): boolean {
  return pgErrorOf(error)?.code === CLAIM_LOST;
}

/**
 * SQLSTATEs that say the database cannot serve us now rather than that the statement is wrong:
 * connection exceptions (class 08), the server shutting down or starting (57P01-57P03), no free
 * connection (53300), the configured database missing (3D000, as after a drop), and a deadline
 * that expired: the statement timeout (57014 query_canceled) or the lock timeout (55P03
 * lock_not_available, as while another session holds a table lock). Both roll the batch back.
 */
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300", "3D000", "57014", "55P03"]);

// How the Neon driver reports a failed fetch and a non-400 answer (the local endpoint answers 503
// for a closed or unreachable database, as Neon's proxy does for a compute it cannot reach).
const NEON_UNREACHABLE = /^Error connecting to database:|^Server error \(HTTP status (5\d\d|429)\)/;
// What a pg pool raises when the server cannot be reached at all.
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EPIPE"]);

/**
 * True when the error says the database cannot be reached (down, closed, restarting, dropped), so
 * the request may succeed later: answered 503 with Retry-After rather than 500. Looks through the
 * `cause` chain drizzle wraps driver errors in.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const fields = current as {
      code?: unknown;
      message?: unknown;
      name?: unknown;
      cause?: unknown;
      sourceError?: unknown;
    };
    if (typeof fields.code === "string") {
      if (/^08[0-9A-Z]{3}$/.test(fields.code) || UNAVAILABLE_STATES.has(fields.code)) return true;
      if (SOCKET_CODES.has(fields.code)) return true;
    }
    if (fields.name === "NeonDbError" && typeof fields.message === "string" && NEON_UNREACHABLE.test(fields.message)) {
      return true;
    }
    current = fields.cause ?? fields.sourceError;
  }
  return false;
}
