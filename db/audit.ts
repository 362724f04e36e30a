/** Audit events: written in the same batch as the change they describe. */
import type { Db } from "./client.ts";
import { auditEvents } from "./schema.ts";

/** Who did something, from where: copied into audit events. */
export interface AuditContext {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

export interface AuditEvent {
  actorId: string | null;
  action: string;
  entityType: string;
  entityId: string | null;
  fromState?: string | null;
  toState?: string | null;
  data?: Record<string, unknown>;
}

/** The insert of one audit event, to put in a batch beside the change. */
export function auditInsert(db: Db, context: AuditContext, event: AuditEvent) {
  return db.insert(auditEvents).values({
    actorId: event.actorId,
    action: event.action,
    entityType: event.entityType,
    entityId: event.entityId,
    fromState: event.fromState ?? null,
    toState: event.toState ?? null,
    ip: context.ip,
    requestId: context.requestId,
    data: { user_agent: context.userAgent, ...event.data },
  });
}
