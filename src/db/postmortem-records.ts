import type pg from 'pg';
import type { IncidentState } from '../domain/incident.js';

/**
 * What a post-mortem is written from, read from our own records: the
 * incident, its alerts and timeline, the pages its ladders sent, and the
 * changes around it in time (rollouts, backups, other actions on real systems
 * from the audit trail), from `lookbackMs` before it opened until it resolved.
 */
export interface PostmortemRecord {
  /** The incident as its row in `incidents` has it: the fields of its workflow's state, and its status. */
  incident: Pick<IncidentState, 'title' | 'service' | 'severity' | 'openedAt' | 'acknowledgedAt' | 'acknowledgedBy' | 'resolvedAt' | 'resolvedBy' | 'reopenCount'> & {
    id: string;
    workflowId: string;
    status: string;
  };
  alerts: Array<{ alertname: string; fingerprint: string; status: string; severity: string; startsAt?: string; endsAt?: string; labels: Record<string, string>; mutedBy?: string }>;
  timeline: Array<{ seq: number; at: string; actor: string; kind: string; text: string }>;
  pages: Array<{ at: string; level?: number; target: string; channel: string; kind: string; outcome: string; person?: string; error?: string }>;
  window: { from: string; to: string };
  rollouts: Array<{ workflowId: string; target: string; from: string; to: string; actions: string[]; actors: string[] }>;
  backups: Array<{ kind: 'logical' | 'base'; database: string; startedAt: string; finishedAt: string; bytes: number }>;
  changes: Array<{ at: string; actor: string; action: string; target: string; outcome: string }>;
}

export const POSTMORTEM_LOOKBACK_MS = 3_600_000;
const iso = (value: Date | null | undefined) => (value ? value.toISOString() : undefined);

/** The incident by its ID (`<workflow ID>/<run>`) or workflow ID (its newest run); undefined when there is none. */
export async function findIncidentRecordId(pool: pg.Pool, reference: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM incidents WHERE id = $1 OR workflow_id = $1 ORDER BY (id = $1) DESC, opened_at DESC LIMIT 1`,
    [reference],
  );
  return rows[0]?.id;
}

export async function loadPostmortemRecord(pool: pg.Pool, incidentId: string, lookbackMs = POSTMORTEM_LOOKBACK_MS): Promise<PostmortemRecord | undefined> {
  const found = await pool.query(`SELECT * FROM incidents WHERE id = $1`, [incidentId]);
  const row = found.rows[0];
  if (!row) return undefined;
  const openedAt: Date = row.opened_at;
  const until: Date = row.resolved_at ?? new Date();
  const from = new Date(openedAt.getTime() - lookbackMs);
  const [alerts, timeline, pages, rollouts, backups, baseBackups, changes] = await Promise.all([
    pool.query(`SELECT * FROM incident_alerts WHERE incident_id = $1 ORDER BY first_seen_at, fingerprint`, [incidentId]),
    pool.query(`SELECT seq, at, actor, kind, text FROM incident_events WHERE incident_id = $1 ORDER BY seq`, [incidentId]),
    pool.query(`SELECT * FROM notifications WHERE incident_id = $1 ORDER BY sent_at, id`, [incidentId]),
    pool.query(
      `SELECT workflow_id, min(target) AS target, min(occurred_at) AS first_at, max(occurred_at) AS last_at,
              array_agg(action ORDER BY occurred_at, id) AS actions, array_agg(DISTINCT actor) AS actors
         FROM audit_events WHERE action LIKE 'rollout.%' AND occurred_at BETWEEN $1 AND $2 AND workflow_id IS NOT NULL
        GROUP BY workflow_id ORDER BY min(occurred_at)`,
      [from, until],
    ),
    pool.query(`SELECT database, started_at, finished_at, bytes FROM backups WHERE started_at <= $2 AND finished_at >= $1 ORDER BY started_at`, [from, until]),
    pool.query(`SELECT database, started_at, finished_at, bytes FROM base_backups WHERE started_at <= $2 AND finished_at >= $1 ORDER BY started_at`, [from, until]),
    pool.query(
      `SELECT occurred_at, actor, action, target, outcome FROM audit_events
        WHERE occurred_at BETWEEN $1 AND $2 AND split_part(action, '.', 1) IN ('kubernetes', 'database', 'remediation', 'backup')
          AND outcome IN ('succeeded', 'failed') ORDER BY occurred_at, id LIMIT 200`,
      [from, until],
    ),
  ]);
  return {
    incident: {
      id: row.id,
      workflowId: row.workflow_id,
      title: row.title,
      service: row.service,
      severity: row.severity,
      status: row.status,
      openedAt: openedAt.toISOString(),
      ...(row.acknowledged_at ? { acknowledgedAt: iso(row.acknowledged_at), acknowledgedBy: row.acknowledged_by } : {}),
      ...(row.resolved_at ? { resolvedAt: iso(row.resolved_at), resolvedBy: row.resolved_by } : {}),
      reopenCount: row.reopen_count,
    },
    alerts: alerts.rows.map((alert) => ({
      alertname: alert.alertname ?? alert.labels.alertname ?? alert.fingerprint,
      fingerprint: alert.fingerprint,
      status: alert.status,
      severity: alert.severity,
      ...(alert.starts_at ? { startsAt: iso(alert.starts_at) } : {}),
      ...(alert.ends_at ? { endsAt: iso(alert.ends_at) } : {}),
      labels: alert.labels,
      ...(alert.muted_by ? { mutedBy: alert.muted_by } : {}),
    })),
    timeline: timeline.rows.map((event) => ({ seq: event.seq, at: event.at.toISOString(), actor: event.actor, kind: event.kind, text: event.text })),
    pages: pages.rows.map((page) => ({
      at: page.sent_at.toISOString(),
      ...(page.level !== null ? { level: page.level } : {}),
      target: page.target,
      channel: page.channel,
      kind: page.kind,
      outcome: page.outcome,
      ...(page.person ? { person: page.person } : {}),
      ...(page.error ? { error: page.error } : {}),
    })),
    window: { from: from.toISOString(), to: until.toISOString() },
    rollouts: rollouts.rows.map((rollout) => ({
      workflowId: rollout.workflow_id,
      target: rollout.target,
      from: rollout.first_at.toISOString(),
      to: rollout.last_at.toISOString(),
      actions: rollout.actions,
      actors: rollout.actors,
    })),
    backups: [
      ...backups.rows.map((backup) => ({ kind: 'logical' as const, database: backup.database, startedAt: backup.started_at.toISOString(), finishedAt: backup.finished_at.toISOString(), bytes: Number(backup.bytes) })),
      ...baseBackups.rows.map((backup) => ({ kind: 'base' as const, database: backup.database, startedAt: backup.started_at.toISOString(), finishedAt: backup.finished_at.toISOString(), bytes: Number(backup.bytes) })),
    ].sort((a, b) => a.startedAt.localeCompare(b.startedAt)),
    changes: changes.rows.map((change) => ({ at: change.occurred_at.toISOString(), actor: change.actor, action: change.action, target: change.target, outcome: change.outcome })),
  };
}
