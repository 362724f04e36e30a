/**
 * Jobs: published by name with a payload, an optional not-before time and a deduplication id, and
 * delivered to this API's `/jobs/{name}` route signed as QStash signs. Production publishes through
 * QStash; the embedded dispatcher keeps jobs in Postgres (a restart loses nothing), delivers due
 * ones over HTTP, retries with QStash's backoff shape and moves a job to the dead letter after the
 * last attempt. Cron schedules are published once per period (deduplicated by period).
 */
import { Client } from "@upstash/qstash";
import { and, eq, sql } from "drizzle-orm";
import type { AuditContext } from "../db/audit.ts";
import type { Db } from "../db/client.ts";
import { jobs, notifications, users } from "../db/schema.ts";
import { chooseLocale, JOB_DEAD_TEMPLATE, renderJobDead } from "../domain/notifications.ts";
import { type SigningKeys, signLikeQStash } from "./signature.ts";

export const JOB_NAMES = [
  "expire-hold",
  "expire-holds",
  "detect-no-shows",
  "relay-outbox",
  "send-notification",
  "remind",
  "create-refund",
  "reconcile-payments",
  "purge-expired",
] as const;
export type JobName = typeof JOB_NAMES[number];

/** Cron schedules: name and period. */
export const SCHEDULES: readonly { name: JobName; everyMinutes: number; cron: string }[] = [
  { name: "expire-holds", everyMinutes: 1, cron: "* * * * *" },
  // Catches outbox rows whose prompt relay was lost (a crash between commit and publish).
  { name: "relay-outbox", everyMinutes: 1, cron: "* * * * *" },
  { name: "detect-no-shows", everyMinutes: 5, cron: "*/5 * * * *" },
  { name: "reconcile-payments", everyMinutes: 24 * 60, cron: "0 3 * * *" },
  { name: "purge-expired", everyMinutes: 24 * 60, cron: "30 3 * * *" },
];

export interface JobRequest {
  name: JobName;
  payload: Record<string, unknown>;
  notBefore?: Date;
  deduplicationId?: string;
  /**
   * Skip the publish when a job of this name is already waiting and not yet picked up (it will do
   * the same work); for idempotent sweeps that many requests ask for.
   */
  coalesce?: boolean;
}

export interface JobPublisher {
  readonly kind: "embedded" | "qstash";
  publish(job: JobRequest): Promise<void>;
}

/** QStash's retry delay after the n-th failed attempt (exponential, capped at a day). */
export function retryDelayMs(attempt: number): number {
  return Math.min(86_400_000, Math.round(Math.exp(2.5 * attempt) * 1000));
}

export interface EmbeddedDispatcherOptions {
  db: Db;
  baseUrl: string;
  keys: SigningKeys;
  now: () => Date;
  /** Sends the signed request; the real app's `fetch` over HTTP in production-like runs. */
  deliver: (request: Request) => Promise<Response>;
  maxAttempts: number;
  /** Multiplies retry delays (tests shorten them). */
  backoffScale?: number;
  onError?: (message: string, fields: Record<string, unknown>) => void;
}

export interface DeliveryReport {
  delivered: number;
  retried: number;
  dead: number;
}

/** The embedded dispatcher: jobs in the `jobs` table, delivered by `runDue` (a timer calls it). */
export class EmbeddedDispatcher implements JobPublisher {
  readonly kind = "embedded" as const;
  readonly #options: EmbeddedDispatcherOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<unknown> | null = null;

  constructor(options: EmbeddedDispatcherOptions) {
    this.#options = options;
  }

  async publish(job: JobRequest): Promise<void> {
    const { db, now } = this.#options;
    if (job.coalesce) {
      // A job not yet claimed (no attempt) will see whatever this request committed.
      await db.execute(sql`
        INSERT INTO ${jobs} (name, payload, not_before)
        SELECT ${job.name}, ${JSON.stringify(job.payload)}::jsonb, ${(job.notBefore ?? now()).toISOString()}
        WHERE NOT EXISTS (
          SELECT 1 FROM ${jobs} WHERE name = ${job.name} AND status = 'PENDING' AND attempts = 0
        )`);
      return;
    }
    await db.insert(jobs).values({
      name: job.name,
      payload: job.payload,
      deduplicationId: job.deduplicationId ?? null,
      notBefore: job.notBefore ?? now(),
    }).onConflictDoNothing({ target: jobs.deduplicationId });
  }

