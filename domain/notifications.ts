/**
 * Notification texts (e-mail subject and body, and a one-line SMS) rendered from facts passed in one call: no I/O,
 * no clock, no randomness. Every instant is epoch milliseconds and is shown in the salon's IANA zone.
 *
 * Format choices, kept identical in every template so texts are predictable:
 * - Money: `Intl.NumberFormat` of the locale ("pt-BR", or "en", which is US English: "$123.45", "R$123.45") with the
 *   currency's own number of decimals; integer minor units are turned into an exact decimal string first, so no
 *   floating-point rounding happens. No-break and narrow no-break spaces become plain spaces.
 * - Local time, full (subject and body): en "Wednesday, 3 June 2026, 10:00 (UTC−03:00)", pt-BR
 *   "quarta-feira, 3 de junho de 2026, 10:00 (UTC−03:00)" ("1º" for the first day of a month, as Brazilians write
 *   it). 24-hour clock. The offset is the one in force at that instant in that zone, written "UTC±HH:MM" with a true
 *   minus sign (U+2212); a zero offset is "UTC+00:00", as ISO 8601 writes it.
 * - Local time, short (SMS): en "Wed 3 Jun 10:00 (UTC−03:00)", pt-BR "qua 03/06 10:00 (UTC−03:00)": no year, since
 *   bookings lie within the booking horizon.
 * - Names (recipient, salon, service, professional) are trimmed and their inner whitespace collapsed to one space,
 *   so a stray line break cannot break the layout or the one-line SMS.
 * - SMS: at most SMS_MAX_LENGTH UTF-16 code units. When too long, the longest name loses characters first (ending in
 *   "…"), one at a time, down to two characters each; an optional link is dropped before names are shortened. A
 *   code is never shortened: an account SMS whose code cannot fit throws a RangeError.
 * Facts a template needs are checked: a booking template with account facts (or the reverse) throws a TypeError, as
 * does a missing `cancelledBy` (booking_cancelled), `previousStartsAt` (booking_rescheduled), `hoursBefore`
 * (booking_reminder), `holdExpiresAt` alongside a `deposit` (booking_created), `paid` (payment_receipt),
 * `offerExpiresAt` (waitlist_offer), `points` and `balance` (loyalty_points), `refund` (booking_refund_failed,
 * refund_failed) or `salonName` (professional_invitation).
 * Optional facts that are absent are simply not mentioned.
 */

export const LOCALES = ["pt-BR", "en"] as const;
export type Locale = typeof LOCALES[number];

export const TEMPLATES = [
  "booking_created",
  "booking_confirmed",
  "booking_rescheduled",
  "booking_cancelled",
  "booking_expired",
  "booking_no_show",
  "booking_reminder",
  "verify_email",
  "password_reset",
  "professional_invitation",
  "verify_phone",
  "payment_receipt",
  "waitlist_offer",
  "loyalty_points",
  "booking_refund_failed",
  "refund_failed",
] as const;
export type TemplateName = typeof TEMPLATES[number];

export const SMS_MAX_LENGTH = 160;

/** Integer minor units of an ISO 4217 currency. */
export interface Money {
  amount: number;
  currency: string;
}

export interface BookingFacts {
  kind: "booking";
  recipientName: string;
  salonName: string;
  serviceName: string;
  professionalName: string;
  /** Epoch ms. */
  startsAt: number;
  /** The salon's IANA zone: times are shown there, with the UTC offset. */
  timeZone: string;
  price: Money;
  /** booking_created with a deposit due: stated with its deadline, `holdExpiresAt`. */
  deposit?: Money;
  /** Epoch ms. */
  holdExpiresAt?: number;
  /** booking_cancelled. */
  fee?: Money;
  /** booking_cancelled, booking_refund_failed, refund_failed. */
  refund?: Money;
  /**
   * booking_cancelled: where the refund stands when the notice is written. Absent: requested (the
   * provider has not answered yet), so the notice never says more than is known.
   */
  refundStatus?: "requested" | "made" | "failed";
  cancelledBy?: "CLIENT" | "SALON" | "SYSTEM";
  /** booking_rescheduled. */
  previousStartsAt?: number;
  /** booking_reminder: how long before `startsAt` the reminder goes out, e.g. 24 or 2. */
  hoursBefore?: number;
  /** payment_receipt: the amount just paid for the booking. */
  paid?: Money;
  /** waitlist_offer: epoch ms until which the opened slot is held for the recipient. */
  offerExpiresAt?: number;
  /** loyalty_points: a non-zero integer, earned when positive and spent when negative. */
  points?: number;
  /** loyalty_points: the integer balance after `points`. */
  balance?: number;
  /** refund_failed (to the salon's owner and admins): the client the refund was for. */
  clientName?: string;
  /** refund_failed: the provider's reason, e.g. "charge_not_refundable". */
  failureReason?: string;
}

