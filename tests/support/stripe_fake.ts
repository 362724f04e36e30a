/**
 * A local stand-in for the parts of Stripe's REST API the payment adapter uses, faithful enough that
 * the real `stripe` SDK runs against it unchanged: form-encoded bodies with bracketed keys, Bearer
 * auth, Stripe-shaped objects, lists and errors, Idempotency-Key replay, refund bounds, 429s with
 * `Stripe-Should-Retry`, and a test hook to settle PaymentIntents the way a client confirmation would.
 */

export interface StripeFakeRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  /** The decoded form body (POST) or query (GET), nested as Stripe reads it. */
  params: Record<string, unknown>;
  status: number;
  replayed: boolean;
}

export type StripeFakeOutcome = "succeeded" | "processing" | "requires_payment_method" | "canceled";

export interface StripeFake {
  port: number;
  url: string;
  /** A key the fake accepts; any `sk_test_…` or `rk_test_…` key works. */
  secretKey: string;
  requests: StripeFakeRequest[];
  /** Answers the next `count` requests with 429 `rate_limit`; `shouldRetry` sets `Stripe-Should-Retry`. */
  failNextWith429(count: number, options?: { shouldRetry?: boolean }): void;
  /** Moves a PaymentIntent as a client-side confirmation would; a failure records a card decline. */
  setOutcome(paymentIntentId: string, status: StripeFakeOutcome, options?: { declineCode?: string }): void;
  /** Shifts the clock used for `created`, to test time-bounded lists. */
  advanceClock(seconds: number): void;
  close(): Promise<void>;
}

interface StripeErrorBody {
  type: "invalid_request_error" | "idempotency_error" | "card_error" | "api_error";
  message: string;
  code?: string;
  param?: string;
  decline_code?: string;
}

class StripeHttpError extends Error {
  constructor(readonly status: number, readonly body: StripeErrorBody, readonly headers: Record<string, string> = {}) {
    super(body.message);
  }
}

interface PaymentIntentRecord {
  id: string;
  object: "payment_intent";
  amount: number;
  amount_capturable: number;
  amount_received: number;
  application_fee_amount: number | null;
  automatic_payment_methods: { enabled: boolean; allow_redirects: "always" } | null;
  canceled_at: number | null;
  capture_method: "automatic";
  client_secret: string;
  confirmation_method: "automatic";
  created: number;
  currency: string;
  customer: null;
  description: string | null;
  last_payment_error: Record<string, unknown> | null;
  latest_charge: string | null;
  livemode: false;
  metadata: Record<string, string>;
  on_behalf_of: null;
  payment_method: null;
  payment_method_types: string[];
  status: string;
  transfer_data: { destination: string } | null;
  transfer_group: string | null;
}

interface RefundRecord {
  id: string;
  object: "refund";
  amount: number;
  balance_transaction: string;
  charge: string;
  created: number;
  currency: string;
  metadata: Record<string, string>;
  payment_intent: string;
  reason: string | null;
  receipt_number: null;
  source_transfer_reversal: null;
  status: "succeeded";
  transfer_reversal: null;
}

interface IdempotentResult {
  method: string;
  path: string;
  fingerprint: string;
  status: number;
  body: unknown;
  requestId: string;
}

const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const REFUND_REASONS = ["duplicate", "fraudulent", "requested_by_customer"];

function randomToken(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join("");
}

function newId(prefix: string): string {
  return `${prefix}_${randomToken(24)}`;
}

/** Decodes `a[b][c]=v` pairs into nested objects, as Stripe's form parser does. */
export function parseStripeForm(pairs: URLSearchParams): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of pairs) {
    const match = key.match(/^([^[\]]+)((?:\[[^[\]]*\])*)$/);
    if (!match) throw invalidRequest(`Invalid parameter name: ${key}`, "parameter_unknown", key);
    const path = [match[1], ...Array.from(match[2].matchAll(/\[([^[\]]*)\]/g), (m) => m[1])];
    let node = root;
    for (const segment of path.slice(0, -1)) {
      const next = node[segment];
      if (typeof next === "string") throw invalidRequest(`Invalid hash: ${segment}`, "parameter_invalid_string", key);
      node = (next as Record<string, unknown> | undefined) ?? (node[segment] = {});
    }
    node[path.at(-1)!] = value;
  }
  return root;
}

