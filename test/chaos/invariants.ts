import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createPgPool } from '../../src/clients/postgres.js';
import { createS3Client } from '../../src/clients/s3.js';
import { acknowledgeUpdate, resolveUpdate, statusQuery } from '../../workflows/incident-contract.js';
import type { FakeSlack } from '../support/fake-slack.js';
import type { HttpRecorder } from '../support/http-recorder.js';
import type { SmtpSink } from '../support/smtp-sink.js';
import type { AlertStream } from './alert-stream.js';
import type { ChaosStack } from './chaos-stack.js';

/**
 * What must hold after the chaos run, each counted: alerts accepted and in
 * exactly one incident; every ladder level paged each channel once; no
 * incident or ladder failed; every incident acknowledgeable, its ladder ending
 * with it; the backup done and verified, or failed with its incident, with no
 * multipart upload left; every page with its notifications row.
 */
export interface Receivers {
  slack: FakeSlack;
  smtp: SmtpSink;
  pagerduty: HttpRecorder;
  webhook: HttpRecorder;
}

export interface InvariantReport {
  rows: { check: string; count: number; violations: number }[];
  details: string[];
  violations: number;
}

const CHANNELS = ['slack', 'email', 'pagerduty', 'webhook'] as const;
type Channel = (typeof CHANNELS)[number];

/** One copy of a trigger page as a receiver got it: the key it came under, and when it arrived. */
interface Copy {
  key: string;
  atMs: number;
}

const describeCopy = (copy: Copy) => `${copy.key} at ${new Date(copy.atMs).toISOString()}`;

/**
 * Trigger pages as each receiver got them, by incident workflow ID, level and
 * channel: each copy with its key and arrival time, so a duplicate tells
 * whether it came under another key and when, against the faults' times.
 */
