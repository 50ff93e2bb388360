import type pg from 'pg';
import type { Policy } from '../src/config/policy.js';
import { storedMaintenanceWindows } from '../src/db/maintenance-windows.js';
import type { Labels } from '../src/domain/alerts.js';
import type { AlertRecord, IncidentEvent, IncidentRow } from '../src/domain/incident.js';

export type { IncidentRow } from '../src/domain/incident.js';
import { choosePolicy, type EscalationPlan } from '../src/domain/escalation.js';
import { matchesAll } from '../src/domain/matchers.js';
import { muteReason, openWindowFor, windowClosesAt } from '../src/domain/muting.js';
import type { Severity, SeverityPolicy } from '../src/domain/severity.js';
import { writeAuditEvent } from '../src/db/audit.js';
import { bindDeps } from './bind-deps.js';

/**
 * The incident's side of PostgreSQL: the rules it runs by, which of its alerts
 * are muted (maintenance windows from the policy and the database, inhibition
 * by alerts firing anywhere), and its persistent record (incidents,
 * incident_events, incident_alerts), which reports compute MTTA/MTTR from.
 */

export interface IncidentDeps {
  pool: pg.Pool;
  policy: Policy;
  slackEnabled: boolean;
  temporalUiUrl: string;
}

/** What an incident run needs of the policy: plain JSON, recorded in its history. */
export interface IncidentRulesSnapshot {
  severity: SeverityPolicy;
  quietPeriodMs: number;
  reopenWindowMs: number;
  slackEnabled: boolean;
  temporalUiUrl: string;
  escalationEnabled: boolean;
  /** Whether any runbook answers alerts; absent in histories recorded before runbooks. */
  remediationEnabled?: boolean;
}

export interface PersistIncidentInput {
  incidentId: string;
  workflowId: string;
  runId: string;
  incident: IncidentRow;
  events: IncidentEvent[];
  alerts: AlertRecord[];
}


export interface MuteQuestion {
  incidentId: string;
  alerts: Array<{ fingerprint: string; labels: Labels }>;
}

/** How soon an inhibited alert is looked at again. */
export const INHIBITION_RECHECK_MS = 15_000;

/** Reasons by fingerprint, and the earliest instant one of them may end. */
async function muting(deps: IncidentDeps, input: MuteQuestion): Promise<{ reasons: Record<string, string>; closesAt?: number }> {
  const at = Date.now();
  // With our database down, the policy's windows still mute; opsctl's and other incidents' alerts are unknown.
  const stored = await storedMaintenanceWindows(deps.pool, { current: true }).catch(() => []);
  const windows = [...deps.policy.maintenanceWindows, ...stored.map((entry) => entry.window)];
  const reasons: Record<string, string> = {};
  let closesAt: number | undefined;
  const until = (instant: number) => (closesAt = closesAt === undefined ? instant : Math.min(closesAt, instant));
  for (const alert of input.alerts) {
    const window = openWindowFor(windows, alert.labels, at);
    if (window) {
      reasons[alert.fingerprint] = `maintenance window "${window.name}"`;
      until(windowClosesAt(window, at));
      continue;
    }
    // Sources: the delivery's own firing alerts and those firing in any open incident.
    let sources: Labels[] = input.alerts.map((other) => other.labels);
    const rules = deps.policy.inhibitRules.filter((rule) => matchesAll(rule.targetMatchers, alert.labels));
    for (const rule of rules) {
      const equal = Object.fromEntries(rule.equal.map((name) => [name, alert.labels[name] ?? '']));
      const rows = await deps.pool
        .query<{ labels: Labels }>(
          `SELECT labels FROM incident_alerts WHERE status = 'firing' AND labels @> $1::jsonb
             AND NOT (incident_id = $2 AND fingerprint = $3) LIMIT 500`,
          [JSON.stringify(equal), input.incidentId, alert.fingerprint],
        )
        .then((result) => result.rows, () => []);
      sources = [...sources, ...rows.map((row) => row.labels)];
    }
    const reason = muteReason(alert.labels, at, [], rules, sources);
    if (reason) {
      reasons[alert.fingerprint] = reason;
      until(at + INHIBITION_RECHECK_MS);
    }
  }
  return { reasons, ...(closesAt !== undefined ? { closesAt } : {}) };
}

export async function loadIncidentRules(deps: IncidentDeps): Promise<IncidentRulesSnapshot> {
  return {
    severity: { defaultSeverity: deps.policy.incidents.defaultSeverity, overrides: deps.policy.severity.overrides },
    quietPeriodMs: deps.policy.incidents.quietPeriod,
    reopenWindowMs: deps.policy.incidents.reopenWindow,
    slackEnabled: deps.slackEnabled,
    temporalUiUrl: deps.temporalUiUrl.replace(/\/$/, ''),
    escalationEnabled: deps.policy.escalation.policies.length > 0,
    remediationEnabled: deps.policy.remediation.runbooks.some((runbook) => runbook.match.length > 0),
  };
}

/** The ladder an incident climbs: the first matching route's policy, else the default; null for none. */
export async function planEscalation(deps: IncidentDeps, input: { labels: Labels; severity: Severity; service: string }): Promise<EscalationPlan | null> {
  const { escalation } = deps.policy;
  const chosen = choosePolicy(escalation.routes, escalation.policies, escalation.defaultPolicy, {
    ...input.labels,
    severity: input.severity,
    service: input.service,
  });
  if (!chosen) return null;
  return {
    policy: chosen,
    responseTimesMs: escalation.responseTimes,
    incidentCheckMs: escalation.incidentCheck,
    ...(escalation.businessHours ? { businessHours: escalation.businessHours } : {}),
  };
}