export interface AccountFacts {
  kind: "account";
  recipientName: string;
  /** The single-use token the person pastes or follows. */
  code: string;
  /** A URL that already contains the code. */
  link?: string;
  /** How long the code stays valid, e.g. 30, or 10080 for an invitation ("7 days"). */
  validMinutes: number;
  /** professional_invitation. */
  salonName?: string;
}

export interface Rendered {
  subject: string;
  body: string;
  /** One line, at most SMS_MAX_LENGTH characters. */
  sms: string;
}

const BOOKING_TEMPLATES: ReadonlySet<TemplateName> = new Set([
  "booking_created",
  "booking_confirmed",
  "booking_rescheduled",
  "booking_cancelled",
  "booking_expired",
  "booking_no_show",
  "booking_reminder",
  "payment_receipt",
  "waitlist_offer",
  "loyalty_points",
  "booking_refund_failed",
  "refund_failed",
]);

/** Renders a template; booking templates take BookingFacts, account templates AccountFacts (throw a TypeError on a mismatch). */
export function renderNotification(
  template: TemplateName,
  locale: Locale,
  facts: BookingFacts | AccountFacts,
): Rendered {
  if (!(TEMPLATES as readonly string[]).includes(template)) throw new TypeError(`unknown template ${template}`);
  if (!(LOCALES as readonly string[]).includes(locale)) throw new RangeError(`unsupported locale ${locale}`);
  const wanted = BOOKING_TEMPLATES.has(template) ? "booking" : "account";
  if (facts?.kind !== wanted) {
    throw new TypeError(`${template} needs ${wanted} facts, got ${String(facts?.kind)}`);
  }
  return facts.kind === "booking" ? renderBooking(template, locale, facts) : renderAccount(template, locale, facts);
}

/**
 * The user's locale when it is one we write, else the salon's, else pt-BR. Matching is by language and ignores
 * case and `_` versus `-`: any English tag ("en", "en-US", "en-GB") gives en and any Portuguese tag ("pt", "pt-BR",
 * "pt-PT") gives pt-BR, since a Portuguese reader is better served by pt-BR than by another language. Empty or
 * malformed tags count as absent.
 */
export function chooseLocale(userLocale: string | null | undefined, salonLocale: string | null | undefined): Locale {
  return supportedLocale(userLocale) ?? supportedLocale(salonLocale) ?? "pt-BR";
}

function supportedLocale(tag: string | null | undefined): Locale | undefined {
  if (typeof tag !== "string" || tag.trim() === "") return undefined;
  let language: string;
  try {
    language = new Intl.Locale(tag.trim().replaceAll("_", "-")).language;
  } catch {
    return undefined;
  }
  if (language === "en") return "en";
  if (language === "pt") return "pt-BR";
  return undefined;
}

/** Minor units as the locale writes money, with the currency's own decimals (JPY 0, BRL/EUR/USD 2, KWD 3): formatMoney(12345, "BRL", "pt-BR") === "R$ 123,45" (Intl may use a no-break space: normalise it to a plain space everywhere so texts are predictable). */
export function formatMoney(amount: number, currency: string, locale: Locale): string {
  if (!Number.isSafeInteger(amount)) throw new RangeError(`money amount must be an integer of minor units: ${amount}`);
  const format = new Intl.NumberFormat(locale, { style: "currency", currency });
  const decimals = format.resolvedOptions().maximumFractionDigits ?? 2;
  // An exact decimal string: dividing by 10^decimals in floating point could round.
  const digits = String(Math.abs(amount)).padStart(decimals + 1, "0");
  const units = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals);
  const decimal = `${amount < 0 ? "-" : ""}${units}${decimals > 0 ? `.${fraction}` : ""}`;
  // Intl accepts decimal strings and formats them without converting to a binary float.
  return plainSpaces(format.format(decimal as Intl.StringNumericLiteral));
}

/** The salon's wall-clock date and time with its UTC offset, e.g. en: "Wednesday, 3 June 2026, 10:00 (UTC−03:00)" and pt-BR: "quarta-feira, 3 de junho de 2026, 10:00 (UTC−03:00)" — the offset is the one in force at that instant in that zone (DST); a zero offset reads "UTC+00:00". */
export function formatLocalTime(instant: number, timeZone: string, locale: Locale): string {
  const wall = wallClock(instant, timeZone);
  const names = CALENDAR_NAMES[locale];
  const weekday = names.weekdays[wall.dayOfWeek - 1];
  const month = names.months[wall.month - 1];
  const date = locale === "en"
    ? `${weekday}, ${wall.day} ${month} ${wall.year}`
    : `${weekday}, ${wall.day === 1 ? "1º" : wall.day} de ${month} de ${wall.year}`;
  return `${date}, ${wall.time} (${wall.offset})`;
}