function invalidRequest(message: string, code?: string, param?: string, status = 400): StripeHttpError {
  return new StripeHttpError(status, { type: "invalid_request_error", message, code, param });
}

function positiveInteger(value: unknown, param: string): number {
  if (typeof value !== "string" || !/^-?\d+$/.test(value)) {
    throw invalidRequest(`Invalid integer: ${String(value)}`, "parameter_invalid_integer", param);
  }
  const parsed = Number(value);
  if (parsed <= 0) {
    throw invalidRequest("This value must be greater than or equal to 1.", "parameter_invalid_integer", param);
  }
  return parsed;
}

function stringMap(value: unknown, param: string): Record<string, string> {
  if (value === undefined || value === "") return {};
  if (typeof value !== "object" || value === null) {
    throw invalidRequest(`Invalid hash`, "parameter_invalid_string", param);
  }
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== "")) as Record<string, string>;
}

function requireString(params: Record<string, unknown>, param: string): string {
  const value = params[param];
  if (typeof value !== "string" || value === "") {
    throw invalidRequest(`Missing required param: ${param}.`, "parameter_missing", param);
  }
  return value;
}

/** Stripe's `created` filter: an exact second or any of gt/gte/lt/lte. */
function createdFilter(value: unknown): (created: number) => boolean {
  if (value === undefined) return () => true;
  if (typeof value === "string") {
    const exact = Number(value);
    return (created) => created === exact;
  }
  const bounds = value as Record<string, string>;
  const number = (key: string) => bounds[key] === undefined ? undefined : Number(bounds[key]);
  const [gt, gte, lt, lte] = [number("gt"), number("gte"), number("lt"), number("lte")];
  return (created) =>
    (gt === undefined || created > gt) && (gte === undefined || created >= gte) &&
    (lt === undefined || created < lt) && (lte === undefined || created <= lte);
}

/** A Stripe list page, newest first, cut by `limit` and `starting_after`/`ending_before`. */
function listPage<T extends { id: string }>(
  all: T[],
  params: Record<string, unknown>,
  url: string,
  objectName: string,
): { object: "list"; data: T[]; has_more: boolean; url: string } {
  const limit = params.limit === undefined ? 10 : positiveInteger(params.limit, "limit");
  if (limit > 100) {
    throw invalidRequest("This value must be less than or equal to 100.", "parameter_invalid_integer", "limit");
  }
  let items = all;
  const startingAfter = params.starting_after as string | undefined;
  const endingBefore = params.ending_before as string | undefined;
  for (const [cursor, param] of [[startingAfter, "starting_after"], [endingBefore, "ending_before"]] as const) {
    if (cursor !== undefined && !items.some((item) => item.id === cursor)) {
      throw invalidRequest(`No such ${objectName}: '${cursor}'`, "resource_missing", param);
    }
  }
  if (startingAfter !== undefined) {
    items = items.slice(items.findIndex((item) => item.id === startingAfter) + 1);
    return { object: "list", data: items.slice(0, limit), has_more: items.length > limit, url };
  }
  if (endingBefore !== undefined) {
    items = items.slice(0, items.findIndex((item) => item.id === endingBefore));
    return { object: "list", data: items.slice(-limit), has_more: items.length > limit, url };
  }
  return { object: "list", data: items.slice(0, limit), has_more: items.length > limit, url };
}

