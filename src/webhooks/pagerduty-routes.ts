import { createHmac } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Policy } from '../config/policy.js';
import { actOnIncident } from '../incidents/incident-actions.js';
import type { Logger } from '../logging/logger.js';
import { sameSecret, type AuthResult } from './auth.js';
import type { ReplayGuard } from './replay-guard.js';

/**
 * `POST /webhooks/pagerduty`: PagerDuty Webhooks v3. Verified by
 * `X-PagerDuty-Signature: v1=<hex HMAC-SHA256(secret, raw body)>` (several
 * during a secret rotation; one must match). `incident.acknowledged` and
 * `incident.resolved` of an incident we triggered (its `incident_key` is the
 * dedup_key we sent) acknowledge or resolve ours, by the PagerDuty user who
 * did it. Everything else is answered 2xx and ignored; a delivery that could
 * not reach Temporal is answered 503, so PagerDuty delivers it again.
 */
export interface PagerDutyRouteDeps {
  temporal: Client;
  pool: pg.Pool;
  policy: Policy;
  webhookSecret?: string | undefined;
  replayGuard: ReplayGuard;
  logger: Logger;
}

export const PAGERDUTY_SIGNATURE_HEADER = 'x-pagerduty-signature';

export function checkPagerDutySignature(header: string | undefined, rawBody: string, secret: string | undefined): AuthResult {
  if (!secret) return { ok: false, reason: 'PagerDuty webhooks are not accepted: PAGERDUTY_WEBHOOK_SECRET is not set' };
  const signatures = (header ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith('v1='));
  if (signatures.length === 0) return { ok: false, reason: `missing or malformed ${PAGERDUTY_SIGNATURE_HEADER} (expected v1=<hex>)` };
  const expected = `v1=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
  return signatures.some((signature) => sameSecret(signature.toLowerCase(), expected))
    ? { ok: true, method: 'hmac' }
    : { ok: false, reason: 'PagerDuty signature does not match the body' };
}

interface WebhookEvent {
  event?: {
    id?: string;
    event_type?: string;
    agent?: { id?: string; summary?: string; type?: string } | null;
    data?: { incident_key?: string | null; type?: string };
  };
}

const ACTIONS = { 'incident.acknowledged': 'acknowledge', 'incident.resolved': 'resolve' } as const;

export function registerPagerDutyRoutes(app: FastifyInstance, deps: PagerDutyRouteDeps): void {
  void app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      request.rawBody = body as string;
      try {
        done(null, JSON.parse(body as string));
      } catch (error) {
        done(Object.assign(new Error(`body is not valid JSON: ${(error as Error).message}`), { statusCode: 400 }), undefined);
      }
    });

    scope.post('/webhooks/pagerduty', async (request, reply) => {
      const auth = checkPagerDutySignature(request.headers[PAGERDUTY_SIGNATURE_HEADER] as string | undefined, request.rawBody ?? '', deps.webhookSecret);
      if (!auth.ok) return reply.code(401).send({ error: auth.reason, status: 401 });
      const event = (request.body as WebhookEvent | undefined)?.event;
      const type = event?.event_type ?? '';
      const action = ACTIONS[type as keyof typeof ACTIONS];
      const incidentKey = event?.data?.incident_key ?? '';
      const workflowId = action ? await ourIncident(incidentKey) : undefined;
      if (!action || !workflowId) return reply.code(202).send({ status: 'ignored', reason: !action ? `event ${type || '(none)'} is not acted on` : `incident_key ${incidentKey || '(none)'} is not ours` });
      // PagerDuty delivers an event again until it gets a 2xx: the same event is acted on once.
      if (event?.id && !(await deps.replayGuard.firstSighting('pagerduty', event.id))) return reply.code(202).send({ status: 'duplicate', event: event.id });
      const by = personOf(event?.agent);
      try {
        const result = await actOnIncident(deps.temporal, { reference: workflowId.workflowId, action, by, firstExecutionRunId: workflowId.firstExecutionRunId });
        return reply.code(202).send({ status: result.ok ? 'applied' : 'ignored', message: result.message });
      } catch (error) {
        if (event?.id) await deps.replayGuard.forget('pagerduty', event.id);
        deps.logger.warn({ err: error, event: event?.id }, 'PagerDuty webhook could not reach Temporal');
        return reply.code(503).header('retry-after', '5').send({ error: `Temporal is unavailable, retry later: ${(error as Error).message}`, status: 503 });
      }
    });
  });

  /** The incident we sent to PagerDuty with this dedup_key (`<workflow ID>/<first run ID>`), or undefined. */
  async function ourIncident(incidentKey: string): Promise<{ workflowId: string; firstExecutionRunId: string } | undefined> {
    const split = (incidentId: string) => {
      const [workflowId, firstExecutionRunId] = incidentId.split('/') as [string, string];
      return { workflowId, firstExecutionRunId };
    };
    if (/^incident-[^/]+\/[0-9a-f-]{36}$/.test(incidentKey)) return split(incidentKey);
    if (!incidentKey.startsWith('sha256:')) return undefined;
    // A long incident ID went out hashed: the page's row knows which incident it was.
    const { rows } = await deps.pool.query<{ incident_id: string }>(
      `SELECT incident_id FROM notifications WHERE channel = 'pagerduty' AND provider_id = $1 LIMIT 1`,
      [incidentKey],
    );
    return rows[0] ? split(rows[0].incident_id) : undefined;
  }

  /** Our person with that PagerDuty user ID, else the PagerDuty user's name. */
  function personOf(agent: { id?: string; summary?: string } | null | undefined): string {
    const person = agent?.id ? Object.values(deps.policy.oncall.people).find((candidate) => candidate.pagerduty?.userId === agent.id) : undefined;
    return person?.id ?? `pagerduty:${agent?.summary ?? agent?.id ?? 'unknown'}`;
  }
}