/** The SMS form of formatLocalTime: en "Wed 3 Jun 10:00 (UTC−03:00)", pt-BR "qua 03/06 10:00 (UTC−03:00)". */
export function formatShortLocalTime(instant: number, timeZone: string, locale: Locale): string {
  const wall = wallClock(instant, timeZone);
  const names = CALENDAR_NAMES[locale];
  const weekday = names.shortWeekdays[wall.dayOfWeek - 1];
  const date = locale === "en"
    ? `${weekday} ${wall.day} ${names.shortMonths[wall.month - 1]}`
    : `${weekday} ${pad2(wall.day)}/${pad2(wall.month)}`;
  return `${date} ${wall.time} (${wall.offset})`;
}

// Written out rather than taken from Intl so that texts do not change with the runtime's locale data.
const CALENDAR_NAMES = {
  "pt-BR": {
    weekdays: ["segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado", "domingo"],
    shortWeekdays: ["seg", "ter", "qua", "qui", "sex", "sáb", "dom"],
    months: [
      "janeiro",
      "fevereiro",
      "março",
      "abril",
      "maio",
      "junho",
      "julho",
      "agosto",
      "setembro",
      "outubro",
      "novembro",
      "dezembro",
    ],
    shortMonths: ["jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"],
  },
  en: {
    weekdays: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    shortWeekdays: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    months: [
      "January",
      "February",
      "March",
      "April",
      "May",
      "June",
      "July",
      "August",
      "September",
      "October",
      "November",
      "December",
    ],
    shortMonths: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
  },
} as const;

interface WallClock {
  year: number;
  month: number;
  day: number;
  /** ISO: 1 = Monday ... 7 = Sunday. */
  dayOfWeek: number;
  /** Local calendar date as days since 1970-01-01, to compare dates. */
  epochDay: number;
  /** "HH:MM", 24-hour. */
  time: string;
  /** "UTC−03:00", "UTC+00:00". */
  offset: string;
}

function wallClock(instant: number, timeZone: string): WallClock {
  if (!Number.isSafeInteger(instant)) throw new RangeError(`instant must be integer epoch milliseconds: ${instant}`);
  // Throws a RangeError for an unknown zone.
  const zoned = Temporal.Instant.fromEpochMilliseconds(instant).toZonedDateTimeISO(timeZone);
  return {
    year: zoned.year,
    month: zoned.month,
    day: zoned.day,
    dayOfWeek: zoned.dayOfWeek,
    epochDay: Math.floor(Date.UTC(zoned.year, zoned.month - 1, zoned.day) / 86_400_000),
    time: `${pad2(zoned.hour)}:${pad2(zoned.minute)}`,
    offset: `UTC${zoned.offset.replace("-", "\u2212")}`,
  };
}

function pad2(value: number): string {
  return String(value).padStart(2, "0");
}

function plainSpaces(text: string): string {
  return text.replace(/[\u00a0\u202f]/g, " ");
}

