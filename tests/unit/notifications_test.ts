import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type AccountFacts,
  type BookingFacts,
  chooseLocale,
  formatLocalTime,
  formatMoney,
  formatShortLocalTime,
  LOCALES,
  renderNotification,
  SMS_MAX_LENGTH,
  type TemplateName,
  TEMPLATES,
} from "../../domain/notifications.ts";

const ACCOUNT_TEMPLATES: readonly TemplateName[] = [
  "verify_email",
  "password_reset",
  "professional_invitation",
  "verify_phone",
];
const BOOKING_TEMPLATES = TEMPLATES.filter((template) => !ACCOUNT_TEMPLATES.includes(template));

/** Wednesday 3 June 2026, 10:00 in São Paulo. */
const STARTS_AT = Date.UTC(2026, 5, 3, 13, 0);
const HOUR = 3_600_000;

function bookingFacts(overrides: Partial<BookingFacts> = {}): BookingFacts {
  return {
    kind: "booking",
    recipientName: "Maria Silva",
    salonName: "Studio Bela",
    serviceName: "Corte feminino",
    professionalName: "Ana Souza",
    startsAt: STARTS_AT,
    timeZone: "America/Sao_Paulo",
    price: { amount: 12000, currency: "BRL" },
    deposit: { amount: 3000, currency: "BRL" },
    holdExpiresAt: STARTS_AT - 24 * HOUR,
    fee: { amount: 2000, currency: "BRL" },
    refund: { amount: 10000, currency: "BRL" },
    cancelledBy: "CLIENT",
    previousStartsAt: STARTS_AT - 48 * HOUR,
    hoursBefore: 24,
    paid: { amount: 3000, currency: "BRL" },
    offerExpiresAt: STARTS_AT - 20 * HOUR,
    points: 120,
    balance: 450,
    ...overrides,
  };
}

function accountFacts(overrides: Partial<AccountFacts> = {}): AccountFacts {
  return {
    kind: "account",
    recipientName: "Maria Silva",
    code: "K7Q-93XZ",
    link: "https://salao.example/verify?code=K7Q-93XZ",
    validMinutes: 30,
    salonName: "Studio Bela",
    ...overrides,
  };
}

function factsFor(template: TemplateName): BookingFacts | AccountFacts {
  return ACCOUNT_TEMPLATES.includes(template) ? accountFacts() : bookingFacts();
}

