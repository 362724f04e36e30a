/**
 * Email and SMS senders. Production uses an HTTP provider per channel; the embedded default writes
 * a line per message to the log (recipient and subject, never the text: it may carry a single-use
 * code) and, in development mode, keeps the message in a `DevMailbox` that `GET /dev/outbox`
 * shows to its recipient or an admin. A sender throws `PermanentSendError` for a message that can
 * never be delivered (no retry), anything else for a failure worth retrying.
 */
import type { Logger } from "./logger.ts";

export interface OutgoingMessage {
  to: string;
  subject: string | null;
  body: string;
  /**
   * The same on every attempt at one message, for providers that drop a repeated request: a send
   * whose answer was lost (a timeout, a crash) and is tried again then goes out once.
   */
  idempotencyKey?: string;
}

/** How long an HTTP provider call may take before it is abandoned. */
export const SEND_TIMEOUT_MS = 10_000;

export interface MessageSender {
  readonly kind: string;
  /**
   * The longest a `send` can take (the provider call's deadline): past it, an attempt whose
   * outcome was never recorded is over, and may or may not have delivered. Unset: SEND_TIMEOUT_MS.
   */
  readonly deadlineMs?: number;
  send(message: OutgoingMessage): Promise<void>;
}

/** A message that no retry will deliver (a malformed address, a rejected number). */
export class PermanentSendError extends Error {
  override name = "PermanentSendError";
}

export interface CaughtMessage extends OutgoingMessage {
  channel: "EMAIL" | "SMS";
  at: Date;
}

/**
 * The latest messages the log senders did not send, in process memory only (development mode):
 * the one place a developer reads a code without a mail provider. Never in the database or a log.
 */
export class DevMailbox {
  readonly #messages: CaughtMessage[] = [];
  constructor(readonly capacity = 200) {}

  add(message: CaughtMessage): void {
    this.#messages.unshift(message);
    this.#messages.length = Math.min(this.#messages.length, this.capacity);
  }

  /** Newest first; only those addressed to one of `addresses` unless it is undefined (an admin). */
  list(addresses?: readonly string[]): CaughtMessage[] {
    return addresses ? this.#messages.filter((m) => addresses.includes(m.to)) : [...this.#messages];
  }
}

/** Writes a line per message to the log instead of sending it (and keeps it in the dev mailbox, if any). */
export class LogSender implements MessageSender {
  readonly kind = "log";
  constructor(readonly channel: "EMAIL" | "SMS", readonly logger: Logger, readonly mailbox?: DevMailbox) {}

  send(message: OutgoingMessage): Promise<void> {
    if (this.channel === "EMAIL" && !/^[^@\s]+@[^@\s]+$/.test(message.to)) {
      return Promise.reject(new PermanentSendError("not an email address"));
    }
    this.mailbox?.add({ ...message, channel: this.channel, at: new Date() });
    this.logger.info(`dev ${this.channel === "EMAIL" ? "mail" : "sms"}: not sent`, {
      to: message.to,
      subject: message.subject,
      read_at: this.mailbox ? "GET /dev/outbox, signed in as the recipient or an admin" : "nowhere: no mail provider",
    });
    return Promise.resolve();
  }
}

/**
 * Sends through an HTTP provider: `POST url` with `{to, subject, text}` as JSON, the token as a
 * Bearer credential and the message's `Idempotency-Key` when it has one. A 4xx other than 408/429 will not change on retry (bad address, rejected
 * message); 5xx, 408, 429 and network errors are worth retrying.
 */
export class HttpSender implements MessageSender {
  readonly kind = "http";
  constructor(
    readonly options: { url: string; token: string; timeoutMs?: number; fetch?: typeof fetch },
  ) {}

  get deadlineMs(): number {
    return this.options.timeoutMs ?? SEND_TIMEOUT_MS;
  }

  async send(message: OutgoingMessage): Promise<void> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      authorization: `Bearer ${this.options.token}`,
    };
    if (message.idempotencyKey) headers["idempotency-key"] = message.idempotencyKey;
    const res = await (this.options.fetch ?? fetch)(this.options.url, {
      method: "POST",
      headers,
      body: JSON.stringify({ to: message.to, subject: message.subject, text: message.body }),
      signal: AbortSignal.timeout(this.deadlineMs),
    });
    const detail = (await res.text()).slice(0, 200);
    if (res.ok) return;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      throw new PermanentSendError(`provider refused the message: HTTP ${res.status} ${detail}`);
    }
    throw new Error(`provider unavailable: HTTP ${res.status} ${detail}`);
  }
}
