import type { WebClient } from '@slack/web-api';
import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { Policy } from '../config/policy.js';
import type { OnCallPerson } from '../domain/oncall.js';
import { actOnIncident, actOnRollout, type ActionResult, type IncidentAction, type RolloutAction } from '../incidents/incident-actions.js';
import type { Logger } from '../logging/logger.js';
import { scheduleNamed, UnknownScheduleError, whoIsOnCall } from '../oncall/lookup.js';
import { acceptFormBodies, formFields } from './form-body.js';
import type { ReplayGuard } from './replay-guard.js';
import { checkSlackSignature, SLACK_SIGNATURE_HEADER } from './slack-signature.js';

/**
 * Slack's side of on-call: button presses on incident and rollout messages
 * (`POST /webhooks/slack/interactions`) and the `/ops` slash command
 * (`POST /webhooks/slack/commands`). Every request is verified with the
 * signing secret and acted on once; the person is the one whose `slack` ID
 * pressed the button. Slack wants an answer within 3 seconds: buttons are
 * answered at once and acted on after, with any refusal sent back as an
 * ephemeral message; commands answer within 2.5 seconds or say they are on it.
 */
export interface SlackRouteDeps {
  temporal: Client;
  pool: pg.Pool;
  policy: Policy;
  signingSecret?: string | undefined;
  /** For ephemeral answers and message updates; absent without SLACK_TOKEN. */
  slack?: WebClient | undefined;
  replayGuard: ReplayGuard;
  logger: Logger;
}

/** Button action_ids (activities/notify.ts and the rollout's approval message set them). */
const INCIDENT_BUTTONS: Record<string, IncidentAction> = { incident_acknowledge: 'acknowledge', incident_resolve: 'resolve', incident_escalate: 'escalate' };
const ROLLOUT_BUTTONS: Record<string, RolloutAction> = { rollout_approve: 'approve', rollout_reject: 'reject' };

const COMMAND_ANSWER_MS = 2500;

const USAGE = [
  '`/ops ack <incident>` acknowledge',
  '`/ops resolve <incident> [note]` resolve',
  '`/ops escalate <incident>` page the next level now',
  '`/ops oncall [schedule]` who is on call',
  '`/ops incidents` the open incidents',
].join('\n');

interface BlockActionsPayload {
  type: string;
  user?: { id?: string };
  channel?: { id?: string };
  container?: { channel_id?: string; message_ts?: string };
  message?: { ts?: string; blocks?: Array<{ type: string; block_id?: string }> };
  actions?: Array<{ action_id?: string; value?: string }>;
}

export function personBySlackId(policy: Policy, userId: string | undefined): OnCallPerson | undefined {
  return userId ? Object.values(policy.oncall.people).find((person) => person.slack === userId) : undefined;
}