/** Mute reasons by fingerprint for the given firing alerts; absent = pages. */
export async function evaluateMutes(deps: IncidentDeps, input: MuteQuestion): Promise<Record<string, string>> {
  return (await muting(deps, input)).reasons;
}

/**
 * Mute reasons, and when to ask again: when the earliest window that mutes
 * one of them closes, and within INHIBITION_RECHECK_MS while one is
 * inhibited (the inhibiting alert lives in another incident).
 */
export async function evaluateMuting(deps: IncidentDeps, input: MuteQuestion): Promise<{ reasons: Record<string, string>; recheckAt?: string }> {
  const { reasons, closesAt } = await muting(deps, input);
  return { reasons, ...(closesAt !== undefined ? { recheckAt: new Date(closesAt).toISOString() } : {}) };
}

/**
 * Writes the incident's current row, its new timeline events and changed
 * alerts in one transaction. Idempotent: events are keyed by (incident,
 * seq), and an older snapshot never overwrites a newer one.
 */
export async function persistIncident(deps: IncidentDeps, input: PersistIncidentInput): Promise<void> {
  const { incident } = input;
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO incidents (id, workflow_id, run_id, dedup_key, source, title, service, severity, status, muted,
         opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, reopen_count, last_seq, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, now())
       ON CONFLICT (id) DO UPDATE SET run_id = EXCLUDED.run_id, title = EXCLUDED.title, service = EXCLUDED.service,
         severity = EXCLUDED.severity, status = EXCLUDED.status, muted = EXCLUDED.muted,
         acknowledged_at = EXCLUDED.acknowledged_at, acknowledged_by = EXCLUDED.acknowledged_by,
         resolved_at = EXCLUDED.resolved_at, resolved_by = EXCLUDED.resolved_by,
         reopen_count = EXCLUDED.reopen_count, last_seq = EXCLUDED.last_seq, updated_at = now()
       WHERE incidents.last_seq <= EXCLUDED.last_seq`,
      [
        input.incidentId,
        input.workflowId,
        input.runId,
        incident.dedupKey,
        incident.source,
        incident.title,
        incident.service,
        incident.severity,
        incident.phase,
        incident.muted,
        incident.openedAt,
        incident.acknowledgedAt ?? null,
        incident.acknowledgedBy ?? null,
        incident.resolvedAt ?? null,
        incident.resolvedBy ?? null,
        incident.reopenCount,
        incident.lastSeq,
      ],
    );
    if (input.events.length > 0) {
      await client.query(
        `INSERT INTO incident_events (incident_id, seq, at, actor, kind, text, fingerprint)
         SELECT $1, * FROM unnest($2::int[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[])
         ON CONFLICT DO NOTHING`,
        [
          input.incidentId,
          input.events.map((event) => event.seq),
          input.events.map((event) => event.at),
          input.events.map((event) => event.actor),
          input.events.map((event) => event.kind),
          input.events.map((event) => event.text),
          input.events.map((event) => event.fingerprint ?? null),
        ],
      );
    }
    if (input.alerts.length > 0) {
      // One statement for the whole batch: an alert storm writes hundreds of alerts at once.
      const column = <T>(pick: (alert: AlertRecord) => T) => input.alerts.map(pick);
      await client.query(
        `INSERT INTO incident_alerts (incident_id, fingerprint, alertname, status, severity, labels, starts_at, ends_at,
           muted_by, first_seen_at, updated_at)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[],
           $8::timestamptz[], $9::text[], $10::timestamptz[], $11::timestamptz[])
         ON CONFLICT (incident_id, fingerprint) DO UPDATE SET status = EXCLUDED.status, severity = EXCLUDED.severity,
           labels = EXCLUDED.labels, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
           muted_by = EXCLUDED.muted_by, updated_at = EXCLUDED.updated_at
         WHERE incident_alerts.updated_at <= EXCLUDED.updated_at`,
        [
          input.incidentId,
          column((alert) => alert.fingerprint),
          column((alert) => alert.labels.alertname ?? null),
          column((alert) => alert.status),
          column((alert) => alert.severity),
          column((alert) => JSON.stringify(alert.labels)),
          column((alert) => alert.startsAt ?? null),
          column((alert) => alert.endsAt ?? null),
          column((alert) => alert.mutedBy ?? null),
          column((alert) => alert.firstSeenAt),
          column((alert) => alert.lastChangedAt),
        ],
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
  // People's actions on the incident are audited; the system's own are in the timeline.
  for (const event of input.events) {
    if (event.actor === 'system' || !['acknowledged', 'resolved', 'note'].includes(event.kind)) continue;
    await writeAuditEvent(
      deps.pool,
      {
        actor: event.actor,
        action: `incident.${event.kind === 'note' ? 'add-note' : event.kind === 'acknowledged' ? 'acknowledge' : 'resolve'}`,
        target: input.workflowId,
        outcome: 'succeeded',
        details: { incidentId: input.incidentId, seq: event.seq, text: event.text },
        idempotencyKey: `${input.incidentId}:${event.seq}`,
      },
      { workflowId: input.workflowId, runId: input.runId },
    );
  }
}

export function createIncidentActivities(deps: IncidentDeps) {
  return bindDeps(deps, { loadIncidentRules, planEscalation, evaluateMutes, evaluateMuting, persistIncident });
}