/** Serves the fake on a free loopback port. */
export function startStripeFake(): Promise<StripeFake> {
  const paymentIntents = new Map<string, PaymentIntentRecord>();
  const refunds = new Map<string, RefundRecord>();
  const refundedByIntent = new Map<string, number>();
  const idempotentResults = new Map<string, IdempotentResult>();
  const requests: StripeFakeRequest[] = [];
  let pending429 = 0;
  let pending429ShouldRetry = true;
  let clockOffsetSeconds = 0;

  const now = () => Math.floor(Date.now() / 1000) + clockOffsetSeconds;
  // Insertion order breaks ties within one second, so "newest first" stays stable.
  const newestFirst = <T>(map: Map<string, T>) => [...map.values()].reverse();

  const findIntent = (id: string, param?: string): PaymentIntentRecord => {
    const intent = paymentIntents.get(id);
    if (!intent) {
      throw invalidRequest(`No such payment_intent: '${id}'`, "resource_missing", param ?? "intent", param ? 400 : 404);
    }
    return intent;
  };

  const declineIntent = (intent: PaymentIntentRecord, declineCode: string) => {
    const charge = newId("ch");
    intent.status = "requires_payment_method";
    intent.latest_charge = charge;
    intent.last_payment_error = {
      type: "card_error",
      code: "card_declined",
      decline_code: declineCode,
      charge,
      message: "Your card was declined.",
      doc_url: "https://stripe.com/docs/error-codes/card-declined",
    };
  };

  const createPaymentIntent = (params: Record<string, unknown>): PaymentIntentRecord => {
    const amount = positiveInteger(params.amount, "amount");
    const currency = requireString(params, "currency").toLowerCase();
    if (!/^[a-z]{3}$/.test(currency)) throw invalidRequest(`Invalid currency: ${currency}.`, undefined, "currency");
    const metadata = stringMap(params.metadata, "metadata");
    const transferData = params.transfer_data as Record<string, string> | undefined;
    const destination = transferData?.destination;
    if (transferData && !destination) {
      throw invalidRequest(
        "Missing required param: transfer_data[destination].",
        "parameter_missing",
        "transfer_data[destination]",
      );
    }
    if (destination !== undefined && !destination.startsWith("acct_")) {
      throw invalidRequest(`No such destination: '${destination}'`, "resource_missing", "transfer_data[destination]");
    }
    let applicationFee: number | null = null;
    if (params.application_fee_amount !== undefined) {
      if (!destination) {
        throw invalidRequest(
          "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct payment " +
            "(using an OAuth key or Stripe-Account header) or destination payment (using `transfer_data[destination]`).",
          undefined,
          "application_fee_amount",
        );
      }
      applicationFee = Number(params.application_fee_amount);
      if (!Number.isInteger(applicationFee) || applicationFee < 0) {
        throw invalidRequest(
          `Invalid integer: ${params.application_fee_amount}`,
          "parameter_invalid_integer",
          "application_fee_amount",
        );
      }
    }
    const automatic = params.automatic_payment_methods as Record<string, string> | undefined;
    const id = newId("pi");
    const intent: PaymentIntentRecord = {
      id,
      object: "payment_intent",
      amount,
      amount_capturable: 0,
      amount_received: 0,
      application_fee_amount: applicationFee,
      automatic_payment_methods: automatic?.enabled === "true" ? { enabled: true, allow_redirects: "always" } : null,
      canceled_at: null,
      capture_method: "automatic",
      client_secret: `${id}_secret_${randomToken(25)}`,
      confirmation_method: "automatic",
      created: now(),
      currency,
      customer: null,
      description: (params.description as string | undefined) ?? null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      metadata,
      on_behalf_of: null,
      payment_method: null,
      payment_method_types: ["card"],
      status: "requires_payment_method",
      transfer_data: destination ? { destination } : null,
      transfer_group: null,
    };
    if (metadata.test_decline) {
      declineIntent(intent, metadata.test_decline === "card_declined" ? "generic_decline" : metadata.test_decline);
    }
    paymentIntents.set(id, intent);
    return intent;
  };

  const createRefund = (params: Record<string, unknown>): RefundRecord => {
    const intent = findIntent(requireString(params, "payment_intent"), "payment_intent");
    if (intent.status !== "succeeded" || !intent.latest_charge) {
      throw invalidRequest(
        `This PaymentIntent (${intent.id}) does not have a successful charge to refund.`,
        "payment_intent_unexpected_state",
        "payment_intent",
      );
    }
    const refunded = refundedByIntent.get(intent.id) ?? 0;
    const remaining = intent.amount - refunded;
    if (params.amount === undefined && remaining === 0) {
      throw invalidRequest(`Charge ${intent.latest_charge} has already been refunded.`, "charge_already_refunded");
    }
    const amount = params.amount === undefined ? remaining : positiveInteger(params.amount, "amount");
    if (amount > remaining) {
      throw invalidRequest(
        `Refund amount (${amount} ${intent.currency}) is greater than unrefunded amount on charge ` +
          `(${remaining} ${intent.currency})`,
        "amount_too_large",
        "amount",
      );
    }
    const reason = params.reason as string | undefined;
    if (reason !== undefined && reason !== "" && !REFUND_REASONS.includes(reason)) {
      throw invalidRequest(
        "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
        undefined,
        "reason",
      );
    }
    const refund: RefundRecord = {
      id: newId("re"),
      object: "refund",
      amount,
      balance_transaction: newId("txn"),
      charge: intent.latest_charge,
      created: now(),
      currency: intent.currency,
      metadata: stringMap(params.metadata, "metadata"),
      payment_intent: intent.id,
      reason: reason || null,
      receipt_number: null,
      source_transfer_reversal: null,
      status: "succeeded",
      transfer_reversal: null,
    };
    refunds.set(refund.id, refund);
    refundedByIntent.set(intent.id, refunded + amount);
    return refund;
  };

  const route = (method: string, path: string, params: Record<string, unknown>): unknown => {
    if (method === "POST" && path === "/v1/payment_intents") return createPaymentIntent(params);
    if (method === "GET" && path === "/v1/payment_intents") {
      const inRange = createdFilter(params.created);
      return listPage(newestFirst(paymentIntents).filter((pi) => inRange(pi.created)), params, path, "payment_intent");
    }
    const intentMatch = path.match(/^\/v1\/payment_intents\/([^/]+)$/);
    if (method === "GET" && intentMatch) return findIntent(decodeURIComponent(intentMatch[1]));
    if (method === "POST" && path === "/v1/refunds") return createRefund(params);
    if (method === "GET" && path === "/v1/refunds") {
      const inRange = createdFilter(params.created);
      const forIntent = params.payment_intent as string | undefined;
      const matching = newestFirst(refunds).filter((re) =>
        inRange(re.created) && (forIntent === undefined || re.payment_intent === forIntent)
      );
      return listPage(matching, params, path, "refund");
    }
    const refundMatch = path.match(/^\/v1\/refunds\/([^/]+)$/);
    if (method === "GET" && refundMatch) {
      const refund = refunds.get(decodeURIComponent(refundMatch[1]));
      if (!refund) throw invalidRequest(`No such refund: '${refundMatch[1]}'`, "resource_missing", "id", 404);
      return refund;
    }
    throw invalidRequest(
      `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
      undefined,
      undefined,
      404,
    );
  };

  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const method = request.method;
    const idempotencyKey = request.headers.get("idempotency-key");
    const requestId = `req_${randomToken(14)}`;
    const record: StripeFakeRequest = {
      method,
      path: url.pathname,
      idempotencyKey,
      params: {},
      status: 0,
      replayed: false,
    };
    requests.push(record);
    const headers: Record<string, string> = { "request-id": requestId };
    const apiVersion = request.headers.get("stripe-version");
    if (apiVersion) headers["stripe-version"] = apiVersion;
    const reply = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      record.status = status;
      return Response.json(body, { status, headers: { ...headers, ...extra } });
    };
    try {
      const rawBody = method === "POST" ? await request.text() : url.search.slice(1);
      const authorization = request.headers.get("authorization");
      if (!authorization?.startsWith("Bearer ")) {
        throw invalidRequest(
          "You did not provide an API key. You need to provide your API key in the Authorization header, " +
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
          undefined,
          undefined,
          401,
        );
      }
      const key = authorization.slice("Bearer ".length);
      if (!/^(sk|rk)_test_\w+$/.test(key)) {
        throw invalidRequest(`Invalid API Key provided: ${key.slice(0, 8)}${"*".repeat(8)}`, undefined, undefined, 401);
      }

      const pairs = new URLSearchParams(rawBody);
      record.params = parseStripeForm(pairs);

      if (pending429 > 0) {
        pending429--;
        throw new StripeHttpError(429, {
          type: "invalid_request_error",
          code: "rate_limit",
          message:
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
        }, { "stripe-should-retry": String(pending429ShouldRetry) });
      }

      // Stripe ignores idempotency keys on GET and DELETE.
      const idempotent = method === "POST" && idempotencyKey !== null;
      const fingerprint = JSON.stringify([...pairs].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
      if (idempotent) {
        const saved = idempotentResults.get(idempotencyKey);
        if (saved) {
          if (saved.method !== method || saved.path !== url.pathname) {
            throw new StripeHttpError(400, {
              type: "idempotency_error",
              message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ` +
                `('${saved.method} ${saved.path}' vs '${method} ${url.pathname}'). Try using a key other than ` +
                `'${idempotencyKey}' if you meant to execute a different request.`,
            });
          }
          if (saved.fingerprint !== fingerprint) {
            throw new StripeHttpError(400, {
              type: "idempotency_error",
              message: `Keys for idempotent requests can only be used with the same parameters they were first used ` +
                `with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
            });
          }
          record.replayed = true;
          return reply(saved.status, saved.body, {
            "idempotent-replayed": "true",
            "original-request": saved.requestId,
            "idempotency-key": idempotencyKey,
          });
        }
      }

      const body = route(method, url.pathname, record.params);
      // Only requests that ran are saved: validation failures and 429s may be retried with the same key.
      if (idempotent) {
        idempotentResults.set(idempotencyKey, {
          method,
          path: url.pathname,
          fingerprint,
          status: 200,
          body: structuredClone(body),
          requestId,
        });
      }
      return reply(200, body, idempotent ? { "idempotency-key": idempotencyKey } : {});
    } catch (error) {
      if (error instanceof StripeHttpError) {
        const { status, body, headers: extra } = error;
        const shaped = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
        if (body.code) shaped.doc_url = `https://stripe.com/docs/error-codes/${body.code.replaceAll("_", "-")}`;
        return reply(status, { error: { ...shaped, request_log_url: null } }, extra);
      }
      return reply(500, { error: { type: "api_error", message: String(error) } }, { "stripe-should-retry": "false" });
    }
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);
  const { port } = server.addr as Deno.NetAddr;

  return Promise.resolve({
    port,
    url: `http://127.0.0.1:${port}`,
    secretKey: "sk_test_stripe_fake",
    requests,
    failNextWith429(count, options) {
      pending429 = count;
      pending429ShouldRetry = options?.shouldRetry ?? true;
    },
    setOutcome(paymentIntentId, status, options) {
      const intent = paymentIntents.get(paymentIntentId);
      if (!intent) throw new Error(`Unknown PaymentIntent ${paymentIntentId}`);
      switch (status) {
        case "succeeded":
          intent.status = "succeeded";
          intent.amount_received = intent.amount;
          intent.latest_charge = newId("ch");
          intent.last_payment_error = null;
          break;
        case "processing":
          intent.status = "processing";
          intent.latest_charge = newId("ch");
          intent.last_payment_error = null;
          break;
        case "requires_payment_method":
          declineIntent(intent, options?.declineCode ?? "generic_decline");
          break;
        case "canceled":
          intent.status = "canceled";
          intent.canceled_at = now();
          break;
      }
    },
    advanceClock(seconds) {
      clockOffsetSeconds += seconds;
    },
    close: () => server.shutdown(),
  });
}
