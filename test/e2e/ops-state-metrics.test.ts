import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgPool } from '../../src/clients/postgres.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logging/logger.js';
import { buildWebhookServer, type WebhookServer } from '../../src/webhooks/server.js';
import { applySchedules, listOwnSchedules } from '../../schedules/apply.js';
import { scheduleDefinitions } from '../../schedules/definitions.js';
import { parsePolicy } from '../../src/config/policy.js';
import { waitFor } from '../../scripts/stack/net.js';
import { connectStack, seededDatabase, uniqueTaskQueue, type StackClients } from '../support/stack.js';

/**
 * /metrics carries what the alerting rules and the ops-automation dashboard
 * read from our own tables and schedules: backup age, open incidents, pages
 * by level, schedule runs and misses, read at scrape time.
 */
describe('ops state in /metrics', () => {
  let clients: StackClients;
  let pool: pg.Pool;
  let app: WebhookServer;
  const tag = uniqueTaskQueue('state').slice(-8);
  const prefix = `ops-m${tag}-`;

  const metrics = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = (text: string, name: string) => text.split('\n').filter((entry) => entry.startsWith(name)).sort();

  beforeAll(async () => {
    clients = await connectStack();
    pool = createPgPool(await seededDatabase(`state_${tag.replace(/-/g, '_')}`, 'SELECT 1'), 'ops-state-test');
    await migrate(pool);
    await pool.query(`INSERT INTO backups (database, bucket, object_key, manifest_key, bytes, sha256, server_version, started_at, finished_at, workflow_id, verified_at)
      VALUES ('orders', 'b', 'k1', 'm1', 1, 'x', '16', '2026-11-20T02:00:00Z', '2026-11-20T02:10:00Z', 'w', '2026-11-20T02:30:00Z'),
             ('orders', 'b', 'k2', 'm2', 1, 'x', '16', '2026-11-21T02:00:00Z', '2026-11-21T02:10:00Z', 'w', NULL)`);
    await pool.query(`INSERT INTO incidents (id, workflow_id, run_id, dedup_key, source, title, service, severity, status, opened_at)
      VALUES ('a', 'a', 'r', 'a', 'events', 't', 's', 'critical', 'triggered', now()), ('b', 'b', 'r', 'b', 'events', 't', 's', 'critical', 'triggered', now()),
             ('c', 'c', 'r', 'c', 'events', 't', 's', 'high', 'acknowledged', now()), ('d', 'd', 'r', 'd', 'events', 't', 's', 'low', 'resolved', now())`);
    await pool.query(`INSERT INTO notifications (idempotency_key, incident_id, level, target, channel, kind, outcome)
      VALUES ('n1', 'a', 1, 'x', 'slack', 'page', 'delivered'), ('n2', 'a', 2, 'x', 'pagerduty', 'page', 'delivered'), ('n3', 'b', 2, 'x', 'pagerduty', 'page', 'failed')`);
    await pool.query(`INSERT INTO wal_archive_status (database, last_segment, archived_lsn, server_lsn, lag_bytes, caught_up_at)
      VALUES ('orders', '000000010000000000000003', '0/4000000', '0/4001000', 4096, now() - interval '90 seconds')`);
    const [backup] = scheduleDefinitions(parsePolicy({}, 'test'), { prefix, databases: ['orders'] });
    await applySchedules(clients.client, [backup!], { taskQueue: `idle-${tag}`, prefix });
    app = buildWebhookServer({ temporal: clients.client, temporalConnection: clients.connection, logger: createLogger({ level: 'silent' }), opsState: { pool, schedulePrefix: prefix } });
  });

  afterAll(async () => {
    await app?.close();
    for (const id of await listOwnSchedules(clients.client, prefix)) await clients.client.schedule.getHandle(id).delete();
    await pool?.end();
    await clients?.close();
  });

  it('reads backup times, open incidents and recent pages from our tables', async () => {
    const text = await metrics();
    expect(line(text, 'ops_backup_last_success_timestamp_seconds{')).toEqual([`ops_backup_last_success_timestamp_seconds{database="orders"} ${Date.parse('2026-11-21T02:10:00Z') / 1000}`]);
    expect(line(text, 'ops_backup_last_verified_timestamp_seconds{')).toEqual([`ops_backup_last_verified_timestamp_seconds{database="orders"} ${Date.parse('2026-11-20T02:30:00Z') / 1000}`]);
    expect(line(text, 'ops_incidents_open{')).toEqual(['ops_incidents_open{severity="critical",status="triggered"} 2', 'ops_incidents_open{severity="high",status="acknowledged"} 1']);
    expect(line(text, 'ops_pages_last_24h{')).toEqual([
      'ops_pages_last_24h{channel="pagerduty",level="2",outcome="delivered"} 1',
      'ops_pages_last_24h{channel="pagerduty",level="2",outcome="failed"} 1',
      'ops_pages_last_24h{channel="slack",level="1",outcome="delivered"} 1',
    ]);
  });

  it('reads where each WAL archive stands: bytes behind the server, and seconds since it last held everything', async () => {
    const text = await metrics();
    expect(line(text, 'ops_wal_archive_lag_bytes{')).toEqual(['ops_wal_archive_lag_bytes{database="orders"} 4096']);
    const [seconds] = line(text, 'ops_wal_archive_lag_seconds{');
    expect(seconds).toMatch(/^ops_wal_archive_lag_seconds\{database="orders"\} (\d+(\.\d+)?)$/);
    expect(Number(seconds!.split(' ')[1])).toBeGreaterThanOrEqual(90);
    expect(Number(seconds!.split(' ')[1])).toBeLessThan(150);
  });

  it('reads our schedules: runs missed, the last run, and an operator pause', async () => {
    const id = `${prefix}backup-orders`;
    expect(line(await metrics(), 'ops_schedule_')).toEqual([`ops_schedule_missed_runs{schedule="${id}"} 0`, `ops_schedule_paused{schedule="${id}"} 0`]);
    await clients.client.schedule.getHandle(id).trigger();
    // The scheduler starts the run from its own workflow task and activity: on a
    // 2-core CI machine running other suites beside this one that took over 10 s.
    await waitFor('the triggered run', async () => line(await metrics(), 'ops_schedule_last_run').length === 1, 30_000);
    // Pause only after the run started: the scheduler workflow keeps one pending
    // patch, so a trigger and a pause that reach it in the same workflow task
    // leave only the pause (Temporal's scheduler sleep(); seen once in CI).
    await clients.client.schedule.getHandle(id).pause('by test');
    // The pause, too, is a signal the scheduler workflow takes in its next workflow task.
    await waitFor('the pause', async () => line(await metrics(), 'ops_schedule_paused')[0] === `ops_schedule_paused{schedule="${id}"} 1`, 30_000);
    const text = await metrics();
    expect(line(text, 'ops_schedule_paused')).toEqual([`ops_schedule_paused{schedule="${id}"} 1`]);
    const [, seconds] = line(text, 'ops_schedule_last_run_timestamp_seconds{')[0]!.split('} ');
    expect(Math.abs(Number(seconds) - Date.now() / 1000)).toBeLessThan(30);
  });
});
