import type { WebClient } from '@slack/web-api';
import type pg from 'pg';
import type { IncidentMessage, SlackMessageRef } from '../src/domain/incident.js';
import type { Severity } from '../src/domain/severity.js';
import { callSlack, createSlackPoster } from './slack-posting.js';

export type { IncidentMessage, SlackMessageRef } from '../src/domain/incident.js';

/**
 * Notifications. Slack: one message per incident (Block Kit), updated in place
 * on acknowledge and resolve, with the timeline threaded under it. A retried
 * activity never posts twice: each post carries an idempotency key, recorded
 * in slack_messages and in the message's own metadata, and looked up first.
 */

export interface NotifyDeps {
  pool: pg.Pool;
  slack: WebClient | undefined;
  slackChannel: string;
}

const SEVERITY_ICON: Record<Severity, string> = { critical: ':red_circle:', high: ':large_orange_circle:', medium: ':large_yellow_circle:', low: ':white_circle:' };

function headline(message: IncidentMessage): string {
  const state =
    message.phase === 'resolved'
      ? `Resolved${message.resolvedBy ? ` by ${message.resolvedBy}` : ''}`
      : message.phase === 'acknowledged'
        ? `Acknowledged by ${message.acknowledgedBy}`
        : message.muted
          ? 'Triggered (muted)'
          : 'Triggered';
  return `${message.phase === 'resolved' ? ':white_check_mark:' : SEVERITY_ICON[message.severity]} ${message.severity.toUpperCase()} ${message.title} - ${state}`;
}

/** The action_id of each button; the webhook server maps them back to updates. */
export const INCIDENT_ACTIONS = { acknowledge: 'incident_acknowledge', resolve: 'incident_resolve', escalate: 'incident_escalate' } as const;

/** Buttons for what can still be done: acknowledge and escalate while triggered, resolve until resolved. */
function incidentButtons(message: IncidentMessage) {
  if (message.phase === 'resolved') return [];
  const workflowId = message.incidentId.split('/')[0]!;
  const button = (text: string, actionId: string, style?: 'primary' | 'danger') => ({
    type: 'button',
    action_id: actionId,
    text: { type: 'plain_text', text },
    value: workflowId,
    ...(style ? { style } : {}),
  });
  const buttons = [
    ...(message.phase === 'triggered' ? [button('Acknowledge', INCIDENT_ACTIONS.acknowledge, 'primary')] : []),
    button('Resolve', INCIDENT_ACTIONS.resolve),
    ...(message.phase === 'triggered' ? [button('Escalate', INCIDENT_ACTIONS.escalate, 'danger')] : []),
  ];
  return [{ type: 'actions', block_id: 'incident_actions', elements: buttons }];
}

/** The incident message in Block Kit: title, severity, service, state, links, and the buttons that act on it. */
export function incidentBlocks(message: IncidentMessage) {
  const links = [
    `<${message.links.temporal}|Temporal workflow>`,
    ...(message.links.generator ? [`<${message.links.generator}|Alert source>`] : []),
    ...(message.links.alertmanager ? [`<${message.links.alertmanager}|Alertmanager>`] : []),
  ];
  return [
    { type: 'header', text: { type: 'plain_text', text: headline(message).replace(/:[a-z_]+: /, '').slice(0, 150) } },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Severity*\n${SEVERITY_ICON[message.severity]} ${message.severity}` },
        { type: 'mrkdwn', text: `*Service*\n${message.service}` },
        { type: 'mrkdwn', text: `*State*\n${message.phase}${message.muted ? ' (muted)' : ''}` },
        { type: 'mrkdwn', text: `*Incident*\n${message.incidentId.split('/')[0]}` },
      ],
    },
    { type: 'context', elements: [{ type: 'mrkdwn', text: links.join('  |  ') }] },
    ...incidentButtons(message),
  ];
}

export function createNotifyActivities(deps: NotifyDeps) {
  const { postOnce, slack } = createSlackPoster(deps);

  return {
    async postIncidentMessage(input: IncidentMessage & { idempotencyKey: string }): Promise<SlackMessageRef> {
      return postOnce(input.idempotencyKey, { text: headline(input), blocks: incidentBlocks(input) });
    },

    /** chat.update replaces the message: doing it twice leaves the same message. */
    async updateIncidentMessage(input: IncidentMessage & { ref: SlackMessageRef }): Promise<void> {
      await callSlack('chat.update', () =>
        slack().chat.update({ channel: input.ref.channel, ts: input.ref.ts, text: headline(input), blocks: incidentBlocks(input) as never }),
      );
    },

    /** A plain top-level message (a rollout's announcement, whose thread then carries its steps). */
    async postOpsMessage(input: { text: string; idempotencyKey: string; channel?: string }): Promise<SlackMessageRef> {
      return postOnce(input.idempotencyKey, { text: input.text, ...(input.channel ? { channel: input.channel } : {}) });
    },

    async postThreadReply(input: { ref: SlackMessageRef; lines: string[]; idempotencyKey: string }): Promise<SlackMessageRef> {
      return postOnce(input.idempotencyKey, { text: input.lines.join('\n'), threadTs: input.ref.ts, channel: input.ref.channel });
    },

    /** A rollout's request for approval, with Approve and Reject buttons, in its thread and shown in the channel. */
    async postApprovalRequest(input: { ref: SlackMessageRef; text: string; workflowId: string; idempotencyKey: string }): Promise<SlackMessageRef> {
      const button = (text: string, actionId: string, style: 'primary' | 'danger') => ({ type: 'button', action_id: actionId, text: { type: 'plain_text', text }, value: input.workflowId, style });
      const blocks = [
        { type: 'section', text: { type: 'mrkdwn', text: input.text } },
        { type: 'actions', block_id: 'rollout_approval', elements: [button('Approve', 'rollout_approve', 'primary'), button('Reject', 'rollout_reject', 'danger')] },
      ];
      return postOnce(input.idempotencyKey, { text: input.text, blocks, threadTs: input.ref.ts, channel: input.ref.channel, broadcast: true });
    },
  };
}
