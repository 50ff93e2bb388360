import { createHash, createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Transporter } from 'nodemailer';
import { ACK_TOKEN_TTL_SECONDS, signAckToken } from '../src/incidents/ack-token.js';
import { ErrorType } from '../src/domain/errors.js';
import { targetKey, type PageTarget } from '../src/domain/escalation.js';
import type { Severity } from '../src/domain/severity.js';
import { SentHere } from './sent-here.js';
import { callSlack, createSlackPoster, type SlackPosterDeps } from './slack-posting.js';
import { bindDeps } from './bind-deps.js';

/**
 * Pages to people through Slack, email, PagerDuty Events v2 and generic
 * webhooks. Every send carries a key from incident, ladder, level and target:
 * a send already delivered under that key is not repeated (notifications
 * table), and each channel gets the key in its own idempotency mechanism
 * (Slack metadata, Message-ID, PagerDuty dedup_key, Idempotency-Key header).
 * Every send, delivered or failed, is a row in `notifications`.
 */

export interface PagingDeps extends SlackPosterDeps {
  smtp: Transporter | undefined;
  smtpFrom: string;
  pagerdutyEventsUrl: string;
  /** Reads a secret (routing key, signing secret) from the environment by name. */
  secret: (name: string) => string | undefined;
  /**
   * A file where the worker keeps the pages it sent while our database could
   * not record them, so a worker killed then does not send them again.
   */
  sentJournal?: string | undefined;
  /** One-click acknowledgement links in email pages (GET /ack/<token> on the webhook server). */
  ackLinks?: { secret: string; baseUrl: string } | undefined;
}

export type PageKind = 'trigger' | 'acknowledge' | 'resolve';

export interface PageRequest {
  idempotencyKey: string;
  kind: PageKind;
  target: PageTarget;
  incident: { id: string; title: string; service: string; severity: Severity; link: string };
  level?: number;
  /** The provider's ID of the trigger page, for an acknowledge or resolve (Slack ts). */
  previous?: string;
  /** The person a schedule or person target resolved to, and why ("on call for primary (layer 1)"). */
  person?: { id: string; reason: string };
}

export interface PageResult {
  providerId: string;
  skipped?: 'already-delivered';
  /** The page went out but its row could not be written (our database is down): the ladder keeps it in its outbox. */
  unrecorded?: true;
}

/** A notifications row the ladder still owes the database. */
export interface PageRecord {
  request: PageRequest;
  outcome: 'delivered' | 'failed';
  providerId?: string;
  error?: string;
}

/** A paging process: its dependencies, and what it knows of the pages it is sending and has sent. */
interface Pager extends PagingDeps {
  slackPoster: ReturnType<typeof createSlackPoster>;
  /** Pages this process delivered (bounded memory plus a journal), so a lost task's re-run never sends twice. */
  sentHere: SentHere<{ providerId: string; recorded: boolean }>;
  /** Sends going on now, by idempotency key. */
  inFlight: Map<string, Promise<PageResult>>;
}

const PD_SEVERITY: Record<Severity, string> = { critical: 'critical', high: 'error', medium: 'warning', low: 'info' };

/** PagerDuty allows 255 characters of dedup_key; longer incident IDs are hashed. */
export function pagerdutyDedupKey(incidentId: string): string {
  return incidentId.length <= 255 ? incidentId : `sha256:${createHash('sha256').update(incidentId).digest('hex')}`;
}

