/**
 * Configuration, parsed once at start-up from the environment. Every variable is optional: with
 * none set the API runs on its embedded defaults. A malformed value stops start-up with a message
 * naming the variable.
 */
import { z } from "zod";

// The Stripe SDK's pause before retry n: 0.5 s doubling, capped at 5 s (jitter stays under it).
const SDK_INITIAL_RETRY_DELAY_MS = 500;
const SDK_MAX_RETRY_DELAY_MS = 5000;

/**
 * The longest one provider call can take with these settings (adapters/payments_stripe.ts): every attempt timing out plus the
 * SDK's pauses between them. It has to stay under the Idempotency-Key lease, or a retry of the
 * client's request could take the claim over while the first still waits for Stripe.
 */
export function paymentCallBudgetMs(timeoutMs: number, maxNetworkRetries: number): number {
  let total = timeoutMs * (maxNetworkRetries + 1);
  for (let retry = 1; retry <= maxNetworkRetries; retry++) {
    total += Math.min(SDK_INITIAL_RETRY_DELAY_MS * 2 ** (retry - 1), SDK_MAX_RETRY_DELAY_MS);
  }
  return total;
}

const optionalUrl = z.url().optional();
const flag = z.enum(["1", "0", "true", "false"]).transform((value) => value === "1" || value === "true");
const csv = z.string().transform((value) => value.split(",").map((item) => item.trim()).filter(Boolean));

