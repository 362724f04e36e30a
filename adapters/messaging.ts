/**
 * Email and SMS senders. Production uses an HTTP provider per channel; the embedded default writes
 * each message to the log (a developer reads it there or at `GET /dev/outbox`). A sender throws
 * `PermanentSendError` for a message that can never be delivered (no retry), anything else for a
 * failure worth retrying.
 */
import type { Logger } from "./logger.ts";

export interface OutgoingMessage {
  to: string;
  subject: string | null;
  body: string;
}

export interface MessageSender {
  readonly kind: string;
  send(message: OutgoingMessage): Promise<void>;
}

/** A message that no retry will deliver (a malformed address, a rejected number). */
export class PermanentSendError extends Error {
  override name = "PermanentSendError";
}

/** Writes messages to the log instead of sending them. */
export class LogSender implements MessageSender {
  readonly kind = "log";
  constructor(readonly channel: "EMAIL" | "SMS", readonly logger: Logger) {}

  send(message: OutgoingMessage): Promise<void> {
    if (this.channel === "EMAIL" && !/^[^@\s]+@[^@\s]+$/.test(message.to)) {
      return Promise.reject(new PermanentSendError(`not an email address: ${message.to}`));
    }
    this.logger.info(`dev ${this.channel === "EMAIL" ? "mail" : "sms"}: not sent, shown here`, {
      to: message.to,
      subject: message.subject,
      text: message.body,
    });
    return Promise.resolve();
  }
}

/**
 * Sends through an HTTP provider: `POST url` with `{to, subject, text}` as JSON and the token as a
 * Bearer credential. A 4xx other than 408/429 will not change on retry (bad address, rejected
 * message); 5xx, 408, 429 and network errors are worth retrying.
 */
export class HttpSender implements MessageSender {
  readonly kind = "http";
  constructor(
    readonly options: { url: string; token: string; timeoutMs?: number; fetch?: typeof fetch },
  ) {}

  async send(message: OutgoingMessage): Promise<void> {
    const res = await (this.options.fetch ?? fetch)(this.options.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${this.options.token}` },
      body: JSON.stringify({ to: message.to, subject: message.subject, text: message.body }),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
    });
    const detail = (await res.text()).slice(0, 200);
    if (res.ok) return;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      throw new PermanentSendError(`provider refused the message: HTTP ${res.status} ${detail}`);
    }
    throw new Error(`provider unavailable: HTTP ${res.status} ${detail}`);
  }
}