function headline(request: PageRequest): string {
  const { incident } = request;
  if (request.kind === 'resolve') return `[RESOLVED] ${incident.title} (${incident.service})`;
  if (request.kind === 'acknowledge') return `[ACKNOWLEDGED] ${incident.title} (${incident.service})`;
  return `[${incident.severity.toUpperCase()}] ${incident.title} (${incident.service})${request.level ? `, level ${request.level}` : ''}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** A remote HTTP answer in Temporal's terms: 2xx fine; 408, 429 and 5xx retried; other 4xx final. */
async function checkHttp(response: Response, what: string): Promise<void> {
  if (response.ok) return;
  const body = (await response.text()).slice(0, 500);
  if (response.status === 408 || response.status === 429 || response.status >= 500) {
    const retryAfter = Number(response.headers.get('retry-after'));
    throw ApplicationFailure.create({
      message: `${what} answered ${response.status}: ${body}`,
      type: 'RemoteUnavailable',
      ...(retryAfter > 0 ? { nextRetryDelay: `${retryAfter}s` } : {}),
    });
  }
  throw ApplicationFailure.nonRetryable(`${what} refused the request (${response.status}): ${body}`, ErrorType.RemoteRejected);
}

/**
 * The provider's ID of a page already delivered under this key. Our database
 * being down does not hold a page back: each channel carries the key in its
 * own idempotency mechanism, so the send goes ahead.
 */
async function delivered(deps: Pager, key: string): Promise<string | undefined> {
  try {
    const { rows } = await deps.pool.query<{ provider_id: string }>(
      `SELECT provider_id FROM notifications WHERE idempotency_key = $1 AND outcome = 'delivered'`,
      [key],
    );
    return rows[0]?.provider_id;
  } catch {
    return undefined;
  }
}

async function record(deps: Pager, request: PageRequest, outcome: 'delivered' | 'failed', providerId?: string, error?: string): Promise<void> {
  await deps.pool.query(
    `INSERT INTO notifications (idempotency_key, incident_id, level, target, channel, kind, outcome, provider_id, error, person, resolved_from)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (idempotency_key) DO UPDATE SET outcome = EXCLUDED.outcome, provider_id = EXCLUDED.provider_id,
       error = EXCLUDED.error, sent_at = now()
     WHERE notifications.outcome <> 'delivered'`,
    [request.idempotencyKey, request.incident.id, request.level ?? null, targetKey(request.target), request.target.type, request.kind, outcome, providerId ?? null, error?.slice(0, 1000) ?? null, request.person?.id ?? null, request.person?.reason ?? null],
  );
}

async function sendSlack(deps: Pager, request: PageRequest, target: Extract<PageTarget, { type: 'slack' }>): Promise<string> {
  const channel = target.channel ?? deps.slackChannel;
  const text = `${target.mention && request.kind === 'trigger' ? `${target.mention} ` : ''}${headline(request)} <${request.incident.link}|details>`;
  if (request.kind !== 'trigger' && request.previous) {
    // The page itself changes: acknowledged or resolved, in place.
    const [pageChannel, ts] = request.previous.split('/') as [string, string];
    await callSlack('chat.update', () => deps.slackPoster.slack().chat.update({ channel: pageChannel, ts, text }));
    return request.previous;
  }
  const ref = await deps.slackPoster.postOnce(request.idempotencyKey, { text, channel });
  return `${ref.channel}/${ref.ts}`;
}

async function sendEmail(deps: Pager, request: PageRequest, target: Extract<PageTarget, { type: 'email' }>): Promise<string> {
  if (!deps.smtp) throw ApplicationFailure.nonRetryable('email is not configured (set SMTP_URL)', ErrorType.InvalidInput);
  const messageId = `<${createHash('sha256').update(request.idempotencyKey).digest('hex').slice(0, 40)}@ops-automation>`;
  const subject = headline(request);
  const { incident } = request;
  // A trigger page carries a link that acknowledges as the person it went to (a list's first address).
  const ackUrl =
    request.kind === 'trigger' && deps.ackLinks
      ? `${deps.ackLinks.baseUrl.replace(/\/$/, '')}/ack/${signAckToken(deps.ackLinks.secret, {
          incident: incident.id,
          person: request.person?.id ?? target.to[0]!,
          expires: Math.floor(Date.now() / 1000) + ACK_TOKEN_TTL_SECONDS,
        })}`
      : undefined;
  const text = `${subject}\n\nService: ${incident.service}\nSeverity: ${incident.severity}\n${request.level ? `Escalation level: ${request.level}\n` : ''}\nDetails: ${incident.link}\n${
    ackUrl ? `Acknowledge: ${ackUrl}\n` : ''
  }`;
  const html = `<h2>${escapeHtml(subject)}</h2><p><b>Service:</b> ${escapeHtml(incident.service)}<br><b>Severity:</b> ${escapeHtml(incident.severity)}${
    request.level ? `<br><b>Escalation level:</b> ${request.level}` : ''
  }</p><p><a href="${escapeHtml(incident.link)}">Open the incident</a>${ackUrl ? ` | <a href="${escapeHtml(ackUrl)}">Acknowledge</a>` : ''}</p>`;
  const info = (await deps.smtp.sendMail({ from: deps.smtpFrom, to: target.to, subject, text, html, messageId })) as { messageId?: string };
  return info.messageId ?? messageId;
}

async function sendPagerduty(deps: Pager, request: PageRequest, target: Extract<PageTarget, { type: 'pagerduty' }>): Promise<string> {
  const variable = target.routingKeyEnv ?? 'PAGERDUTY_ROUTING_KEY';
  const routingKey = deps.secret(variable);
  if (!routingKey) throw ApplicationFailure.nonRetryable(`PagerDuty routing key is not set (${variable})`, ErrorType.InvalidInput);
  const dedupKey = pagerdutyDedupKey(request.incident.id);
  const body =
    request.kind === 'trigger'
      ? {
          routing_key: routingKey,
          event_action: 'trigger',
          dedup_key: dedupKey,
          payload: {
            summary: `${request.incident.title} (${request.incident.service})`.slice(0, 1024),
            source: 'ops-automation',
            severity: PD_SEVERITY[request.incident.severity],
            component: request.incident.service,
            custom_details: { level: request.level, incident: request.incident.id },
          },
          client: 'ops-automation',
          client_url: request.incident.link,
        }
      : { routing_key: routingKey, event_action: request.kind, dedup_key: dedupKey };
  const response = await fetch(deps.pagerdutyEventsUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  await checkHttp(response, 'PagerDuty');
  const answer = (await response.json().catch(() => ({}))) as { dedup_key?: string };
  return answer.dedup_key ?? dedupKey;
}

async function sendWebhook(deps: Pager, request: PageRequest, target: Extract<PageTarget, { type: 'webhook' }>): Promise<string> {
  const body = JSON.stringify({
    event: request.kind,
    incident: request.incident,
    level: request.level ?? null,
    idempotencyKey: request.idempotencyKey,
    ...(request.person ? { person: { id: request.person.id, reason: request.person.reason, ...(target.phone ? { phone: target.phone } : {}) } } : {}),
  });
  const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': request.idempotencyKey };
  if (target.secretEnv) {
    const secret = deps.secret(target.secretEnv);
    if (!secret) throw ApplicationFailure.nonRetryable(`webhook signing secret is not set (${target.secretEnv})`, ErrorType.InvalidInput);
    const timestamp = Math.floor(Date.now() / 1000);
    headers['x-ops-signature'] = `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
  }
  const response = await fetch(target.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(15_000) });
  await checkHttp(response, `webhook ${new URL(target.url).host}`);
  return response.headers.get('x-request-id') ?? request.idempotencyKey;
}

