import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { parsePolicy } from '../../src/config/policy.js';
import { acknowledgeUpdate, addNoteUpdate, resolveUpdate } from '../../workflows/incident.js';
import { FakeSlack } from '../support/fake-slack.js';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { opsctl } from '../support/opsctl.js';
import { connectStack, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * A resolved incident writes its post-mortem draft from its own records to
 * the bucket and links it in its Slack thread; opsctl prints the same draft.
 */
describe('post-mortem drafts', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  const slack = new FakeSlack();
  const taskQueue = uniqueTaskQueue('postmortem');
  const unique = taskQueue.slice(-8);
  const service = `checkout-${unique}`;

  beforeAll(async () => {
    clients = await connectStack();
    await slack.start();
    const policy = parsePolicy(
      {
        escalation: {
          policies: [{ name: 'pm', levels: [{ timeout: '10m', targets: [{ type: 'slack', channel: '#oncall' }] }] }],
          defaultPolicy: 'pm',
          incidentCheck: '0s',
        },
      },
      'test',
    );
    worker = await startBackgroundWorker(
      taskQueue,
      createActivities(clients.activityDeps({ policy, taskQueue, slack: createSlackClient('xoxb-test', slack.url), slackChannel: '#incidents' })),
    );
  });

  afterAll(async () => {
    await worker.stop();
    await slack.stop();
    await clients.close();
  });

  it('writes the draft when the incident resolves, with who was paged, who answered, notes and what changed around it', async () => {
    const handle = await deliver(clients.client, taskQueue, `pm-${unique}`, batch([alert('pm-1', 'firing', { service, severity: 'critical' }, undefined, { summary: 'Checkout answers 502' })]));
    const paged = await statusWhen(handle, (s) => s.escalation?.pages.some((page) => page.outcome === 'delivered') === true);
    // Changes around it: a rollout of the service and a backup, as their workflows record them.
    const openedAt = Date.parse(paged.openedAt);
    const at = (offsetMs: number) => new Date(openedAt + offsetMs).toISOString();
    await clients.pool.query(
      `INSERT INTO audit_events (occurred_at, actor, action, target, outcome, workflow_id, idempotency_key) VALUES
         ($1, 'bob', 'rollout.checked', $3, 'succeeded', $4, $5), ($2, 'system', 'rollout.done', $3, 'succeeded', $4, $6)`,
      [at(-20 * 60_000), at(-15 * 60_000), `k8s/shop/deployment/${service}`, `rollout-shop-${service}`, `pm-r1-${unique}`, `pm-r2-${unique}`],
    );
    await clients.pool.query(
      `INSERT INTO backups (database, bucket, object_key, manifest_key, bytes, sha256, server_version, started_at, finished_at, workflow_id)
       VALUES ($1, 'b', $2, $3, 3145728, 'x', '15', $4, $5, 'backup-pm')`,
      [`orders_${unique}`, `pm/${unique}.dump`, `pm/${unique}.json`, at(-5 * 60_000), at(-2 * 60_000)],
    );
    // An hour and a half earlier: outside the window.
    await clients.pool.query(
      `INSERT INTO audit_events (occurred_at, actor, action, target, outcome, workflow_id, idempotency_key) VALUES ($1, 'carol', 'rollout.done', 'k8s/old', 'succeeded', $2, $3)`,
      [at(-90 * 60_000), `rollout-old-${unique}`, `pm-r3-${unique}`],
    );

    await handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'alice' }] });
    await handle.executeUpdate(addNoteUpdate, { args: [{ by: 'alice', text: 'rolled back the 14:02 deploy | cache warm' }] });
    await handle.executeUpdate(resolveUpdate, { args: [{ by: 'alice', note: 'rollback done' }] });

    const drafted = await statusWhen(handle, (s) => s.timeline.some((event) => event.kind === 'postmortem'), 30_000);
    const event = drafted.timeline.find((entry) => entry.kind === 'postmortem')!;
    const key = `postmortems/${drafted.incidentId}.md`;
    expect(event.text).toBe(`post-mortem draft: s3://${testStack().s3.bucket}/${key} (opsctl incident postmortem ${handle.workflowId} prints it)`);

    const object = await clients.s3.send(new GetObjectCommand({ Bucket: testStack().s3.bucket, Key: key }));
    expect(object.ContentType).toBe('text/markdown; charset=utf-8');
    const markdown = await object.Body!.transformToString();
    expect(markdown).toMatch(/^# Post-mortem \(draft\): Checkout answers 502\n/);
    expect(markdown).toContain(`| Incident | \`${drafted.incidentId}\` ([workflow](http://localhost:8233/namespaces/`);
    expect(markdown).toMatch(/\| Acknowledged \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ by alice \(after \d+s\) \|/);
    expect(markdown).toMatch(/\| Resolved \| .* by alice \(after \d+s\) \|/);
    // Resolved by hand while its alert still fired: the draft says so.
    expect(markdown).toMatch(/\| HighErrorRate \| critical \| firing \| 2026-11-23 10:00:00Z \| - \| service=checkout-\w+, severity=critical \|/);
    expect(markdown).toMatch(/\| \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \| 1 \| slack:#oncall \| slack \| delivered \|/);
    expect(markdown).toMatch(/^- \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \*\*alice\*\*: rolled back the 14:02 deploy \| cache warm$/m);
    // In the timeline's table, the pipe is escaped so the row stays a row.
    expect(markdown).toContain('| alice | note | rolled back the 14:02 deploy \\| cache warm |');
    expect(markdown).toContain(`| rollout-shop-${service} | k8s/shop/deployment/${service} |`);
    expect(markdown).toContain('| rollout.done | bob, system |');
    expect(markdown).not.toContain(`rollout-old-${unique}`);
    expect(markdown).toMatch(new RegExp(`\\| orders_${unique} \\| dump \\| .* \\| 3\\.0 MiB \\|`));
    expect(markdown).toContain('## Follow-ups');

    // Linked in the incident's Slack thread.
    const [message] = slack.inChannel('#incidents').filter((entry) => String(entry.metadata?.event_payload.idempotency_key).startsWith(`${handle.workflowId}/`));
    await expect.poll(() => slack.replies(message!.ts).map((reply) => reply.text).join('\n'), { timeout: 15_000 }).toContain(`post-mortem draft: s3://${testStack().s3.bucket}/${key}`);

    // On demand, by dedup key, to a file; the same facts.
    const out = join(mkdtempSync(join(tmpdir(), 'ops-pm-')), 'draft.md');
    const written = opsctl(['incident', 'postmortem', `pm-${unique}`, '--out', out]);
    expect(written.stderr).toBe('');
    expect(written.stdout).toBe(`post-mortem draft of ${drafted.incidentId} written to ${out}\n`);
    const onDemand = readFileSync(out, 'utf8');
    expect(onDemand).toContain('**alice**: rolled back the 14:02 deploy | cache warm');
    expect(onDemand).toContain('post-mortem draft: s3://');
    const missing = opsctl(['incident', 'postmortem', `nothing-${unique}`]);
    expect(missing.status).toBe(4);
    expect(missing.stderr).toBe(`opsctl: no incident "nothing-${unique}" in the database (give its ID, workflow ID or dedup key)\n`);
  });
});