export function registerSlackRoutes(app: FastifyInstance, deps: SlackRouteDeps): void {
  void app.register(async (scope) => {
    acceptFormBodies(scope);

    /** Verified and first seen, or answered 401 (the caller returns at once). */
    async function verified(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
      const auth = checkSlackSignature(request.headers, request.rawBody ?? '', deps.signingSecret, Math.floor(Date.now() / 1000));
      if (!auth.ok) {
        await reply.code(401).send({ error: auth.reason, status: 401 });
        return false;
      }
      if (!(await deps.replayGuard.firstSighting('slack', String(request.headers[SLACK_SIGNATURE_HEADER])))) {
        await reply.code(401).send({ error: 'this signed request was already received (replay)', status: 401 });
        return false;
      }
      return true;
    }

    const ephemeral = async (channel: string | undefined, user: string | undefined, text: string) => {
      if (!deps.slack || !channel || !user) return;
      await deps.slack.chat.postEphemeral({ channel, user, text }).catch((error: unknown) => deps.logger.warn({ err: error }, 'Slack ephemeral answer failed'));
    };

    scope.post('/webhooks/slack/interactions', async (request, reply) => {
      if (!(await verified(request, reply))) return reply;
      let payload: BlockActionsPayload;
      try {
        payload = JSON.parse(formFields(request.body).payload ?? '') as BlockActionsPayload;
      } catch {
        return reply.code(400).send({ error: 'payload: expected the JSON Slack sends in the "payload" form field', status: 400 });
      }
      const action = payload.actions?.[0];
      const actionId = action?.action_id ?? '';
      if (payload.type !== 'block_actions' || !action?.value || !(actionId in INCIDENT_BUTTONS || actionId in ROLLOUT_BUTTONS)) {
        return reply.code(200).send();
      }
      const userId = payload.user?.id;
      const channel = payload.channel?.id ?? payload.container?.channel_id;
      const person = personBySlackId(deps.policy, userId);
      await reply.code(200).send();
      // Acted on after the answer: Slack gives up on the request after 3 seconds.
      void (async () => {
        if (!person) {
          await ephemeral(channel, userId, `You (<@${userId}>) are not a person in ops-automation's on-call policy, so nothing was changed. Ask an admin to add your Slack ID to oncall.people.`);
          return;
        }
        const value = action.value!;
        const result: ActionResult =
          actionId in INCIDENT_BUTTONS
            ? await actOnIncident(deps.temporal, { reference: value, action: INCIDENT_BUTTONS[actionId]!, by: person.id })
            : await actOnRollout(deps.temporal, { workflowId: value, action: ROLLOUT_BUTTONS[actionId]!, by: person.id });
        if (!result.ok) {
          await ephemeral(channel, userId, `Nothing was changed: ${result.message}`);
          return;
        }
        // The incident updates its own message; a rollout's approval message loses its buttons here.
        if (actionId in ROLLOUT_BUTTONS && deps.slack && channel && payload.message?.ts) {
          const verb = ROLLOUT_BUTTONS[actionId] === 'approve' ? 'Approved' : 'Rejected';
          const blocks = [
            ...(payload.message.blocks ?? []).filter((block) => block.type !== 'actions'),
            { type: 'context', elements: [{ type: 'mrkdwn', text: `${verb} by ${person.name} (<@${userId}>)` }] },
          ];
          await deps.slack.chat
            .update({ channel, ts: payload.message.ts, text: `${verb} by ${person.name}`, blocks: blocks as never })
            .catch((error: unknown) => deps.logger.warn({ err: error }, 'Slack message update failed'));
        }
      })().catch((error: unknown) => {
        deps.logger.error({ err: error, action: actionId }, 'Slack action failed');
        void ephemeral(channel, userId, `Nothing was changed: ${(error as Error).message}`);
      });
      return reply;
    });

    scope.post('/webhooks/slack/commands', async (request, reply) => {
      const fields = formFields(request.body);
      // Slack checks the certificate of a command URL with an unsigned ssl_check.
      if (fields.ssl_check === '1') return reply.code(200).send();
      if (!(await verified(request, reply))) return reply;
      const [verb = '', ...rest] = (fields.text ?? '').trim().split(/\s+/).filter(Boolean);
      const person = personBySlackId(deps.policy, fields.user_id);
      const answer = (text: string) => reply.code(200).send({ response_type: 'ephemeral', text });

      const mutate = async (run: (by: string) => Promise<ActionResult>): Promise<FastifyReply> => {
        if (!person) return answer(`You (<@${fields.user_id}>) are not a person in ops-automation's on-call policy, so nothing was changed.`);
        const work = run(person.id);
        const late = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), COMMAND_ANSWER_MS));
        const result = await Promise.race([work, late]);
        if (result) return answer(result.ok ? `:white_check_mark: ${result.message}` : `Nothing was changed: ${result.message}`);
        // Slow Temporal: answer now, tell the outcome when it comes.
        void work
          .then((done) => ephemeral(fields.channel_id, fields.user_id, done.ok ? `:white_check_mark: ${done.message}` : `Nothing was changed: ${done.message}`))
          .catch((error: unknown) => ephemeral(fields.channel_id, fields.user_id, `Nothing was changed: ${(error as Error).message}`));
        return answer('Working on it; the result follows here.');
      };

      switch (verb.toLowerCase()) {
        case 'ack':
        case 'acknowledge':
          if (!rest[0]) return answer('Usage: `/ops ack <incident>`');
          return mutate((by) => actOnIncident(deps.temporal, { reference: rest[0]!, action: 'acknowledge', by }));
        case 'resolve': {
          if (!rest[0]) return answer('Usage: `/ops resolve <incident> [note]`');
          const note = rest.slice(1).join(' ');
          return mutate((by) => actOnIncident(deps.temporal, { reference: rest[0]!, action: 'resolve', by, ...(note ? { note } : {}) }));
        }
        case 'escalate':
          if (!rest[0]) return answer('Usage: `/ops escalate <incident>`');
          return mutate((by) => actOnIncident(deps.temporal, { reference: rest[0]!, action: 'escalate', by }));
        case 'oncall':
          return answer(await onCallText(rest[0]));
        case 'incidents':
          return answer(await openIncidentsText());
        default:
          return answer(`${verb && verb !== 'help' ? `Unknown command "${verb}".\n` : ''}${USAGE}`);
      }
    });
  });

  async function onCallText(name: string | undefined): Promise<string> {
    let names: string[];
    try {
      names = name ? [scheduleNamed(deps.policy, name).name] : Object.keys(deps.policy.oncall.schedules);
    } catch (error) {
      if (error instanceof UnknownScheduleError) return error.message;
      throw error;
    }
    if (names.length === 0) return 'No on-call schedules are configured (oncall.schedules).';
    const lines = await Promise.all(
      names.map(async (schedule) => {
        const who = await whoIsOnCall(deps.pool, scheduleNamed(deps.policy, schedule), Date.now());
        if (!who.person) return `*${schedule}*: nobody is on call${who.until ? ` until ${who.until}` : ''}`;
        const person = deps.policy.oncall.people[who.person];
        const mention = person?.slack ? ` <@${person.slack}>` : '';
        return `*${schedule}*: ${person?.name ?? who.person}${mention} (${who.source})${who.until ? ` until ${who.until}` : ''}`;
      }),
    );
    return lines.join('\n');
  }

  async function openIncidentsText(): Promise<string> {
    const lines: string[] = [];
    const query = `OpsKind = 'incident' AND ExecutionStatus = 'Running' AND OpsStatus != 'resolved'`;
    for await (const execution of deps.temporal.workflow.list({ query, pageSize: 20 })) {
      const status = execution.searchAttributes?.OpsStatus?.[0];
      lines.push(`• \`${execution.workflowId}\` ${String(execution.memo?.summary ?? '')} (${String(status ?? 'triggered')})`);
      if (lines.length >= 20) break;
    }
    return lines.length > 0 ? `Open incidents:\n${lines.join('\n')}` : 'No open incidents.';
  }
}
