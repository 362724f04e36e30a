/**
 * Composition root: read configuration, build the adapters the environment names (embedded
 * defaults where it names none), build the app and serve it.
 */
import { ConfigError, databaseDeadlines, loadConfig } from "./adapters/config.ts";
import { createLogger } from "./adapters/logger.ts";
import { DevMailbox, HttpSender, LogSender } from "./adapters/messaging.ts";
import { MockPaymentProvider, stripeSignature } from "./adapters/payments_mock.ts";
import { StripeProvider } from "./adapters/payments_stripe.ts";
import { PasswordHasher } from "./adapters/passwords.ts";
import { KvStore, UpstashStore } from "./adapters/store.ts";
import { newOpaqueToken, TokenIssuer } from "./adapters/tokens.ts";
import { openDatabase } from "./db/client.ts";
import { bootstrapAdmin } from "./db/auth.ts";
import { migrate } from "./db/migrate.ts";
import { EmbeddedDispatcher, QStashPublisher } from "./jobs/dispatcher.ts";
import { createApp } from "./routes/app.ts";

let config;
try {
  config = loadConfig(Deno.env.toObject());
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  Deno.exit(1);
}

const logger = createLogger(config.LOG_LEVEL);
if (!config.DATABASE_URL) await Deno.mkdir(config.DATA_DIR, { recursive: true });
const database = await openDatabase({
  url: config.DATABASE_URL,
  dataDir: config.DATA_DIR,
  deadlines: databaseDeadlines(config),
});
const applied = await migrate(database.sql);
if (applied.length > 0) logger.info("migrations applied", { migrations: applied });
if (config.ADMIN_BOOTSTRAP_EMAIL) {
  const outcome = await bootstrapAdmin(database.db, config.ADMIN_BOOTSTRAP_EMAIL, new Date());
  const said = {
    promoted: "ADMIN_BOOTSTRAP_EMAIL: the account is now an admin (audited); it will not be promoted again",
    no_account: "ADMIN_BOOTSTRAP_EMAIL: no account with this email yet: register it, verify the email, restart",
    unverified: "ADMIN_BOOTSTRAP_EMAIL: the account's email is not verified: verify it, then restart",
    already_granted: "ADMIN_BOOTSTRAP_EMAIL: this email was promoted before; it is not promoted again",
    already_admin: "ADMIN_BOOTSTRAP_EMAIL: the account is already an admin",
  }[outcome];
  (outcome === "promoted" || outcome === "already_admin" ? logger.info : logger.warn)(said);
}

const store = config.UPSTASH_REDIS_REST_URL && config.UPSTASH_REDIS_REST_TOKEN
  ? new UpstashStore({ url: config.UPSTASH_REDIS_REST_URL, token: config.UPSTASH_REDIS_REST_TOKEN })
  : await KvStore.open(config.KV_PATH);

if (!config.JWT_SECRET) {
  logger.warn("JWT_SECRET is unset: using a random secret, so sessions end when the process stops");
}
const tokens = new TokenIssuer({
  issuer: config.JWT_ISSUER,
  audience: config.JWT_AUDIENCE,
  keys: [
    { kid: "current", secret: config.JWT_SECRET ?? newOpaqueToken() },
    ...(config.JWT_PREVIOUS_SECRET ? [{ kid: "previous", secret: config.JWT_PREVIOUS_SECRET }] : []),
  ],
});
const passwords = new PasswordHasher({
  memoryCost: config.ARGON2_MEMORY_KIB,
  timeCost: config.ARGON2_ITERATIONS,
  parallelism: 1,
});

