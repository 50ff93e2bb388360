import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { createSmtpTransport } from '../../src/clients/smtp.js';
import { parsePolicy } from '../../src/config/policy.js';
import { acknowledgeUpdate, escalateUpdate, resolveUpdate, statusQuery } from '../../workflows/incident.js';
import { FakeSlack } from '../support/fake-slack.js';
import { fakePagerDuty, HttpRecorder } from '../support/http-recorder.js';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { opsctlAsync } from '../support/opsctl.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { connectStack, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';
const HOOK_SECRET = 'hook-signing-secret-0123456789';

/**
 * Escalation ladders on a real Temporal server, paging through the real
 * clients into local servers that speak Slack, PagerDuty Events v2, SMTP and
 * a webhook receiver, each counting what it received.
 */
describe('escalation ladders', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  const slack = new FakeSlack();
  const pagerduty = fakePagerDuty();
  const hook = new HttpRecorder();
  const mail = new SmtpSink();
  const taskQueue = uniqueTaskQueue('escalation');
  const unique = taskQueue.slice(-8);
  const service = (name: string) => `${name}-${unique}`;

  beforeAll(async () => {
    clients = await connectStack();
    await Promise.all([slack.start(), pagerduty.start('/v2/enqueue'), hook.start('/hook'), mail.start()]);
    const policy = parsePolicy(
      {
        inhibitRules: [{ name: 'down-mutes-latency', sourceMatchers: ['alertname="ServiceDown"'], targetMatchers: ['alertname="HighLatency"'], equal: ['service'] }],
        escalation: {
          policies: [
            {
              name: 'standard',
              levels: [
                { timeout: '3s', targets: [{ type: 'slack', channel: '#oncall', mention: '<@U0NCALL>' }, { type: 'pagerduty' }] },
                { timeout: '3s', targets: [{ type: 'email', to: ['lead@example.com'] }, { type: 'webhook', url: hook.url, secretEnv: 'HOOK_SECRET' }] },
              ],
              finalAction: { targets: [{ type: 'email', to: ['team@example.com'] }] },
            },
            {
              // Level 2 holds for 10 s: a test that acknowledges there must see it in time, even on a loaded machine.
              name: 'ack-window',
              levels: [
                { timeout: '3s', targets: [{ type: 'slack', channel: '#oncall' }, { type: 'pagerduty' }] },
                { timeout: '10s', targets: [{ type: 'email', to: ['lead@example.com'] }, { type: 'webhook', url: hook.url, secretEnv: 'HOOK_SECRET' }] },
              ],
              finalAction: { targets: [{ type: 'email', to: ['team@example.com'] }] },
            },
            {
              name: 'slow',
              levels: [{ timeout: '10m', targets: [{ type: 'slack', channel: '#oncall' }] }, { targets: [{ type: 'email', to: ['lead@example.com'] }] }],
            },
            {
              name: 'broken',
              levels: [
                { timeout: '10m', targets: [{ type: 'pagerduty', routingKeyEnv: 'BAD_ROUTING_KEY' }, { type: 'webhook', url: `${hook.url}?fail` }] },
                { timeout: '10m', targets: [{ type: 'email', to: ['lead@example.com'] }] },
              ],
            },
          ],
          routes: [
            { matchers: [`service="${service('slow')}"`], policy: 'slow' },
            { matchers: [`service="${service('ack2')}"`], policy: 'ack-window' },
            { matchers: [`service="${service('outage')}"`], policy: 'slow' },
            { matchers: [`service=~"hours-.*-${unique}"`], policy: 'slow' },
            { matchers: [`service="${service('broken')}"`], policy: 'broken' },
          ],
          defaultPolicy: 'standard',
          // Ladders here fire seconds apart: check before every level that the incident still runs.
          incidentCheck: '0s',
          // Business hours that are never now: Monday 00:00-00:01 in a zone, on a Monday that is a holiday.
          businessHours: { timeZone: 'Pacific/Kiritimati', days: ['mon'], start: '00:00', end: '00:01', severities: ['low'] },
        },
      },
      'test',
    );
    const secrets: Record<string, string> = { PAGERDUTY_ROUTING_KEY: ROUTING_KEY, HOOK_SECRET, BAD_ROUTING_KEY: 'too-short' };
    const activities = createActivities(
      clients.activityDeps({
        policy,
        slack: createSlackClient('xoxb-test', slack.url),
        slackChannel: '#incidents',
        smtp: createSmtpTransport(mail.url),
        pagerdutyEventsUrl: pagerduty.url,
        secret: (name) => secrets[name],
      }),
    );
    worker = await startBackgroundWorker(taskQueue, activities);
  });

  afterAll(async () => {
    await worker.stop();
    await Promise.all([slack.stop(), pagerduty.stop(), hook.stop(), mail.stop()]);
    await clients.close();
  });

  const incidentOf = async (name: string) =>
    deliver(clients.client, taskQueue, `esc-${name}-${unique}`, batch([alert(`${name}-1`, 'firing', { service: service(name), severity: 'critical' })]));
  const pdEvents = (incidentId: string) => pagerduty.requests.filter((request) => request.body.dedup_key === incidentId).map((request) => request.body.event_action);
  const mailsTo = (address: string, incidentService: string) =>
    mail.messages.filter((message) => message.to.includes(address) && message.subject.includes(incidentService));
  const pagesIn = (channel: string, incidentService: string) => slack.inChannel(channel).filter((message) => message.text.includes(incidentService));

  it('climbs every level and the final action while nobody acknowledges, then tells everyone it resolved', async () => {
    const handle = await incidentOf('climb');
    const exhausted = await statusWhen(handle, (s) => s.escalation?.exhausted === true, 30_000);
    const incidentId = exhausted.incidentId;
    expect(exhausted.escalation?.pages.map((page) => [page.level, page.target, page.outcome])).toEqual([
      [1, 'slack:#oncall', 'delivered'],
      [1, 'pagerduty:PAGERDUTY_ROUTING_KEY', 'delivered'],
      [2, 'email:lead@example.com', 'delivered'],
      [2, `webhook:${hook.url}`, 'delivered'],
      [3, 'email:team@example.com', 'delivered'],
    ]);
    // The levels were 3 seconds apart.
    const levelTimes = [...new Set(exhausted.escalation!.pages.map((page) => Date.parse(page.at)))];
    expect(levelTimes[1]! - levelTimes[0]!).toBeGreaterThanOrEqual(2900);

    const [page] = pagesIn('#oncall', service('climb'));
    expect(page?.text).toMatch(/^<@U0NCALL> \[CRITICAL\] HighErrorRate/);
    expect(pdEvents(incidentId)).toEqual(['trigger']);
    const signed = hook.requests.find((request) => (request.body.incident as { id: string }).id === incidentId)!;
    expect(signed.headers['idempotency-key']).toBe(`${incidentId}:esc1:c0:l2:webhook:${hook.url}`);
    expect(String(signed.headers['x-ops-signature'])).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);

    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'alice' }] });
    await statusWhen(handle, (s) => s.children[0]?.outcome === 'resolved', 20_000);
    expect(pdEvents(incidentId)).toEqual(['trigger', 'resolve']);
    expect(pagesIn('#oncall', service('climb'))).toHaveLength(1);
    expect(pagesIn('#oncall', service('climb'))[0]?.text).toMatch(/^\[RESOLVED\]/);
    expect(mailsTo('lead@example.com', service('climb')).map((message) => message.subject)).toEqual([
      `[CRITICAL] HighErrorRate (${service('climb')}), level 2`,
      `[RESOLVED] HighErrorRate (${service('climb')})`,
    ]);
    expect(mailsTo('team@example.com', service('climb')).map((message) => message.subject)).toEqual([
      `[CRITICAL] HighErrorRate (${service('climb')}), level 3`,
      `[RESOLVED] HighErrorRate (${service('climb')})`,
    ]);
    const messageIds = mail.messages.map((message) => message.messageId);
    expect(new Set(messageIds).size).toBe(messageIds.length);
    const { rows } = await clients.pool.query(
      `SELECT level, target, kind, outcome FROM notifications WHERE incident_id = $1 ORDER BY id`,
      [incidentId],
    );
    expect(rows.filter((row) => row.kind === 'trigger')).toHaveLength(5);
    expect(rows.filter((row) => row.kind === 'resolve').map((row) => row.target).sort()).toEqual(
      ['email:lead@example.com', 'email:team@example.com', 'pagerduty:PAGERDUTY_ROUTING_KEY', 'slack:#oncall', `webhook:${hook.url}`].sort(),
    );
    expect(rows.every((row) => row.outcome === 'delivered')).toBe(true);
  });

  it('stops at the level where someone acknowledges, and tells PagerDuty', async () => {
    const handle = await incidentOf('ack');
    const first = await statusWhen(handle, (s) => s.escalation?.level === 1 && s.escalation.pages.length === 2, 20_000);
    expect(first.escalation?.nextLevelAt).toBeDefined();
    await handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'bob' }] });
    await expect.poll(() => pdEvents(first.incidentId), { timeout: 15_000 }).toEqual(['trigger', 'acknowledge']);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const after = await handle.query(statusQuery);
    expect(after.escalation?.level).toBe(1);
    expect(after.escalation?.pages).toHaveLength(2);

    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'bob' }] });
    await expect.poll(() => pdEvents(first.incidentId), { timeout: 15_000 }).toEqual(['trigger', 'acknowledge', 'resolve']);
  });

  it('fires the next level at once on escalate', async () => {
    const handle = await incidentOf('slow');
    await statusWhen(handle, (s) => s.escalation?.level === 1, 20_000);
    const escalated = Date.now();
    const status = await handle.executeUpdate(escalateUpdate, { args: [{ by: 'carol' }] });
    expect(status.timeline.at(-1)).toMatchObject({ actor: 'carol', kind: 'escalated' });
    const second = await statusWhen(handle, (s) => s.escalation?.level === 2, 15_000);
    expect(Date.now() - escalated).toBeLessThan(10_000);
    expect(second.escalation?.pages.at(-1)).toMatchObject({ level: 2, target: 'email:lead@example.com', outcome: 'delivered' });
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'carol' }] });
  });

  it('records a failing target in the timeline and moves on at once when every target of a level fails', async () => {
    hook.queue({ status: 400, body: { error: 'unknown receiver' } });
    const handle = await incidentOf('broken');
    const status = await statusWhen(handle, (s) => s.escalation?.level === 2, 30_000);
    const failed = status.timeline.filter((event) => event.kind === 'page-failed').map((event) => event.text);
    expect(failed).toEqual([
      expect.stringMatching(/^level 1: could not page pagerduty:BAD_ROUTING_KEY: PagerDuty refused the request \(400\)/),
      expect.stringMatching(/^level 1: could not page webhook:.*refused the request \(400\)/),
    ]);
    expect(status.escalation?.pages.at(-1)).toMatchObject({ level: 2, outcome: 'delivered' });
    // A failed page's row follows through the ladder's outbox, in a workflow task of its own.
    await expect
      .poll(async () => {
        const { rows } = await clients.pool.query(`SELECT target FROM notifications WHERE incident_id = $1 AND outcome = 'failed'`, [status.incidentId]);
        return rows.map((row) => row.target).sort();
      }, { timeout: 10_000 })
      .toEqual(['pagerduty:BAD_ROUTING_KEY', `webhook:${hook.url}?fail`]);
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'dave' }] });
  });

  it('keeps trying a Slack page through an outage longer than its retries, moves on meanwhile, and posts it once when Slack answers', async () => {
    // Slack answers 500 to everything for 35 s: longer than a page's own retries (about 25 s).
    slack.failUntil({ kind: 'http', status: 500 }, Date.now() + 35_000);
    const handle = await incidentOf('outage');
    const retrying = await statusWhen(handle, (s) => s.escalation?.pages.length === 2, 45_000);
    // Nobody was told at level 1, so level 2 went out at once instead of after 10 minutes.
    expect(retrying.escalation?.pages.map((page) => [page.level, page.target, page.outcome])).toEqual([
      [1, 'slack:#oncall', 'retrying'],
      [2, 'email:lead@example.com', 'delivered'],
    ]);
    expect(retrying.timeline.find((event) => event.kind === 'page-failed')?.text).toMatch(/^level 1: could not page slack:#oncall yet, retrying until it gets through: /);
    const through = await statusWhen(handle, (s) => s.escalation?.pages[0]?.outcome === 'delivered', 60_000);
    expect(through.timeline.filter((event) => event.kind === 'paged').map((event) => event.text)).toContain('level 1: paged slack:#oncall (after retries)');
    expect(pagesIn('#oncall', service('outage'))).toHaveLength(1);
    const { rows } = await clients.pool.query(`SELECT outcome FROM notifications WHERE incident_id = $1 AND level = 1 AND kind = 'trigger'`, [through.incidentId]);
    expect(rows).toEqual([{ outcome: 'delivered' }]);
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'gina' }] });
  }, 120_000);

  it('stops at level 2 when acknowledged there', async () => {
    const handle = await incidentOf('ack2');
    const second = await statusWhen(handle, (s) => s.escalation?.level === 2 && s.escalation.pages.length === 4, 20_000);
    await handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'frank' }] });
    // Past the moment level 2 would have handed over to the final action.
    const levelTwoAt = Date.parse(second.escalation!.pages.at(-1)!.at);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, levelTwoAt + 11_000 - Date.now())));
    const after = await handle.query(statusQuery);
    expect(after.escalation).toMatchObject({ level: 2, exhausted: false });
    expect(after.escalation?.pages).toHaveLength(4);
    expect(mailsTo('team@example.com', service('ack2'))).toEqual([]);
    expect(pdEvents(second.incidentId)).toEqual(['trigger', 'acknowledge']);
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'frank' }] });
  }, 60_000);

  it('holds a business-hours severity until business hours, and pages critical at once', async () => {
    const low = await deliver(
      clients.client,
      taskQueue,
      `esc-hours-low-${unique}`,
      batch([alert('h1', 'firing', { service: service('hours-low'), severity: 'low' })]),
    );
    const deferred = await statusWhen(low, (s) => s.escalation?.deferredUntil !== undefined, 20_000);
    expect(Date.parse(deferred.escalation!.deferredUntil!)).toBeGreaterThan(Date.now());
    expect(deferred.escalation?.pages).toEqual([]);
    expect(deferred.timeline.at(-1)?.text).toMatch(/^outside business hours: paging at /);

    const critical = await deliver(
      clients.client,
      taskQueue,
      `esc-hours-critical-${unique}`,
      batch([alert('h2', 'firing', { service: service('hours-critical'), severity: 'critical' })]),
    );
    expect((await statusWhen(critical, (s) => s.escalation?.level === 1, 20_000)).escalation?.deferredUntil).toBeUndefined();

    // Resolving a deferred ladder pages nobody.
    await low.executeUpdate(resolveUpdate, { args: [{ by: 'gina' }] });
    const closed = await statusWhen(low, (s) => s.children[0]?.outcome === 'resolved', 20_000);
    expect(closed.escalation?.pages).toEqual([]);
    await critical.executeUpdate(resolveUpdate, { args: [{ by: 'gina' }] });
  });

  it('refuses to escalate an incident that is not triggered', async () => {
    const handle = await incidentOf('noesc');
    await statusWhen(handle, (s) => s.escalation?.level === 1, 20_000);
    await handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'erin' }] });
    await expect(handle.executeUpdate(escalateUpdate, { args: [{ by: 'erin' }] })).rejects.toThrow();
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'erin' }] });
  });

  it('ends with its incident: the ladder of a terminated incident pages nobody more and resolves what it paged', async () => {
    const handle = await incidentOf('terminated');
    const first = await statusWhen(handle, (s) => s.escalation?.level === 1, 20_000);
    await handle.terminate('test: the incident is terminated by hand');
    const ladder = clients.client.workflow.getHandle(first.escalation!.workflowId);
    const result = await ladder.result();
    expect(result).toMatchObject({ outcome: 'resolved', levelsPaged: 1 });
    // Level 2 (email to the lead, 3 s later) never went out; PagerDuty heard the end.
    expect(mailsTo('lead@example.com', service('terminated'))).toHaveLength(0);
    expect(pdEvents(first.incidentId)).toEqual(['trigger', 'resolve']);
  });

  it('pages an alert that started in a maintenance window once the window ends, once', async () => {
    // A window made at run time (as opsctl makes them) that ends in 5 seconds.
    const windowEnds = Date.now() + 5_000;
    await clients.pool.query(`INSERT INTO maintenance_windows (name, matchers, starts_at, ends_at, created_by) VALUES ($1, $2, now() - interval '1 minute', $3, 'test')`, [
      `ends-soon-${unique}`,
      JSON.stringify([`service="${service('window')}"`]),
      new Date(windowEnds),
    ]);
    const handle = await incidentOf('window');
    const muted = await statusWhen(handle, (s) => s.alerts.length === 1, 20_000);
    expect(muted.muted).toBe(true);
    expect(muted.alerts[0]!.mutedBy).toBe(`maintenance window "ends-soon-${unique}"`);
    expect(muted.escalation).toBeUndefined();
    const paged = await statusWhen(handle, (s) => s.escalation?.level === 1, 20_000);
    expect(Date.now()).toBeGreaterThanOrEqual(windowEnds);
    expect(paged.muted).toBe(false);
    expect(paged.timeline.map((event) => event.text)).toContain(`HighErrorRate is no longer muted (maintenance window "ends-soon-${unique}" is over): it pages`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(pagesIn('#oncall', service('window'))).toHaveLength(1);
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'alice' }] });
  });

  it('pages an inhibited alert once the alert inhibiting it resolves', async () => {
    const down = await deliver(clients.client, taskQueue, `inh-down-${unique}`, batch([alert('down-1', 'firing', { alertname: 'ServiceDown', service: service('inhibited'), severity: 'critical' })]));
    await statusWhen(down, (s) => s.escalation?.level === 1, 20_000);
    const slow = await deliver(clients.client, taskQueue, `inh-latency-${unique}`, batch([alert('slow-1', 'firing', { alertname: 'HighLatency', service: service('inhibited'), severity: 'critical' })]));
    const inhibited = await statusWhen(slow, (s) => s.alerts.length === 1, 20_000);
    expect(inhibited.alerts[0]!.mutedBy).toBe('inhibited by ServiceDown (rule "down-mutes-latency")');
    await down.executeUpdate(resolveUpdate, { args: [{ by: 'alice' }] });
    await deliver(clients.client, taskQueue, `inh-down-${unique}`, batch([alert('down-1', 'resolved', { alertname: 'ServiceDown', service: service('inhibited'), severity: 'critical' })]));
    const paged = await statusWhen(slow, (s) => s.escalation?.level === 1, 40_000);
    expect(paged.timeline.some((event) => event.kind === 'alert-unmuted')).toBe(true);
    await slow.executeUpdate(resolveUpdate, { args: [{ by: 'alice' }] });
  }, 60_000);

  it('pages an alert muted by an opsctl window as soon as opsctl removes the window', async () => {
    const name = `hold-${unique}`;
    const added = await opsctlAsync(['maintenance', 'add', name, '--match', `service="${service('opsctl-window')}"`, '--start', '2026-01-01T00:00:00Z', '--end', '2099-01-01T00:00:00Z', '--by', 'alice']);
    expect(added.status, added.stderr).toBe(0);
    const handle = await incidentOf('opsctl-window');
    await statusWhen(handle, (s) => s.alerts[0]?.mutedBy === `maintenance window "${name}"`, 20_000);
    // Persisted as muted, so opsctl can find the incident to tell.
    await expect.poll(async () => (await clients.pool.query('SELECT 1 FROM incident_alerts WHERE muted_by = $1', [`maintenance window "${name}"`])).rowCount, { timeout: 10_000 }).toBe(1);
    const removed = await opsctlAsync(['--json', 'maintenance', 'remove', name, '--by', 'bob']);
    expect(removed.status, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).toEqual({ removed: name, incidentsTold: 1 });
    const paged = await statusWhen(handle, (s) => s.escalation?.level === 1, 10_000);
    expect(paged.timeline.map((event) => event.text)).toContain(`HighErrorRate is no longer muted (maintenance window "${name}" is over): it pages`);
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'bob' }] });
  });
});