function receivedCopies(receivers: Receivers): Map<string, Copy[]> {
  const copies = new Map<string, Copy[]>();
  const add = (workflowId: string, level: number, channel: Channel, key: string, atMs: number) => {
    const entry = `${workflowId}|${level}|${channel}`;
    copies.set(entry, [...(copies.get(entry) ?? []), { key, atMs }]);
  };
  const workflowOf = (incidentId: string) => incidentId.split('/')[0]!;
  for (const message of receivers.slack.messages) {
    const key = (message.metadata?.event_payload as { idempotency_key?: string } | undefined)?.idempotency_key ?? '';
    const level = /:esc\d+:c\d+:l(\d+):/.exec(key)?.[1];
    if (level) add(workflowOf(key.slice(0, key.indexOf(':esc'))), Number(level), 'slack', key, Number(message.ts) * 1000);
  }
  for (const mail of receivers.smtp.messages) {
    const level = /, level (\d+)$/.exec(mail.subject)?.[1];
    const workflow = /\/workflows\/([^/\s"<>]+)/.exec(mail.raw.replace(/=\r?\n/g, ''))?.[1];
    if (level && workflow && !/^\[(ACKNOWLEDGED|RESOLVED)\]/.test(mail.subject)) add(decodeURIComponent(workflow), Number(level), 'email', mail.messageId, mail.receivedAt);
  }
  for (const request of receivers.pagerduty.requests) {
    const body = request.body as { event_action?: string; dedup_key?: string; payload?: { custom_details?: { level?: number; incident?: string } } };
    const details = body.payload?.custom_details;
    if (body.event_action === 'trigger' && details?.incident && details.level) add(workflowOf(details.incident), details.level, 'pagerduty', String(body.dedup_key), request.receivedAt);
  }
  for (const request of receivers.webhook.requests) {
    const body = request.body as { event?: string; level?: number | null; incident?: { id?: string } };
    if (body.event === 'trigger' && body.incident?.id && body.level) add(workflowOf(body.incident.id), body.level, 'webhook', String(request.headers['idempotency-key']), request.receivedAt);
  }
  return copies;
}

const countsOf = (copies: Map<string, Copy[]>): Map<string, number> => new Map([...copies].map(([entry, each]) => [entry, each.length]));

function receivedPages(receivers: Receivers): Map<string, number> {
  return countsOf(receivedCopies(receivers));
}

/** When a worker was SIGKILLed: the kill call's start and end (epoch ms). */
export interface WorkerKill {
  fromMs: number;
  toMs: number;
}

/** Runs `kill` and notes its time in `kills`, for checkInvariants to tell a repeat the contract allows. */
export async function timedKill(kills: WorkerKill[], kill: () => Promise<unknown>): Promise<void> {
  const fromMs = Date.now();
  await kill();
  kills.push({ fromMs, toMs: Date.now() });
}

/**
 * How long before a worker's SIGKILL a page it sent can still come again: the
 * task that sent it may not have reached the server, and the workflow task
 * timeout (10 s) hands it to another worker, which sends it again.
 */
const KILL_WINDOW_MS = 10_000;

/**
 * A repeat the paging contract allows: every copy under the same key, each
 * next copy after a worker SIGKILL that came within the window after the
 * copy before it. Paging is at least once: a worker that dies between the
 * provider taking a page and our notifications row leaves nothing to tell a
 * new worker the page went out, so it sends it again under the same key,
 * which PagerDuty's dedup_key, the webhook's Idempotency-Key and email's
 * Message-ID let the receiver drop. Slack is looked up by the key before a
 * post, so it has no such repeat.
 */
function repeatedAcrossKill(channel: Channel, copies: Copy[], workerKills: WorkerKill[]): boolean {
  if (channel === 'slack' || new Set(copies.map((copy) => copy.key)).size !== 1) return false;
  const sorted = [...copies].sort((a, b) => a.atMs - b.atMs);
  return sorted.slice(1).every((copy, index) => {
    const before = sorted[index]!;
    return workerKills.some((kill) => kill.toMs >= before.atMs && kill.fromMs <= before.atMs + KILL_WINDOW_MS && copy.atMs >= kill.fromMs);
  });
}

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000}s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function listWorkflows(client: Client, query: string): Promise<{ workflowId: string; type: string; status: string }[]> {
  const found: { workflowId: string; type: string; status: string }[] = [];
  for await (const execution of client.workflow.list({ query })) found.push({ workflowId: execution.workflowId, type: execution.type, status: execution.status.name });
  return found;
}

export async function checkInvariants(input: {
  client: Client;
  stack: Pick<ChaosStack, 'databaseUrl' | 's3'>;
  receivers: Receivers;
  stream: AlertStream;
  /** When each worker SIGKILL was sent (from, to: before and after the kill call), to tell a repeat the contract allows. */
  workerKills: WorkerKill[];
  /** The backup that ran through the faults; without one, the backup checks are left out. */
  backup?: WorkflowHandle;
  levels: number;
  settleMs: number;
  say: (line: string) => void;
}): Promise<InvariantReport> {
  const { client, stack, receivers, stream, levels } = input;
  const rows: InvariantReport['rows'] = [];
  const details: string[] = [];
  const pool = createPgPool(stack.databaseUrl);
  const row = (check: string, count: number, violations: number) => rows.push({ check, count, violations });

  const openIncidents = async () => [...new Set((await listWorkflows(client, `WorkflowType = 'incidentWorkflow' AND ExecutionStatus = 'Running'`)).map((entry) => entry.workflowId))].sort();
  const notificationRows = async () => {
    const { rows: found } = await pool.query<{ incident: string; level: number; channel: string; n: string }>(
      `SELECT split_part(incident_id, '/', 1) AS incident, level, channel, count(*) AS n FROM notifications
        WHERE kind = 'trigger' AND outcome = 'delivered' GROUP BY 1, 2, 3`,
    );
    return new Map(found.map((entry) => [`${entry.incident}|${entry.level}|${entry.channel}`, Number(entry.n)]));
  };
  const missingOf = (incidents: string[], received: Map<string, number>) =>
    incidents.flatMap((id) => Array.from({ length: levels }, (_, index) => CHANNELS.map((channel) => `${id}|${index + 1}|${channel}`)).flat()).filter((key) => !received.has(key));

  // Settle: every ladder has paged every level on every channel, and every page has its row.
  const deadline = Date.now() + input.settleMs;
  let incidents: string[] = [];
  for (;;) {
    incidents = await openIncidents();
    const received = receivedPages(receivers);
    const rowsNow = await notificationRows().catch(() => new Map<string, number>());
    const missing = missingOf(incidents, received);
    const unrecorded = [...received.keys()].filter((key) => !rowsNow.has(key));
    if ((missing.length === 0 && unrecorded.length === 0) || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }

  // Alerts: accepted ones each in exactly one incident.
  const homes = new Map<string, number>();
  for (const workflowId of incidents) {
    const status = await within(30_000, client.workflow.getHandle(workflowId).query(statusQuery));
    for (const alert of status.alerts) homes.set(alert.fingerprint, (homes.get(alert.fingerprint) ?? 0) + 1);
  }
  const accepted = stream.alerts.filter((alert) => alert.acceptedAt !== undefined);
  const lost = accepted.filter((alert) => !homes.has(alert.fingerprint));
  const doubled = [...new Set(accepted.map((alert) => alert.fingerprint))].filter((fingerprint) => (homes.get(fingerprint) ?? 0) > 1);
  const refused = stream.alerts.filter((alert) => alert.refused);
  const gaveUp = stream.alerts.filter((alert) => alert.acceptedAt === undefined && !alert.refused);
  row('alerts sent', stream.alerts.length, 0);
  row('deliveries retried by the sender (non-2xx or no answer)', stream.alerts.reduce((sum, alert) => sum + alert.attempts - 1, 0), 0);
  row('alerts accepted (2xx)', accepted.length, 0);
  row('alerts refused (final 4xx)', refused.length, refused.length);
  row('alerts never accepted (sender gave up)', gaveUp.length, gaveUp.length);
  row('accepted alerts in no incident (lost)', lost.length, lost.length);
  row('alerts in more than one incident', doubled.length, doubled.length);
  for (const alert of [...refused, ...lost].slice(0, 5)) details.push(`alert ${alert.index} (${alert.via} ${alert.fingerprint}): ${alert.refused ?? 'in no incident'}`);

  // Pages: each level of each ladder, once per channel.
  const copies = receivedCopies(receivers);
  const received = countsOf(copies);
  const missing = missingOf(incidents, received);
  row('incidents open', incidents.length, 0);
  let allowedRepeats = 0;
  for (const channel of CHANNELS) {
    const keys = [...received].filter(([key]) => key.endsWith(`|${channel}`));
    const repeated = keys.filter(([, count]) => count > 1).map(([key]) => key);
    const allowed = repeated.filter((key) => repeatedAcrossKill(channel, copies.get(key)!, input.workerKills));
    const duplicated = repeated.filter((key) => !allowed.includes(key));
    const duplicates = duplicated.reduce((sum, key) => sum + received.get(key)! - 1, 0);
    allowedRepeats += allowed.reduce((sum, key) => sum + received.get(key)! - 1, 0);
    const absent = missing.filter((key) => key.endsWith(`|${channel}`)).length;
    row(`${channel} pages received (missing / duplicates)`, keys.length, absent + duplicates);
    if (absent + duplicates > 0) details.push(`${channel}: ${absent} missing (${missing.filter((key) => key.endsWith(`|${channel}`)).slice(0, 3).join(', ')}), ${duplicates} duplicates (${duplicated.slice(0, 3).join(', ')})`);
    for (const key of [...duplicated.slice(0, 3), ...allowed.slice(0, 3)]) details.push(`  ${allowed.includes(key) ? 'repeated across a worker kill, ' : ''}${key}: ${copies.get(key)!.map(describeCopy).join('; ')}`);
  }
  row('pages sent again under their key after the worker that sent them was killed (at least once)', allowedRepeats, 0);
  const slackKeys = new Map<string, number>();
  for (const message of receivers.slack.messages) {
    const key = (message.metadata?.event_payload as { idempotency_key?: string } | undefined)?.idempotency_key;
    if (key) slackKeys.set(key, (slackKeys.get(key) ?? 0) + 1);
  }
  const slackTwice = [...slackKeys.values()].filter((count) => count > 1).length;
  row('Slack messages (announcements, timelines, pages) posted twice', slackKeys.size, slackTwice);

  // Rows: every page received has its notifications row, once the database is back.
  const recorded = await notificationRows();
  const unrecorded = [...received.keys()].filter((key) => !recorded.has(key));
  row('pages without their notifications row', unrecorded.length, unrecorded.length);
  if (unrecorded.length > 0) details.push(`unrecorded pages: ${unrecorded.slice(0, 5).join(', ')}`);

  // Every incident can be acknowledged, and then resolved; its ladder ends with it.
  let ackFailures = 0;
  for (const workflowId of incidents) {
    const handle = client.workflow.getHandle(workflowId);
    try {
      const status = await within(30_000, handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'chaos' }] }));
      if (!status.acknowledgedAt) throw new Error(`state ${status.state}`);
      await within(30_000, handle.executeUpdate(resolveUpdate, { args: [{ by: 'chaos' }] }));
    } catch (error) {
      ackFailures += 1;
      details.push(`${workflowId}: acknowledge/resolve failed: ${(error as Error).message}`);
    }
  }
  row('incidents acknowledged and resolved', incidents.length - ackFailures, ackFailures);
  let ladders: string[] = [];
  const laddersEnd = Date.now() + 60_000;
  do {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    ladders = (await listWorkflows(client, `WorkflowType = 'escalationWorkflow' AND ExecutionStatus = 'Running'`)).map((entry) => entry.workflowId);
  } while (ladders.length > 0 && Date.now() < laddersEnd);
  row('ladders still running after their incident ended', ladders.length, ladders.length);
  for (const ladder of ladders.slice(0, 3)) details.push(`${ladder} still running: ${await lastEvents(client, ladder)}`);

  // No incident or ladder failed.
  const ended = await listWorkflows(client, `ExecutionStatus = 'Failed' OR ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut'`);
  const pagingFailed = ended.filter((entry) => entry.type === 'incidentWorkflow' || entry.type === 'escalationWorkflow');
  row('incident and ladder workflows failed, terminated or timed out', pagingFailed.length, pagingFailed.length);
  for (const entry of pagingFailed.slice(0, 5)) details.push(`${entry.type} ${entry.workflowId}: ${entry.status}`);
  const otherFailed = ended.filter((entry) => !pagingFailed.includes(entry) && entry.type !== 'databaseBackupWorkflow');
  row('other workflows failed', otherFailed.length, otherFailed.length);
  for (const entry of otherFailed.slice(0, 5)) details.push(`${entry.type} ${entry.workflowId}: ${entry.status}`);

  if (input.backup) await checkBackup(client, stack, input.backup, row);

  await pool.end();
  return { rows, details, violations: rows.reduce((sum, entry) => sum + entry.violations, 0) };
}

