import type { PostmortemRecord } from '../db/postmortem-records.js';
import { bytes } from '../reports/format.js';
import { markdownTable } from '../reports/table-render.js';

/**
 * A post-mortem draft in Markdown, written from what the incident recorded:
 * the facts filled in (when, who was paged and who answered, what ran, what
 * changed around it), the judgement left as headings for the people who were
 * there. Pure: the same record always gives the same text.
 */

/** "4m 12s", "2h 05m", "38s". */
export function elapsed(fromIso: string, toIso: string): string {
  const total = Math.max(0, Math.round((Date.parse(toIso) - Date.parse(fromIso)) / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secondsLeft = total % 60;
  if (hours > 0) return `${hours}h ${String(minutes).padStart(2, '0')}m`;
  if (minutes > 0) return `${minutes}m ${String(secondsLeft).padStart(2, '0')}s`;
  return `${secondsLeft}s`;
}

const time = (iso: string) => `${iso.slice(0, 19).replace('T', ' ')}Z`;
/** A table, or `empty` in italics when it has no rows; a missing value reads "-". */
function table(header: string[], rows: Array<Array<string | number | undefined>>, empty: string): string[] {
  if (rows.length === 0) return [`_${empty}_`];
  return markdownTable({ header, rows: rows.map((row) => row.map((value) => (value === undefined || value === '' ? '-' : String(value)))) }).split('\n');
}

export function renderPostmortem(record: PostmortemRecord, options: { link?: string } = {}): string {
  const { incident } = record;
  const lines: string[] = [`# Post-mortem (draft): ${incident.title}`, ''];
  lines.push(
    ...table(
      ['', ''],
      [
        ['Incident', `\`${incident.id}\`${options.link ? ` ([workflow](${options.link}))` : ''}`],
        ['Service', incident.service],
        ['Severity', incident.severity],
        ['Opened', time(incident.openedAt)],
        ['Acknowledged', incident.acknowledgedAt ? `${time(incident.acknowledgedAt)} by ${incident.acknowledgedBy} (after ${elapsed(incident.openedAt, incident.acknowledgedAt)})` : 'never'],
        ['Resolved', incident.resolvedAt ? `${time(incident.resolvedAt)} by ${incident.resolvedBy} (after ${elapsed(incident.openedAt, incident.resolvedAt)})` : `not yet (${incident.status})`],
        ['Reopened', incident.reopenCount === 0 ? 'no' : `${incident.reopenCount} times`],
      ],
      '',
    ),
    '',
    '## Summary',
    '',
    '_What happened and what it did to users, in two or three sentences._',
    '',
    '## Alerts',
    '',
    ...table(
      ['alert', 'severity', 'status', 'started', 'ended', 'labels'],
      record.alerts.map((alert) => [
        alert.alertname,
        alert.severity,
        alert.mutedBy ? `${alert.status} (muted: ${alert.mutedBy})` : alert.status,
        alert.startsAt ? time(alert.startsAt) : undefined,
        alert.endsAt ? time(alert.endsAt) : undefined,
        Object.entries(alert.labels)
          .filter(([key]) => key !== 'alertname')
          .map(([key, value]) => `${key}=${value}`)
          .join(', '),
      ]),
      'no alerts recorded',
    ),
    '',
    '## Pages',
    '',
  );
  // Pages that asked someone to respond; the acknowledge and resolve messages to the same targets follow from them.
  const pages = record.pages.filter((page) => page.kind === 'trigger');
  lines.push(
    ...table(
      ['at', 'level', 'who', 'via', 'outcome'],
      pages.map((page) => [time(page.at), page.level, page.person ?? page.target, page.channel, page.outcome === 'failed' && page.error ? `failed: ${page.error.slice(0, 120)}` : page.outcome]),
      'nobody was paged',
    ),
    '',
    '## Response',
    '',
  );
  const response = record.timeline.filter((event) => ['acknowledged', 'escalated', 'resolved', 'reopened', 'severity-changed'].includes(event.kind));
  lines.push(...(response.length > 0 ? response.map((event) => `- ${time(event.at)} **${event.actor}**: ${event.text}`) : ['_nobody acknowledged or resolved it by hand_']), '', '## Runbooks', '');
  const runbooks = record.timeline.filter((event) => event.kind === 'remediation');
  lines.push(...(runbooks.length > 0 ? runbooks.map((event) => `- ${time(event.at)} ${event.text}`) : ['_no runbook ran_']), '');
  lines.push(`## Changes around it (${time(record.window.from)} to ${time(record.window.to)})`, '', '### Rollouts', '');
  lines.push(
    ...table(
      ['rollout', 'target', 'from', 'to', 'ended with', 'by'],
      record.rollouts.map((rollout) => [rollout.workflowId, rollout.target, time(rollout.from), time(rollout.to), rollout.actions.at(-1), rollout.actors.join(', ')]),
      'no rollout in this window',
    ),
    '',
    '### Backups',
    '',
    ...table(
      ['database', 'kind', 'started', 'finished', 'size'],
      record.backups.map((backup) => [backup.database, backup.kind === 'base' ? 'base backup' : 'dump', time(backup.startedAt), time(backup.finishedAt), bytes(backup.bytes)]),
      'no backup in this window',
    ),
    '',
    '### Other actions on real systems',
    '',
    ...table(
      ['at', 'action', 'target', 'by', 'outcome'],
      record.changes.map((change) => [time(change.at), change.action, change.target, change.actor, change.outcome]),
      'none recorded',
    ),
    '',
    '## Notes',
    '',
  );
  const notes = record.timeline.filter((event) => event.kind === 'note');
  lines.push(...(notes.length > 0 ? notes.map((event) => `- ${time(event.at)} **${event.actor}**: ${event.text}`) : ['_no notes_']), '', '## Timeline', '');
  lines.push(...table(['at', 'who', 'what', ''], record.timeline.map((event) => [time(event.at), event.actor, event.kind, event.text]), 'no events recorded'), '');
  lines.push(
    '## What went well',
    '',
    '_To be written._',
    '',
    '## What went wrong, and why',
    '',
    '_Contributing factors, not culprits._',
    '',
    '## Follow-ups',
    '',
    '- [ ] _action, owner, due date_',
    '',
  );
  return lines.join('\n');
}

/** Where a draft lives in the bucket: one per incident run, rewritten if it resolves again after reopening. */
export function postmortemKey(incidentId: string): string {
  return `postmortems/${incidentId.replace(/[^A-Za-z0-9._/-]/g, '_')}.md`;
}
