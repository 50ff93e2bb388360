import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/stack/net.js';
import { startTemporalDevServer, type RunningTemporal } from '../../scripts/stack/temporal.js';
import { dropClusterDatabases, startTemporalClusterOnFreePorts, type RunningTemporalCluster } from '../../scripts/stack/temporal-cluster.js';
import { ensureTemporalServer } from '../../scripts/stack/temporal-cluster-tools.js';
import { createPgPool } from '../../src/clients/postgres.js';
import { addOverride } from '../../src/db/oncall-overrides.js';
import { resolveUpdate, type IncidentStatus } from '../../workflows/incident.js';
import { fakePagerDuty, HttpRecorder } from '../support/http-recorder.js';
import { alert, batch, deliver, statusWhen } from '../support/incidents.js';
import { stackEnv, testStack, uniqueTaskQueue } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ROUTING_KEY = 'D0123456789abcdef0123456789abcde';

/**
 * A ladder survives what happens to the machines under it: the worker process
 * killed with SIGKILL while it waits at level 2, and the Temporal server
 * restarted on the same database file (on a cluster: its history service,
 * then its matching service, each SIGKILLed and started again). Afterwards
 * the ladder goes on at level 2 with the time it had left, and every page
 * arrives exactly once.
 */
describe('escalation durability', () => {
  const pagerduty = fakePagerDuty();
  const hook = new HttpRecorder();
  let dir: string;
  let policyFile: string;

  beforeAll(async () => {
    await Promise.all([pagerduty.start('/v2/enqueue'), hook.start('/hook')]);
    dir = join(testStack().runDir, `durability-${Date.now().toString(36)}`);
    mkdirSync(dir, { recursive: true });
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      [
        'version: 1',
        'escalation:',
        '  defaultPolicy: ladder',
        '  policies:',
        '    - name: ladder',
        '      levels:',
        '        - timeout: 3s',
        '          targets: [{ type: pagerduty }]',
        '        - timeout: 8s',
        `          targets: [{ type: webhook, url: "${hook.url}?level=2" }]`,
        '        - timeout: 1h',
        `          targets: [{ type: webhook, url: "${hook.url}?level=3" }]`,
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await Promise.all([pagerduty.stop(), hook.stop()]);
  });

  function startWorker(taskQueue: string, temporalAddress: string, config = policyFile): ChildProcess {
    return spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...stackEnv(testStack()),
        TEMPORAL_ADDRESS: temporalAddress,
        OPS_TASK_QUEUE: taskQueue,
        OPS_CONFIG: config,
        OPS_WORKFLOW_BUNDLE: testStack().workflowBundlePath,
        OPS_WORKER_METRICS_PORT: '0',
        OPS_LOG_LEVEL: 'warn',
        PAGERDUTY_EVENTS_URL: pagerduty.url,
        PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      },
      stdio: 'ignore',
    });
  }

  const stopped = (child: ChildProcess) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve)));
  const pagesFor = (incidentId: string, level: string) =>
    hook.requests.filter((request) => (request.body.incident as { id: string }).id === incidentId && request.path.endsWith(`level=${level}`));

  /** Runs a ladder to level 2, breaks something while it waits, and checks what happens after. */
  async function survive(name: string, temporalAddress: string, breakIt: () => Promise<void>, worker: { process: ChildProcess }, taskQueue: string) {
    const connection = await Connection.connect({ address: temporalAddress });
    const client = new Client({ connection });
    try {
      const handle = await deliver(client, taskQueue, `${name}-${taskQueue.slice(-8)}`, batch([alert('x1', 'firing', { service: name, severity: 'critical' })]));
      const atLevel2: IncidentStatus = await statusWhen(handle, (s) => s.escalation?.level === 2, 30_000);
      const level2At = Date.parse(atLevel2.escalation!.pages.at(-1)!.at);
      expect(Date.parse(atLevel2.escalation!.nextLevelAt!)).toBe(level2At + 8000);

      await breakIt();

      const atLevel3 = await statusWhen(handle, (s) => s.escalation?.level === 3, 60_000);
      const level3At = Date.parse(atLevel3.escalation!.pages.at(-1)!.at);
      // Level 3 fired when level 2's time ran out (the timer lives in Temporal, not in the worker),
      // give or take the moment a new worker takes the task: the sticky queue gives a dead worker's
      // tasks to another after 10 s, and a loaded test machine adds some.
      const gap = level3At - level2At;
      expect(gap, `level 3 came ${gap} ms after level 2`).toBeGreaterThanOrEqual(8000);
      expect(gap, `level 3 came ${gap} ms after level 2`).toBeLessThan(8000 + 10_000 + 20_000);

      await handle.executeUpdate(resolveUpdate, { args: [{ by: 'oncall' }] });
      const incidentId = atLevel3.incidentId;
      await expect
        .poll(() => pagerduty.requests.filter((request) => request.body.dedup_key === incidentId).map((request) => request.body.event_action), { timeout: 30_000 })
        .toEqual(['trigger', 'resolve']);
      // Exactly once each: one trigger and one resolution per webhook level (resolutions go out in parallel).
      for (const level of ['2', '3']) {
        await expect.poll(() => pagesFor(incidentId, level).map((request) => request.body.event), { timeout: 30_000 }).toEqual(['trigger', 'resolve']);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(pagesFor(incidentId, '2')).toHaveLength(2);
      expect(pagesFor(incidentId, '3')).toHaveLength(2);
    } finally {
      await connection.close();
      worker.process.kill('SIGTERM');
      await stopped(worker.process);
    }
  }

  it('goes on at level 2 after the worker is killed with SIGKILL', async () => {
    const taskQueue = uniqueTaskQueue('durability-kill');
    const worker = { process: startWorker(taskQueue, testStack().temporalAddress) };
    await survive(
      'killed-worker',
      testStack().temporalAddress,
      async () => {
        worker.process.kill('SIGKILL');
        await stopped(worker.process);
        worker.process = startWorker(taskQueue, testStack().temporalAddress);
      },
      worker,
      taskQueue,
    );
  });

  it('pages the same on-call again when a level runs again after its worker died mid-page, though the on-call changed meanwhile', async () => {
    const taskQueue = uniqueTaskQueue('durability-handoff');
    const schedule = `primary-${taskQueue.slice(-8)}`;
    const config = join(dir, `${schedule}.yaml`);
    const pool = createPgPool(testStack().databaseUrl, 'ops-tests');
    const worker: { process: ChildProcess } = { process: undefined as unknown as ChildProcess };
    let killedAt: number | undefined;
    let overriding: Promise<unknown> | undefined;
    // The first page of the ladder gets through, and its worker dies before it hears so: the level's
    // workflow task is lost and runs again on another worker once it times out, 10 s later. Meanwhile
    // ben takes over the schedule (an override from the moment the page arrived).
    const pages = new HttpRecorder(() => {
      if (killedAt === undefined) {
        killedAt = Date.now();
        worker.process.kill('SIGKILL');
        overriding = addOverride(pool, { schedule, person: 'ben', startMs: killedAt, endMs: killedAt + 3_600_000, by: 'test' });
      }
      return { status: 200, body: {} };
    });
    await pages.start('/page');
    writeFileSync(
      config,
      [
        'version: 1',
        'oncall:',
        '  people:',
        ...['ann', 'ben'].map((person) => `    ${person}: { name: ${person}, webhook: { url: "${pages.url}?person=${person}" } }`),
        '  schedules:',
        `    ${schedule}: { timeZone: UTC, layers: [{ people: [ann], start: "2026-01-01T00:00", shift: 1d }] }`,
        'escalation:',
        '  defaultPolicy: handoff',
        '  policies:',
        '    - name: handoff',
        `      levels: [{ timeout: 1h, targets: [{ type: schedule, schedule: ${schedule} }] }]`,
        '',
      ].join('\n'),
    );
    worker.process = startWorker(taskQueue, testStack().temporalAddress, config);
    const connection = await Connection.connect({ address: testStack().temporalAddress });
    const client = new Client({ connection });
    try {
      const handle = await deliver(client, taskQueue, `handoff-${taskQueue.slice(-8)}`, batch([alert('h1', 'firing', { service: 'handoff', severity: 'critical' })]));
      await expect.poll(() => killedAt, { timeout: 30_000 }).toBeDefined();
      await stopped(worker.process);
      await overriding;
      worker.process = startWorker(taskQueue, testStack().temporalAddress, config);

      // The level ran again: ann, who was on call when it was due, is paged under the same key (her
      // receiver can tell it is the page it had), and ben, on call only since, is not paged for it.
      const status = await statusWhen(handle, (s) => s.escalation?.pages.some((page) => page.level === 1 && page.outcome === 'delivered') === true, 60_000);
      const level1 = status.escalation!.pages.filter((page) => page.level === 1);
      expect(level1.map((page) => [page.person, page.outcome])).toEqual([['ann', 'delivered']]);
      expect(Date.parse(level1[0]!.onCallAt!)).toBeLessThan(killedAt!);
      const triggers = pages.requests.filter((request) => request.body.event === 'trigger');
      expect(triggers.map((request) => request.path)).toEqual(['/page?person=ann', '/page?person=ann']);
      expect(new Set(triggers.map((request) => request.headers['idempotency-key'])).size).toBe(1);

      await handle.executeUpdate(resolveUpdate, { args: [{ by: 'ann' }] });
      await expect.poll(() => pages.requests.filter((request) => request.body.event === 'resolve').map((request) => request.path), { timeout: 30_000 }).toEqual(['/page?person=ann']);
    } finally {
      await connection.close();
      worker.process.kill('SIGTERM');
      await stopped(worker.process);
      await pages.stop();
      await pool.end();
    }
  });

  const onCluster = testStack().temporalKind === 'cluster';

  // One restart test per back end: the dev server restarts on its file; a cluster loses services.
  if (onCluster) {
    it('goes on at level 2 after the cluster history service and then its matching service are killed and restarted', async () => {
      const database = `temporal_restart_${Date.now().toString(36)}`;
      const tools = await ensureTemporalServer();
      let cluster: RunningTemporalCluster | undefined;
      try {
        cluster = await startTemporalClusterOnFreePorts({ tools, adminUrl: testStack().adminDatabaseUrl, database, namespace: 'default', logDir: dir, maxConns: 4 });
        const running = cluster;
        const taskQueue = uniqueTaskQueue('durability-cluster');
        const worker = { process: startWorker(taskQueue, running.address) };
        await survive(
          'restarted-services',
          running.address,
          async () => {
            await running.restart('history');
            await new Promise((resolve) => setTimeout(resolve, 2000));
            await running.restart('matching');
          },
          worker,
          taskQueue,
        );
      } finally {
        await cluster?.stop();
        await dropClusterDatabases(testStack().adminDatabaseUrl, database);
      }
    });
  } else {
    it('goes on at level 2 after the Temporal server restarts on the same database file', async () => {
      const ports = { port: await freePort(), httpPort: await freePort(), metricsPort: await freePort() };
      const options = { binary: testStack().temporalBinary, ...ports, dbFile: join(dir, 'restart.db'), logFile: join(dir, 'temporal-restart.log') };
      let temporal: RunningTemporal = await startTemporalDevServer(options);
      const taskQueue = uniqueTaskQueue('durability-restart');
      const worker = { process: startWorker(taskQueue, temporal.address) };
      try {
        await survive(
          'restarted-temporal',
          temporal.address,
          async () => {
            await temporal.process.stop();
            temporal = await startTemporalDevServer(options);
          },
          worker,
          taskQueue,
        );
      } finally {
        await temporal.process.stop();
      }
    });
  }
});
