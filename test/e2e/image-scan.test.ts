import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { imageScanWorkflow, type ImageScanFinding } from '../../workflows/image-scan.js';
import { securityRolloutWorkflow } from '../../workflows/security-rollout.js';
import { AppsV1Api } from '@kubernetes/client-node';
import { deploymentImage, deployOnCluster, ensureNamespace } from '../support/kubernetes.js';
import { FakeRegistry } from '../support/fake-registry.js';
import { statusWhen } from '../support/incidents.js';
import { findingsDedupKey } from '../../activities/security-findings.js';
import { FAKE_TRIVY, pinned, progressWhen } from '../support/rollouts.js';
import { connectStack, kubeConfig, startBackgroundWorker, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * The daily image scan on the real Temporal server and the embedded Kubernetes: running images and the
 * newest tags of their repositories (the registry fake), scanned by the
 * Trivy stand-in; a fix starts a rollout, a worse or useless tag does not,
 * and a workload already rolling out is left to it.
 */
describe('image scan', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  const registry = new FakeRegistry();
  const taskQueue = uniqueTaskQueue('scan');
  const namespace = `scan-${taskQueue.slice(-6)}`;
  const image = (name: string, tag: string) => `${registry.host}/shop/${name}:${tag}`;
  let run = 0;
  const scan = (dryRun = false) => clients.client.workflow.execute(imageScanWorkflow, { taskQueue, workflowId: `image-scan-${taskQueue.slice(-6)}-${(run += 1)}`, args: [{ dryRun }] });
  const byWorkload = (findings: ImageScanFinding[]) => Object.fromEntries(findings.map((finding) => [finding.workload.split('/')[1], finding]));

  const HIGH = { id: 'CVE-2026-0001', severity: 'HIGH', pkg: 'openssl' };
  const CRITICAL = { id: 'CVE-2026-0666', severity: 'CRITICAL', pkg: 'glibc' };
  const LOW = { id: 'CVE-2026-0100', severity: 'LOW', pkg: 'zlib' };

  beforeAll(async () => {
    clients = await connectStack();
    await registry.start();
    const tags: Record<string, [string, string[]]> = {
      fixable: ['1.4.1', ['1.4.1', '1.4.2']],
      current: ['2.0.0', ['1.9.0', '2.0.0']],
      worse: ['3.1.0', ['3.1.0', '3.1.1']],
      useless: ['4.0.0', ['4.0.0', '4.0.1']],
      busy: ['5.0.0', ['5.0.0', '5.0.1']],
    };
    for (const [name, [, available]] of Object.entries(tags)) registry.setTags(`shop/${name}`, available);
    await ensureNamespace(namespace);
    await Promise.all(Object.entries(tags).map(([name, [running]]) => deployOnCluster(namespace, name, { image: image(name, running), replicas: 2 })));
    const reports = join(mkdtempSync(join(tmpdir(), 'ops-scan-')), 'reports.json');
    writeFileSync(
      reports,
      JSON.stringify({
        [image('fixable', '1.4.1')]: [HIGH, LOW],
        [image('fixable', '1.4.2')]: [LOW],
        [image('current', '2.0.0')]: [HIGH],
        [image('worse', '3.1.0')]: [HIGH],
        [image('worse', '3.1.1')]: [CRITICAL],
        [image('useless', '4.0.0')]: [LOW],
        [image('useless', '4.0.1')]: [],
        [image('busy', '5.0.0')]: [HIGH],
        [image('busy', '5.0.1')]: [],
        [image('busy', '6.0.0')]: [],
      }),
    );
    const policy = parsePolicy(
      {
        rollouts: {
          scanner: { command: [process.execPath, FAKE_TRIVY, reports] },
          watchWindow: '1s',
          scan: { workloads: ['fixable', 'current', 'worse', 'useless', 'busy', 'missing'].map((deployment) => ({ namespace, deployment })) },
        },
      },
      'test',
    );
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ policy, taskQueue, kube: () => kubeConfig() })));
  });

  afterAll(async () => {
    await worker?.stop();
    await registry.stop();
    await clients?.close();
  });

  it('a dry run reports what it found and starts nothing', async () => {
    const result = byWorkload((await scan(true)).findings);
    expect(result.fixable).toMatchObject({ action: 'report-only', candidate: image('fixable', '1.4.2'), runningBlocking: ['CVE-2026-0001'], fixes: ['CVE-2026-0001'], introduces: [] });
    // Nothing was changed: every Deployment is still at its first generation.
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    const generations = await Promise.all(['fixable', 'current', 'worse', 'useless', 'busy'].map(async (name) => (await apps.readNamespacedDeployment({ namespace, name })).metadata?.generation));
    expect(generations).toEqual([1, 1, 1, 1, 1]);
  });

  it('starts a rollout for a fix, leaves the rest with its reason, and never a second rollout of one workload', async () => {
    // busy is already rolling out a major bump that waits for approval.
    const busy = await clients.client.workflow.start(securityRolloutWorkflow, { taskQueue, workflowId: `rollout-${namespace}-busy`, args: [{ namespace, deployment: 'busy', image: image('busy', '6.0.0'), requestedBy: 'alice' }] });
    await progressWhen(busy, 'awaiting-approval');

    const result = byWorkload((await scan()).findings);
    expect(result.fixable).toMatchObject({ action: 'rollout-started', rollout: `rollout-${namespace}-fixable`, detail: `${image('fixable', '1.4.2')} fixes CVE-2026-0001` });
    expect(result.current).toMatchObject({ action: 'up-to-date', detail: 'runs the newest tag, which still has 1 vulnerabilities at HIGH or above and no fix' });
    expect(result.worse).toMatchObject({ action: 'blocked', introduces: ['CVE-2026-0666'], detail: `${image('worse', '3.1.1')} would bring CVE-2026-0666` });
    expect(result.useless).toMatchObject({ action: 'no-fix', detail: `${image('useless', '4.0.1')} fixes nothing at HIGH or above` });
    expect(result.busy).toMatchObject({ action: 'rollout-running', detail: `${image('busy', '5.0.1')} fixes CVE-2026-0001, and a rollout of this workload is already running` });
    expect(result.missing).toMatchObject({ action: 'error', detail: `Deployment ${namespace}/missing does not exist` });

    // Findings at HIGH or above open one incident per workload and image; LOW ones do not.
    const incidentOf = (name: string, tag: string) => `incident-${findingsDedupKey(namespace, name, image(name, tag))}`;
    expect([result.fixable!.incident, result.current!.incident, result.worse!.incident, result.busy!.incident, result.useless!.incident]).toEqual([
      incidentOf('fixable', '1.4.1'),
      incidentOf('current', '2.0.0'),
      incidentOf('worse', '3.1.0'),
      incidentOf('busy', '5.0.0'),
      undefined,
    ]);
    const opened = await statusWhen(clients.client.workflow.getHandle(incidentOf('current', '2.0.0')), (status) => status.alerts.length === 1);
    expect(opened).toMatchObject({ severity: 'medium', service: 'current' });
    expect(opened.alerts[0]!.annotations.summary).toBe(`Deployment ${namespace}/current runs ${image('current', '2.0.0')} with 1 vulnerabilities at HIGH or above (1 HIGH): CVE-2026-0001 (openssl)`);

    // The rollout it started goes through the whole gate and lands.
    const rollout = await clients.client.workflow.getHandle(`rollout-${namespace}-fixable`).result();
    expect(rollout).toMatchObject({ phase: 'succeeded', to: image('fixable', '1.4.2') });
    expect(await deploymentImage(namespace, 'fixable')).toBe(pinned(image('fixable', '1.4.2')));
    // The rollout that removed the findings resolved their incident; the others stay open.
    expect(rollout.steps.find((step: { step: string }) => step.step === 'findings')).toMatchObject({ detail: 'findings of 1 earlier image resolved' });
    const cleared = await statusWhen(clients.client.workflow.getHandle(incidentOf('fixable', '1.4.1')), (status) => status.alerts.every((alert) => alert.status === 'resolved'));
    expect(cleared.alerts[0]!.annotations.summary).toBe(`Deployment ${namespace}/fixable no longer runs ${image('fixable', '1.4.1')} (1 findings resolved); it runs ${pinned(image('fixable', '1.4.2'))}`);
    const open = await clients.pool.query(`SELECT workload, vulnerability FROM security_findings WHERE workload LIKE $1 AND resolved_at IS NULL ORDER BY workload`, [`Deployment ${namespace}/%`]);
    expect(open.rows.map((row: { workload: string }) => row.workload.split('/')[1])).toEqual(['busy', 'current', 'worse']);

    // The next scan finds the same findings: the same incidents, no new ones.
    const again = byWorkload((await scan()).findings);
    expect(again.current!.incident).toBe(incidentOf('current', '2.0.0'));
    expect(again.fixable!.incident).toBeUndefined();
    expect(await deploymentImage(namespace, 'busy')).toBe(image('busy', '5.0.0'));
    await busy.executeUpdate('reject', { args: [{ by: 'alice', reason: 'test over' }] });
    for (const [name, tag] of [['current', '2.0.0'], ['worse', '3.1.0'], ['busy', '5.0.0']] as const) {
      await clients.client.workflow.getHandle(incidentOf(name, tag)).executeUpdate('resolve', { args: [{ by: 'test' }] }).catch(() => undefined);
    }
  });
});
