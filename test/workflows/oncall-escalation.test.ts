import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { createSmtpTransport } from '../../src/clients/smtp.js';
import { parsePolicy, type Policy } from '../../src/config/policy.js';
import { addOverride } from '../../src/db/oncall-overrides.js';
import { onCallAt } from '../../src/domain/oncall.js';
import { resolveUpdate } from '../../workflows/incident.js';
import { FakeSlack } from '../support/fake-slack.js';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { connectStack, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * Ladders whose targets are schedules and people, on a real Temporal server:
 * each level pages whoever is on call when it is due, so a handoff during the
 * wait pages the new on-call, and an override added at run time is honoured.
 */
describe('escalation to whoever is on call', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let policy: Policy;
  const slack = new FakeSlack();
  const mail = new SmtpSink();
  const taskQueue = uniqueTaskQueue('oncall-esc');
  const unique = taskQueue.slice(-8);
  const service = (name: string) => `${name}-${unique}`;
  const rotation = `rotation-${unique}`;
  const empty = `empty-${unique}`;

  beforeAll(async () => {
    clients = await connectStack();
    await Promise.all([slack.start(), mail.start()]);
    // A 4-second rotation that started a minute ago, in UTC: a 4-second level timeout always spans a handoff.
    const start = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000).toISOString().slice(0, 19);
    // A weekday layer for the day after tomorrow only: nobody is on call now.
    const otherDay = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][(new Date().getUTCDay() + 2) % 7];
    policy = parsePolicy(
      {
        oncall: {
          people: {
            alice: { name: 'Alice', slack: 'U0ALICE001', email: 'alice@example.com', timeZone: 'Europe/Berlin' },
            bob: { name: 'Bob', slack: 'U0BOB00001' },
            carol: { name: 'Carol', slack: 'U0CAROL001' },
            erin: { name: 'Erin', slack: 'U0ERIN0001', email: 'erin@example.com' },
          },
          schedules: {
            [rotation]: { timeZone: 'UTC', layers: [{ people: ['alice', 'bob', 'carol'], start, shift: '4s' }] },
            [empty]: { timeZone: 'UTC', layers: [{ people: ['carol'], start, shift: '1d', restrict: { days: [otherDay], hours: '00:00-24:00' } }] },
          },
        },
        escalation: {
          policies: [
            {
              name: 'rotation',
              levels: [1, 2, 3].map(() => ({ timeout: '4s', targets: [{ type: 'schedule', schedule: rotation }] })),
            },
            {
              name: 'fallthrough',
              levels: [{ timeout: '10m', targets: [{ type: 'schedule', schedule: empty }] }, { timeout: '10m', targets: [{ type: 'person', person: 'bob' }] }],
            },
          ],
          routes: [{ matchers: [`service="${service('empty')}"`], policy: 'fallthrough' }],
          defaultPolicy: 'rotation',
        },
      },
      'test',
    );
    const activities = createActivities(
      clients.activityDeps({ policy, slack: createSlackClient('xoxb-test', slack.url), slackChannel: '#incidents', smtp: createSmtpTransport(mail.url) }),
    );
    worker = await startBackgroundWorker(taskQueue, activities);
  });

  afterAll(async () => {
    await worker.stop();
    await Promise.all([slack.stop(), mail.stop()]);
    await clients.close();
  });

  const incidentOf = (name: string) =>
    deliver(clients.client, taskQueue, `oncall-${name}-${unique}`, batch([alert(`${name}-1`, 'firing', { service: service(name), severity: 'critical' })]));

  it('pages the on-call at each level: the new one after a handoff, and an override added during the wait', async () => {
    const handle = await incidentOf('handoff');
    await statusWhen(handle, (s) => (s.escalation?.level ?? 0) >= 2, 30_000);
    // Erin covers from now on: level 3, four seconds later, must page her, not the rotation.
    await addOverride(clients.pool, { schedule: rotation, person: 'erin', startMs: Date.now(), endMs: Date.now() + 120_000, by: 'lead' });
    const third = await statusWhen(handle, (s) => (s.escalation?.level ?? 0) >= 3, 30_000);
    const pages = third.escalation!.pages;
    const schedule = policy.oncall.schedules[rotation]!;
    const level = (n: number) => pages.filter((page) => page.level === n);
    const [first, next, covered] = [level(1)[0], level(2)[0], level(3)[0]];
    // Level 1 paged whoever was on call when the ladder started; level 2 whoever was on call when it
    // was due, level 1's start plus its timeout, after a handoff: someone else; level 3 the override.
    expect(Date.parse(first!.onCallAt!)).toBeLessThanOrEqual(Date.parse(first!.at));
    expect(Date.parse(first!.at) - Date.parse(first!.onCallAt!)).toBeLessThan(4000);
    expect(first!.person).toBe(onCallAt(schedule, Date.parse(first!.onCallAt!)).person);
    expect(Date.parse(next!.onCallAt!)).toBe(Date.parse(first!.at) + 4000);
    expect(next!.person).toBe(onCallAt(schedule, Date.parse(next!.onCallAt!)).person);
    expect(next!.person).not.toBe(first!.person);
    expect(covered).toMatchObject({ person: 'erin', via: `schedule:${rotation}`, reason: `on call for ${rotation} (override)`, outcome: 'delivered' });
    // Each person through each of their contact methods: Alice and Erin by Slack and email, the others by Slack.
    const channels: Record<string, string[]> = {
      alice: ['email:alice@example.com', 'slack:default'],
      bob: ['slack:default'],
      carol: ['slack:default'],
      erin: ['email:erin@example.com', 'slack:default'],
    };
    for (const n of [1, 2, 3]) {
      const paged = level(n);
      expect(new Set(paged.map((page) => page.person)).size).toBe(1);
      expect(paged.map((page) => page.target).sort()).toEqual(channels[paged[0]!.person!]);
    }
    const mentions = slack.messages.filter((message) => message.text.includes(service('handoff'))).map((message) => message.text.split(' ')[0]);
    const slackIds: Record<string, string> = { alice: '<@U0ALICE001>', bob: '<@U0BOB00001>', carol: '<@U0CAROL001>', erin: '<@U0ERIN0001>' };
    expect(mentions).toEqual([slackIds[first!.person!], slackIds[next!.person!], '<@U0ERIN0001>']);
    expect(mail.messages.filter((message) => message.to.includes('erin@example.com') && message.subject.includes(service('handoff')))).toHaveLength(1);

    // The timeline and the notifications table say who was paged and why.
    expect(third.timeline.map((event) => event.text)).toContain(`level 1: paged ${first!.person}, on call for ${rotation} (layer 1), by slack:default`);
    const { rows } = await clients.pool.query<{ level: number; person: string; resolved_from: string }>(
      `SELECT DISTINCT level, person, resolved_from FROM notifications WHERE incident_id = $1 AND kind = 'trigger' ORDER BY level`,
      [third.incidentId],
    );
    expect(rows.map((row) => [row.level, row.person, row.resolved_from])).toEqual([
      [1, first!.person, `on call for ${rotation} (layer 1)`],
      [2, next!.person, `on call for ${rotation} (layer 1)`],
      [3, 'erin', `on call for ${rotation} (override)`],
    ]);

    // Resolving tells each person's page, each once.
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'erin' }] });
    await statusWhen(handle, (s) => s.escalation?.finished === 'resolved', 20_000);
    const updated = slack.messages.filter((message) => message.text.includes(service('handoff')) && message.updates > 0);
    expect(updated).toHaveLength(3);
    expect(updated.every((message) => message.updates === 1)).toBe(true);
  });

  it('falls through to the next level at once when nobody is on call, and says so', async () => {
    const handle = await incidentOf('empty');
    const status = await statusWhen(handle, (s) => (s.escalation?.level ?? 0) >= 2, 20_000);
    expect(status.escalation!.pages.map((page) => [page.level, page.target, page.outcome, page.person ?? null])).toEqual([
      [1, `schedule:${empty}`, 'failed', null],
      [2, 'slack:default', 'delivered', 'bob'],
    ]);
    const texts = status.timeline.map((event) => event.text);
    expect(texts).toContain(`level 1: could not page schedule:${empty}: nobody is on call for ${empty}`);
    expect(texts).toContain('level 2: paged bob, named in the policy, by slack:default');
    // The ladder did not wait ten minutes for an empty slot.
    const [one, two] = status.escalation!.pages;
    expect(Date.parse(two!.at) - Date.parse(one!.at)).toBeLessThan(5_000);
  });
});
