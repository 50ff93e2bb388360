import { LogLevel } from '@slack/web-api';
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackPoster } from '../../activities/slack-posting.js';
import { createPgPool } from '../../src/clients/postgres.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { FakeSlack } from '../support/fake-slack.js';
import { quietSdkLogger } from '../support/quiet-log.js';
import { testStack, uniqueTaskQueue } from '../support/stack.js';

/**
 * A Slack post whose sender never heard Slack's answer (the worker died, or
 * the connection dropped after Slack took the message) is not posted again by
 * the send that runs next: on another worker, its workflow task running again
 * as a first attempt, it finds the key marked as being sent and looks for the
 * message in Slack first. Against PostgreSQL and the real @slack/web-api client.
 */
describe('Slack posts across a sender that died', () => {
  const slack = new FakeSlack();
  let pool: pg.Pool;
  const unique = uniqueTaskQueue('slack-posting').slice(-8);
  /** A worker process of its own: nothing remembered in memory from another one. (The client's warning of the failure caused on purpose is left out.) */
  const worker = () => createSlackPoster({ pool, slack: createSlackClient('xoxb-test', slack.url, LogLevel.ERROR), slackChannel: '#paging' });
  /** A send as a first attempt, as a workflow task that runs again starts its local activities. */
  const firstAttempt = <T>(send: () => Promise<T>): Promise<T> => new MockActivityEnvironment({ attempt: 1 }, { logger: quietSdkLogger }).run(send) as Promise<T>;
  const posts = (key: string) => slack.messages.filter((message) => message.metadata?.event_payload.idempotency_key === key);

  beforeAll(async () => {
    await slack.start();
    slack.channelId('paging');
    pool = createPgPool(testStack().databaseUrl, 'ops-tests');
  });

  afterAll(async () => {
    await pool.end();
    await slack.stop();
  });

  it('finds the message Slack took when its sender died before the answer, instead of posting it twice', async () => {
    const key = `incident-${unique}:esc1:c0:l1:slack:default`;
    // Slack takes the post and the answer never arrives.
    slack.failNext('chat.postMessage', { kind: 'drop-response' });
    await expect(firstAttempt(() => worker().postOnce(key, { text: 'level 1' }))).rejects.toThrow();
    expect(posts(key)).toHaveLength(1);

    const found = await firstAttempt(() => worker().postOnce(key, { text: 'level 1' }));
    expect(posts(key)).toHaveLength(1);
    expect(found).toEqual({ channel: posts(key)[0]!.channel, ts: posts(key)[0]!.ts });
    const { rows } = await pool.query('SELECT channel, ts FROM slack_messages WHERE idempotency_key = $1', [key]);
    expect(rows).toEqual([found]);
  });

  it('posts once a send that never reached Slack', async () => {
    const key = `incident-${unique}:esc1:c0:l2:slack:default`;
    // Slack answers 503 without taking the post.
    slack.failNext('chat.postMessage', { kind: 'http', status: 503 });
    await expect(firstAttempt(() => worker().postOnce(key, { text: 'level 2' }))).rejects.toThrow();
    expect(posts(key)).toHaveLength(0);

    const posted = await firstAttempt(() => worker().postOnce(key, { text: 'level 2' }));
    expect(posts(key)).toEqual([expect.objectContaining({ ts: posted.ts, text: 'level 2' })]);
    // And a later send of the same key, anywhere, is the same message.
    expect(await firstAttempt(() => worker().postOnce(key, { text: 'level 2' }))).toEqual(posted);
    expect(posts(key)).toHaveLength(1);
  });
});