  /** Publishes each schedule once for its current period. */
  async publishSchedules(): Promise<void> {
    const minute = Math.floor(this.#options.now().getTime() / 60_000);
    for (const schedule of SCHEDULES) {
      const period = Math.floor(minute / schedule.everyMinutes);
      await this.publish({ name: schedule.name, payload: {}, deduplicationId: `cron:${schedule.name}:${period}` });
    }
  }

  /** Claims due jobs and delivers them; returns what happened. */
  async runDue(limit = 20): Promise<DeliveryReport> {
    const { db, now, baseUrl, keys, deliver, maxAttempts } = this.#options;
    const at = now();
    // A claim leases the job for a minute, so a crashed delivery is retried rather than lost.
    const claimed = await db.update(jobs).set({
      attempts: sql`${jobs.attempts} + 1`,
      notBefore: new Date(at.getTime() + 60_000),
      updatedAt: at,
    }).where(sql`${jobs.id} in (
      select ${jobs.id} from ${jobs} where ${jobs.status} = 'PENDING' and ${jobs.notBefore} <= ${at.toISOString()}
      order by ${jobs.notBefore} limit ${limit} for update skip locked)`).returning();
    const report: DeliveryReport = { delivered: 0, retried: 0, dead: 0 };
    for (const job of claimed) {
      const url = `${baseUrl}/jobs/${job.name}`;
      const body = JSON.stringify(job.payload);
      let failure: string | null = null;
      try {
        // Signatures carry real time, as QStash's do: receivers check them against their own clock.
        const signature = await signLikeQStash({
          url,
          body,
          key: keys.current,
          nowSeconds: Math.floor(Date.now() / 1000),
        });
        const res = await deliver(
          new Request(url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "upstash-signature": signature,
              "upstash-message-id": job.id,
              "upstash-retried": String(job.attempts - 1),
            },
            body,
          }),
        );
        if (!res.ok) failure = failureOf(res.status, await res.text());
        else await res.body?.cancel();
      } catch (error) {
        failure = String(error).slice(0, 300);
      }
      if (failure === null) {
        await db.update(jobs).set({ status: "DELIVERED", updatedAt: now() }).where(eq(jobs.id, job.id));
        report.delivered++;
      } else if (job.attempts >= maxAttempts) {
        await this.#bury(job, failure);
        this.#options.onError?.("job moved to the dead letter", { job_id: job.id, name: job.name, error: failure });
        report.dead++;
      } else {
        const delay = retryDelayMs(job.attempts) * (this.#options.backoffScale ?? 1);
        await db.update(jobs).set({
          lastError: failure,
          notBefore: new Date(now().getTime() + delay),
          updatedAt: now(),
        }).where(eq(jobs.id, job.id));
        report.retried++;
      }
    }
    return report;
  }

  /**
   * Moves a job to the dead letter and, in the same batch, tells every active admin in-app (a dead
   * job is otherwise silent) and gives up its notification when it was a send that never started,
   * so the message reads FAILED rather than PENDING forever.
   */
  async #bury(job: typeof jobs.$inferSelect, failure: string): Promise<void> {
    const { db, now } = this.#options;
    const at = now();
    const admins = await db.select({ id: users.id, fullName: users.fullName, locale: users.locale }).from(users)
      .where(and(eq(users.role, "ADMIN"), eq(users.active, true)));
    const notificationId = job.name === "send-notification"
      ? (job.payload as { notification_id?: unknown }).notification_id
      : undefined;
    await db.batch([
      db.update(jobs).set({ status: "DEAD", lastError: failure, updatedAt: at }).where(eq(jobs.id, job.id)),
      ...(admins.length > 0
        ? [
          db.insert(notifications).values(admins.map((admin) => {
            const locale = chooseLocale(admin.locale, null);
            const rendered = renderJobDead(locale, {
              recipientName: admin.fullName,
              jobId: job.id,
              jobName: job.name,
              attempts: job.attempts,
              lastError: failure,
            });
            return {
              userId: admin.id,
              channel: "IN_APP" as const,
              template: JOB_DEAD_TEMPLATE,
              locale,
              subject: rendered.subject,
              body: rendered.body,
              // One alert per death: a re-driven job that dies again alerts again.
              dedupeKey: `job.dead:${job.id}:${at.getTime()}:${admin.id}`,
            };
          })).onConflictDoNothing(),
        ]
        : []),
      ...(typeof notificationId === "string"
        ? [
          db.update(notifications).set({ status: "FAILED", lastError: `delivery job dead: ${failure}`.slice(0, 500) })
            .where(and(eq(notifications.id, notificationId), eq(notifications.status, "PENDING"))),
        ]
        : []),
    ]);
  }

  /** Polls for due jobs and schedules every `pollMs`; one round at a time. */
  start(pollMs: number): void {
    this.#timer = setInterval(() => {
      if (this.#running) return;
      this.#running = this.publishSchedules().then(() => this.runDue()).catch((error) =>
        this.#options.onError?.("job dispatcher round failed", { error: String(error) })
      ).finally(() => {
        this.#running = null;
      });
    }, pollMs);
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#running;
  }
}

