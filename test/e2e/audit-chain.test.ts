import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgPool } from '../../src/clients/postgres.js';
import { writeAuditEvent } from '../../src/db/audit.js';
import { migrate } from '../../src/db/migrate.js';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { dropDatabase, ensureDatabase } from '../../scripts/stack/postgres.js';
import { opsctl } from '../support/opsctl.js';
import { testStack } from '../support/stack.js';

/** The audit trail's hash chain on a real PostgreSQL, checked by the real opsctl. */
describe('tamper-evident audit trail', () => {
  const name = `ops_audit_${process.pid}_${Date.now().toString(36)}`;
  let url: string;
  let pool: pg.Pool;
  const verify = () => opsctl(['--json', 'audit', 'verify'], { DATABASE_URL: url });

  beforeAll(async () => {
    url = await ensureDatabase(testStack().adminDatabaseUrl, name);
    pool = createPgPool(url);
    // Rows written before the chain existed join it when migration 9 runs.
    await migrate(pool, MIGRATIONS.filter((migration) => migration.id < 9));
    for (let index = 0; index < 5; index += 1) {
      await pool.query(`INSERT INTO audit_events (actor, action, target, outcome, details, idempotency_key) VALUES ('old', 'backup.upload', 'postgres/orders', 'succeeded', $1, $2)`, [
        JSON.stringify({ bytes: index, note: 'ünïcode ✓' }),
        `before-chain-${index}`,
      ]);
    }
    await migrate(pool);
  });
  afterAll(async () => {
    await pool.end();
    await dropDatabase(testStack().adminDatabaseUrl, name);
  });

  const event = (index: number, action: string) => ({
    actor: index % 2 ? 'alice' : 'system',
    action,
    target: `target-${index}`,
    outcome: 'succeeded' as const,
    details: { index, nested: { list: [index, 'x\ny'] } },
    idempotencyKey: `chain-${action}-${index}`,
  });

  it('chains rows written concurrently by many writers, once per idempotency key, and opsctl finds it intact', async () => {
    const actions = ['backup.upload', 'kubernetes.set-image', 'incident.acknowledge', 'rollout.approve'];
    await Promise.all(
      Array.from({ length: 200 }, (_, index) => writeAuditEvent(pool, event(index, actions[index % actions.length]!), { workflowId: `wf-${index}`, runId: 'run' })),
    );
    // Retried writes do not take a second place in the chain.
    await Promise.all(Array.from({ length: 20 }, (_, index) => writeAuditEvent(pool, event(index, actions[index % actions.length]!))));

    const result = verify();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ ok: true, rows: 205, breaks: [] });
    expect(report.streams.map((stream: { stream: string; rows: number; headSeq: number }) => [stream.stream, stream.rows, stream.headSeq])).toEqual([
      ['backup', 55, 55],
      ['incident', 50, 50],
      ['kubernetes', 50, 50],
      ['rollout', 50, 50],
    ]);
    const human = opsctl(['audit', 'verify'], { DATABASE_URL: url });
    expect(human.stdout).toContain('audit chain intact: 205 rows in 4 streams');
  });

  it('names the row someone altered, and the gap where one was deleted', async () => {
    const { rows } = await pool.query<{ id: string; chain_seq: string }>(
      `SELECT id::text, chain_seq::text FROM audit_events WHERE stream = 'kubernetes' ORDER BY chain_seq OFFSET 20 LIMIT 1`,
    );
    const victim = rows[0]!;
    await pool.query(`UPDATE audit_events SET details = details || '{"image": "evil:latest"}' WHERE id = $1`, [victim.id]);
    const altered = verify();
    expect(altered.status).toBe(1);
    expect(altered.stderr).toBe(`opsctl: audit chain broken in stream "kubernetes" at seq ${victim.chain_seq}: row ${victim.id} was altered: its content does not match its hash\n`);
    expect(JSON.parse(altered.stdout).breaks).toEqual([{ stream: 'kubernetes', id: victim.id, seq: Number(victim.chain_seq), reason: expect.stringContaining('altered') }]);

    // Hiding an action: delete a row in the middle of a stream (with its trigger's bookkeeping undone too).
    const middle = await pool.query<{ id: string; chain_seq: string }>(`SELECT id::text, chain_seq::text FROM audit_events WHERE stream = 'rollout' AND chain_seq = 30`);
    await pool.query(`ALTER TABLE audit_events DISABLE TRIGGER audit_events_prune`);
    await pool.query(`DELETE FROM audit_events WHERE id = $1`, [middle.rows[0]!.id]);
    await pool.query(`ALTER TABLE audit_events ENABLE TRIGGER audit_events_prune`);
    const gap = verify();
    expect(gap.status).toBe(1);
    const breaks = JSON.parse(gap.stdout).breaks;
    expect(breaks).toContainEqual(expect.objectContaining({ stream: 'rollout', seq: 31, reason: expect.stringMatching(/^seq 30 missing before row \d+: rows were deleted$/) }));
  });

  it('stays intact when retention deletes the oldest rows, and not when a row is written around the trigger', async () => {
    // A fresh stream, pruned from its start as retention does.
    await Promise.all(Array.from({ length: 30 }, (_, index) => writeAuditEvent(pool, event(index, 'report.send'))));
    await pool.query(`DELETE FROM audit_events WHERE stream = 'report' AND chain_seq <= 10`);
    const { rows } = await pool.query(`SELECT * FROM audit_chain_heads WHERE stream = 'report'`);
    expect(rows[0]).toMatchObject({ seq: '30', pruned_seq: '10' });
    const pruned = JSON.parse(verify().stdout);
    expect(pruned.streams).toContainEqual(expect.objectContaining({ stream: 'report', rows: 20, firstSeq: 11, headSeq: 30, ok: true }));

    await pool.query(`ALTER TABLE audit_events DISABLE TRIGGER audit_events_chain`);
    const stray = await pool.query<{ id: string }>(
      `INSERT INTO audit_events (actor, action, target, outcome, idempotency_key) VALUES ('mallory', 'report.send', 'x', 'succeeded', 'stray') RETURNING id::text`,
    );
    await pool.query(`ALTER TABLE audit_events ENABLE TRIGGER audit_events_chain`);
    const result = JSON.parse(verify().stdout);
    expect(result.breaks).toContainEqual({ stream: 'report', id: stray.rows[0]!.id, reason: `row ${stray.rows[0]!.id} is not in any chain: it was written around the audit trigger` });
  });
});
