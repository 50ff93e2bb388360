import { writeFileSync } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import type pg from 'pg';
import { findIncidentRecordId, loadPostmortemRecord } from '../../db/postmortem-records.js';
import { renderPostmortem } from '../../incidents/postmortem.js';
import { putPostmortem } from '../../incidents/postmortem-draft.js';
import { eventIncidentKey } from '../../webhooks/dedup.js';
import { SEVERITIES } from '../../domain/severity.js';
import { findIncident } from '../../incidents/incident-actions.js';
import { incidentWorkflowId } from '../../domain/workflow-ids.js';
import { acknowledgeUpdate, addNoteUpdate, escalateUpdate, resolveUpdate, statusQuery, type IncidentStatus } from '../../../workflows/incident-contract.js';
import { onWorkflow } from '../workflow-errors.js';
import { EXIT, printJson, printTable, UserError } from '../output.js';

/**
 * `opsctl incident list | show | ack | resolve | note | escalate`: the same
 * incidents the Web UI lists (a visibility query on the Ops* search
 * attributes), acted on through the incident workflow's updates.
 * `opsctl incident postmortem`: the post-mortem draft, from our database.
 */
export interface IncidentsContext {
  temporal: () => Promise<Client>;
  pool: () => pg.Pool;
  s3: () => S3Client;
  bucket: () => string;
  json: () => boolean;
}

const STATUSES = ['triggered', 'acknowledged', 'resolved'] as const;

/** `incident-ev-disk-db-1`, `ev-disk-db-1` or the event's `disk-db-1`: each names the incident. */
async function handleOf(context: IncidentsContext, id: string): Promise<WorkflowHandle> {
  const client = await context.temporal();
  const found = await findIncident(client, id, { running: false });
  return client.workflow.getHandle(found ?? (id.startsWith('incident-') ? id : incidentWorkflowId(id)));
}