/**
 * The failure recorded as `last_error`: the job route names the handler's error in `job_error`, which
 * says more than the generic problem text; other answers (a proxy's page) keep their start.
 */
export function failureOf(status: number, text: string): string {
  try {
    const parsed = JSON.parse(text) as { job_error?: unknown };
    if (typeof parsed?.job_error === "string") return `HTTP ${status}: ${parsed.job_error}`.slice(0, 500);
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return `HTTP ${status}: ${text.slice(0, 300)}`;
}

/**
 * Puts a dead job back in the queue with fresh attempts and audits who did it, with the attempts and
 * error it had, in one statement (so the audit exists exactly when the job was re-driven); false
 * when there is no such dead job.
 */
export async function redrive(
  db: Db,
  id: string,
  now: Date,
  by: { actorId: string; context: AuditContext },
): Promise<boolean> {
  const at = now.toISOString();
  const result = await db.execute(sql`
    WITH prev AS (
      SELECT id, name, attempts, last_error FROM ${jobs} WHERE id = ${id} AND status = 'DEAD' FOR UPDATE
    ), moved AS (
      UPDATE ${jobs} SET status = 'PENDING', attempts = 0, not_before = ${at}, last_error = NULL, updated_at = ${at}
      FROM prev WHERE ${jobs}.id = prev.id RETURNING ${jobs}.id
    )
    INSERT INTO audit_events (actor_id, action, entity_type, entity_id, from_state, to_state, ip, request_id, data)
    SELECT ${by.actorId}, 'job.redrive', 'job', prev.id, 'DEAD', 'PENDING', ${by.context.ip}, ${by.context.requestId},
      jsonb_build_object('user_agent', ${by.context.userAgent}::text, 'name', prev.name,
        'previous_attempts', prev.attempts, 'last_error', prev.last_error)
    FROM prev JOIN moved ON moved.id = prev.id
    RETURNING id`);
  return (result as unknown as { rows: unknown[] }).rows.length === 1;
}

/** Publishes through QStash to this API's `/jobs/{name}` routes. */
export class QStashPublisher implements JobPublisher {
  readonly kind = "qstash" as const;
  readonly #client: Client;
  readonly #baseUrl: string;

  constructor(options: { token: string; baseUrl: string }) {
    this.#client = new Client({ token: options.token });
    this.#baseUrl = options.baseUrl;
  }

  async publish(job: JobRequest): Promise<void> {
    await this.#client.publishJSON({
      url: `${this.#baseUrl}/jobs/${job.name}`,
      body: job.payload,
      ...(job.notBefore ? { notBefore: Math.floor(job.notBefore.getTime() / 1000) } : {}),
      ...(job.deduplicationId ? { deduplicationId: job.deduplicationId } : {}),
    });
  }

  /** Creates or updates the cron schedules (idempotent: one schedule id per job). */
  async syncSchedules(): Promise<void> {
    for (const schedule of SCHEDULES) {
      await this.#client.schedules.create({
        scheduleId: `salon-booking-${schedule.name}`,
        destination: `${this.#baseUrl}/jobs/${schedule.name}`,
        cron: schedule.cron,
        body: "{}",
        headers: { "content-type": "application/json" },
      });
    }
  }
}
