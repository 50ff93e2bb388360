import type pg from 'pg';

/**
 * The audit trail: one row per action on a real system (who, what, target,
 * outcome), written once per idempotency key by activities, opsctl and the
 * webhook server alike.
 */

export type AuditOutcome = 'succeeded' | 'failed' | 'skipped' | 'dry-run' | 'refused';

export interface AuditEvent {
  /** Who acted: a person's handle, or "system" for automation. */
  actor: string;
  /** What was done, as a verb phrase: "backup.upload", "deployment.set-image". */
  action: string;
  /** What it was done to: "postgres/orders", "k8s/prod/deployment/api". */
  target: string;
  outcome: AuditOutcome;
  details?: Record<string, unknown>;
  /** Workflow ID + step: a retried or replayed activity writes the row once. */
  idempotencyKey: string;
}

const SECRET_KEY = /token|secret|password|authorization|api[-_]?key|routing[-_]?key/i;

/** Audit details never carry secrets, whatever a caller hands in. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, SECRET_KEY.test(key) ? '[redacted]' : redactSecrets(inner)]),
    );
  }
  return value;
}

/**
 * Inserts one audit row, once per idempotency key; returns the row's ID either
 * way. Other activity factories call this directly so every action on a real
 * system leaves its row in the same transaction-free, idempotent way.
 */
export async function writeAuditEvent(
  pool: pg.Pool,
  event: AuditEvent,
  execution?: { workflowId: string; runId: string },
): Promise<{ id: string; inserted: boolean }> {
  const inserted = await pool.query<{ id: string }>(
    `INSERT INTO audit_events (actor, action, target, outcome, details, workflow_id, run_id, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (idempotency_key) DO NOTHING
     RETURNING id`,
    [
      event.actor,
      event.action,
      event.target,
      event.outcome,
      JSON.stringify(redactSecrets(event.details ?? {})),
      execution?.workflowId ?? null,
      execution?.runId ?? null,
      event.idempotencyKey,
    ],
  );
  const row = inserted.rows[0];
  if (row) return { id: row.id, inserted: true };
  const existing = await pool.query<{ id: string }>('SELECT id FROM audit_events WHERE idempotency_key = $1', [
    event.idempotencyKey,
  ]);
  return { id: existing.rows[0]!.id, inserted: false };
}
