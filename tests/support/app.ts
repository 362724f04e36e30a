/** Builds the real app on a fresh in-memory embedded database, as `main.ts` does. */
import { databaseDeadlines, loadConfig } from "../../adapters/config.ts";
import { createLogger, type LogLevel } from "../../adapters/logger.ts";
import { DevMailbox, LogSender } from "../../adapters/messaging.ts";
import { MockPaymentProvider, stripeSignature } from "../../adapters/payments_mock.ts";
import type { PaymentProvider } from "../../adapters/payments.ts";
import { PasswordHasher } from "../../adapters/passwords.ts";
import { type KeyValueStore, MemoryStore } from "../../adapters/store.ts";
import { TokenIssuer } from "../../adapters/tokens.ts";
import { openDatabase } from "../../db/client.ts";
import { migrate } from "../../db/migrate.ts";
import { EmbeddedDispatcher } from "../../jobs/dispatcher.ts";
import { type AppDeps, createApp } from "../../routes/app.ts";

/** The webhook secret the mock provider signs its events with in tests. */
export const TEST_STRIPE_WEBHOOK_SECRET = "whsec_test_0123456789abcdef";

/** Fixed signing keys: tests sign callbacks as QStash would with these. */
export const TEST_SIGNING_KEYS = {
  current: "sig_test_current_0123456789abcdef",
  next: "sig_test_next_0123456789abcdef",
};

export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  /** The embedded dispatcher, not polling: call `runDue()` to deliver due jobs through the app. */
  dispatcher: EmbeddedDispatcher;
  logLines: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Returns the app over its own database; `env` overrides configuration variables. */
export async function makeTestApp(
  env: Record<string, string> = {},
  options: { url?: string; store?: KeyValueStore; now?: () => Date; payments?: PaymentProvider } = {},
): Promise<TestApp> {
  // TEST_LOG_ECHO=1 prints every log line of the app while a test runs, for debugging.
  const echo = Deno.env.get("TEST_LOG_ECHO") === "1";
  // In-process requests have no peer address and share one bucket: limits are off unless a test sets them.
  const config = loadConfig({
    LOG_LEVEL: "info",
    RATE_LIMIT_API_PER_MINUTE: "100000",
    RATE_LIMIT_PUBLIC_PER_MINUTE: "100000",
    // Race tests fire 50 requests at once over a pool of 10 on a 2-core machine, on a cold process in
    // CI: waiting for a pooled connection or for the winner's lock is queueing there, not an outage.
    // Deadline tests set their own.
    DATABASE_CONNECT_TIMEOUT_MS: "30000",
    DATABASE_STATEMENT_TIMEOUT_MS: "30000",
    DATABASE_LOCK_TIMEOUT_MS: "20000",
    ...env,
    ...(echo ? { LOG_LEVEL: "debug" } : {}),
  });
  const database = await openDatabase({ url: options.url, deadlines: databaseDeadlines(config) });
  await migrate(database.sql);
  const logLines: Record<string, unknown>[] = [];
  const logger = createLogger(config.LOG_LEVEL as LogLevel, (line) => {
    if (echo) console.error(line);
    logLines.push(JSON.parse(line));
  });
  // The dispatcher delivers through the app, which is built after it.
  const late: { app?: ReturnType<typeof createApp> } = {};
  const now = options.now ?? (() => new Date());
  const dispatcher = new EmbeddedDispatcher({
    db: database.db,
    baseUrl: "http://localhost",
    keys: TEST_SIGNING_KEYS,
    now,
    deliver: async (request) => await late.app!.fetch(request),
    maxAttempts: config.JOBS_MAX_ATTEMPTS,
    backoffScale: 0,
  });
  const payments = options.payments ?? new MockPaymentProvider({
    db: database.db,
    emit: async (event) => {
      const payload = JSON.stringify(event);
      const signature = await stripeSignature(payload, TEST_STRIPE_WEBHOOK_SECRET, Math.floor(Date.now() / 1000));
      const res = await late.app!.request("/webhooks/stripe", {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": signature },
        body: payload,
      });
      await res.body?.cancel();
    },
  });
  const devMailbox = config.DEV_MODE ? new DevMailbox() : undefined;
  const deps: AppDeps = {
    config,
    payments,
    stripeWebhookSecret: TEST_STRIPE_WEBHOOK_SECRET,
    jobs: dispatcher,
    signingKeys: TEST_SIGNING_KEYS,
    messages: { email: new LogSender("EMAIL", logger, devMailbox), sms: new LogSender("SMS", logger, devMailbox) },
    devMailbox,
    database,
    store: options.store ?? new MemoryStore(),
    logger,
    // Small argon2 parameters keep the suite fast; production parameters are the config defaults.
    passwords: new PasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
    tokens: new TokenIssuer({
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      keys: [{ kid: "current", secret: "test-secret-0123456789abcdef0123456789" }],
    }),
    now,
  };
  const app = createApp(deps);
  late.app = app;
  return { app, deps, dispatcher, logLines, close: () => database.close() };
}
