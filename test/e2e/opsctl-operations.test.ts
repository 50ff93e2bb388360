import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { parsePolicy } from '../../src/config/policy.js';
import { dropDatabase } from '../../scripts/stack/postgres.js';
import { waitFor } from '../../scripts/stack/net.js';
import type { IncidentStatus } from '../../workflows/incident.js';
import { HttpRecorder } from '../support/http-recorder.js';
import { alert, batch, deliver } from '../support/incidents.js';
import { opsctlAsync } from '../support/opsctl.js';
import { connectStack, seededDatabase, startBackgroundWorker, testStack, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * The operator's verbs through the real opsctl binary against the real stack:
 * incidents listed by their search attributes and acted on through updates,
 * backups run (followed), listed from their manifests and verified, database
 * maintenance run. Every verb's --json output is checked; refusals are one
 * line with a meaningful exit code.
 */
describe('opsctl incident, backup and maintenance', () => {
  let clients: StackClients;
  let worker: { stop(): Promise<void> };
  let sourceUrl: string;
  let env: Record<string, string>;
  const pager = new HttpRecorder();
  const taskQueue = uniqueTaskQueue('opsctl-ops');
  const tag = taskQueue.slice(-8);
  const database = `cli-${tag}`;
  const dbName = `ops_cli_${tag}`;
  const service = `svc-${tag}`;
  const dedupKey = `cli-${tag}`;

  const run = (...args: string[]) => opsctlAsync(args, env);
  const json = async <T>(...args: string[]): Promise<T> => {
    const result = await run('--json', ...args);
    if (result.status !== 0) throw new Error(`opsctl ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  };

  beforeAll(async () => {
    clients = await connectStack();
    await pager.start();
    sourceUrl = await seededDatabase(dbName, `CREATE TABLE items (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now()); INSERT INTO items SELECT generate_series(1, 250)`);
    const policy = parsePolicy(
      {
        escalation: {
          defaultPolicy: 'cli',
          policies: [{ name: 'cli', levels: [{ targets: [{ type: 'webhook', url: pager.url }] }, { timeout: '1h', targets: [{ type: 'webhook', url: pager.url }] }] }],
        },
        maintenance: { retention: [{ database, table: 'items', column: 'at', maxAge: '30d' }] },
      },
      'test',
    );
    const deps = clients.activityDeps({ policy, taskQueue, databaseUrl: (name) => (name === database ? sourceUrl : undefined) });
    worker = await startBackgroundWorker(taskQueue, createActivities(deps));
    const dir = mkdtempSync(join(tmpdir(), 'ops-opsctl-'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, `databases:\n  ${database}: { url: "${sourceUrl}" }\n`);
    env = { OPS_CONFIG: policyFile, OPS_TASK_QUEUE: taskQueue };
  });

  afterAll(async () => {
    await worker?.stop();
    await pager.stop();
    await clients.close();
    await dropDatabase(testStack().adminDatabaseUrl, dbName);
  });

  it('lists, shows, annotates, escalates, acknowledges and resolves an incident', async () => {
    await deliver(clients.client, taskQueue, dedupKey, batch([alert(`fp-${tag}`, 'firing', { service, severity: 'critical' }, new Date().toISOString(), { summary: 'Checkout errors' })]));
    const workflowId = `incident-${dedupKey}`;
    await waitFor('the first page', async () => pager.requests.length >= 1, 20_000);

    let listed: { query: string; incidents: { id: string; status: string; severity: string; service: string }[] } | undefined;
    await waitFor('the incident in the visibility list', async () => {
      const page = await json<NonNullable<typeof listed>>('incident', 'list', '--service', service);
      listed = page;
      return page.incidents.length === 1;
    }, 20_000);
    expect(listed!.query).toBe(`OpsKind = 'incident' AND OpsStatus IN ('triggered', 'acknowledged') AND OpsService = '${service}'`);
    expect(listed!.incidents[0]).toMatchObject({ id: workflowId, status: 'triggered', severity: 'critical', service });

    const shown = await json<IncidentStatus>('incident', 'show', dedupKey);
    expect(shown).toMatchObject({ workflowId, state: 'triggered', title: 'Checkout errors', severity: 'critical', service });
    const human = await run('incident', 'show', workflowId);
    expect(human.stdout).toContain(`${workflowId}  CRITICAL  triggered`);
    expect(human.stdout).toMatch(/TIMELINE\n {2}\S+ {2}system +opened/);

    const noted = await json<IncidentStatus>('incident', 'note', workflowId, '--by', 'alice', '--text', 'rolling back 1.4.2');
    expect(noted.timeline.at(-1)).toMatchObject({ actor: 'alice', kind: 'note', text: 'rolling back 1.4.2' });
    const escalated = await json<IncidentStatus>('incident', 'escalate', workflowId, '--by', 'alice');
    expect(escalated.timeline.at(-1)).toMatchObject({ actor: 'alice', kind: 'escalated' });
    await waitFor('the second level page', async () => pager.requests.length >= 2, 20_000);

    const acked = await json<IncidentStatus>('incident', 'ack', workflowId, '--by', 'alice');
    expect(acked).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'alice' });
    const again = await run('incident', 'ack', workflowId, '--by', 'bob');
    expect([again.status, again.stderr]).toEqual([5, `opsctl: ${workflowId}: incident is already acknowledged by alice\n`]);
    const noLadder = await run('incident', 'escalate', workflowId, '--by', 'bob');
    expect([noLadder.status, noLadder.stderr]).toEqual([5, `opsctl: ${workflowId}: incident is acknowledged; only a triggered incident escalates\n`]);

    const resolved = await json<IncidentStatus>('incident', 'resolve', workflowId, '--by', 'alice', '--note', 'rolled back');
    expect(resolved).toMatchObject({ state: 'resolved', resolvedBy: 'alice' });
    await waitFor('the resolved incident in the visibility list', async () => {
      const page = await json<NonNullable<typeof listed>>('incident', 'list', '--status', 'resolved', '--service', service, '--severity', 'critical');
      return page.incidents.length === 1;
    }, 20_000);

    const missing = await run('incident', 'show', `nope-${tag}`);
    expect([missing.status, missing.stderr]).toEqual([4, `opsctl: no open incident incident-nope-${tag}\n`]);
    // An event's incident is named by the dedup_key it was sent with, as the README's curl example does.
    await deliver(clients.client, taskQueue, `ev-disk-${tag}`, batch([alert(`disk-${tag}`, 'firing', { service, severity: 'high' })], { source: 'events' }));
    const byEventKey = await json<IncidentStatus>('incident', 'show', `disk-${tag}`);
    expect(byEventKey.workflowId).toBe(`incident-ev-disk-${tag}`);
    const badStatus = await run('incident', 'list', '--status', 'sleeping');
    expect([badStatus.status, badStatus.stderr]).toEqual([2, 'opsctl: --status "sleeping": expected one of triggered, acknowledged, resolved, open, all\n']);
  });

  it('runs a backup and follows it, lists it from its manifest and verifies it', async () => {
    const result = await json<{ manifest: { key: string; database: string; bytes: number; tables: Record<string, number> }; verification: { tables: number; rows: number } }>(
      'backup', 'run', '--database', database, '--follow', '--by', 'alice',
    );
    expect(result.manifest).toMatchObject({ database, tables: { 'public.items': 250 } });
    expect(result.verification).toEqual({ tables: 1, rows: 250 });

    const followed = await run('backup', 'run', '--database', database, '--follow', '--no-verify');
    expect(followed.status).toBe(0);
    expect(followed.stdout).toMatch(new RegExp(`backed up ${database} to s3://[^/]+/backups/${database}/\\S+\\.dump \\(\\d+\\.\\d MiB, sha256 [0-9a-f]{12}…\\)\\n`));
    expect(followed.stdout).not.toContain('verified:');

    const listed = await json<{ database: string; key: string; verifiedAt: string | null; bytes: number }[]>('backup', 'list', '--database', database);
    expect(listed).toHaveLength(2);
    expect(listed[1]).toMatchObject({ key: result.manifest.key, bytes: result.manifest.bytes, verifiedAt: expect.any(String) });
    expect(listed[0]!.verifiedAt).toBeNull();

    const verified = await json<{ key: string; tables: number; rows: number }>('backup', 'verify', '--database', database);
    expect(verified).toEqual({ key: listed[0]!.key, tables: 1, rows: 250 });

    // Another bucket, for a run and for the list; a name S3 would refuse is refused before anything starts.
    const offsite = `ops-offsite-${tag}`.toLowerCase();
    await clients.s3.send(new CreateBucketCommand({ Bucket: offsite }));
    const elsewhere = await run('backup', 'run', '--database', database, '--bucket', offsite, '--follow', '--no-verify');
    expect(elsewhere.stdout).toMatch(new RegExp(`backed up ${database} to s3://${offsite}/backups/${database}/\\S+\\.dump `));
    const offsiteList = await json<{ key: string }[]>('backup', 'list', '--database', database, '--bucket', offsite);
    expect(offsiteList).toHaveLength(1);
    expect(elsewhere.stdout).toContain(offsiteList[0]!.key);
    const misspelt = await run('backup', 'run', '--database', database, '--bucket', 'Offsite_Backups');
    expect([misspelt.status, misspelt.stderr]).toEqual([2, 'opsctl: bucket name "Offsite_Backups" may hold only lower-case letters, digits, "." and "-"\n']);

    const unknown = await run('backup', 'run', '--database', `nope-${tag}`, '--follow');
    expect([unknown.status, unknown.stderr]).toEqual([1, `opsctl: no database named "nope-${tag}" is configured\n`]);
  });

  it('runs database maintenance, dry and real', async () => {
    await clients.pool.query('SELECT 1');
    const seed = new pg.Client({ connectionString: sourceUrl });
    await seed.connect();
    await seed.query(`UPDATE items SET at = now() - interval '40 days' WHERE id <= 100`);
    await seed.end();

    const dry = await json<{ dryRun: boolean; actions: { action: string; target: string; outcome: string; rows?: number }[] }>('maintenance', 'run', '--database', database, '--dry-run');
    expect(dry.dryRun).toBe(true);
    expect(dry.actions[0]).toEqual(expect.objectContaining({ action: 'delete-expired', target: 'public.items', outcome: 'dry-run', rows: 100 }));

    const real = await run('maintenance', 'run', '--database', database, '--by', 'alice');
    expect(real.status).toBe(0);
    expect(real.stdout).toContain(`Maintenance of ${database} (PostgreSQL `);
    expect(real.stdout).toMatch(/delete-expired +public\.items +succeeded +100 /);
    expect(real.stdout).toMatch(/connections \d+\/\d+, 0 AccessExclusiveLock holders/);
  });
});