const baseSchema = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(8000),
  /** Loopback unless the operator opens it: a fresh `task start` is not reachable from the network. */
  HOST: z.string().min(1).default("127.0.0.1"),
  /**
   * Development mode (`task dev` sets it): the only switch for development conveniences (the dev
   * outbox, dev mail lines), which then answer on loopback only. Never inferred from the database.
   */
  DEV_MODE: flag.default(false),
  /** Postgres or Neon URL; unset: embedded PGlite. */
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\/.+/, "must be a postgres:// or postgresql:// URL").optional(),
  /**
   * Deadlines of the database (PostgreSQL over TCP; Neon over HTTP gets connect plus statement per
   * request): opening a connection or waiting for a pooled one, one statement, and waiting for a
   * lock another session holds. An expired one answers 503 with Retry-After, the batch rolled back.
   */
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3000),
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  DATABASE_LOCK_TIMEOUT_MS: z.coerce.number().int().min(50).max(600_000).default(2000),
  /** Where the embedded database keeps its files. */
  DATA_DIR: z.string().min(1).default(".data/pglite"),
  /** Where the embedded store (Deno KV) keeps its data when no Upstash Redis is configured. */
  KV_PATH: z.string().min(1).default(".data/kv.sqlite3"),
  UPSTASH_REDIS_REST_URL: optionalUrl,
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  /** Comma-separated origins allowed by CORS; empty: no cross-origin access. */
  CORS_ORIGINS: csv.default([]),
  /** Largest request body accepted, in bytes. */
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(100 * 1024),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  /** HS256 secret for access tokens (32+ bytes); unset: a random one per process (dev only: tokens die with it). */
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  /** The secret before the last rotation, still accepted so rotation logs nobody out. */
  JWT_PREVIOUS_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  /** Header that carries the client's address behind the platform's proxy (Deno Deploy: unset, the peer address is the client). Never X-Forwarded-For unless a trusted proxy sets it. */
  TRUSTED_PROXY_IP_HEADER: z.string().regex(/^[A-Za-z0-9-]+$/).optional(),
  /**
   * How many trusted proxies append to that header: the client's address is the one this many
   * entries from the right (what the last trusted hop saw), never the client-set leftmost value.
   */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(1).max(10).default(1),
  RATE_LIMIT_LOGIN_PER_MINUTE: z.coerce.number().int().min(1).default(5),
  RATE_LIMIT_API_PER_MINUTE: z.coerce.number().int().min(1).default(100),
  RATE_LIMIT_REPORTS_PER_MINUTE: z.coerce.number().int().min(1).default(20),
  /** Requests per minute per client address to the public routes outside /api (health, docs, OpenAPI). */
  RATE_LIMIT_PUBLIC_PER_MINUTE: z.coerce.number().int().min(1).default(120),
  /** Refused (badly signed) job callbacks and webhooks per minute per address before it gets 429. */
  RATE_LIMIT_UNSIGNED_PER_MINUTE: z.coerce.number().int().min(1).default(30),
  /** Unpaid holds one client may keep open across all salons at once (each salon also sets its own). */
  CLIENT_MAX_OPEN_HOLDS: z.coerce.number().int().min(1).max(1000).default(3),
  /** Upcoming bookings one client may have across all salons (each salon also sets its own). */
  CLIENT_MAX_FUTURE_BOOKINGS: z.coerce.number().int().min(1).max(10_000).default(20),
  /** How long a request waits for the key-value store before the rate limit fails open or closed. */
  STORE_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(300),
  /**
   * How long each health probe waits for one dependency before reporting it down as `timeout`;
   * with the public rate limit's store wait (STORE_TIMEOUT_MS) in front, /health/ready answers within a second.
   */
  HEALTH_CHECK_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(500),
  /** At start-up, the account with this email becomes an ADMIN (how the first admin is made). */
  ADMIN_BOOTSTRAP_EMAIL: z.string().trim().toLowerCase().pipe(z.email()).optional(),
  JWT_ISSUER: z.string().min(1).default("salon-booking"),
  JWT_AUDIENCE: z.string().min(1).default("salon-booking-api"),
  /** argon2id memory in KiB and iterations; stored hashes with other values are rehashed at login. */
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(1024).max(1048576).default(65536),
  ARGON2_ITERATIONS: z.coerce.number().int().min(1).max(10).default(3),
  /** Where QStash (or the embedded dispatcher) delivers job callbacks: this API's public origin. */
  PUBLIC_BASE_URL: optionalUrl,
  /** Publishing through QStash in production; unset: the embedded dispatcher. */
  QSTASH_TOKEN: z.string().min(1).optional(),
  /** Keys that verify callback signatures (current, then next); unset: random per process. */
  QSTASH_CURRENT_SIGNING_KEY: z.string().min(16).optional(),
  QSTASH_NEXT_SIGNING_KEY: z.string().min(16).optional(),
  /** Email and SMS providers over HTTP (JSON `{to, subject, text}`, Bearer token); unset: the log. */
  MAIL_HTTP_URL: optionalUrl,
  MAIL_HTTP_TOKEN: z.string().min(1).optional(),
  SMS_HTTP_URL: optionalUrl,
  SMS_HTTP_TOKEN: z.string().min(1).optional(),
  /** Stripe in production; unset: the mock provider (deposits work under `deno task dev`). */
  STRIPE_SECRET_KEY: z.string().min(1).optional(),
  /**
   * Where the Stripe SDK sends its API calls (scheme, host and port only); unset: Stripe's own
   * https://api.stripe.com. For a local stand-in of Stripe's API (tests, a staging proxy).
   */
  STRIPE_API_BASE: z.url({ protocol: /^https?$/ }).optional(),
  /** Verifies Stripe's webhook signatures; unset: a random per-process secret the mock signs with. */
  STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** The platform's share of deposits to salons with a connected Stripe account, in basis points. */
  PLATFORM_FEE_BASIS_POINTS: z.coerce.number().int().min(0).max(10_000).default(0),
  /**
   * How long an unanswered Idempotency-Key claim belongs to its request: after it (a crash, or a
   * request that overran) a retry with the same key and body takes the claim over, and the first
   * request's work can no longer commit. Longer than the slowest request should take.
   */
  IDEMPOTENCY_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  /**
   * How long one call to the payment provider may wait for its answer, and how many times the SDK
   * retries a call that failed or timed out: together they bound a deposit or refund call, and
   * that bound must stay under IDEMPOTENCY_LEASE_SECONDS (checked at start-up).
   */
  PAYMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(8000),
  PAYMENT_MAX_NETWORK_RETRIES: z.coerce.number().int().min(0).max(5).default(2),
  /** Embedded dispatcher: how often it looks for due jobs, and attempts before the dead letter. */
  JOBS_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  JOBS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
});

