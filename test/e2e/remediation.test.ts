import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { AppsV1Api, AutoscalingV2Api } from '@kubernetes/client-node';
import { createActivities } from '../../activities/index.js';
import { createSlackClient } from '../../src/clients/slack.js';
import { parsePolicy } from '../../src/config/policy.js';
import { failureMessage } from '../../src/domain/failures.js';
import { remediationWorkflow, type RemediationInput } from '../../workflows/remediation.js';
import { statusQuery } from '../../workflows/incident.js';
import { waitFor } from '../../scripts/stack/net.js';
import { deployOnCluster, ensureNamespace, markPodUnready, podNames, replicaSetHistory, workloadOnCluster } from '../support/kubernetes.js';
import { opsctlAsync } from '../support/opsctl.js';
import { FakeSlack } from '../support/fake-slack.js';
import { HttpRecorder } from '../support/http-recorder.js';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { connectStack, kubeConfig, seededDatabase, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * Runbooks on the real Temporal server and PostgreSQL, acting through the
 * real Kubernetes client on the embedded control plane: started by a matching
 * incident (which holds its ladder meanwhile), verified, escalated at once
 * when they do not help; every step type, dry runs, and guardrails that hold
 * across incidents racing for one target.
 */
describe('remediation runbooks', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let maintenanceUrl: string;
  const slack = new FakeSlack();
  const pager = new HttpRecorder();
  let serviceHealthy = true;
  const service = new HttpRecorder(() => (serviceHealthy ? { status: 200, body: { ok: true } } : { status: 503, body: { ok: false } }));
  const taskQueue = uniqueTaskQueue('remediation');
  const unique = taskQueue.slice(-6);
  const namespace = `shop-${unique}`;

  const run = (workflowId: string, input: RemediationInput) =>
    clients.client.workflow.execute(remediationWorkflow, { taskQueue, workflowId: `${workflowId}-${unique}`, args: [input] });
  const restarts = async (name: string) => (await replicaSetHistory(namespace, name)).length - 1;

  beforeAll(async () => {
    clients = await connectStack();
    await Promise.all([slack.start(), pager.start(), service.start('/healthz')]);
    await ensureNamespace(namespace);
    await Promise.all(['api', 'stuck', 'shared', 'web', 'pods', 'autoscaled'].map((name) => deployOnCluster(namespace, name, { image: 'registry.test/shop/app:1.0.0', replicas: name === 'pods' ? 5 : 2 })));
    await kubeConfig().makeApiClient(AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({
      namespace,
      body: { metadata: { name: 'autoscaled-cpu' }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'autoscaled' }, minReplicas: 2, maxReplicas: 6 } },
    });
    maintenanceUrl = await seededDatabase(
      `remediation_${unique.replace(/-/g, '_')}`,
      `CREATE TABLE metrics (id bigserial PRIMARY KEY, recorded_at timestamptz NOT NULL);
       INSERT INTO metrics (recorded_at) SELECT now() - interval '200 days' FROM generate_series(1, 50);`,
    );
    const policy = parsePolicy(
      {
        escalation: { defaultPolicy: 'oncall', policies: [{ name: 'oncall', levels: [{ timeout: '1h', targets: [{ type: 'webhook', url: `${pager.url}level-1` }] }, { timeout: '1h', targets: [{ type: 'webhook', url: `${pager.url}level-2` }] }] }] },
        maintenance: { retention: [{ database: 'maint', table: 'metrics', column: 'recorded_at', kind: 'metrics' }] },
        remediation: {
          runbooks: [
            {
              name: `restart-${unique}`,
              match: ['alertname="ApiDown"', `team="${unique}"`],
              steps: [{ action: 'rolling-restart', namespace: '{{ $labels.namespace }}', deployment: '{{ $labels.deployment }}', timeout: '20s' }],
              verify: { within: '3s', interval: '500ms' },
              holdEscalation: '10m',
            },
            {
              name: `every-step-${unique}`,
              steps: [
                { action: 'restart-pods', namespace, selector: 'app=web' },
                { action: 'scale', namespace, deployment: 'web', by: 1, max: 3 },
                { action: 'terminate-idle-connections', database: 'maint', idleFor: '1s' },
                { action: 'database-maintenance', database: 'maint' },
                { action: 'http-check', url: service.url },
                { action: 'notify', text: 'web was restarted by its runbook' },
                { action: 'rolling-restart', namespace, deployment: 'web', timeout: '20s' },
              ],
              verify: { httpCheck: { url: service.url, bodyContains: 'true' }, within: '2s', interval: '500ms' },
            },
            {
              name: `page-first-${unique}`,
              match: ['alertname="DiskFull"', `team="${unique}"`],
              steps: [{ action: 'http-check', url: service.url }],
              verify: { within: '2s', interval: '500ms' },
              holdEscalation: '0s',
            },
            { name: `pods-${unique}`, steps: [{ action: 'restart-pods', namespace, selector: 'app=pods' }], verify: { alertResolved: false } },
            { name: `autoscaled-${unique}`, steps: [{ action: 'scale', namespace, deployment: 'autoscaled', by: 2 }], verify: { alertResolved: false } },
            { name: `labels-${unique}`, steps: [{ action: 'scale', namespace: '{{ $labels.namespace }}', deployment: 'web', by: 1 }] },
            { name: `hopeless-${unique}`, steps: [{ action: 'http-check', url: service.url }], verify: { httpCheck: { url: service.url }, within: '1s', interval: '500ms' } },
          ],
        },
      },
      'test',
    );
    worker = await startBackgroundWorker(
      taskQueue,
      createActivities(
        clients.activityDeps({
          policy,
          taskQueue,
          kube: () => kubeConfig(),
          slack: createSlackClient('xoxb-test-token', slack.url),
          slackChannel: '#ops',
          databaseUrl: (name) => (name === 'maint' ? maintenanceUrl : name === 'default' ? clients.stack.databaseUrl : undefined),
        }),
      ),
    );
  });

  afterAll(async () => {
    await worker?.stop();
    await Promise.all([slack.stop(), pager.stop(), service.stop()]);
    await clients?.close();
  });

  const apiDown = (fingerprint: string, deployment: string, status: 'firing' | 'resolved' = 'firing') =>
    batch([alert(fingerprint, status, { alertname: 'ApiDown', team: unique, namespace, deployment, service: deployment, severity: 'critical' })]);

  it('an incident runs its runbook, holds the ladder, and pages nobody once the alert resolves', async () => {
    const handle = await deliver(clients.client, taskQueue, `api-down-${unique}`, apiDown('fp-api', 'api'));
    const started = await statusWhen(handle, (status) => status.timeline.some((event) => event.kind === 'remediation' && event.text.includes('restart-')));
    expect(started.escalation).toBeUndefined();
    await waitFor('the restart', async () => (await restarts('api')) === 1, 15_000);
    await handle.signal('alerts', apiDown('fp-api', 'api', 'resolved'));
    const done = await statusWhen(handle, (status) => status.remediations?.[0]?.outcome === 'resolved');
    expect(done.timeline.filter((event) => event.kind === 'remediation').map((event) => event.text)).toEqual([
      expect.stringMatching(new RegExp(`^runbook restart-${unique} started; paging waits for it until `)),
      expect.stringMatching(new RegExp(`^1-rolling-restart done: restarted Deployment ${namespace}/api: 2 of 2 replicas available$`)),
      `runbook restart-${unique} resolved: verified: alerts resolved`,
    ]);
    expect(done.children).toEqual([expect.objectContaining({ type: 'remediationWorkflow', outcome: 'resolved' })]);
    // A rolling restart is a new template annotation: one new ReplicaSet, the old one scaled to nothing.
    expect(await restarts('api')).toBe(1);
    expect((await workloadOnCluster(namespace, 'api')).generation).toBe(2);
    expect(pager.requests).toHaveLength(0);
    const audit = await clients.pool.query(`SELECT action, outcome FROM audit_events WHERE workflow_id = $1 ORDER BY id`, [done.remediations![0]!.workflowId]);
    expect(audit.rows).toEqual([
      { action: 'kubernetes.restart', outcome: 'succeeded' },
      { action: 'remediation.rolling-restart', outcome: 'succeeded' },
    ]);
  });

  it('a runbook that does not help makes the incident page at once instead of after its hold', async () => {
    const handle = await deliver(clients.client, taskQueue, `stuck-down-${unique}`, apiDown('fp-stuck', 'stuck'));
    const escalated = await statusWhen(handle, (status) => status.escalation?.level === 1, 20_000);
    expect(escalated.remediations).toEqual([expect.objectContaining({ outcome: 'not-helped' })]);
    expect(escalated.timeline.map((event) => event.text)).toContainEqual(`runbook restart-${unique} not-helped: did not help: after 3s still firing: ApiDown`);
    // The hold was ten minutes: the page went out within seconds because the runbook said so.
    expect(Date.parse(escalated.escalation!.pages[0]!.at) - Date.parse(escalated.openedAt)).toBeLessThan(60_000);
    expect(pager.requests.map((request) => request.path)).toContain('/level-1');
    await handle.executeUpdate('resolve', { args: [{ by: 'alice' }] });
  });

  it('with no hold, the ladder pages at once, and a runbook that did not help moves it to the next level', async () => {
    const handle = await deliver(clients.client, taskQueue, `disk-full-${unique}`, batch([alert('fp-disk', 'firing', { alertname: 'DiskFull', team: unique, service: 'db' })]));
    const level2 = await statusWhen(handle, (status) => status.escalation?.level === 2, 20_000);
    expect(level2.escalation!.pages.map((page) => page.level)).toEqual([1, 2]);
    expect(level2.timeline.map((event) => event.text)).toContainEqual(`runbook page-first-${unique} did not help: escalated to the next level`);
    expect(level2.timeline.findIndex((event) => event.text.startsWith(`runbook page-first-${unique} not-helped`))).toBeGreaterThan(
      level2.timeline.findIndex((event) => event.kind === 'paged' && event.text.startsWith('level 1')),
    );
    await handle.executeUpdate('resolve', { args: [{ by: 'alice' }] });
  });

  it('two incidents racing for one target restart it once; the other step is refused in its timeline', async () => {
    const [first, second] = await Promise.all([
      deliver(clients.client, taskQueue, `shared-a-${unique}`, apiDown('fp-shared-a', 'shared')),
      deliver(clients.client, taskQueue, `shared-b-${unique}`, apiDown('fp-shared-b', 'shared')),
    ]);
    const texts = async (handle: typeof first) => (await statusWhen(handle, (status) => status.remediations?.[0]?.outcome !== undefined)).timeline.map((event) => event.text);
    const both = [...(await texts(first)), ...(await texts(second))];
    expect((await workloadOnCluster(namespace, 'shared')).generation).toBe(2);
    expect(both.filter((text) => text.startsWith('1-rolling-restart done'))).toHaveLength(1);
    expect(both.filter((text) => /^1-rolling-restart refused: guardrail: cooldown of 10m, the last action on this target was \d+s ago$/.test(text))).toHaveLength(1);
    for (const handle of [first, second]) await handle.executeUpdate('resolve', { args: [{ by: 'alice' }] });
  });

  it('runs every step type by hand, then verifies with its check', async () => {
    const unready = (await podNames(namespace, 'web')).sort()[1]!;
    await markPodUnready(namespace, unready, new Date(Date.now() - 60_000));
    const idle = new pg.Client({ connectionString: maintenanceUrl, application_name: 'leaky-app' });
    await idle.connect();
    idle.on('error', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const result = await run('every-step', { runbook: `every-step-${unique}`, requestedBy: 'bob' });
    expect(result.steps.map((step) => [step.step, step.outcome, step.detail])).toEqual([
      ['1-restart-pods', 'done', `deleted ${unready}`],
      ['2-scale', 'done', `scaled Deployment ${namespace}/web from 2 to 3 replicas`],
      ['3-terminate-idle-connections', 'done', expect.stringMatching(/^terminated [1-9]\d* idle connections to maint$/)],
      ['4-database-maintenance', 'done', expect.stringMatching(/^maintenance of maint: 50 expired rows, 1 tables vacuumed, \d+ health breaches$/)],
      ['5-http-check', 'done', expect.stringMatching(new RegExp(`^${service.url} answered 200 in \\d+ ms$`))],
      ['6-notify', 'done', 'posted: web was restarted by its runbook'],
      ['7-rolling-restart', 'done', `restarted Deployment ${namespace}/web: 3 of 3 replicas available`],
    ]);
    expect(result).toMatchObject({ outcome: 'resolved', verification: { passed: true, detail: `verified: ${service.url} healthy` } });
    await expect(idle.query('SELECT 1')).rejects.toThrow();
    expect(slack.messages.map((message) => message.text)).toContain('web was restarted by its runbook');
    const check = new pg.Client({ connectionString: maintenanceUrl });
    await check.connect();
    expect((await check.query('SELECT count(*)::int AS n FROM metrics')).rows[0].n).toBe(0);
    await check.end();
    const audit = await clients.pool.query(`SELECT action, actor FROM audit_events WHERE workflow_id = $1 AND action LIKE 'remediation.%' ORDER BY id`, [`every-step-${unique}`]);
    expect(audit.rows.map((row: { action: string }) => row.action)).toEqual([
      'remediation.restart-pods',
      'remediation.scale',
      'remediation.terminate-idle-connections',
      'remediation.database-maintenance',
      'remediation.http-check',
      'remediation.notify',
      'remediation.rolling-restart',
    ]);
    expect(new Set(audit.rows.map((row: { actor: string }) => row.actor))).toEqual(new Set(['bob']));
  });

  it('a dry run reports every step and changes nothing', async () => {
    const before = { web: await workloadOnCluster(namespace, 'web'), pods: await podNames(namespace, 'web') };
    const posted = slack.messages.length;
    const unready = before.pods.sort()[0]!;
    await markPodUnready(namespace, unready, new Date(Date.now() - 60_000));
    const result = await run('dry-run', { runbook: `every-step-${unique}`, dryRun: true });
    expect(result.outcome).toBe('dry-run');
    // A check changes nothing, so it runs; every action only says what it would do.
    expect(result.steps.map((step) => step.outcome)).toEqual(['dry-run', 'dry-run', 'dry-run', 'dry-run', 'done', 'dry-run', 'dry-run']);
    expect(result.steps[0]!.detail).toBe(`would delete unready pods of app=web in ${namespace}: ${unready}`);
    expect(result.steps[1]!.detail).toBe('already at the maximum of 3 replicas');
    // The restart a moment ago holds its cooldown: the dry run says the real one would be refused.
    expect(result.steps[6]!.detail).toMatch(/^would rolling restart of Deployment .*\/web \(refused now: guardrail: cooldown of 10m/);
    expect(await workloadOnCluster(namespace, 'web')).toEqual(before.web);
    expect((await podNames(namespace, 'web')).sort()).toEqual(before.pods.sort());
    expect(slack.messages.length).toBe(posted);
  });

  it('holds the pod-restart guardrail: three per ten minutes, whatever the runs', async () => {
    const names = await podNames(namespace, 'pods');
    expect(names).toHaveLength(5);
    for (const name of names) await markPodUnready(namespace, name, new Date(Date.now() - 60_000));
    const first = await run('pods-1', { runbook: `pods-${unique}` });
    expect(first.steps[0]).toMatchObject({ outcome: 'done', detail: `deleted ${names.slice(0, 3).join(', ')}; 2 left: guardrail: 3 of at most 3 actions on this target in the last 10m` });
    const second = await run('pods-2', { runbook: `pods-${unique}` });
    expect(second.steps[0]).toMatchObject({ outcome: 'refused', detail: 'guardrail: 3 of at most 3 actions on this target in the last 10m' });
    // Three evicted and replaced by the ReplicaSet; the two the guardrail kept are still there, still unready.
    const after = await podNames(namespace, 'pods');
    expect(after.filter((name) => names.includes(name)).sort()).toEqual(names.slice(3).sort());
    expect(after).toHaveLength(5);
  });

  it('refuses a runbook whose step names a label the alert lacks, and raises an incident when one run by hand does not help', async () => {
    const error = await run('labels', { runbook: `labels-${unique}`, labels: { alertname: 'X' } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(failureMessage(error)).toBe(`runbook labels-${unique} step 1.namespace uses {{ $labels.namespace }}, and the alert has no label "namespace"`);

    serviceHealthy = false;
    try {
      const result = await run('hopeless', { runbook: `hopeless-${unique}` });
      expect(result).toMatchObject({ outcome: 'not-helped', incident: `incident-remediation-failed-hopeless-${unique}` });
      expect(result.verification.detail).toBe(`after 1s ${service.url} answered 503, expected 200`);
      const incident = await clients.client.workflow.getHandle(result.incident!).query(statusQuery);
      expect(incident).toMatchObject({ state: 'triggered', title: expect.stringContaining(`Runbook hopeless-${unique} did not help`) });
      await clients.client.workflow.getHandle(result.incident!).executeUpdate('resolve', { args: [{ by: 'alice' }] });
    } finally {
      serviceHealthy = true;
    }
  });

  it('opsctl runs a runbook by hand, as a dry run, and names a runbook that does not exist', async () => {
    const env = { OPS_TASK_QUEUE: taskQueue };
    const dry = await opsctlAsync(['--json', 'remediation', 'run', `labels-${unique}`, '--label', `namespace=${namespace}`, '--dry-run', '--by', 'carol'], env);
    expect(dry.status, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ runbook: `labels-${unique}`, outcome: 'dry-run', steps: [{ step: '1-scale', outcome: 'dry-run', target: `k8s/${namespace}/deployment/web` }] });
    const missing = await opsctlAsync(['remediation', 'run', 'nope'], env);
    expect([missing.status, missing.stderr]).toEqual([4, expect.stringMatching(/^opsctl: no runbook named "nope" in the policy \(runbooks: restart-.*\)\n$/)]);
  });

  it('leaves a replica count an HorizontalPodAutoscaler owns to it: the scale step is refused, naming it', async () => {
    const result = await run('autoscaled', { runbook: `autoscaled-${unique}`, requestedBy: 'bob' });
    expect(result.steps.map((step) => [step.step, step.outcome, step.detail])).toEqual([
      ['1-scale', 'refused', `HorizontalPodAutoscaler autoscaled-cpu owns the replica count of Deployment ${namespace}/autoscaled (2-6): not scaled`],
    ]);
    expect((await workloadOnCluster(namespace, 'autoscaled')).generation).toBe(1);
    expect((await kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeploymentScale({ namespace, name: 'autoscaled' })).spec?.replicas).toBe(2);
  });
});
