import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { applySchedules, listOwnSchedules, startWalArchivers } from '../../schedules/apply.js';
import { scheduleDefinitions } from '../../schedules/definitions.js';
import { dropDatabase } from '../../scripts/stack/postgres.js';
import { waitFor } from '../../scripts/stack/net.js';
import { opsctlAsync } from '../support/opsctl.js';
import { connectStack, seededDatabase, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * Schedules against the real Temporal dev server: declared schedules applied,
 * re-applied without change, changed, removed; paused and triggered through
 * opsctl; and runs missed while no worker was up, each run once on its return.
 */
describe('schedules', () => {
  let clients: StackClients;
  let client: Client;
  let sourceUrl: string;
  const taskQueue = uniqueTaskQueue('schedules');
  const tag = taskQueue.slice(-8);
  const database = `sched-${tag}`;
  const dbName = `ops_sched_${tag}`;
  const prefix = `ops-t${tag}-`;
  const policyOf = (schedules: Record<string, string>) => parsePolicy({ schedules }, 'test');

  beforeAll(async () => {
    clients = await connectStack();
    client = clients.client;
    sourceUrl = await seededDatabase(dbName, `CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)`);
  });

  afterAll(async () => {
    for (const id of await listOwnSchedules(client, prefix)) await client.schedule.getHandle(id).delete();
    await clients.close();
    await dropDatabase(testStack().adminDatabaseUrl, dbName);
  });

  it('applies the declared schedules, changes nothing the second time, updates what changed and deletes what is gone', async () => {
    const apply = (schedules: Record<string, string>, dryRun = false) =>
      applySchedules(client, scheduleDefinitions(policyOf(schedules), { prefix, databases: [database] }), { taskQueue, prefix, dryRun });
    const ids = [`${prefix}backup-${database}`, `${prefix}restore-drill-${database}`, `${prefix}maintenance-${database}`, `${prefix}report-daily`, `${prefix}report-weekly`, `${prefix}compliance-report`];

    expect((await apply({}, true)).map((change) => change.change)).toEqual(['create', 'create', 'create', 'create', 'create', 'create']);
    expect(await listOwnSchedules(client, prefix)).toEqual([]);
    expect((await apply({})).map(({ scheduleId, change }) => [scheduleId, change])).toEqual(ids.map((id) => [id, 'create']));
    expect((await apply({})).map((change) => change.change)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
    const weekly = await client.schedule.getHandle(ids[4]!).describe();
    expect(weekly.action).toMatchObject({ workflowType: 'reportWorkflow', workflowId: 'report-weekly', args: [{ period: 'weekly', requestedBy: 'schedule' }] });
    expect(weekly.info.nextActionTimes[0]!.getUTCDay()).toBe(1);
    const compliance = await client.schedule.getHandle(ids[5]!).describe();
    expect(compliance.action).toMatchObject({ workflowType: 'complianceReportWorkflow', workflowId: 'compliance-report', args: [{ requestedBy: 'schedule' }] });
    expect(compliance.info.nextActionTimes[0]!.getUTCDate()).toBe(1);

    const backup = await client.schedule.getHandle(ids[0]!).describe();
    expect(backup.action).toMatchObject({ workflowType: 'databaseBackupWorkflow', workflowId: `backup-${database}`, taskQueue, args: [{ database, requestedBy: 'schedule' }] });
    expect(backup.policies).toMatchObject({ overlap: 'BUFFER_ALL', catchupWindow: 6 * 3_600_000 });
    expect(backup.spec.jitter).toBe(600_000);
    expect(backup.state.note).toMatch(/^Nightly backup of/);
    const next = backup.info.nextActionTimes[0]!;
    expect([next.getUTCHours(), next.getUTCMinutes() < 10]).toEqual([2, true]);
    const maintenance = await client.schedule.getHandle(ids[2]!).describe();
    expect(maintenance.info.nextActionTimes[0]!.getUTCDay()).toBe(0);

    // An operator's pause survives a change applied on top.
    await client.schedule.getHandle(ids[0]!).pause('paused by alice: disk migration');
    const changed = await apply({ backup: '30 4 * * *', timeZone: 'Europe/Berlin' });
    expect(changed[0]).toEqual({
      scheduleId: ids[0],
      change: 'update',
      differences: ['when: 0 2 * * * -> 30 4 * * *', 'timeZone: UTC -> Europe/Berlin'],
    });
    expect(changed.slice(1).map((change) => change.change)).toEqual(['update', 'update', 'update', 'update', 'update']);
    const moved = await client.schedule.getHandle(ids[0]!).describe();
    expect(moved.spec.timezone).toBe('Europe/Berlin');
    expect(moved.state).toMatchObject({ paused: true, note: 'paused by alice: disk migration' });
    const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    const local = berlin.format(moved.info.nextActionTimes[0]!);
    expect(local >= '04:30' && local < '04:40').toBe(true);

    const removed = await apply({ backup: '30 4 * * *', timeZone: 'Europe/Berlin', maintenance: 'off' });
    expect(removed.map((change) => [change.scheduleId, change.change])).toEqual([
      [ids[0], 'unchanged'],
      [ids[1], 'unchanged'],
      [ids[3], 'unchanged'],
      [ids[4], 'unchanged'],
      [ids[5], 'unchanged'],
      [ids[2], 'delete'],
    ]);
    expect(await listOwnSchedules(client, prefix)).toEqual([ids[0], ids[1], ids[3], ids[4], ids[5]].sort());
  });

  it('schedules base backups and starts one WAL archiver for each database that archives WAL, once', async () => {
    const archived = `wal-${tag}`;
    const policy = parsePolicy({ databases: { [archived]: { urlFromEnv: 'UNUSED_URL' } }, backups: { walArchive: { databases: [archived] } } }, 'test');
    const base = scheduleDefinitions(policy, { prefix, databases: [database, archived] }).find((definition) => definition.workflowType === 'databaseBaseBackupWorkflow');
    expect(base).toMatchObject({ scheduleId: `${prefix}base-backup-${archived}`, when: '30 1 * * *', workflowId: `base-backup-${archived}`, args: [{ database: archived, requestedBy: 'schedule' }] });
    const queue = `${taskQueue}-nobody`;
    try {
      expect(await startWalArchivers(client, policy, { taskQueue: queue, dryRun: true })).toEqual([{ database: archived, workflowId: `wal-archive-${archived}`, change: 'start' }]);
      expect(await startWalArchivers(client, policy, { taskQueue: queue })).toEqual([{ database: archived, workflowId: `wal-archive-${archived}`, change: 'start' }]);
      expect((await client.workflow.getHandle(`wal-archive-${archived}`).describe()).status.name).toBe('RUNNING');
      expect(await startWalArchivers(client, policy, { taskQueue: queue })).toEqual([{ database: archived, workflowId: `wal-archive-${archived}`, change: 'running' }]);
    } finally {
      await client.workflow.getHandle(`wal-archive-${archived}`).terminate('test over').catch(() => undefined);
    }
  });

  it('runs each time missed while no worker was up exactly once when the worker returns', async () => {
    const catchupPrefix = `${prefix}c-`;
    const definitions = scheduleDefinitions(policyOf({ backup: 'every 3s', restoreDrill: 'off', maintenance: 'off' }), { prefix: catchupPrefix, databases: [database] });
    const [definition] = definitions;
    // No jitter here, so the scheduled times are exact multiples of the interval.
    const changes = await applySchedules(client, [{ ...definition!, jitter: undefined, args: [{ database, verify: false, requestedBy: 'schedule' }] }], { taskQueue, prefix: catchupPrefix });
    expect(changes).toEqual([{ scheduleId: definition!.scheduleId, change: 'create', differences: [] }]);
    const handle = client.schedule.getHandle(definition!.scheduleId);
    // The schedule stops producing times 8 s from now; until then no worker polls the queue:
    // the first run waits and each later time is buffered behind it.
    const endAt = new Date(Date.now() + 8000);
    await handle.update((previous) => ({ ...previous, spec: { ...previous.spec, endAt } }));
    await new Promise((resolve) => setTimeout(resolve, endAt.getTime() - Date.now() + 1000));
    expect((await handle.describe()).info.numActionsTaken).toBeGreaterThanOrEqual(1);

    const deps = clients.activityDeps({ taskQueue, databaseUrl: (name) => (name === database ? sourceUrl : undefined) });
    const worker = await startBackgroundWorker(taskQueue, createActivities(deps));
    try {
      const query = `TemporalScheduledById = '${definition!.scheduleId}'`;
      const runs: { id: string; status: string; scheduledAt: string }[] = [];
      await waitFor(
        'every missed run to finish',
        async () => {
          const description = await handle.describe();
          if (description.info.runningActions.length > 0) return false;
          runs.length = 0;
          for await (const execution of client.workflow.list({ query })) {
            const scheduled = execution.searchAttributes.TemporalScheduledStartTime as Date[] | undefined;
            runs.push({ id: execution.workflowId, status: execution.status.name, scheduledAt: scheduled?.[0] ? new Date(scheduled[0]).toISOString() : '' });
          }
          return runs.length >= 2 && runs.every((run) => run.status !== 'RUNNING');
        },
        90_000,
        500,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; runs: ${JSON.stringify(runs)}`);
      });
      const times = runs.map((run) => Date.parse(run.scheduledAt)).sort((a, b) => a - b);
      expect(runs.length).toBeGreaterThanOrEqual(2);
      expect(runs.every((run) => run.status === 'COMPLETED')).toBe(true);
      // Each scheduled time once, none skipped between the first and the last.
      expect(new Set(times).size).toBe(times.length);
      expect(times.slice(1).map((time, index) => time - times[index]!)).toEqual(times.slice(1).map(() => 3000));
      const backups = await clients.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM backups WHERE database = $1`, [database]);
      expect(backups.rows[0]!.n).toBe(runs.length);
    } finally {
      await worker.stop();
      await handle.delete();
    }
  }, 150_000);

  it('is run by opsctl: apply --dry-run, apply, list, pause, unpause, trigger and backfill, with --json', async () => {
    const cliPrefix = `${prefix}cli-`;
    const dir = mkdtempSync(join(tmpdir(), 'ops-schedules-'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, `databases:\n  ${database}: { url: "${sourceUrl}" }\nschedules:\n  restoreDrill: "off"\n  maintenance: "off"\n  dailyReport: "off"\n  weeklyReport: "off"\n  complianceReport: "off"\n`);
    const env = { OPS_CONFIG: policyFile, OPS_SCHEDULE_PREFIX: cliPrefix, OPS_TASK_QUEUE: taskQueue };
    const cli = async (...args: string[]) => {
      const result = await opsctlAsync(['--json', ...args], env);
      if (result.status !== 0) throw new Error(`opsctl ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
      return JSON.parse(result.stdout) as unknown;
    };
    const ids = [`${cliPrefix}backup-default`, `${cliPrefix}backup-${database}`];

    expect(await cli('schedules', 'apply', '--dry-run')).toEqual({ dryRun: true, changes: ids.map((scheduleId) => ({ scheduleId, change: 'create', differences: [] })) });
    expect(await listOwnSchedules(client, cliPrefix)).toEqual([]);
    await cli('schedules', 'apply');
    expect(await cli('schedules', 'apply')).toEqual({ dryRun: false, changes: ids.map((scheduleId) => ({ scheduleId, change: 'unchanged', differences: [] })) });
    const listed = (await cli('schedules', 'list')) as { id: string; when: string; paused: boolean; next: string }[];
    expect(listed.map(({ id, when, paused }) => ({ id, when, paused }))).toEqual(ids.sort().map((id) => ({ id, when: '0 2 * * *', paused: false })));

    const paused = await cli('schedules', 'pause', ids[1]!, '--by', 'alice', '--reason', 'disk swap');
    expect(paused).toMatchObject({ id: ids[1], paused: true, note: 'paused by alice: disk swap' });
    expect(await cli('schedules', 'unpause', ids[1]!, '--by', 'alice')).toMatchObject({ paused: false, note: 'unpaused by alice' });

    const deps = clients.activityDeps({ taskQueue, databaseUrl: (name) => (name === database ? sourceUrl : undefined) });
    const worker = await startBackgroundWorker(taskQueue, createActivities(deps));
    try {
      expect(await cli('schedules', 'trigger', ids[1]!)).toEqual({ id: ids[1], triggered: true, actionsTakenBefore: 0 });
      const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      expect(await cli('schedules', 'backfill', ids[1]!, '--start', `${yesterday}T00:00:00Z`, '--end', `${yesterday}T23:59:59Z`)).toEqual({
        id: ids[1],
        start: `${yesterday}T00:00:00.000Z`,
        end: `${yesterday}T23:59:59.000Z`,
        overlap: 'BUFFER_ALL',
      });
      const handle = client.schedule.getHandle(ids[1]!);
      await waitFor(
        'the triggered and the backfilled run to finish',
        async () => {
          const { info } = await handle.describe();
          return info.numActionsTaken >= 2 && info.runningActions.length === 0;
        },
        60_000,
      );
      const { info } = await handle.describe();
      const scheduled = info.recentActions.map((action) => action.scheduledAt.toISOString());
      expect(scheduled.some((at) => at.startsWith(`${yesterday}T02:`))).toBe(true);
      const backups = await clients.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM backups WHERE database = $1 AND workflow_id = $2`, [database, `backup-${database}`]);
      expect(backups.rows[0]!.n).toBeGreaterThanOrEqual(2);
    } finally {
      await worker.stop();
    }

    const missing = await opsctlAsync(['schedules', 'pause', `${cliPrefix}nope`, '--by', 'alice'], env);
    expect([missing.status, missing.stderr]).toEqual([4, `opsctl: no schedule ${cliPrefix}nope (see opsctl schedules list)\n`]);
    const unreachable = await opsctlAsync(['schedules', 'list'], { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(unreachable.status).toBe(3);
    expect(unreachable.stderr).toMatch(/^opsctl: cannot reach Temporal at 127\.0\.0\.1:1 \(TEMPORAL_ADDRESS\): .+\n$/);
  });
});
