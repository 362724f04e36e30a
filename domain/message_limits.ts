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