/** A value for the visibility query; quotes and backslashes are refused rather than escaped. */
function quote(value: string): string {
  if (/['"\\]/.test(value)) throw new UserError(`"${value}": quotes and backslashes cannot appear in a filter value`);
  return `'${value}'`;
}

/** Runs an update; a refusal (already resolved, no such incident) is one clear line. */
function act(handle: WorkflowHandle, run: () => Promise<IncidentStatus>): Promise<IncidentStatus> {
  return onWorkflow(handle, `no open incident ${handle.workflowId}`, run);
}

function printStatus(status: IncidentStatus, json: boolean): void {
  if (json) return printJson(status);
  const lines = [
    `${status.workflowId}  ${status.severity.toUpperCase()}  ${status.state}${status.muted ? ' (muted)' : ''}`,
    `  ${status.title}`,
    `  service ${status.service}, opened ${status.openedAt}` +
      (status.acknowledgedAt ? `, acknowledged ${status.acknowledgedAt} by ${status.acknowledgedBy}` : '') +
      (status.resolvedAt ? `, resolved ${status.resolvedAt} by ${status.resolvedBy}` : ''),
    `  alerts: ${status.alerts.filter((alert) => alert.status === 'firing').length} firing, ${status.alerts.filter((alert) => alert.status === 'resolved').length} resolved`,
    '',
    'TIMELINE',
    ...status.timeline.map((event) => `  ${event.at}  ${event.actor.padEnd(12)}  ${event.kind.padEnd(16)}  ${event.text}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function registerIncidentCommands(program: Command, context: IncidentsContext): void {
  const incident = program.command('incident').description('list, inspect, acknowledge, resolve, annotate and escalate incidents');

  incident
    .command('list')
    .description('incidents, newest first (default: those not resolved)')
    .option('--status <status>', `one of ${STATUSES.join(', ')}, or "open" (triggered or acknowledged), or "all"`, 'open')
    .option('--severity <severity>', `one of ${SEVERITIES.join(', ')}`)
    .option('--service <service>', 'the service label')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (options: { status: string; severity?: string; service?: string; limit: string }) => {
      const clauses = [`OpsKind = 'incident'`];
      if (options.status === 'open') clauses.push(`OpsStatus IN ('triggered', 'acknowledged')`);
      else if ((STATUSES as readonly string[]).includes(options.status)) clauses.push(`OpsStatus = ${quote(options.status)}`);
      else if (options.status !== 'all') throw new UserError(`--status "${options.status}": expected one of ${STATUSES.join(', ')}, open, all`);
      if (options.severity) {
        if (!(SEVERITIES as readonly string[]).includes(options.severity)) throw new UserError(`--severity "${options.severity}": expected one of ${SEVERITIES.join(', ')}`);
        clauses.push(`OpsSeverity = ${quote(options.severity)}`);
      }
      if (options.service) clauses.push(`OpsService = ${quote(options.service)}`);
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UserError(`--limit "${options.limit}": expected a positive whole number`);
      const query = clauses.join(' AND ');
      const rows: Record<string, unknown>[] = [];
      const client = await context.temporal();
      for await (const execution of client.workflow.list({ query })) {
        if (execution.status.name !== 'RUNNING' && options.status === 'open') continue;
        const attributes = execution.searchAttributes as Record<string, unknown[] | undefined>;
        rows.push({
          id: execution.workflowId,
          status: attributes.OpsStatus?.[0],
          severity: attributes.OpsSeverity?.[0],
          service: attributes.OpsService?.[0],
          summary: (execution.memo as { summary?: string } | undefined)?.summary,
          started: execution.startTime.toISOString(),
        });
        if (rows.length >= limit) break;
      }
      if (context.json()) return printJson({ query, incidents: rows });
      printTable(rows, ['id', 'status', 'severity', 'service', 'started', 'summary']);
    });

  incident
    .command('show <id>')
    .description('one incident with its alerts and timeline (ID or dedup key)')
    .action(async (id: string) => {
      const handle = await handleOf(context, id);
      printStatus(await act(handle, () => handle.query(statusQuery)), context.json());
    });

  incident
    .command('ack <id>')
    .description('acknowledge: stops the escalation')
    .requiredOption('--by <who>', 'who acknowledges')
    .action(async (id: string, options: { by: string }) => {
      const handle = await handleOf(context, id);
      printStatus(await act(handle, () => handle.executeUpdate(acknowledgeUpdate, { args: [{ by: options.by }] })), context.json());
    });

  incident
    .command('resolve <id>')
    .description('resolve by hand, with an optional note')
    .requiredOption('--by <who>', 'who resolves')
    .option('--note <text>', 'what was done')
    .action(async (id: string, options: { by: string; note?: string }) => {
      const handle = await handleOf(context, id);
      const args = [{ by: options.by, ...(options.note ? { note: options.note } : {}) }] as [{ by: string; note?: string }];
      printStatus(await act(handle, () => handle.executeUpdate(resolveUpdate, { args })), context.json());
    });

  incident
    .command('note <id>')
    .description('add a note to the timeline')
    .requiredOption('--by <who>', 'who writes it')
    .requiredOption('--text <text>', 'the note')
    .action(async (id: string, options: { by: string; text: string }) => {
      const handle = await handleOf(context, id);
      printStatus(await act(handle, () => handle.executeUpdate(addNoteUpdate, { args: [{ by: options.by, text: options.text }] })), context.json());
    });

  incident
    .command('postmortem <id>')
    .description('the post-mortem draft of an incident (ID, workflow ID or dedup key), from its timeline, pages and the changes around it')
    .option('--out <file>', 'write the Markdown to this file instead of stdout')
    .option('--upload', 'also write it to the bucket, where the incident links it (postmortems/<incident>.md)')
    .action(async (id: string, options: { out?: string; upload?: boolean }) => {
      const pool = context.pool();
      const ref = id.trim();
      const candidates = ref.startsWith('incident-') ? [ref] : [ref, incidentWorkflowId(ref), incidentWorkflowId(eventIncidentKey(ref))];
      let incidentId: string | undefined;
      for (const candidate of candidates) incidentId ??= await findIncidentRecordId(pool, candidate);
      if (!incidentId) throw new UserError(`no incident "${ref}" in the database (give its ID, workflow ID or dedup key)`, EXIT.notFound);
      const record = (await loadPostmortemRecord(pool, incidentId))!;
      const markdown = renderPostmortem(record);
      const uploaded = options.upload ? await putPostmortem({ s3: context.s3(), bucket: context.bucket() }, incidentId, markdown) : undefined;
      if (options.out) writeFileSync(options.out, markdown);
      if (context.json()) return printJson({ incidentId, ...(options.out ? { file: options.out } : {}), ...(uploaded ? { object: uploaded.location } : {}), ...(options.out ? {} : { markdown }) });
      if (!options.out) process.stdout.write(markdown);
      else process.stdout.write(`post-mortem draft of ${incidentId} written to ${options.out}\n`);
      if (uploaded) process.stderr.write(`stored as ${uploaded.location}\n`);
    });

  incident
    .command('escalate <id>')
    .description('page the next escalation level now')
    .requiredOption('--by <who>', 'who escalates')
    .action(async (id: string, options: { by: string }) => {
      const handle = await handleOf(context, id);
      printStatus(await act(handle, () => handle.executeUpdate(escalateUpdate, { args: [{ by: options.by }] })), context.json());
    });
}
