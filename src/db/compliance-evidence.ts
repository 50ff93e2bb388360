import type pg from 'pg';
import type { Policy } from '../config/policy.js';
import { restoreDrillFailedDedupKey } from '../domain/backup.js';
import type { ComplianceEvidence, ComplianceWindow, RolloutEvidence } from '../domain/compliance.js';
import { windowIsOpen } from '../domain/muting.js';
import { verifyAuditChain } from './audit-chain.js';

/**
 * The compliance report's evidence, read from our own records for one month:
 * backups and their verifications, restore drills, rollouts with their scan
 * and approver (from the audit trail), incidents with their response times,
 * runbook steps, changes made while no approval window was open, and the
 * audit trail's hash chains.
 */
export type EvidencePolicy = Pick<Policy, 'compliance' | 'databases' | 'rollouts'>;

export async function collectEvidence(pool: pg.Pool, policy: EvidencePolicy, window: ComplianceWindow, now = Date.now()): Promise<Omit<ComplianceEvidence, 'generatedAt'>> {
  const range = [window.start, window.end];
  const startMs = Date.parse(window.start);
  const endMs = Math.min(Date.parse(window.end), now);

  const known = await pool.query<{ database: string }>(`SELECT DISTINCT database FROM backups WHERE finished_at < $1`, [window.end]);
  const databases = [...new Set(['default', ...Object.keys(policy.databases), ...known.rows.map((row) => row.database)])].sort();

  const taken = await pool.query<{ database: string; finished: Date[] }>(
    `SELECT database, array_agg(finished_at ORDER BY finished_at) AS finished FROM backups WHERE finished_at >= $1 AND finished_at < $2 GROUP BY database`,
    range,
  );
  const takenBy = new Map(taken.rows.map((row) => [row.database, row.finished.map((at) => at.getTime())]));
  const backups = databases.map((database) => {
    const times = takenBy.get(database) ?? [];
    const points = [startMs, ...times, endMs];
    let maxGapMs = 0;
    for (let index = 1; index < points.length; index += 1) maxGapMs = Math.max(maxGapMs, points[index]! - points[index - 1]!);
    return { database, taken: times.length, maxGapMs, ...(times.length > 0 ? { lastTakenAt: new Date(times[times.length - 1]!).toISOString() } : {}) };
  });

  const verified = await pool.query<{ database: string; passed: number; last: Date }>(
    `SELECT database, count(*)::int AS passed, max(verified_at) AS last FROM backups WHERE verified_at >= $1 AND verified_at < $2 GROUP BY database`,
    range,
  );
  const failedDrills = await pool.query<{ dedup_key: string; failed: number }>(
    `SELECT dedup_key, count(*)::int AS failed FROM incidents WHERE dedup_key LIKE 'restore-drill-failed-%' AND opened_at >= $1 AND opened_at < $2 GROUP BY dedup_key`,
    range,
  );
  const passedBy = new Map(verified.rows.map((row) => [row.database, row]));
  const failedBy = new Map(failedDrills.rows.map((row) => [row.dedup_key, row.failed]));
  const drills = databases.map((database) => {
    const passed = passedBy.get(database);
    return { database, passed: passed?.passed ?? 0, failed: failedBy.get(restoreDrillFailedDedupKey(database)) ?? 0, ...(passed ? { lastPassedAt: passed.last.toISOString() } : {}) };
  });

  const rolloutRows = await pool.query<{ workflow_id: string; action: string; actor: string; target: string; occurred_at: Date; detail: string | null; image: string | null }>(
    `SELECT workflow_id, action, actor, target, occurred_at, details->>'detail' AS detail, details->>'image' AS image
       FROM audit_events
      WHERE action LIKE 'rollout.%' AND workflow_id IN (SELECT workflow_id FROM audit_events WHERE action = 'rollout.checked' AND occurred_at >= $1 AND occurred_at < $2)
      ORDER BY workflow_id, occurred_at, id`,
    range,
  );
  const rollouts = new Map<string, RolloutEvidence>();
  for (const row of rolloutRows.rows) {
    const rollout = rollouts.get(row.workflow_id) ?? { workflowId: row.workflow_id, target: row.target, startedAt: row.occurred_at.toISOString(), outcome: 'unfinished', approvalRequired: false };
    rollouts.set(row.workflow_id, rollout);
    if (row.image) rollout.image = row.image;
    const step = row.action.slice('rollout.'.length);
    if (step === 'scanned') rollout.scan = row.detail ?? 'scanned';
    if (step === 'awaiting-approval' || step === 'approved') rollout.approvalRequired = true;
    if (step === 'approved') rollout.approvedBy = row.actor;
    if ((step === 'image-set' || step === 'promoted') && !rollout.changedAt) rollout.changedAt = row.occurred_at.toISOString();
    if (step === 'done') rollout.outcome = 'succeeded';
    if (step === 'failed' && rollout.outcome === 'unfinished') rollout.outcome = 'failed';
    if (step === 'rollback' || step === 'restore-image') rollout.outcome = 'rolled-back';
    if (step === 'refused' || step === 'approval-refused' || step === 'rejected') rollout.outcome = 'refused';
  }

  const incidentRows = await pool.query<{ id: string; severity: string; opened_at: Date; responded_at: Date | null }>(
    `SELECT id, severity, opened_at, least(acknowledged_at, resolved_at) AS responded_at FROM incidents WHERE opened_at >= $1 AND opened_at < $2 ORDER BY opened_at, id`,
    range,
  );
  const targets = policy.compliance.responseTargets as Record<string, number>;
  const incidents = incidentRows.rows.map((row) => ({
    id: row.id,
    severity: row.severity,
    openedAt: row.opened_at.toISOString(),
    targetMs: targets[row.severity] ?? targets.low!,
    ...(row.responded_at
      ? { respondedAt: row.responded_at.toISOString(), responseMs: row.responded_at.getTime() - row.opened_at.getTime() }
      : row.opened_at.getTime() + (targets[row.severity] ?? targets.low!) > now
        ? { pending: true }
        : {}),
  }));

  // Per runbook and step outcome: the steps, and the runs (workflows) they belong to.
  const runbookRows = await pool.query<{ runbook: string; outcome: string; steps: number; runs: string[] }>(
    `SELECT coalesce(details->>'runbook', '(unnamed)') AS runbook, outcome, count(*)::int AS steps, array_agg(DISTINCT coalesce(workflow_id, '')) AS runs
       FROM audit_events WHERE action LIKE 'remediation.%' AND occurred_at >= $1 AND occurred_at < $2 GROUP BY 1, 2 ORDER BY 1`,
    range,
  );
  const runbooks = [...new Set(runbookRows.rows.map((row) => row.runbook))].map((runbook) => {
    const rows = runbookRows.rows.filter((row) => row.runbook === runbook);
    return {
      runbook,
      runs: new Set(rows.flatMap((row) => row.runs)).size,
      steps: Object.fromEntries(rows.map((row) => [row.outcome === 'succeeded' ? 'done' : row.outcome, row.steps])),
    };
  });

  const windows = policy.rollouts.windows;
  const changeRows = await pool.query<{ occurred_at: Date; actor: string; action: string; target: string; approver: string | null; incident: string | null }>(
    `SELECT e.occurred_at, e.actor, e.action, e.target,
            (SELECT a.actor FROM audit_events a WHERE a.workflow_id = e.workflow_id AND a.action = 'rollout.approved' ORDER BY a.id LIMIT 1) AS approver,
            e.details->>'incident' AS incident
       FROM audit_events e
      WHERE e.occurred_at >= $1 AND e.occurred_at < $2
        AND (e.action IN ('rollout.image-set', 'rollout.promoted') OR (e.action LIKE 'remediation.%' AND e.outcome = 'succeeded'))
      ORDER BY e.occurred_at, e.id`,
    range,
  );
  const changes = windows.length === 0 ? [] : changeRows.rows.filter((row) => !windows.some((open) => windowIsOpen(open, row.occurred_at.getTime())));

  const chain = await verifyAuditChain(pool);
  return {
    window,
    backups,
    drills,
    rollouts: [...rollouts.values()],
    incidents,
    runbooks,
    changesOutsideWindows: {
      windows: windows.length > 0,
      changes: changes.map((row) => ({
        at: row.occurred_at.toISOString(),
        actor: row.actor,
        action: row.action,
        target: row.target,
        ...(row.approver ? { approval: `approved by ${row.approver}` } : row.incident ? { approval: `answering ${row.incident}` } : {}),
      })),
    },
    auditChain: {
      ok: chain.ok,
      rows: chain.rows,
      heads: chain.streams.map((stream) => ({ stream: stream.stream, seq: stream.headSeq, hash: stream.headHash })),
      breaks: chain.breaks.map((problem) => `${problem.stream}${problem.id ? ` row ${problem.id}` : ''}: ${problem.reason}`),
    },
  };
}