/** Sends one page, unless it was delivered already (by this process, or as our database records). */
async function sendPageOnce(deps: Pager, request: PageRequest): Promise<PageResult> {
  // Sent by this process before a task was lost: the ladder owes its row again if the database did not take it.
  const here = deps.sentHere.get(request.idempotencyKey);
  if (here) return { providerId: here.providerId, skipped: 'already-delivered', ...(here.recorded ? {} : { unrecorded: true as const }) };
  const already = await delivered(deps, request.idempotencyKey);
  if (already !== undefined) return { providerId: already, skipped: 'already-delivered' };
  const target = request.target;
  let providerId: string;
  switch (target.type) {
    case 'slack':
      providerId = await sendSlack(deps, request, target);
      break;
    case 'email':
      providerId = await sendEmail(deps, request, target);
      break;
    case 'pagerduty':
      providerId = await sendPagerduty(deps, request, target);
      break;
    case 'webhook':
      providerId = await sendWebhook(deps, request, target);
      break;
    case 'schedule':
    case 'person':
      throw ApplicationFailure.nonRetryable(`${targetKey(target)} is paged through the channels it resolves to, not directly`, ErrorType.InvalidInput);
  }
  try {
    await record(deps, request, 'delivered', providerId);
  } catch {
    // Sent is what matters; the row follows through the ladder's outbox once the database answers.
    deps.sentHere.remember(request.idempotencyKey, { providerId, recorded: false }, true);
    return { providerId, unrecorded: true };
  }
  deps.sentHere.remember(request.idempotencyKey, { providerId, recorded: true });
  return { providerId };
}

/**
 * Sends one page (or its acknowledgement or resolution) to one target,
 * once per key. A second send of a key already being sent by this
 * process (a task re-run after its first run was lost, both still going)
 * waits for the first instead of sending again.
 */
export async function sendPage(deps: Pager, request: PageRequest): Promise<PageResult> {
  const running = deps.inFlight.get(request.idempotencyKey);
  if (running) return { ...(await running), skipped: 'already-delivered' };
  const sending = sendPageOnce(deps, request);
  deps.inFlight.set(request.idempotencyKey, sending);
  try {
    return await sending;
  } finally {
    deps.inFlight.delete(request.idempotencyKey);
  }
}

/** A send that failed for good is history too: on-call asks for it after the fact. */
export async function recordFailedPage(deps: Pager, input: { request: PageRequest; error: string }): Promise<void> {
  await record(deps, input.request, 'failed', undefined, input.error);
}

/** Writes the rows a ladder kept while the database was down; a row already written is left as it is. */
export async function recordPages(deps: Pager, input: { records: PageRecord[] }): Promise<void> {
  for (const entry of input.records) await record(deps, entry.request, entry.outcome, entry.providerId, entry.error);
}

export function createPagingActivities(deps: PagingDeps) {
  const pager: Pager = {
    ...deps,
    slackPoster: createSlackPoster(deps),
    sentHere: new SentHere<{ providerId: string; recorded: boolean }>(10_000, deps.sentJournal),
    inFlight: new Map<string, Promise<PageResult>>(),
  };
  return bindDeps(pager, { sendPage, recordFailedPage, recordPages });
}
