/**
 * The monthly compliance report: evidence read from our own records, and one
 * pass/fail line per control judged against the policy's targets. Pure: the
 * activities collect the evidence, the renderers print it.
 */
export interface ComplianceWindow {
  /** YYYY-MM, the calendar month in UTC. */
  month: string;
  start: string;
  end: string;
}

export interface BackupEvidence {
  database: string;
  taken: number;
  /** The longest stretch of the month without a backup (from its start, between two, or to its end). */
  maxGapMs: number;
  lastTakenAt?: string;
}

export interface DrillEvidence {
  database: string;
  /** Verified restores (drills and post-backup verifications) that passed in the month. */
  passed: number;
  /** Drills that failed (their restore-drill-failed incidents opened in the month). */
  failed: number;
  lastPassedAt?: string;
}

export interface RolloutEvidence {
  workflowId: string;
  target: string;
  image?: string;
  startedAt: string;
  outcome: 'succeeded' | 'rolled-back' | 'failed' | 'refused' | 'unfinished';
  /** The scan gate's line, when the rollout reached it. */
  scan?: string;
  approvalRequired: boolean;
  approvedBy?: string;
  /** When the workload was changed (image set or canary promoted), if it was. */
  changedAt?: string;
}

export interface IncidentEvidence {
  id: string;
  severity: string;
  openedAt: string;
  /** Acknowledged, or resolved without one: when someone (or the alert clearing) responded. */
  respondedAt?: string;
  responseMs?: number;
  targetMs: number;
  /** Not answered yet, but its target has not passed either (opened near the month's end). */
  pending?: boolean;
}

export interface RunbookEvidence {
  runbook: string;
  runs: number;
  /** Step outcomes: done, refused (by a guardrail), failed, skipped, dry-run. */
  steps: Record<string, number>;
}

export interface ChangeEvidence {
  at: string;
  actor: string;
  action: string;
  target: string;
  /** Why a change outside the windows was allowed: an approver, or the incident it answered. */
  approval?: string;
}

export interface AuditChainEvidence {
  ok: boolean;
  rows: number;
  /** Each stream's head at the time of the report: anchored in the locked object, later tampering with earlier rows shows. */
  heads: Array<{ stream: string; seq: number; hash: string }>;
  breaks: string[];
}

export interface ComplianceEvidence {
  window: ComplianceWindow;
  generatedAt: string;
  backups: BackupEvidence[];
  drills: DrillEvidence[];
  rollouts: RolloutEvidence[];
  incidents: IncidentEvidence[];
  runbooks: RunbookEvidence[];
  /** Changes made while no approval window was open; `windows` false when the policy has none (any time is allowed). */
  changesOutsideWindows: { windows: boolean; changes: ChangeEvidence[] };
  auditChain: AuditChainEvidence;
}

export interface ComplianceTargets {
  backupMaxGapMs: number;
}

export interface ControlResult {
  id: string;
  name: string;
  passed: boolean;
  /** One line: what was found. */
  detail: string;
}

export const CONTROL_IDS = ['backups', 'restore-drills', 'rollouts', 'incident-response', 'runbooks', 'change-windows', 'audit-trail'] as const;

/** The month before the one `at` falls in, or `month` itself (YYYY-MM). */
export function complianceWindow(input: { month?: string; at: string }): ComplianceWindow {
  let year: number;
  let month: number;
  if (input.month !== undefined) {
    const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(input.month);
    if (!match) throw new Error(`month must be YYYY-MM, not ${JSON.stringify(input.month)}`);
    year = Number(match[1]);
    month = Number(match[2]) - 1;
  } else {
    const at = new Date(input.at);
    year = at.getUTCFullYear();
    month = at.getUTCMonth() - 1;
  }
  const start = new Date(Date.UTC(year, month, 1));
  const end = new Date(Date.UTC(year, month + 1, 1));
  return { month: start.toISOString().slice(0, 7), start: start.toISOString(), end: end.toISOString() };
}

const hours = (ms: number) => `${(ms / 3_600_000).toFixed(1)} h`;
const minutes = (ms: number) => (ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : hours(ms));