if (!config.QSTASH_CURRENT_SIGNING_KEY) {
  logger.info("QStash signing keys unset: the embedded dispatcher signs with random keys for this process");
}
const signingKeys = {
  current: config.QSTASH_CURRENT_SIGNING_KEY ?? newOpaqueToken(),
  next: config.QSTASH_NEXT_SIGNING_KEY ?? newOpaqueToken(),
};
const baseUrl = (config.PUBLIC_BASE_URL ?? `http://127.0.0.1:${config.PORT}`).replace(/\/$/, "");
const dispatcher = config.QSTASH_TOKEN
  ? new QStashPublisher({ token: config.QSTASH_TOKEN, baseUrl })
  : new EmbeddedDispatcher({
    db: database.db,
    baseUrl,
    keys: signingKeys,
    now: () => new Date(),
    // Over HTTP to this same server, as QStash would deliver.
    deliver: (request) => fetch(request),
    maxAttempts: config.JOBS_MAX_ATTEMPTS,
    onError: (message, fields) => logger.error(message, fields),
  });

if (!config.STRIPE_WEBHOOK_SECRET) {
  logger.info("STRIPE_WEBHOOK_SECRET unset: the mock provider signs its webhooks with a random secret");
}
const stripeWebhookSecret = config.STRIPE_WEBHOOK_SECRET ?? `whsec_${newOpaqueToken()}`;
// Stripe when configured; otherwise the mock, which delivers its events to this server's webhook
// route signed as Stripe signs them.
const stripeBase = config.STRIPE_API_BASE ? new URL(config.STRIPE_API_BASE) : undefined;
const payments = config.STRIPE_SECRET_KEY
  ? new StripeProvider({
    secretKey: config.STRIPE_SECRET_KEY,
    timeoutMs: config.PAYMENT_TIMEOUT_MS,
    maxNetworkRetries: config.PAYMENT_MAX_NETWORK_RETRIES,
    ...(stripeBase
      ? {
        host: stripeBase.hostname,
        protocol: stripeBase.protocol === "http:" ? "http" as const : "https" as const,
        ...(stripeBase.port ? { port: Number(stripeBase.port) } : {}),
      }
      : {}),
  })
  : new MockPaymentProvider({
    db: database.db,
    emit: async (event) => {
      const payload = JSON.stringify(event);
      const res = await fetch(`${baseUrl}/webhooks/stripe`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "stripe-signature": await stripeSignature(payload, stripeWebhookSecret, Math.floor(Date.now() / 1000)),
        },
        body: payload,
      });
      await res.body?.cancel();
    },
  });

// Development mode keeps unsent messages in memory for `GET /dev/outbox`; otherwise nothing does.
const devMailbox = config.DEV_MODE ? new DevMailbox() : undefined;
if (config.DEV_MODE) {
  logger.warn("development mode: GET /dev/outbox shows unsent messages to their recipient, from this machine only");
}

const app = createApp({
  config,
  database,
  store,
  logger,
  passwords,
  tokens,
  jobs: dispatcher,
  signingKeys,
  payments,
  stripeWebhookSecret,
  // Without a provider, a line per message goes to the log (never its text); in development mode
  // the message itself waits at `GET /dev/outbox`.
  messages: {
    email: config.MAIL_HTTP_URL && config.MAIL_HTTP_TOKEN
      ? new HttpSender({ url: config.MAIL_HTTP_URL, token: config.MAIL_HTTP_TOKEN })
      : new LogSender("EMAIL", logger, devMailbox),
    sms: config.SMS_HTTP_URL && config.SMS_HTTP_TOKEN
      ? new HttpSender({ url: config.SMS_HTTP_URL, token: config.SMS_HTTP_TOKEN })
      : new LogSender("SMS", logger, devMailbox),
  },
  devMailbox,
  now: () => new Date(),
});

const server = Deno.serve({
  hostname: config.HOST,
  port: config.PORT,
  onListen: ({ hostname, port }) => {
    const shown = hostname === "0.0.0.0" ? "localhost" : hostname;
    logger.info(`listening on http://${shown}:${port}`, {
      adapters: {
        database: `${database.kind} (${database.location})`,
        redis: store.kind,
        jobs: dispatcher.kind,
        payments: payments.kind,
      },
    });
  },
}, app.fetch);
if (dispatcher instanceof EmbeddedDispatcher) dispatcher.start(config.JOBS_POLL_MS);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    if (dispatcher instanceof EmbeddedDispatcher) await dispatcher.stop();
    await server.shutdown();
    await database.close();
    Deno.exit(0);
  });
}