export const configSchema = baseSchema.superRefine((config, ctx) => {
  // A real database means real users: per-process random secrets would end every session and
  // job on restart, and codes would have nowhere to go but a log.
  if (config.DATABASE_URL) {
    for (const name of ["JWT_SECRET", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"] as const) {
      if (!config[name]) {
        ctx.addIssue({ code: "custom", path: [name], message: "is required when DATABASE_URL is set" });
      }
    }
    if (!config.MAIL_HTTP_URL && !config.DEV_MODE) {
      ctx.addIssue({
        code: "custom",
        path: ["MAIL_HTTP_URL"],
        message: "is required when DATABASE_URL is set outside development mode: account messages need a mail provider",
      });
    }
  }
  if (config.QSTASH_TOKEN && !(config.QSTASH_CURRENT_SIGNING_KEY && config.QSTASH_NEXT_SIGNING_KEY)) {
    ctx.addIssue({
      code: "custom",
      path: ["QSTASH_CURRENT_SIGNING_KEY"],
      message: "QStash needs both QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY to verify its callbacks",
    });
  }
  for (const channel of ["MAIL", "SMS"] as const) {
    if (Boolean(config[`${channel}_HTTP_URL`]) !== Boolean(config[`${channel}_HTTP_TOKEN`])) {
      ctx.addIssue({
        code: "custom",
        path: [config[`${channel}_HTTP_URL`] ? `${channel}_HTTP_TOKEN` : `${channel}_HTTP_URL`],
        message: `must be set together with the other ${channel}_HTTP_* variable`,
      });
    }
  }
  if (config.DATABASE_LOCK_TIMEOUT_MS >= config.DATABASE_STATEMENT_TIMEOUT_MS) {
    // Otherwise a lock wait ends as a statement timeout, and the two causes can no longer be told apart.
    ctx.addIssue({
      code: "custom",
      path: ["DATABASE_LOCK_TIMEOUT_MS"],
      message: "must be shorter than DATABASE_STATEMENT_TIMEOUT_MS",
    });
  }
  // Only Stripe is called over the network; the mock answers in-process.
  const paymentBudget = paymentCallBudgetMs(config.PAYMENT_TIMEOUT_MS, config.PAYMENT_MAX_NETWORK_RETRIES);
  if (config.STRIPE_SECRET_KEY && paymentBudget >= config.IDEMPOTENCY_LEASE_SECONDS * 1000) {
    ctx.addIssue({
      code: "custom",
      path: ["PAYMENT_TIMEOUT_MS"],
      message: `with PAYMENT_MAX_NETWORK_RETRIES a payment call can take ${paymentBudget} ms, ` +
        `not under IDEMPOTENCY_LEASE_SECONDS (${config.IDEMPOTENCY_LEASE_SECONDS} s)`,
    });
  }
  if (config.STRIPE_SECRET_KEY && !config.STRIPE_WEBHOOK_SECRET) {
    ctx.addIssue({
      code: "custom",
      path: ["STRIPE_WEBHOOK_SECRET"],
      message: "Stripe needs its webhook signing secret",
    });
  }
  if (config.QSTASH_TOKEN && !config.PUBLIC_BASE_URL) {
    ctx.addIssue({
      code: "custom",
      path: ["PUBLIC_BASE_URL"],
      message: "QStash needs the URL it delivers callbacks to",
    });
  }
  if (Boolean(config.UPSTASH_REDIS_REST_URL) !== Boolean(config.UPSTASH_REDIS_REST_TOKEN)) {
    ctx.addIssue({
      code: "custom",
      path: [config.UPSTASH_REDIS_REST_URL ? "UPSTASH_REDIS_REST_TOKEN" : "UPSTASH_REDIS_REST_URL"],
      message: "must be set together with the other UPSTASH_REDIS_REST_* variable",
    });
  }
});

export type Config = z.infer<typeof configSchema>;

/** The database deadlines a configuration names, as `openDatabase` takes them. */
export function databaseDeadlines(config: Config): { connectMs: number; statementMs: number; lockMs: number } {
  return {
    connectMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    statementMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    lockMs: config.DATABASE_LOCK_TIMEOUT_MS,
  };
}

const toolSchema = baseSchema;

/** Raised when the environment holds a malformed value; the message names each variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses configuration from environment variables (empty strings count as unset). Command-line
 * tools that serve nothing (seed, migrate) pass `{ server: false }`: the server's secrets are not theirs.
 */
export function loadConfig(env: Record<string, string | undefined>, options: { server?: boolean } = {}): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const result = (options.server === false ? toolSchema : configSchema).safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  }
  return result.data;
}