/** A name on one line: trimmed, inner whitespace (line breaks included) collapsed to one space. */
function oneLine(name: string): string {
  return name.trim().replace(/\s+/g, " ");
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** A duration in minutes in the largest whole unit: "7 days", "2 hours", "90 minutes". */
function formatDuration(minutes: number, locale: Locale): string {
  if (!Number.isSafeInteger(minutes) || minutes <= 0) {
    throw new RangeError(`validMinutes must be a positive integer: ${minutes}`);
  }
  const pt = locale === "pt-BR";
  if (minutes % 1440 === 0) return plural(minutes / 1440, pt ? "dia" : "day", pt ? "dias" : "days");
  if (minutes % 60 === 0) return plural(minutes / 60, pt ? "hora" : "hour", pt ? "horas" : "hours");
  return plural(minutes, pt ? "minuto" : "minute", pt ? "minutos" : "minutes");
}

/** Loyalty points as the locale writes whole numbers ("1,250 points", "1.250 pontos"); singular only for ±1. */
function formatPoints(count: number, locale: Locale): string {
  const digits = plainSpaces(new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(count));
  const pt = locale === "pt-BR";
  return `${digits} ${Math.abs(count) === 1 ? (pt ? "ponto" : "point") : (pt ? "pontos" : "points")}`;
}

/**
 * How far off the appointment is when the reminder goes out, `hoursBefore` before it: "in 2 hours" below a day,
 * "tomorrow" when the appointment falls on the next local date of the salon, else "in N days" (or hours).
 */
function reminderWhen(facts: BookingFacts, locale: Locale): string {
  const hours = facts.hoursBefore;
  if (hours === undefined) throw new TypeError("booking_reminder needs hoursBefore");
  if (!Number.isSafeInteger(hours) || hours <= 0) throw new RangeError(`hoursBefore must be a positive integer`);
  const pt = locale === "pt-BR";
  const hoursText = () => `${pt ? "daqui a" : "in"} ${plural(hours, pt ? "hora" : "hour", pt ? "horas" : "hours")}`;
  if (hours < 24) return hoursText();
  const sentDay = wallClock(facts.startsAt - hours * 3_600_000, facts.timeZone).epochDay;
  const days = wallClock(facts.startsAt, facts.timeZone).epochDay - sentDay;
  if (days === 1) return pt ? "amanhã" : "tomorrow";
  if (hours % 24 === 0) {
    return `${pt ? "daqui a" : "in"} ${plural(hours / 24, pt ? "dia" : "day", pt ? "dias" : "days")}`;
  }
  return hoursText();
}

/**
 * The first variant that fits in an SMS. Only the last variant has its names shortened: the longest name loses one
 * character at a time (ending in "…") until the text fits or every name is down to two characters.
 */
function fitSms(variants: ReadonlyArray<(names: string[]) => string>, names: readonly string[]): string {
  for (const [index, build] of variants.entries()) {
    // Earlier variants carry optional parts (a link): they are taken only when they fit with names whole.
    const mayShorten = index === variants.length - 1;
    const chars = names.map((name) => Array.from(name));
    const shortened = chars.map(() => false);
    const current = () => chars.map((name, i) => name.join("") + (shortened[i] ? "…" : ""));
    let text = build(current());
    while (mayShorten && text.length > SMS_MAX_LENGTH) {
      let longest = -1;
      chars.forEach((name, i) => {
        if (name.length > 2 && (longest < 0 || name.length > chars[longest].length)) longest = i;
      });
      if (longest < 0) break;
      chars[longest].pop();
      shortened[longest] = true;
      text = build(current());
    }
    if (text.length <= SMS_MAX_LENGTH) return text;
  }
  throw new RangeError(`the message does not fit in an SMS of ${SMS_MAX_LENGTH} characters`);
}

function renderBooking(template: TemplateName, locale: Locale, facts: BookingFacts): Rendered {
  const pt = locale === "pt-BR";
  const salon = oneLine(facts.salonName);
  const service = oneLine(facts.serviceName);
  const professional = oneLine(facts.professionalName);
  const money = (value: Money) => formatMoney(value.amount, value.currency, locale);
  const when = formatLocalTime(facts.startsAt, facts.timeZone, locale);
  const shortWhen = formatShortLocalTime(facts.startsAt, facts.timeZone, locale);
  const greeting = pt ? `Olá, ${oneLine(facts.recipientName)}!` : `Hi ${oneLine(facts.recipientName)},`;
  const details = pt
    ? [
      `Salão: ${salon}`,
      `Serviço: ${service}`,
      `Profissional: ${professional}`,
      `Data e hora: ${when}`,
      `Valor: ${money(facts.price)}`,
    ]
    : [
      `Salon: ${salon}`,
      `Service: ${service}`,
      `Professional: ${professional}`,
      `Date and time: ${when}`,
      `Price: ${money(facts.price)}`,
    ];
  const seeYou = pt ? "Até breve!" : "See you soon!";
  const body = (lead: string[], after: string[] = [], closing?: string) =>
    [
      greeting,
      "",
      ...lead,
      "",
      ...details,
      ...(after.length > 0 ? ["", ...after] : []),
      ...(closing ? ["", closing] : []),
    ]
      .join("\n");
  const subject = (title: string) => `${title}: ${service} – ${salon}`;
  // SMS builders receive [salon, service, professional], possibly shortened.
  const sms = (build: (s: string, v: string, p: string) => string) =>
    fitSms([([s, v, p]) => build(s, v, p)], [salon, service, professional]);

  switch (template) {
    case "booking_created": {
      let depositLine: string[] = [];
      let depositSms = "";
      if (facts.deposit) {
        if (facts.holdExpiresAt === undefined) throw new TypeError("a deposit needs holdExpiresAt");
        const deadline = formatLocalTime(facts.holdExpiresAt, facts.timeZone, locale);
        const shortDeadline = formatShortLocalTime(facts.holdExpiresAt, facts.timeZone, locale);
        const deposit = money(facts.deposit);
        depositLine = pt
          ? [`Para garantir o horário, pague o sinal de ${deposit} até ${deadline}. Sem o pagamento, a reserva expira.`]
          : [`To secure the slot, pay the ${deposit} deposit by ${deadline}. Without payment, the hold expires.`];
        depositSms = pt
          ? ` Pague o sinal de ${deposit} até ${shortDeadline}.`
          : ` Pay the ${deposit} deposit by ${shortDeadline}.`;
      }
      return {
        subject: subject(pt ? "Agendamento recebido" : "Booking received"),
        body: body([pt ? "Recebemos seu agendamento." : "We have received your booking."], depositLine, seeYou),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: agendamento recebido: ${v} com ${p}, ${shortWhen}.${depositSms}`
            : `${s}: booking received: ${v} with ${p}, ${shortWhen}.${depositSms}`
        ),
      };
    }
    case "booking_confirmed":
      return {
        subject: subject(pt ? "Agendamento confirmado" : "Booking confirmed"),
        body: body([pt ? "Seu agendamento está confirmado." : "Your booking is confirmed."], [], seeYou),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: seu agendamento de ${v} com ${p} para ${shortWhen} está confirmado.`
            : `${s}: your booking for ${v} with ${p} on ${shortWhen} is confirmed.`
        ),
      };
    case "booking_rescheduled": {
      if (facts.previousStartsAt === undefined) throw new TypeError("booking_rescheduled needs previousStartsAt");
      const previous = formatLocalTime(facts.previousStartsAt, facts.timeZone, locale);
      const shortPrevious = formatShortLocalTime(facts.previousStartsAt, facts.timeZone, locale);
      return {
        subject: subject(pt ? "Agendamento remarcado" : "Booking rescheduled"),
        body: body(
          [
            pt
              ? `Seu agendamento foi remarcado. Horário anterior: ${previous}.`
              : `Your booking has been rescheduled. Previous time: ${previous}.`,
          ],
          [],
          seeYou,
        ),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: seu agendamento de ${v} com ${p} foi remarcado de ${shortPrevious} para ${shortWhen}.`
            : `${s}: your booking for ${v} with ${p} was moved from ${shortPrevious} to ${shortWhen}.`
        ),
      };
    }
    case "booking_cancelled": {
      const by = facts.cancelledBy;
      if (by === undefined) throw new TypeError("booking_cancelled needs cancelledBy");
      const lead = pt
        ? {
          CLIENT: "Seu agendamento foi cancelado a seu pedido.",
          SALON: "Seu agendamento foi cancelado pelo salão.",
          SYSTEM: "Seu agendamento foi cancelado automaticamente pelo sistema.",
        }[by]
        : {
          CLIENT: "Your booking has been cancelled at your request.",
          SALON: "Your booking has been cancelled by the salon.",
          SYSTEM: "Your booking has been cancelled automatically by the system.",
        }[by];
      const byShort = pt
        ? { CLIENT: "a seu pedido", SALON: "pelo salão", SYSTEM: "automaticamente" }[by]
        : { CLIENT: "at your request", SALON: "by the salon", SYSTEM: "automatically" }[by];
      const settlement: string[] = [];
      const settlementShort: string[] = [];
      if (facts.fee) {
        const free = facts.fee.amount === 0;
        settlement.push(
          pt
            ? (free ? "Sem taxa de cancelamento." : `Taxa de cancelamento: ${money(facts.fee)}.`)
            : (free ? "No cancellation fee." : `Cancellation fee: ${money(facts.fee)}.`),
        );
        settlementShort.push(
          pt ? (free ? "Sem taxa." : `Taxa ${money(facts.fee)}.`) : (free ? "No fee." : `Fee ${money(facts.fee)}.`),
        );
      }
      if (facts.refund) {
        const refund = money(facts.refund);
        if (facts.refund.amount === 0) {
          settlement.push(pt ? "Sem reembolso." : "No refund.");
          settlementShort.push(pt ? "Sem reembolso." : "No refund.");
        } else {
          // Only what is known: a refund is requested with the cancellation and made (or refused)
          // by the provider later.
          const state = facts.refundStatus ?? "requested";
          settlement.push(
            pt
              ? {
                requested: `Reembolso solicitado: ${refund}.`,
                made: `Reembolsado: ${refund}.`,
                failed: `Reembolso de ${refund} não realizado: o provedor de pagamento o recusou. O salão foi avisado.`,
              }[state]
              : {
                requested: `Refund requested: ${refund}.`,
                made: `Refunded: ${refund}.`,
                failed: `Refund of ${refund} not made: the payment provider refused it. The salon has been told.`,
              }[state],
          );
          // The SMS has no room for "requested": its bare amount, as on the receipt, claims no more.
          settlementShort.push(
            pt
              ? {
                requested: `Reembolso ${refund}.`,
                made: `Reembolsado ${refund}.`,
                failed: `Reembolso ${refund} não realizado.`,
              }[state]
              : {
                requested: `Refund ${refund}.`,
                made: `Refunded ${refund}.`,
                failed: `Refund ${refund} not made.`,
              }[state],
          );
        }
      }
      const tail = settlementShort.length > 0 ? ` ${settlementShort.join(" ")}` : "";
      return {
        subject: subject(pt ? "Agendamento cancelado" : "Booking cancelled"),
        body: body([lead], settlement),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: seu agendamento de ${v} com ${p} para ${shortWhen} foi cancelado ${byShort}.${tail}`
            : `${s}: your booking for ${v} with ${p} on ${shortWhen} was cancelled ${byShort}.${tail}`
        ),
      };
    }
    case "booking_expired":
      return {
        subject: subject(pt ? "Reserva expirada" : "Booking expired"),
        body: body([
          pt
            ? "O prazo para concluir seu agendamento terminou e o horário foi liberado."
            : "The time to complete your booking ran out and the slot has been released.",
        ]),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: o prazo do seu agendamento de ${v} com ${p} para ${shortWhen} terminou e o horário foi liberado.`
            : `${s}: your booking for ${v} with ${p} on ${shortWhen} expired and the slot was released.`
        ),
      };
    case "booking_no_show":
      return {
        subject: subject(pt ? "Ausência registrada" : "Missed appointment"),
        body: body([
          pt
            ? "O salão registrou que você não compareceu a este horário."
            : "The salon recorded that you did not attend this appointment.",
        ]),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: registramos sua ausência no horário de ${v} com ${p} em ${shortWhen}.`
            : `${s}: you were recorded as not attending ${v} with ${p} on ${shortWhen}.`
        ),
      };
    case "booking_reminder": {
      const soon = reminderWhen(facts, locale);
      return {
        subject: `${pt ? "Lembrete" : "Reminder"}: ${service} ${soon} – ${salon}`,
        body: body(
          [pt ? `Lembrete: seu horário é ${soon}.` : `Just a reminder: your appointment is ${soon}.`],
          [],
          seeYou,
        ),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: lembrete: ${v} com ${p} ${soon}, ${shortWhen}.`
            : `${s}: reminder: ${v} with ${p} ${soon}, ${shortWhen}.`
        ),
      };
    }
    case "payment_receipt": {
      if (facts.paid === undefined) throw new TypeError("payment_receipt needs paid");
      const paid = money(facts.paid);
      return {
        subject: subject(pt ? "Pagamento recebido" : "Payment received"),
        body: body(
          [
            pt
              ? `Recebemos seu pagamento de ${paid} referente a este agendamento.`
              : `We have received your payment of ${paid} for this booking.`,
          ],
          [],
          seeYou,
        ),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: recebemos seu pagamento de ${paid} pelo agendamento de ${v} com ${p} em ${shortWhen}.`
            : `${s}: payment of ${paid} received for ${v} with ${p} on ${shortWhen}.`
        ),
      };
    }
    case "waitlist_offer": {
      if (facts.offerExpiresAt === undefined) throw new TypeError("waitlist_offer needs offerExpiresAt");
      const deadline = formatLocalTime(facts.offerExpiresAt, facts.timeZone, locale);
      const shortDeadline = formatShortLocalTime(facts.offerExpiresAt, facts.timeZone, locale);
      return {
        subject: subject(pt ? "Horário disponível" : "Slot available"),
        body: body(
          [
            pt
              ? "Boa notícia: abriu um horário na lista de espera em que você está."
              : "Good news: a slot has opened up on the waitlist you joined.",
          ],
          [
            pt
              ? `Para ficar com ele, agende até ${deadline}. Depois disso, a oferta expira.`
              : `To take it, book by ${deadline}. After that, the offer expires.`,
          ],
        ),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: abriu um horário de ${v} com ${p} em ${shortWhen}. Agende até ${shortDeadline} ou a oferta expira.`
            : `${s}: a slot opened for ${v} with ${p} on ${shortWhen}. Book by ${shortDeadline} or the offer expires.`
        ),
      };
    }
    case "loyalty_points": {
      const { points, balance } = facts;
      if (points === undefined || balance === undefined) throw new TypeError("loyalty_points needs points and balance");
      if (!Number.isSafeInteger(points) || points === 0) throw new RangeError(`points must be a non-zero integer`);
      if (!Number.isSafeInteger(balance)) throw new RangeError(`balance must be an integer`);
      const earned = points > 0;
      // The verb carries the sign, so the amount is written without one.
      const amount = formatPoints(Math.abs(points), locale);
      const total = formatPoints(balance, locale);
      return {
        subject: subject(
          pt ? (earned ? "Pontos ganhos" : "Pontos usados") : (earned ? "Points earned" : "Points redeemed"),
        ),
        body: body([
          pt
            ? `${earned ? `Você ganhou ${amount} com este` : `Você usou ${amount} neste`} agendamento. ` +
              `Seu saldo agora é de ${total}.`
            : `You ${earned ? "earned" : "redeemed"} ${amount} ${earned ? "for" : "on"} this booking. ` +
              `Your balance is now ${total}.`,
        ]),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: você ${earned ? "ganhou" : "usou"} ${amount} no agendamento de ${v} com ${p} em ${shortWhen}. ` +
              `Saldo: ${total}.`
            : `${s}: you ${earned ? "earned" : "redeemed"} ${amount} for ${v} with ${p} on ${shortWhen}. ` +
              `Balance: ${total}.`
        ),
      };
    }
    case "booking_refund_failed": {
      if (facts.refund === undefined) throw new TypeError("booking_refund_failed needs refund");
      const refund = money(facts.refund);
      return {
        subject: subject(pt ? "Reembolso não realizado" : "Refund not made"),
        body: body(
          [
            pt
              ? `Não conseguimos fazer o reembolso de ${refund} deste agendamento: o provedor de pagamento o recusou. ` +
                "Nada foi devolvido ainda."
              : `We could not make the ${refund} refund for this booking: the payment provider refused it. ` +
                "Nothing has been given back yet.",
          ],
          [
            pt
              ? "O salão e nossa equipe foram avisados e podem tentar de novo. Em caso de dúvida, fale com o salão."
              : "The salon and our team have been told and can try again. If you have questions, contact the salon.",
          ],
        ),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: o reembolso de ${refund} de ${v} com ${p} em ${shortWhen} não foi realizado. O salão foi avisado.`
            : `${s}: the ${refund} refund for ${v} with ${p} on ${shortWhen} was not made. The salon has been told.`
        ),
      };
    }
    case "refund_failed": {
      if (facts.refund === undefined) throw new TypeError("refund_failed needs refund");
      const refund = money(facts.refund);
      const client = facts.clientName ? oneLine(facts.clientName) : undefined;
      const reason = facts.failureReason ? oneLine(facts.failureReason) : undefined;
      const to = client ? (pt ? ` para ${client}` : ` to ${client}`) : "";
      const why = reason ? (pt ? ` (motivo: ${reason})` : ` (reason: ${reason})`) : "";
      return {
        subject: subject(pt ? "Reembolso recusado" : "Refund refused"),
        body: body(
          [
            pt
              ? `O provedor de pagamento recusou o reembolso de ${refund}${to} deste agendamento${why}. Nada foi devolvido.`
              : `The payment provider refused the ${refund} refund${to} for this booking${why}. Nothing was given back.`,
          ],
          [
            pt
              ? "Um administrador pode tentar de novo na lista de reembolsos recusados. O cliente foi avisado de que o reembolso não foi feito."
              : "An administrator can retry it from the list of failed refunds. The client has been told that the refund was not made.",
          ],
        ),
        sms: sms((s, v, p) =>
          pt
            ? `${s}: o reembolso de ${refund} de ${v} com ${p} em ${shortWhen} foi recusado pelo provedor.`
            : `${s}: the ${refund} refund for ${v} with ${p} on ${shortWhen} was refused by the provider.`
        ),
      };
    }
    default:
      throw new TypeError(`${template} is not a booking template`);
  }
}

function renderAccount(template: TemplateName, locale: Locale, facts: AccountFacts): Rendered {
  const pt = locale === "pt-BR";
  const code = facts.code;
  const link = facts.link;
  const validity = formatDuration(facts.validMinutes, locale);
  const greeting = pt ? `Olá, ${oneLine(facts.recipientName)}!` : `Hi ${oneLine(facts.recipientName)},`;
  const linkLines = link ? [pt ? `Ou abra este link: ${link}` : `Or open this link: ${link}`] : [];
  const body = (instruction: string, closing: string) =>
    [greeting, "", `${instruction} ${code}`, ...linkLines, "", closing].join("\n");
  // Each SMS is tried with the link first and without it when the link does not fit.
  const withOptionalLink = (text: (names: string[]) => string) =>
    link ? [(names: string[]) => `${text(names)} ${link}`, text] : [text];

  switch (template) {
    case "verify_email":
      return {
        subject: pt ? "Confirme seu e-mail" : "Confirm your email address",
        body: body(
          pt ? "Para confirmar seu e-mail, use o código:" : "To confirm your email address, use this code:",
          pt
            ? `O código vale por ${validity} e só pode ser usado uma vez. Se você não pediu isso, ignore esta mensagem.`
            : `The code is valid for ${validity} and can be used only once. If you did not ask for this, ignore this message.`,
        ),
        sms: fitSms(
          withOptionalLink(() =>
            pt
              ? `Código para confirmar seu e-mail: ${code}. Válido por ${validity}.`
              : `Your email confirmation code: ${code}. Valid for ${validity}.`
          ),
          [],
        ),
      };
    case "password_reset":
      return {
        subject: pt ? "Redefinição de senha" : "Reset your password",
        body: body(
          pt ? "Para redefinir sua senha, use o código:" : "To reset your password, use this code:",
          pt
            ? `O código vale por ${validity} e só pode ser usado uma vez. Se você não pediu a redefinição, ignore esta mensagem; sua senha continua a mesma.`
            : `The code is valid for ${validity} and can be used only once. If you did not ask for a reset, ignore this message; your password stays the same.`,
        ),
        sms: fitSms(
          withOptionalLink(() =>
            pt
              ? `Código para redefinir sua senha: ${code}. Válido por ${validity}. Se não foi você, ignore.`
              : `Your password reset code: ${code}. Valid for ${validity}. Not you? Ignore this.`
          ),
          [],
        ),
      };
    case "verify_phone":
      // Sent by SMS only; subject and body exist like every template's, for the record and the inbox.
      return {
        subject: pt ? "Confirme seu telefone" : "Confirm your phone number",
        body: body(
          pt ? "Para confirmar seu telefone, use o código:" : "To confirm your phone number, use this code:",
          pt
            ? `O código vale por ${validity}. Não o compartilhe com ninguém. Se você não pediu isso, ignore esta mensagem.`
            : `The code is valid for ${validity}. Do not share it with anyone. If you did not ask for this, ignore this message.`,
        ),
        sms: fitSms(
          withOptionalLink(() =>
            pt
              ? `Seu código para confirmar o telefone: ${code}. Válido por ${validity}. Não o compartilhe.`
              : `Your phone confirmation code: ${code}. Valid for ${validity}. Do not share it.`
          ),
          [],
        ),
      };
    case "professional_invitation": {
      if (facts.salonName === undefined) throw new TypeError("professional_invitation needs salonName");
      const salon = oneLine(facts.salonName);
      return {
        subject: pt ? `Convite para a equipe – ${salon}` : `Invitation to join the team – ${salon}`,
        body: body(
          pt
            ? `${salon} convidou você para fazer parte da equipe de profissionais. Para aceitar, use o código:`
            : `${salon} has invited you to join their team of professionals. To accept, use this code:`,
          pt
            ? `O convite vale por ${validity} e só pode ser usado uma vez.`
            : `The invitation is valid for ${validity} and can be used only once.`,
        ),
        sms: fitSms(
          withOptionalLink(([s]) =>
            pt
              ? `${s} convidou você para a equipe. Código: ${code}, válido por ${validity}.`
              : `${s} invited you to join their team. Code: ${code}, valid for ${validity}.`
          ),
          [salon],
        ),
      };
    }
    default:
      throw new TypeError(`${template} is not an account template`);
  }
}

/** The in-app alert to admins when a job reaches the dead letter; apart from TEMPLATES, whose facts are about a booking or an account. */
export const JOB_DEAD_TEMPLATE = "job_dead";

/** What an admin needs to decide on a dead job: which one, how often it was tried, and the last error recorded. */
export interface JobDeadFacts {
  recipientName: string;
  jobId: string;
  jobName: string;
  attempts: number;
  lastError: string;
}

/** The dead-letter alert (in-app only, so `sms` is the subject line). */
export function renderJobDead(locale: Locale, facts: JobDeadFacts): Rendered {
  const pt = locale === "pt-BR";
  const name = oneLine(facts.jobName);
  // The error is one line and bounded: it comes from a handler and must not swamp the inbox.
  const error = oneLine(facts.lastError).slice(0, 300);
  const subject = pt ? `Tarefa ${name} na fila de falhas` : `Job ${name} moved to the dead letter`;
  const body = [
    pt ? `Olá, ${oneLine(facts.recipientName)}!` : `Hi ${oneLine(facts.recipientName)},`,
    "",
    pt
      ? `A tarefa ${name} (${facts.jobId}) falhou ${facts.attempts} vezes e não será tentada de novo.`
      : `Job ${name} (${facts.jobId}) failed ${facts.attempts} times and will not be tried again.`,
    pt ? `Último erro: ${error}` : `Last error: ${error}`,
    "",
    pt
      ? `Corrija a causa e reenvie em POST /api/v1/admin/jobs/${facts.jobId}/redrive.`
      : `Fix the cause, then re-drive it with POST /api/v1/admin/jobs/${facts.jobId}/redrive.`,
  ].join("\n");
  return { subject, body, sms: subject.slice(0, SMS_MAX_LENGTH) };
}