/** The backup either succeeded and verified, or failed with its incident; no multipart upload is left. */
async function checkBackup(client: Client, stack: Pick<ChaosStack, 's3'>, backup: WorkflowHandle, row: (check: string, count: number, violations: number) => void): Promise<void> {
  const backupStatus = await waitForBackup(backup);
  let backupViolation = 0;
  if (backupStatus.outcome === 'failed') {
    const raised = await listWorkflows(client, `WorkflowType = 'incidentWorkflow'`);
    if (!raised.some((entry) => entry.workflowId.includes('backup-failed-chaos-source'))) backupViolation = 1;
  } else if (backupStatus.outcome !== 'verified') backupViolation = 1;
  row(`backup ${backupStatus.outcome}${backupStatus.detail ? ` (${backupStatus.detail})` : ''}`, 1, backupViolation);
  const s3 = createS3Client({ S3_ENDPOINT: stack.s3.endpoint, S3_REGION: 'us-east-1', S3_ACCESS_KEY_ID: stack.s3.accessKeyId, S3_SECRET_ACCESS_KEY: stack.s3.secretAccessKey });
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: stack.s3.bucket }));
  s3.destroy();
  const leftover = uploads.Uploads?.length ?? 0;
  row('multipart uploads left in the bucket', leftover, leftover);
}

