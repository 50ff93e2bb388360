import type { ComplianceEvidence, ControlResult } from '../domain/compliance.js';
import type { Table } from './tables.js';

/** The compliance report's sections as tables, shared by its Markdown and HTML renderings. */
export interface ComplianceSection {
  id: string;
  heading: string;
  table: Table;
  /** Said instead of an empty table. */
  empty: string;
}

const hours = (ms: number) => (ms / 3_600_000).toFixed(1);
const minutes = (ms: number | undefined) => (ms === undefined ? 'none' : `${Math.round(ms / 60_000)} min`);

export function controlsTable(controls: ControlResult[]): Table {
  return { header: ['Control', 'Result', 'Evidence'], rows: controls.map((control) => [`${control.name} (${control.id})`, control.passed ? 'PASS' : 'FAIL', control.detail]) };
}

export function complianceSections(evidence: ComplianceEvidence): ComplianceSection[] {
  return [
    {
      id: 'backups',
      heading: 'Backups',
      table: {
        header: ['Database', 'Taken', 'Longest gap (h)', 'Last taken', 'Verified restores', 'Failed drills'],
        rows: evidence.backups.map((backup) => {
          const drill = evidence.drills.find((entry) => entry.database === backup.database);
          return [backup.database, String(backup.taken), hours(backup.maxGapMs), backup.lastTakenAt ?? 'never', String(drill?.passed ?? 0), String(drill?.failed ?? 0)];
        }),
      },
      empty: 'No databases.',
    },
    {
      id: 'rollouts',
      heading: 'Rollouts',
      table: {
        header: ['Rollout', 'Workload', 'Image', 'Started', 'Outcome', 'Scan', 'Approved by'],
        rows: evidence.rollouts.map((rollout) => [
          rollout.workflowId,
          rollout.target,
          rollout.image ?? '',
          rollout.startedAt,
          rollout.outcome,
          rollout.scan ?? 'not scanned',
          rollout.approvedBy ?? (rollout.approvalRequired ? 'NOT APPROVED' : 'not required'),
        ]),
      },
      empty: 'No rollouts.',
    },
    {
      id: 'incidents',
      heading: 'Incidents',
      table: {
        header: ['Incident', 'Severity', 'Opened', 'Response', 'Target', 'Met'],
        rows: evidence.incidents.map((incident) => [
          incident.id,
          incident.severity,
          incident.openedAt,
          minutes(incident.responseMs),
          minutes(incident.targetMs),
          incident.responseMs !== undefined && incident.responseMs <= incident.targetMs ? 'yes' : 'no',
        ]),
      },
      empty: 'No incidents.',
    },
    {
      id: 'runbooks',
      heading: 'Runbooks',
      table: {
        header: ['Runbook', 'Runs', 'Steps done', 'Refused by guardrails', 'Failed', 'Dry runs'],
        rows: evidence.runbooks.map((runbook) => [runbook.runbook, String(runbook.runs), ...['done', 'refused', 'failed', 'dry-run'].map((outcome) => String(runbook.steps[outcome] ?? 0))]),
      },
      empty: 'No runbooks ran.',
    },
    {
      id: 'changes',
      heading: 'Changes outside approval windows',
      table: {
        header: ['At', 'Change', 'Target', 'By', 'Allowed by'],
        rows: evidence.changesOutsideWindows.changes.map((change) => [change.at, change.action, change.target, change.actor, change.approval ?? 'NOTHING']),
      },
      empty: evidence.changesOutsideWindows.windows ? 'None.' : 'No approval windows configured.',
    },
    {
      id: 'audit',
      heading: 'Audit trail hash chains',
      table: { header: ['Stream', 'Head seq', 'Head hash'], rows: evidence.auditChain.heads.map((head) => [head.stream, String(head.seq), head.hash]) },
      empty: 'No audit rows.',
    },
  ];
}
