/**
 * How many messages a caller can make the platform send, per recipient and per caller. Every
 * message a request can trigger (a reset, a verification, an invitation, a booking notice) has a
 * budget here; the README's security section lists them. Windows are sliding.
 */

export type MessageKind =
  | "password_reset"
  | "verify_email"
  | "verify_phone"
  | "professional_invitation"
  | "booking_email"
  | "booking_sms";

/** At most `limit` messages in any `windowMinutes`. */
export interface MessageWindow {
  windowMinutes: number;
  limit: number;
}

export interface MessageBudget {
  /** Counted per address (email or phone number) the message goes to. */
  perRecipient: readonly MessageWindow[];
  /** Counted per caller: the account that asked, else the client address. */
  perCaller: readonly MessageWindow[];
}

const HOUR = 60;
const DAY = 24 * HOUR;

export const MESSAGE_BUDGETS: Readonly<Record<MessageKind, MessageBudget>> = {
  password_reset: {
    perRecipient: [{ windowMinutes: HOUR, limit: 3 }, { windowMinutes: DAY, limit: 10 }],
    perCaller: [{ windowMinutes: HOUR, limit: 10 }],
  },
  verify_email: {
    perRecipient: [{ windowMinutes: HOUR, limit: 3 }, { windowMinutes: DAY, limit: 10 }],
    perCaller: [{ windowMinutes: HOUR, limit: 5 }],
  },
  verify_phone: {
    perRecipient: [{ windowMinutes: HOUR, limit: 3 }, { windowMinutes: DAY, limit: 6 }],
    perCaller: [{ windowMinutes: HOUR, limit: 5 }, { windowMinutes: DAY, limit: 10 }],
  },
  professional_invitation: {
    perRecipient: [{ windowMinutes: DAY, limit: 3 }],
    perCaller: [{ windowMinutes: HOUR, limit: 20 }, { windowMinutes: DAY, limit: 50 }],
  },
  booking_email: {
    perRecipient: [{ windowMinutes: HOUR, limit: 20 }, { windowMinutes: DAY, limit: 60 }],
    perCaller: [],
  },
  booking_sms: {
    perRecipient: [{ windowMinutes: HOUR, limit: 5 }, { windowMinutes: DAY, limit: 15 }],
    perCaller: [],
  },
};

/** The outbox topic of the phone code's SMS: the one SMS an unverified phone receives. */
export const PHONE_CODE_TOPIC = "sms.verify_phone";

/** The phone verification code: its length, life, and how many guesses one code survives. */
export const PHONE_CODE = { digits: 6, validMinutes: 10, attemptsPerCode: 5 } as const;

/**
 * Code confirmations per account, right or wrong. With `attemptsPerCode` and verify_phone's daily
 * budget this bounds guesses of a 6-digit code to 50 a day per account.
 */
export const PHONE_CONFIRMS_PER_ACCOUNT: MessageWindow = { windowMinutes: HOUR, limit: 10 };

/** A phone number as a budget and a comparison see it: its digits only ("+55 (11) 9…" and "5511 9…" match). */
export function phoneDigits(phone: string): string {
  return phone.replace(/\D/g, "");
}

/** True when two written phone numbers are the same number (a reformatting keeps a verification). */
export function samePhone(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return phoneDigits(a) === phoneDigits(b);
}

/** The address a recipient budget counts: an email trimmed and lower-cased, a phone number's digits. */
export function recipientKey(address: string): string {
  const trimmed = address.trim();
  return trimmed.includes("@") ? trimmed.toLowerCase() : phoneDigits(trimmed);
}

/** One window of a budget as it is counted: a rate window's name, subject, limit and length. */
export interface CountedWindow extends MessageWindow {
  kind: MessageKind;
  scope: "recipient" | "caller";
  name: string;
  id: string;
  windowMs: number;
}

/** The windows one message of `kind` counts in: each recipient window, then each caller window. */
export function budgetWindows(kind: MessageKind, subjects: { recipient?: string; caller?: string }): CountedWindow[] {
  const budget = MESSAGE_BUDGETS[kind];
  const windows = (scope: "recipient" | "caller", id: string | undefined, list: readonly MessageWindow[]) =>
    id === undefined ? [] : list.map((window): CountedWindow => ({
      ...window,
      kind,
      scope,
      name: `msg:${kind}:${scope === "recipient" ? "to" : "by"}`,
      id,
      windowMs: window.windowMinutes * 60_000,
    }));
  return [
    ...windows("recipient", subjects.recipient, budget.perRecipient),
    ...windows("caller", subjects.caller, budget.perCaller),
  ];
}

/** The reason recorded on a message a budget held back (no address in it: it lands in a stored row). */
export function suppressionReason(window: Pick<CountedWindow, "scope" | "limit" | "windowMinutes">): string {
  const { windowMinutes: minutes } = window;
  const span = (count: number, unit: string) => count === 1 ? unit : `${count} ${unit}s`;
  const per = minutes % DAY === 0
    ? span(minutes / DAY, "day")
    : minutes % HOUR === 0
    ? span(minutes / HOUR, "hour")
    : span(minutes, "minute");
  return `message limit reached: at most ${window.limit} per ${per} per ${window.scope}`;
}
