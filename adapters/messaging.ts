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
