import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type pg from 'pg';
import { ackTokenHash, verifyAckToken, type AckClaims } from '../incidents/ack-token.js';
import { actOnIncident } from '../incidents/incident-actions.js';
import type { Logger } from '../logging/logger.js';
import { acceptFormBodies } from './form-body.js';

/**
 * `GET /ack/<token>` shows a small confirm page (a mail scanner that follows
 * links acknowledges nothing); its `POST` acknowledges as the person the link
 * was sent to. A token works once; a stale, used or forged one gets a page
 * that says why.
 */
export interface AckRouteDeps {
  temporal: Client;
  pool: pg.Pool;
  secret?: string | undefined;
  logger: Logger;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

function page(reply: FastifyReply, status: number, title: string, body: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
    .send(
      `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title>` +
        `<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}button{font-size:1.2rem;padding:.6rem 1.4rem}</style></head>` +
        `<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
    );
}

const REFUSALS = {
  forged: 'This link is not one ops-automation sent (or it was altered). Nothing was changed.',
  expired: 'This link has expired (links work for 24 hours). Nothing was changed; acknowledge in Slack, PagerDuty or with opsctl.',
  used: 'This link was already used. Nothing was changed.',
} as const;

export function registerAckRoutes(app: FastifyInstance, deps: AckRouteDeps): void {
  const check = async (token: string): Promise<{ claims: AckClaims } | { refusal: keyof typeof REFUSALS | 'off' }> => {
    if (!deps.secret) return { refusal: 'off' };
    const verdict = verifyAckToken(deps.secret, token, Math.floor(Date.now() / 1000));
    if (!verdict.ok) return { refusal: verdict.reason };
    const { rowCount } = await deps.pool.query('SELECT 1 FROM ack_tokens_used WHERE token_hash = $1', [ackTokenHash(token)]);
    return rowCount ? { refusal: 'used' } : { claims: verdict.claims };
  };
  const refuse = (reply: FastifyReply, refusal: keyof typeof REFUSALS | 'off') =>
    refusal === 'off'
      ? page(reply, 404, 'Acknowledgement links are off', '<p>This server has no OPS_ACK_SECRET or OPS_WEBHOOK_TOKEN to check links with.</p>')
      : page(reply, refusal === 'forged' ? 403 : 410, 'Link not valid', `<p>${REFUSALS[refusal]}</p>`);

  void app.register(async (scope) => {
    acceptFormBodies(scope);

    scope.get<{ Params: { token: string } }>('/ack/:token', async (request, reply) => {
      const checked = await check(request.params.token);
      if ('refusal' in checked) return refuse(reply, checked.refusal);
      const incident = checked.claims.incident.split('/')[0]!;
      return page(
        reply,
        200,
        'Acknowledge this incident?',
        `<p><b>${escapeHtml(incident)}</b></p><p>You acknowledge as <b>${escapeHtml(checked.claims.person)}</b>; the escalation stops.</p>` +
          `<form method="post" action="/ack/${encodeURIComponent(request.params.token)}"><button type="submit">Acknowledge</button></form>`,
      );
    });

    scope.post<{ Params: { token: string } }>('/ack/:token', async (request, reply) => {
      const token = request.params.token;
      const checked = await check(token);
      if ('refusal' in checked) return refuse(reply, checked.refusal);
      // Claimed before acting: of two clicks racing, one acknowledges.
      const claimed = await deps.pool.query('INSERT INTO ack_tokens_used (token_hash, incident, person) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        ackTokenHash(token),
        checked.claims.incident,
        checked.claims.person,
      ]);
      if (claimed.rowCount !== 1) return refuse(reply, 'used');
      const [workflowId, firstExecutionRunId] = checked.claims.incident.split('/') as [string, string | undefined];
      try {
        const result = await actOnIncident(deps.temporal, {
          reference: workflowId,
          action: 'acknowledge',
          by: checked.claims.person,
          ...(firstExecutionRunId ? { firstExecutionRunId } : {}),
        });
        return result.ok
          ? page(reply, 200, 'Acknowledged', `<p>${escapeHtml(workflowId)} is acknowledged by ${escapeHtml(checked.claims.person)}. The escalation has stopped.</p>`)
          : page(reply, 409, 'Nothing was changed', `<p>${escapeHtml(result.message)}</p>`);
      } catch (error) {
        // Temporal did not answer: the link may be used again.
        await deps.pool.query('DELETE FROM ack_tokens_used WHERE token_hash = $1', [ackTokenHash(token)]).catch(() => undefined);
        deps.logger.warn({ err: error }, 'acknowledgement link could not reach Temporal');
        return page(reply, 503, 'Try again in a moment', '<p>ops-automation could not reach Temporal. Nothing was changed; the link still works.</p>');
      }
    });
  });
}