Deno.test("notifications", async (t) => {
  await t.step("every template renders in both locales with a one-line SMS within the limit", () => {
    for (const template of TEMPLATES) {
      for (const locale of LOCALES) {
        const rendered = renderNotification(template, locale, factsFor(template));
        assert.ok(rendered.subject.trim().length > 0, `${template} ${locale} subject`);
        assert.ok(rendered.body.trim().length > 0, `${template} ${locale} body`);
        assert.ok(rendered.sms.trim().length > 0, `${template} ${locale} sms`);
        assert.ok(rendered.sms.length <= SMS_MAX_LENGTH, `${template} ${locale} sms: ${rendered.sms.length}`);
        assert.ok(!/[\r\n]/.test(rendered.sms), `${template} ${locale} sms is one line`);
        assert.ok(!/[\u00a0\u202f]/.test(rendered.body + rendered.sms), `${template} ${locale} plain spaces`);
      }
    }
  });

  await t.step("booking messages name the salon, service, professional and local time with offset", () => {
    for (const template of BOOKING_TEMPLATES) {
      for (const locale of LOCALES) {
        const { subject, body, sms } = renderNotification(template, locale, bookingFacts());
        for (const name of ["Studio Bela", "Corte feminino", "Ana Souza"]) assert.ok(body.includes(name), name);
        assert.ok(subject.includes("Studio Bela") && subject.includes("Corte feminino"), subject);
        assert.ok(body.includes(formatLocalTime(STARTS_AT, "America/Sao_Paulo", locale)), `${template} ${locale}`);
        assert.ok(sms.includes(formatShortLocalTime(STARTS_AT, "America/Sao_Paulo", locale)), sms);
        // Short names are not shortened in the SMS.
        for (const name of ["Studio Bela", "Corte feminino", "Ana Souza"]) assert.ok(sms.includes(name), sms);
      }
    }
  });

  await t.step("SMS stays within the limit for long names, shortening them from the start", () => {
    const name = fc.string({ maxLength: 40 });
    const money = fc.record({
      amount: fc.integer({ min: 0, max: 99_999_999 }),
      currency: fc.constantFrom("BRL", "EUR", "USD", "JPY", "KWD"),
    });
    fc.assert(fc.property(
      fc.constantFrom(...BOOKING_TEMPLATES),
      fc.constantFrom(...LOCALES),
      fc.record({ recipient: name, salon: name, service: name, professional: name }),
      fc.record({ price: money, deposit: money, fee: money, refund: money }),
      fc.constantFrom("CLIENT" as const, "SALON" as const, "SYSTEM" as const),
      fc.constantFrom(1, 2, 24, 48),
      fc.record({
        paid: money,
        // Any instant in the 60 days before the appointment, so day and month widths vary.
        offerExpiresAt: fc.integer({ min: STARTS_AT - 60 * 24 * HOUR, max: STARTS_AT }),
        // The full safe-integer range: the SMS must fit even for absurd counts.
        points: fc.maxSafeInteger().filter((points) => points !== 0),
        balance: fc.maxSafeInteger(),
      }),
      (template, locale, names, amounts, cancelledBy, hoursBefore, extras) => {
        const { sms } = renderNotification(
          template,
          locale,
          bookingFacts({
            recipientName: names.recipient,
            salonName: names.salon,
            serviceName: names.service,
            professionalName: names.professional,
            ...amounts,
            cancelledBy,
            hoursBefore,
            ...extras,
          }),
        );
        assert.ok(sms.length <= SMS_MAX_LENGTH, `${sms.length}: ${sms}`);
        assert.ok(!/[\r\n]/.test(sms));
        // The salon opens the SMS: at least its first two characters survive any shortening.
        const salon = names.salon.trim().replace(/\s+/g, " ");
        assert.ok(sms.startsWith(Array.from(salon).slice(0, 2).join("")), sms);
      },
    ));
    fc.assert(fc.property(
      fc.constantFrom(...ACCOUNT_TEMPLATES),
      fc.constantFrom(...LOCALES),
      name,
      name,
      fc.string({ minLength: 1, maxLength: 24, unit: fc.constantFrom(..."ABCDEFGHJKLMNPQRSTUVWXYZ23456789-") }),
      fc.option(fc.webUrl(), { nil: undefined }),
      fc.constantFrom(10, 30, 60, 1440, 10080),
      (template, locale, recipientName, salonName, code, link, validMinutes) => {
        const { sms, body } = renderNotification(
          template,
          locale,
          accountFacts({ recipientName, salonName, code, link, validMinutes }),
        );
        assert.ok(sms.length <= SMS_MAX_LENGTH, `${sms.length}: ${sms}`);
        // The code is never shortened.
        assert.ok(sms.includes(code), sms);
        assert.ok(body.includes(code), body);
        if (link) assert.ok(body.includes(link), body);
      },
    ));
  });

  await t.step("a long name is shortened with an ellipsis in the SMS but kept whole in the e-mail", () => {
    const longSalon = "Espaço de Beleza e Bem-Estar Maria Aparecida";
    const { sms, body } = renderNotification(
      "booking_created",
      "pt-BR",
      bookingFacts({ salonName: longSalon, serviceName: "Coloração completa com hidratação profunda" }),
    );
    assert.ok(sms.length <= SMS_MAX_LENGTH);
    assert.ok(sms.includes("…"), sms);
    assert.ok(body.includes(longSalon));
  });

  await t.step("a link that does not fit is dropped from the SMS, never the code", () => {
    const link = `https://salao.example/reset?code=${"x".repeat(120)}`;
    const { sms, body } = renderNotification("password_reset", "en", accountFacts({ link }));
    assert.ok(sms.includes("K7Q-93XZ") && !sms.includes(link), sms);
    assert.ok(body.includes(link));
    assert.throws(
      () => renderNotification("verify_email", "en", accountFacts({ code: "C".repeat(150) })),
      RangeError,
    );
  });

  await t.step("money uses the currency's decimals and the locale's writing, with plain spaces", () => {
    const cases: Array<[number, string, string, string]> = [
      [12345, "BRL", "R$ 123,45", "R$123.45"],
      [12345, "EUR", "€ 123,45", "€123.45"],
      [12345, "USD", "US$ 123,45", "$123.45"],
      [12345, "JPY", "JP¥ 12.345", "¥12,345"],
      [12345, "KWD", "KWD 12,345", "KWD 12.345"],
      [5, "KWD", "KWD 0,005", "KWD 0.005"],
      [0, "BRL", "R$ 0,00", "R$0.00"],
      [123456789, "BRL", "R$ 1.234.567,89", "R$1,234,567.89"],
      [9_007_199_254_740_991, "USD", "US$ 90.071.992.547.409,91", "$90,071,992,547,409.91"],
    ];
    for (const [amount, currency, pt, en] of cases) {
      assert.equal(formatMoney(amount, currency, "pt-BR"), pt);
      assert.equal(formatMoney(amount, currency, "en"), en);
    }
    assert.throws(() => formatMoney(12.5, "BRL", "pt-BR"), RangeError);
    assert.throws(() => formatMoney(100, "not a currency", "en"), RangeError);
  });

  await t.step("local time shows the salon's wall clock and the offset in force, across DST", () => {
    // New York springs forward on 2026-03-08 at 02:00 EST (07:00 UTC).
    assert.equal(
      formatLocalTime(Date.UTC(2026, 2, 8, 6, 30), "America/New_York", "en"),
      "Sunday, 8 March 2026, 01:30 (UTC−05:00)",
    );
    assert.equal(
      formatLocalTime(Date.UTC(2026, 2, 8, 7, 30), "America/New_York", "en"),
      "Sunday, 8 March 2026, 03:30 (UTC−04:00)",
    );
    assert.equal(
      formatLocalTime(Date.UTC(2026, 2, 8, 7, 30), "America/New_York", "pt-BR"),
      "domingo, 8 de março de 2026, 03:30 (UTC−04:00)",
    );
    assert.equal(
      formatLocalTime(STARTS_AT, "America/Sao_Paulo", "en"),
      "Wednesday, 3 June 2026, 10:00 (UTC−03:00)",
    );
    assert.equal(
      formatLocalTime(STARTS_AT, "America/Sao_Paulo", "pt-BR"),
      "quarta-feira, 3 de junho de 2026, 10:00 (UTC−03:00)",
    );
    // Lisbon: summer time is UTC+01:00; winter is UTC itself, written "UTC+00:00".
    assert.equal(
      formatLocalTime(Date.UTC(2026, 6, 15, 12), "Europe/Lisbon", "en"),
      "Wednesday, 15 July 2026, 13:00 (UTC+01:00)",
    );
    assert.equal(
      formatLocalTime(Date.UTC(2026, 0, 15, 12), "Europe/Lisbon", "en"),
      "Thursday, 15 January 2026, 12:00 (UTC+00:00)",
    );
    assert.equal(
      formatLocalTime(Date.UTC(2026, 0, 1, 12), "Europe/Lisbon", "pt-BR"),
      "quinta-feira, 1º de janeiro de 2026, 12:00 (UTC+00:00)",
    );
    assert.equal(formatShortLocalTime(STARTS_AT, "America/Sao_Paulo", "en"), "Wed 3 Jun 10:00 (UTC−03:00)");
    assert.equal(formatShortLocalTime(STARTS_AT, "America/Sao_Paulo", "pt-BR"), "qua 03/06 10:00 (UTC−03:00)");
    assert.throws(() => formatLocalTime(STARTS_AT, "Mars/Olympus_Mons", "en"), RangeError);
  });

  await t.step("chooseLocale takes the user's language, then the salon's, then pt-BR", () => {
    assert.equal(chooseLocale("en", "pt-BR"), "en");
    assert.equal(chooseLocale("en-US", "pt-BR"), "en");
    assert.equal(chooseLocale("EN_gb", null), "en");
    assert.equal(chooseLocale("pt-BR", "en"), "pt-BR");
    assert.equal(chooseLocale("pt", "en"), "pt-BR");
    assert.equal(chooseLocale("pt-PT", "en"), "pt-BR");
    assert.equal(chooseLocale("fr", "en"), "en");
    assert.equal(chooseLocale("fr", "pt-BR"), "pt-BR");
    assert.equal(chooseLocale("fr", "de"), "pt-BR");
    assert.equal(chooseLocale(null, undefined), "pt-BR");
    assert.equal(chooseLocale(undefined, "en-US"), "en");
    assert.equal(chooseLocale("", "en"), "en");
    assert.equal(chooseLocale("not a locale!", "en"), "en");
  });

  await t.step("facts of the wrong kind or missing required facts throw a TypeError", () => {
    for (const template of BOOKING_TEMPLATES) {
      assert.throws(() => renderNotification(template, "en", accountFacts()), TypeError, template);
    }
    for (const template of ACCOUNT_TEMPLATES) {
      assert.throws(() => renderNotification(template, "pt-BR", bookingFacts()), TypeError, template);
    }
    assert.throws(
      () => renderNotification("booking_cancelled", "en", bookingFacts({ cancelledBy: undefined })),
      TypeError,
    );
    assert.throws(
      () => renderNotification("booking_rescheduled", "en", bookingFacts({ previousStartsAt: undefined })),
      TypeError,
    );
    assert.throws(
      () => renderNotification("booking_reminder", "en", bookingFacts({ hoursBefore: undefined })),
      TypeError,
    );
    assert.throws(
      () => renderNotification("booking_created", "en", bookingFacts({ holdExpiresAt: undefined })),
      TypeError,
    );
    assert.throws(
      () => renderNotification("professional_invitation", "en", accountFacts({ salonName: undefined })),
      TypeError,
    );
  });

  await t.step("cancellation states who cancelled, the fee (or none) and the refund", () => {
    const salon = renderNotification(
      "booking_cancelled",
      "en",
      bookingFacts({ cancelledBy: "SALON", fee: { amount: 0, currency: "BRL" } }),
    );
    assert.ok(salon.body.includes("cancelled by the salon") && salon.body.includes("No cancellation fee."));
    assert.ok(salon.sms.includes("No fee.") && salon.sms.includes("Refund R$100.00."), salon.sms);
    const system = renderNotification(
      "booking_cancelled",
      "pt-BR",
      bookingFacts({ cancelledBy: "SYSTEM", refund: { amount: 0, currency: "BRL" } }),
    );
    assert.ok(system.body.includes("automaticamente") && system.body.includes("Taxa de cancelamento: R$ 20,00."));
    assert.ok(system.body.includes("Sem reembolso."));
  });

  await t.step("a cancellation says only what is known of its refund: requested, made or refused", () => {
    const told = (refundStatus: BookingFacts["refundStatus"], locale: "en" | "pt-BR" = "en") =>
      renderNotification("booking_cancelled", locale, bookingFacts({ refundStatus }));
    assert.ok(told(undefined).body.includes("Refund requested: R$100.00."), told(undefined).body);
    assert.ok(told("requested", "pt-BR").body.includes("Reembolso solicitado: R$ 100,00."));
    assert.ok(told("made").body.includes("Refunded: R$100.00.") && told("made").sms.includes("Refunded R$100.00."));
    const refused = told("failed");
    assert.ok(refused.body.includes("Refund of R$100.00 not made: the payment provider refused it."), refused.body);
    assert.ok(refused.sms.includes("Refund R$100.00 not made."), refused.sms);
    assert.ok(!/requested|Refunded/.test(refused.body + refused.sms));
    assert.ok(told("failed", "pt-BR").body.includes("Reembolso de R$ 100,00 não realizado"));
  });

  await t.step("a refused refund: the client hears it was not made, the salon's side why and what to do", () => {
    const client = renderNotification("booking_refund_failed", "en", bookingFacts());
    assert.equal(client.subject, "Refund not made: Corte feminino – Studio Bela");
    assert.ok(client.body.includes("We could not make the R$100.00 refund for this booking"), client.body);
    assert.ok(client.body.includes("Nothing has been given back yet."));
    assert.ok(!/on its way|will reach/.test(client.body + client.sms));
    assert.ok(client.sms.includes("was not made"), client.sms);
    const pt = renderNotification("booking_refund_failed", "pt-BR", bookingFacts());
    assert.ok(pt.body.includes("Não conseguimos fazer o reembolso de R$ 100,00"), pt.body);
    const staff = renderNotification(
      "refund_failed",
      "en",
      bookingFacts({ recipientName: "Owner", clientName: "Maria Silva", failureReason: "charge_not_refundable" }),
    );
    assert.ok(
      staff.body.includes(
        "refused the R$100.00 refund to Maria Silva for this booking (reason: charge_not_refundable)",
      ),
      staff.body,
    );
    assert.ok(staff.body.includes("An administrator can retry it"));
    const staffPt = renderNotification("refund_failed", "pt-BR", bookingFacts({ clientName: "Maria Silva" }));
    assert.ok(staffPt.body.includes("recusou o reembolso de R$ 100,00 para Maria Silva"), staffPt.body);
    for (const template of ["booking_refund_failed", "refund_failed"] as const) {
      assert.throws(() => renderNotification(template, "en", bookingFacts({ refund: undefined })), TypeError);
    }
  });

  await t.step("booking_created states the deposit and its deadline only when one is due", () => {
    const withDeposit = renderNotification("booking_created", "en", bookingFacts());
    assert.ok(withDeposit.body.includes("R$30.00 deposit by Tuesday, 2 June 2026, 10:00 (UTC−03:00)"));
    assert.ok(withDeposit.sms.includes("R$30.00") && withDeposit.sms.includes("Tue 2 Jun 10:00"), withDeposit.sms);
    const withoutDeposit = renderNotification(
      "booking_created",
      "pt-BR",
      bookingFacts({ deposit: undefined, holdExpiresAt: undefined }),
    );
    assert.ok(!withoutDeposit.body.includes("sinal") && !withoutDeposit.sms.includes("sinal"));
  });

  await t.step("reminders say when: tomorrow, in hours, or in days across a DST change", () => {
    const subjectOf = (locale: "en" | "pt-BR", facts: Partial<BookingFacts>) =>
      renderNotification("booking_reminder", locale, bookingFacts(facts)).subject;
    assert.equal(subjectOf("en", { hoursBefore: 24 }), "Reminder: Corte feminino tomorrow – Studio Bela");
    assert.equal(subjectOf("pt-BR", { hoursBefore: 24 }), "Lembrete: Corte feminino amanhã – Studio Bela");
    assert.equal(subjectOf("pt-BR", { hoursBefore: 2 }), "Lembrete: Corte feminino daqui a 2 horas – Studio Bela");
    assert.equal(subjectOf("en", { hoursBefore: 1 }), "Reminder: Corte feminino in 1 hour – Studio Bela");
    assert.equal(subjectOf("en", { hoursBefore: 48 }), "Reminder: Corte feminino in 2 days – Studio Bela");
    // 00:30 EDT on 9 March 2026; 24 real hours earlier New York's clock read 23:30 on 7 March (before the jump).
    assert.equal(
      subjectOf("en", { hoursBefore: 24, startsAt: Date.UTC(2026, 2, 9, 4, 30), timeZone: "America/New_York" }),
      "Reminder: Corte feminino in 1 day – Studio Bela",
    );
  });

  await t.step("account messages give the code, the link when present, and the validity", () => {
    const invitation = renderNotification("professional_invitation", "pt-BR", accountFacts({ validMinutes: 10080 }));
    assert.ok(invitation.body.includes("K7Q-93XZ") && invitation.body.includes("7 dias"), invitation.body);
    assert.ok(invitation.body.includes("https://salao.example/verify?code=K7Q-93XZ"));
    assert.ok(invitation.sms.includes("7 dias") && invitation.subject.includes("Studio Bela"));
    const reset = renderNotification("password_reset", "en", accountFacts({ link: undefined, validMinutes: 60 }));
    assert.ok(reset.body.includes("1 hour") && !reset.body.includes("link"), reset.body);
    assert.ok(renderNotification("verify_email", "en", accountFacts({ validMinutes: 10080 })).sms.includes("7 days"));
  });

  await t.step("the phone code SMS gives the code and its 10 minutes in both languages, within 160", () => {
    for (const [locale, minutes] of [["pt-BR", "10 minutos"], ["en", "10 minutes"]] as const) {
      const { sms } = renderNotification("verify_phone", locale, accountFacts({ code: "042917", validMinutes: 10 }));
      assert.ok(sms.includes("042917") && sms.includes(minutes), sms);
      assert.ok(sms.length <= SMS_MAX_LENGTH, sms);
    }
  });

  await t.step("snapshot: booking_cancelled in pt-BR", () => {
    const rendered = renderNotification("booking_cancelled", "pt-BR", bookingFacts());
    assert.deepEqual(rendered, {
      subject: "Agendamento cancelado: Corte feminino – Studio Bela",
      body: [
        "Olá, Maria Silva!",
        "",
        "Seu agendamento foi cancelado a seu pedido.",
        "",
        "Salão: Studio Bela",
        "Serviço: Corte feminino",
        "Profissional: Ana Souza",
        "Data e hora: quarta-feira, 3 de junho de 2026, 10:00 (UTC−03:00)",
        "Valor: R$ 120,00",
        "",
        "Taxa de cancelamento: R$ 20,00.",
        "Reembolso solicitado: R$ 100,00.",
      ].join("\n"),
      sms: "Studio Bela: seu agendamento de Corte feminino com Ana Souza para qua 03/06 10:00 (UTC−03:00) foi " +
        "cancelado a seu pedido. Taxa R$ 20,00. Reembolso R$ 100,00.",
    });
  });

  await t.step("snapshot: booking_reminder in en", () => {
    const rendered = renderNotification(
      "booking_reminder",
      "en",
      bookingFacts({ hoursBefore: 2, price: { amount: 4500, currency: "USD" } }),
    );
    assert.deepEqual(rendered, {
      subject: "Reminder: Corte feminino in 2 hours – Studio Bela",
      body: [
        "Hi Maria Silva,",
        "",
        "Just a reminder: your appointment is in 2 hours.",
        "",
        "Salon: Studio Bela",
        "Service: Corte feminino",
        "Professional: Ana Souza",
        "Date and time: Wednesday, 3 June 2026, 10:00 (UTC−03:00)",
        "Price: $45.00",
        "",
        "See you soon!",
      ].join("\n"),
      sms: "Studio Bela: reminder: Corte feminino with Ana Souza in 2 hours, Wed 3 Jun 10:00 (UTC−03:00).",
    });
  });
  await t.step("new templates throw a TypeError without their required facts, a RangeError on bad counts", () => {
    const missing: Array<[TemplateName, Partial<BookingFacts>]> = [
      ["payment_receipt", { paid: undefined }],
      ["waitlist_offer", { offerExpiresAt: undefined }],
      ["loyalty_points", { points: undefined }],
      ["loyalty_points", { balance: undefined }],
    ];
    for (const [template, overrides] of missing) {
      for (const locale of LOCALES) {
        assert.throws(() => renderNotification(template, locale, bookingFacts(overrides)), TypeError, template);
      }
    }
    for (const overrides of [{ points: 0 }, { points: 1.5 }, { balance: 2.5 }, { balance: Number.NaN }]) {
      assert.throws(() => renderNotification("loyalty_points", "en", bookingFacts(overrides)), RangeError);
    }
    assert.throws(
      () => renderNotification("payment_receipt", "en", bookingFacts({ paid: { amount: 10.5, currency: "BRL" } })),
      RangeError,
    );
  });

  await t.step("payment_receipt states the amount paid", () => {
    const { body, sms } = renderNotification("payment_receipt", "pt-BR", bookingFacts());
    assert.ok(body.includes("Recebemos seu pagamento de R$ 30,00"), body);
    assert.ok(sms.includes("R$ 30,00"), sms);
  });

  await t.step("waitlist_offer states the offer's deadline in the salon's local time", () => {
    const en = renderNotification("waitlist_offer", "en", bookingFacts());
    assert.ok(en.body.includes("book by Tuesday, 2 June 2026, 14:00 (UTC−03:00)"), en.body);
    assert.ok(en.sms.includes("Book by Tue 2 Jun 14:00 (UTC−03:00)"), en.sms);
    const pt = renderNotification("waitlist_offer", "pt-BR", bookingFacts());
    assert.ok(pt.body.includes("agende até terça-feira, 2 de junho de 2026, 14:00 (UTC−03:00)"), pt.body);
    assert.ok(pt.sms.includes("Agende até ter 02/06 14:00 (UTC−03:00)"), pt.sms);
  });

  await t.step("loyalty_points says earned or spent, and the new balance, with grouping and plurals", () => {
    const earned = renderNotification("loyalty_points", "en", bookingFacts({ points: 1250, balance: 1 }));
    assert.ok(earned.subject.startsWith("Points earned:"), earned.subject);
    assert.ok(earned.body.includes("You earned 1,250 points for this booking. Your balance is now 1 point."));
    assert.ok(earned.sms.includes("earned 1,250 points") && earned.sms.includes("Balance: 1 point."), earned.sms);
    const spent = renderNotification("loyalty_points", "pt-BR", bookingFacts({ points: -1, balance: 2000 }));
    assert.ok(spent.subject.startsWith("Pontos usados:"), spent.subject);
    assert.ok(spent.body.includes("Você usou 1 ponto neste agendamento. Seu saldo agora é de 2.000 pontos."));
    assert.ok(spent.sms.includes("você usou 1 ponto") && spent.sms.includes("Saldo: 2.000 pontos."), spent.sms);
    const pt = renderNotification("loyalty_points", "pt-BR", bookingFacts({ points: 30, balance: 0 }));
    assert.ok(pt.body.includes("Você ganhou 30 pontos com este agendamento. Seu saldo agora é de 0 pontos."));
  });

  await t.step("snapshot: payment_receipt in en", () => {
    const rendered = renderNotification(
      "payment_receipt",
      "en",
      bookingFacts({ price: { amount: 4500, currency: "USD" }, paid: { amount: 4500, currency: "USD" } }),
    );
    assert.deepEqual(rendered, {
      subject: "Payment received: Corte feminino – Studio Bela",
      body: [
        "Hi Maria Silva,",
        "",
        "We have received your payment of $45.00 for this booking.",
        "",
        "Salon: Studio Bela",
        "Service: Corte feminino",
        "Professional: Ana Souza",
        "Date and time: Wednesday, 3 June 2026, 10:00 (UTC−03:00)",
        "Price: $45.00",
        "",
        "See you soon!",
      ].join("\n"),
      sms: "Studio Bela: payment of $45.00 received for Corte feminino with Ana Souza on Wed 3 Jun 10:00 (UTC−03:00).",
    });
  });
});
