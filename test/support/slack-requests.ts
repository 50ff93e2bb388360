import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { WebClient } from '@slack/web-api';
import type { Policy } from '../../src/config/policy.js';
import { createLogger } from '../../src/logging/logger.js';
import { createReplayGuard } from '../../src/webhooks/replay-guard.js';
import { buildWebhookServer, type WebhookServer } from '../../src/webhooks/server.js';
import type { StackClients } from './stack.js';

/**
 * Requests as Slack sends them to an app: form-encoded, signed with the
 * app's signing secret over "v0:<timestamp>:<raw body>".
 */
export const SIGNING_SECRET = 'slack-signing-secret-0123456789abcdef';

export interface SlackUser {
  id: string;
  name: string;
}

export function signSlack(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export function slackRequest(url: string, body: string, options: { secret?: string; timestamp?: number } = {}) {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': signSlack(options.secret ?? SIGNING_SECRET, timestamp, body),
  };
  return { url, body, headers, send: () => fetch(url, { method: 'POST', headers, body }) };
}

/** A block_actions payload for a button press on a message, as Slack builds it. */
export function buttonPress(input: { user: SlackUser; channel: string; messageTs: string; actionId: string; value: string; blocks?: unknown[] }): string {
  const payload = {
    type: 'block_actions',
    user: { id: input.user.id, username: input.user.name, name: input.user.name, team_id: 'T0TEAM0001' },
    api_app_id: 'A0APP00001',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: input.messageTs, channel_id: input.channel, is_ephemeral: false },
    trigger_id: '1234567890.123456789.abcdef',
    team: { id: 'T0TEAM0001', domain: 'example' },
    channel: { id: input.channel, name: 'incidents' },
    message: { type: 'message', ts: input.messageTs, text: '', blocks: input.blocks ?? [] },
    response_url: 'https://hooks.slack.com/actions/T0TEAM0001/1/abc',
    actions: [
      { action_id: input.actionId, block_id: 'incident_actions', text: { type: 'plain_text', text: input.actionId }, value: input.value, type: 'button', action_ts: `${Date.now() / 1000}` },
    ],
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** A slash command's form body, as Slack posts it. */
export function slashCommand(input: { user: SlackUser; channel: string; text: string; command?: string }): string {
  return new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: 'T0TEAM0001',
    team_domain: 'example',
    channel_id: input.channel,
    channel_name: 'incidents',
    user_id: input.user.id,
    user_name: input.user.name,
    command: input.command ?? '/ops',
    text: input.text,
    api_app_id: 'A0APP00001',
    response_url: 'https://hooks.slack.com/commands/T0TEAM0001/1/abc',
    trigger_id: '1234567890.123456789.abcdef',
  }).toString();
}

/** The webhook server with Slack's routes only, on a free loopback port, verifying with SIGNING_SECRET. */
export async function startSlackRoutes(clients: StackClients, policy: Policy, slack: WebClient): Promise<{ app: WebhookServer; base: string }> {
  const app = buildWebhookServer({
    temporal: clients.client,
    temporalConnection: clients.connection,
    logger: createLogger({ level: 'silent' }),
    slack: { pool: clients.pool, policy, signingSecret: SIGNING_SECRET, slack, replayGuard: createReplayGuard(clients.pool) },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}
