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