export function evaluateControls(evidence: ComplianceEvidence, targets: ComplianceTargets): ControlResult[] {
  const backupsShort = evidence.backups.filter((backup) => backup.taken === 0 || backup.maxGapMs > targets.backupMaxGapMs);
  const drillsShort = evidence.drills.filter((drill) => drill.passed === 0 || drill.failed > 0);
  const changed = evidence.rollouts.filter((rollout) => rollout.changedAt !== undefined);
  const unscanned = changed.filter((rollout) => !rollout.scan);
  const unapproved = changed.filter((rollout) => rollout.approvalRequired && !rollout.approvedBy);
  const late = evidence.incidents.filter((incident) => (incident.responseMs === undefined ? !incident.pending : incident.responseMs > incident.targetMs));
  const pending = evidence.incidents.filter((incident) => incident.pending).length;
  const runbookFailures = evidence.runbooks.reduce((sum, runbook) => sum + (runbook.steps.failed ?? 0), 0);
  const runbookRefusals = evidence.runbooks.reduce((sum, runbook) => sum + (runbook.steps.refused ?? 0), 0);
  const outside = evidence.changesOutsideWindows.changes.filter((change) => !change.approval);
  const { auditChain } = evidence;
  return [
    {
      id: 'backups',
      name: 'Backups taken per database',
      passed: evidence.backups.length > 0 && backupsShort.length === 0,
      detail:
        evidence.backups.length === 0
          ? 'no databases configured or backed up'
          : evidence.backups.map((backup) => `${backup.database}: ${backup.taken} taken, longest gap ${hours(backup.maxGapMs)}`).join('; ') + ` (target: no gap over ${hours(targets.backupMaxGapMs)})`,
    },
    {
      id: 'restore-drills',
      name: 'Backups restored and verified',
      passed: evidence.drills.length > 0 && drillsShort.length === 0,
      detail: evidence.drills.length === 0 ? 'no databases' : evidence.drills.map((drill) => `${drill.database}: ${drill.passed} passed, ${drill.failed} failed`).join('; '),
    },
    {
      id: 'rollouts',
      name: 'Changes to workloads scanned and approved',
      passed: unscanned.length === 0 && unapproved.length === 0,
      detail: `${changed.length} rollouts changed a workload, ${changed.length - unscanned.length} after a scan, ${changed.filter((rollout) => rollout.approvedBy).length} approved of ${changed.filter((rollout) => rollout.approvalRequired).length} needing approval${[...unscanned, ...unapproved].length > 0 ? `; not compliant: ${[...new Set([...unscanned, ...unapproved].map((rollout) => rollout.workflowId))].join(', ')}` : ''}`,
    },
    {
      id: 'incident-response',
      name: 'Incidents responded to within target',
      passed: late.length === 0,
      detail: `${evidence.incidents.length} incidents, ${evidence.incidents.length - late.length - pending} within target${pending > 0 ? `, ${pending} not answered yet within target` : ''}${late.length > 0 ? `; late or unanswered: ${late.map((incident) => `${incident.id} (${incident.severity}, ${incident.responseMs === undefined ? 'no response' : minutes(incident.responseMs)} against ${minutes(incident.targetMs)})`).join(', ')}` : ''}`,
    },
    {
      id: 'runbooks',
      name: 'Automated remediation within guardrails',
      passed: runbookFailures === 0,
      detail: `${evidence.runbooks.reduce((sum, runbook) => sum + runbook.runs, 0)} runbook runs, ${runbookRefusals} steps refused by guardrails, ${runbookFailures} failed`,
    },
    {
      id: 'change-windows',
      name: 'Changes inside approval windows',
      passed: outside.length === 0,
      detail: !evidence.changesOutsideWindows.windows
        ? 'no approval windows configured: changes are allowed at any time'
        : `${evidence.changesOutsideWindows.changes.length} changes outside the windows, ${outside.length} without approval or incident${outside.length > 0 ? `: ${outside.map((change) => `${change.action} ${change.target} at ${change.at}`).join(', ')}` : ''}`,
    },
    {
      id: 'audit-trail',
      name: 'Audit trail intact',
      passed: auditChain.ok,
      detail: auditChain.ok ? `${auditChain.rows} rows in ${auditChain.heads.length} hash chains verify` : `the hash chain does not verify: ${auditChain.breaks.join('; ')}`,
    },
  ];
}

/** "6/7 controls passed (failed: backups)". */
export function complianceSummary(controls: ControlResult[]): string {
  const failed = controls.filter((control) => !control.passed);
  return `${controls.length - failed.length}/${controls.length} controls passed${failed.length > 0 ? ` (failed: ${failed.map((control) => control.id).join(', ')})` : ''}`;
}
