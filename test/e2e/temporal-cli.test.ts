import { runProcess } from '../support/process.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { ensureTool } from '../../scripts/stack/tools.js';
import { deploymentImage, deployOnCluster, ensureNamespace } from '../support/kubernetes.js';
import { issueCertificate, startTlsServer } from '../support/certificates.js';
import { HttpRecorder } from '../support/http-recorder.js';
import { statusWhen } from '../support/incidents.js';
import { connectStack, kubeConfig, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';
import { pinned } from '../support/rollouts.js';

/**
 * The README's own `temporal workflow` lines, run with the real temporal CLI
 * against the real dev server (only the task queue is the test's): every
 * workflow type starts from plain JSON with its defaults and finishes.
 */
const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const FAKE_TRIVY = fileURLToPath(new URL('../support/fake-trivy.mjs', import.meta.url));

function readmeCommands(): string[] {
  const text = readFileSync(README, 'utf8');
  const block = text.slice(text.indexOf('<!-- temporal-cli-start -->'), text.indexOf('<!-- temporal-cli-end -->'));
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((line) => line.startsWith('temporal workflow '));
}

async function sh(command: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; output: string }> {
  const { status, output } = await runProcess('bash', ['-c', command], { env, timeoutMs: 120_000 });
  return { status, output };
}

describe('the README starts every workflow type with the temporal CLI', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  const taskQueue = uniqueTaskQueue('readme');
  // The rollout line's cluster is the embedded control plane (shop/api lives only in this test); its scanner a Trivy stand-in.
  // The heartbeat line's receiver, standing in for healthchecks.io or a PagerDuty heartbeat.
  const beats = new HttpRecorder(() => ({ status: 200, body: {} }));
  let tls: Awaited<ReturnType<typeof startTlsServer>>;

  beforeAll(async () => {
    clients = await connectStack();
    await ensureNamespace('shop');
    await Promise.all([deployOnCluster('shop', 'api', { image: 'registry.example.com/shop/api:1.4.2', replicas: 2 }), beats.start('/ping/readme')]);
    tls = await startTlsServer(issueCertificate({ names: ['shop.test'], untilDays: 30 }));
    const reports = join(mkdtempSync(join(tmpdir(), 'ops-readme-')), 'reports.json');
    writeFileSync(reports, JSON.stringify({ 'registry.example.com/shop/api:1.4.2': [], 'registry.example.com/shop/api:1.4.3': [] }));
    const policy = parsePolicy(
      {
        rollouts: { scanner: { command: [process.execPath, FAKE_TRIVY, reports] }, watchWindow: '1s' },
        remediation: { runbooks: [{ name: 'restart-api', steps: [{ action: 'rolling-restart', namespace: '{{ $labels.namespace }}', deployment: '{{ $labels.deployment }}' }] }] },
        healthCheck: { targets: [{ namespace: 'shop', deployment: 'api' }] },
        // The certificate line's endpoint: a TLS server with a self-signed certificate for shop.test.
        certificates: { endpoints: [{ host: '127.0.0.1', port: tls.port, serverName: 'shop.test' }] },
      },
      'test',
    );
    worker = await startBackgroundWorker(taskQueue, createActivities(clients.activityDeps({ taskQueue, policy, kube: () => kubeConfig(), heartbeatUrl: beats.url })));
  });

  afterAll(async () => {
    await worker.stop();
    await Promise.all([beats.stop(), tls.stop()]);
    await clients.close();
  });

  it('runs each line as written, and each workflow does its job', async () => {
    const commands = readmeCommands();
    const types = commands.map((command) => /--type (\w+)/.exec(command)?.[1]);
    expect(types).toEqual(['selfCheckWorkflow', 'incidentWorkflow', 'databaseBackupWorkflow', 'databaseRestoreDrillWorkflow', 'databaseMaintenanceWorkflow', 'securityRolloutWorkflow', 'remediationWorkflow', 'healthCheckWorkflow', 'reportWorkflow', 'imageScanWorkflow', 'heartbeatWorkflow', 'certificateCheckWorkflow', 'complianceReportWorkflow', 'deploymentMonitorWorkflow']);
    const temporal = await ensureTool('temporal', () => undefined);
    const env = { ...process.env, PATH: `${temporal.replace(/\/temporal$/, '')}:${process.env.PATH}`, TEMPORAL_ADDRESS: testStack().temporalAddress, TEMPORAL_NAMESPACE: testStack().namespace };
    const results: Record<string, unknown> = {};
    for (const command of commands) {
      const run = await sh(command.replace('--task-queue ops ', `--task-queue ${taskQueue} `), env);
      expect(run.status, run.output).toBe(0);
      const workflowId = /--workflow-id (\S+)/.exec(command)![1]!;
      const type = /--type (\w+)/.exec(command)![1]!;
      if (type === 'incidentWorkflow') {
        const status = await statusWhen(clients.client.workflow.getHandle(workflowId), (current) => current.alerts.length === 1);
        results[type] = { state: status.state, title: status.title, severity: status.severity };
      } else {
        // The restore drill needs the backup the line before made: each line is waited for in turn.
        results[type] = await clients.client.workflow.getHandle(workflowId).result();
      }
    }
    expect(results.selfCheckWorkflow).toMatchObject({ objectStore: { key: expect.stringMatching(/^self-check\/self-check-readme\//) }, auditEventId: expect.any(String) });
    expect(results.incidentWorkflow).toEqual({ state: 'triggered', title: 'Disk 95% full on db1', severity: 'high' });
    const backup = results.databaseBackupWorkflow as { manifest: { key: string; database: string }; verification: { tables: number } };
    expect(backup.manifest.database).toBe('default');
    expect(backup.verification.tables).toBeGreaterThan(0);
    expect(results.databaseRestoreDrillWorkflow).toMatchObject({ key: backup.manifest.key });
    expect(results.databaseMaintenanceWorkflow).toMatchObject({ database: 'default', dryRun: true });
    expect(results.securityRolloutWorkflow).toMatchObject({ phase: 'succeeded', from: 'registry.example.com/shop/api:1.4.2', to: 'registry.example.com/shop/api:1.4.3', bump: 'patch' });
    expect(await deploymentImage('shop', 'api')).toBe(pinned('registry.example.com/shop/api:1.4.3'));
    expect(results.remediationWorkflow).toMatchObject({ outcome: 'dry-run', steps: [{ step: '1-rolling-restart', outcome: 'dry-run', detail: 'would rolling restart of Deployment shop/api' }] });
    expect(results.reportWorkflow).toMatchObject({ window: { period: 'daily' }, htmlKey: expect.stringMatching(/^reports\/daily\/\d{4}-\d\d-\d\d\.html$/) });
    expect(results.imageScanWorkflow).toEqual({ dryRun: true, findings: [] });
    expect(results.heartbeatWorkflow).toEqual({ status: 200, requestedBy: 'system' });
    expect(beats.requests).toHaveLength(1);
    expect(results.certificateCheckWorkflow).toMatchObject({ dryRun: true, incidents: [], findings: [{ endpoint: `127.0.0.1:${tls.port} (shop.test)`, state: 'untrusted', severity: 'critical', daysLeft: 29 }] });
    expect(results.complianceReportWorkflow).toMatchObject({ window: { month: '2026-11' }, markdownKey: 'compliance/2026-11.md', mode: 'COMPLIANCE', controls: expect.any(Array) });
    expect(results.complianceReportWorkflow).not.toHaveProperty('email');
    expect(results.deploymentMonitorWorkflow).toMatchObject({ dryRun: true, environments: [] });
    expect(results.healthCheckWorkflow).toMatchObject({ dryRun: true, targets: 1, decisions: [{ target: 'shop/api', rule: 'pods', action: 'none' }] });
  });
});