/** The last events of a workflow's history, to tell what a stuck one waits for. */
async function lastEvents(client: Client, workflowId: string): Promise<string> {
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const events = history.events ?? [];
    return events
      .slice(-6)
      .map((event) => {
        const type = Object.keys(event).find((key) => key.endsWith('EventAttributes')) ?? 'event';
        const attributes = (event as Record<string, unknown>)[type] as { markerName?: string; signalName?: string; startToFireTimeout?: { seconds?: unknown } } | undefined;
        return type.replace(/EventAttributes$/, '') + (attributes?.markerName ? `(${attributes.markerName})` : attributes?.signalName ? `(${attributes.signalName})` : '');
      })
      .join(' > ');
  } catch (error) {
    return `history unavailable: ${(error as Error).message}`;
  }
}

async function waitForBackup(handle: WorkflowHandle): Promise<{ outcome: 'verified' | 'completed-unverified' | 'failed' | 'still running'; detail?: string }> {
  try {
    const result = (await within(300_000, handle.result())) as { verification?: { restoredTables?: number; ok?: boolean } };
    return result.verification ? { outcome: 'verified', detail: JSON.stringify(result.verification).slice(0, 80) } : { outcome: 'completed-unverified' };
  } catch (error) {
    const message = (error as Error).message;
    if (message.startsWith('no answer')) return { outcome: 'still running' };
    return { outcome: 'failed', detail: ((error as { cause?: Error }).cause?.message ?? message).slice(0, 120) };
  }
}
